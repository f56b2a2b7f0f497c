#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""layers.py - the include graph of src/, checked against the layers.

The layers, each of which may include only itself and the ones before it:

    core     the reactor, timers, the job pool, memory pools, transports
    http     parsers, the request object, the out queue, the HTTP/1 connection
    modules  access, auth, static, store, CGI, gzip, logs, ...
    server   config, sites, listeners, the program

A file's unit is its name without the extension (conn.c and conn.h are one
unit). Reported: includes that go up a layer, and cycles between units.
Exit status 1 if there are any, so `make check` keeps the shape.
Usage: scripts/layers.py [--graph] [--quiet]
"""
import os
import re
import sys

LAYERS = ["core", "http", "modules", "server"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def units():
    where = {}
    for layer in LAYERS:
        d = os.path.join(ROOT, layer)
        for f in sorted(os.listdir(d)):
            if f.endswith((".c", ".h")):
                where.setdefault(f.rsplit(".", 1)[0], (layer, []))[1].append(os.path.join(d, f))
    return where


def graph(where):
    edges = {u: set() for u in where}
    for u, (_, files) in where.items():
        for path in files:
            for line in open(path, encoding="utf-8"):
                m = re.match(r'\s*#\s*include\s+"([^"]+)\.h"', line)
                if m and m.group(1) in where and m.group(1) != u:
                    edges[u].add(m.group(1))
    return edges


def cycles(edges):
    """Strongly connected components of more than one unit (Tarjan)."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    where = units()
    edges = graph(where)
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    up = [(u, v) for u in sorted(edges) for v in sorted(edges[u])
          if rank[where[v][0]] > rank[where[u][0]]]
    cyc = cycles(edges)
    if "--graph" in sys.argv:
        for u in sorted(edges):
            print(f"{where[u][0]}/{u}: " + " ".join(f"{where[v][0]}/{v}" for v in sorted(edges[u])))
    for u, v in up:
        print(f"layers: {where[u][0]}/{u} includes {where[v][0]}/{v}.h, a layer above it")
    for c in cyc:
        print("layers: a cycle through " + ", ".join(f"{where[u][0]}/{u}" for u in c))
    if "--quiet" not in sys.argv or up or cyc:
        print(f"layers: {len(up)} upward includes, {len(cyc)} cycles")
    return 1 if up or cyc else 0


if __name__ == "__main__":
    sys.exit(main())
