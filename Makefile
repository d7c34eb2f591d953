# The commands README.md gives. `make test` is what CI runs.
BIN ?= $(CURDIR)/bin/hadns

.PHONY: build test conformance run

build:
	go build -o $(BIN) ./cmd/hadns

run:
	go run ./cmd/hadns -conf Corefile.example

# Build the binary once; the end-to-end packages under test/ reuse it.
test: build
	HADNS_BIN=$(BIN) go test -race -count=1 ./...

conformance: build
	test/conformance/run.sh $(BIN)
