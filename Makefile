# Quiver: build, test and demo. `make demo` and `make test` work on a fresh
# Debian machine: they install what is missing first.

SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
ENGINE_WASM := target/$(WASM_TARGET)/release/quiver_engine.wasm
QUIVER := target/release/quiver
VENV := .venv
PYTHON := $(VENV)/bin/python

# zstd's C sources need a C compiler that targets wasm (see ../shared/design/FACTS.md).
export CC_wasm32_wasip2 := clang-19
export AR_wasm32_wasip2 := llvm-ar-19
export CFLAGS_wasm32_wasip2 := -isystem /usr/include/wasm32-wasi

APT_PACKAGES := clang-19 llvm-19 lld-19 wasi-libc

.PHONY: setup build component host test test-rust test-conformance lint demo clean

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

## build: the engine component (wasm) and the native host with the `quiver` CLI
build: component host

component: setup
	$(CARGO) build --release -p quiver-engine --target $(WASM_TARGET)

host: component
	$(CARGO) build --release -p quiver-host
	cp $(ENGINE_WASM) target/release/quiver-engine.wasm
