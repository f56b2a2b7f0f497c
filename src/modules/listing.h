/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listing.h - directory listings, as an HTML page or as JSON. Reading
 * stats every entry of the directory, so it runs on a worker thread, never
 * on an event loop; the rendering is then made in pieces, as they are
 * wanted.
 */
#ifndef HTD_LISTING_H
#define HTD_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "htd.h"

/* Does the Accept field value ask for JSON rather than HTML (RFC 9110
 * section 12.5.1)? Each of application/json and text/html gets the q-value
 * of the most specific media range that matches it (an exact
 * type/subtype, then a wildcard subtype, then the wildcard for every type;
 * the first of equally specific ones; q=0 if none matches), and
 * JSON wins only with a strictly higher q. Media type parameters other than
 * q are ignored; a malformed element is skipped. An absent (v.p == NULL) or
 * empty field is HTML. */
int listing_wants_json(htd_str accept);

/* A directory's entries, read and sorted, and how far their rendering has
 * come. */
typedef struct listing listing;

/*
 * Reads the directory open at dirfd (it is not closed, and its file offset
 * is left alone: the directory is read through a descriptor of its own) for
 * the URL path path[0..path_len) (decoded, normalised, ending with '/';
 * copied). Entries are all but "." and ".."; stat follows symlinks, and an
 * entry that fails stat (a dangling symlink) is left out. root_fd, when it
 * is not -1, is the directory path is relative to (the vhost's root), and
 * what the dotfile rule would refuse is left out: names starting with '.',
 * and symlinks that lead, followed beneath root_fd, to a path with such a
 * segment (htd_path_hidden: "envlink" to ".env", "cfg" to ".git") or out
 * of it, so a listing links to nothing that would not be served. Folders
 * first, then everything else, each group sorted by name: ASCII case
 * folded, ties by bytes.
 *
 * It renders as (json == 0) an HTML5 page (UTF-8, inline style, no script,
 * no external resources) with relative, percent-encoded links and escaped
 * names, bytes that are not UTF-8 shown as U+FFFD and control characters as
 * their U+24xx pictures; or (json == 1)
 *   {"path":"/docs/","entries":[{"name":"sub","type":"dir","mtime":"2026-11-25T10:00:00Z"},
 *    {"name":"a b","type":"file","size":123,"mtime":"2026-11-25T10:00:00Z"}]}
 * with strings escaped per RFC 8259 and invalid UTF-8 as \ufffd.
 *
 * NULL with errno set. Thread-safe; a listing may pass from one thread to
 * another, but is used by one at a time.
 */
listing *listing_read(int dirfd, const char *path, size_t path_len, int json, int root_fd);

/* Renders the next piece of l: whole parts of it (the page's head, an
 * entry, its foot) until the piece has want bytes or more, or the
 * rendering ends. *p and *len say where it is, until the next call or
 * listing_free. 1 if more pieces follow, 0 if that was the last (a call
 * after it gives an empty piece and 0), -1 with errno ENOMEM. */
int listing_next(listing *l, size_t want, const char **p, size_t *len);

/* The length of l's whole rendering in *len, measured by rendering it
 * piece by piece without keeping it; l is left at the start. 0, or -1 with
 * errno ENOMEM. */
int listing_length(listing *l, uint64_t *len);

void listing_free(listing *l);

#endif
