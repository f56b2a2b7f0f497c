#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# symbols.sh - the libraries export htd.h's functions and nothing else.
#
# The defined global symbols of each library given (a shared library's
# dynamic symbols, an archive's external ones) must all start with htd_, and
# be exactly the functions htd.h declares HTD_API: internal functions are
# hidden whatever their names (-fvisibility=hidden, and for the archive
# objcopy --localize-hidden). Exit status 1, naming what is wrong, if not.
# Usage: scripts/symbols.sh build/libhtd.so build/libhtd.a
set -eu
api=$(mktemp)
names=$(mktemp)
trap 'rm -f "$api" "$names"' EXIT
sed -n 's/^HTD_API .*[ *]\(htd_[a-z0-9_]*\)(.*/\1/p' "$(dirname "$0")/../include/htd.h" | sort >"$api"
[ -s "$api" ] || { echo "symbols: no HTD_API function in include/htd.h" >&2; exit 1; }
status=0
for lib in "$@"; do
    case "$lib" in
    *.so) nm -D --defined-only "$lib" ;;
    *) nm -g --defined-only "$lib" ;;
    esac | awk 'NF >= 3 { print $3 }' | sort -u >"$names"
    bad=$(grep -v '^htd_' "$names" || true)
    extra=$(grep '^htd_' "$names" | comm -23 - "$api")
    missing=$(comm -13 "$names" "$api")
    [ -z "$bad" ] || { echo "symbols: $lib exports names not starting with htd_:" $bad >&2; status=1; }
    [ -z "$extra" ] || { echo "symbols: $lib exports what htd.h does not declare HTD_API:" $extra >&2; status=1; }
    [ -z "$missing" ] || { echo "symbols: $lib lacks what htd.h declares:" $missing >&2; status=1; }
done
exit $status
