/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_xml.c - WebDAV's XML through libxml2; see dav_xml.h.
 *
 * libxml2 rather than expat: its tree gives PROPPATCH what it needs without
 * a second model of our own (a property's value is an element with its
 * children and namespaces, kept as libxml2 serializes it), it has a
 * streaming writer (xmlTextWriter) for the answers, and it reports the
 * namespace errors (nsWellFormed) that WebDAV clients are tested for.
 */
#include "dav_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"

#define DAV_NS "DAV:"

static void make_supportedlock(void);

static void init_once(void)
{
    xmlInitParser();
    make_supportedlock();
}

void davx_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

/* --- reading ------------------------------------------------------------- */

/* The document of body, or NULL with why. */
static xmlDocPtr parse(const char *body, size_t len, const char **why)
{
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx) {
        *why = "out of memory";
        return NULL;
    }
    /* No network, no DTD loaded, no entity substituted; errors are ours to
     * report, not libxml2's to print. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, body, (int)len, "body.xml", NULL, opts);
    int good = doc && ctx->wellFormed && ctx->nsWellFormed;
    xmlFreeParserCtxt(ctx);
    if (good && doc->intSubset) {
        *why = "a request body may not have a DOCTYPE";
        good = 0;
    }
    if (!good) {
        if (doc) xmlFreeDoc(doc);
        if (!*why) *why = "the request body is not well-formed XML";
        return NULL;
    }
    return doc;
}

static int is_dav(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, DAV_NS) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

static int name_of(xmlNodePtr n, dav_name *nm)
{
    nm->ns = strdup(n->ns && n->ns->href ? (const char *)n->ns->href : "");
    nm->name = strdup((const char *)n->name);
    return nm->ns && nm->name ? 0 : -1;
}

static void name_free(dav_name *nm)
{
    free(nm->ns);
    free(nm->name);
}

/* The property elements in prop into names (appended). */
static int take_names(xmlNodePtr prop, dav_name **names, size_t *n)
{
    for (xmlNodePtr c = first_element(prop->children); c; c = first_element(c->next)) {
        dav_name *v = realloc(*names, (*n + 1) * sizeof **names);
        if (!v) return -1;
        *names = v;
        if (name_of(c, &v[*n]) < 0) {
            name_free(&v[*n]);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

int davx_parse_propfind(const char *body, size_t len, dav_propfind *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (len == 0) {
        out->mode = DAVPF_ALLPROP; /* RFC 4918 9.1: no body is allprop */
        return 0;
    }
    xmlDocPtr doc = parse(body, len, why);
    if (!doc) return -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = -1;
    if (!is_dav(root, "propfind")) {
        *why = "the body of a PROPFIND must be a DAV:propfind element";
        goto done;
    }
    xmlNodePtr c = first_element(root->children);
    if (is_dav(c, "allprop")) {
        out->mode = DAVPF_ALLPROP;
        for (xmlNodePtr i = first_element(c->next); i; i = first_element(i->next))
            if (is_dav(i, "include") && take_names(i, &out->names, &out->n) < 0) goto oom;
    } else if (is_dav(c, "propname")) {
        out->mode = DAVPF_PROPNAME;
    } else if (is_dav(c, "prop")) {
        out->mode = DAVPF_PROP;
        if (take_names(c, &out->names, &out->n) < 0) goto oom;
    } else {
        *why = "a DAV:propfind must hold DAV:allprop, DAV:propname or DAV:prop";
        goto done;
    }
    rc = 0;
    goto done;
oom:
    *why = "out of memory";
done:
    xmlFreeDoc(doc);
    if (rc < 0) davx_propfind_free(out);
    return rc;
}

void davx_propfind_free(dav_propfind *pf)
{
    for (size_t i = 0; i < pf->n; i++)
        name_free(&pf->names[i]);
    free(pf->names);
    pf->names = NULL;
    pf->n = 0;
}

/* n alone, as a document of its own whose namespaces are all declared on
 * it, serialized: a dead property's value as it is kept. NULL when out of
 * memory. */
static char *serialize(xmlNodePtr n)
{
    xmlDocPtr d = xmlNewDoc((const xmlChar *)"1.0");
    if (!d) return NULL;
    char *s = NULL;
    xmlNodePtr copy = xmlDocCopyNode(n, d, 1);
    xmlBufferPtr b = xmlBufferCreate();
    if (copy && b) {
        xmlDocSetRootElement(d, copy);
        xmlReconciliateNs(d, copy);
        if (xmlNodeDump(b, d, copy, 0, 0) >= 0) s = strdup((const char *)xmlBufferContent(b));
    }
    if (b) xmlBufferFree(b);
    xmlFreeDoc(d);
    return s;
}

int davx_parse_proppatch(const char *body, size_t len, dav_patch *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    xmlDocPtr doc = parse(body, len, why);
    if (!doc) return -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = -1;
    if (!is_dav(root, "propertyupdate")) {
        *why = "the body of a PROPPATCH must be a DAV:propertyupdate element";
        goto done;
    }
    for (xmlNodePtr c = first_element(root->children); c; c = first_element(c->next)) {
        int remove = is_dav(c, "remove");
        if (!remove && !is_dav(c, "set")) continue;
        for (xmlNodePtr p = first_element(c->children); p; p = first_element(p->next)) {
            if (!is_dav(p, "prop")) continue;
            for (xmlNodePtr e = first_element(p->children); e; e = first_element(e->next)) {
                dav_patch_op *v = realloc(out->ops, (out->n + 1) * sizeof *v);
                if (!v) goto oom;
                out->ops = v;
                dav_patch_op *op = &v[out->n];
                memset(op, 0, sizeof *op);
                op->remove = remove;
                out->n++;
                if (name_of(e, &op->nm) < 0 || (!remove && !(op->xml = serialize(e)))) goto oom;
            }
        }
    }
    if (out->n == 0) {
        *why = "a DAV:propertyupdate with no property to set or remove";
        goto done;
    }
    rc = 0;
    goto done;
oom:
    *why = "out of memory";
done:
    xmlFreeDoc(doc);
    if (rc < 0) davx_patch_free(out);
    return rc;
}

void davx_patch_free(dav_patch *p)
{
    for (size_t i = 0; i < p->n; i++) {
        name_free(&p->ops[i].nm);
        free(p->ops[i].xml);
    }
    free(p->ops);
    p->ops = NULL;
    p->n = 0;
}

int davx_parse_lockinfo(const char *body, size_t len, int *exclusive, char **owner, int *refresh,
                        const char **why)
{
    *owner = NULL;
    *why = NULL;
    *exclusive = 1;
    *refresh = len == 0;
    if (len == 0) return 0;
    xmlDocPtr doc = parse(body, len, why);
    if (!doc) return -1;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = -1, scope = 0, type = 0;
    if (!is_dav(root, "lockinfo")) {
        *why = "the body of a LOCK must be a DAV:lockinfo element";
        goto done;
    }
    for (xmlNodePtr c = first_element(root->children); c; c = first_element(c->next)) {
        if (is_dav(c, "lockscope")) {
            xmlNodePtr s = first_element(c->children);
            scope = is_dav(s, "exclusive") ? 1 : is_dav(s, "shared") ? 2 : 0;
        } else if (is_dav(c, "locktype")) {
            type = is_dav(first_element(c->children), "write");
        } else if (is_dav(c, "owner") && !*owner) {
            if (!(*owner = serialize(c))) {
                *why = "out of memory";
                goto done;
            }
        }
    }
    if (!scope || !type) {
        *why = "a DAV:lockinfo needs a DAV:lockscope (exclusive or shared) and DAV:locktype write";
        goto done;
    }
    *exclusive = scope == 1;
    rc = 0;
done:
    xmlFreeDoc(doc);
    if (rc < 0) {
        free(*owner);
        *owner = NULL;
    }
    return rc;
}

/* --- writing ------------------------------------------------------------- */

struct davx_ms {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int failed;
};

#define W(m, call)                                                                                 \
    do {                                                                                           \
        if ((call) < 0) (m)->failed = 1;                                                           \
    } while (0)

static const xmlChar *X(const char *s)
{
    return (const xmlChar *)s;
}

/* A DAV: element, by its prefix: the root declares D once, and the
 * writer's namespace bookkeeping per element would cost more than all the
 * rest of a listing. */
static void start_dav(davx_ms *m, const char *name)
{
    char q[64];
    size_t n = strlen(name);
    if (n + 3 > sizeof q) {
        m->failed = 1;
        return;
    }
    memcpy(q, "D:", 2);
    memcpy(q + 2, name, n + 1);
    W(m, xmlTextWriterStartElement(m->w, X(q)));
}

static void end(davx_ms *m)
{
    W(m, xmlTextWriterEndElement(m->w));
}

static void status_line(davx_ms *m, int status)
{
    char s[64];
    snprintf(s, sizeof s, "HTTP/1.1 %d %s", status, htd_reason(status));
    start_dav(m, "status");
    W(m, xmlTextWriterWriteString(m->w, X(s)));
    end(m);
}

static davx_ms *writer_new(const char *root, size_t hint)
{
    davx_ms *m = calloc(1, sizeof *m);
    if (!m || !(m->buf = xmlBufferCreateSize(hint < 4096 ? 4096 : hint))) {
        davx_ms_free(m);
        return NULL;
    }
    /* Doubling, not the exact growth libxml2 starts with: a listing is
     * hundreds of kilobytes written a few bytes at a time. */
    xmlBufferSetAllocationScheme(m->buf, XML_BUFFER_ALLOC_DOUBLEIT);
    if (!(m->w = xmlNewTextWriterMemory(m->buf, 0))) {
        davx_ms_free(m);
        return NULL;
    }
    W(m, xmlTextWriterStartDocument(m->w, "1.0", "utf-8", NULL));
    W(m, xmlTextWriterStartElementNS(m->w, X("D"), X(root), X(DAV_NS)));
    return m;
}

davx_ms *davx_ms_new(size_t hint)
{
    return writer_new("multistatus", hint);
}

void davx_ms_free(davx_ms *m)
{
    if (!m) return;
    if (m->w) xmlFreeTextWriter(m->w);
    if (m->buf) xmlBufferFree(m->buf);
    free(m);
}

void davx_ms_response_begin(davx_ms *m, const char *href)
{
    start_dav(m, "response");
    start_dav(m, "href");
    W(m, xmlTextWriterWriteString(m->w, X(href)));
    end(m);
}

void davx_ms_response_end(davx_ms *m)
{
    end(m);
}

void davx_ms_response_status(davx_ms *m, const char *href, int status)
{
    davx_ms_response_begin(m, href);
    status_line(m, status);
    end(m);
}

void davx_ms_propstat_begin(davx_ms *m)
{
    start_dav(m, "propstat");
    start_dav(m, "prop");
}

void davx_ms_propstat_end(davx_ms *m, int status)
{
    end(m); /* prop */
    status_line(m, status);
    end(m); /* propstat */
}

void davx_ms_prop_dav(davx_ms *m, const char *name, const char *text)
{
    start_dav(m, name);
    if (text) W(m, xmlTextWriterWriteString(m->w, X(text)));
    end(m);
}

void davx_ms_prop_resourcetype(davx_ms *m, int collection)
{
    start_dav(m, "resourcetype");
    if (collection) {
        start_dav(m, "collection");
        end(m);
    }
    end(m);
}

void davx_ms_prop_empty(davx_ms *m, const dav_name *nm)
{
    if (strcmp(nm->ns, DAV_NS) == 0) {
        start_dav(m, nm->name);
    } else if (!nm->ns[0]) {
        /* No namespace: the element must undo none, as the writer declares
         * no default namespace. */
        W(m, xmlTextWriterStartElement(m->w, X(nm->name)));
    } else {
        W(m, xmlTextWriterStartElementNS(m->w, X("ns0"), X(nm->name), X(nm->ns)));
    }
    end(m);
}

void davx_ms_prop_raw(davx_ms *m, const char *xml)
{
    W(m, xmlTextWriterWriteRaw(m->w, X(xml)));
}

static void prop_lock(davx_ms *m, int exclusive)
{
    start_dav(m, "lockscope");
    start_dav(m, exclusive ? "exclusive" : "shared");
    end(m);
    end(m);
    start_dav(m, "locktype");
    start_dav(m, "write");
    end(m);
    end(m);
}

static void supportedlock(davx_ms *m)
{
    start_dav(m, "supportedlock");
    for (int ex = 1; ex >= 0; ex--) {
        start_dav(m, "lockentry");
        prop_lock(m, ex);
        end(m);
    }
    end(m);
}

/* The same for every resource: written by the library once (davx_init),
 * then put in as it came out. */
static char *supportedlock_xml;

static void make_supportedlock(void)
{
    davx_ms *m = writer_new("x", 0);
    if (!m) return;
    size_t mark = 0;
    W(m, xmlTextWriterFlush(m->w));
    mark = (size_t)xmlBufferLength(m->buf);
    supportedlock(m);
    W(m, xmlTextWriterFlush(m->w));
    if (!m->failed) {
        size_t n = (size_t)xmlBufferLength(m->buf) - mark;
        /* The root's start tag (its namespace, its '>') is finished only as
         * the first child starts: from that child's '<' on. */
        const char *p = (const char *)xmlBufferContent(m->buf) + mark, *e = p + n;
        const char *lt = memchr(p, '<', n);
        if (lt) supportedlock_xml = strndup(lt, (size_t)(e - lt));
    }
    davx_ms_free(m);
}

void davx_ms_prop_supportedlock(davx_ms *m)
{
    if (supportedlock_xml)
        davx_ms_prop_raw(m, supportedlock_xml);
    else
        supportedlock(m);
}

static void activelock(davx_ms *m, const davx_lock *l)
{
    start_dav(m, "activelock");
    prop_lock(m, l->exclusive);
    davx_ms_prop_dav(m, "depth", l->infinity ? "infinity" : "0");
    if (l->owner) davx_ms_prop_raw(m, l->owner);
    char t[40];
    if (l->timeout_s < 0)
        snprintf(t, sizeof t, "Infinite");
    else
        snprintf(t, sizeof t, "Second-%ld", l->timeout_s);
    davx_ms_prop_dav(m, "timeout", t);
    start_dav(m, "locktoken");
    davx_ms_prop_dav(m, "href", l->token);
    end(m);
    start_dav(m, "lockroot");
    davx_ms_prop_dav(m, "href", l->root_href);
    end(m);
    end(m);
}

void davx_ms_prop_lockdiscovery(davx_ms *m, const davx_lock *locks, size_t n)
{
    start_dav(m, "lockdiscovery");
    for (size_t i = 0; i < n; i++)
        activelock(m, &locks[i]);
    end(m);
}

int davx_ms_finish(davx_ms *m, char **out, size_t *len)
{
    W(m, xmlTextWriterEndDocument(m->w));
    xmlFreeTextWriter(m->w);
    m->w = NULL;
    int rc = -1;
    if (!m->failed) {
        /* The buffer's memory itself, not a copy (xmlFree is free here). */
        *len = (size_t)xmlBufferLength(m->buf);
        if ((*out = (char *)xmlBufferDetach(m->buf))) rc = 0;
    }
    davx_ms_free(m);
    return rc;
}

int davx_lock_answer(const davx_lock *l, char **out, size_t *len)
{
    davx_ms *m = writer_new("prop", 0);
    if (!m) return -1;
    davx_ms_prop_lockdiscovery(m, l, 1);
    return davx_ms_finish(m, out, len);
}
