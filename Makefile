# Quiver: build, test and demo. `make demo` and `make test` work on a fresh
# Debian machine: they install what is missing first.

SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
ENGINE_WASM := target/$(WASM_TARGET)/release/quiver_engine.wasm
# The scalar build has a target directory of its own: its flags differ, and
# sharing one would rebuild every dependency at each switch.
SCALAR_TARGET_DIR := target/scalar
SCALAR_ENGINE_WASM := $(SCALAR_TARGET_DIR)/$(WASM_TARGET)/release/quiver_engine.wasm
# Flags of the SIMD build (and of the wasm lint, so it sees the SIMD code).
SIMD_FLAGS := CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128"
QUIVER := target/release/quiver
VENV := .venv
PYTHON := $(VENV)/bin/python

# zstd's C sources need a C compiler that targets wasm (see ../shared/design/FACTS.md).
export CC_wasm32_wasip2 := clang-19
export AR_wasm32_wasip2 := llvm-ar-19
export CFLAGS_wasm32_wasip2 := -isystem /usr/include/wasm32-wasi

# mesa-vulkan-drivers brings lavapipe, a software Vulkan driver: the GPU tier's
# tests run on it where the machine has no GPU.
# chromium runs the browser host's tests (headless, driven by playwright-core).
APT_PACKAGES := clang-19 llvm-19 lld-19 wasi-libc mesa-vulkan-drivers libvulkan1 chromium
BROWSER := host-browser
NPM_INSTALLED := $(BROWSER)/node_modules/.installed

.PHONY: setup build component host browser browser-demo test test-rust test-conformance lint demo bench-io bench-kernels bench-browser bench-threads fuzz clean \
	stock-engine scan-app example-python

## setup: install the rustup target and the Debian packages the build needs
setup: .setup-done
.setup-done:
	rustup target add $(WASM_TARGET)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	touch $@

## build: the engine component (wasm), the native host with the `quiver` CLI, and the
## browser package (host-browser/dist)
build: component host browser

## component: the engine twice from one source: quiver-engine.wasm with SIMD128, and
## quiver-engine-scalar.wasm without, for hosts that lack SIMD (or `--compute scalar`)
component: setup
	$(SIMD_FLAGS) $(CARGO) build --release -p quiver-engine --target $(WASM_TARGET)
	$(CARGO) build --release -p quiver-engine --target $(WASM_TARGET) --target-dir $(SCALAR_TARGET_DIR)

host: component
	$(CARGO) build --release -p quiver-host
	cp $(ENGINE_WASM) target/release/quiver-engine.wasm
	cp $(SCALAR_ENGINE_WASM) target/release/quiver-engine-scalar.wasm

$(NPM_INSTALLED): $(BROWSER)/package.json $(BROWSER)/package-lock.json
	cd $(BROWSER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## browser: the npm package in host-browser/dist: both engine builds transpiled by jco (JSPI),
## the Worker and API bundles, and the demo page
browser: component $(NPM_INSTALLED)
	cd $(BROWSER) && node build.mjs ../$(ENGINE_WASM) ../$(SCALAR_ENGINE_WASM)

## browser-demo: serve the demo page and the bundled sample with Range support; prints the URL
browser-demo: browser
	@echo "open http://127.0.0.1:$${PORT:-8000}/dist/demo/index.html (Ctrl-C stops)"
	python3 tests/rangeserver.py $(BROWSER) --port $${PORT:-8000} --cors --quiet

## test: everything CI runs: formatting, lints, native unit tests, the
## component under wasmtime, and the conformance suite against DuckDB/pyarrow
test: build lint test-rust test-conformance

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release -p quiver-host --all-targets -- -D warnings
	$(CARGO) clippy --release -p quiver-engine --all-targets -- -D warnings
	$(SIMD_FLAGS) $(CARGO) clippy --release -p quiver-engine --target $(WASM_TARGET) -- -D warnings
	$(SIMD_FLAGS) $(CARGO) clippy --release -p quiver-no-gpu --target $(WASM_TARGET) -- -D warnings

test-rust: build
	$(CARGO) test --release -p quiver-engine
	$(CARGO) test --release -p quiver-host

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

test-conformance: build $(VENV)/.installed scan-app
	$(PYTHON) -m pytest tests -q

$(VENV)/.bench-installed: tests/bench/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/bench/requirements.txt
	touch $@

## bench-io: bytes, requests and round trips of Quiver and DuckDB's HTTP reader vs the physical
## minimum, counted at the test server (a benchmark, not a test; data cached in tests/.bench/)
bench-io: build $(VENV)/.installed $(VENV)/.bench-installed
	$(PYTHON) tests/bench/bench_io.py

## bench-browser: wall time, requests and bytes (counted at the server) of Quiver, DuckDB-WASM and
## hyparquet in one headless Chromium at 0, 20 and 80 ms per request (a benchmark, not a test)
bench-browser: browser $(VENV)/.installed $(VENV)/.bench-installed
	$(PYTHON) tests/bench/bench_browser.py

## bench-kernels: rows per second of the filter kernels on each tier (scalar, SIMD, GPU) and of the
## same engine core compiled natively, and the GPU crossover (a benchmark, not a test)
bench-kernels: build
	$(CARGO) build --release -p quiver-bench
	@mkdir -p tests/.bench
	target/release/bench-kernels --rows 8388608 | tee tests/.bench/kernels.md

## bench-threads: wall time of one scan on 1..all cores (`--threads`), on a local file and over
## HTTP with latency, next to DuckDB's own scaling (a benchmark, not a test)
bench-threads: build $(VENV)/.installed $(VENV)/.bench-installed
	$(PYTHON) tests/bench/bench_threads.py

## demo: serve the bundled sample over HTTP and query it with range requests
demo: build
	@set -e; log=$$(mktemp); export QUIVER_CACHE_DIR=$$(mktemp -d); \
	$(QUIVER) serve tests/data --port 0 > $$log & server=$$!; \
	trap 'kill $$server 2>/dev/null; rm -rf "$$QUIVER_CACHE_DIR"' EXIT; \
	for _ in $$(seq 50); do grep -q http $$log && break; sleep 0.1; done; \
	base=$$(grep -o 'http://[^ ]*' $$log); url=$${base}sample.parquet; \
	echo "== quiver info $$url"; $(QUIVER) info $$url; \
	echo; echo "== the first 5 long card trips (4 of 9 columns, 1 of 5 row groups fetched)"; \
	$(QUIVER) scan $$url --columns id,pickup_at,trip_distance,fare_amount \
		--where "trip_distance > 20 AND payment_type = 'card'" --limit 5 --format table --stats; \
	echo; echo "== big tips in the last hour of 15 January, as JSON lines"; \
	$(QUIVER) scan $$url --columns id,pickup_at,vendor,tip_amount \
		--where "pickup_at >= TIMESTAMP '2024-01-15 23:00:00' AND pickup_at < DATE '2024-01-16' AND tip_amount > 10" \
		--format json --stats; \
	echo; echo "== the first query again: only its open request, the rest from the range cache"; \
	$(QUIVER) scan $$url --columns id,pickup_at,trip_distance,fare_amount \
		--where "trip_distance > 20 AND payment_type = 'card'" --limit 5 --format table --stats

# ---- Stock hosts: the engine with only WASI imports, and a Python application -------------
# (examples/README.md). wac plugs one component's exports into another's imports.
NO_GPU_WASM := target/$(WASM_TARGET)/release/quiver_no_gpu.wasm
STOCK_ENGINE := target/release/quiver-engine-wasi.wasm
PYTHON_APP := target/release/python-scan.wasm
SCAN_APP := target/release/scan-app.wasm
SCAN_APP_GPU := target/release/scan-app-gpu.wasm
EXAMPLES_VENV := .venv-examples

## stock-engine: the engine plugged with no-gpu (a GPU capability with no adapter), so that it
## imports only WASI 0.2 and loads on stock hosts: target/release/quiver-engine-wasi.wasm
stock-engine: component
	@# Without the registry client (default feature), which `wac plug` needs not.
	@command -v wac >/dev/null || $(CARGO) install wac-cli --locked --version 0.12.0 --no-default-features
	$(SIMD_FLAGS) $(CARGO) build --release -p quiver-no-gpu --target $(WASM_TARGET)
	wac plug $(ENGINE_WASM) --plug $(NO_GPU_WASM) -o $(STOCK_ENGINE)

$(EXAMPLES_VENV)/.installed: examples/requirements.txt
	python3 -m venv $(EXAMPLES_VENV)
	$(EXAMPLES_VENV)/bin/pip install --quiet --disable-pip-version-check -r examples/requirements.txt
	touch $@

## scan-app: examples/python-scan built with componentize-py (python-scan.wasm), then plugged
## into the stock engine: target/release/scan-app.wasm imports only WASI; and into the engine
## itself: target/release/scan-app-gpu.wasm imports the gpu interface too (for `quiver run`)
scan-app: stock-engine $(PYTHON_APP)
	wac plug $(PYTHON_APP) --plug $(STOCK_ENGINE) -o $(SCAN_APP)
	wac plug $(PYTHON_APP) --plug $(ENGINE_WASM) -o $(SCAN_APP_GPU)

# A file target: componentize-py's output differs from run to run, and each new scan-app.wasm
# costs wasmtime a fresh compile (wac's output is the same for the same inputs).
$(PYTHON_APP): $(EXAMPLES_VENV)/.installed $(wildcard examples/python-scan/*.py wit/*.wit)
	$(EXAMPLES_VENV)/bin/componentize-py -d wit -w scan-client componentize \
		-p examples/python-scan app -o $@

## example-python: run scan-app on a stock wasmtime host (wasmtime-py, WASI + wasi:http only)
## against the bundled sample served over HTTP
example-python: scan-app host
	@set -e; log=$$(mktemp); \
	$(QUIVER) serve tests/data --port 0 > $$log & server=$$!; \
	trap 'kill $$server 2>/dev/null; rm -rf "$$QUIVER_CACHE_DIR"' EXIT; \
	for _ in $$(seq 50); do grep -q http $$log && break; sleep 0.1; done; \
	url=$$(grep -o 'http://[^ ]*' $$log)sample.parquet; \
	run="$(EXAMPLES_VENV)/bin/python examples/run_component.py $(SCAN_APP)"; \
	echo "== long card trips: count and total fare ($$url)"; \
	$$run $$url --where "trip_distance > 20 AND payment_type = 'card'" --sum fare_amount; \
	echo "== passengers on 15 January (nulls skipped)"; \
	$$run $$url --where "pickup_at >= DATE '2024-01-15' AND pickup_at < DATE '2024-01-16'" --sum passenger_count
# ---- end of stock hosts --------------------------------------------------------------------

# cargo-fuzz wants nightly (sanitizers); stable works with RUSTC_BOOTSTRAP=1.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= footer pages where_clause ranges
# New inputs go here; the committed corpus in fuzz/corpus/ is only read.
# FUZZ_CORPUS_OUT=fuzz/corpus adds them to it (then `cargo fuzz cmin` it).
FUZZ_CORPUS_OUT ?= fuzz/corpus-new

## fuzz: run each cargo-fuzz target in FUZZ_TARGETS for FUZZ_SECONDS (default 600) from the
## committed corpus (fuzz/corpus); crashes are written to fuzz/artifacts/<target>/
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@set -e; \
	if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then fuzz="$(CARGO) +nightly fuzz"; \
	else fuzz="env RUSTC_BOOTSTRAP=1 $(CARGO) fuzz"; fi; \
	for target in $(FUZZ_TARGETS); do \
		case $$target in footer|pages) max_len=65536;; *) max_len=4096;; esac; \
		mkdir -p $(FUZZ_CORPUS_OUT)/$$target; \
		echo "== fuzz $$target for $(FUZZ_SECONDS) s"; \
		$$fuzz run $$target $(FUZZ_CORPUS_OUT)/$$target fuzz/corpus/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=$$max_len \
			-timeout=30 -print_final_stats=1; \
	done

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(EXAMPLES_VENV) .setup-done $(BROWSER)/node_modules $(BROWSER)/dist
