# htd - build, test, sanitize, fuzz. `make V=1` shows the commands.
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
LAYERS = core http modules server
HTD_CFLAGS = -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude $(LAYERS:%=-Isrc/%) -MMD -MP
LDLIBS = -lconfig -lcrypt -lcrypto -lz -lpthread

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRCS := $(filter-out src/server/main.c,$(wildcard $(LAYERS:%=src/%/*.c)))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

.PHONY: all test unit blackbox asan fuzz check demo clean
all: $(BUILD)/htd $(TEST_BINS) $(EXAMPLE_BINS)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libhtd.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/htd: $(BUILD)/obj/server/main.o $(BUILD)/libhtd.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libhtd.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libhtd.a $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libhtd.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libhtd.a $(LDLIBS)

# Unit tests of the pure parts, then black-box tests of the real binary.
test: unit blackbox
unit: $(TEST_BINS)
	$(Q)set -e; for t in $(TEST_BINS); do $$t; done
blackbox: $(BUILD)/htd $(EXAMPLE_BINS)
	$(Q)python3 tests/blackbox/run.py --htd $(BUILD)/htd --examples $(BUILD)/examples

# The same tests under AddressSanitizer and UBSan, in a build of their own.
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan CC=clang CFLAGS="-O1 -g $(SAN)" \
		LDLIBS="$(LDLIBS) $(SAN)" test

# libFuzzer over the request parser and the chunked decoder (2/3 of the time),
# then over the response and header-block parser (the rest): FUZZ_SECONDS in all.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: build-fuzz/fuzz_parser build-fuzz/fuzz_fields
	$(Q)mkdir -p build-fuzz/corpus build-fuzz/corpus_fields
	$(Q)set -e; t=$$(($(FUZZ_SECONDS) * 2 / 3)); t=$$((t > 0 ? t : 1)); \
	build-fuzz/fuzz_parser -max_total_time=$$t -max_len=4096 \
		-artifact_prefix=build-fuzz/ build-fuzz/corpus fuzz/corpus; \
	t=$$(($(FUZZ_SECONDS) - t)); t=$$((t > 0 ? t : 1)); \
	build-fuzz/fuzz_fields -max_total_time=$$t -max_len=4096 \
		-artifact_prefix=build-fuzz/ build-fuzz/corpus_fields fuzz/corpus_fields
FUZZ_SRCS = src/http/fields.c src/http/parser.c src/http/chunked.c
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_SRCS) $(FUZZ_SRCS:.c=.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang $(filter-out -MMD -MP,$(HTD_CFLAGS)) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS)

# Everything CI runs.
check: all test asan fuzz

demo: $(BUILD)/htd
	./$(BUILD)/htd --root demo

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d $(BUILD)/examples/*.d)
