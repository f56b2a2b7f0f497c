#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# setup.sh - installs what htd needs to build, test and fuzz on Debian 12.
#
# Idempotent: each package is checked with dpkg-query, and apt is touched only
# when something is missing, so a run on a machine that has everything takes
# a few milliseconds and needs no root. Installing needs root (or sudo).
set -euo pipefail

# build-essential      gcc, make, libc headers
# clang                the sanitizer and fuzzer builds (make asan, make fuzz)
# clang-format         the code's layout, checked by make check (format-check)
# libclang-rt-14-dev   ASan/UBSan runtimes and libFuzzer for Debian 12's clang 14;
#                      only a Recommends of clang, so it must be named
# python3              the black-box test runner
# media-types          /etc/mime.types, read by htd for Content-Type
# util-linux           setpriv, with which a test drops root to see 403s
# curl                 to poke at the demo by hand
# iproute2             ss, with which a test reads the buffer of htd's socket to an upstream
# libconfig-dev        the config file's parser (htd --config)
# libcrypt-dev         password hashes for Basic authentication (crypt_rn)
# libssl-dev           TLS (HTTPS), and SHA-256 for the verified-credentials cache
# openssl              the tests' certificates (openssl req) and TLS client (s_client)
# apache2-utils        htpasswd, with which the tests make password files
# whois                mkpasswd, for yescrypt hashes htpasswd cannot make
# zlib1g-dev           gzip on the fly (--gzip), for bodies sent as they are made
# libdeflate-dev       gzip on the fly for bodies of a known length up to 128 KiB
# libsqlite3-dev       the job queues' database (202 Accepted)
# libxml2-dev          WebDAV's request bodies and 207 Multi-Status answers
# libpcre2-dev         the rules' regexes (Perl syntax, JIT)
# libbrotli-dev        brotli on the fly (--brotli)
# brotli               the program with which a test decodes it
# litmus               the WebDAV test suite, run by tests/blackbox/test_webdav.py
# scdoc                the manual pages, htd(8) and htd.conf(5), from docs/*.scd
# man-db               man -l, with which a test renders them
# pkgconf              pkg-config, with which a test builds programs against an install
# dpkg-dev             make deb: dpkg-buildflags, dpkg-architecture, dpkg-shlibdeps
# mmdebstrap           a clean Debian in a chroot, where test_deb installs the package
packages=(build-essential clang clang-format libclang-rt-14-dev python3 media-types util-linux curl iproute2
          libconfig-dev libcrypt-dev libssl-dev openssl apache2-utils whois zlib1g-dev libdeflate-dev libsqlite3-dev
          libxml2-dev libpcre2-dev libbrotli-dev brotli litmus
          scdoc man-db pkgconf
          dpkg-dev mmdebstrap)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: dpkg-query not found; this script is for Debian 12" >&2
    exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "setup: all dependencies present"
    exit 0
fi

if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "setup: must run as root (or with sudo installed) to install: ${missing[*]}" >&2
    exit 1
fi

echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
