# The two commands of the quick start, and the rest of the developer loop.
# Each target installs what is missing (scripts/setup-debian.sh) and
# configures the CMake build it needs, so a fresh clone needs nothing else.

BUILD          ?= build
BUILD_SANITIZE ?= build-sanitize
BUILD_FUZZ     ?= build-fuzz
FUZZ_SECONDS   ?= 30
JOBS           ?= $(shell nproc)
CMAKE_FLAGS    ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSUV_WERROR=ON

.PHONY: all setup build run test test-sanitize fuzz bench format clean

all: build

setup:
	@bash scripts/setup-debian.sh

build: setup
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

FASHION_MNIST ?= /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

# The devices, then fastai's 07a network initialized on Fashion-MNIST both
# ways: the notebook's order (mean loop first) and the swapped one.
run: build
	./$(BUILD)/lsuv-vk --list-devices
	./$(BUILD)/lsuv-vk --layers nets/fastai-07a.cfg --input idx:$(FASHION_MNIST) --normalize --order both --verify

test: build
	cd $(BUILD) && ctest --output-on-failure
	@[ -n "$$LSUV_DARKNET_CFG_DIR" ] || echo "make test: the comparisons with darknet's own cfgs were skipped: LSUV_DARKNET_CFG_DIR is unset"

# ASan and UBSan over the whole suite. Leaks inside the Vulkan loader, the
# drivers and the validation layer are suppressed by library name only
# (tests/sanitize/lsan.supp); lsuv-vk's own code is never suppressed.
test-sanitize: setup
	@cmake -S . -B $(BUILD_SANITIZE) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSUV_WERROR=ON -DLSUV_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SANITIZE) -j$(JOBS)
	cd $(BUILD_SANITIZE) && \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure

# Each libFuzzer target (cfg parser, weights readers, IDX and npy readers)
# for FUZZ_SECONDS, under ASan and UBSan.
fuzz: build
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DLSUV_WERROR=ON -DLSUV_FUZZ=ON -DLSUV_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz_cfg fuzz_darknet_weights fuzz_safetensors fuzz_idx fuzz_npy
	tests/fuzz/run.sh $(BUILD_FUZZ) $(BUILD)/lsuv-vk $(FUZZ_SECONDS)

# The whole suite on every device, each into bench/results/<device-slug>/
# (what the README's results show): the kernels against copy bandwidth and
# the FMA peak, every LSUV ordering on each network, the precision and
# cross-device studies, and PyTorch doing the same on this CPU.
bench: build
	@bash scripts/setup-debian.sh peers
	BUILD=$(BUILD) bash bench/run-gpu.sh all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_SANITIZE) $(BUILD_FUZZ)
