# SPDX-License-Identifier: BSD-2-Clause
"""Rules: redirects (301/302/303/307/308, captures, $variables, the query kept
or dropped, Location byte-exact, captures percent-encoded so that no request
can put a CR or LF into a response head); precedence (exact, then the first
regex in file order, then the longest prefix; one rule per request); access
(403 by path and by address, IPv4 and IPv6, CIDR, first match decides);
headers added in scope only; error pages with their own body and type."""

import os
import re
import socket

import harness
from harness import check, check_common, check_error, config_server, connect, eq, get, req

SITE = {"site/index.html": b"<!doctype html><p>index</p>\n", "site/plain.txt": b"plain\n"}

REDIRECTS = '''root = "site";
access_log = "off";
rules = (
  { exact = "/moved"; redirect = "https://example.org/"; code = 301; },
  { prefix = "/old/"; redirect = "/new/$1"; code = 301; },
  { prefix = "/q/"; redirect = "/target?from=$1"; },
  { prefix = "/gone/"; redirect = "/elsewhere/$1"; query = "drop"; },
  { regex = "^/blog/([0-9]{4})/(.*)$"; redirect = "/posts/$2?year=$1"; code = 302; query = "drop"; },
  { regex = "^/swap/([^/]+)/([^/]+)$"; redirect = "/swapped/$2/$1"; code = 301; },
  { exact = "/vars"; redirect = "https://$host/p$path?q=$query&d=$$&all=$0"; query = "drop"; },
  { regex = "^/zero/(.*)$"; redirect = "/z$0"; },
  { exact = "/c303"; redirect = "/x"; code = 303; },
  { exact = "/c307"; redirect = "/x"; code = 307; },
  { exact = "/c308"; redirect = "/x"; code = 308; }
);
'''


def _hex_upper(s):
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), s or "")


def check_head_lines(r):
    """No CR or LF inside any line of the response head, no injected header."""
    lines = r.head_raw.split(b"\r\n")
    eq(lines[-2:], [b"", b""], "head ends with an empty line")
    for l in lines[:-2]:
        check(b"\r" not in l and b"\n" not in l, "a raw CR or LF inside a head line: %r" % l)
    check(not r.has("Set-Cookie") and not r.has("X-Injected"),
          "a header injected through the path: %r" % r.head_raw)


def redirect(srv, target, code, location, host="localhost"):
    r = get(srv, target, host=host)
    eq(r.status, code, "status for %s (head %r)" % (target, r.head_raw))
    check_common(r)
    check_head_lines(r)
    eq(len(r.get_all("Location")), 1, "one Location")
    eq(_hex_upper(r.get("Location")), location, "Location for %s" % target)
    check((r.get("Content-Type") or "").startswith("text/plain"),
          "a text/plain body: %r" % r.get("Content-Type"))
    check(0 < len(r.body) < 1024, "a short body: %r" % r.body[:200])
    return r


def test_redirect_exact_301_and_query_kept(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        r = redirect(srv, "/moved", 301, "https://example.org/")
        check(b"Location: https://example.org/\r\n" in r.head_raw, "Location line byte-exact")
        redirect(srv, "/moved?a=1&b=two", 301, "https://example.org/?a=1&b=two")
        eq(get(srv, "/moved/").status, 404, "an exact rule does not match /moved/")
        eq(get(srv, "/movedx").status, 404, "nor /movedx")


def test_redirect_prefix_rest_as_1(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        redirect(srv, "/old/a/b.txt", 301, "/new/a/b.txt")
        redirect(srv, "/old/", 301, "/new/")
        redirect(srv, "/old/a/b.txt?x=1&y", 301, "/new/a/b.txt?x=1&y")


def test_redirect_query_appended_with_amp_when_target_has_a_query(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        r = redirect(srv, "/q/abc", 302, "/target?from=abc")
        check(b"Location: /target?from=abc\r\n" in r.head_raw, "byte-exact")
        r = redirect(srv, "/q/abc?z=9&w=%41", 302, "/target?from=abc&z=9&w=%41")
        check(b"Location: /target?from=abc&z=9&w=%41\r\n" in r.head_raw,
              "the raw query appended as it came")


def test_redirect_query_dropped(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        redirect(srv, "/gone/x?secret=1", 302, "/elsewhere/x")
        redirect(srv, "/blog/2023/hello-world?utm=1", 302, "/posts/hello-world?year=2023")


def test_redirect_regex_captures_swapped(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        r = redirect(srv, "/swap/ab/cd", 301, "/swapped/cd/ab")
        check(b"Location: /swapped/cd/ab\r\n" in r.head_raw, "byte-exact")
        redirect(srv, "/swap/ab/cd?k=v", 301, "/swapped/cd/ab?k=v")
        redirect(srv, "/blog/1999/a/b", 302, "/posts/a/b?year=1999")
        eq(get(srv, "/blog/99/a").status, 404, "a regex that does not match")


def test_redirect_variables_host_path_query_dollar_0(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        r = redirect(srv, "/vars?k=v", 302, "https://example.test/p/vars?q=k=v&d=$&all=/vars",
                     host="example.test")
        check(b"Location: https://example.test/p/vars?q=k=v&d=$&all=/vars\r\n" in r.head_raw,
              "byte-exact")
        redirect(srv, "/zero/a/b", 302, "/z/zero/a/b")


def test_redirect_codes_303_307_308(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        for code in (303, 307, 308):
            redirect(srv, "/c%d" % code, code, "/x")


def test_redirect_captures_percent_encoded_never_raw_crlf(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        redirect(srv, "/old/a%20b", 301, "/new/a%20b")
        redirect(srv, "/old/x%0d%0aSet-Cookie:%20evil=1", 301,
                 "/new/x%0D%0ASet-Cookie:%20evil=1")
        redirect(srv, "/old/x%0D%0AX-Injected:%201%0D%0A%0D%0Abody", 301,
                 "/new/x%0D%0AX-Injected:%201%0D%0A%0D%0Abody")
        redirect(srv, "/swap/a%0d%0ab/c%0a", 301, "/swapped/c%0A/a%0D%0Ab")
        redirect(srv, "/old/a%3Fb%23c%25d", 301, "/new/a%3Fb%23c%25d")
        redirect(srv, "/old/%22%3C%3E%5C%5E%60%7B%7C%7D", 301, "/new/%22%3C%3E%5C%5E%60%7B%7C%7D")
        redirect(srv, "/old/%C3%A9t%C3%A9", 301, "/new/%C3%A9t%C3%A9")
        # unreserved, sub-delims, ':' and '@' stay as they are; a '$' from the
        # request is not a variable
        redirect(srv, "/old/a-._~!$&'()*+,;=:@b", 301, "/new/a-._~!$&'()*+,;=:@b")
        redirect(srv, "/old/$1$$", 301, "/new/$1$$")


def test_redirect_built_from_captures_never_names_another_host(ctx):
    conf = REDIRECTS.replace('rules = (\n', 'rules = (\n  { regex = "^/to(/.*)$"; redirect = "/$1"; },\n'
                             '  { prefix = "/at/"; redirect = "$path/"; },\n', 1)
    with config_server(conf, files=SITE) as srv:
        redirect(srv, "/to/evil.example/x", 302, "/%2Fevil.example/x")
        redirect(srv, "//to//evil.example/x", 302, "/%2Fevil.example/x")
        redirect(srv, "/to/%5Cevil.example", 302, "/%2F%5Cevil.example")
        redirect(srv, "//at//evil.example", 302, "/at/evil.example/")


def test_redirect_matches_the_decoded_normalised_path(ctx):
    with config_server(REDIRECTS, files=SITE) as srv:
        redirect(srv, "/%6Fld/a", 301, "/new/a")
        redirect(srv, "//old//a", 301, "/new/a")
        redirect(srv, "/x/../old/./a", 301, "/new/a")
        redirect(srv, "http://localhost/old/abs", 301, "/new/abs")


PRECEDENCE = '''root = "site";
access_log = "off";
rules = (
  { prefix = "/p/"; redirect = "/prefix-short"; },
  { regex = "^/p/x"; redirect = "/regex-first"; },
  { regex = "^/p/xy"; redirect = "/regex-second"; },
  { exact = "/p/xy"; redirect = "/exact"; },
  { prefix = "/p/long/"; redirect = "/prefix-long"; },
  { prefix = "/p/xlong/"; redirect = "/prefix-xlong"; },
  { prefix = "/q/a/b/"; redirect = "/q-longest"; },
  { prefix = "/q/"; redirect = "/q-short"; },
  { prefix = "/q/a/"; redirect = "/q-long"; },
  { prefix = "/s/"; access = ["deny all"]; },
  { exact = "/s/open.txt"; headers = { X-Open = "1"; }; }
);
'''


def test_precedence_exact_then_first_regex_then_longest_prefix(ctx):
    with config_server(PRECEDENCE, files=dict(SITE, **{"site/s/open.txt": b"open\n",
                                                        "site/s/shut.txt": b"shut\n"})) as srv:
        for target, want in [("/p/xy", "/exact"), ("/p/xyz", "/regex-first"),
                             ("/p/xlong/a", "/regex-first"), ("/p/long/a", "/prefix-long"),
                             ("/p/other", "/prefix-short"), ("/q/a/b/c", "/q-longest"),
                             ("/q/a/c", "/q-long"), ("/q/c", "/q-short")]:
            r = get(srv, target)
            eq((r.status, r.get("Location")), (302, want), "rule chosen for %s" % target)


def test_one_rule_per_request_exact_does_not_inherit_a_prefix(ctx):
    with config_server(PRECEDENCE, files=dict(SITE, **{"site/s/open.txt": b"open\n",
                                                        "site/s/shut.txt": b"shut\n"})) as srv:
        r = get(srv, "/s/open.txt")
        eq((r.status, r.body, r.get("X-Open")), (200, b"open\n", "1"),
           "the exact rule alone applies, not the /s/ prefix's access")
        eq(get(srv, "/s/shut.txt").status, 403, "the /s/ prefix denies the rest")


SEGMENTS = '''root = "site";
access_log = "off";
rules = (
  { prefix = "/hello"; access = ["deny all"]; },
  { prefix = "/hello/open"; access = ["allow all"]; headers = { X-Rule = "open"; }; },
  { prefix = "/old"; redirect = "/new$1"; }
);
'''


def test_prefix_rules_match_whole_segments(ctx):
    # A prefix is whole path segments: /hello is /hello and /hello/x, never
    # /helloworld; the longest matching prefix still wins.
    files = dict(SITE, **{"site/hello/x.txt": b"x\n", "site/hello/open/o.txt": b"o\n",
                          "site/hello/openx.txt": b"openx\n", "site/helloworld": b"world\n",
                          "site/older.txt": b"older\n"})
    with config_server(SEGMENTS, files=files) as srv:
        for target in ("/hello", "/hello/", "/hello/x.txt", "/hello/openx.txt", "/%68ello/x.txt"):
            check_error(get(srv, target), 403)
        r = get(srv, "/helloworld")
        eq((r.status, r.body), (200, b"world\n"), "/helloworld is not under /hello")
        r = get(srv, "/hello/open/o.txt")
        eq((r.status, r.body, r.get("X-Rule")), (200, b"o\n", "open"), "the longer prefix /hello/open")
        redirect(srv, "/old", 302, "/new")
        redirect(srv, "/old/a", 302, "/new/a")
        r = get(srv, "/older.txt")
        eq((r.status, r.body), (200, b"older\n"), "/older.txt is not under /old")


ACCESS = '''root = "site";
access_log = "off";
rules = (
  { prefix = "/closed/"; access = ["deny all"]; },
  { prefix = "/closedredir/"; access = ["deny all"]; redirect = "/elsewhere"; },
  { prefix = "/ten/"; access = ["allow 10.0.0.0/8", "deny all"]; },
  { prefix = "/local/"; access = ["allow 127.0.0.1", "deny all"]; },
  { prefix = "/loopnet/"; access = ["allow 127.0.0.0/8", "deny all"]; },
  { prefix = "/denyfirst/"; access = ["deny 127.0.0.1", "allow all"]; },
  { prefix = "/nomatch/"; access = ["deny 10.0.0.0/8", "deny fd00::/8"]; },
  { prefix = "/v6only/"; access = ["allow ::1/128", "deny all"]; },
  { prefix = "/v6plain/"; access = ["allow ::1", "deny all"]; },
  { prefix = "/v4only/"; access = ["allow 127.0.0.1/32", "deny all"]; },
  { prefix = "/any4/"; access = ["allow 0.0.0.0/0", "deny all"]; },
  { prefix = "/any6/"; access = ["allow ::/0", "deny all"]; },
  { prefix = "/ula/"; access = ["allow fd00::/8", "allow 10.0.0.0/8", "deny all"]; },
  { prefix = "/v6net/"; access = ["deny ::/8"]; }
);
'''
ACCESS_DIRS = ["closed", "closedredir", "ten", "local", "loopnet", "denyfirst", "nomatch",
               "v6only", "v6plain", "v4only", "any4", "any6", "ula", "v6net"]
ACCESS_FILES = dict(SITE, **{"site/%s/x.txt" % d: (d + "\n").encode() for d in ACCESS_DIRS})


def _status(srv, target, addr=None):
    if addr is None:
        r = get(srv, target)
    else:
        r = harness.get_addr(addr, target)
    if r.status == 403:
        check_error(r, 403)
    return r.status


def test_access_deny_all_by_path_403(ctx):
    with config_server(ACCESS, files=ACCESS_FILES) as srv:
        eq(_status(srv, "/closed/x.txt"), 403, "deny all")
        eq(_status(srv, "/closed/missing.txt"), 403, "deny all before 404")
        eq(_status(srv, "/closed/"), 403, "the directory itself")
        eq(_status(srv, "/closedredir/x.txt"), 403, "access before redirect")
        eq(_status(srv, "/plain.txt"), 200, "outside the rule")
        r = get(srv, "/closed/x.txt", "HEAD")
        eq(r.status, 403, "HEAD")


def test_access_cannot_be_bypassed_by_path_spelling(ctx):
    with config_server(ACCESS, files=ACCESS_FILES) as srv:
        for t in ("//closed/x.txt", "/clos%65d/x.txt", "/%63losed/x.txt", "/a/../closed/x.txt",
                  "/./closed/x.txt", "/closed%2Fx.txt", "http://localhost/closed/x.txt",
                  "/closed/x.txt?a=b"):
            eq(_status(srv, t), 403, "status for %s" % t)


def test_access_by_ipv4_address_and_cidr(ctx):
    with config_server(ACCESS, files=ACCESS_FILES) as srv:
        eq(_status(srv, "/ten/x.txt"), 403, "allow 10.0.0.0/8 only: 127.0.0.1 denied")
        eq(_status(srv, "/local/x.txt"), 200, "allow 127.0.0.1; deny all")
        eq(_status(srv, "/loopnet/x.txt"), 200, "allow 127.0.0.0/8; deny all")
        eq(_status(srv, "/denyfirst/x.txt"), 403, "the first match decides")
        eq(_status(srv, "/nomatch/x.txt"), 200, "no match is allowed")
        eq(_status(srv, "/v6only/x.txt"), 403, "allow ::1/128; deny all: a v4 client")
        eq(_status(srv, "/v4only/x.txt"), 200, "allow 127.0.0.1/32: a v4 client")
        eq(_status(srv, "/v6net/x.txt"), 200, "deny ::/8, an IPv6 block, does not match 127.0.0.1")


def _ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind(("::1", 0))
        finally:
            s.close()
    except OSError as e:
        raise harness.Skip("cannot bind [::1]: %s" % e)


def test_access_ipv6_and_ipv4_clients_on_two_listeners(ctx):
    _ipv6_loopback()
    with config_server(ACCESS, files=ACCESS_FILES, listen=["127.0.0.1:0", "[::1]:0"]) as srv:
        v4 = [a for a in srv.addrs if ":" not in a[0]]
        v6 = [a for a in srv.addrs if ":" in a[0]]
        check(len(v4) == 1 and len(v6) == 1, "one v4 and one v6 address: %r" % srv.addrs)
        v4, v6 = v4[0], v6[0]
        eq(_status(srv, "/v6only/x.txt", v6), 200, "allow ::1/128 for ::1")
        eq(_status(srv, "/v6only/x.txt", v4), 403, "allow ::1/128 denies 127.0.0.1")
        eq(_status(srv, "/v6plain/x.txt", v6), 200, "allow ::1 for ::1")
        eq(_status(srv, "/v6plain/x.txt", v4), 403, "allow ::1 denies 127.0.0.1")
        eq(_status(srv, "/v4only/x.txt", v6), 403, "allow 127.0.0.1/32 denies ::1")
        eq(_status(srv, "/v4only/x.txt", v4), 200, "allow 127.0.0.1/32 for 127.0.0.1")
        eq(_status(srv, "/local/x.txt", v6), 403, "allow 127.0.0.1 denies ::1")
        eq(_status(srv, "/nomatch/x.txt", v6), 200, "no match is allowed, v6")
        eq(_status(srv, "/closed/x.txt", v6), 403, "deny all, v6")
        eq((_status(srv, "/any4/x.txt", v4), _status(srv, "/any4/x.txt", v6)), (200, 403),
           "allow 0.0.0.0/0 (v4, v6)")
        eq((_status(srv, "/ula/x.txt", v4), _status(srv, "/ula/x.txt", v6)), (403, 403),
           "allow fd00::/8 and 10.0.0.0/8 (v4, v6)")
        # an IPv6 block does not match an IPv4 client
        eq((_status(srv, "/any6/x.txt", v4), _status(srv, "/any6/x.txt", v6)), (403, 200),
           "allow ::/0 (v4, v6)")


def test_access_rule_replaces_the_servers_access(ctx):
    conf = '''root = "site";
access_log = "off";
access = ["deny all"];
rules = (
  { prefix = "/pub/"; access = ["allow all"]; },
  { prefix = "/hdr/"; headers = { X-Hdr = "1"; }; }
);
'''
    files = dict(SITE, **{"site/pub/x.txt": b"pub\n", "site/hdr/x.txt": b"hdr\n"})
    with config_server(conf, files=files) as srv:
        eq(_status(srv, "/plain.txt"), 403, "the server's deny all")
        eq(_status(srv, "/pub/x.txt"), 200, "a rule's access replaces the server's")
        eq(_status(srv, "/hdr/x.txt"), 403, "a rule without access inherits the server's")


HEADERS = '''root = "site";
access_log = "off";
headers = { X-Frame-Options = "DENY"; };
rules = (
  { prefix = "/static/"; headers = { Cache-Control = "public, max-age=86400"; X-Two = "two words"; }; }
);
'''


def test_headers_added_in_scope_on_200_304_404_and_head(ctx):
    files = dict(SITE, **{"site/static/a.css": b"a { }\n"})
    with config_server(HEADERS, files=files) as srv:
        r = get(srv, "/static/a.css")
        eq(r.status, 200, "status")
        check(b"\r\nCache-Control: public, max-age=86400\r\n" in r.head_raw,
              "Cache-Control line byte-exact: %r" % r.head_raw)
        eq(r.get_all("X-Two"), ["two words"], "X-Two")
        eq(r.get("X-Frame-Options"), None, "the rule's headers replace the server's")
        etag = r.get("ETag")
        r = get(srv, "/static/a.css", headers=[("If-None-Match", etag)])
        eq((r.status, r.get("Cache-Control")), (304, "public, max-age=86400"), "on a 304")
        r = get(srv, "/static/a.css", "HEAD")
        eq((r.status, r.get("Cache-Control")), (200, "public, max-age=86400"), "on HEAD")
        r = get(srv, "/static/missing.css")
        eq((r.status, r.get("Cache-Control")), (404, "public, max-age=86400"), "on a 404 in scope")
        check_error(r, 404)
        for t in ("/plain.txt", "/missing.txt", "/"):
            r = get(srv, t)
            eq(r.get_all("Cache-Control"), [], "no Cache-Control outside the scope (%s)" % t)
            eq(r.get_all("X-Frame-Options"), ["DENY"], "the server's header (%s)" % t)


ERRPAGES = '''root = "site";
access_log = "off";
error_pages = (
  { status = 404; page = "/errors/404.html"; },
  { status = [401, 403]; page = "/errors/denied.html"; }
);
rules = (
  { prefix = "/closed/"; access = ["deny all"]; },
  { prefix = "/nopage/"; error_pages = ( { status = 404; page = "/errors/absent.html"; } ); },
  { prefix = "/txt/"; error_pages = ( { status = 404; page = "/errors/404.txt"; } ); }
);
'''
PAGE_404 = b"<!doctype html><title>404</title><p>not here</p>\n"
PAGE_DENIED = b"<!doctype html><title>403</title><p>denied</p>\n"
PAGE_TXT = b"404 as text\n"
ERR_FILES = dict(SITE, **{"site/errors/404.html": PAGE_404, "site/errors/denied.html": PAGE_DENIED,
                          "site/errors/404.txt": PAGE_TXT, "site/closed/x.txt": b"x\n"})


def test_error_page_served_with_404_its_body_and_type(ctx):
    with config_server(ERRPAGES, files=ERR_FILES) as srv:
        html_ct = get(srv, "/errors/404.html").get("Content-Type")
        check(html_ct.startswith("text/html"), "Content-Type of the page itself: %r" % html_ct)
        r = get(srv, "/missing")
        eq(r.status, 404, "status")
        check_common(r)
        eq(r.body, PAGE_404, "the page's body")
        eq(r.get("Content-Type"), html_ct, "the page's Content-Type")
        eq(r.get("Content-Length"), str(len(PAGE_404)), "Content-Length")
        r = get(srv, "/missing", "HEAD")
        eq((r.status, r.get("Content-Type")), (404, html_ct), "HEAD")
        eq(r.body, b"", "no body on HEAD")
        r = get(srv, "/closed/x.txt")
        eq((r.status, r.body), (403, PAGE_DENIED), "403 from a status array")
        r = get(srv, "/txt/missing")
        eq((r.status, r.body, r.get("Content-Type")), (404, PAGE_TXT, "text/plain; charset=utf-8"),
           "a text page")
        # keep-alive continues after an error page
        c = connect(srv)
        c.send(req("/missing") + req("/plain.txt"))
        eq(c.read_response().body, PAGE_404, "first of two pipelined")
        eq(c.read_response().body, b"plain\n", "second of two pipelined")
        c.close()


def test_error_page_not_turned_into_304_or_206(ctx):
    with config_server(ERRPAGES, files=ERR_FILES) as srv:
        page = get(srv, "/errors/404.html")
        r = get(srv, "/missing", headers=[("If-None-Match", page.get("ETag"))])
        eq((r.status, r.body), (404, PAGE_404), "If-None-Match with the page's ETag")
        r = get(srv, "/missing", headers=[("Range", "bytes=0-3")])
        eq((r.status, r.body), (404, PAGE_404), "a Range on a missing path")
        r = get(srv, "/missing", headers=[("If-Modified-Since", page.get("Last-Modified"))])
        eq(r.status, 404, "If-Modified-Since")


def test_error_page_missing_gives_the_plain_error(ctx):
    with config_server(ERRPAGES, files=ERR_FILES) as srv:
        r = get(srv, "/nopage/x")
        check_error(r, 404)
        check(r.body != PAGE_404, "the rule's error_pages replace the server's")


def test_error_page_for_every_error_a_get_gets_in_scope(ctx):
    # 412 (If-Match), 414 (a redirect target too long), 416 (a Range past
    # the end, keeping its Content-Range), 401 (keeping WWW-Authenticate)
    conf = '''root = "site";
access_log = "off";
error_pages = ( { status = [401, 403, 404, 412, 414, 416]; page = "/errors/404.html"; } );
rules = (
  { prefix = "/old/"; redirect = "/$1$1$1$1$1$1$1$1$1"; },
  { prefix = "/auth/"; auth = { realm = "R"; htpasswd = "users.htpasswd"; }; }
);
'''
    files = dict(ERR_FILES, **{"users.htpasswd": harness.tool(["htpasswd", "-nbB", "u", "p"])})
    with config_server(conf, files=files) as srv:
        got = {}
        for what, target, hdrs in (
                ("412", "/plain.txt", [("If-Match", '"nope"')]),
                ("414", "/old/" + "%0a" * 1000, []),
                ("416", "/plain.txt", [("Range", "bytes=100-200")]),
                ("401", "/auth/x", [])):
            r = get(srv, target, headers=hdrs)
            got[what] = (r.status, r.body == PAGE_404)
            if what == "416":
                eq(r.get("Content-Range"), "bytes */6", "Content-Range on the 416")
            if what == "401":
                eq(r.get("WWW-Authenticate"), 'Basic realm="R", charset="UTF-8"',
                   "WWW-Authenticate on the 401 page")
        eq(got, {"412": (412, True), "414": (414, True), "416": (416, True), "401": (401, True)},
           "(status, the page served) per error")
        r = get(srv, "/plain.txt", "POST")
        eq((r.status, r.get("Allow")), (405, "GET, HEAD, OPTIONS"), "POST: 405 with Allow")


PCRE = '''root = "site";
access_log = "off";
rules = (
  { regex = "^/y/(\\\\d+)$"; redirect = "/year/$1"; },
  { regex = "^/u/(?<user>\\\\w+)/(?<page>[^/]+)$"; redirect = "/people/${user}?p=${page}"; },
  { regex = "(?i)^/CaSe/(.+)"; redirect = "/case/$1"; }
);
'''


def test_regexes_are_pcre_with_named_groups(ctx):
    """The rules' regexes are Perl's (PCRE2): \\d is a digit, (?<name>...)
    groups fill ${name} in a redirect, (?i) makes a pattern caseless."""
    with config_server(PCRE, files=SITE) as srv:
        redirect(srv, "/y/2024", 302, "/year/2024")
        eq(get(srv, "/y/ddd").status, 404, "\\d is a digit, not the letter d")
        redirect(srv, "/u/ann/notes", 302, "/people/ann?p=notes")
        redirect(srv, "/case/x", 302, "/case/x")
        redirect(srv, "/CASE/y", 302, "/case/y")


REWRITES = '''root = "site";
cgi = ["/cgi-bin/"];
rules = (
  { prefix = "/app/"; try = ["$path", "$path/", "/app/index.html"]; },
  { prefix = "/fc/"; rewrite = "/cgi-bin/index.cgi?q=$path"; },
  { regex = "^/old-(?<n>\\\\d+)$"; rewrite = "/plain.txt"; },
  { prefix = "/strict/"; try = ["$path", "=404"]; },
  { regex = "^/loop/(.*)$"; rewrite = "/loop/x$1"; }
);
'''

REWRITE_SITE = dict(SITE, **{
    "site/app/index.html": b"<spa>\n",
    "site/app/assets/app.js": b"js\n",
    "site/cgi-bin/index.cgi": (b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                               b"printf 'q=%s script=%s\\n' \"$QUERY_STRING\" \"$SCRIPT_NAME\"\n"),
})


def _rewrite_server():
    srv = harness.start_htd_config(REWRITES, files=REWRITE_SITE)
    os.chmod(os.path.join(srv.confdir.path, "site/cgi-bin/index.cgi"), 0o755)
    return harness.stops_cleanly(srv)


def test_try_serves_a_single_page_app(ctx):
    """try = ["$path", "$path/", "/app/index.html"]: a file that exists is
    served as it is, any other route gets the app's page, never a 404."""
    with _rewrite_server() as srv:
        r = get(srv, "/app/assets/app.js")
        eq((r.status, r.body), (200, b"js\n"), "an asset")
        for route in ("/app/settings/profile", "/app/x?tab=2", "/app/index.html"):
            r = get(srv, route)
            eq((r.status, r.body), (200, b"<spa>\n"), "the route " + route)
        r = get(srv, "/strict/none")
        eq(r.status, 404, "try's last, =404")


def test_rewrite_to_a_front_controller(ctx):
    """rewrite = "/cgi-bin/index.cgi?q=$path": the script runs for every
    path under /fc/, the path in its query, the request's query after it."""
    with _rewrite_server() as srv:
        r = get(srv, "/fc/blog/2026?page=2")
        eq(r.status, 200, "status through the front controller")
        eq(r.body, b"q=q=/fc/blog/2026&page=2 script=/cgi-bin/index.cgi\n", "what the script saw")
        r = get(srv, "/old-12")
        eq((r.status, r.body), (200, b"plain\n"), "a regex rewrite to a file")


def test_a_rewrite_loop_is_a_500_named_in_the_log(ctx):
    with _rewrite_server() as srv:
        r = get(srv, "/loop/a")
        eq(r.status, 500, "a rule that rewrites to itself")
        harness.wait_until(lambda: "rewrite loop: /loop/xxxxxxxxxxa still rewritten after 10 "
                                   "rewrites" in srv.stderr(), what="the log line naming the loop")


CACHE_CONTROL = '''root = "site";
access_log = "off";
cgi = ["/cgi-bin/"];
rules = (
  { prefix = "/r/"; cache_control = "max-age=60"; },
  { prefix = "/h/"; headers = { Cache-Control = "no-cache"; X-H = "h"; }; }
);
vhosts = (
  { names = "v.test"; root = "site"; cache_control = "max-age=3600, public";
    headers = { X-V = "v"; };
    rules = ( { prefix = "/r/"; cache_control = "no-store"; },
              { prefix = "/plain/"; headers = { X-P = "p"; }; },
              { prefix = "/h/"; headers = { Cache-Control = "no-cache"; }; },
              { exact = "/metrics"; metrics = true; } ); },
  { names = "hv.test"; root = "site"; headers = { Cache-Control = "private"; X-V = "v"; };
    rules = ( { prefix = "/r/"; cache_control = "max-age=5"; } ); }
);
'''

CC_SCRIPT = "#!/bin/sh\nprintf 'Content-Type: text/plain\\nCache-Control: private, max-age=9\\n\\nscript\\n'\n"


def _cc(srv, path, host="localhost", **kw):
    r = get(srv, path, host=host, **kw)
    return r.status, r.get_all("Cache-Control")


def test_cache_control_per_rule_and_vhost_over_the_prefix_list(ctx):
    """cache_control in a rule wins over its vhost's, which wins over the
    --cache-control prefixes; a Cache-Control in headers counts at its own
    level; whichever wins, a response has one Cache-Control, byte-exact, and
    a script's own is kept."""
    files = {"site/r/a.txt": b"r\n", "site/h/a.txt": b"h\n", "site/plain/a.txt": b"p\n",
             "site/o.txt": b"o\n"}
    cd = harness.ConfDir(files)
    try:
        cd.write("site/cgi-bin/cc.sh", CC_SCRIPT, 0o755)
        with config_server(CACHE_CONTROL, confdir=cd, extra=["--cache-control", "/=max-age=1"]) as srv:
            r = get(srv, "/r/a.txt")
            eq((r.status, r.body), (200, b"r\n"), "the file")
            check(b"\r\nCache-Control: max-age=60\r\n" in r.head_raw and r.head_raw.count(b"Cache-Control") == 1,
                  "the rule's, once, byte-exact: %r" % r.head_raw)
            eq(_cc(srv, "/r/missing"), (404, ["max-age=60"]), "the rule's on a 404")
            eq(_cc(srv, "/r/a.txt", method="HEAD"), (200, ["max-age=60"]), "and on HEAD")
            eq(_cc(srv, "/h/a.txt"), (200, ["no-cache"]), "a rule's headers win over the prefix list")
            eq(_cc(srv, "/o.txt"), (200, ["max-age=1"]), "the prefix list elsewhere")
            eq(_cc(srv, "/cgi-bin/cc.sh"), (200, ["private, max-age=9"]), "the script's own, alone")
            v = "v.test"
            r = get(srv, "/o.txt", host=v)
            eq((r.get_all("Cache-Control"), r.get("X-V")), (["max-age=3600, public"], "v"), "the vhost's")
            eq(_cc(srv, "/nothing", host=v), (404, ["max-age=3600, public"]), "the vhost's on a 404")
            eq(_cc(srv, "/r/a.txt", host=v), (200, ["no-store"]), "the vhost's rule's")
            r = get(srv, "/plain/a.txt", host=v)
            eq((r.get_all("Cache-Control"), r.get("X-P"), r.get("X-V")), (["max-age=3600, public"], "p", None),
               "a rule's own headers replace the vhost's, not its cache_control")
            eq(_cc(srv, "/h/a.txt", host=v), (200, ["no-cache"]), "Cache-Control in a rule's headers wins")
            eq(_cc(srv, "/metrics", host=v), (200, ["no-store"]), "the status page's own no-store, alone")
            hv = "hv.test"
            eq(_cc(srv, "/o.txt", host=hv), (200, ["private"]), "a vhost's headers")
            r = get(srv, "/r/a.txt", host=hv)
            eq((r.get_all("Cache-Control"), r.get("X-V")), (["max-age=5"], "v"),
               "the rule's cache_control in place of the vhost's header, its other headers kept")
        top = 'root = "site";\naccess_log = "off";\ncache_control = "no-cache";\n'
        with config_server(top, confdir=cd, extra=["--cache-control", "/r/=max-age=2"]) as srv:
            eq(_cc(srv, "/r/a.txt"), (200, ["no-cache"]), "the top level's over the prefix list")
        bad = [('rules = (\n  { prefix = "/x/";\n    cache_control = "max-age=1\\n"; }\n);\n', 3,
                "control characters"),
               ('vhosts = ( { names = "a.test"; root = "site";\n  cache_control = ""; } );\n', 2,
                "cache_control needs a value"),
               ('vhosts = ( { names = "a.test"; root = "site"; cache_control = 60; } );\n', 1, "cache_control"),
               ('rules = (\n  { prefix = "/x/"; headers = { cache-control = "a"; };\n'
                '    cache_control = "b"; }\n);\n', 3, "set twice")]
        for body, line, why in bad:
            cd.write_conf('root = "site";\n' + body)
            p = harness.run_htd(["--check-config", cd.conf])
            err = p.stderr.decode()
            eq(p.returncode, 2, "refused: %r (%r)" % (body, err))
            check(err.startswith("htd: %s:%d: " % (cd.conf, line + 1)) and why in err,
                  "the error names its line: %r" % err)
    finally:
        cd.cleanup()
