# The commands README.md gives. `make test` is what CI runs.
BIN ?= $(CURDIR)/bin/hadns

.PHONY: build test conformance run chaos fuzz

build:
	go build -o $(BIN) ./cmd/hadns

run:
	go run ./cmd/hadns -conf Corefile.example

# Build the binary once; the end-to-end packages under test/ reuse it.
test: build
	HADNS_BIN=$(BIN) go test -race -count=1 ./...

conformance: build
	test/conformance/run.sh $(BIN)

# Chaos run: the real binary under load while backends and whole sites crash
# at random; fails on any answer that breaks a rule (test/chaos). About 70 s.
chaos: build
	go run ./test/chaos -bin $(BIN) -duration 60s

# Every fuzz target for FUZZTIME, one after another (go test -fuzz takes one).
FUZZTIME ?= 15s
FUZZ_TARGETS = FuzzZoneFile FuzzSiteLines FuzzECS FuzzServeDNS
fuzz:
	for f in $(FUZZ_TARGETS); do \
		go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./plugin || exit 1; \
	done
