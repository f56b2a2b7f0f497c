/*
 * json.h - text made safe inside a JSON string: for what htd writes as JSON
 * (a job's monitor, a 402's offer) from bytes it did not choose (paths,
 * names, a script's stderr).
 */
#ifndef HTD_JSON_H
#define HTD_JSON_H

#include <stddef.h>

/* s[0..n) as the inside of a JSON string (no quotes): '"' and '\\' escaped,
 * control bytes as \u00XX; other bytes as they are. Writes at most cap - 1
 * bytes and a NUL (when cap > 0); returns the length the whole would take. */
size_t json_escape(char *out, size_t cap, const char *s, size_t n);

#endif
