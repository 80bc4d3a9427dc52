# onp — see README.md. Targets that build labs or run the tests need root.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/onp
PKG := ./...

.PHONY: all setup build test test-short bench lint fuzz lab clean

all: build

setup:
	./scripts/setup.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/onp

# The whole test suite: unit tests, and as root the integration tests with
# real namespaces, FRR, BIRD, gobgpd and nftables. (Not under -race: gobgp
# v3 writes package globals in every StartBgp that its other servers read;
# the values are the same for all of onp's, but the detector fails the
# speaker's tests. `go test -race ./cluster/...` is clean.)
test: setup build lint
	$(GO) test -count=1 -timeout 80m $(PKG)

# Unit tests only (no root needed).
test-short:
	$(GO) test -short -count=1 $(PKG)

# Speed and memory targets: medians against peers measured in the same run.
# onp-bench drives the onp binary (labs, routers, workshops); the Go
# benchmarks measure the speaker, the cluster and the router engine inside.
bench: setup build
	$(GO) run ./cmd/onp-bench -onp $(BIN)
	$(GO) test -run '^$$' -bench . -benchtime 20x ./cluster ./vyos ./internal/frr ./scenarios ./trace ./metallb/allocator
	$(GO) test -run '^$$' -bench . -benchtime 3x ./metallb/bgp
	$(GO) test -run '^$$' -bench . -benchtime 1x ./metallb/speaker

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKG)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./topology
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/yamlx
	$(GO) test -run '^$$' -fuzz FuzzParseFile -fuzztime 30s ./scenarios/spec
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./scenarios/format

# The reference lab, built and checked.
lab: setup build
	./$(BIN) up

clean:
	-./$(BIN) down --all
	rm -rf bin
