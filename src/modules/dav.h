/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav.h - WebDAV (RFC 4918, classes 1 and 2) on the writable areas, when
 * webdav is set: OPTIONS says DAV, PROPFIND and PROPPATCH read and write
 * properties (live ones from the files, dead ones in the state database),
 * MKCOL makes collections, DELETE, COPY and MOVE work on whole trees, LOCK
 * and UNLOCK manage write locks (dav_lock.h) that every write, the store's
 * PUT and POST included, must submit the token of. PUT and POST stay the
 * store's (store.h) once the locks and the If header let them through.
 */
#ifndef HTD_DAV_H
#define HTD_DAV_H

#include "module.h"

extern const htd_module dav_module;

#endif
