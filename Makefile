# Sportello: `make run` starts the local stack, `make test` runs every test.
# Tools and binaries are built into a cache outside the repository.

SHELL    := /bin/bash
CACHE    ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/sportello
BIN      := $(CACHE)/bin
MODULES  := ./events/... ./functions/... ./local/... ./test/...

.PHONY: run test bench fuzz clean tools vet site

## run: start PostgreSQL, Mailpit, LiveKit, MinIO, every function, the broker and the gateway;
## Ctrl-C stops them (flags for sportello-local go in ARGS, e.g. make run ARGS="-port 9090 -quiet")
run:
	@mkdir -p $(BIN)
	go build -o $(BIN)/sportello-local ./local/cmd/sportello-local
	$(BIN)/sportello-local -bin $(BIN) $(ARGS)

## test: every module's tests with the race detector, against throwaway PostgreSQL, Mailpit,
## LiveKit and MinIO servers (their pinned builds are made once into $(CACHE)/tools); then the
## modules outside the workspace on their own: deploy/test, which applies the chart to a real
## kube-apiserver with Knative's CRDs and webhooks (kube-apiserver, etcd and the webhooks built
## once into $(CACHE)/tools: about 15 minutes cold), and examples/subscriber
test: tools
	$(BIN)/with-services go test -race -count=1 -timeout 15m $(MODULES)
	cd deploy/test && GOWORK=off go test -count=1 -timeout 40m ./...
	cd examples/subscriber && GOWORK=off go test -race -count=1 ./...

## bench: hold and confirm, the calendar, the whole click day and each function's footprint, each next
## to a baseline of the same run (not part of test; flags in ARGS, e.g. ARGS="-parts clickday -citizens 2000")
bench:
	go run ./test/cmd/bench $(ARGS)

## fuzz: every fuzz target (a func FuzzX in a package's *_test.go) for FUZZTIME each, default 30s, against
## throwaway servers; a failing input is written to the package's testdata/fuzz/FuzzX/ and, once committed,
## runs in make test with the rest of the seed corpus (FUZZ=FuzzHold runs one target)
FUZZTIME ?= 30s
FUZZ     ?= Fuzz[A-Za-z]*
fuzz: tools
	$(BIN)/with-services test/fuzz.sh $(FUZZTIME) '$(FUZZ)'

## vet: go vet on every module but the build wrappers in deploy/test/tools, every Go file as gofmt leaves it, every go.mod as `go mod tidy` leaves it,
## no function of the workspace's modules that nothing calls (deadcode, tests counted as callers)
DEADCODE := golang.org/x/tools/cmd/deadcode@v0.40.0
GOMODS := $(patsubst %/go.mod,%,$(shell git ls-files '*go.mod'))
vet:
	go vet $(MODULES)
	cd deploy/test && GOWORK=off go vet ./...
	cd examples/subscriber && GOWORK=off go vet ./...
	@unformatted=$$(git ls-files '*.go' | xargs gofmt -l); if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	@for m in $(GOMODS); do (cd $$m && GOWORK=off go mod tidy -diff) || { echo "$$m: go.mod is not tidy (run go mod tidy there)"; exit 1; }; done
	@dead=$$(go run $(DEADCODE) -test $(MODULES)); if [ -n "$$dead" ]; then echo "unreachable functions (delete them, or call them):"; echo "$$dead"; exit 1; fi

## site: build the website (web/) into functions/site/kodata, for the site's image (skaffold runs it)
site:
	go run ./local/cmd/build-site -out functions/site/kodata

## tools: the test harness (with-services: PostgreSQL, Mailpit, LiveKit and MinIO for go test)
tools:
	@mkdir -p $(BIN)
	go build -o $(BIN)/ ./local/cmd/with-services

## clean: wipe the local stack's data (PostgreSQL cluster, MinIO's documents, the mail)
clean:
	go run ./local/cmd/sportello-local -clean
