"""Byte ranges (RFC 9110 section 14): 206 with Content-Range for single,
suffix, open-ended and clipped ranges; multipart/byteranges for several;
If-Range; invalid Range ignored; 416 with Content-Range: bytes */LEN."""

import re

from harness import (LETTERS, check, check_common, check_error, check_ok_file, connect, eq,
                     get, req)

N = len(LETTERS)
PATH = "/letters.txt"
CTYPE = "text/plain; charset=utf-8"


def ranged(ctx, spec, extra=()):
    return get(ctx.srv, PATH, headers=[("Range", spec)] + list(extra))


def expect_206(ctx, spec, first, last, extra=()):
    # Pipeline a second request so that a wrong Content-Length shows up.
    c = connect(ctx.srv)
    c.send(req(PATH, headers=[("Range", spec)] + list(extra)) + req("/letters.txt"))
    r = c.read_response()
    nxt = c.read_response()
    c.close()
    eq(r.status, 206, "status for Range: %s" % spec)
    check_common(r)
    eq(r.get("Content-Range"), "bytes %d-%d/%d" % (first, last, N), "Content-Range")
    eq(r.get("Content-Length"), str(last - first + 1), "Content-Length")
    eq(r.get("Content-Type"), CTYPE, "Content-Type")
    eq(r.body, LETTERS[first:last + 1], "body")
    check_ok_file(nxt, LETTERS)
    return r


def test_206_first_ten_bytes(ctx):
    expect_206(ctx, "bytes=0-9", 0, 9)


def test_206_middle_single_byte(ctx):
    expect_206(ctx, "bytes=3-3", 3, 3)


def test_206_suffix(ctx):
    expect_206(ctx, "bytes=-5", N - 5, N - 1)


def test_206_open_ended(ctx):
    expect_206(ctx, "bytes=5-", 5, N - 1)


def test_206_last_clipped(ctx):
    expect_206(ctx, "bytes=0-99999999", 0, N - 1)


def test_206_suffix_longer_than_file(ctx):
    expect_206(ctx, "bytes=-1000", 0, N - 1)


def test_206_has_validators(ctx):
    r = expect_206(ctx, "bytes=0-9", 0, 9)
    full = get(ctx.srv, PATH)
    eq(r.get("ETag"), full.get("ETag"), "ETag")
    eq(r.get("Last-Modified"), full.get("Last-Modified"), "Last-Modified")


def parse_multipart(body, boundary):
    delim = b"--" + boundary
    pos = body.find(delim)
    check(pos >= 0, "no boundary %r in body %r" % (boundary, body[:200]))
    check(body[:pos].strip(b"\r\n") == b"", "unexpected preamble %r" % body[:pos])
    parts = []
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            check(body[pos + 2:].strip(b"\r\n") == b"", "junk after close delimiter")
            break
        eq(body[pos:pos + 2], b"\r\n", "bytes after a boundary")
        pos += 2
        hend = body.find(b"\r\n\r\n", pos)
        check(hend >= 0, "part headers not terminated")
        headers = {}
        for line in body[pos:hend].split(b"\r\n"):
            k, _, v = line.partition(b":")
            headers[k.decode().strip().lower()] = v.decode().strip()
        pos = hend + 4
        m = re.match(r"^bytes (\d+)-(\d+)/(\d+)$", headers.get("content-range", ""))
        check(m is not None, "bad part Content-Range in %r" % headers)
        a, b = int(m.group(1)), int(m.group(2))
        data = body[pos:pos + b - a + 1]
        pos += b - a + 1
        eq(body[pos:pos + 2 + len(delim)], b"\r\n" + delim, "bytes after a part")
        pos += 2
        parts.append((headers, a, b, int(m.group(3)), data))
    return parts


def expect_multipart(ctx, spec, want):
    c = connect(ctx.srv)
    c.send(req(PATH, headers=[("Range", spec)]) + req(PATH))
    r = c.read_response()
    nxt = c.read_response()
    c.close()
    eq(r.status, 206, "status")
    check_common(r)
    ct = r.get("Content-Type", "")
    m = re.match(r'^multipart/byteranges; ?boundary=("?)([^";]+)\1$', ct)
    check(m is not None, "Content-Type not multipart/byteranges: %r" % ct)
    check(not r.has("Content-Range"), "multipart response with a top-level Content-Range")
    eq(r.get("Content-Length"), str(len(r.body)), "Content-Length")
    parts = parse_multipart(r.body, m.group(2).encode())
    eq(len(parts), len(want), "number of parts")
    for (headers, a, b, total, data), (wa, wb) in zip(parts, want):
        eq(headers.get("content-type"), CTYPE, "part Content-Type")
        eq((a, b, total), (wa, wb, N), "part Content-Range")
        eq(data, LETTERS[wa:wb + 1], "part body")
    check_ok_file(nxt, LETTERS)


def test_206_two_ranges_multipart(ctx):
    expect_multipart(ctx, "bytes=0-1,4-5", [(0, 1), (4, 5)])


def test_206_three_ranges_multipart(ctx):
    expect_multipart(ctx, "bytes=0-0, 10-12, -3", [(0, 0), (10, 12), (N - 3, N - 1)])


def test_if_range_current_etag(ctx):
    et = get(ctx.srv, PATH).get("ETag")
    expect_206(ctx, "bytes=0-9", 0, 9, [("If-Range", et)])


def test_if_range_stale_etag_full(ctx):
    r = ranged(ctx, "bytes=0-9", [("If-Range", '"stale-etag"')])
    check_ok_file(r, LETTERS, CTYPE)
    check(not r.has("Content-Range"), "Content-Range on a full 200")


def test_if_range_last_modified_date(ctx):
    lm = get(ctx.srv, PATH).get("Last-Modified")
    expect_206(ctx, "bytes=0-9", 0, 9, [("If-Range", lm)])


def test_if_range_other_date_full(ctx):
    r = ranged(ctx, "bytes=0-9", [("If-Range", "Mon, 01 Jan 2001 00:00:00 GMT")])
    check_ok_file(r, LETTERS, CTYPE)


def test_invalid_range_abc_full(ctx):
    check_ok_file(ranged(ctx, "bytes=abc"), LETTERS, CTYPE)


def test_invalid_range_unit_full(ctx):
    check_ok_file(ranged(ctx, "items=0-1"), LETTERS, CTYPE)


def test_invalid_range_last_before_first_full(ctx):
    check_ok_file(ranged(ctx, "bytes=9-5"), LETTERS, CTYPE)


def test_416_start_at_size(ctx):
    r = ranged(ctx, "bytes=%d-" % N)
    check_error(r, 416)
    eq(r.get("Content-Range"), "bytes */%d" % N, "Content-Range")


def test_416_far_beyond_end(ctx):
    r = ranged(ctx, "bytes=99999-")
    check_error(r, 416)
    eq(r.get("Content-Range"), "bytes */%d" % N, "Content-Range")


def test_range_on_large_file(ctx):
    big = ctx.root.big
    off = 5 * 1024 * 1024 + 123
    r = get(ctx.srv, "/big.bin", headers=[("Range", "bytes=%d-%d" % (off, off + 99999))])
    eq(r.status, 206, "status")
    eq(r.get("Content-Range"), "bytes %d-%d/%d" % (off, off + 99999, len(big)), "Content-Range")
    check(r.body == big[off:off + 100000], "range body differs from the file")
