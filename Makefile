# htd - build, test, sanitize, fuzz. `make V=1` shows the commands.
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
LAYERS = core http modules server
# Hidden unless htd.h marks it HTD_API: the library exports its interface only.
HTD_CFLAGS = -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fvisibility=hidden -Iinclude \
	$(LAYERS:%=-Isrc/%) -MMD -MP
HTD_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Iinclude -MMD -MP
LDLIBS = -lconfig -lcrypt -lssl -lcrypto -lz -lsqlite3 -lpthread

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRCS := $(filter-out src/server/main.c,$(wildcard $(LAYERS:%=src/%/*.c)))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
PIC_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/pic/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

.PHONY: all test unit symbols blackbox asan asan-build fuzz fuzz-long livefuzz soak check demo \
	clean format format-check layers
all: $(BUILD)/htd $(BUILD)/libhtd.so $(TEST_BINS) $(BUILD)/tests/test_cxx $(EXAMPLE_BINS)

# Objects depend on the Makefile too: flags that change must rebuild them.
$(BUILD)/obj/%.o: src/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/pic/%.o: src/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $< (PIC)"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

# For programs that embed htd: one object, everything in it but the
# interface made local, so a program sees htd_ names only. htd itself and
# the unit tests, which reach inside, link the objects.
$(BUILD)/libhtd.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)$(LD) -r -o $(BUILD)/libhtd.o $^ && objcopy --localize-hidden $(BUILD)/libhtd.o && \
		rm -f $@ && ar rcs $@ $(BUILD)/libhtd.o

$(BUILD)/libhtd.so: $(PIC_OBJS) scripts/libhtd.map
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) -shared -Wl,--version-script=scripts/libhtd.map -o $@ $(PIC_OBJS) $(LDLIBS)

$(BUILD)/htd: $(BUILD)/obj/server/main.o $(LIB_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# htd.h from C++, linked against the shared library as an embedding program
# is (the example links the static one).
$(BUILD)/tests/test_cxx: tests/test_cxx.cpp $(BUILD)/libhtd.so
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(HTD_CXXFLAGS) $(CFLAGS) -o $@ $< -L$(BUILD) -lhtd -Wl,-rpath,'$$ORIGIN/..' $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libhtd.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libhtd.a $(LDLIBS)

# Unit tests of the pure parts, then black-box tests of the real binary.
test: unit symbols blackbox
unit: $(TEST_BINS) $(BUILD)/tests/test_cxx
	$(Q)set -e; for t in $^; do $$t; done
# Every symbol the libraries export starts with htd_, and is in htd.h.
symbols: $(BUILD)/libhtd.so $(BUILD)/libhtd.a
	$(Q)scripts/symbols.sh $^
blackbox: $(BUILD)/htd $(EXAMPLE_BINS)
	$(Q)python3 tests/blackbox/run.py --htd $(BUILD)/htd --examples $(BUILD)/examples

# The same tests under AddressSanitizer and UBSan, in a build of their own
# (asan-build makes only its htd, for the live tests below).
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan CC=clang CXX=clang++ \
	CFLAGS="-O1 -g $(SAN)" LDLIBS="$(LDLIBS) $(SAN)"
asan:
	$(Q)$(ASAN_MAKE) test
asan-build:
	$(Q)$(ASAN_MAKE) build-asan/htd

# Live traffic against the ASan build with every feature on (tests/live/):
# mutated requests, split writes, resets and half-closes for LIVEFUZZ_SECONDS
# (part of check), and a soak of mixed traffic for SOAK_MINUTES (not in check).
LIVEFUZZ_SECONDS ?= 30
SOAK_MINUTES ?= 10
livefuzz: asan-build
	$(Q)python3 tests/live/fuzz.py --htd build-asan/htd --seconds $(LIVEFUZZ_SECONDS) \
		$(if $(LIVEFUZZ_SEED),--seed $(LIVEFUZZ_SEED))
soak: asan-build
	$(Q)python3 tests/live/soak.py --htd build-asan/htd --minutes $(SOAK_MINUTES)

# libFuzzer targets: fuzz/fuzz_NAME.c, its seeds in fuzz/corpus_NAME/, and the
# sources it tests in FUZZ_SRCS_NAME (a new target is a file and that line).
# `make fuzz` (in check) runs them all, FUZZ_JOBS at a time, for FUZZ_SECONDS
# in all; `make fuzz-long FUZZ_SECONDS=N` runs each for N seconds. Both keep
# their corpora in build-fuzz/ and print the inputs each executed.
FUZZ_SRCS_parser = src/http/fields.c src/http/parser.c src/http/chunked.c
FUZZ_SRCS_fields = src/http/fields.c
FUZZ_SRCS_path = src/http/path.c
FUZZ_SRCS_range = src/http/range.c
FUZZ_SRCS_encoding = src/http/encoding.c src/http/fields.c
FUZZ_SRCS_htpasswd = src/modules/auth.c
FUZZ_SRCS_listing = src/modules/listing.c src/core/beneath.c src/http/path.c src/http/encoding.c \
	src/http/fields.c
FUZZ_SRCS_config = $(LIB_SRCS)
FUZZ_SRCS_proxyproto = src/http/proxyproto.c
# The config target keeps the loader's files inside its sandbox and its
# listen addresses numeric (fuzz/fuzz_config.c).
FUZZ_LDFLAGS_config = -Wl,--wrap=open,--wrap=fopen,--wrap=getaddrinfo

FUZZ_TARGETS ?= $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -g -O1 $(FUZZ_SAN)
FUZZ_BINS = $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

build-fuzz/obj/%.o: src/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	$(Q)clang $(HTD_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

fuzz_objs = $(patsubst src/%.c,build-fuzz/obj/%.o,$(FUZZ_SRCS_$(1)))
.SECONDARY: $(LIB_SRCS:src/%.c=build-fuzz/obj/%.o)
.SECONDEXPANSION:
build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $$(call fuzz_objs,$$*)
	@echo "  FUZZ    $@"
	$(Q)clang $(HTD_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_LDFLAGS_$*) -o $@ $< \
		$(call fuzz_objs,$*) $(LDLIBS)

fuzz: $(FUZZ_BINS)
	$(Q)n=$(words $(FUZZ_TARGETS)); t=$$(($(FUZZ_SECONDS) * $(FUZZ_JOBS) / n)); \
	fuzz/run.sh $$((t > 0 ? t : 1)) $(FUZZ_JOBS) $(FUZZ_TARGETS)
fuzz-long: $(FUZZ_BINS)
	$(Q)fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

# The committed .clang-format over every C source: `make format` applies it,
# `make format-check` (part of check) fails on any file it would change.
FORMAT_FILES = $(shell git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' \
	'tests/*.cpp' 'examples/*.c' 'fuzz/*.c' 'fuzz/*.h' 'bench/*.c' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES)

# No include goes up a layer (core, http, modules, server) and none makes a cycle.
layers:
	$(Q)python3 scripts/layers.py --quiet

# Everything CI runs.
check: format-check layers all test asan fuzz livefuzz

demo: $(BUILD)/htd
	./$(BUILD)/htd --root demo

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/pic/*/*.d $(BUILD)/tests/*.d $(BUILD)/examples/*.d \
	build-fuzz/obj/*/*.d build-fuzz/*.d)
