#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""instructions-client.py PORT N DEPTH CONNS [PATH [STATUS]] - the client of
bench/instructions: N GETs of PATH (/1k.bin) on CONNS connections, DEPTH at
a time on each, every response read whole before the next batch. Exits
non-zero if one is short or has another status than STATUS (200)."""
import socket
import sys


def main():
    port, n, depth, conns = (int(a) for a in sys.argv[1:5])
    path = sys.argv[5] if len(sys.argv) > 5 else "/1k.bin"
    status = sys.argv[6] if len(sys.argv) > 6 else "200"
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    socks = []
    for _ in range(100):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port)))
            break
        except OSError:
            import time
            time.sleep(0.1)
    if not socks:
        sys.exit("instructions: htd did not start")
    socks += [socket.create_connection(("127.0.0.1", port)) for _ in range(conns - 1)]
    # One response, to learn its length (all are alike: the Date's length is fixed).
    s = socks[0]
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("instructions: the connection closed before a response")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 " + status.encode() + b" "):
        sys.exit("instructions: " + head.split(b"\r\n")[0].decode(errors="replace"))
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            sys.exit("instructions: the connection closed in a response")
        rest += d
    one = len(head) + 4 + length
    line = b"HTTP/1.1 " + status.encode() + b" "
    done = 0
    while done < n:
        for s in socks:
            s.sendall(req * depth)
        for s in socks:
            want, got = one * depth, b""
            while len(got) < want:
                d = s.recv(1 << 20)
                if not d:
                    sys.exit("instructions: the connection closed")
                got += d
            if len(got) != want or any(got[i:i + len(line)] != line
                                       for i in range(0, want, one)):
                sys.exit("instructions: an answer is not " + line.decode().strip())
        done += depth * conns
    for s in socks:
        s.close()


main()
