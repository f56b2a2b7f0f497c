#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# screenshot-listing.sh - regenerates docs/listing.png, the picture of htd's
# directory listing page (htd --list-dirs) that the documentation shows.
#
# What it does, in order:
#   1. installs Chromium if it is missing: Debian 12's `chromium` package,
#      with apt-get (as root, or through sudo), with its recommended fonts;
#   2. builds htd with `make`;
#   3. makes a temporary demo folder with a realistic mix of folders and
#      files (sizes from bytes to gigabytes, as sparse files, so it is quick
#      and takes no disk; varied modification times; a name with spaces, one
#      with UTF-8, and a hostile one that tries to inject markup, to show it
#      escaped);
#   4. starts `build/htd --root DIR --list-dirs --listen 127.0.0.1:PORT` and
#      waits until the listing answers;
#   5. takes the screenshot with headless Chromium at 1000x700:
#        chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
#                 --window-size=1000,700 --screenshot=docs/listing.png URL
#   6. stops htd by its pid and removes the demo folder (also on failure).
#
# Usage:  scripts/screenshot-listing.sh [OUTPUT.png]     (default: docs/listing.png)
# Environment:
#   PORT   the port to listen on; default 0, a free one, read from the URL
#          htd prints when it starts.
#   HTD    the htd binary to run; default build/htd, built first with make.
#          When set, make is not run.
#
# Needs what scripts/setup.sh installs (make, a C compiler, curl) and
# Debian's chromium package (installed by step 1). --no-sandbox is there
# because Chromium's sandbox refuses to run as root, as on CI machines; the
# page it opens is htd's own on loopback.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-docs/listing.png}
port=${PORT:-0}

say() { echo "screenshot-listing: $*"; }
die() {
    echo "screenshot-listing: $*" >&2
    exit 1
}

# 1. Chromium.
if ! command -v chromium >/dev/null 2>&1; then
    if ((EUID == 0)); then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        die "chromium is missing; run as root (or with sudo installed) to install it"
    fi
    say "installing chromium (Debian's package)"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
command -v curl >/dev/null 2>&1 || die "curl is missing; run scripts/setup.sh"

# 2. htd.
if [[ -z ${HTD:-} ]]; then
    make
    HTD=build/htd
fi
[[ -x $HTD ]] || die "$HTD is not an executable"

tmp=$(mktemp -d /tmp/htd-screenshot.XXXXXX)
htd_pid=
cleanup() {
    if [[ -n $htd_pid ]]; then
        kill "$htd_pid" 2>/dev/null || true
        wait "$htd_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# 3. The demo folder: a project's download area. Times are UTC.
demo=$tmp/htd-0.1.0
mkdir -p "$demo"
file() { # file NAME SIZE 'YYYY-MM-DD HH:MM'
    truncate -s "$2" "$demo/$1"
    TZ=UTC touch -d "$3" "$demo/$1"
}
folder() { # folder NAME 'YYYY-MM-DD HH:MM'
    mkdir -p "$demo/$1"
    TZ=UTC touch -d "$2" "$demo/$1"
}
folder "docs" "2026-11-24 18:05"
folder "examples" "2026-11-20 09:41"
folder "Releases" "2026-11-25 10:00"
folder "src" "2026-11-25 09:58"
folder ".git" "2026-11-25 10:02"
file "CHANGELOG.md" 18712 "2026-11-25 09:57"
file "\"><img src=x onerror=alert(1)>.html" 731 "2026-11-23 22:13"
file "htd-0.1.0.tar.gz" 1468006 "2026-11-25 10:00"
file "htd_0.1.0_amd64.deb" 421888 "2026-11-25 10:00"
file "LICENSE" 1091 "2026-01-02 12:00"
file "logs-2026-11.csv.gz" 1288490189 "2026-11-25 06:00"
file "meeting notes (draft).txt" 2214 "2026-11-18 15:27"
file "README.md" 4301 "2026-11-24 17:50"
file "résumé.pdf" 98304 "2026-10-03 11:12"
file "talk-slides.pdf" 3145728 "2026-11-12 08:30"
file ".env" 96 "2026-11-01 12:00"

# 4. htd.
say "serving $demo with $HTD --list-dirs"
"$HTD" --root "$demo" --list-dirs --listen "127.0.0.1:$port" >"$tmp/htd.log" 2>&1 &
htd_pid=$!
url=
for _ in $(seq 100); do
    if ! kill -0 "$htd_pid" 2>/dev/null; then
        cat "$tmp/htd.log" >&2
        htd_pid=
        die "htd exited at start (see above)"
    fi
    url=$(grep -o -m1 'http://127\.0\.0\.1:[0-9]*/' "$tmp/htd.log" || true)
    [[ -n $url ]] && curl -fsS -o /dev/null "$url" 2>/dev/null && break
    url=
    sleep 0.1
done
[[ -n $url ]] || {
    cat "$tmp/htd.log" >&2
    die "htd did not answer a listing within 10 s"
}

# 5. The screenshot. A profile of its own, so nothing of the user's is read
# or written.
mkdir -p "$(dirname "$out")"
rm -f "$out"
say "taking the screenshot of $url"
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$tmp/chromium" --window-size=1000,700 --screenshot="$out" "$url" \
    >"$tmp/chromium.log" 2>&1 || true
if [[ ! -s $out ]]; then
    cat "$tmp/chromium.log" >&2
    die "chromium made no screenshot (see above)"
fi

# 6. Stopped and removed by cleanup.
say "wrote $out"
