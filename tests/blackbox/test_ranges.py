# SPDX-License-Identifier: BSD-2-Clause
"""Byte ranges (RFC 9110 section 14): 206 with Content-Range for single,
suffix, open-ended and clipped ranges; multipart/byteranges for several;
If-Range; invalid Range ignored; 416 with Content-Range: bytes */LEN.
Ranges that cannot amplify a response (sections 14.3 and 14.6): overlapping
and adjacent ranges merged, in the client's order; ranges that ask for more
than the file, and more than 16 ranges, answered with the whole file (200);
on a 100 MB file, "bytes=0-" sixteen times sends the file once."""

import os
import re
import shutil
import tempfile

from harness import (LETTERS, check, check_big, check_common, check_error, check_ok_file,
                     connect, eq, get, req, start_htd, stops_cleanly)

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


# ---- overlapping, adjacent and many ranges

def test_overlapping_ranges_merged_into_one_206(ctx):
    expect_206(ctx, "bytes=0-9,5-14", 0, 14)


def test_contained_range_merged_into_one_206(ctx):
    expect_206(ctx, "bytes=12-15,10-19", 10, 19)


def test_adjacent_ranges_merged_into_one_206(ctx):
    expect_206(ctx, "bytes=5-9,0-4", 0, 9)


def test_merged_parts_keep_the_clients_order(ctx):
    expect_multipart(ctx, "bytes=40-44,0-9,5-14", [(40, 44), (0, 14)])
    expect_multipart(ctx, "bytes=50-,0-4,5-9", [(50, N - 1), (0, 9)])


def test_ranges_in_descending_order_kept(ctx):
    expect_multipart(ctx, "bytes=50-51,20-21,0-1", [(50, 51), (20, 21), (0, 1)])


def test_ranges_adding_up_to_more_than_the_file_full_200(ctx):
    r = ranged(ctx, "bytes=0-40,30-")
    check_ok_file(r, LETTERS, CTYPE)
    check(not r.has("Content-Range"), "Content-Range on a full 200")
    check_ok_file(ranged(ctx, "bytes=0-,0-"), LETTERS, CTYPE)


def test_ranges_adding_up_to_the_file_one_206(ctx):
    expect_206(ctx, "bytes=31-,0-30", 0, N - 1)


def tiny_ranges(count):
    return "bytes=" + ",".join("%d-%d" % (2 * i, 2 * i) for i in range(count))


def test_16_tiny_ranges_multipart(ctx):
    expect_multipart(ctx, tiny_ranges(16), [(2 * i, 2 * i) for i in range(16)])


def test_17_tiny_ranges_full_200(ctx):
    check_ok_file(ranged(ctx, tiny_ranges(17)), LETTERS, CTYPE)


def read_body(c, n):
    """n body bytes from c, read into one buffer (Conn.read_exact would copy
    what it has at each read)."""
    buf = bytearray(n)
    have = min(n, len(c.buf))
    buf[:have], c.buf = c.buf[:have], c.buf[have:]
    view = memoryview(buf)
    while have < n:
        k = c.sock.recv_into(view[have:])
        check(k > 0, "connection closed after %d of %d body bytes" % (have, n))
        have += k
    return bytes(buf)


def test_1000_tiny_ranges_full_200(ctx):
    c = connect(ctx.srv)
    try:
        c.send(req("/big.bin", headers=[("Range", tiny_ranges(1000))]) + req(PATH))
        r = c.read_response("HEAD")  # the head only: the body is read below
        eq(r.get("Content-Length"), str(len(ctx.root.big)), "Content-Length")
        r.body = read_body(c, len(ctx.root.big))
        check_big(r, ctx.root)
        check(not r.has("Content-Range"), "Content-Range on a full 200")
        check_ok_file(c.read_response(), LETTERS, CTYPE)
    finally:
        c.close()


# ---- the Apache Killer's shape on a 100 MB file

HUGE_SIZE = 100 * 1000 * 1000
HUGE_HEAD = b"first bytes of huge.bin\n"
HUGE_TAIL = b"last bytes of huge.bin\n"
SMALL = b"after huge.bin\n"


class huge_server(stops_cleanly):
    """A server of its own over a root with huge.bin, 100 MB, sparse but
    for a line at each end, and small.txt."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="htd-huge-")
        os.chmod(self.root, 0o755)
        with open(os.path.join(self.root, "huge.bin"), "wb") as f:
            f.write(HUGE_HEAD)
            f.truncate(HUGE_SIZE - len(HUGE_TAIL))
            f.seek(0, os.SEEK_END)
            f.write(HUGE_TAIL)
        with open(os.path.join(self.root, "small.txt"), "wb") as f:
            f.write(SMALL)
        for name in ("huge.bin", "small.txt"):
            os.chmod(os.path.join(self.root, name), 0o644)
        try:
            super().__init__(start_htd(self.root))
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def __exit__(self, *a):
        try:
            return super().__exit__(*a)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def read_huge_body(c, n):
    """Reads n body bytes of huge.bin from c without keeping them: checks the
    line at each end and that every byte between is zero, and leaves what
    follows in c.buf."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = zeros = 0
    first = last = b""
    pending = bytes(c.buf)
    c.buf = b""
    while got < n:
        if pending:
            chunk, pending = pending[:n - got], pending[n - got:]
        else:
            k = c.sock.recv_into(view, min(len(buf), n - got))
            check(k > 0, "connection closed after %d of %d body bytes" % (got, n))
            chunk = bytes(view[:k])
        if len(first) < len(HUGE_HEAD):
            first += chunk[:len(HUGE_HEAD) - len(first)]
        last = (last + chunk)[-len(HUGE_TAIL):]
        zeros += chunk.count(0)
        got += len(chunk)
    c.buf = pending
    eq(first, HUGE_HEAD, "first bytes of the body")
    eq(last, HUGE_TAIL, "last bytes of the body")
    eq(zeros, n - len(HUGE_HEAD) - len(HUGE_TAIL), "zero bytes in the body")


def expect_huge_once(srv, headers, statuses):
    """GET huge.bin with headers, and small.txt pipelined behind it: the
    answer (of one of statuses) has huge.bin once, byte for byte, and
    small.txt follows it directly."""
    c = connect(srv)
    try:
        c.send(req("/huge.bin", headers=headers) + req("/small.txt"))
        r = c.read_response("HEAD")  # the head only: the body is read below
        check(r.status in statuses, "status %d, expected one of %s" % (r.status, statuses))
        check_common(r)
        eq(r.get("Content-Length"), str(HUGE_SIZE), "Content-Length")
        if r.status == 200:
            check(not r.has("Content-Range"), "Content-Range on a full 200")
        else:
            eq(r.get("Content-Range"), "bytes 0-%d/%d" % (HUGE_SIZE - 1, HUGE_SIZE),
               "Content-Range")
        read_huge_body(c, HUGE_SIZE)
        check_ok_file(c.read_response(), SMALL)
    finally:
        c.close()
    return r


def test_whole_file_asked_16_times_sent_once_with_200(ctx):
    with huge_server() as srv:
        spec = "bytes=" + ",".join(["0-"] * 16)
        r = expect_huge_once(srv, [("Range", spec)], (200,))
        eq(r.get("Content-Type"), "application/octet-stream", "Content-Type")


def test_16_range_fields_of_the_whole_file_sent_once(ctx):
    # Only the first Range field is read (200 or 206 would both be right):
    # what matters is that the file goes out once.
    with huge_server() as srv:
        expect_huge_once(srv, [("Range", "bytes=0-")] * 16, (200, 206))


def test_overlapping_ranges_of_a_large_file_merged(ctx):
    with huge_server() as srv:
        c = connect(srv)
        try:
            c.send(req("/huge.bin", headers=[("Range", "bytes=0-999999,500000-1499999")]) +
                   req("/huge.bin", headers=[("Range", "bytes=-%d" % len(HUGE_TAIL))]))
            r = c.read_response()
            eq(r.status, 206, "status")
            eq(r.get("Content-Range"), "bytes 0-1499999/%d" % HUGE_SIZE, "Content-Range")
            eq(r.get("Content-Length"), "1500000", "Content-Length")
            check(r.body == HUGE_HEAD + bytes(1500000 - len(HUGE_HEAD)), "body")
            r = c.read_response()
            eq(r.status, 206, "status of the suffix range")
            eq(r.body, HUGE_TAIL, "suffix range")
        finally:
            c.close()
