# azlens — the two commands a user needs are `make up` and `make test`; everything they need is
# installed by the targets below (Go modules through the module proxy, Debian packages via apt).

GO        ?= go
BIN       := bin
GOFLAGS_BUILD := -trimpath
# CI extras: how long each fuzz target runs in the smoke pass.
FUZZTIME  ?= 5s

.PHONY: all build agent up test vet fmt-check test-deps fuzz-smoke fuzz-long soak bench bench-docs layer collector clean generate generate-check test-backends test-loaded

all: build

# Binaries `azlens up` finds next to itself: the CLI, the sample function, the agent, the collector.
build: agent
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/azlens ./cmd/azlens
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/hello ./examples/hello
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/azlens-collector ./cmd/azlens-collector

# The extension, built as it ships in the layer: static, stripped, without net/http's HTTP/2
# (internal/testbin's AgentFlags say why; extension-agent/build-layer.sh uses the same tag).
AGENT_TAGS := nethttpomithttp2
agent:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -tags $(AGENT_TAGS) -ldflags "-s -w" -o $(BIN)/azlens-agent ./extension-agent/cmd/azlens-agent

# dist/azlens-agent-layer-{amd64,arm64}.zip holding extensions/azlens-agent, ready to publish.
layer:
	./extension-agent/build-layer.sh

# Regenerates cmd/azlens-collector from builder-config.yaml with the pinned builder, then builds it.
collector:
	cmd/azlens-collector/generate.sh

# Regenerates every component's internal/metadata, generated tests, documentation.md and README
# status block from its metadata.yaml with the pinned mdatagen (internal/tools).
COMPONENTS := receiver/lambdatelemetryreceiver processor/azhealthprocessor exporter/lokiexporter exporter/zonalshiftexporter
generate:
	@set -e; for c in $(COMPONENTS); do (cd internal/tools && $(GO) tool mdatagen $(CURDIR)/$$c/metadata.yaml); done

# CI: the generated files in the tree are what metadata.yaml generates.
generate-check: generate
	@out=$$(git status --porcelain -- $(COMPONENTS)); \
	if [ -n "$$out" ]; then echo "make generate changed (commit its output):"; echo "$$out"; exit 1; fi

# The main job: a region of 3 zones running the sample function under steady load.
# The agent runs from its layer zip, exactly as shipped.
up: build layer
	./$(BIN)/azlens up --agent-layer dist/azlens-agent-layer-$$($(GO) env GOARCH).zip

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Tools the tests need (promtool and prometheus from Debian's package); idempotent.
test-deps:
	scripts/install-test-deps.sh

# Tests keep what they save for people to look at (the Chromium screenshots of the console and
# the rehearsal report) under $(ARTIFACTS)/_artifacts/, one folder per test.
ARTIFACTS ?= $(CURDIR)/test-artifacts
test: test-deps fmt-check vet
	@rm -rf $(ARTIFACTS) && mkdir -p $(ARTIFACTS)
	$(GO) test -race -count=1 -timeout 20m -artifacts -outputdir $(ARTIFACTS) ./...

# The suite with the machine loaded: LOAD busy loops (default 2, every core of a 2-core machine)
# at normal priority beside `make test`. Timing must come from the things waited on, never from
# how fast this machine happens to be.
LOAD ?= 2
test-loaded:
	scripts/cpu-load.sh $(LOAD) -- $(MAKE) test

# The real backends (test/backends, a Go module of its own): Jaeger and VictoriaLogs built from the
# Go module proxy once into ${XDG_CACHE_HOME:-~/.cache}/azlens/backends (cold ≈ 15 min for Jaeger,
# then seconds), then the loop run against them and Prometheus. Kept out of `make test` so the
# everyday command never pays the cold Jaeger build; CI runs both.
test-backends: test-deps
	nice -n 19 scripts/build-backends.sh
	cd test/backends && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 30m ./...

# Runs every Fuzz target briefly (CI extra). Targets are found by name, so no package is built
# just to list them.
fuzz-smoke:
	@scripts/fuzz-all.sh $(FUZZTIME)

# Runs every Fuzz target for FUZZEXECS executions each (default one million; -fuzztime Nx counts
# executions, not seconds), so the figure holds on a slow or a fast machine alike. Pick targets
# with FUZZFILTER (a regex on "package target") and workers with FUZZPARALLEL (scripts/fuzz-all.sh).
FUZZEXECS ?= 1000000
fuzz-long:
	@scripts/fuzz-all.sh $(FUZZEXECS)x

# The documented suite (bench/README.md): table with targets, JSON in bench/results.json.
# BENCHFLAGS=-quick for a smoke run, BENCHFLAGS='-filter B1,B9' for some entries.
BENCHFLAGS ?=
# The fault soak (test/soak/fault_test.go): collector killed, network cut, 503/502, resets.
# CI scale: 3 zones × 120 invocations. The issue's full scale, 10,000 invocations (10,020: whole
# phases) across the 3 zones: make soak SOAK_INVOCATIONS=10000 SOAK_TIMEOUT=3h
SOAK_INVOCATIONS ?=
SOAK_TIMEOUT ?= 30m
soak:
	AZLENS_SOAK_INVOCATIONS_TOTAL=$(SOAK_INVOCATIONS) $(GO) test -race -count=1 -tags soak -run TestFaultSoak -v -timeout $(SOAK_TIMEOUT) ./test/soak/

bench:
	$(GO) run ./bench $(BENCHFLAGS)

# Regenerates docs/benchmarks.md's tables (its bench:begin/bench:end blocks) from a run of every
# entry but E2E (hours of wall time: go run ./bench -filter E2E -render docs/benchmarks.md).
# Without running: go run ./bench -from bench/results.json -render docs/benchmarks.md
BENCH_DOCS_ENTRIES ?= B1,B2,B3,B4,B5,B6,B7,OTLP,B8,B9,EMU,HUB,LOKI,COST,TESTBED
bench-docs:
	$(GO) run ./bench -filter $(BENCH_DOCS_ENTRIES) -render docs/benchmarks.md $(BENCHFLAGS)

clean:
	rm -rf $(BIN) dist
