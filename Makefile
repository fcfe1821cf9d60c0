# Convenience targets; scripts/ holds the commands the README and CI use.
.PHONY: test run bench bench-peers fuzz crash

test: ## vet, staticcheck and every module's tests (installs what they need)
	scripts/test.sh

run: ## the server on the embedded bolt default at http://127.0.0.1:9797/
	scripts/run.sh

bench: ## the cross-module benchmarks (node on each engine, sync over websockets)
	cd bench && go test -run='^$$' -bench=. -benchtime=200x .

bench-peers: ## BQ1/BS1/bulk side by side: ankurah-go (memory, bolt, PostgreSQL) and the npm peers; BENCH_QUICK=1 for toy sizes, RUNS=N, PEERS=a,b
	bench/peers/run.sh

crash: ## the crash loops at full size: ankurah serve killed 100 times per engine (bolt, PostgreSQL); CRASH_CYCLES=N, CRASH_SEED=N
	cd tests/crash && CRASH_CYCLES=$${CRASH_CYCLES:-100} go test -count=1 -v -timeout 60m .

fuzz: ## one minute of each core decoder and AnkQL fuzz target
	cd core && for t in FuzzParse FuzzDifferential; do go test -run='^$$' -fuzz=$$t -fuzztime=60s ./query || exit 1; done
	cd core && for p in event transport entity; do go test -run='^$$' -fuzz=FuzzDecode -fuzztime=60s ./$$p || exit 1; done
