# SPDX-License-Identifier: BSD-2-Clause
"""Content codings of static files: precompressed FILE.gz and FILE.br chosen
by Accept-Encoding with q-values, identity when they are refused or absent,
406 only when identity is refused and nothing else fits, Vary and validators
of each variant's own, ranges on the encoded bytes, --no-precompressed, and
--gzip compressing on the fly (decompressed here and compared), never for
ranges, with its own entity-tag and 304."""

import gzip
import os
import random
import shutil
import subprocess
import tempfile

import harness
from harness import check, connect, eq, get, req

TEXT = b"".join(b"line %05d of a text file that compresses well\n" % i for i in range(4000))
GZ = gzip.compress(TEXT)
BR = b"pretend-brotli-bytes"  # htd never decodes it: any bytes will do


class Site:
    def __init__(self, extra=()):
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="htd-enc-"))
        os.chmod(self.root, 0o755)
        for rel, data in {"a.txt": TEXT, "a.txt.gz": GZ, "a.txt.br": BR, "plain.txt": TEXT,
                          "onlygz.css": b"body{}\n" * 100, "onlygz.css.gz": gzip.compress(b"body{}\n" * 100),
                          "dir/index.html": b"<p>index</p>\n" * 50,
                          "dir/index.html.gz": gzip.compress(b"<p>index</p>\n" * 50),
                          "small.txt": b"tiny\n", "pic.png": b"\x89PNG" + b"\0" * 4000}.items():
            p = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        self.srv = harness.start_htd(self.root, extra=list(extra))

    def close(self):
        rc = self.srv.stop()
        rep = self.srv.sanitizer_report()
        self.srv.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)
        eq(rc, 0, "exit status")
        check(rep is None, "sanitizer report:\n%s" % rep)


def _with(fn, extra=()):
    s = Site(extra)
    try:
        fn(s.srv)
    finally:
        s.close()


def ae(srv, path, value, method="GET", headers=()):
    h = ([("Accept-Encoding", value)] if value is not None else []) + list(headers)
    return get(srv, path, method, headers=h)


def test_precompressed_chosen_by_accept_encoding_with_q_values(ctx):
    def t(srv):
        cases = [
            (None, None, TEXT), ("gzip", "gzip", GZ), ("gzip, deflate, br", "br", BR),
            ("br;q=0.5, gzip;q=0.8", "gzip", GZ), ("br;q=0.5, gzip;q=0.8, identity;q=0.9", None, TEXT),
            ("*", "br", BR), ("br;q=0, *", "gzip", GZ), ("x-gzip", "gzip", GZ), ("deflate", None, TEXT),
            ("gzip;q=0, br;q=0", None, TEXT), ("identity;q=0, gzip", "gzip", GZ),
        ]
        for value, coding, body in cases:
            r = ae(srv, "/a.txt", value)
            eq(r.status, 200, "status for %r" % value)
            eq(r.get("Content-Encoding"), coding, "Content-Encoding for %r" % value)
            eq(r.body, body, "body for %r" % value)
            eq(r.get("Content-Type"), "text/plain; charset=utf-8", "the original's type for %r" % value)
            eq(r.get("Vary"), "Accept-Encoding", "Vary for %r" % value)
            eq(r.get("Content-Length"), str(len(body)), "length for %r" % value)
    _with(t)


def test_each_variant_has_its_own_validators(ctx):
    def t(srv):
        tags = {v: ae(srv, "/a.txt", v).get("ETag") for v in (None, "gzip", "br")}
        check(len(set(tags.values())) == 3, "three different ETags: %r" % tags)
        r = ae(srv, "/a.txt", "gzip", headers=[("If-None-Match", tags["gzip"])])
        eq((r.status, r.get("ETag"), r.get("Vary")), (304, tags["gzip"], "Accept-Encoding"), "304 for the gzip tag")
        r = ae(srv, "/a.txt", "gzip", headers=[("If-None-Match", tags[None])])
        eq((r.status, r.body), (200, GZ), "the identity tag does not validate the gzip variant")
    _with(t)


def test_ranges_apply_to_the_encoded_bytes(ctx):
    def t(srv):
        r = ae(srv, "/a.txt", "gzip", headers=[("Range", "bytes=10-19")])
        eq((r.status, r.get("Content-Encoding"), r.body), (206, "gzip", GZ[10:20]), "a range of the .gz")
        eq(r.get("Content-Range"), "bytes 10-19/%d" % len(GZ), "Content-Range of the encoded size")
    _with(t)


def test_406_only_when_identity_is_refused_and_nothing_else_fits(ctx):
    def t(srv):
        for value in ("identity;q=0", "*;q=0", "br, identity;q=0"):
            r = ae(srv, "/plain.txt", value)
            harness.check_error(r, 406)
        # a sibling the client takes saves it
        r = ae(srv, "/onlygz.css", "gzip, identity;q=0")
        eq((r.status, r.get("Content-Encoding")), (200, "gzip"), "gzip sibling with identity refused")
        r = ae(srv, "/onlygz.css", "br, identity;q=0")
        harness.check_error(r, 406)
        # without the field, and with anything else, never 406
        for value in (None, "", "br", "compress", "gzip;q=0"):
            eq(ae(srv, "/plain.txt", value).status, 200, "status for %r" % value)
    _with(t)


def test_no_vary_for_files_without_variants_and_index_files_have_theirs(ctx):
    def t(srv):
        eq(ae(srv, "/plain.txt", "gzip").get("Vary"), None, "no variants: no Vary")
        r = ae(srv, "/dir/", "gzip")
        eq((r.status, r.get("Content-Encoding"), gzip.decompress(r.body)), (200, "gzip", b"<p>index</p>\n" * 50),
           "index.html.gz for the directory")
        eq(r.get("Content-Type"), "text/html; charset=utf-8", "the index's type")
        # the .gz asked for by name is itself, not an encoding of anything
        r = ae(srv, "/a.txt.gz", "gzip")
        eq((r.get("Content-Encoding"), r.body), (None, GZ), "/a.txt.gz by name")
    _with(t)


def test_no_precompressed_flag_turns_it_off(ctx):
    def t(srv):
        r = ae(srv, "/a.txt", "gzip, br")
        eq((r.get("Content-Encoding"), r.body, r.get("Vary")), (None, TEXT, None), "identity only")
    _with(t, ["--no-precompressed"])


def test_gzip_on_the_fly_decodes_to_the_original(ctx):
    def t(srv):
        r = ae(srv, "/plain.txt", "gzip")
        eq((r.status, r.get("Content-Encoding"), r.get("Vary")), (200, "gzip", "Accept-Encoding"), "compressed")
        eq(r.get("Transfer-Encoding"), "chunked", "streamed in chunks")
        eq(gzip.decompress(r.body), TEXT, "decompresses to the file")
        check(len(r.body) < len(TEXT) // 4, "it did compress: %d of %d" % (len(r.body), len(TEXT)))
        tag = r.get("ETag")
        ident = ae(srv, "/plain.txt", None)
        eq((ident.body, ident.get("Vary")), (TEXT, "Accept-Encoding"), "identity varies too")
        check(tag != ident.get("ETag") and tag.endswith('-gz"'), "own tag %r vs %r" % (tag, ident.get("ETag")))
        r = ae(srv, "/plain.txt", "gzip", headers=[("If-None-Match", tag)])
        eq((r.status, r.get("ETag")), (304, tag), "304 for the on-the-fly tag")
        # a precompressed file wins over compressing
        eq(ae(srv, "/a.txt", "gzip").body, GZ, "the .gz beside the file is sent as it is")
        # never for ranges, small files or types that do not compress
        r = ae(srv, "/plain.txt", "gzip", headers=[("Range", "bytes=0-9")])
        eq((r.status, r.get("Content-Encoding"), r.body), (206, None, TEXT[:10]), "a range is identity")
        eq(ae(srv, "/small.txt", "gzip").get("Content-Encoding"), None, "too small")
        eq(ae(srv, "/pic.png", "gzip").get("Content-Encoding"), None, "an image")
        # HEAD: the head alone; HTTP/1.0: the body ends with the connection
        r = ae(srv, "/plain.txt", "gzip", method="HEAD")
        eq((r.status, r.get("Content-Encoding"), r.body), (200, "gzip", b""), "HEAD")
        c = connect(srv)
        c.send(req("/plain.txt", headers=[("Accept-Encoding", "gzip")], version="HTTP/1.0"))
        data = c.read_to_eof()
        c.close()
        head, _, body = data.partition(b"\r\n\r\n")
        check(b"Connection: close" in head and b"Transfer-Encoding" not in head, "1.0 head %r" % head)
        eq(gzip.decompress(body), TEXT, "HTTP/1.0 body")
    _with(t, ["--gzip"])


def test_gzip_on_keep_alive_and_pipelined(ctx):
    def t(srv):
        c = connect(srv)
        h = [("Accept-Encoding", "gzip")]
        c.send(req("/plain.txt", headers=h) + req("/small.txt", headers=h) + req("/plain.txt", headers=h))
        bodies = [c.read_response().body for _ in range(3)]
        c.close()
        eq([gzip.decompress(bodies[0]), bodies[1], gzip.decompress(bodies[2])], [TEXT, b"tiny\n", TEXT],
           "three pipelined responses, two compressed")
    _with(t, ["--gzip"])


def _chunks(raw):
    """The chunk sizes and the decoded body of a raw chunked response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    check(b"Transfer-Encoding: chunked" in head, "chunked head %r" % head)
    sizes, body = [], b""
    while True:
        line, _, rest = rest.partition(b"\r\n")
        n = int(line, 16)
        sizes.append(n)
        if n == 0:
            eq(rest, b"\r\n", "the end of the chunked body")
            return sizes, body
        body += rest[:n]
        eq(rest[n:n + 2], b"\r\n", "a chunk's CRLF")
        rest = rest[n + 2:]


def test_gzip_on_the_fly_from_memory_and_of_what_does_not_compress_in_chunks_of_32k_at_most(ctx):
    def t(srv):
        rnd = random.Random(7)
        files = {"mid.txt": b"".join(b"row %d %s\n" % (i, b"abc" * (i % 7)) for i in range(1700)),  # cached in memory
                 "noise.txt": rnd.randbytes(300000)}  # more output than input: several chunks per piece read
        for name, data in files.items():
            with open(os.path.join(srv.root, name), "wb") as f:
                f.write(data)
        for name, data in files.items():
            c = connect(srv)
            c.send(req("/" + name, headers=[("Accept-Encoding", "gzip"), ("Connection", "close")]))
            sizes, body = _chunks(c.read_to_eof())
            c.close()
            eq(gzip.decompress(body), data, name + " decompressed")
            check(max(sizes) <= 32768, "%s: chunks of at most 32 KiB: %r" % (name, sizes))
            if name == "noise.txt":
                check(len(body) > len(data) and len(sizes) > len(data) // 32768 + 1,
                      "incompressible: %d bytes in %d chunks" % (len(body), len(sizes)))
        r = ae(srv, "/noise.txt", "gzip", method="HEAD")
        eq((r.status, r.get("Content-Encoding"), r.get("Transfer-Encoding"), r.body), (200, "gzip", None, b""),
           "HEAD: no body and no framing")
    _with(t, ["--gzip"])


def test_gzip_whole_up_to_128k_and_streamed_past_it(ctx):
    """A body of known length up to 128 KiB is compressed whole (libdeflate,
    one chunk); a longer one as it is read (zlib, in pieces). The gzip
    header's OS byte tells which compressed it: 255 (unknown) from
    libdeflate, 3 (Unix) from zlib."""
    def t(srv):
        rnd = random.Random(11)
        words = [b"event", b"loop", b"socket", b"kernel", b"bytes", b"answer", b"request"]

        def text(n):
            out = b"".join(b" ".join(rnd.choice(words) for _ in range(9)) + b".\n" for _ in range(n // 40 + 1))
            return out[:n]
        files = {"at.txt": text(128 * 1024), "past.txt": text(128 * 1024 + 1),
                 "noise.txt": rnd.randbytes(100000),  # more out than in: the bound holds it
                 "mid.txt": text(20000)}  # in the file cache's memory: one piece
        for name, data in files.items():
            with open(os.path.join(srv.root, name), "wb") as f:
                f.write(data)
        for name, data in files.items():
            for _ in range(2):  # the loop's compressor is used again
                c = connect(srv)
                c.send(req("/" + name, headers=[("Accept-Encoding", "gzip"), ("Connection", "close")]))
                sizes, body = _chunks(c.read_to_eof())
                c.close()
                eq(gzip.decompress(body), data, name + " decompressed")
                whole = name != "past.txt"
                eq(body[9], 255 if whole else 3, name + ": the gzip header's OS byte")
                if whole:
                    eq(len(sizes), 2, "%s: one chunk and the last: %r" % (name, sizes))
                else:
                    check(len(sizes) > 2 and max(sizes) <= 32768, "%s: in pieces: %r" % (name, sizes))
        # pipelined on one connection, whole and streamed in turn
        c = connect(srv)
        h = [("Accept-Encoding", "gzip")]
        c.send(req("/at.txt", headers=h) + req("/past.txt", headers=h) + req("/mid.txt", headers=h))
        got = [gzip.decompress(c.read_response().body) for _ in range(3)]
        c.close()
        eq(got, [files["at.txt"], files["past.txt"], files["mid.txt"]], "pipelined")
    _with(t, ["--gzip"])


def _unbrotli(data):
    if not shutil.which("brotli"):
        raise harness.Skip("the brotli program is not installed (Debian package brotli)")
    p = subprocess.run(["brotli", "-d", "-c"], input=data, capture_output=True, timeout=30)
    eq(p.returncode, 0, "brotli -d (stderr %r)" % p.stderr)
    return p.stdout


def test_brotli_on_the_fly_decodes_to_the_original(ctx):
    """--brotli beside --gzip: a client that takes br gets it (preferred on
    a tie, as for precompressed files), with its own entity-tag and 304; a
    client that takes only gzip gets gzip; a FILE.br beside the file is sent
    as it is; never for ranges."""
    def t(srv):
        r = ae(srv, "/plain.txt", "gzip, deflate, br")
        eq((r.status, r.get("Content-Encoding"), r.get("Vary")), (200, "br", "Accept-Encoding"),
           "compressed with brotli")
        eq(r.get("Transfer-Encoding"), "chunked", "streamed in chunks")
        eq(_unbrotli(r.body), TEXT, "decompresses to the file")
        tag = r.get("ETag")
        check(tag.endswith('-br"'), "its own tag: %r" % tag)
        r2 = ae(srv, "/plain.txt", "br", headers=[("If-None-Match", tag)])
        eq((r2.status, r2.get("ETag")), (304, tag), "304 for the brotli tag")
        g = ae(srv, "/plain.txt", "gzip")
        eq((g.get("Content-Encoding"), gzip.decompress(g.body)), ("gzip", TEXT), "gzip alone")
        eq(ae(srv, "/a.txt", "br").body, BR, "the .br beside the file is sent as it is")
        r = ae(srv, "/plain.txt", "br", headers=[("Range", "bytes=0-9")])
        eq((r.status, r.get("Content-Encoding")), (206, None), "a range is identity")
        r = ae(srv, "/plain.txt", "br", method="HEAD")
        eq((r.status, r.get("Content-Encoding"), r.body), (200, "br", b""), "HEAD")
    _with(t, ["--gzip", "--brotli"])


def test_handlers_responses_are_coded_as_files_are(ctx):
    """With gzip and brotli on in the config, what an embedding program's
    handlers answer is coded like a file: a body from memory (htd_respond),
    a stream (htd_respond_stream) and a file (htd_respond_file), chosen by
    q-value, chunked, with Vary, a handler's strong ETag made weak; a HEAD
    says the coding without a body; HTTP/1.0 gets it to the close; what does
    not compress (small, binary) goes as it is (examples/hello.c)."""
    root = os.path.realpath(tempfile.mkdtemp(prefix="htd-handler-enc-"))
    os.chmod(root, 0o755)
    with open(os.path.join(root, "big.txt"), "wb") as f:
        f.write(TEXT)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(TEXT)
    conf = os.path.join(root, "htd.conf")
    with open(conf, "w") as f:
        f.write("gzip = true;\nbrotli = true;\n")
    srv = harness.start_example("hello", root, conf)
    try:
        lines = b"".join(b"line %d\n" % i for i in range(1, 2001))
        # a stream, gzip by q-value, then br
        r = ae(srv, "/count?2000", "br;q=0.5, gzip")
        eq((r.status, r.get("Content-Encoding"), r.get("Vary"), r.get("Transfer-Encoding")),
           (200, "gzip", "Accept-Encoding", "chunked"), "a stream in gzip")
        eq(gzip.decompress(r.body), lines, "the stream decodes to its lines")
        eq(r.get("ETag"), 'W/"count-2000"', "the handler's tag, weak for the coded bytes")
        r = ae(srv, "/count?2000", "gzip, br")
        eq((r.get("Content-Encoding"), _unbrotli(r.body)), ("br", lines), "a stream in br")
        # a stream whose one piece is the whole body, larger than a coder's
        # buffer: the coder reads it over several turns after the stream's end
        many = b"".join(b"line %d\n" % i for i in range(1, 200001))
        r = ae(srv, "/page?200000", "gzip")
        eq((r.get("Content-Encoding"), gzip.decompress(r.body)), ("gzip", many), "one large piece in gzip")
        r = ae(srv, "/page?200000", "br")
        eq((r.get("Content-Encoding"), _unbrotli(r.body)), ("br", many), "one large piece in br")
        r = ae(srv, "/count?2000", None)
        eq((r.get("Content-Encoding"), r.body, r.get("ETag"), r.get("Vary")),
           (None, lines, '"count-2000"', "Accept-Encoding"), "identity keeps the strong tag and varies")
        # a body from memory: /request lists the request's headers
        pad = [("X-Pad-%d" % i, "p" * 40) for i in range(20)]
        r = ae(srv, "/request", "gzip", headers=pad)
        eq((r.status, r.get("Content-Encoding"), r.get("Content-Length")), (200, "gzip", None),
           "a body from memory in gzip")
        body = gzip.decompress(r.body)
        check(body.startswith(b"method=GET\ntarget=/request\n") and b"X-Pad-19: " + b"p" * 40 in body,
              "it decodes to the listing of the request: %r" % body[:200])
        # a file through the handler API, read into the coder
        r = ae(srv, "/sendfile/big.txt", "gzip")
        eq((r.get("Content-Encoding"), gzip.decompress(r.body)), ("gzip", TEXT), "a file in gzip")
        r = ae(srv, "/sendfile/big.txt", "br")
        eq((r.get("Content-Encoding"), _unbrotli(r.body)), ("br", TEXT), "a file in br")
        r = ae(srv, "/sendfile/big.bin", "gzip")
        eq((r.get("Content-Encoding"), r.get("Content-Length"), r.body), (None, str(len(TEXT)), TEXT),
           "a binary type goes as it is, by sendfile")
        # too small to gain: as it is, with its length
        r = ae(srv, "/hello", "gzip")
        eq((r.get("Content-Encoding"), r.get("Content-Length")), (None, str(len(r.body))), "a small body")
        # HEAD: the coding is said, no length, no body; the next answer is whole
        c = connect(srv)
        c.send(req("/count?2000", "HEAD", [("Accept-Encoding", "gzip")]) +
               req("/sendfile/big.txt", "HEAD", [("Accept-Encoding", "br")]) +
               req("/count?3", headers=[("Accept-Encoding", "identity")]))
        h = c.read_response("HEAD")
        eq((h.status, h.get("Content-Encoding"), h.get("Content-Length"), h.body), (200, "gzip", None, b""),
           "HEAD of a coded stream")
        h = c.read_response("HEAD")
        eq((h.status, h.get("Content-Encoding"), h.body), (200, "br", b""), "HEAD of a coded file")
        eq(c.read_response().body, b"line 1\nline 2\nline 3\n", "the answer after them")
        c.close()
        # HTTP/1.0: no chunks, the close ends the coded body
        c = connect(srv)
        c.send(req("/sendfile/big.txt", headers=[("Accept-Encoding", "gzip")], version="HTTP/1.0"))
        r = c.read_response()
        eq((r.get("Content-Encoding"), r.get("Transfer-Encoding"), r.get("Connection")),
           ("gzip", None, "close"), "HTTP/1.0 head")
        eq(gzip.decompress(r.body), TEXT, "HTTP/1.0 body, to the close")
        c.close()
        srv.check_health()
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
    finally:
        srv.cleanup()
        shutil.rmtree(root, ignore_errors=True)
