# The two commands of the README. Everything else is an implementation detail.
SHELL := /bin/bash
DEPS := scripts/install-deps.sh
JOBS ?= $(shell nproc)

.PHONY: run test deps build-release build-debug fuzz bench format tidy clean

run: deps
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

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

tidy:
	@RAMPART_WITH_FUZZ=1 $(DEPS)
	run-clang-tidy-19 -p build/debug $$(git ls-files 'src/*.cc' 'apps/*.cc') 2>/dev/null || clang-tidy -p build/debug $$(git ls-files 'src/*.cc' 'apps/*.cc')

clean:
	rm -rf build
