/*
 * listing.h - directory listings, as an HTML page or as JSON. Rendering
 * reads and stats the whole directory, so it runs on a worker thread, never
 * on an event loop.
 */
#ifndef HTD_LISTING_H
#define HTD_LISTING_H

#include <stddef.h>

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

/*
 * Renders the listing of the directory open at dirfd (it is not closed, and
 * its file offset is left alone: the directory is read through a descriptor
 * of its own) for the URL path path[0..path_len) (decoded, normalised,
 * ending with '/'). Entries are all but "." and "..", and names starting
 * with '.' when hide_dot; stat follows symlinks, and an entry that fails
 * stat (a dangling symlink) is left out. Folders first, then everything
 * else, each group sorted by name: ASCII case folded, ties by bytes.
 *
 * json == 0: an HTML5 page (UTF-8, inline style, no script, no external
 * resources) with relative, percent-encoded links and escaped names, bytes
 * that are not UTF-8 shown as U+FFFD and control characters as their
 * U+24xx pictures. json == 1:
 *   {"path":"/docs/","entries":[{"name":"sub","type":"dir","mtime":"2026-11-25T10:00:00Z"},
 *    {"name":"a b","type":"file","size":123,"mtime":"2026-11-25T10:00:00Z"}]}
 * with strings escaped per RFC 8259 and invalid UTF-8 as \ufffd.
 *
 * Returns a malloc'd buffer (the caller frees it) and its length in *len,
 * or NULL with errno set. Thread-safe.
 */
char *listing_render(int dirfd, const char *path, size_t path_len, int json, int hide_dot,
                     size_t *len);

#endif
