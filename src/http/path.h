/*
 * path.h - turning a request-target's path into a safe relative file path.
 */
#ifndef HTD_PATH_H
#define HTD_PATH_H

#include <stddef.h>

/*
 * Percent-decodes in[0..len) (the path part of a target, which starts with
 * '/'), and normalises it: "." segments dropped, ".." segments resolved,
 * runs of '/' collapsed. The result starts with '/' and keeps a trailing '/'
 * if the input had one (or ended in "/." or "/.."). It is written to out with
 * a NUL, and its length returned.
 * Returns -1 with *why set when the input has a bad %-escape, decodes to a NUL
 * byte, climbs above the root with "..", or does not fit in outcap.
 */
int htd_path_normalize(const char *in, size_t len, char *out, size_t outcap, const char **why);

#endif
