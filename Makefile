# SPDX-License-Identifier: BSD-2-Clause
# htd - build, test, sanitize, fuzz. `make V=1` shows the commands.
CC ?= cc
CFLAGS ?= -O2 -g
BUILD ?= build
LAYERS = core http modules server
# Warnings are errors while developing; a packager building with another
# compiler or other flags runs `make WERROR=` (CC, CFLAGS, CPPFLAGS and
# LDFLAGS are taken from the command line or the environment as usual).
WERROR ?= -Werror
# Hidden unless htd.h marks it HTD_API: the library exports its interface only.
# libxml2's headers are in a directory of their own.
XML2_CFLAGS ?= $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
HTD_CFLAGS = -std=c17 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -fvisibility=hidden -Iinclude \
	$(LAYERS:%=-Isrc/%) $(XML2_CFLAGS) -MMD -MP $(CPPFLAGS)
HTD_CXXFLAGS = -std=c++17 -Wall -Wextra $(WERROR) -Iinclude -MMD -MP $(CPPFLAGS)
LDLIBS = -lconfig -lcrypt -lssl -lcrypto -lz -ldeflate -lsqlite3 -lxml2 -lpcre2-8 -lbrotlienc -lpthread
# The pkg-config names of those libraries, for htd.pc's Requires.private: a
# static link then gets what they need in turn (sqlite3's -lm, libcrypto's
# -ldl). A library of LDLIBS not named here goes to Libs.private as it is.
PC_-lconfig = libconfig
PC_-lcrypt = libcrypt
PC_-lssl = libssl
PC_-lcrypto = libcrypto
PC_-lz = zlib
PC_-ldeflate = libdeflate
PC_-lsqlite3 = sqlite3
PC_-lxml2 = libxml-2.0
PC_-lpcre2-8 = libpcre2-8
PC_-lbrotlienc = libbrotlienc

# The version is kept in one place, include/htd.h (HTD_VERSION_MAJOR, _MINOR
# and _PATCH; HTD_VERSION is made from them): the shared library's name and
# soname, htd.pc and `htd --version` all follow it.
version_part = $(shell sed -n 's/^.define HTD_VERSION_$(1)  *\([0-9][0-9]*\)$$/\1/p' include/htd.h)
MAJOR := $(call version_part,MAJOR)
VERSION := $(MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME = libhtd.so.$(MAJOR)

# Where `make install` puts things: DESTDIR is prepended to each (staged
# installs, packages); PREFIX and the directories are what the installed
# files say (htd.pc). Debian's multiarch packaging sets LIBDIR.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/htd
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRCS := $(filter-out src/server/main.c,$(wildcard $(LAYERS:%=src/%/*.c)))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
# The htd program is linked with link-time optimisation where the compiler
# is GCC: a request's path runs through the connection, the parser and the
# modules, each in a file of its own, and only LTO inlines across them
# (callgrind, bench/README.md: 5% fewer instructions a request). Its objects
# are made apart from the library's, which stay plain for the programs and
# tests that link them. `make LTO=` builds htd from the plain objects.
LTO ?= $(if $(shell $(CC) -v 2>&1 | grep '^gcc version'),-flto=auto)
HTD_OBJS := $(if $(LTO),$(patsubst src/%.c,$(BUILD)/lto/%.o,src/server/main.c $(LIB_SRCS)),\
	$(BUILD)/obj/server/main.o $(LIB_OBJS))
PIC_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/pic/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

.PHONY: all test unit symbols blackbox asan asan-build fuzz fuzz-long livefuzz soak check demo \
	clean format format-check layers man install uninstall
all: $(BUILD)/htd $(BUILD)/libhtd.so $(TEST_BINS) $(BUILD)/tests/test_cxx $(EXAMPLE_BINS)

# Objects depend on the Makefile too: flags that change must rebuild them.
$(BUILD)/obj/%.o: src/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/lto/%.o: src/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $< (LTO)"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) $(LTO) -c -o $@ $<

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

# libhtd.so.MAJOR.MINOR.PATCH, whose soname is libhtd.so.MAJOR (what a
# program records, and finds at run time), and libhtd.so, the name -lhtd
# finds when a program is linked; both links beside it in $(BUILD) too.
$(BUILD)/libhtd.so.$(VERSION): $(PIC_OBJS) scripts/libhtd.map
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=scripts/libhtd.map -o $@ $(PIC_OBJS) $(LDLIBS)

$(BUILD)/libhtd.so: $(BUILD)/libhtd.so.$(VERSION)
	$(Q)ln -sf libhtd.so.$(VERSION) $(BUILD)/$(SONAME) && ln -sf libhtd.so.$(VERSION) $@

# The commit the program is built from, for htd --version ("+" when the
# sources differ from it): rewritten only when it changes, so that main.o is
# rebuilt then and only then. "unknown" outside a git checkout.
$(BUILD)/commit.h: FORCE
	@mkdir -p $(BUILD)
	@c=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); \
	if [ "$$c" != unknown ] && ! git diff --quiet HEAD -- src include 2>/dev/null; then c="$$c+"; fi; \
	printf '#define HTD_COMMIT "%s"\n' "$$c" > $@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: FORCE
$(BUILD)/obj/server/main.o $(BUILD)/lto/server/main.o: $(BUILD)/commit.h
$(BUILD)/obj/server/main.o $(BUILD)/lto/server/main.o: HTD_CFLAGS += -include $(BUILD)/commit.h
# The metrics' htd_build_info says it too.
$(BUILD)/obj/modules/metrics.o $(BUILD)/pic/modules/metrics.o $(BUILD)/lto/modules/metrics.o: \
	$(BUILD)/commit.h
$(BUILD)/obj/modules/metrics.o $(BUILD)/pic/modules/metrics.o $(BUILD)/lto/modules/metrics.o: \
	HTD_CFLAGS += -include $(BUILD)/commit.h

$(BUILD)/htd: $(HTD_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# htd.h from C++, linked against the shared library as an embedding program
# is (the example links the static one).
$(BUILD)/tests/test_cxx: tests/test_cxx.cpp $(BUILD)/libhtd.so
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(HTD_CXXFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(BUILD) -lhtd \
		-Wl,-rpath,'$$ORIGIN/..' $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libhtd.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HTD_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libhtd.a $(LDLIBS)

# The manual pages, htd(8) and htd.conf(5), from their scdoc sources in docs/;
# @VERSION@ in them becomes the version.
MAN_PAGES := $(patsubst docs/%.scd,$(BUILD)/man/%,$(wildcard docs/*.scd))
man: $(MAN_PAGES)
$(BUILD)/man/%: docs/%.scd include/htd.h
	@mkdir -p $(dir $@)
	@echo "  SCDOC   $<"
	$(Q)sed 's/@VERSION@/$(VERSION)/g' $< | scdoc >$@.tmp && mv $@.tmp $@

# `make install` builds what it installs if it must (with the same variables
# as `make`), then copies it under $(DESTDIR): the program, the shared library
# with its two links, the static library, htd.h, htd.pc (made here, so it
# names this PREFIX), the manual pages, the systemd units (SYSTEMDUNITDIR),
# and examples/htd.conf as an example
# (Debian's place for one: a file in /etc would be a configuration of its
# own). `make uninstall` with the same variables removes exactly those.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
install: $(BUILD)/htd $(BUILD)/libhtd.so $(BUILD)/libhtd.a man
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR)
	$(Q)$(INSTALL) -m 755 $(BUILD)/htd $(DESTDIR)$(BINDIR)/htd
	$(Q)$(INSTALL) -m 755 $(BUILD)/libhtd.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhtd.so.$(VERSION)
	$(Q)ln -sf libhtd.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sf libhtd.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhtd.so
	$(Q)$(INSTALL) -m 644 $(BUILD)/libhtd.a $(DESTDIR)$(LIBDIR)/libhtd.a
	$(Q)$(INSTALL) -m 644 include/htd.h $(DESTDIR)$(INCLUDEDIR)/htd.h
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(call pc_dir,$(LIBDIR))' \
		'includedir=$(call pc_dir,$(INCLUDEDIR))' '' 'Name: htd' \
		'Description: an HTTP/1.1 origin server, as a library to embed' \
		'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lhtd' \
		'Requires.private: $(strip $(foreach l,$(LDLIBS),$(PC_$(l))))' \
		'Libs.private: $(strip $(foreach l,$(LDLIBS),$(if $(PC_$(l)),,$(l))))' \
		>$(DESTDIR)$(PKGCONFIGDIR)/htd.pc
	$(Q)chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/htd.pc
	$(Q)$(INSTALL) -m 644 $(BUILD)/man/htd.8 $(DESTDIR)$(MANDIR)/man8/htd.8
	$(Q)$(INSTALL) -m 644 $(BUILD)/man/htd.conf.5 $(DESTDIR)$(MANDIR)/man5/htd.conf.5
	$(Q)$(INSTALL) -m 644 examples/htd.conf $(DESTDIR)$(DOCDIR)/examples/htd.conf
	$(Q)$(INSTALL) -m 644 LICENSE $(DESTDIR)$(DOCDIR)/LICENSE
	$(Q)$(INSTALL) -m 644 contrib/systemd/htd.service contrib/systemd/htd.socket \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	@echo "  INSTALL htd $(VERSION) under $(DESTDIR)$(PREFIX)"
	$(Q)if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		ldconfig; fi

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/htd $(DESTDIR)$(LIBDIR)/libhtd.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libhtd.so $(DESTDIR)$(LIBDIR)/libhtd.a \
		$(DESTDIR)$(INCLUDEDIR)/htd.h $(DESTDIR)$(PKGCONFIGDIR)/htd.pc \
		$(DESTDIR)$(MANDIR)/man8/htd.8 $(DESTDIR)$(MANDIR)/man5/htd.conf.5 \
		$(DESTDIR)$(DOCDIR)/examples/htd.conf $(DESTDIR)$(DOCDIR)/LICENSE \
		$(DESTDIR)$(SYSTEMDUNITDIR)/htd.service $(DESTDIR)$(SYSTEMDUNITDIR)/htd.socket
	$(Q)rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@echo "  REMOVED htd $(VERSION) from $(DESTDIR)$(PREFIX)"

# `make deb`: Debian packages in $(BUILD)/deb/ (htd, libhtd0, libhtd-dev,
# packaging/deb/mkdeb.sh says what each holds), from a build of their own in
# $(BUILD)/deb/build with Debian's hardening flags (dpkg-buildflags) and
# without -Werror, installed under /usr into $(BUILD)/deb/stage.
DEB_DIR = $(BUILD)/deb
.PHONY: deb
deb:
	$(Q)rm -rf $(DEB_DIR)/stage
	$(Q)export DEB_BUILD_MAINT_OPTIONS=hardening=+all; \
	$(MAKE) --no-print-directory BUILD=$(DEB_DIR)/build WERROR= \
		CFLAGS="$$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$$(dpkg-buildflags --get CPPFLAGS)" \
		LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" PREFIX=/usr \
		LIBDIR=/usr/lib/$$(dpkg-architecture -qDEB_HOST_MULTIARCH) \
		SYSTEMDUNITDIR=/lib/systemd/system DESTDIR=$(abspath $(DEB_DIR)/stage) install
	$(Q)packaging/deb/mkdeb.sh $(DEB_DIR)/stage $(DEB_DIR) $(VERSION)

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
FUZZ_SRCS_listing = src/modules/listing.c src/http/accept.c src/core/beneath.c src/core/json.c \
	src/http/path.c \
	src/http/encoding.c src/http/fields.c
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
	$(Q)clang $(HTD_CFLAGS) $(FUZZ_CFLAGS) $(LDFLAGS) -fsanitize=fuzzer $(FUZZ_LDFLAGS_$*) \
		-o $@ $< $(call fuzz_objs,$*) $(LDLIBS)

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

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/pic/*/*.d $(BUILD)/lto/*/*.d $(BUILD)/tests/*.d $(BUILD)/examples/*.d \
	build-fuzz/obj/*/*.d build-fuzz/*.d)
