/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * builtin.h - the modules a server is made of.
 */
#ifndef HTD_BUILTIN_H
#define HTD_BUILTIN_H

#include <stddef.h>

#include "module.h"

/* r made of the built-in modules, with the content modules in the order
 * names[0..n) give (content_order). -1 with the reason in err. */
int builtin_registry(registry *r, const char *const *names, size_t n, char *err, size_t errlen);
/* Whether names is a good content_order: 0, or -1 with the reason in err. */
int builtin_content_order_check(const char *const *names, size_t n, char *err, size_t errlen);

#endif
