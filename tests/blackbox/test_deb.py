# SPDX-License-Identifier: BSD-2-Clause
"""`make deb`: the Debian packages htd, libhtd0 and libhtd-dev.

The packages are made once for this module by `make deb` in the build
directory of the htd under test (their own build, in BUILD/deb/build, with
Debian's flags; about 15 s from nothing, nothing when up to date). Their
contents and control fields are read with dpkg-deb: the files each holds,
the conffiles, Depends computed by dpkg-shlibdeps, and a packaged
configuration that htd accepts.

Then, as root and with port 80 free, the htd package is installed with
`apt-get install --no-install-recommends ./htd_*.deb` in a clean chroot of
Debian's minimal base system (mmdebstrap --variant=minbase from this
machine's mirror, about 20 s the first time, then kept as a tar file in
BUILD/deb), where apt must fetch every library htd's Depends name. When no
chroot can be made (no mmdebstrap, no mirror), on this machine itself,
provided nothing of htd is installed and /var/www/html has no site. There is
no container: the docker client here has no daemon.

The test checks what postinst made and that running it again keeps an
edited page, then starts htd as htd.service would: where systemd is PID 1
postinst started it; elsewhere (in the chroot, and here, where PID 1 is not
systemd) the unit's ExecStart runs as its User and Group with its one
capability through setpriv. It fetches the default page on 127.0.0.1:80 and
[::1]:80 from a process running as www-data with CAP_NET_BIND_SERVICE only,
stops it (exit 0, two lines in the access log), purges the package, and
checks that all is as before: the installed packages, /var/www, the units'
links and deb-systemd-helper's state; /etc/htd, /var/log/htd and
/var/lib/htd gone.

libhtd-dev and libhtd0 are installed on this machine with dpkg -i (their
Depends are what scripts/setup.sh installs), examples/hello.c is built with
`pkg-config --cflags --libs htd` and run against the installed libhtd.so.0,
and they are purged."""

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import REPO, Skip, check, eq, fail

PACKAGES = ("htd", "libhtd0", "libhtd-dev")
HERE = os.path.join(REPO, "packaging", "deb")
_state = {}


def _version():
    with open(os.path.join(REPO, "include/htd.h")) as f:
        h = f.read()
    return ".".join(re.search(r"#define HTD_VERSION_%s +(\d+)" % k, h).group(1)
                    for k in ("MAJOR", "MINOR", "PATCH"))


def _out(argv, what):
    return harness.run_ok(argv, what).stdout.decode()


def _debs():
    """{package: path of its .deb}, made by `make deb` on first use."""
    if "debs" not in _state:
        if shutil.which("dpkg-deb") is None or shutil.which("dpkg-shlibdeps") is None:
            raise Skip("no dpkg-deb or dpkg-shlibdeps (dpkg-dev; scripts/setup.sh installs it)")
        harness.run_make("-j2", "deb")
        arch = _out(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
        out = os.path.join(REPO, harness.build_dir(), "deb")
        _state["arch"] = arch
        _state["debs"] = {p: os.path.join(out, "%s_%s_%s.deb" % (p, _version(), arch))
                          for p in PACKAGES}
        for p, path in _state["debs"].items():
            check(os.path.isfile(path), "make deb made no %s" % path)
    return _state["debs"]


def _contents(deb):
    """{path: (mode string, owner, link target or None)} of dpkg-deb -c."""
    files = {}
    for line in _out(["dpkg-deb", "-c", deb], "dpkg-deb -c").splitlines():
        mode, owner, _size, _date, _time, rest = line.split(None, 5)
        path, _, target = rest.partition(" -> ")
        files[path[1:].rstrip("/") or "/"] = (mode, owner, target or None)
    return files


def _field(deb, name):
    return _out(["dpkg-deb", "-f", deb, name], "dpkg-deb -f").strip()


def _multiarch():
    return _out(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], "dpkg-architecture").strip()


def _unit(text):
    """The [Service] keys of a unit file (the last of each)."""
    keys = {}
    for line in text.splitlines():
        k, eqsign, v = line.partition("=")
        if eqsign and not line.startswith("#"):
            keys[k.strip()] = v.strip()
    return keys


def test_deb_packages_hold_their_files(ctx):
    debs = _debs()
    version, lib = _version(), "/usr/lib/" + _multiarch()
    want = {
        "htd": {"/usr/bin/htd": "-rwxr-xr-x", "/etc/htd/htd.conf": "-rw-r--r--",
                "/etc/logrotate.d/htd": "-rw-r--r--",
                "/lib/systemd/system/htd.service": "-rw-r--r--",
                "/lib/systemd/system/htd.socket": "-rw-r--r--",
                "/usr/share/man/man8/htd.8.gz": "-rw-r--r--",
                "/usr/share/man/man5/htd.conf.5.gz": "-rw-r--r--",
                "/usr/share/doc/htd/copyright": "-rw-r--r--",
                "/usr/share/doc/htd/changelog.gz": "-rw-r--r--",
                "/usr/share/doc/htd/examples/htd.conf": "-rw-r--r--",
                "/usr/share/htd/html/index.html": "-rw-r--r--"},
        "libhtd0": {lib + "/libhtd.so." + version: "-rw-r--r--",
                    lib + "/libhtd.so.0": "lrwxrwxrwx",
                    "/usr/share/doc/libhtd0/copyright": "-rw-r--r--",
                    "/usr/share/doc/libhtd0/changelog.gz": "-rw-r--r--"},
        "libhtd-dev": {"/usr/include/htd.h": "-rw-r--r--", lib + "/libhtd.a": "-rw-r--r--",
                       lib + "/libhtd.so": "lrwxrwxrwx",
                       lib + "/pkgconfig/htd.pc": "-rw-r--r--",
                       "/usr/share/doc/libhtd-dev/copyright": "-rw-r--r--",
                       "/usr/share/doc/libhtd-dev/changelog.gz": "-rw-r--r--"},
    }
    for pkg, files in want.items():
        got = _contents(debs[pkg])
        eq(sorted(p for p, (m, _, _) in got.items() if m[0] != "d"), sorted(files),
           "the files of " + pkg)
        for path, mode in files.items():
            eq(got[path][0], mode, "mode of %s in %s" % (path, pkg))
        eq(sorted({o for _, o, _ in got.values()}), ["root/root"], "owners in " + pkg)
    eq(_contents(debs["libhtd0"])[lib + "/libhtd.so.0"][2], "libhtd.so." + version,
       "where libhtd.so.0 leads")
    eq(_contents(debs["libhtd-dev"])[lib + "/libhtd.so"][2], "libhtd.so.0",
       "where libhtd.so leads")
    # The unit starts the program the package installs.
    tmp = tempfile.mkdtemp(prefix="htd-deb-")
    try:
        harness.run_ok(["dpkg-deb", "-x", debs["htd"], tmp], "dpkg-deb -x")
        unit = _unit(harness.read_file(os.path.join(tmp, "lib/systemd/system/htd.service")))
        eq(unit["ExecStart"], "/usr/bin/htd -c /etc/htd/htd.conf", "the unit's ExecStart")
        eq(unit["User"], "www-data", "the unit's User")
        with open(os.path.join(REPO, "LICENSE"), "rb") as f, \
                open(os.path.join(tmp, "usr/share/doc/htd/copyright"), "rb") as g:
            check(f.read() == g.read(), "copyright is not LICENSE")
        # Debian's packages carry no debugging sections: htd is stripped.
        sections = _out(["readelf", "-S", os.path.join(tmp, "usr/bin/htd")], "readelf -S")
        check(".debug_info" not in sections and ".symtab" not in sections,
              "usr/bin/htd is not stripped")
        # Built with Debian's hardening flags: full RELRO (bindnow) and PIE.
        dyn = _out(["readelf", "-d", os.path.join(tmp, "usr/bin/htd")], "readelf -d")
        check("BIND_NOW" in dyn and "PIE" in dyn, "usr/bin/htd is not hardened:\n" + dyn)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_deb_control_depends_and_conffiles(ctx):
    debs = _debs()
    version = _version()
    for pkg, deb in debs.items():
        eq(_field(deb, "Package"), pkg, "Package of " + deb)
        eq(_field(deb, "Version"), version, "Version of " + pkg)
        eq(_field(deb, "Architecture"), _state["arch"], "Architecture of " + pkg)
    # Depends of the binaries, from dpkg-shlibdeps: the libraries they link.
    for pkg in ("htd", "libhtd0"):
        names = [d.split()[0] for d in _field(debs[pkg], "Depends").split(", ")]
        for lib in ("libc6", "libssl3", "zlib1g", "libconfig9", "libsqlite3-0", "libcrypt1"):
            check(lib in names, "%s does not depend on %s: %r" % (pkg, lib, names))
    check("libhtd0 (= %s)" % version in _field(debs["libhtd-dev"], "Depends"),
          "libhtd-dev does not depend on its libhtd0")
    # Only the control files dpkg wants, and the conffiles.
    info = _out(["dpkg-deb", "-I", debs["htd"]], "dpkg-deb -I")
    for name in ("control", "md5sums", "conffiles", "postinst", "prerm", "postrm"):
        check(re.search(r"^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+%s\b" % name, info, re.M),
              "no %s in htd's control area:\n%s" % (name, info))
    tmp = tempfile.mkdtemp(prefix="htd-deb-")
    try:
        harness.run_ok(["dpkg-deb", "-e", debs["htd"], tmp], "dpkg-deb -e")
        conffiles = harness.read_file(os.path.join(tmp, "conffiles")).split()
        eq(conffiles, ["/etc/htd/htd.conf", "/etc/logrotate.d/htd"], "conffiles")
        for s in ("postinst", "prerm", "postrm"):
            harness.run_ok(["sh", "-n", os.path.join(tmp, s)], "sh -n " + s)
        harness.run_ok(["dpkg-deb", "-e", debs["libhtd0"], tmp + "/lib"], "dpkg-deb -e")
        eq(harness.read_file(os.path.join(tmp, "lib/shlibs")),
           "libhtd 0 libhtd0 (>= %s)\n" % version, "libhtd0's shlibs")
        eq(harness.read_file(os.path.join(tmp, "lib/triggers")), "activate-noawait ldconfig\n",
           "libhtd0's triggers")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_deb_packaged_config_is_good(ctx):
    """The packaged htd.conf, its paths moved into a temporary directory,
    passes the packaged htd's --check-config; and it says what the package
    promises: port 80 everywhere, /var/www/html, the log, www-data."""
    debs = _debs()
    tmp = tempfile.mkdtemp(prefix="htd-deb-")
    try:
        harness.run_ok(["dpkg-deb", "-x", debs["htd"], tmp], "dpkg-deb -x")
        conf = harness.read_file(os.path.join(tmp, "etc/htd/htd.conf"))
        for line in ('listen = ["80", "[::]:80"];', 'root = "/var/www/html";',
                     'access_log = "/var/log/htd/access.log";', 'user = "www-data";',
                     'state_db = "/var/lib/htd/htd-state.db";'):
            check("\n" + line + "\n" in conf, "the packaged htd.conf lacks %r" % line)
        for d in ("var/www/html", "var/log/htd", "var/lib/htd"):
            os.makedirs(os.path.join(tmp, d))
            conf = conf.replace('"/%s' % d, '"%s/%s' % (tmp, d))
        with open(os.path.join(tmp, "check.conf"), "w") as f:
            f.write(conf)
        p = subprocess.run([os.path.join(tmp, "usr/bin/htd"), "--check-config",
                            os.path.join(tmp, "check.conf")], capture_output=True, timeout=10)
        eq((p.returncode, p.stderr.decode()), (0, ""), "htd --check-config of the packaged conf")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Target:
    """Where the package is installed: a fresh chroot of Debian's minimal
    base system (root is its directory), or this machine (root is "/").
    Commands run inside it, paths are read from outside."""

    def __init__(self, root):
        self.root = root
        self.chroot = [] if root == "/" else ["chroot", root]

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, argv, what=None, env=None):
        return harness.run_ok(self.chroot + list(argv), what or " ".join(argv), env=env)

    def out(self, argv):
        return self.run(argv).stdout.decode()

    def installed(self, names=PACKAGES):
        """Those of names dpkg knows of, in any state but not-installed."""
        p = subprocess.run(self.chroot + ["dpkg-query", "-W", "-f",
                                          "${Package} ${db:Status-Abbrev}\n"] + list(names),
                           capture_output=True)
        return [ln.split()[0] for ln in p.stdout.decode().splitlines()
                if len(ln.split()) > 1 and ln.split()[1] != "un"]

    def package_set(self):
        return self.out(["dpkg-query", "-W", "-f",
                         "${Package}:${Architecture} ${db:Status-Abbrev}\n"])

    def apt(self, *args):
        env = harness.build_env()
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return self.run(["apt-get", "-q", "-y", "--no-install-recommends"] + list(args),
                        "apt-get " + " ".join(args), env=env)

    def tree(self, p):
        """Every path under p (None if it does not exist), for before and after."""
        p = self.path(p)
        if not os.path.lexists(p):
            return None
        found = []
        for d, dirs, files in os.walk(p):
            found += [os.path.join(d, n) for n in dirs + files]
        return sorted(found)

    def traces(self):
        """What a package leaves behind it if its scripts forget something."""
        return (self.package_set(), self.tree("/var/www"), self.tree("/etc/systemd/system"),
                self.tree("/var/lib/systemd/deb-systemd-helper-enabled"),
                self.tree("/var/lib/systemd/deb-systemd-helper-masked"))


def _port_free(port):
    for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _may_install(machine):
    """Skip unless installing here can be undone exactly: root, port 80 free
    (a chroot shares the machine's network), and on the machine itself
    nothing of htd installed and no site in /var/www/html."""
    if os.geteuid() != 0:
        raise Skip("installing a package needs root")
    if shutil.which("apt-get") is None or shutil.which("setpriv") is None:
        raise Skip("no apt-get or setpriv")
    if not _port_free(80):
        raise Skip("port 80 is in use")
    if not machine:
        return
    if machine.installed():
        raise Skip("%s already installed: not touching it" % ", ".join(machine.installed()))
    for path in ("/etc/htd", "/var/log/htd", "/var/lib/htd"):
        if os.path.exists(path):
            raise Skip("%s exists, and a purge would remove it" % path)
    html = "/var/www/html"
    if os.path.isdir(html) and any(n.startswith("index.") for n in os.listdir(html)):
        raise Skip("%s has a site: not touching it" % html)
    try:
        pwd.getpwnam("www-data")
    except KeyError:
        raise Skip("no user www-data")


def _clean_chroot():
    """A Target in a fresh chroot of Debian's minbase, or None when none can
    be made here (no mmdebstrap, no mirror). mmdebstrap makes it as a tar
    file in BUILD/deb, in about 20 s (debootstrap takes three times as long);
    each run unpacks it anew in a second. The suite and mirror are this
    machine's."""
    if shutil.which("mmdebstrap") is None:
        return None
    cache = os.path.join(REPO, harness.build_dir(), "deb", "chroot-minbase.tar")
    if not os.path.exists(cache):
        release = harness.read_file("/etc/os-release") or ""
        suite = re.search(r"^VERSION_CODENAME=(\w+)", release, re.M)
        mirror = re.search(r"^URIs: (http\S+/debian)\s*$",
                           harness.read_file("/etc/apt/sources.list.d/debian.sources") or "",
                           re.M)
        if not suite:
            return None
        argv = ["mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", suite.group(1),
                cache + ".tmp.tar", mirror.group(1) if mirror else "http://deb.debian.org/debian"]
        try:
            made = subprocess.run(argv, capture_output=True, timeout=300).returncode == 0
        except subprocess.TimeoutExpired:
            made = False
        if not made:
            if os.path.exists(cache + ".tmp.tar"):
                os.remove(cache + ".tmp.tar")
            return None
        os.rename(cache + ".tmp.tar", cache)
    root = tempfile.mkdtemp(prefix="htd-deb-chroot-")
    atexit.register(shutil.rmtree, root, True)
    harness.run_ok(["tar", "-C", root, "-xf", cache], "untar of the chroot")
    os.chmod(root, 0o755)  # as a root directory is (mkdtemp's is 0700): www-data goes in
    target = Target(root)
    try:
        target.apt("update")
    except harness.TestFailure:
        return None
    return target


def _start_like_systemd(target, unit):
    """htd started as htd.service would be when systemd is not PID 1: its
    ExecStart as its User and Group with the supplementary groups, its one
    capability in the bounding, inheritable and ambient sets (so that
    www-data may bind port 80), NoNewPrivileges, from / . The directories
    systemd would make (LogsDirectory, StateDirectory) postinst made."""
    eq((unit["AmbientCapabilities"], unit["CapabilityBoundingSet"], unit["NoNewPrivileges"]),
       ("CAP_NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE", "yes"), "the unit's privileges")
    argv = ["setpriv", "--reuid", unit["User"], "--regid", unit["Group"], "--init-groups",
            "--bounding-set", "-all,+net_bind_service", "--inh-caps", "-all,+net_bind_service",
            "--ambient-caps", "-all,+net_bind_service", "--no-new-privs"]
    # --no-scripts-as-root: the harness adds nothing to this command line.
    return harness.Server(target.chroot + argv + unit["ExecStart"].split() +
                          ["--no-scripts-as-root"], cwd="/")


def test_deb_installs_serves_as_www_data_and_purges(ctx):
    """In a clean chroot when one can be made (then apt also fetches the
    Depends a bare Debian lacks), else on this machine."""
    debs = _debs()
    _may_install(None)
    target = _clean_chroot()
    if target is None:
        target = Target("/")
        _may_install(target)
    deb = debs["htd"]
    if target.chroot:
        shutil.copy(deb, target.path("/tmp"))
        deb = "/tmp/" + os.path.basename(deb)
    before = target.traces()
    with open(os.path.join(HERE, "index.html"), "rb") as f:
        page = f.read()
    srv = None
    try:
        target.apt("install", deb)
        eq(target.installed(), ["htd"], "installed packages")
        with open(target.path("/etc/htd/htd.conf")) as f, \
                open(os.path.join(HERE, "htd.conf")) as g:
            eq(f.read(), g.read(), "/etc/htd/htd.conf")
        index = target.path("/var/www/html/index.html")
        with open(index, "rb") as f:
            eq(f.read(), page, "the default page postinst put in /var/www/html")
        www = pwd.getpwnam("www-data")  # base-passwd's: the same in the chroot
        for d in ("/var/log/htd", "/var/lib/htd"):
            eq(os.stat(target.path(d)).st_uid, www.pw_uid, "owner of " + d)
        target.run(["/usr/bin/htd", "--check-config", "/etc/htd/htd.conf"])
        eq(target.out(["dpkg", "--verify", "htd"]), "", "dpkg --verify htd")
        # postinst again (dpkg-reconfigure, a failed upgrade) changes nothing,
        # and never replaces a page the administrator edited.
        with open(index, "ab") as f:
            f.write(b"<!-- edited -->\n")
        with open(index, "rb") as f:
            edited = f.read()
        target.run(["/var/lib/dpkg/info/htd.postinst", "configure", _version()])
        with open(index, "rb") as f:
            eq(f.read(), edited, "the page after postinst ran again")
        with open(index, "wb") as f:
            f.write(page)
        with open(target.path("/lib/systemd/system/htd.service")) as f:
            unit = _unit(f.read())
        if not target.chroot and os.path.isdir("/run/systemd/system"):
            # postinst started it through deb-systemd-invoke.
            pid = harness.wait_until(lambda: int(target.out(
                ["systemctl", "show", "-p", "MainPID", "--value", "htd.service"]).strip() or 0),
                what="htd.service's main process")
        else:
            srv = _start_like_systemd(target, unit)
            pid = srv.proc.pid
            eq(srv.port, 80, "the port htd serves")
        for addr in (("127.0.0.1", 80), ("::1", 80)):
            r = harness.get_addr(addr, "/")
            eq((r.status, r.body), (200, page), "GET / on %s:%d" % addr)
            check(r.get("content-type", "").startswith("text/html"),
                  "Content-Type of /: %r" % r.get("content-type"))
        status = harness.read_file("/proc/%d/status" % pid)
        ids = {k: v.split() for k, _, v in (ln.partition(":") for ln in status.splitlines())}
        eq(ids["Uid"], [str(www.pw_uid)] * 4, "htd's uids")
        eq(ids["Gid"], [str(www.pw_gid)] * 4, "htd's gids")
        eq(int(ids["CapEff"][0], 16), 1 << 10, "htd's capabilities: CAP_NET_BIND_SERVICE only")
        if srv:
            eq(srv.stop(), 0, "exit status after SIGTERM")
            log = harness.read_file(target.path("/var/log/htd/access.log"))
            eq(len(log.splitlines()), 2, "access log lines:\n" + log)
            check('"GET / HTTP/1.1" 200 %d' % len(page) in log, "access log:\n" + log)
    finally:
        if srv:
            srv.cleanup()
        if target.installed():
            target.apt("purge", "htd")
        if target.chroot:
            # What apt fetched for htd (libconfig9, ...), marked automatic.
            target.apt("autoremove", "--purge")
    for path in ("/etc/htd", "/var/log/htd", "/var/lib/htd", "/usr/bin/htd",
                 "/lib/systemd/system/htd.service"):
        check(not os.path.lexists(target.path(path)), "%s is left after the purge" % path)
    eq(target.traces(), before, "the packages, /var/www and the units' links after the purge")


def test_deb_dev_package_builds_hello_against_the_installed_library(ctx):
    debs = _debs()
    machine = Target("/")
    _may_install(machine)
    before = machine.package_set()
    work = tempfile.mkdtemp(prefix="htd-deb-dev-")
    atexit.register(shutil.rmtree, work, True)
    try:
        harness.run_ok(["dpkg", "-i", debs["libhtd0"], debs["libhtd-dev"]], "dpkg -i")
        eq(sorted(machine.installed()), ["libhtd-dev", "libhtd0"], "installed packages")
        env = harness.build_env()
        for k in ("PKG_CONFIG_PATH", "PKG_CONFIG_SYSROOT_DIR"):
            env.pop(k, None)
        flags = harness.run_ok(["pkg-config", "--cflags", "--libs", "htd"], "pkg-config",
                               env=env).stdout.decode().split()
        out = os.path.join(work, "hello")
        harness.run_ok(["cc", "-o", out, os.path.join(REPO, "examples/hello.c")] + flags,
                       "cc examples/hello.c $(pkg-config --cflags --libs htd)")
        needed = _out(["readelf", "-d", out], "readelf -d")
        check("Shared library: [libhtd.so.0]" in needed and "RUNPATH" not in needed and
              "RPATH" not in needed, "hello does not need the installed libhtd.so.0:\n" + needed)
        srv = harness.Server([out, ctx.root.path, "127.0.0.1:0"])
        try:
            r = harness.get(srv, "/hello")
            eq((r.status, r.body), (200, b"Hello from an embedded htd\n"), "GET /hello")
            eq(srv.stop(), 0, "exit status of hello after SIGTERM")
        finally:
            srv.cleanup()
    finally:
        if machine.installed():
            harness.run_ok(["dpkg", "--purge", "libhtd-dev", "libhtd0"], "dpkg --purge")
    check(not os.path.lexists("/usr/include/htd.h"), "htd.h is left after the purge")
    check("libhtd" not in _out(["ldconfig", "-p"], "ldconfig -p"),
          "libhtd is still in ld.so's cache")
    eq(machine.package_set(), before, "the packages after the purge")
