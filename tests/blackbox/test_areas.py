# SPDX-License-Identifier: BSD-2-Clause
"""Per-vhost writable areas, quotas and rules that select methods: a vhost's
own area (PUT, MKCOL, PROPFIND under its root; the same path on another vhost
is another resource, with its own properties and locks; a vhost without
areas answers 405), quotas (a PUT within 201, a declared or chunked body past
it 507 with nothing left behind, DELETE freeing room, COPY and MOVE into a
full area 507, the used bytes measured at start, RFC 4331's properties asked
by name and never in allprop), "anyone reads, only alice writes" with a rule
that names the writing methods, the config errors with FILE:LINE, and a
reload that changes a vhost's areas saying it needs a restart."""

import http.client
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import harness
from harness import check, eq
from test_config import refused

D = "{DAV:}"


class Site:
    """An htd from a config; requests with a Host of our choosing."""

    def __init__(self, conf, files=None, dirs=()):
        self.confdir = harness.ConfDir(files)
        for d in ("root",) + tuple(dirs):
            self.confdir.mkdir(d)
        self.srv = harness.start_htd_config(conf, confdir=self.confdir)
        self.host, self.port = self.srv.addrs[0]

    def req(self, method, path, body=None, headers=None, host="localhost"):
        c = http.client.HTTPConnection(self.host, self.port, timeout=harness.TIMEOUT)
        try:
            h = {"Host": host}
            h.update(headers or {})
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def chunked_put(self, path, data, host):
        """A PUT whose body is chunked (no declared size), in 1 KiB chunks."""
        s = socket.create_connection((self.host, self.port), timeout=harness.TIMEOUT)
        try:
            head = ("PUT %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                    % (path, host)).encode()
            body = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 1024]), data[i:i + 1024])
                            for i in range(0, len(data), 1024)) + b"0\r\n\r\n"
            try:
                s.sendall(head + body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            buf = b""
            while b"\r\n" not in buf:
                got = s.recv(4096)
                if not got:
                    break
                buf += got
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", buf)
            check(m is not None, "no status line: %r" % buf[:200])
            return int(m.group(1))
        finally:
            s.close()

    def p(self, rel):
        return self.confdir.p(rel)

    def close(self):
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        self.srv.cleanup()
        check(rep is None, "sanitizer report:\n%s" % rep)
        eq(rc, 0, "exit status")


def _props(body):
    """{href: {tag: (status line, text)}} of a multistatus."""
    out = {}
    for resp in ET.fromstring(body).findall(D + "response"):
        props = {}
        for ps in resp.findall(D + "propstat"):
            status = ps.find(D + "status").text
            for p in ps.find(D + "prop"):
                props[p.tag] = (status, p.text)
        out[resp.find(D + "href").text] = props
    return out


def _leftovers(root):
    """Temporary files anywhere below root."""
    return [os.path.join(d, f) for d, ds, fs in os.walk(root) for f in fs + ds
            if f.startswith(".htd-tmp-")]


VHOSTS = """root = "root";
state_db = "state.db";
vhosts = (
  { names = ["a.test"]; root = "a"; writable = ["/dav/"]; webdav = true; },
  { names = ["b.test"]; root = "b"; writable = ["/dav/"]; webdav = true; },
  { names = ["plain.test"]; root = "plain"; writable = ["/up/"]; },
  { names = ["static.test"]; root = "static"; }
);
"""


def test_a_vhost_area_takes_put_mkcol_and_propfind_under_its_own_root(ctx):
    s = Site(VHOSTS, dirs=("a", "b", "plain", "static"))
    try:
        st, h, _ = s.req("MKCOL", "/dav/docs/", host="a.test")
        eq(st, 201, "MKCOL on a.test")
        st, h, _ = s.req("PUT", "/dav/docs/x.txt", b"on a\n", host="a.test")
        eq(st, 201, "PUT on a.test")
        with open(s.p("a/dav/docs/x.txt"), "rb") as f:
            eq(f.read(), b"on a\n", "the document under a.test's root")
        check(not os.path.exists(s.p("root/dav")), "nothing under the top-level root")
        check(not os.path.exists(s.p("b/dav/docs")), "nothing under b.test's root")
        st, h, body = s.req("PROPFIND", "/dav/docs/", headers={"Depth": "1"}, host="a.test")
        eq(st, 207, "PROPFIND Depth 1")
        ps = _props(body)
        eq(sorted(ps), ["/dav/docs/", "/dav/docs/x.txt"], "hrefs, without a vhost in them")
        eq(ps["/dav/docs/x.txt"][D + "getcontentlength"][1], "5", "getcontentlength")
        eq(s.req("GET", "/dav/docs/x.txt", host="a.test")[2], b"on a\n", "GET on a.test")
        eq(s.req("GET", "/dav/docs/x.txt", host="b.test")[0], 404, "GET on b.test")
        # The store alone (no webdav) in a vhost: PUT yes, MKCOL no.
        eq(s.req("PUT", "/up/n.txt", b"n", host="plain.test")[0], 201, "PUT on plain.test")
        check(os.path.isfile(s.p("plain/up/n.txt")), "under plain.test's root")
        check(s.req("MKCOL", "/up/c/", host="plain.test")[0] in (405, 501),
              "MKCOL where WebDAV is off")
        # Neither the top level nor a vhost without areas takes a PUT.
        eq(s.req("PUT", "/dav/y.txt", b"y", host="localhost")[0], 405, "PUT at the top level")
        eq(s.req("PUT", "/dav/y.txt", b"y", host="static.test")[0], 405, "PUT on static.test")
        st, h, _ = s.req("OPTIONS", "/dav/", host="a.test")
        check("PROPFIND" in h.get("allow", ""), "OPTIONS on a.test: %r" % h)
        s.close()
    finally:
        s.confdir.cleanup()


def test_the_same_path_on_two_vhosts_has_its_own_properties_and_locks(ctx):
    s = Site(VHOSTS, dirs=("a", "b", "plain", "static"))
    try:
        for host in ("a.test", "b.test"):
            eq(s.req("PUT", "/dav/same.txt", b"x", host=host)[0], 201, "PUT on " + host)
        patch = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
                 b'<D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set>'
                 b'</D:propertyupdate>')
        eq(s.req("PROPPATCH", "/dav/same.txt", patch, host="a.test")[0], 207, "PROPPATCH on a")
        ask = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z">'
               b'<D:prop><Z:colour/></D:prop></D:propfind>')
        pa = _props(s.req("PROPFIND", "/dav/same.txt", ask, {"Depth": "0"}, "a.test")[2])
        pb = _props(s.req("PROPFIND", "/dav/same.txt", ask, {"Depth": "0"}, "b.test")[2])
        eq(pa["/dav/same.txt"]["{urn:z}colour"], ("HTTP/1.1 200 OK", "blue"), "a's property")
        check(pb["/dav/same.txt"]["{urn:z}colour"][0].startswith("HTTP/1.1 404"),
              "b has no such property: %r" % pb)
        lock = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
                b'</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>')
        st, h, body = s.req("LOCK", "/dav/same.txt", lock, {"Depth": "0"}, "a.test")
        eq(st, 200, "LOCK on a")
        check(b"<D:href>/dav/same.txt</D:href>" in body or b"/dav/same.txt" in body,
              "the lock root is the URL path: %r" % body[:600])
        eq(s.req("PUT", "/dav/same.txt", b"y", host="a.test")[0], 423, "a's document is locked")
        eq(s.req("PUT", "/dav/same.txt", b"y", host="b.test")[0], 204, "b's is not")
        token = h["lock-token"]
        eq(s.req("PUT", "/dav/same.txt", b"z", {"If": "(%s)" % token}, "a.test")[0], 204,
           "PUT with the lock's token")
        eq(s.req("PUT", "/dav/same.txt", b"z",
                 {"If": "<http://a.test/dav/same.txt> (%s)" % token}, "a.test")[0], 204,
           "PUT with a tagged list naming the URL")
        s.close()
    finally:
        s.confdir.cleanup()


QUOTA = """root = "root";
state_db = "state.db";
vhosts = (
  { names = ["q.test"]; root = "q"; writable = ["/q/:8K:10K", "/r/"]; webdav = true; }
);
"""


def _quota(s, path="/q/"):
    ask = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
           b'<D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>')
    st, h, body = s.req("PROPFIND", path, ask, {"Depth": "0"}, "q.test")
    eq(st, 207, "PROPFIND of the quota")
    p = list(_props(body).values())[0]
    return (int(p[D + "quota-used-bytes"][1]), int(p[D + "quota-available-bytes"][1]))


def test_quota_507_before_writing_delete_frees_room_copy_and_move_held_to_it(ctx):
    s = Site(QUOTA, files={"q/q/old.bin": b"o" * 1024}, dirs=("q",))
    try:
        eq(_quota(s), (1024, 10 * 1024 - 1024), "the area measured at start")
        eq(s.req("PUT", "/q/a.bin", b"a" * 6144, host="q.test")[0], 201, "6 KiB within")
        eq(_quota(s), (7168, 3072), "after the PUT")
        # Declared: refused before anything is written.
        eq(s.req("PUT", "/q/b.bin", b"b" * 4096, host="q.test")[0], 507, "4 KiB past it")
        check(not os.path.exists(s.p("q/q/b.bin")), "no document")
        eq(_leftovers(s.p("q")), [], "no temporary file")
        # Chunked: refused once past it, its temporary file removed.
        eq(s.chunked_put("/q/c.bin", b"c" * 5000, "q.test"), 507, "chunked past it")
        check(not os.path.exists(s.p("q/q/c.bin")), "no chunked document")
        time.sleep(0.2)  # the temporary file goes on the pool
        eq(_leftovers(s.p("q")), [], "no temporary file after the chunked PUT")
        eq(_quota(s), (7168, 3072), "nothing counted for the refusals")
        # A replacement counts only what it adds.
        eq(s.req("PUT", "/q/a.bin", b"A" * 8192, host="q.test")[0], 204, "replaced, 2 KiB more")
        eq(_quota(s), (9216, 1024), "after the replacement")
        eq(s.req("PUT", "/q/a.bin", b"A" * 8193, host="q.test")[0], 413, "over the 8K limit")
        # DELETE frees room.
        eq(s.req("DELETE", "/q/old.bin", host="q.test")[0], 204, "DELETE")
        eq(_quota(s), (8192, 2048), "after the DELETE")
        eq(s.req("PUT", "/q/b.bin", b"b" * 2048, host="q.test")[0], 201, "fits again")
        eq(_quota(s), (10240, 0), "full")
        # COPY adds what it copies: 507, nothing made.
        st, _, _ = s.req("COPY", "/q/b.bin", headers={"Destination": "/q/b2.bin"}, host="q.test")
        eq(st, 507, "COPY into a full area")
        check(not os.path.exists(s.p("q/q/b2.bin")), "no copy")
        # MOVE within the area adds nothing; into it from another area, what it brings.
        st, _, _ = s.req("MOVE", "/q/b.bin", headers={"Destination": "/q/b3.bin"}, host="q.test")
        eq(st, 201, "MOVE within the area")
        eq(_quota(s), (10240, 0), "a MOVE within changes nothing")
        eq(s.req("PUT", "/r/big.bin", b"r" * 3000, host="q.test")[0], 201, "PUT in /r/ (no quota)")
        st, _, _ = s.req("MOVE", "/r/big.bin", headers={"Destination": "/q/big.bin"},
                         host="q.test")
        eq(st, 507, "MOVE into a full area")
        check(os.path.exists(s.p("q/r/big.bin")), "the source stays")
        eq(s.req("DELETE", "/q/a.bin", host="q.test")[0], 204, "DELETE 8 KiB")
        st, _, _ = s.req("MOVE", "/r/big.bin", headers={"Destination": "/q/big.bin"},
                         host="q.test")
        eq(st, 201, "MOVE now fits")
        eq(_quota(s), (2048 + 3000, 10240 - 2048 - 3000), "after the MOVE")
        # Collections: a DELETE of a tree frees all of it.
        eq(s.req("MKCOL", "/q/t/", host="q.test")[0], 201, "MKCOL")
        eq(s.req("PUT", "/q/t/1.bin", b"1" * 1000, host="q.test")[0], 201, "PUT in t")
        eq(s.req("COPY", "/q/t/", headers={"Destination": "/q/t2/"}, host="q.test")[0], 201,
           "COPY of a tree")
        eq(_quota(s)[0], 2048 + 3000 + 2000, "the tree's copy counted")
        eq(s.req("DELETE", "/q/t/", host="q.test")[0], 204, "DELETE of a tree")
        eq(_quota(s)[0], 2048 + 3000 + 1000, "the tree freed")
        s.close()
    finally:
        s.confdir.cleanup()


def test_concurrent_puts_never_take_an_area_past_its_quota(ctx):
    s = Site(QUOTA, dirs=("q",))
    try:
        got = []

        def one(i):
            got.append(s.req("PUT", "/q/p%d.bin" % i, b"p" * 2048, host="q.test")[0])
        ts = [threading.Thread(target=one, args=(i,)) for i in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(sorted(got), [201] * 5 + [507] * 7, "five of 2 KiB fit in 10 KiB")
        eq(_quota(s), (10240, 0), "full, exactly")
        eq(sum(os.path.getsize(os.path.join(s.p("q/q"), f)) for f in os.listdir(s.p("q/q"))),
           10240, "on disk")
        s.close()
    finally:
        s.confdir.cleanup()


def test_quota_properties_only_when_asked_by_name_and_only_with_a_quota(ctx):
    s = Site(QUOTA, dirs=("q",))
    try:
        st, h, body = s.req("PROPFIND", "/q/", None, {"Depth": "0"}, "q.test")
        eq(st, 207, "allprop")
        check(b"quota" not in body, "no quota property in allprop: %r" % body[:800])
        st, h, body = s.req("PROPFIND", "/q/", b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
                            b'<D:propname/></D:propfind>', {"Depth": "0"}, "q.test")
        check(b"quota" not in body, "nor in propname")
        eq(_quota(s), (0, 10240), "asked by name")
        ask = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
               b'<D:quota-used-bytes/></D:prop></D:propfind>')
        st, h, body = s.req("PROPFIND", "/r/", ask, {"Depth": "0"}, "q.test")
        p = list(_props(body).values())[0]
        check(p[D + "quota-used-bytes"][0].startswith("HTTP/1.1 404"),
              "an area without a quota has none: %r" % p)
        patch = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                 b'<D:quota-used-bytes>1</D:quota-used-bytes></D:prop></D:set>'
                 b'</D:propertyupdate>')
        st, h, body = s.req("PROPPATCH", "/q/", patch, host="q.test")
        eq(st, 207, "PROPPATCH")
        check(b"403" in body, "a quota property cannot be set: %r" % body)
        s.close()
    finally:
        s.confdir.cleanup()


def _write_only(alice):
    return """root = "root";
state_db = "state.db";
writable = ["/dav/"];
webdav = true;
rules = (
  { prefix = "/dav/"; headers = { X-Open = "yes"; }; },
  { prefix = "/dav/";
    methods = ["PUT", "POST", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"];
    auth = { realm = "writers"; htpasswd = "users.htpasswd"; }; }
);
""", {"users.htpasswd": alice, "root/dav/read.txt": b"for all\n"}


def test_anyone_reads_only_alice_writes(ctx):
    alice = harness.tool(["htpasswd", "-nbB", "alice", "alice-pw"])
    conf, files = _write_only(alice)
    s = Site(conf, files=files)
    try:
        st, h, body = s.req("GET", "/dav/read.txt")
        eq((st, body), (200, b"for all\n"), "GET without credentials")
        eq(h.get("x-open"), "yes", "the open rule's header on a GET")
        eq(s.req("PROPFIND", "/dav/", None, {"Depth": "1"})[0], 207, "PROPFIND open to all")
        st, h, _ = s.req("PUT", "/dav/new.txt", b"x")
        eq(st, 401, "PUT without credentials")
        check("writers" in h.get("www-authenticate", ""), "the realm: %r" % h)
        check(not os.path.exists(s.p("root/dav/new.txt")), "nothing written")
        eq(s.req("MKCOL", "/dav/c/")[0], 401, "MKCOL without credentials")
        eq(s.req("DELETE", "/dav/read.txt")[0], 401, "DELETE without credentials")
        eq(s.req("PUT", "/dav/new.txt", b"x", dict([harness.basic("alice", "wrong")]))[0], 401,
           "PUT with a wrong password")
        st, h, _ = s.req("PUT", "/dav/new.txt", b"by alice", dict([harness.basic("alice",
                                                                                "alice-pw")]))
        eq(st, 201, "PUT as alice")
        with open(s.p("root/dav/new.txt"), "rb") as f:
            eq(f.read(), b"by alice", "alice's document")
        eq(s.req("GET", "/dav/new.txt")[2], b"by alice", "read by anyone")
        eq(s.req("MKCOL", "/dav/c/", None, dict([harness.basic("alice", "alice-pw")]))[0], 201,
           "MKCOL as alice")
        s.close()
    finally:
        s.confdir.cleanup()


def test_a_get_rule_takes_head_too_and_other_methods_fall_through(ctx):
    conf = """root = "root";
rules = (
  { exact = "/x.txt"; methods = ["GET"]; access = ["deny all"]; },
  { prefix = "/"; methods = ["POST"]; headers = { X-Post = "1"; }; }
);
"""
    s = Site(conf, files={"root/x.txt": b"x", "root/y.txt": b"y"})
    try:
        eq(s.req("GET", "/x.txt")[0], 403, "GET denied")
        eq(s.req("HEAD", "/x.txt")[0], 403, "HEAD denied with it")
        st, h, _ = s.req("OPTIONS", "/x.txt")
        check(st in (200, 204), "OPTIONS falls through to the vhost: %d" % st)
        check("x-post" not in h, "the POST rule is not an OPTIONS's")
        st, h, _ = s.req("GET", "/y.txt")
        eq(st, 200, "GET of another path")
        check("x-post" not in h, "the POST rule is not a GET's")
        st, h, _ = s.req("POST", "/y.txt", b"p")
        eq(h.get("x-post"), "1", "the POST rule's header on a POST (status %d)" % st)
        s.close()
    finally:
        s.confdir.cleanup()


def test_a_top_level_quota_from_the_flags(ctx):
    root = tempfile.mkdtemp(prefix="htd-areas-")
    srv = harness.start_htd(root, extra=["--writable", "/docs::2K"])
    try:
        def put(path, n):
            r, c = harness.exchange(srv, harness.req(path, "PUT", [("Content-Length", str(n))])
                                    + b"d" * n)
            c.close()
            return r.status
        eq(put("/docs/a", 1500), 201, "within the quota")
        eq(put("/docs/b", 1000), 507, "past it")
        eq(put("/docs/a", 2048), 204, "a replacement up to it")
        check(not os.path.exists(os.path.join(root, "docs/b")), "nothing of the refused one")
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
    finally:
        srv.cleanup()
        shutil.rmtree(root, ignore_errors=True)


# ---- config errors

def test_unknown_or_lowercase_method_in_a_rule_is_refused_with_its_line(ctx):
    refused('root = "site";\nrules = (\n  { prefix = "/a/";\n    methods = ["PUT", "FETCH"];'
            ' access = ["deny all"]; }\n);\n', 4, words=["FETCH", "methods"])
    refused('root = "site";\nrules = (\n  { prefix = "/a/"; methods = ["put"]; }\n);\n', 3,
            words=["put"])
    refused('root = "site";\nrules = (\n  { prefix = "/a/";\n methods = []; }\n);\n', 4,
            words=["methods"])


def test_bad_vhost_areas_are_refused_with_their_line(ctx):
    files = {"v/index.html": b"v"}
    refused('root = "site";\nvhosts = (\n  { names = ["v.test"]; root = "v";\n'
            '    webdav = true; }\n);\n', 4, files=files, words=["webdav", "writable"])
    refused('root = "site";\nvhosts = (\n  { names = ["v.test"]; root = "v";\n'
            '    writable = ["dav/"]; }\n);\n', 4, files=files, words=["writable", "dav/"])
    refused('root = "site";\nvhosts = (\n  { names = ["v.test"]; root = "v";\n'
            '    writable = ["/d/"];\n    max_upload = "lots"; }\n);\n', 5, files=files,
            words=["max_upload"])


def test_a_reload_that_changes_a_vhosts_areas_says_it_needs_a_restart(ctx):
    conf = """root = "root";
vhosts = ( { names = ["v.test"]; root = "v"; writable = ["%s"]; } );
"""
    s = Site(conf % "/one/", dirs=("v",))
    try:
        s.confdir.write_conf(conf % "/two/")
        since = len(s.srv.stderr())
        s.srv.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "reloaded" not in s.srv.stderr()[since:] and time.monotonic() < deadline:
            time.sleep(0.02)
        err = s.srv.stderr()[since:]
        check("writable areas of vhost v.test changed" in err and "restart" in err,
              "stderr after the reload: %r" % err[:1000])
        eq(s.req("PUT", "/one/x", b"x", host="v.test")[0], 201, "the areas of the start serve")
        s.close()
    finally:
        s.confdir.cleanup()
