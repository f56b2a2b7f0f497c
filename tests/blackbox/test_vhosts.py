# SPDX-License-Identifier: BSD-2-Clause
"""Virtual hosts: the Host header (or an absolute-form target's authority)
picks a vhost by exact name (any case, with a port, with a trailing dot),
else by the longest wildcard (one or more labels deep, never the bare
domain), else the default vhost, else the top-level server; and each vhost
logs to its own access log or to the shared top-level one, in its format."""

import re

import harness
from harness import ConfDir, check, config_server, connect, eq, get

ROOTS = {"top": b"top\n", "a": b"a\n", "b": b"b\n", "bx": b"bx\n", "d": b"d\n"}
FILES = {"%s/which.txt" % k: v for k, v in ROOTS.items()}

VHOSTS = '''root = "top";
access_log = "off";
vhosts = (
  { names = ["a.test", "www.a.test"]; root = "a"; },
  { names = "*.b.test"; root = "b"; },
  { names = ["*.x.b.test"]; root = "bx"; },
  { names = "d.test"; root = "d"; %s }
);
'''
WITH_DEFAULT = VHOSTS % "default = true;"
NO_DEFAULT = VHOSTS % "" + 'rules = ( { exact = "/top-rule"; redirect = "/from-top"; } );\n'


def which(srv, host, target="/which.txt"):
    r = get(srv, target, host=host)
    eq(r.status, 200, "status for Host %r (head %r)" % (host, r.head_raw))
    return r.body.decode().strip()


def hosts(conf, cases):
    with config_server(conf, files=FILES) as srv:
        for host, want in cases:
            eq(which(srv, host), want, "vhost for Host: %s" % host)


def test_host_exact_name(ctx):
    hosts(WITH_DEFAULT, [("a.test", "a"), ("www.a.test", "a"), ("d.test", "d")])


def test_host_is_case_insensitive(ctx):
    hosts(WITH_DEFAULT, [("A.TEST", "a"), ("Www.A.Test", "a"), ("ONE.B.test", "b")])


def test_host_with_port(ctx):
    hosts(WITH_DEFAULT, [("a.test:8080", "a"), ("a.test:80", "a"), ("one.b.test:1", "b")])


def test_host_with_trailing_dot(ctx):
    hosts(WITH_DEFAULT, [("a.test.", "a"), ("a.test.:8080", "a"), ("one.b.test.", "b")])


def test_wildcard_one_and_two_labels_deep_not_the_bare_domain(ctx):
    hosts(WITH_DEFAULT, [("one.b.test", "b"), ("two.one.b.test", "b"), ("b.test", "d"),
                         ("xb.test", "d"), ("one.b.test.example", "d")])


def test_longest_wildcard_wins(ctx):
    hosts(WITH_DEFAULT, [("q.x.b.test", "bx"), ("r.q.x.b.test", "bx"), ("x.b.test", "b")])


def test_default_vhost_takes_unknown_hosts(ctx):
    with config_server(WITH_DEFAULT, files=FILES) as srv:
        eq(which(srv, "unknown.test"), "d", "an unknown Host")
        eq(which(srv, "127.0.0.1:%d" % srv.port), "d", "an address as Host")
        r, c = harness.exchange(srv, b"GET /which.txt HTTP/1.0\r\n\r\n")
        c.close()
        eq((r.status, r.body), (200, b"d\n"), "HTTP/1.0 without Host")


def test_no_default_falls_back_to_top_level_root_and_rules(ctx):
    with config_server(NO_DEFAULT, files=FILES) as srv:
        eq(which(srv, "unknown.test"), "top", "an unknown Host without a default vhost")
        eq(which(srv, "b.test"), "top", "the bare domain of a wildcard")
        r = get(srv, "/top-rule", host="unknown.test")
        eq((r.status, r.get("Location")), (302, "/from-top"), "a top-level rule, top-level server")
        eq(get(srv, "/which.txt", host="d.test").body, b"d\n", "d.test is still d")


def test_absolute_form_target_chooses_the_vhost(ctx):
    with config_server(WITH_DEFAULT, files=FILES) as srv:
        eq(which(srv, "d.test", "http://a.test/which.txt"), "a",
           "absolute-form authority over the Host header")
        eq(which(srv, "d.test", "http://One.B.Test:8080/which.txt"), "b",
           "absolute-form authority with case and a port")
        eq(which(srv, "a.test", "http://nobody.test/which.txt"), "d",
           "absolute-form authority matching no name -> default")


def test_same_path_on_several_vhosts_on_one_connection(ctx):
    # the open-file cache must tell the roots apart
    with config_server(WITH_DEFAULT, files=FILES, threads=1) as srv:
        c = connect(srv)
        plan = ["a.test", "one.b.test", "q.x.b.test", "d.test", "nobody.test"] * 4
        c.send(b"".join(harness.req("/which.txt", host=h) for h in plan))
        got = [c.read_response().body.decode().strip() for _ in plan]
        eq(got, ["a", "b", "bx", "d", "d"] * 4, "pipelined answers from each vhost's root")
        c.close()


def test_top_level_headers_access_and_rules_are_not_inherited_by_vhosts(ctx):
    conf = NO_DEFAULT.replace('access_log = "off";', 'access_log = "off";\n'
                              'headers = { X-Top = "1"; };\naccess = ["deny 127.0.0.1"];')
    with config_server(conf, files=FILES) as srv:
        r = get(srv, "/which.txt", host="nobody.test")
        eq((r.status, r.get("X-Top")), (403, "1"), "the top-level server's access and headers")
        r = get(srv, "/which.txt", host="a.test")
        eq((r.status, r.body, r.get("X-Top")), (200, b"a\n", None), "a vhost has its own")
        eq(get(srv, "/top-rule", host="a.test").status, 404, "nor top-level rules")


def test_per_vhost_access_log_and_shared_top_level_log(ctx):
    conf = '''root = "top";
access_log = "logs/main.log";
log_format = "combined";
vhosts = (
  { names = "a.test"; root = "a"; access_log = "logs/a.log"; },
  { names = "*.b.test"; root = "b";
    log_format = "$host $request_method $request_uri $uri $args $status "
                 "$body_bytes_sent $http_user_agent $http_x_test_header"; },
  { names = "d.test"; root = "d"; access_log = "off"; }
);
'''
    cd = ConfDir(FILES)
    cd.mkdir("logs")
    try:
        with config_server(conf, confdir=cd) as srv:
            plan = [("a.test", "/which.txt", "ua-a1"), ("a.test", "/nope", "ua-a2"),
                    ("one.b.test", "/which.txt?x=1&y=2", "ua-b"),
                    ("unknown.test", "/which.txt", "ua-top"), ("d.test", "/which.txt", "ua-d")]
            c = connect(srv)
            for host, path, ua in plan:
                c.send(harness.req(path, host=host, headers=[("User-Agent", ua),
                                                               ("X-Test-Header", "xv")]))
                c.read_response()
            c.close()
        a = harness.read_file(cd.p("logs/a.log")) or ""
        main = harness.read_file(cd.p("logs/main.log")) or ""
        al = a.splitlines()
        eq(len(al), 2, "lines in a.log: %r" % a)
        check('"GET /which.txt HTTP/1.1" 200 2 "-" "ua-a1"' in al[0], "a.log line 1: %r" % al[0])
        check('"GET /nope HTTP/1.1" 404 ' in al[1] and al[1].endswith('"ua-a2"'),
              "a.log line 2: %r" % al[1])
        ml = main.splitlines()
        eq(len(ml), 2, "lines in main.log (b and the top level, not a or d): %r" % main)
        # (lines of two vhosts sharing a file need not be in request order)
        check("one.b.test GET /which.txt?x=1&y=2 /which.txt x=1&y=2 200 2 ua-b xv" in ml,
              "no line for b in its own template: %r" % ml)
        top = [l for l in ml if "ua-top" in l]
        check(len(top) == 1 and re.match(r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /which\.txt '
                                          r'HTTP/1\.1" 200 4 "-" "ua-top"$', top[0]),
              "no top-level line in combined: %r" % ml)
        check("ua-d" not in a + main, "d.test has access_log = off")
    finally:
        cd.cleanup()


def test_log_template_escapes_so_one_request_is_one_line(ctx):
    conf = ('root = "top";\naccess_log = "logs/t.log";\n'
            'log_format = "[$uri] [$request_uri] [$http_x_note] [$args] $time_iso8601";\n')
    cd = ConfDir(FILES)
    cd.mkdir("logs")
    try:
        with config_server(conf, confdir=cd) as srv:
            r, c = harness.exchange(srv, b"GET /x%0aFAKE%22%5c%e9?q=%0d HTTP/1.1\r\nHost: a\r\n"
                                         b"X-Note: a\"b\\c\xe9\td\r\n\r\n")
            c.close()
            eq(r.status, 404, "status")
        log = harness.read_file(cd.p("logs/t.log")) or ""
        lines = log.splitlines()
        eq(len(lines), 1, "one line for one request: %r" % log)
        m = re.match(r'^\[/x\\x0aFAKE\\"\\\\\\xe9\] \[/x%0aFAKE%22%5c%e9\?q=%0d\] '
                     r'\[a\\"b\\\\c\\xe9\\x09d\] \[q=%0d\] '
                     r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$', lines[0])
        check(m is not None, "log line %r: $uri decoded and escaped, the rest escaped" % lines[0])
    finally:
        cd.cleanup()


TEXT = b"htd serves text that compresses well. " * 200

FEATURES = '''root = "top";
access_log = "off";
vhosts = (
  { names = "z.test"; root = "z"; gzip = true; precompressed = false;
    rules = ( { prefix = "/raw/"; gzip = false; },
              { prefix = "/br/"; brotli = true; },
              { prefix = "/pub/"; list_dirs = true; } ); }
);
'''

FEATURE_FILES = {"top/t.txt": TEXT, "top/p.txt": TEXT, "top/p.txt.gz": b"precompressed\n",
                 "z/t.txt": TEXT, "z/raw/t.txt": TEXT, "z/p.txt": TEXT,
                 "z/p.txt.gz": b"precompressed\n", "z/pub/a.txt": b"a\n", "z/br/t.txt": TEXT, "z/priv/a.txt": b"a\n"}


def test_gzip_list_dirs_and_precompressed_per_vhost_and_rule(ctx):
    """gzip, list_dirs and precompressed set in a vhost and in its rules: the
    rule's setting, else the vhost's, else the server's."""
    gz = [("Accept-Encoding", "gzip")]
    with config_server(FEATURES, files=FEATURE_FILES) as srv:
        r = get(srv, "/t.txt", host="z.test", headers=gz)
        eq(r.get("Content-Encoding"), "gzip", "gzip = true; in the vhost")
        r = get(srv, "/raw/t.txt", host="z.test", headers=gz)
        eq((r.get("Content-Encoding"), r.body), (None, TEXT), "gzip = false; in its rule")
        r = get(srv, "/t.txt", host="other.test", headers=gz)
        eq((r.get("Content-Encoding"), r.body), (None, TEXT), "the top level: gzip off")
        br = [("Accept-Encoding", "br")]
        eq(get(srv, "/br/t.txt", host="z.test", headers=br).get("Content-Encoding"), "br",
           "brotli = true; in a rule")
        r = get(srv, "/t.txt", host="z.test", headers=br)
        eq((r.get("Content-Encoding"), r.body), (None, TEXT), "no brotli outside that rule")
        r = get(srv, "/p.txt", host="z.test", headers=gz)
        eq(r.body != b"precompressed\n", True, "precompressed = false; in the vhost")
        r = get(srv, "/p.txt", host="other.test", headers=gz)
        eq((r.get("Content-Encoding"), r.body), ("gzip", b"precompressed\n"),
           "the top level: precompressed files served")
        r = get(srv, "/pub/", host="z.test")
        eq(r.status, 200, "list_dirs = true; in a rule")
        check(b"a.txt" in r.body, "the listing names its file")
        eq(get(srv, "/priv/", host="z.test").status, 403, "no listing elsewhere")
    d = ConfDir({"top/x": b"x"})
    try:
        p = harness.run_htd(["--check-config", d.write_conf(
            'root = "top";\nvhosts = ( { names = "q.test"; root = "top"; gzip = "yes"; } );\n')])
        eq(p.returncode, 2, "gzip = \"yes\" refused")
        check(b"gzip must be true or false" in p.stderr, "why: %r" % p.stderr)
    finally:
        d.cleanup()
