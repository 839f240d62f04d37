# The two commands of the README. Everything else is an implementation detail.
SHELL := /bin/bash
DEPS := scripts/install-deps.sh
JOBS ?= $(shell nproc)

.PHONY: run run-example bench-server test deps build-release build-debug fuzz bench format tidy clean

# Starts the server on 127.0.0.1:8787 with the embedded store in ./var; on first start it
# prints where the one-time setup token is. Ctrl-C (SIGINT) or SIGTERM drains and stops it.
LISTEN ?= 127.0.0.1:8787
DATA ?= ./var
run: deps
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target rampart
	./build/release/apps/rampart/rampart serve --data $(DATA) --listen $(LISTEN)

# The local, serverless form: runs one workflow file in-process.
run-example: deps
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target rampart
	./build/release/apps/rampart/rampart run examples/hello.yaml --input examples/hello.input.json

test: deps build-debug
	ctest --preset debug

deps:
	@$(DEPS)

build-release:
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-debug:
	@cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)

# Real libFuzzer runs (clang-19). Example: make fuzz TARGET=expr SECONDS=60
TARGET ?= expr
SECONDS ?= 60
fuzz:
	@RAMPART_WITH_FUZZ=1 $(DEPS)
	@cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS) --target $(TARGET)_fuzz
	mkdir -p build/fuzz/corpus-$(TARGET)
	./build/fuzz/fuzz/$(TARGET)_fuzz -max_total_time=$(SECONDS) build/fuzz/corpus-$(TARGET) fuzz/$(TARGET)_corpus

bench: deps build-release
	@for b in build/release/bench/*_bench; do echo "== $$b"; $$b; done

# End-to-end server load (wrk) against an nginx ceiling; needs nginx-light and wrk.
bench-server:
	@RAMPART_WITH_BENCH=1 $(DEPS)
	@cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target rampart
	bench/server_load.sh build/release/apps/rampart/rampart

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

tidy:
	@RAMPART_WITH_FUZZ=1 $(DEPS)
	run-clang-tidy-19 -p build/debug $$(git ls-files 'src/*.cc' 'apps/*.cc') 2>/dev/null || clang-tidy -p build/debug $$(git ls-files 'src/*.cc' 'apps/*.cc')

clean:
	rm -rf build
