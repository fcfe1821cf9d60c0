# Convenience targets; scripts/ holds the commands the README and CI use.
.PHONY: test run bench fuzz

test: ## vet, staticcheck and every module's tests (installs what they need)
	scripts/test.sh

run: ## the server on the embedded bolt default at http://127.0.0.1:9797/
	scripts/run.sh

bench: ## the cross-module benchmarks (node on each engine, sync over websockets)
	cd bench && go test -run='^$$' -bench=. -benchtime=200x .

fuzz: ## one minute of each core decoder and AnkQL fuzz target
	cd core && for t in FuzzParse FuzzDifferential; do go test -run='^$$' -fuzz=$$t -fuzztime=60s ./query || exit 1; done
	cd core && for p in event transport entity; do go test -run='^$$' -fuzz=FuzzDecode -fuzztime=60s ./$$p || exit 1; done
