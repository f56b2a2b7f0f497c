# SPDX-License-Identifier: BSD-2-Clause
"""WebDAV on the writable areas (webdav = true): litmus's five suites, PROPFIND's
live properties agreeing with GET, Depth and its limit, listings that hide
dotfiles and temporary trees, dead properties that survive a restart, COPY
and MOVE of a tree of 1,000 documents as a desktop client does it, the
refusals (409, 412, 415, 502, 403), hostile XML, locks (423 without their
token, lockdiscovery, a lock on nothing, refresh, UNLOCK, a lock that
outlives a restart), and WebDAV off."""

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

import harness
from harness import check, eq

D = "{DAV:}"

CONF = """root = "root";
writable = ["/dav/"];
webdav = true;
state_db = "state.db";
%s
"""


class Dav:
    def __init__(self, extra_conf="", confdir=None, prefix=()):
        self.confdir = confdir or harness.ConfDir()
        self.confdir.mkdir("root/dav")
        self.srv = harness.start_htd_config(CONF % extra_conf, confdir=self.confdir,
                                            prefix=prefix)
        self.host, self.port = self.srv.addrs[0]
        self.c = http.client.HTTPConnection(self.host, self.port, timeout=harness.TIMEOUT)

    def req(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def fs(self, rel):
        return self.confdir.p(os.path.join("root/dav", rel))

    def stop(self):
        self.c.close()
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        check(rep is None, "sanitizer report:\n%s" % rep)
        eq(rc, 0, "exit status")

    def cleanup(self):
        self.c.close()
        self.srv.cleanup()


def _responses(body):
    """{href: {prop tag: (status, element)}} of a multistatus."""
    root = ET.fromstring(body)
    eq(root.tag, D + "multistatus", "root element")
    out = {}
    for resp in root.findall(D + "response"):
        href = resp.find(D + "href").text
        props = {}
        for ps in resp.findall(D + "propstat"):
            status = ps.find(D + "status").text
            prop = ps.find(D + "prop")
            # Elements only: no text between the properties.
            check(not (prop.text or "").strip() and
                  all(not (p.tail or "").strip() for p in prop),
                  "text among the properties of %s: %r" % (href, ET.tostring(prop)[:300]))
            for p in prop:
                props[p.tag] = (status, p)
        out[href] = props
    return out


def test_litmus_suites(ctx):
    if not shutil.which("litmus"):
        raise harness.Skip("litmus is not installed (Debian package litmus)")
    d = Dav()
    try:
        # litmus writes debug.log and child.log where it runs.
        p = subprocess.run(["litmus", "http://%s:%d/dav/" % (d.host, d.port)],
                           capture_output=True, text=True, timeout=120, cwd=d.confdir.path)
        out = p.stdout
        sums = {}
        for m in re.finditer(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed", out):
            sums[m.group(1)] = (int(m.group(3)), int(m.group(2)))
        for suite, want in (("basic", 16), ("copymove", 13), ("props", 30), ("locks", 41),
                            ("http", 4)):
            eq(sums.get(suite), (want, want), "litmus %s (passed, run); output:\n%s"
               % (suite, out[-3000:]))
        d.stop()
    finally:
        d.cleanup()


def test_propfind_agrees_with_get_and_lists_depth_1(ctx):
    d = Dav()
    try:
        eq(d.req("MKCOL", "/dav/docs/")[0], 201, "MKCOL")
        eq(d.req("PUT", "/dav/docs/a%20b.txt", body=b"hello\n")[0], 201, "PUT")
        eq(d.req("PUT", "/dav/docs/caf%C3%A9.html", body=b"<p>x</p>")[0], 201, "PUT")
        os.makedirs(d.fs("docs/.hidden"))
        with open(d.fs("docs/.secret"), "w") as f:
            f.write("no")
        os.makedirs(d.fs("docs/.htd-tmp-0123-1"))
        st, h, get_body = d.req("GET", "/dav/docs/a%20b.txt")
        eq(st, 200, "GET")
        st, h2, body = d.req("PROPFIND", "/dav/docs/a%20b.txt", headers={"Depth": "0"})
        eq(st, 207, "PROPFIND Depth 0 status")
        eq(h2["content-type"], "application/xml; charset=utf-8", "Content-Type")
        rs = _responses(body)
        eq(list(rs), ["/dav/docs/a%20b.txt"], "hrefs")
        p = rs["/dav/docs/a%20b.txt"]
        eq(p[D + "getcontentlength"][1].text, "6", "getcontentlength")
        eq(p[D + "getetag"][1].text, h["etag"], "getetag against GET's ETag")
        eq(p[D + "getlastmodified"][1].text, h["last-modified"], "getlastmodified")
        eq(p[D + "getcontenttype"][1].text, h["content-type"], "getcontenttype")
        eq(len(p[D + "resourcetype"][1]), 0, "a document's resourcetype is empty")
        check(p[D + "creationdate"][1].text.endswith("Z"), "creationdate is ISO 8601 UTC")
        st, _, body = d.req("PROPFIND", "/dav/docs/", headers={"Depth": "1"})
        eq(st, 207, "PROPFIND Depth 1 status")
        rs = _responses(body)
        eq(sorted(rs), ["/dav/docs/", "/dav/docs/a%20b.txt", "/dav/docs/caf%C3%A9.html"],
           "Depth 1 lists the members, never a dotfile or a temporary tree")
        check(rs["/dav/docs/"][D + "resourcetype"][1].find(D + "collection") is not None,
              "a collection's resourcetype")
        check(D + "getcontentlength" not in rs["/dav/docs/"], "a collection has no length")
        # Named properties: found ones 200, unknown ones 404 in their own propstat.
        q = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop>'
             b'<D:getcontentlength/><Z:nothing/></D:prop></D:propfind>')
        st, _, body = d.req("PROPFIND", "/dav/docs/a%20b.txt", body=q, headers={"Depth": "0"})
        p = _responses(body)["/dav/docs/a%20b.txt"]
        eq(p[D + "getcontentlength"][0], "HTTP/1.1 200 OK", "a known property's status")
        eq(p["{urn:z}nothing"][0], "HTTP/1.1 404 Not Found", "an unknown property's status")
        d.stop()
    finally:
        d.cleanup()


def test_depth_infinity_refused_by_default_and_limited_when_allowed(ctx):
    d = Dav()
    try:
        st, h, body = d.req("PROPFIND", "/dav/", headers={"Depth": "infinity"})
        eq(st, 403, "Depth: infinity by default")
        check(b"propfind-finite-depth" in body, "the precondition named: %r" % body)
        d.stop()
    finally:
        d.cleanup()
    d = Dav("webdav_infinity_max = 5;")
    try:
        for i in range(3):
            eq(d.req("PUT", "/dav/f%d" % i, body=b"x")[0], 201, "PUT")
        st, _, body = d.req("PROPFIND", "/dav/", headers={"Depth": "infinity"})
        eq(st, 207, "Depth: infinity within the limit")
        eq(len(_responses(body)), 4, "resources listed")
        for i in range(3, 6):
            d.req("PUT", "/dav/f%d" % i, body=b"x")
        st, _, body = d.req("PROPFIND", "/dav/", headers={"Depth": "infinity"})
        eq(st, 403, "Depth: infinity beyond the limit")
        eq(d.req("PROPFIND", "/dav/", headers={"Depth": "2"})[0], 400, "Depth: 2")
        d.stop()
    finally:
        d.cleanup()


PATCH = (b'<?xml version="1.0" encoding="utf-8"?>'
         b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns">'
         b'<D:set><D:prop><Z:author>Ren\xc3\xa9e &amp; co</Z:author>'
         b'<Z:tree><Z:leaf a="1">x</Z:leaf></Z:tree></D:prop></D:set></D:propertyupdate>')


def test_dead_properties_survive_a_restart_and_follow_move_and_copy(ctx):
    confdir = harness.ConfDir()
    d = Dav(confdir=confdir)
    try:
        eq(d.req("PUT", "/dav/doc.txt", body=b"body")[0], 201, "PUT")
        st, _, body = d.req("PROPPATCH", "/dav/doc.txt", body=PATCH)
        eq(st, 207, "PROPPATCH")
        p = _responses(body)["/dav/doc.txt"]
        eq(p["{http://example.com/ns}author"][0], "HTTP/1.1 200 OK", "set's status")
        # A live property cannot be set: 403 for it, 424 for the rest, none applied.
        bad = (b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
               b'<D:getetag>"x"</D:getetag><Z:other>1</Z:other></D:prop></D:set>'
               b'</D:propertyupdate>')
        p = _responses(d.req("PROPPATCH", "/dav/doc.txt", body=bad)[2])["/dav/doc.txt"]
        eq(p[D + "getetag"][0], "HTTP/1.1 403 Forbidden", "a live property's status")
        eq(p["{urn:z}other"][0], "HTTP/1.1 424 Failed Dependency", "the other's status")
        d.srv.stop()
        d.c.close()
        d.srv.cleanup()
        d = Dav(confdir=confdir)
        q = (b'<D:propfind xmlns:D="DAV:" xmlns:Z="http://example.com/ns"><D:prop>'
             b'<Z:author/><Z:tree/><Z:other/></D:prop></D:propfind>')
        p = _responses(d.req("PROPFIND", "/dav/doc.txt", body=q, headers={"Depth": "0"})[2])
        p = p["/dav/doc.txt"]
        eq(p["{http://example.com/ns}author"][1].text, "Ren\u00e9e & co", "after a restart")
        eq(p["{http://example.com/ns}tree"][1][0].attrib, {"a": "1"}, "an element value")
        eq(p["{http://example.com/ns}other"][0], "HTTP/1.1 404 Not Found", "never set")
        eq(d.req("COPY", "/dav/doc.txt", headers={"Destination": "/dav/copy.txt"})[0], 201,
           "COPY")
        eq(d.req("MOVE", "/dav/doc.txt", headers={"Destination": "/dav/moved.txt"})[0], 201,
           "MOVE")
        for path in ("/dav/copy.txt", "/dav/moved.txt"):
            p = _responses(d.req("PROPFIND", path, body=q, headers={"Depth": "0"})[2])[path]
            eq(p["{http://example.com/ns}author"][1].text, "Ren\u00e9e & co", "at " + path)
        eq(d.req("PROPFIND", "/dav/doc.txt", headers={"Depth": "0"})[0], 404, "the moved source")
        d.stop()
    finally:
        d.cleanup()
        confdir.cleanup()


def test_a_desktop_client_copies_renames_and_moves_a_tree_of_1000_documents(ctx):
    d = Dav()
    try:
        eq(d.req("MKCOL", "/dav/photos/")[0], 201, "MKCOL")
        eq(d.req("MKCOL", "/dav/photos/2026/")[0], 201, "MKCOL")
        for i in range(1000):
            st = d.req("PUT", "/dav/photos/2026/img%04d.jpg" % i, body=b"%d" % i)[0]
            if st != 201:
                eq(st, 201, "PUT %d" % i)
        st, _, body = d.req("PROPFIND", "/dav/photos/2026/", headers={"Depth": "1"})
        eq(len(_responses(body)), 1001, "the folder and its 1,000 documents")
        eq(d.req("COPY", "/dav/photos/", headers={"Destination": "/dav/backup/"})[0], 201,
           "COPY of the tree")
        eq(len(os.listdir(d.fs("backup/2026"))), 1000, "documents copied")
        with open(d.fs("backup/2026/img0999.jpg"), "rb") as f:
            eq(f.read(), b"999", "a copied document")
        eq(d.req("MOVE", "/dav/photos/2026/", headers={"Destination": "/dav/photos/archive"})[0],
           201, "a rename of the folder")
        eq(d.req("MOVE", "/dav/photos/", headers={
            "Destination": "http://%s:%d/dav/moved/" % (d.host, d.port)})[0], 201,
           "MOVE of the tree by an absolute URI")
        eq(len(os.listdir(d.fs("moved/archive"))), 1000, "documents moved")
        check(not os.path.exists(d.fs("photos")), "the source is gone")
        # Over an existing tree: Overwrite F refused, T replaces (204).
        eq(d.req("COPY", "/dav/moved/", headers={"Destination": "/dav/backup/",
                                               "Overwrite": "F"})[0], 412, "Overwrite: F")
        eq(d.req("MOVE", "/dav/moved/", headers={"Destination": "/dav/backup/"})[0], 204,
           "MOVE over a tree")
        check(os.path.isdir(d.fs("backup/archive")) and not os.path.exists(d.fs("backup/2026")),
              "the destination was replaced, not merged")
        eq(d.req("DELETE", "/dav/backup/")[0], 204, "DELETE of the tree")
        eq(os.listdir(d.fs("")), [], "nothing left, not even a temporary tree")
        d.stop()
    finally:
        d.cleanup()


def test_refusals(ctx):
    d = Dav()
    try:
        eq(d.req("PUT", "/dav/a.txt", body=b"a")[0], 201, "PUT")
        eq(d.req("PUT", "/dav/none/a.txt", body=b"a")[0], 409, "PUT without its parent")
        eq(d.req("MKCOL", "/dav/x/y/")[0], 409, "MKCOL without its parent")
        eq(d.req("MKCOL", "/dav/a.txt")[0], 405, "MKCOL over a document")
        eq(d.req("MKCOL", "/dav/withbody/", body=b"<x/>",
                 headers={"Content-Type": "text/xml"})[0], 415, "MKCOL with a body")
        eq(d.req("COPY", "/dav/a.txt")[0], 400, "COPY without a Destination")
        eq(d.req("COPY", "/dav/a.txt", headers={"Destination": "http://elsewhere.example/dav/b"})[0],
           502, "a Destination on another server")
        eq(d.req("COPY", "/dav/a.txt", headers={"Destination": "/outside.txt"})[0], 403,
           "a Destination outside the writable areas")
        eq(d.req("COPY", "/dav/a.txt", headers={"Destination": "/dav/none/b.txt"})[0], 409,
           "a Destination without its parent")
        eq(d.req("COPY", "/dav/a.txt", headers={"Destination": "/dav/a.txt"})[0], 403,
           "a COPY onto itself")
        eq(d.req("MOVE", "/dav/missing", headers={"Destination": "/dav/b"})[0], 404,
           "MOVE of nothing")
        eq(d.req("DELETE", "/dav/")[0], 403, "DELETE of the area itself")
        eq(d.req("PROPFIND", "/dav/.secret", headers={"Depth": "0"})[0], 403, "a dotfile")
        eq(d.req("PROPFIND", "/dav/none", headers={"Depth": "0"})[0], 404, "PROPFIND of nothing")
        st, h, _ = d.req("OPTIONS", "/dav/")
        eq((st, h.get("dav")), (200, "1, 2"), "OPTIONS says DAV")
        check("PROPFIND" in h.get("allow", ""), "Allow lists PROPFIND: %r" % h)
        d.stop()
    finally:
        d.cleanup()


def test_hostile_xml_is_refused(ctx):
    d = Dav()
    try:
        laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  b'<D:propfind xmlns:D="DAV:"><D:prop><D:x>&lol3;</D:x></D:prop></D:propfind>')
        external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    b'<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:x>&e;</D:x></D:prop>'
                    b'</D:set></D:propertyupdate>')
        for what, method, body in (("a DOCTYPE with entities", "PROPFIND", laughs),
                                   ("an external entity", "PROPPATCH", external),
                                   ("XML that is not well-formed", "PROPFIND", b"<D:propfind"),
                                   ("an empty prefixed namespace", "PROPFIND",
                                    b'<propfind xmlns="DAV:"><prop><b:x xmlns:b=""/></prop>'
                                    b'</propfind>'),
                                   ("a root of the wrong kind", "PROPFIND", b'<x xmlns="DAV:"/>')):
            st, _, _ = d.req(method, "/dav/", body=body, headers={"Depth": "0"})
            eq(st, 400, what)
        st, _, _ = d.req("PROPFIND", "/dav/", body=b"<" * ((1 << 20) + 1), headers={"Depth": "0"})
        eq(st, 413, "a body over 1 MiB")
        d.c.close()
        d.c = http.client.HTTPConnection(d.host, d.port, timeout=harness.TIMEOUT)
        eq(d.req("PROPFIND", "/dav/", headers={"Depth": "0"})[0], 207, "still serving")
        d.stop()
    finally:
        d.cleanup()


def test_webdav_off_leaves_the_store_as_it_was(ctx):
    confdir = harness.ConfDir()
    confdir.mkdir("root/dav")
    srv = harness.start_htd_config('root = "root";\nwritable = ["/dav/"];\n', confdir=confdir)
    try:
        host, port = srv.addrs[0]
        c = http.client.HTTPConnection(host, port, timeout=harness.TIMEOUT)
        c.request("PROPFIND", "/dav/", headers={"Depth": "0"})
        r = c.getresponse()
        r.read()
        eq(r.status, 405, "PROPFIND without webdav")
        c.request("PUT", "/dav/a/b/c.txt", body=b"x")
        r = c.getresponse()
        r.read()
        eq(r.status, 201, "PUT still makes the missing directories")
        c.close()
    finally:
        srv.cleanup()
        confdir.cleanup()


LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b'<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
            b'<D:owner><D:href>mailto:alice@example.com</D:href></D:owner></D:lockinfo>')


def test_locks_refuse_writes_without_their_token_and_outlive_a_restart(ctx):
    confdir = harness.ConfDir()
    d = Dav(confdir=confdir)
    try:
        eq(d.req("PUT", "/dav/doc.txt", body=b"v1")[0], 201, "PUT")
        st, h, body = d.req("LOCK", "/dav/doc.txt", body=LOCKINFO,
                            headers={"Timeout": "Second-3600", "Depth": "0"})
        eq(st, 200, "LOCK of a document")
        token = h["lock-token"].strip("<>")
        check(token.startswith("urn:uuid:") and len(token) == 45, "the token: %r" % token)
        root = ET.fromstring(body)
        eq(root.find(D + "lockdiscovery/" + D + "activelock/" + D + "locktoken/" + D + "href").text,
           token, "the token in the answer")
        eq(root.find(D + "lockdiscovery/" + D + "activelock/" + D + "timeout").text,
           "Second-3600", "the timeout granted")
        # Without the token: 423 for the store's PUT and for WebDAV's methods.
        eq(d.req("PUT", "/dav/doc.txt", body=b"v2")[0], 423, "PUT without the token")
        eq(d.req("DELETE", "/dav/doc.txt")[0], 423, "DELETE without the token")
        eq(d.req("MOVE", "/dav/doc.txt", headers={"Destination": "/dav/x.txt"})[0], 423,
           "MOVE without the token")
        eq(d.req("PROPPATCH", "/dav/doc.txt", body=PATCH)[0], 423, "PROPPATCH without the token")
        eq(d.req("LOCK", "/dav/doc.txt", body=LOCKINFO)[0], 423, "a second exclusive lock")
        eq(d.req("COPY", "/dav/doc.txt", headers={"Destination": "/dav/copy.txt"})[0], 201,
           "a COPY of a locked document (reading it)")
        with open(d.fs("doc.txt"), "rb") as f:
            eq(f.read(), b"v1", "the locked document unchanged")
        # A wrong token: the If header does not hold (412); a token of
        # another resource does not unlock this one (409).
        eq(d.req("PUT", "/dav/doc.txt", body=b"v2",
                 headers={"If": "(<urn:uuid:00000000-0000-4000-8000-000000000000>)"})[0], 412,
           "PUT with a token that is no lock's")
        eq(d.req("UNLOCK", "/dav/copy.txt", headers={"Lock-Token": "<%s>" % token})[0], 409,
           "UNLOCK of another resource")
        # Lockdiscovery in PROPFIND, and after a restart.
        d.srv.stop()
        d.c.close()
        d.srv.cleanup()
        d = Dav(confdir=confdir)
        q = b'<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>'
        st, _, body = d.req("PROPFIND", "/dav/doc.txt", body=q, headers={"Depth": "0"})
        p = _responses(body)["/dav/doc.txt"]
        al = p[D + "lockdiscovery"][1].find(D + "activelock")
        check(al is not None, "the lock after a restart")
        eq(al.find(D + "locktoken/" + D + "href").text, token, "its token")
        eq(al.find(D + "owner/" + D + "href").text, "mailto:alice@example.com", "its owner")
        eq(len(p[D + "supportedlock"][1].findall(D + "lockentry")), 2, "exclusive and shared")
        eq(d.req("PUT", "/dav/doc.txt", body=b"v2")[0], 423, "still locked after a restart")
        # With the token: the write, a refresh, the unlock.
        eq(d.req("PUT", "/dav/doc.txt", body=b"v2", headers={"If": "(<%s>)" % token})[0], 204,
           "PUT with the token")
        st, _, body = d.req("LOCK", "/dav/doc.txt",
                            headers={"If": "(<%s>)" % token, "Timeout": "Second-60"})
        eq(st, 200, "a refresh")
        check(b"Second-60" in body, "the refreshed timeout: %r" % body)
        eq(d.req("UNLOCK", "/dav/doc.txt", headers={"Lock-Token": "<%s>" % token})[0], 204,
           "UNLOCK")
        eq(d.req("DELETE", "/dav/doc.txt")[0], 204, "DELETE once unlocked")
        # A lock on nothing makes an empty document (201); its collection's
        # depth-infinity lock covers what is made in it.
        st, h, _ = d.req("LOCK", "/dav/new.txt", body=LOCKINFO)
        eq(st, 201, "LOCK of an unmapped URL")
        eq(os.path.getsize(d.fs("new.txt")), 0, "an empty document made")
        eq(d.req("MKCOL", "/dav/col/")[0], 201, "MKCOL")
        st, h, _ = d.req("LOCK", "/dav/col/", body=LOCKINFO)
        eq(st, 200, "LOCK of a collection, Depth infinity")
        ctok = h["lock-token"]
        eq(d.req("PUT", "/dav/col/a.txt", body=b"a")[0], 423, "PUT into a locked collection")
        eq(d.req("PUT", "/dav/col/a.txt", body=b"a", headers={"If": "(%s)" % ctok})[0], 201,
           "PUT into it with the token")
        eq(d.req("LOCK", "/dav/col/a.txt", body=LOCKINFO)[0], 423, "a lock inside an exclusive one")
        eq(d.req("DELETE", "/dav/col/", headers={"If": "(%s)" % ctok})[0], 204,
           "DELETE of the locked collection with its token")
        eq(d.req("PUT", "/dav/col2.txt", body=b"x")[0], 201, "the lock went with the collection")
        d.stop()
    finally:
        d.cleanup()
        confdir.cleanup()


def test_copy_and_move_where_the_filesystem_cannot_rename_without_replacing(ctx):
    """NFS, and ZFS before 2.2, answer renameat2 RENAME_NOREPLACE and
    RENAME_EXCHANGE with EINVAL (here a seccomp filter does): a document
    still moves and copies to a free name, by a hard link, and moves over
    another by a plain rename; what cannot be done there (a collection to a
    free name, a copy over an existing document) is a 500 that says why,
    never the 403 of a move into its own subtree."""
    refuse = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refuse_syscall.py")
    d = Dav(prefix=(sys.executable, refuse, "renameat2", "EINVAL"))
    try:
        eq(d.req("PUT", "/dav/a.txt", b"moved by a link\n")[0], 201, "PUT")
        eq(d.req("MOVE", "/dav/a.txt", headers={"Destination": "/dav/b.txt",
                                                 "Overwrite": "F"})[0], 201, "MOVE of a document")
        check(not os.path.exists(d.fs("a.txt")), "the source is gone")
        eq(d.req("GET", "/dav/b.txt")[2], b"moved by a link\n", "the document MOVE made")
        eq(d.req("COPY", "/dav/b.txt", headers={"Destination": "/dav/c.txt",
                                                 "Overwrite": "F"})[0], 201, "COPY of a document")
        eq(d.req("GET", "/dav/c.txt")[2], b"moved by a link\n", "the document COPY made")
        eq(d.req("PUT", "/dav/c.txt", b"replaced?\n")[0], 204, "PUT over")
        st, _, body = d.req("COPY", "/dav/b.txt", headers={"Destination": "/dav/c.txt",
                                                            "Overwrite": "T"})
        eq(st, 500, "COPY over an existing document (an exchange)")
        check(b"atomically" in body, "the answer says why: %r" % body)
        eq(d.req("GET", "/dav/c.txt")[2], b"replaced?\n", "what was there is as it was")
        eq(d.req("MOVE", "/dav/b.txt", headers={"Destination": "/dav/c.txt",
                                                 "Overwrite": "T"})[0], 204,
           "MOVE of a document over another (a plain rename)")
        eq(d.req("GET", "/dav/c.txt")[2], b"moved by a link\n", "the document MOVE put there")
        eq(d.req("MKCOL", "/dav/col/")[0], 201, "MKCOL")
        st, _, body = d.req("MOVE", "/dav/col/", headers={"Destination": "/dav/col2/",
                                                          "Overwrite": "F"})
        eq(st, 500, "MOVE of a collection")
        check(b"atomically" in body, "the answer says why: %r" % body)
        check(os.path.isdir(d.fs("col")), "the collection is where it was")
        d.stop()
    finally:
        d.cleanup()
