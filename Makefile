# Convenience targets; scripts/ holds the commands the README and CI use.
.PHONY: test run bench bench-peers fuzz crash load sim

test: ## vet, staticcheck and every module's tests (installs what they need)
	scripts/test.sh

run: ## the server on the embedded bolt default at http://127.0.0.1:9797/
	scripts/run.sh

bench: ## the cross-module benchmarks (node on each engine, sync over websockets)
	cd bench && go test -run='^$$' -bench=. -benchtime=200x .

bench-peers: ## BQ1/BS1/bulk side by side: ankurah-go (memory, bolt, PostgreSQL) and the npm peers; BENCH_QUICK=1 for toy sizes, RUNS=N, PEERS=a,b
	bench/peers/run.sh

sim: ## the simulation campaign: SEEDS seeds (10000 by default) from SIM_FIRST (1), every violation reported with its replay command
	cd tests/sim && SIM_KEEP_GOING=1 go test -count=1 -timeout 0 -run 'TestSim$$' -sim.seeds=$${SEEDS:-10000} -sim.first=$${SIM_FIRST:-1} -v .

crash: ## the crash loops at full size: ankurah serve killed 100 times per engine (bolt, PostgreSQL); CRASH_CYCLES=N, CRASH_SEED=N
	cd tests/crash && CRASH_CYCLES=$${CRASH_CYCLES:-100} go test -count=1 -v -timeout 60m .

# Every fuzz target, as module-dir:package:Target; `make fuzz` runs each for
# FUZZTIME, one at a time with one worker. PG_TEST_URL is set so that test
# binaries whose TestMain starts a throwaway PostgreSQL do not (no fuzz
# target uses a database).
FUZZTIME ?= 60s
# Bounds the minimizing of each new input, which otherwise may take a slow
# target's whole FUZZTIME (cmd/ankurah's FuzzLoad on a loaded machine).
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS = \
	core:./query:FuzzParse core:./query:FuzzDifferential \
	core:./event:FuzzDecode core:./event:FuzzDecodeCanonical core:./event:FuzzDecodeClock core:./event:FuzzEncode core:./event:FuzzReadWire \
	core:./transport:FuzzDecode core:./transport:FuzzDecodeRoundTrip core:./transport:FuzzEncodeResponse \
	core:./session:FuzzRemote core:./session:FuzzDeliver \
	core:./entity:FuzzDecode core:./entity:FuzzDecodeCanonical core:./entity:FuzzDecodeFast core:./entity:FuzzEncode \
	core:./property:FuzzLoadLWW core:./property:FuzzLWWOperations core:./property:FuzzLWWEncode core:./property:FuzzLWWOpsDecode \
	core:./value:FuzzUnmarshalCBOR core:./value:FuzzAppendCBOR core:./value:FuzzReadCanonical core:./value:FuzzFromJSON \
	core:./id:FuzzParse core:./keyenc:FuzzKeyOrder \
	plugins/datatype-text:.:FuzzApplyUpdate plugins/datatype-text:.:FuzzDecodeStateVector plugins/datatype-text:.:FuzzBackendApply \
	plugins/storage-plugin:.:FuzzDecodeSelection plugins/storage-postgres:.:FuzzDecodeFeed \
	cmd/ankurah:.:FuzzLoad

fuzz: ## every fuzz target for FUZZTIME (default 60s) each, one at a time (docs/fuzzing.md)
	@for t in $(FUZZ_TARGETS); do \
		dir=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; name=$${rest#*:}; \
		echo "== $$dir $$pkg $$name ($(FUZZTIME))"; \
		(cd $$dir && PG_TEST_URL=$${PG_TEST_URL:-postgres://fuzzing-uses-no-database} \
			go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) -parallel=1 $$pkg) || exit 1; \
	done

load: ## the load test at full size: 1,000 websocket clients for 60 s against one ankurah serve (docs/reliability.md); LOAD_CLIENTS, LOAD_DURATION, LOAD_INTERVAL, LOAD_SETTLE, LOAD_SEED
	cd tests/crash && LOAD_CLIENTS=$${LOAD_CLIENTS:-1000} LOAD_DURATION=$${LOAD_DURATION:-60s} LOAD_INTERVAL=$${LOAD_INTERVAL:-2s} \
		LOAD_SETTLE=$${LOAD_SETTLE:-60s} LOAD_VERBOSE=1 PG_TEST_URL=$${PG_TEST_URL:-postgres://load-uses-no-database} \
		go test -count=1 -v -timeout 30m -run '^TestLoad_ManyClients$$' .
