/*
 * dav.h - WebDAV (RFC 4918, class 1) on the writable areas, when webdav is
 * set: OPTIONS says DAV, PROPFIND and PROPPATCH read and write properties
 * (live ones from the files, dead ones in the state database), MKCOL makes
 * collections, DELETE, COPY and MOVE work on whole trees. PUT, POST and a
 * DELETE's preconditions stay the store's (store.h).
 */
#ifndef HTD_DAV_H
#define HTD_DAV_H

#include "module.h"

extern const htd_module dav_module;

#endif
