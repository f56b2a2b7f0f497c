/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.h - reading a config file: its top-level settings onto an
 * htd_config (where no flag has set them), and a site of virtual hosts and
 * rules built from it.
 */
#ifndef HTD_CONFIG_H
#define HTD_CONFIG_H

#include <stddef.h>

#include "htd.h"
#include "site.h"

typedef struct conf_file conf_file;

/* Parses path. NULL with "FILE:LINE: what" in err on a syntax error. */
conf_file *conf_open(const char *path, char *err, size_t errlen);
void conf_close(conf_file *f);

/* What site_build warns of, as one line "FILE:LINE: warning: what" each
 * (a regex or target that another dialect reads otherwise), goes to warn;
 * by default, to the error log at its warn level. */
typedef void conf_warn_fn(void *arg, const char *line);
void conf_on_warning(conf_file *f, conf_warn_fn *warn, void *arg);

/* Fills the fields of c that are still unset (zero or NULL) from the file's
 * top level. Strings point into f, which must outlive c. */
int conf_settings(conf_file *f, htd_config *c, char *err, size_t errlen);

/* Builds a site: the top-level server from c (root, access_log) and, when
 * f is not NULL, the file's rules and vhosts. Opens roots, logs and password
 * files, compiles regexes. NULL with "FILE:LINE: what" in err. */
site *site_build(const htd_config *c, conf_file *f, int nthreads, char *err, size_t errlen);
/* Frees what site_build made (the destroy of every site it builds). */
void site_free(site *st);

#endif
