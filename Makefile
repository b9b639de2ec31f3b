# medic's two commands: `make demo` runs medic's main job on its embedded
# defaults; `make test` runs every test. See README.md.

GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: all build demo test unit vet fmt-check interop bench fuzz clean nab

all: build

build:
	$(GO) build -o $(BIN)/medic ./cmd/medic

demo: build
	$(BIN)/medic demo --scenario memory-leak
	$(BIN)/medic demo --scenario bad-deploy
	$(BIN)/medic demo --scenario healthy
	MEDIC=$(BIN)/medic bash fixtures/demo/forge.sh

# test: formatting, vet, the race-enabled unit tests, and the interop tests
# against a stock OpenTelemetry Collector and telemetrygen.
test: fmt-check vet unit interop

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 $(PKGS)

interop: build
	bash fixtures/interop/build.sh
	MEDIC_BIN=$(CURDIR)/$(BIN)/medic $(GO) test -count=1 -tags interop -v ./fixtures/interop/

# bench: medic serve vs the OpenTelemetry Collector under the same OTLP load,
# then the engine's memory per series.
bench: build
	bash fixtures/interop/build.sh
	$(GO) run ./cmd/medic-bench --medic $(BIN)/medic
	$(GO) test -run '^$$' -bench 'BenchmarkSeriesMemory' -benchtime 1x -count 1 ./detect/
	$(GO) test -run '^$$' -bench 'BenchmarkIngest$$|BenchmarkDecodeMetrics$$|BenchmarkScorer$$|BenchmarkSLOObserveWindow' -count 1 ./detect/

# nab: medic's detector on the Numenta Anomaly Benchmark (embedded in
# fixtures/nab) and on medic's labelled infra suite; prints the three NAB
# scores, the per-category breakdown and the infra table.
nab:
	$(GO) run ./cmd/medic-nab

# fuzz: a short run of every fuzz target of every package (CI runs their
# seed corpora in `unit`). FUZZTIME sets each run's length.
FUZZTIME ?= 20s
fuzz:
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) .cache
