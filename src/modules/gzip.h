/*
 * gzip.h - compressing static files on the fly (--gzip).
 */
#ifndef HTD_GZIP_H
#define HTD_GZIP_H

struct conn;
struct htd_req;
struct cache_entry;

#include "module.h"

#define GZIP_MIN 256

/* The module (its compressions are started by the static module). */
extern const htd_module gzip_module; /* smaller files gain too little to be worth it */

/* Is a Content-Type worth compressing (text, JSON, JavaScript, XML, SVG)? */
int gzip_compressible(const char *ctype);

/* Answers hr with e compressed: 200 (streamed; the connection goes on in
 * CS_GEN once the head is out) or 304. -1 if it cannot (nothing queued):
 * the caller sends identity. */
int gzip_start(struct htd_req *hr, struct cache_entry *e);

/* The generator: compresses and queues the next piece (GEN_*, module.h). */
int gzip_step(struct conn *c);

/* The connection is closing. */
void gzip_detach(struct conn *c);

#endif
