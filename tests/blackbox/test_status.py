# SPDX-License-Identifier: BSD-2-Clause
"""One representative request for every status code htd's core answers with:
200 204 206 301 304 400 403 404 405 412 414 416 431 501 505, with the headers
that every response carries."""

from harness import (ALLOW, FILE_TXT, LETTERS, check, check_common, check_error,
                     check_ok_file, connect, eq, exchange, get, req)


def test_200_get_file_exact_bytes_and_headers(ctx):
    r = get(ctx.srv, "/file.txt")
    check_ok_file(r, FILE_TXT, "text/plain; charset=utf-8")


def test_200_head_same_headers_no_body(ctx):
    g = get(ctx.srv, "/file.txt")
    c = connect(ctx.srv)
    c.send(req("/file.txt", "HEAD") + req("/letters.txt"))
    h = c.read_response("HEAD")
    check_ok_file(h, FILE_TXT, "text/plain; charset=utf-8", method="HEAD")
    for name in ("Content-Length", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
        eq(h.get(name), g.get(name), "HEAD vs GET " + name)
    # Had HEAD sent a body, it would show up in front of the next response.
    nxt = c.read_response()
    check_ok_file(nxt, LETTERS)
    c.close()


def test_204_options_file_has_allow(ctx):
    r = get(ctx.srv, "/file.txt", "OPTIONS")
    eq(r.status, 204, "status")
    check_common(r)
    eq(r.get("Allow"), ALLOW, "Allow")
    eq(r.body, b"", "body")


def test_204_options_asterisk(ctx):
    r = get(ctx.srv, "*", "OPTIONS")
    eq(r.status, 204, "status")
    check_common(r)


def test_206_single_range(ctx):
    r = get(ctx.srv, "/letters.txt", headers=[("Range", "bytes=0-9")])
    eq(r.status, 206, "status")
    check_common(r)
    eq(r.get("Content-Range"), "bytes 0-9/%d" % len(LETTERS), "Content-Range")
    eq(r.get("Content-Length"), "10", "Content-Length")
    eq(r.body, LETTERS[0:10], "body")


def test_301_directory_without_slash(ctx):
    r = get(ctx.srv, "/sub")
    eq(r.status, 301, "status")
    check_common(r)
    eq(r.get("Location"), "/sub/", "Location")


def test_304_if_none_match(ctx):
    et = get(ctx.srv, "/file.txt").get("ETag")
    r = get(ctx.srv, "/file.txt", headers=[("If-None-Match", et)])
    eq(r.status, 304, "status")
    check_common(r)
    eq(r.get("ETag"), et, "ETag on 304")


def test_400_malformed_request_line(ctx):
    r, c = exchange(ctx.srv, b"HELLO\r\n\r\n")
    check_error(r, 400)
    eq(r.get("Connection"), "close", "Connection")
    check(c.at_eof(), "connection not closed after 400")
    c.close()


def test_403_dotfile(ctx):
    check_error(get(ctx.srv, "/.secret"), 403)


def test_404_missing(ctx):
    check_error(get(ctx.srv, "/no-such-file.txt"), 404)


def test_405_post_to_file(ctx):
    r = get(ctx.srv, "/file.txt", "POST", headers=[("Content-Length", "0")])
    check_error(r, 405)
    eq(r.get("Allow"), ALLOW, "Allow")


def test_412_if_match_other(ctx):
    check_error(get(ctx.srv, "/file.txt", headers=[("If-Match", '"other"')]), 412)


def test_414_uri_too_long(ctx):
    r, c = exchange(ctx.srv, req("/" + "a" * 9000))
    check_error(r, 414)
    c.close()


def test_416_range_not_satisfiable(ctx):
    r = get(ctx.srv, "/letters.txt", headers=[("Range", "bytes=%d-" % len(LETTERS))])
    check_error(r, 416)
    eq(r.get("Content-Range"), "bytes */%d" % len(LETTERS), "Content-Range")


def test_431_too_many_headers(ctx):
    hs = [("X-Field-%d" % i, "v") for i in range(70)]
    r, c = exchange(ctx.srv, req("/file.txt", headers=hs))
    check_error(r, 431)
    c.close()


def test_501_unknown_method(ctx):
    r, c = exchange(ctx.srv, b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")
    check_error(r, 501)
    c.close()


def test_505_http_2_0(ctx):
    r, c = exchange(ctx.srv, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    check_error(r, 505)
    c.close()
