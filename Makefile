# The commands README.md gives. `make test` is what CI runs.
BIN ?= $(CURDIR)/bin/hadns

# Release builds: hadns's version (git describe: a tag, tag-N-gHASH, or the
# commit; -dirty with uncommitted changes) and commit, stamped into the
# binary (hadns -version). Set VERSION to build from a tarball.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GOARCH  ?= $(shell go env GOARCH)
DIST    ?= dist
RELEASE  = $(DIST)/hadns-$(VERSION)-linux-$(GOARCH)
# Static (no cgo), no file system paths (-trimpath), the VCS state recorded
# where there is one (-buildvcs=auto, whatever GOFLAGS says), no symbol
# table: the same source gives the same bytes.
RELEASE_FLAGS = -trimpath -buildvcs=auto \
	-ldflags '-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)'

.PHONY: build test conformance run chaos fuzz release release-check deb deb-test

build:
	go build -o $(BIN) ./cmd/hadns

run:
	go run ./cmd/hadns -conf Corefile.example

# Build the binary once; the end-to-end packages under test/ reuse it.
test: build
	HADNS_BIN=$(BIN) go test -race -count=1 ./...

# The example zone unsigned, then signed with a signed private root above it.
conformance: build
	test/conformance/run.sh $(BIN)
	test/conformance/run.sh --signed $(BIN)

# Chaos run: the real binary under load while backends and whole sites crash
# at random; fails on any answer that breaks a rule (test/chaos). About 70 s.
chaos: build
	go run ./test/chaos -bin $(BIN) -duration 60s

# Every fuzz target for FUZZTIME, one after another (go test -fuzz takes one
# target in one package), each in its package: PACKAGE:TARGET. Their seed
# corpora live in the package's testdata/fuzz/TARGET.
FUZZTIME ?= 15s
FUZZ_TARGETS = ./plugin:FuzzZoneFile ./plugin:FuzzSiteLines ./plugin:FuzzECS ./plugin:FuzzServeDNS \
	./internal/dnssec:FuzzReadKey ./internal/wire:FuzzPatch
fuzz:
	for t in $(FUZZ_TARGETS); do \
		go test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

# dist/hadns-VERSION-linux-ARCH and its SHA-256 checksum file
# (sha256sum -c hadns-...sha256 checks it).
release:
	mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build $(RELEASE_FLAGS) -o $(RELEASE) ./cmd/hadns
	cd $(DIST) && sha256sum $(notdir $(RELEASE)) > $(notdir $(RELEASE)).sha256
	@echo $(RELEASE)

# Same source, same bytes: builds the committed tree twice, from two clones
# at different paths, and compares the binaries and the packages.
release-check:
	packaging/reproducible.sh

# dist/hadns_VERSION_ARCH.deb from the release binary (packaging/deb).
deb: release
	packaging/deb/build.sh $(RELEASE) $(VERSION) $(DIST)

# Installs the package on this machine, runs it in a network namespace as
# the hadns user, removes and purges it (root; see test/deb/run.sh).
deb-test: release
	deb=$$(packaging/deb/build.sh $(RELEASE) $(VERSION) $(DIST)) && test/deb/run.sh "$$deb"
