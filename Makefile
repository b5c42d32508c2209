# The two commands of README.md are ./genforge.sh demo and ./genforge.sh test (they install make first, then run
# these targets):  demo (set up, build, run the main job)   test (set up, build, test)   bench (also the peers)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: setup build classifier test test-quick sanitize fuzz demo bench pretrained clean

setup:
	./scripts/setup.sh

build: setup
	@if [ ! -f $(BUILD)/CMakeCache.txt ]; then cmake -S . -B $(BUILD) $(GENERATOR) $(CMAKE_FLAGS); fi
	cmake --build $(BUILD) -j $(JOBS)

# genforge's Fashion-MNIST classifier (`--features fmnist`), trained once by genforge itself (~70 s on 2 cores).
classifier: build
	@if [ ! -f data/fmnist-classifier.gf ]; then $(BUILD)/genforge eval classifier --out data/fmnist-classifier.gf -q; fi

# Every test, long ones (label "long") included; then the sanitizer pass (scripts/sanitize.sh: the quick tests under
# AddressSanitizer + UndefinedBehaviorSanitizer in a clang build, and a short run of every fuzz target).
test: build classifier
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	JOBS=$(JOBS) ./scripts/sanitize.sh

sanitize: build classifier
	JOBS=$(JOBS) ./scripts/sanitize.sh

# The fuzzing campaign (docs/reliability.md): every target for 10 million executions.
fuzz: setup
	./scripts/fuzz.sh --runs 10000000

# For developers: skips tests labelled "long".
test-quick: build classifier
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE long

demo: build classifier
	./scripts/demo.sh

# The base models of the fine-tuning examples (docs/applications/finetune.md) in data/pretrained/, ~8 minutes.
pretrained: build
	./scripts/pretrained.sh

bench: build
	./scripts/setup.sh --bench
	./bench/run W1
	./bench/run W2a
	./bench/run W2b
	./bench/run W3
	./bench/run W5
	./bench/run W6
	./bench/run W9
	./bench/run W10a
	./bench/run W10b

clean:
	rm -rf $(BUILD)
