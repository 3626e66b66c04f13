# infbench — every target is a plain go command; see README.md.

COUNT ?= 1
OUT   ?= bench.txt

.PHONY: bench bench-gpu test accuracy harness fuzz lint compare engines

## bench: the whole matrix on the built-in simulator (no GPU), to $(OUT)
bench:
	go test -run='^$$' -bench=. -count=$(COUNT) . | tee $(OUT)

## bench-gpu: the real engines in containers, one at a time (needs a GPU, Docker, the NVIDIA runtime)
bench-gpu:
	TESTCONTAINERS_RYUK_DISABLED=true go test -tags=gpu -run='^$$' -bench=. -count=$(COUNT) -timeout 0 . | tee $(OUT)

## test: every test, with the race detector (the command CI runs)
test:
	go test -race ./...

## accuracy: the harness against the server's own truth at concurrency 1000 (skipped under -race)
accuracy:
	INFBENCH_ACCURACY=1 go test -count=1 -run 'Accuracy' -v ./loadgen

## harness: what the client costs on this machine (CPU per event, ingest rate, memory per stream)
harness:
	go test -run='^$$' -bench=. ./loadgen

## fuzz: run the SSE reader, chunk parser and chunked-body fuzzers for a fixed number of executions (a count: a -fuzztime duration can fail on Go 1.26 with no crasher, golang/go#75804)
fuzz:
	go test -run='^$$' -fuzz=FuzzSSEReader -fuzztime=1000000x ./loadgen
	go test -run='^$$' -fuzz=FuzzParseChunk -fuzztime=1000000x ./loadgen
	go test -run='^$$' -fuzz=FuzzChunkedBody -fuzztime=150000x ./loadgen/streamhttp

## lint: formatting and vet, with and without the gpu build tag
lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go vet ./...
	go vet -tags=gpu ./...

## compare: benchstat OLD against NEW (make compare OLD=a.txt NEW=b.txt).
## -table "": each run prints its own configuration lines (seed, image digests),
## which benchstat would otherwise put in separate tables instead of comparing.
compare:
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make compare OLD=old.txt NEW=new.txt"; exit 2; }
	go tool benchstat -table "" $(OLD) $(NEW)

## engines: engines side by side from one results file (make engines IN=bench.txt)
engines:
	@test -n "$(IN)" || { echo "usage: make engines IN=bench.txt"; exit 2; }
	go tool benchstat -table "" -col /engine -row /conc,/rate,/prompt $(IN)
