# SPDX-License-Identifier: BSD-2-Clause
"""The embedding example (examples/hello.c): its own handlers for /hello,
/echo and /request, and static files from ROOT for every other path."""

import os
import time

import harness
from harness import FILE_TXT, SERVING_RE, check, check_common, check_ok_file, eq, get

HELLO = b"Hello from an embedded htd\n"


def start_example(ctx):
    return harness.start_example("hello", ctx.root.path)


def test_example_hello(ctx):
    srv = start_example(ctx)
    try:
        m = SERVING_RE.match(srv.serving_line)
        check(m is not None, "serving line %r not in htd's form" % srv.serving_line)
        eq(m.group(1), ctx.root.path, "root in the serving line")

        r = get(srv, "/hello")
        eq(r.status, 200, "status of /hello")
        check_common(r)
        check((r.get("Content-Type") or "").startswith("text/plain"),
              "Content-Type of /hello: %r" % r.get("Content-Type"))
        eq(r.body, HELLO, "body of /hello")

        h = get(srv, "/hello", "HEAD")
        eq(h.status, 200, "status of HEAD /hello")
        eq(h.get("Content-Length"), str(len(HELLO)), "Content-Length of HEAD /hello")

        check_ok_file(get(srv, "/file.txt"), FILE_TXT, "text/plain; charset=utf-8")
        eq(get(srv, "/nope.txt").status, 404, "status of a missing static file")
        srv.check_health()
        eq(srv.stop(), 0, "exit status of the example after SIGTERM")
        rep = srv.sanitizer_report()
        check(rep is None, "sanitizer report:\n%s" % rep)
    finally:
        srv.cleanup()


def test_example_head_hello_has_no_body(ctx):
    srv = start_example(ctx)
    try:
        c = harness.connect(srv)
        c.send(harness.req("/hello", "HEAD") + harness.req("/hello"))
        h = c.read_response("HEAD")
        eq(h.status, 200, "status of HEAD /hello")
        r = c.read_response()
        eq(r.status, 200, "status of GET /hello after HEAD (a HEAD body would break it)")
        eq(r.body, HELLO, "body of /hello")
        c.close()
        srv.check_health()
    finally:
        srv.cleanup()


def test_access_handler_refuses_or_lets_go_on_before_content_and_files(ctx):
    ctx.root.write("private/doc.txt", b"the private doc\n")
    srv = start_example(ctx)
    try:
        key = [("X-Key", "sesame")]
        c = harness.connect(srv)
        # Refused in the access phase, before the content handler or the file.
        for path in ("/hello/private", "/hello/private/x", "/private/doc.txt"):
            c.send(harness.req(path))
            r = c.read_response()
            eq((r.status, r.body), (403, b"this needs the key\n"), "status and body of %s" % path)
            check_common(r)
        # With the key it goes on: to the content handler, and to the file.
        c.send(harness.req("/hello/private", headers=key) + harness.req("/private/doc.txt", headers=key))
        r = c.read_response()
        eq((r.status, r.body), (200, HELLO), "/hello/private with the key")
        check_ok_file(c.read_response(), b"the private doc\n", "text/plain; charset=utf-8")
        # Paths outside the guarded prefixes never meet the guard.
        c.send(harness.req("/hello") + harness.req("/privateer"))
        eq(c.read_response().body, HELLO, "/hello is not guarded")
        eq(c.read_response().status, 404, "/privateer is not under /private")
        c.close()
        srv.check_health()
    finally:
        srv.cleanup()


def test_streamed_response_chunked_piece_by_piece_and_a_file_by_sendfile(ctx):
    with harness.stops_cleanly(start_example(ctx)) as srv:
        c = harness.connect(srv)
        # Streamed: chunked, then the next pipelined request is answered.
        c.send(harness.req("/count?3") + harness.req("/count?1000") + harness.req("/hello"))
        r = c.read_response()
        eq(r.status, 200, "status of /count?3")
        check_common(r)
        check(r.chunked and r.get("Content-Length") is None, "a streamed body is chunked")
        eq(r.body, b"line 1\nline 2\nline 3\n", "body of /count?3")
        r = c.read_response()
        eq(r.body, b"".join(b"line %d\n" % i for i in range(1, 1001)), "body of /count?1000")
        eq(c.read_response().body, HELLO, "the request after the streams")
        # HEAD: the head alone.
        c.send(harness.req("/count?3", "HEAD"))
        h = c.read_response("HEAD")
        eq((h.status, h.body), (200, b""), "HEAD of a stream")
        # A file by sendfile through the handler API, with its length.
        c.send(harness.req("/sendfile/file.txt") + harness.req("/sendfile/nope.txt"))
        r = c.read_response()
        eq((r.status, r.body), (200, FILE_TXT), "/sendfile/file.txt")
        eq(r.get("Content-Length"), str(len(FILE_TXT)), "its Content-Length")
        eq(c.read_response().status, 404, "a file that is not there")
        c.close()
        # HTTP/1.0: the body ends with the connection.
        c = harness.connect(srv)
        c.send(harness.req("/count?2", version="HTTP/1.0"))
        r = c.read_response()
        eq((r.status, r.body), (200, b"line 1\nline 2\n"), "a stream to HTTP/1.0")
        check(c.at_eof(), "the connection ends the HTTP/1.0 stream")
        c.close()
        # A client that goes mid-stream leaves the server sane.
        for _ in range(5):
            g = harness.connect(srv)
            g.send(harness.req("/count?1000000"))
            g.read_line()
            g.close()
        eq(get(srv, "/hello").body, HELLO, "served after clients left mid-stream")
        srv.check_health()


def test_routes_match_whole_segments(ctx):
    # The handler for /hello takes /hello and /hello/..., never /helloworld
    # (which falls to the static files: 404 here); /echo likewise.
    def body(srv):
        for path in ("/hello", "/hello/", "/hello/x", "/hello/x/y.txt"):
            r = get(srv, path)
            eq((r.status, r.body), (200, HELLO), "the /hello handler for %s" % path)
        for path in ("/helloworld", "/hello.txt", "/hell"):
            r = get(srv, path)
            eq(r.status, 404, "status of %s, which no handler takes" % path)
            check(r.body != HELLO, "the /hello handler answered %s" % path)
        r, c = harness.exchange(srv, harness.req("/echoes", "POST", [("Content-Length", "2")]) + b"hi")
        eq(r.status, 405, "POST /echoes is the static handler's, not /echo's")
        c.close()
    _with_example(ctx, body)


def _with_example(ctx, fn):
    srv = start_example(ctx)
    try:
        fn(srv)
        srv.check_health()
        eq(srv.stop(), 0, "exit status of the example after SIGTERM")
        check(srv.sanitizer_report() is None, "sanitizer report")
    finally:
        srv.cleanup()


def test_handler_gets_the_whole_body(ctx):
    def body(srv):
        data = os.urandom(300000)
        c = harness.connect(srv)
        c.send(harness.req("/echo", "POST", [("Content-Length", str(len(data)))]) + data)
        r = c.read_response()
        eq(r.status, 200, "status")
        eq(r.body, data, "echoed body")
        # the same connection goes on
        c.send(harness.req("/hello"))
        eq(c.read_response().body, HELLO, "next request on the connection")
        c.close()
    _with_example(ctx, body)


def test_handler_gets_a_dechunked_body(ctx):
    def body(srv):
        c = harness.connect(srv)
        c.send(harness.req("/echo", "POST", [("Transfer-Encoding", "chunked")])
               + b"5;name=value\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n"
               + harness.req("/hello"))
        r = c.read_response()
        eq(r.status, 200, "status")
        eq(r.body, b"hello world!", "de-chunked body")
        eq(c.read_response().body, HELLO, "pipelined request after the chunked body")
        c.close()
    _with_example(ctx, body)


def test_100_continue_before_a_wanted_body(ctx):
    def body(srv):
        c = harness.connect(srv)
        c.send(harness.req("/echo", "POST", [("Content-Length", "5"), ("Expect", "100-continue")]))
        r = c.read_response()
        eq(r.status, 100, "interim response before the body is sent")
        c.send(b"abcde")
        r = c.read_response()
        eq(r.status, 200, "final status")
        eq(r.body, b"abcde", "body")
        c.close()
    _with_example(ctx, body)


def test_413_for_a_body_over_the_limit(ctx):
    def body(srv):
        r, c = harness.exchange(srv, harness.req("/echo", "POST", [("Content-Length", str(2 << 20))]))
        eq(r.status, 413, "declared too large")
        eq(r.get("Connection"), "close", "Connection")
        c.close()
        c = harness.connect(srv)
        c.send(harness.req("/echo", "POST", [("Transfer-Encoding", "chunked")]))
        chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
        try:
            for _ in range(2):
                c.send(chunk)
        except OSError:
            pass  # the server may stop reading once it has answered
        r = c.read_response()
        eq(r.status, 413, "chunked body that runs over")
        c.close()
    _with_example(ctx, body)


def test_body_after_a_read_that_filled_the_buffer(ctx):
    """The head kept for the handler survives a read that filled the read
    buffer exactly (htd's buffer is 16 KiB), with and without a pipelined
    request before it."""
    def body(srv):
        for prefix in (b"", harness.req("/hello")):
            head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            first = 16384 - len(prefix) - len(head % 99999)
            h = head % (first + 100)
            first = 16384 - len(prefix) - len(h)
            h = head % (first + 100)
            c = harness.connect(srv, nodelay=True)
            c.send(prefix + h + b"B" * first)
            time.sleep(0.3)
            c.send(b"C" * 100)
            if prefix:
                eq(c.read_response().body, HELLO, "the pipelined request first")
            r = c.read_response()
            eq(r.status, 200, "status")
            eq(r.body, b"B" * first + b"C" * 100, "echoed body")
            c.close()
    _with_example(ctx, body)


# A config with two vhosts for the example, whose /request handler says what
# htd told it of each request: the vhost is the first of its names as written.
VHOSTS_CONF = """
vhosts = (
  { names = ["example.test", "www.example.test"]; root = "site"; },
  { names = ["*.wild.test"]; root = "site"; }
);
"""


def _request_echo(fields, headers):
    """The body /request answers: NAME=VALUE lines, an empty line, the fields."""
    return "".join("%s=%s\n" % f for f in fields).encode() + b"\n" + \
        "".join("%s: %s\n" % h for h in headers).encode("latin-1")


def test_handler_reads_method_target_version_hosts_peer_and_fields_in_order(ctx):
    cd = harness.ConfDir({"site/index.html": b"vhost\n"})
    try:
        srv = harness.start_example("hello", ctx.root.path, cd.write_conf(VHOSTS_CONF))
        with harness.stops_cleanly(srv):
            _check_request_echoes(srv)
    finally:
        cd.cleanup()


def _check_request_echoes(srv):
    c = harness.connect(srv)
    # A vhost by a Host with a port, in another case; a repeated field twice
    # in its place; names as sent, values without their spaces.
    c.send(b"GET /request/x?y=%41 HTTP/1.1\r\nHost: WWW.Example.test:8080\r\nX-B: 1\r\n"
           b"x-a:  two \r\nX-B: 3\r\n\r\n")
    r = c.read_response()
    eq(r.status, 200, "status of /request")
    eq(r.get("Content-Type"), "text/plain; charset=utf-8", "Content-Type of /request")
    eq(r.body, _request_echo(
        [("method", "GET"), ("target", "/request/x?y=%41"), ("version", "11"),
         ("host", "WWW.Example.test:8080"), ("vhost", "example.test"), ("peer", "127.0.0.1")],
        [("Host", "WWW.Example.test:8080"), ("X-B", "1"), ("x-a", "two"), ("X-B", "3")]),
        "what the handler was told, on a vhost by name")
    # An absolute-form target names the host, over the Host field; a
    # wildcard vhost; the same connection.
    c.send(b"GET http://a.wild.test/request HTTP/1.1\r\nHost: example.test\r\n\r\n")
    eq(c.read_response().body, _request_echo(
        [("method", "GET"), ("target", "http://a.wild.test/request"), ("version", "11"),
         ("host", "a.wild.test"), ("vhost", "*.wild.test"), ("peer", "127.0.0.1")],
        [("Host", "example.test")]), "what the handler was told, on a wildcard vhost")
    # HTTP/1.0 without Host: the top-level server, no host, no fields.
    c.send(b"GET /request HTTP/1.0\r\n\r\n")
    eq(c.read_response().body, _request_echo(
        [("method", "GET"), ("target", "/request"), ("version", "10"), ("host", ""),
         ("vhost", ""), ("peer", "127.0.0.1")], []),
        "what the handler was told, on the top-level server")
    c.close()
    # A host no vhost names is the top-level server's too.
    eq(get(srv, "/request", host="other.test").body, _request_echo(
        [("method", "GET"), ("target", "/request"), ("version", "11"), ("host", "other.test"),
         ("vhost", ""), ("peer", "127.0.0.1")], [("Host", "other.test")]),
        "what the handler was told, for a host no vhost names")


def test_content_order_from_the_config(ctx):
    # Files asked before the program's handlers: /hello is a file that is
    # not there (404), no longer the handler's.
    cd = harness.ConfDir()
    try:
        conf = cd.write_conf('content_order = ["cgi", "static"];\n')
        with harness.stops_cleanly(harness.start_example("hello", ctx.root.path, conf)) as srv:
            eq(get(srv, "/hello").status, 404, "/hello with static files asked first")
            check_ok_file(get(srv, "/file.txt"), FILE_TXT, "text/plain; charset=utf-8")
            eq(get(srv, "/echo", "POST", body=b"x").status, 405, "POST /echo goes to the files too")
        # Unknown names, and static files before scripts, are refused.
        for order, says in (('["nope"]', "no content module 'nope'"),
                            ('["static", "cgi"]', "static before cgi")):
            conf = cd.write_conf("content_order = %s;\n" % order)
            srv = harness.Server([os.path.join(harness.EXAMPLES, "hello"), ctx.root.path,
                                  "127.0.0.1:0", conf], serving_line=False)
            try:
                eq(srv.wait(timeout=10), 2, "exit status for content_order = %s" % order)
                check(says in srv.stderr(), "the error names the problem: %r" % srv.stderr())
            finally:
                srv.cleanup()
            # htd --check-config names the line.
            p = harness.run_htd(["--check-config", conf])
            eq(p.returncode, 2, "--check-config's exit status for content_order = %s" % order)
            err = p.stderr.decode()
            check(("%s:1: content_order: " % conf) in err and says in err,
                  "--check-config names the file, line and problem: %r" % err)
    finally:
        cd.cleanup()


def test_handler_takes_the_body_as_it_comes(ctx):
    def body(srv):
        big = bytes(range(256)) * 16384  # 4 MiB: past max_body, which a streamed body has not
        want = b"%d bytes, sum %d\n" % (len(big), sum(big))
        c = harness.connect(srv)
        c.send(harness.req("/measure", "POST", [("Content-Length", str(len(big)))]) + big
               + harness.req("/hello"))
        r = c.read_response()
        eq((r.status, r.body), (200, want), "a 4 MiB body measured as it came")
        eq(c.read_response().body, HELLO, "the request after it")
        # Chunked, de-chunked piece by piece.
        c.send(harness.req("/measure", "POST", [("Transfer-Encoding", "chunked")])
               + b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
        r = c.read_response()
        eq((r.status, r.body), (200, b"5 bytes, sum %d\n" % sum(b"abcde")), "a chunked body")
        # No body at all: the end alone.
        c.send(harness.req("/measure", "POST", [("Content-Length", "0")]))
        eq(c.read_response().body, b"0 bytes, sum 0\n", "an empty body")
        # Answered before the end: the rest is dropped and the connection goes on.
        c.send(harness.req("/measure?1000", "POST", [("Content-Length", "5000")]) + b"x" * 5000
               + harness.req("/hello"))
        r = c.read_response()
        eq((r.status, r.body), (413, b"too large\n"), "answered before the body's end")
        eq(c.read_response().body, HELLO, "the request after the dropped rest")
        # 100 Continue before the body.
        c.send(harness.req("/measure", "POST", [("Content-Length", "3"),
                                                ("Expect", "100-continue")]))
        eq(c.read_line(), b"HTTP/1.1 100 Continue\r\n", "100 Continue")
        eq(c.read_line(), b"\r\n", "its empty line")
        c.send(b"xyz")
        eq(c.read_response().body, b"3 bytes, sum %d\n" % sum(b"xyz"), "the body after it")
        c.close()
        # A client that leaves mid-body leaves the server sane.
        g = harness.connect(srv)
        g.send(harness.req("/measure", "POST", [("Content-Length", "100000")]) + b"y" * 1000)
        g.close()
        eq(get(srv, "/hello").body, HELLO, "served after a client left mid-body")
    _with_example(ctx, body)
