/*
 * routes.h - the embedder's handlers as a content module.
 */
#ifndef HTD_ROUTES_H
#define HTD_ROUTES_H

#include "module.h"

extern const htd_module routes_module;

#endif
