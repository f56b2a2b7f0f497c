# SPDX-License-Identifier: BSD-2-Clause
"""A response compressed as it goes through the proxy, from an upstream that
pauses longer than the client's send timeout: the pieces yield their turn of
the loop, and the connection then waits on the upstream under the proxy's
read timeout, not on the client under the send timeout (a yield once armed
the send timer, which cut such streams short)."""

import gzip
import socket
import threading

import harness
from harness import check, connect, eq, req

PART = b"".join(b"line %06d of a text the proxy compresses as it goes\n" % i for i in range(40000))


def _upstream(pause):
    """One connection, one request: a chunked text in two parts, pause
    seconds apart. Returns (port, thread)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)

    def serve():
        c, _ = ls.accept()
        ls.close()
        with c:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            c.sendall(b"%x\r\n%s\r\n" % (len(PART), PART))
            threading.Event().wait(pause)
            c.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(PART), PART))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return ls.getsockname()[1], t


def test_a_compressed_stream_waits_on_its_upstream_past_the_send_timeout(ctx):
    port, t = _upstream(2.5)
    conf = ('root = "www";\nsend_timeout = 1;\ngzip = true;\n'
            'upstreams = ( { name = "app"; servers = ["127.0.0.1:%d"]; read_timeout = 10; } );\n'
            'rules = ( { prefix = "/"; proxy = "app"; } );\n' % port)
    cd = harness.ConfDir({"www/x.txt": b"x\n"})
    srv = harness.start_htd_config(conf, confdir=cd, threads=1)
    try:
        c = connect(srv)
        c.send(req("/text", headers=[("Accept-Encoding", "gzip")]))
        r = c.read_response()
        c.close()
        eq((r.status, r.get("Content-Encoding")), (203, "gzip"), "compressed by the proxy")
        eq(gzip.decompress(r.body), PART + PART, "the whole text, after the upstream's pause")
        t.join(5)
        srv.check_health()
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
    finally:
        srv.cleanup()
        cd.cleanup()
