# SPDX-License-Identifier: BSD-2-Clause
"""WebDAV and SIGKILL: htd killed at moments through a COPY of a large tree,
a MOVE over a large tree and a PROPPATCH of many properties, then started
again. Each time the destination is the old tree whole or the new one
whole, the source whole unless it moved, the properties all set or none,
and no temporary tree is left after the restart."""

import http.client
import os
import signal
import socket
import time

import harness
from harness import check, eq

CONF = """root = "root";
writable = ["/dav/"];
webdav = true;
state_db = "state.db";
"""

NFILES = 600


def _tree(base, tag):
    """NFILES documents in 20 folders, each naming its tree and place."""
    for i in range(NFILES):
        d = os.path.join(base, "d%02d" % (i % 20))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%04d.txt" % i), "wb") as f:
            f.write(b"%s %d\n" % (tag, i) * 20)


def _read_tree(base):
    """{relative path: bytes} of every document below base, or None."""
    if not os.path.isdir(base):
        return None
    out = {}
    for dirpath, dirs, files in os.walk(base):
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, base)] = f.read()
    return out


def _send(addr, head):
    """Sends a request and leaves without waiting: the kill comes meanwhile."""
    s = socket.create_connection(addr, timeout=harness.TIMEOUT)
    s.sendall(head)
    return s


def _start(confdir):
    return harness.start_htd_config(CONF, confdir=confdir)


def _killed_during(confdir, head, delay, before=None):
    """Starts htd (and runs before(srv) if given), sends head, SIGKILLs it
    delay seconds later, and starts it again (which cleans what the kill
    left): the new server."""
    srv = _start(confdir)
    if before:
        before(srv)
    s = _send(srv.addrs[0], head)
    time.sleep(delay)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    s.close()
    srv.cleanup()
    return _start(confdir)


def _leftovers(root):
    found = []
    for dirpath, dirs, files in os.walk(root):
        found += [n for n in dirs + files if n.startswith(".htd-tmp-")]
    return found


def test_sigkill_through_copy_and_move_of_a_large_tree(ctx):
    confdir = harness.ConfDir()
    area = confdir.mkdir("root/dav")
    _tree(os.path.join(area, "src"), b"src")
    want_src = _read_tree(os.path.join(area, "src"))
    eq(len(want_src), NFILES, "documents made")
    srv = None
    try:
        for round_, delay in enumerate((0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08)):
            # A COPY over an old destination, killed after delay.
            _tree(os.path.join(area, "old"), b"old")
            want_old = _read_tree(os.path.join(area, "old"))
            srv = _killed_during(confdir, b"COPY /dav/src/ HTTP/1.1\r\nHost: localhost\r\n"
                                          b"Destination: /dav/old/\r\nOverwrite: T\r\n\r\n", delay)
            got = _read_tree(os.path.join(area, "old"))
            check(got == want_old or got == want_src,
                  "COPY killed after %.3f s: the destination is neither tree whole (%d documents)"
                  % (delay, len(got or {})))
            eq(_read_tree(os.path.join(area, "src")), want_src, "the COPY's source")
            eq(_leftovers(area), [], "temporary trees after the restart")
            srv.stop()
            srv.cleanup()
            srv = None
            # A MOVE over a destination tree, killed after delay.
            os.system("rm -rf '%s'" % os.path.join(area, "old"))
            _tree(os.path.join(area, "dst"), b"dst")
            want_dst = _read_tree(os.path.join(area, "dst"))
            srv = _killed_during(confdir, b"MOVE /dav/src/ HTTP/1.1\r\nHost: localhost\r\n"
                                          b"Destination: /dav/dst/\r\nOverwrite: T\r\n\r\n", delay)
            dst = _read_tree(os.path.join(area, "dst"))
            src = _read_tree(os.path.join(area, "src"))
            moved = dst == want_src and src is None
            check(moved or (dst == want_dst and src == want_src),
                  "MOVE killed after %.3f s: source %s, destination %s" %
                  (delay, "whole" if src == want_src else "gone" if src is None else "partial",
                   "new" if dst == want_src else "old" if dst == want_dst else "partial"))
            eq(_leftovers(area), [], "temporary trees after the restart")
            srv.stop()
            srv.cleanup()
            srv = None
            # Back to the start for the next round.
            if moved:
                os.rename(os.path.join(area, "dst"), os.path.join(area, "src"))
            else:
                os.system("rm -rf '%s'" % os.path.join(area, "dst"))
    finally:
        if srv:
            srv.cleanup()
        confdir.cleanup()


def test_sigkill_through_proppatch_leaves_all_or_none(ctx):
    confdir = harness.ConfDir()
    area = confdir.mkdir("root/dav")
    with open(os.path.join(area, "doc.txt"), "wb") as f:
        f.write(b"doc")
    n = 300
    body = (b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:crash"><D:set><D:prop>' +
            b"".join(b"<Z:p%d>%s</Z:p%d>" % (i, b"v" * 200, i) for i in range(n)) +
            b"</D:prop></D:set></D:propertyupdate>")
    ask = (b'<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>')

    def clear(srv):
        c = http.client.HTTPConnection(*srv.addrs[0], timeout=harness.TIMEOUT)
        c.request("PROPPATCH", "/dav/doc.txt",
                  body=(b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:crash"><D:remove><D:prop>' +
                        b"".join(b"<Z:p%d/>" % i for i in range(n)) +
                        b"</D:prop></D:remove></D:propertyupdate>"))
        r = c.getresponse()
        r.read()
        eq(r.status, 207, "clearing the properties")
        c.close()

    srv = None
    try:
        for delay in (0.0, 0.001, 0.003, 0.006, 0.012, 0.03):
            srv = _killed_during(confdir, b"PROPPATCH /dav/doc.txt HTTP/1.1\r\nHost: localhost\r\n"
                                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
                                 delay, before=clear)
            c = http.client.HTTPConnection(*srv.addrs[0], timeout=harness.TIMEOUT)
            c.request("PROPFIND", "/dav/doc.txt", body=ask, headers={"Depth": "0"})
            r = c.getresponse()
            data = r.read()
            c.close()
            eq(r.status, 207, "PROPFIND after the restart")
            count = data.count(b"urn:crash")
            check(count in (0, n), "properties after a kill %.3f s into a PROPPATCH: %d of %d"
                  % (delay, count, n))
            srv.stop()
            srv.cleanup()
            srv = None
    finally:
        if srv:
            srv.cleanup()
        confdir.cleanup()


def test_a_move_killed_between_its_exchange_and_its_rename_aside_is_finished_at_start(ctx):
    """A MOVE over a collection exchanges the two, then renames the old
    destination aside from the source's place. Killed between the two, the
    old destination would stand under the source's name; the mark put in it
    before the exchange has the next start remove it there. The same mark
    found where the tree still is the destination (killed before the
    exchange) goes alone. Both states are made here as a kill leaves them,
    and a real MOVE over a collection then leaves no mark."""
    confdir = harness.ConfDir()
    area = confdir.mkdir("root/dav")
    st = os.stat(area)
    mark = "%d %d src\n" % (st.st_dev, st.st_ino)
    # killed after the exchange: the old destination, marked, at src
    _tree(os.path.join(area, "src"), b"old-dst")
    with open(os.path.join(area, "src", ".htd-tmp-doomed-0011223344556677-1"), "w") as f:
        f.write(mark)
    # killed before another exchange: the destination, marked, still at dst2
    _tree(os.path.join(area, "dst2"), b"dst2")
    want_dst2 = _read_tree(os.path.join(area, "dst2"))
    with open(os.path.join(area, "dst2", ".htd-tmp-doomed-8899aabbccddeeff-2"), "w") as f:
        f.write(mark)
    # a mark naming another directory's place dooms nothing
    _tree(os.path.join(area, "keep"), b"keep")
    want_keep = _read_tree(os.path.join(area, "keep"))
    with open(os.path.join(area, "keep", ".htd-tmp-doomed-0000000000000000-3"), "w") as f:
        f.write("%d %d keep\n" % (st.st_dev, st.st_ino + 1))
    srv = _start(confdir)
    try:
        eq(_read_tree(os.path.join(area, "src")), None, "the doomed tree at the source's place")
        eq(_read_tree(os.path.join(area, "dst2")), want_dst2, "the destination that was not exchanged")
        eq(_read_tree(os.path.join(area, "keep")), want_keep, "a tree another place's mark names")
        eq(_leftovers(area), [], "marks after the start")
        # A real MOVE over a collection: the new tree there, no mark in it.
        _tree(os.path.join(area, "a"), b"a")
        want_a = _read_tree(os.path.join(area, "a"))
        c = http.client.HTTPConnection(*srv.addrs[0], timeout=harness.TIMEOUT)
        c.request("MOVE", "/dav/a/", headers={"Destination": "/dav/dst2/", "Overwrite": "T"})
        r = c.getresponse()
        r.read()
        c.close()
        eq(r.status, 204, "MOVE over a collection")
        eq((_read_tree(os.path.join(area, "dst2")), _read_tree(os.path.join(area, "a"))), (want_a, None),
           "the moved tree")
        eq(_leftovers(area), [], "temporary names after the MOVE")
        srv.stop()
    finally:
        srv.cleanup()
        confdir.cleanup()
