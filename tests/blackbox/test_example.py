"""The embedding example (examples/hello.c): its own handler for /hello and
static files from ROOT for every other path."""

import os

import harness
from harness import FILE_TXT, SERVING_RE, check, check_common, check_ok_file, eq, get

HELLO = b"Hello from an embedded htd\n"


def start_example(ctx):
    binary = os.path.join(harness.EXAMPLES, "hello")
    if not os.access(binary, os.X_OK):
        harness.fail("example binary %s not found (make builds it)" % binary)
    return harness.Server([binary, ctx.root.path, "127.0.0.1:0"])


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
