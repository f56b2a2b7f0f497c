/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * charge.h - metered paths (402 Payment Required): charge.c.
 */
#ifndef HTD_CHARGE_H
#define HTD_CHARGE_H

#include "module.h"

extern const htd_module charge_module;

#endif
