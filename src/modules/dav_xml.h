/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_xml.h - the XML of WebDAV (RFC 4918), read and written with libxml2:
 * the bodies of PROPFIND and PROPPATCH, and the 207 Multi-Status answers.
 *
 * Request bodies are parsed with the network off and no entity substituted
 * or DTD loaded; a document with a DOCTYPE is refused, as is one that is
 * not well-formed or breaks the namespace rules (xmlns:p=""). Nothing here
 * keeps state between calls; libxml2 is made ready once (davx_init) before
 * threads use it.
 */
#ifndef HTD_DAV_XML_H
#define HTD_DAV_XML_H

#include <stddef.h>

/* A property's name: its namespace ("" for none) and local name. */
typedef struct dav_name {
    char *ns;
    char *name;
} dav_name;

enum { DAVPF_ALLPROP, DAVPF_PROPNAME, DAVPF_PROP };

typedef struct dav_propfind {
    int mode;
    dav_name *names; /* DAVPF_PROP: those asked for; DAVPF_ALLPROP: include's */
    size_t n;
} dav_propfind;

/* One instruction of a PROPPATCH, in document order. */
typedef struct dav_patch_op {
    int remove;
    dav_name nm;
    char *xml; /* set: the property element, serialized to stand alone (its namespaces declared) */
} dav_patch_op;

typedef struct dav_patch {
    dav_patch_op *ops;
    size_t n;
} dav_patch;

void davx_init(void);

/* An empty body is allprop. 0, or -1 with why (a 400). */
int davx_parse_propfind(const char *body, size_t len, dav_propfind *out, const char **why);
void davx_propfind_free(dav_propfind *pf);
int davx_parse_proppatch(const char *body, size_t len, dav_patch *out, const char **why);
void davx_patch_free(dav_patch *p);

/* A lockinfo body (LOCK): the scope (1 exclusive, 0 shared) and the owner
 * element serialized (or NULL). An empty body is a refresh: *refresh set.
 * 0, or -1 with why. */
int davx_parse_lockinfo(const char *body, size_t len, int *exclusive, char **owner, int *refresh,
                        const char **why);

/* Writing a multistatus: calls in document order; an error (out of
 * memory) is kept and reported by davx_ms_finish. */
typedef struct davx_ms davx_ms;
/* hint: the size the document is likely to reach, or 0. */
davx_ms *davx_ms_new(size_t hint);
void davx_ms_response_begin(davx_ms *m, const char *href);
void davx_ms_response_end(davx_ms *m);
/* A response that is a status alone: <href/><status/>. */
void davx_ms_response_status(davx_ms *m, const char *href, int status);
void davx_ms_propstat_begin(davx_ms *m);
void davx_ms_propstat_end(davx_ms *m, int status);
/* A DAV: property with text, or empty (text NULL). */
void davx_ms_prop_dav(davx_ms *m, const char *name, const char *text);
/* <D:resourcetype> with <D:collection/> in it, or empty. */
void davx_ms_prop_resourcetype(davx_ms *m, int collection);
/* Any property's name as an empty element. */
void davx_ms_prop_empty(davx_ms *m, const dav_name *nm);
/* An element libxml2 serialized before (a dead property's value). */
void davx_ms_prop_raw(davx_ms *m, const char *xml);
/* The document, malloc'd, in *out; 0, or -1 (nothing in *out). Frees m. */
int davx_ms_finish(davx_ms *m, char **out, size_t *len);
void davx_ms_free(davx_ms *m);

/* An active lock as D:activelock shows it. */
typedef struct davx_lock {
    const char *root_href; /* the lock's root, as an href */
    int exclusive, infinity;
    const char *owner; /* the DAV:owner element, or NULL */
    long timeout_s;    /* -1: Infinite */
    const char *token;
} davx_lock;

/* A whole document whose root is D:prop holding D:lockdiscovery with l
 * (LOCK's answer). */
int davx_lock_answer(const davx_lock *l, char **out, size_t *len);
/* The D:lockdiscovery property with locks[0..n), into an open multistatus. */
void davx_ms_prop_lockdiscovery(davx_ms *m, const davx_lock *locks, size_t n);
void davx_ms_prop_supportedlock(davx_ms *m);

#endif
