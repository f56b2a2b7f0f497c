/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxy.h - the reverse proxy: requests under a scope with `proxy` go to
 * an upstream group's servers (site.h upstream), their responses come back
 * as they arrive. A content module.
 */
#ifndef HTD_PROXY_H
#define HTD_PROXY_H

#include "module.h"

extern const htd_module proxy_module;

#endif
