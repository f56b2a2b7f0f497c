#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# mkdeb.sh - makes htd's Debian packages from a staged `make install`.
#
#   packaging/deb/mkdeb.sh STAGE OUTDIR VERSION
#
# STAGE is the DESTDIR of `make install PREFIX=/usr LIBDIR=/usr/lib/MULTIARCH
# SYSTEMDUNITDIR=/lib/systemd/system` (`make deb` makes it, with Debian's
# build flags). The files are shared out into three trees under OUTDIR/tree,
# with this directory's configuration, default page and maintainer scripts,
# and each is built with `dpkg-deb --build --root-owner-group` (no fakeroot):
#
#   htd         the server: /usr/bin/htd (the unit's ExecStart), its manual
#               pages, /etc/htd/htd.conf (a conffile), the systemd units, a
#               logrotate snippet, the default page postinst puts in
#               /var/www/html
#   libhtd0     the shared library, libhtd.so.0, alone as Debian's policy
#               (8.1) asks: htd itself links the library's objects statically
#               and does not need it, and a libhtd1 could be installed beside it
#   libhtd-dev  htd.h, the libhtd.so link, libhtd.a and htd.pc
#
# Depends of the binaries come from dpkg-shlibdeps, not from a list here.
# No debhelper: a control file each is short, and dpkg-deb is all CI needs.
set -eu

if [ $# -ne 3 ]; then
    echo "usage: $0 STAGE OUTDIR VERSION" >&2
    exit 2
fi
stage=$1 out=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=usr/lib/$multiarch
major=${version%%.*}
maintainer="htd maintainers <maintainers@users.noreply.r-seed-acf9d498.example>"
# Every file's date is the last commit's (or now outside git): the same
# sources give the same packages.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

for f in usr/bin/htd "$libdir/libhtd.so.$version" "$libdir/libhtd.a" usr/include/htd.h \
    lib/systemd/system/htd.service; do
    [ -e "$stage/$f" ] || { echo "mkdeb: $stage/$f is missing (make install first)" >&2; exit 1; }
done

tree=$out/tree
rm -rf "$tree" "$out/work" "$out"/*.deb
mkdir -p "$tree" "$out/work/debian"
# dpkg-shlibdeps wants a source package around the files it looks at.
printf 'Source: htd\n\nPackage: htd\nArchitecture: any\n' >"$out/work/debian/control"

# put PKG MODE SRC DEST: a file from the stage (or anywhere) into a package.
put() {
    install -D -m "$2" "$3" "$tree/$1/$4"
}

# The programs and libraries without their debugging sections (as dh_strip).
strip_elf() {
    strip --remove-section=.comment --remove-section=.note "$@"
}

# The copyright and a changelog, which every package carries.
docs() {
    d=$tree/$1/usr/share/doc/$1
    install -D -m 644 "$stage/usr/share/doc/htd/LICENSE" "$d/copyright"
    printf '%s (%s) unstable; urgency=medium\n\n  * Built by make deb%s.\n\n -- %s  %s\n' \
        htd "$version" "$(git -C "$here" log -1 --format=' from commit %h' 2>/dev/null || true)" \
        "$maintainer" "$(date -R -u -d "@$SOURCE_DATE_EPOCH")" | gzip -9n >"$d/changelog.gz"
    chmod 644 "$d/changelog.gz"
}

# --- htd
put htd 755 "$stage/usr/bin/htd" usr/bin/htd
strip_elf --strip-unneeded "$tree/htd/usr/bin/htd"
for page in man8/htd.8 man5/htd.conf.5; do
    put htd 644 "$stage/usr/share/man/$page" "usr/share/man/$page"
    gzip -9n "$tree/htd/usr/share/man/$page"
done
put htd 644 "$stage/usr/share/doc/htd/examples/htd.conf" usr/share/doc/htd/examples/htd.conf
put htd 644 "$stage/lib/systemd/system/htd.service" lib/systemd/system/htd.service
put htd 644 "$stage/lib/systemd/system/htd.socket" lib/systemd/system/htd.socket
put htd 644 "$here/htd.conf" etc/htd/htd.conf
put htd 644 "$here/logrotate" etc/logrotate.d/htd
put htd 644 "$here/index.html" usr/share/htd/html/index.html
docs htd
mkdir -p "$tree/htd/DEBIAN"
for s in postinst prerm postrm; do install -m 755 "$here/$s" "$tree/htd/DEBIAN/$s"; done
printf '/etc/htd/htd.conf\n/etc/logrotate.d/htd\n' >"$tree/htd/DEBIAN/conffiles"

# --- libhtd0
put libhtd0 644 "$stage/$libdir/libhtd.so.$version" "$libdir/libhtd.so.$version"
strip_elf --strip-unneeded "$tree/libhtd0/$libdir/libhtd.so.$version"
ln -s "libhtd.so.$version" "$tree/libhtd0/$libdir/libhtd.so.$major"
docs libhtd0
mkdir -p "$tree/libhtd0/DEBIAN"
# A program built against this version needs at least this version.
printf 'libhtd %s libhtd0 (>= %s)\n' "$major" "$version" >"$tree/libhtd0/DEBIAN/shlibs"
printf 'activate-noawait ldconfig\n' >"$tree/libhtd0/DEBIAN/triggers"

# --- libhtd-dev
put libhtd-dev 644 "$stage/usr/include/htd.h" usr/include/htd.h
put libhtd-dev 644 "$stage/$libdir/libhtd.a" "$libdir/libhtd.a"
strip_elf --strip-debug --enable-deterministic-archives "$tree/libhtd-dev/$libdir/libhtd.a"
put libhtd-dev 644 "$stage/$libdir/pkgconfig/htd.pc" "$libdir/pkgconfig/htd.pc"
ln -s "libhtd.so.$major" "$tree/libhtd-dev/$libdir/libhtd.so"
docs libhtd-dev
mkdir -p "$tree/libhtd-dev/DEBIAN"

# Depends of the binaries, as substvars lines (shlibs:Depends=...).
shlibs() {
    (cd "$out/work" && dpkg-shlibdeps -O "$@") | sed -n 's/^shlibs:Depends=//p'
}
htd_depends=$(shlibs "$(cd "$tree/htd" && pwd)/usr/bin/htd")
lib_depends=$(shlibs "$(cd "$tree/libhtd0" && pwd)/$libdir/libhtd.so.$version")

# control PKG SECTION DEPENDS [FIELD: VALUE]... ; the description from stdin.
control() {
    pkg=$1 section=$2 depends=$3
    shift 3
    size=$(du -sk --exclude=DEBIAN "$tree/$pkg" | cut -f1)
    {
        printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\n' \
            "$pkg" "$version" "$arch" "$maintainer"
        printf 'Installed-Size: %s\nSection: %s\nPriority: optional\nDepends: %s\n' \
            "$size" "$section" "$depends"
        for field in "$@"; do printf '%s\n' "$field"; done
        cat
    } >"$tree/$pkg/DEBIAN/control"
}

control htd httpd "$htd_depends, init-system-helpers (>= 1.52)" \
    "Recommends: media-types, logrotate" "Provides: httpd" <<'EOF'
Description: HTTP/1.1 origin server
 htd serves static files (ranges, conditional requests, compression,
 directory listings), CGI scripts, a document store, job queues and a
 reverse proxy, with virtual hosts and rules in one configuration file.
 .
 This package runs htd.service as www-data on port 80, serving /var/www/html
 with /etc/htd/htd.conf; the access log is /var/log/htd/access.log.
EOF

control libhtd0 libs "$lib_depends" "Multi-Arch: same" <<'EOF'
Description: HTTP/1.1 origin server as a library to embed
 libhtd runs htd's server (event loop, HTTP/1.1, static files, handlers)
 inside a C or C++ program.
 .
 This package has the shared library.
EOF

# htd.pc's Requires.private (Makefile, PC_*): pkg-config reads their .pc
# files even for a dynamic link.
control libhtd-dev libdevel \
    "libhtd0 (= $version), libconfig-dev, libcrypt-dev, libssl-dev, zlib1g-dev, libdeflate-dev, libsqlite3-dev, libxml2-dev, libpcre2-dev, libbrotli-dev" \
    "Multi-Arch: same" <<'EOF'
Description: HTTP/1.1 origin server as a library to embed - development files
 libhtd runs htd's server (event loop, HTTP/1.1, static files, handlers)
 inside a C or C++ program.
 .
 This package has the header htd.h, the static library and htd.pc for
 pkg-config.
EOF

for pkg in htd libhtd0 libhtd-dev; do
    # What `dpkg --verify` checks: every file but the conffiles (dpkg keeps their sums).
    (cd "$tree/$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's,^\./,,' |
        LC_ALL=C sort | while read -r f; do
            if [ -f DEBIAN/conffiles ] && grep -qxF "/$f" DEBIAN/conffiles; then continue; fi
            md5sum "$f"
        done) >"$tree/$pkg/DEBIAN/md5sums"
    find "$tree/$pkg" -newermt "@$SOURCE_DATE_EPOCH" -print0 |
        xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
    dpkg-deb --root-owner-group -Zxz --build "$tree/$pkg" "$out/${pkg}_${version}_$arch.deb" >/dev/null
    echo "  DEB     $out/${pkg}_${version}_$arch.deb"
done
