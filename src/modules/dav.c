/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav.c - WebDAV on the writable areas; see dav.h.
 *
 * Each method but OPTIONS is one job on the pool: the request (its body
 * read first, for PROPFIND and PROPPATCH) waits suspended while the job
 * reads the tree, changes it (dav_fs.h) and the dead properties (through
 * the state database's writer, dav_props.h), and writes its answer (a 207
 * with libxml2, dav_xml.h); the content phase, asked again, sends what the
 * job made. A change to the files comes first and the properties follow:
 * a crash between the two leaves properties behind on a path that lost its
 * resource, which MKCOL and the next COPY or MOVE there clear.
 */
#include "dav.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "conn.h"
#include "date.h"
#include "dav_fs.h"
#include "dav_lock.h"
#include "dav_props.h"
#include "dav_xml.h"
#include "etag.h"
#include "fields.h"
#include "jobs.h"
#include "mime.h"
#include "path.h"
#include "req.h"
#include "site.h"
#include "sqlite_db.h"
#include "statedb.h"
#include "store.h"

#define DEPTH_INF 2
#define ALLOWED                                                                                    \
    "GET, HEAD, OPTIONS, PUT, POST, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK"
#define BODY_MAX (1 << 20) /* a PROPFIND's or PROPPATCH's XML */

enum {
    OP_PROPFIND,
    OP_PROPPATCH,
    OP_MKCOL,
    OP_DELETE,
    OP_COPY,
    OP_MOVE,
    OP_LOCK,
    OP_UNLOCK,
    OP_CHECK
};

#define NS_MAX 260        /* "//" and a vhost's name */
#define LOCK_MAX_S 604800 /* the longest lock granted: a week */
#define LOCK_DEFAULT_S 600

/* The module's per-server state. */
typedef struct dav_srv {
    int on; /* webdav = true at the top level or in a vhost */
    unsigned infinity_max;
    statedb *db; /* open: the dead properties' and the locks' */
    dav_locks locks;
    /* No dead property is kept anywhere (as the database said after its
     * last change): tree operations need not ask it about theirs. */
    atomic_int props_empty;
} dav_srv;

typedef struct dav_job {
    htd_job job;
    conn *c; /* NULL once the connection has gone */
    dav_srv *srv;
    const server_ctx *sx; /* for the areas of the paths an If header names */
    const htd_mime *mime;
    pthread_mutex_t *lock; /* the store's commit lock */
    int op, done, depth, overwrite;
    int area, to_area; /* the areas' directories */
    int ai, to_ai;     /* and their indexes (store.h) */
    const char *vhost; /* the areas' vhost (the store's copy of its name), NULL: top level */
    /* The key of a resource, for its locks and dead properties: its URL
     * path without a trailing slash, after "//NAME" for a vhost's area (no
     * URL path starts with "//"), so that the same path on two vhosts is
     * two resources; and the URL path relative to its area ("" for the
     * area itself). */
    char path[NS_MAX + REQ_PATH_MAX + 1], rel[REQ_PATH_MAX + 1];
    char to[NS_MAX + REQ_PATH_MAX + 1], to_rel[REQ_PATH_MAX + 1];
    char *body;
    size_t body_len;
    /* Conditions: If (RFC 4918 10.4), If-Match and If-None-Match, copied
     * (NULL: none); for LOCK, the Timeout asked for; for UNLOCK, the token. */
    char *if_h, *if_match, *if_none_match;
    long timeout_s;
    char token[DAVL_TOKEN_LEN + 64];
    int exists; /* CHECK, LOCK: whether the resource was there */
    int post;   /* CHECK: of a POST (which adds to the collection it names) */
    /* The answer. */
    int status;
    const char *why;
    char *out; /* a 207's document, or NULL */
    size_t out_len;
    char lock_token[DAVL_TOKEN_LEN + 1]; /* LOCK's, for its Lock-Token header */
    /* What the state database is to do for the locks, beside the
     * properties: keep lock_row (LOCK, a refresh), drop the lock with
     * drop_token (UNLOCK), or those in path's tree (drop_tree: DELETE, MOVE). */
    dav_lock lock_row;
    int keep_lock, drop_tree;
    char drop_token[DAVL_TOKEN_LEN + 1];
} dav_job;

/* ---- on the pool ---- */

/* A resource PROPFIND reports. */
typedef struct res {
    char *path; /* URL path, no trailing slash */
    int dir;
    struct stat st;
    time_t created;
} res;

typedef struct walk {
    res *v;
    size_t n, cap, max;
    int too_many;
} walk;

/* One row of dead properties. */
typedef struct dprop {
    char *path, *ns, *name, *xml;
} dprop;

typedef struct dprops {
    dprop *v;
    size_t n, cap;
    int failed;
} dprops;

static int stat_at(int dirfd, const char *name, struct stat *st, time_t *created)
{
    struct statx sx;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH),
              STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
        return -1;
    memset(st, 0, sizeof *st);
    st->st_mode = sx.stx_mode;
    st->st_ino = sx.stx_ino;
    st->st_size = (off_t)sx.stx_size;
    st->st_mtim.tv_sec = sx.stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
    *created =
        sx.stx_mask & STATX_BTIME ? (time_t)sx.stx_btime.tv_sec : (time_t)sx.stx_ctime.tv_sec;
    return 0;
}

static int walk_add(walk *w, const char *dir, const char *name, const struct stat *st,
                    time_t created)
{
    if (w->n == w->max) {
        w->too_many = 1;
        return -1;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        res *v = realloc(w->v, cap * sizeof *v);
        if (!v) return -1;
        w->v = v;
        w->cap = cap;
    }
    size_t dl = strlen(dir), nl = name ? strlen(name) : 0;
    char *p = malloc(dl + nl + 2);
    if (!p) return -1;
    memcpy(p, dir, dl);
    if (name) {
        p[dl] = '/';
        memcpy(p + dl + 1, name, nl + 1);
    } else {
        p[dl] = 0;
    }
    w->v[w->n++] = (res){.path = p, .dir = S_ISDIR(st->st_mode), .st = *st, .created = created};
    return 0;
}

/* The resources below w->v[i] (a collection open at fd, taken), one level. */
static int walk_dir(walk *w, size_t i, int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue; /* dotfiles, temporary files: never shown */
        struct stat st;
        time_t created;
        if (stat_at(dirfd(d), de->d_name, &st, &created) < 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
        rc = walk_add(w, w->v[i].path, de->d_name, &st, created);
    }
    closedir(d);
    return rc;
}

/* The target, and what lies below it to the job's depth. (O_NONBLOCK: a
 * FIFO someone made in the area must not hold a pool thread.) */
static int walk_tree(dav_job *j, walk *w)
{
    int fd = htd_open_beneath(j->area, j->rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    time_t created;
    if (stat_at(fd, "", &st, &created) < 0) {
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) { /* not a resource: as listings say */
        close(fd);
        errno = ENOENT;
        return -1;
    }
    if (walk_add(w, j->path, NULL, &st, created) < 0) {
        close(fd);
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || j->depth == 0) {
        close(fd);
        return 0;
    }
    if (walk_dir(w, 0, fd) < 0) return -1;
    for (size_t i = 1; j->depth == DEPTH_INF && i < w->n; i++) {
        if (!w->v[i].dir) continue;
        const char *rel = w->v[i].path + strlen(j->path) - strlen(j->rel);
        while (*rel == '/')
            rel++;
        int cfd = htd_open_beneath(j->area, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (cfd < 0) continue;
        if (walk_dir(w, i, cfd) < 0) return -1;
    }
    return 0;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].path);
    free(w->v);
}

static void dprop_add(void *arg, const char *path, const char *ns, const char *name,
                      const char *xml)
{
    dprops *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        dprop *v = realloc(d->v, cap * sizeof *v);
        if (!v) {
            d->failed = 1;
            return;
        }
        d->v = v;
        d->cap = cap;
    }
    dprop *p = &d->v[d->n];
    *p = (dprop){strdup(path), strdup(ns), strdup(name), strdup(xml)};
    if (!p->path || !p->ns || !p->name || !p->xml) {
        free(p->path), free(p->ns), free(p->name), free(p->xml);
        d->failed = 1;
        return;
    }
    d->n++;
}

static void dprops_free(dprops *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].path), free(d->v[i].ns), free(d->v[i].name), free(d->v[i].xml);
    free(d->v);
}

/* What a job asks of the state database, on its writer thread. */
typedef struct db_ask {
    dav_job *j;
    dprops *props;      /* PROPFIND: filled */
    const dav_patch *p; /* PROPPATCH */
    int rc;
} db_ask;

static int apply_ask(qstore *s, qw_op *op)
{
    db_ask *a = statedb_sync_arg(op);
    dav_job *j = a->j;
    sqlite3 *db = qstore_sqlite_db(s);
    switch (j->op) {
    case OP_PROPFIND:
        a->rc = davp_list(db, j->path, j->depth >= 1, j->depth == DEPTH_INF, dprop_add, a->props);
        break;
    case OP_PROPPATCH:
        a->rc = davp_patch(db, j->path, a->p);
        break;
    case OP_MKCOL:
    case OP_DELETE:
        a->rc = davp_delete(db, j->path);
        break;
    case OP_COPY:
        a->rc = davp_copy(db, j->path, j->to, j->depth != 0);
        break;
    case OP_MOVE:
        a->rc = davp_move(db, j->path, j->to);
        break;
    case OP_LOCK: /* a resource made by the lock: what a lost one left there goes */
        a->rc = j->exists ? SQLITE_OK : davp_delete(db, j->path);
        break;
    default:
        a->rc = SQLITE_OK;
    }
    if (a->rc == SQLITE_OK && j->op != OP_PROPFIND)
        atomic_store(&j->srv->props_empty, davp_empty(db) == 1);
    if (a->rc == SQLITE_OK && j->keep_lock) a->rc = davp_lock_put(db, &j->lock_row);
    if (a->rc == SQLITE_OK && j->drop_token[0]) a->rc = davp_lock_drop(db, j->drop_token);
    if (a->rc == SQLITE_OK && j->drop_tree) a->rc = davp_lock_drop_tree(db, j->path);
    return a->rc == SQLITE_OK ? QS_OK : QS_ERROR;
}

/* Runs the job's part in the state database: 0, or -1. */
static int ask_db(dav_job *j, dprops *props, const dav_patch *p)
{
    if (!j->srv->db) return 0;
    /* A listing, move, copy or delete with no property anywhere and no
     * lock to keep or drop: nothing to read or write (and no transaction
     * to wait for). */
    int tree_op = j->op == OP_MKCOL || j->op == OP_DELETE || j->op == OP_COPY || j->op == OP_MOVE ||
                  j->op == OP_LOCK;
    if ((tree_op || j->op == OP_PROPFIND) && atomic_load(&j->srv->props_empty) && !j->keep_lock &&
        !j->drop_token[0] && !j->drop_tree)
        return 0;
    db_ask a = {.j = j, .props = props, .p = p};
    return statedb_sync(j->srv->db, apply_ask, &a) == QS_OK ? 0 : -1;
}

static void set(dav_job *j, int status, const char *why)
{
    j->status = status;
    j->why = why;
}

/* A failure of the filesystem as a status. */
static void set_errno(dav_job *j, int e, const char *what)
{
    switch (e) {
    case ENOENT:
        set(j, 404, "no such resource");
        break;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
        set(j, 403, "forbidden");
        break;
    case ENOSPC:
    case EDQUOT:
        set(j, 507, "insufficient storage");
        break;
    default:
        set(j, 500, what);
    }
}

/* The URL path of a key: without its "//NAME" (dav_job). */
static const char *url_of(const char *key)
{
    if (key[0] != '/' || key[1] != '/') return key;
    const char *p = strchr(key + 2, '/');
    return p ? p : "/";
}

/* RFC 4331's, for an area with a quota, only when asked for by name. */
static int is_quota(const dav_name *nm)
{
    return !strcmp(nm->ns, "DAV:") &&
           (!strcmp(nm->name, "quota-available-bytes") || !strcmp(nm->name, "quota-used-bytes"));
}

static const char *const live_names[] = {
    "creationdate",    "displayname",  "getcontentlength", "getcontenttype", "getetag",
    "getlastmodified", "resourcetype", "supportedlock",    "lockdiscovery",  NULL};

static int is_live(const dav_name *nm)
{
    if (is_quota(nm)) return 1;
    if (strcmp(nm->ns, "DAV:") != 0) return 0;
    for (const char *const *n = live_names; *n; n++)
        if (strcmp(*n, nm->name) == 0) return 1;
    return 0;
}

/* The href of a path: encoded, with a '/' for a collection. */
static void href_of_path(const char *path, int dir, char *out, size_t cap)
{
    path = url_of(path);
    size_t n = htd_path_uri(path, strlen(path), out, cap - 2);
    if (n >= cap - 2) n = 0;
    if (dir && (n == 0 || out[n - 1] != '/')) out[n++] = '/';
    out[n] = 0;
}

#define LOCKS_SHOWN 16

/* D:lockdiscovery of path: the locks that cover it. */
static void lockdiscovery(davx_ms *m, dav_locks *t, const char *path)
{
    dav_lock *ls[LOCKS_SHOWN];
    davx_lock out[LOCKS_SHOWN];
    char hrefs[LOCKS_SHOWN][256];
    pthread_mutex_lock(&t->mu);
    size_t n = davl_covering(t, path, ls, LOCKS_SHOWN, qstore_now_ms());
    if (n > LOCKS_SHOWN) n = LOCKS_SHOWN;
    for (size_t i = 0; i < n; i++) {
        href_of_path(ls[i]->root, 0, hrefs[i], sizeof hrefs[i]);
        out[i] = (davx_lock){.root_href = hrefs[i],
                             .exclusive = ls[i]->exclusive,
                             .infinity = ls[i]->infinity,
                             .owner = ls[i]->owner,
                             .timeout_s = ls[i]->timeout_s,
                             .token = ls[i]->token};
    }
    davx_ms_prop_lockdiscovery(m, out, n);
    pthread_mutex_unlock(&t->mu);
}

/* Writes live property name of r (when it has one): 1, else 0. */
static int live(davx_ms *m, const res *r, const char *name, const htd_mime *mime, int names_only,
                dav_locks *locks, const uint64_t *quota)
{
    char v[128];
    const char *text = NULL;
    if (quota && (!strcmp(name, "quota-available-bytes") || !strcmp(name, "quota-used-bytes"))) {
        uint64_t left = quota[1] < quota[0] ? quota[0] - quota[1] : 0;
        snprintf(v, sizeof v, "%llu", (unsigned long long)(name[6] == 'a' ? left : quota[1]));
        davx_ms_prop_dav(m, name, names_only ? NULL : v);
        return 1;
    }
    if (!names_only && !strcmp(name, "supportedlock")) {
        davx_ms_prop_supportedlock(m);
        return 1;
    }
    if (!names_only && !strcmp(name, "lockdiscovery")) {
        lockdiscovery(m, locks, r->path);
        return 1;
    }
    if (!strcmp(name, "supportedlock") || !strcmp(name, "lockdiscovery")) {
        davx_ms_prop_dav(m, name, NULL);
        return 1;
    }
    if (!strcmp(name, "resourcetype")) {
        if (names_only)
            davx_ms_prop_dav(m, name, NULL);
        else
            davx_ms_prop_resourcetype(m, r->dir);
        return 1;
    }
    if (!strcmp(name, "creationdate")) {
        struct tm tm;
        gmtime_r(&r->created, &tm);
        strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tm);
        text = v;
    } else if (!strcmp(name, "displayname")) {
        const char *slash = strrchr(r->path, '/');
        text = slash ? slash + 1 : r->path;
    } else if (!strcmp(name, "getlastmodified")) {
        char d[HTD_DATE_LEN + 1];
        htd_date_format(r->st.st_mtim.tv_sec, d);
        snprintf(v, sizeof v, "%s", d);
        text = v;
    } else if (!strcmp(name, "getetag")) {
        if (r->dir) return 0;
        etag_of_file(&r->st, v, sizeof v);
        text = v;
    } else if (!strcmp(name, "getcontentlength")) {
        if (r->dir) return 0;
        snprintf(v, sizeof v, "%lld", (long long)r->st.st_size);
        text = v;
    } else if (!strcmp(name, "getcontenttype")) {
        if (r->dir) return 0;
        const char *slash = strrchr(r->path, '/');
        const char *leaf = slash ? slash + 1 : r->path;
        text = htd_mime_type(mime, leaf, strlen(leaf));
        if (!text) return 0;
    } else {
        return 0;
    }
    davx_ms_prop_dav(m, name, names_only ? NULL : text);
    return 1;
}

/* The href of r: its path encoded, with a '/' for a collection. */
static void href_of(const res *r, char *out, size_t cap)
{
    href_of_path(r->path, r->dir, out, cap);
}

static const dprop *dead_of(const dprops *d, const char *path, const dav_name *nm)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->v[i].path, path) && !strcmp(d->v[i].ns, nm->ns) &&
            !strcmp(d->v[i].name, nm->name))
            return &d->v[i];
    return NULL;
}

/* Whether r has property nm: a dead one, or a live one that applies (a
 * collection has no length, type or entity-tag). */
static int has_prop(const res *r, const dav_name *nm, const dprops *d, const uint64_t *quota)
{
    if (dead_of(d, r->path, nm)) return 1;
    if (is_quota(nm)) return quota != NULL;
    if (!is_live(nm)) return 0;
    return !(r->dir && (!strcmp(nm->name, "getetag") || !strcmp(nm->name, "getcontentlength") ||
                        !strcmp(nm->name, "getcontenttype")));
}

static void propfind_one(davx_ms *m, const res *r, const dav_propfind *pf, const dprops *d,
                         const htd_mime *mime, dav_locks *locks, const uint64_t *quota)
{
    char href[3 * REQ_PATH_MAX + 4];
    href_of(r, href, sizeof href);
    davx_ms_response_begin(m, href);
    if (pf->mode != DAVPF_PROP) {
        davx_ms_propstat_begin(m);
        for (const char *const *n = live_names; *n; n++)
            live(m, r, *n, mime, pf->mode == DAVPF_PROPNAME, locks, NULL);
        for (size_t i = 0; i < d->n; i++) {
            if (strcmp(d->v[i].path, r->path) != 0) continue;
            if (pf->mode == DAVPF_PROPNAME)
                davx_ms_prop_empty(m, &(dav_name){d->v[i].ns, d->v[i].name});
            else
                davx_ms_prop_raw(m, d->v[i].xml);
        }
        davx_ms_propstat_end(m, 200);
        davx_ms_response_end(m);
        return;
    }
    /* Named properties: those it has (200), then those it has not (404). */
    int found = 0, missing = 0;
    for (size_t i = 0; i < pf->n; i++)
        has_prop(r, &pf->names[i], d, quota) ? found++ : missing++;
    if (found) {
        davx_ms_propstat_begin(m);
        for (size_t i = 0; i < pf->n; i++) {
            const dav_name *nm = &pf->names[i];
            const dprop *dp = dead_of(d, r->path, nm);
            if (dp)
                davx_ms_prop_raw(m, dp->xml);
            else if (has_prop(r, nm, d, quota))
                live(m, r, nm->name, mime, 0, locks, quota);
        }
        davx_ms_propstat_end(m, 200);
    }
    if (missing) {
        davx_ms_propstat_begin(m);
        for (size_t i = 0; i < pf->n; i++)
            if (!has_prop(r, &pf->names[i], d, quota)) davx_ms_prop_empty(m, &pf->names[i]);
        davx_ms_propstat_end(m, 404);
    }
    davx_ms_response_end(m);
}

/* The entity-tag of a path of this server's writable areas, "" for none
 * (a collection's, a missing resource's): for the If header's conditions. */
static void etag_cb(void *arg, const char *path, char *out, size_t cap)
{
    const dav_job *j = arg;
    int area;
    size_t plen;
    struct stat st;
    out[0] = 0;
    path = url_of(path);
    if (store_area(j->sx, j->vhost, path, strlen(path), &area, &plen) < 0) return;
    const char *rel = path + (strlen(path) > plen ? plen : strlen(path));
    while (*rel == '/')
        rel++;
    if (davfs_stat(area, rel, &st) == 0 && S_ISREG(st.st_mode)) etag_of_file(&st, out, cap);
}

/* The request's conditions on its own resource: If (with lock tokens and
 * entity-tags), If-Match and If-None-Match. 0, or -1 with the status set
 * (400 for a malformed If, 412). h is the parsed If, for guard. */
static int conditions(dav_job *j, davif *h)
{
    dav_locks *t = &j->srv->locks;
    if (j->if_h) {
        if (davif_parse(j->if_h, strlen(j->if_h), h) < 0) {
            set(j, 400, "malformed If header");
            return -1;
        }
        /* A tagged list names a URL path: the key is the vhost's. */
        size_t ns = (size_t)(url_of(j->path) - j->path);
        for (size_t i = 0; ns && i < h->n; i++) {
            char *t = h->l[i].tag, *k = t ? malloc(ns + strlen(t) + 1) : NULL;
            if (!t) continue;
            if (!k) {
                set(j, 500, "out of memory");
                return -1;
            }
            memcpy(k, j->path, ns);
            strcpy(k + ns, t);
            free(t);
            h->l[i].tag = k;
        }
        pthread_mutex_lock(&t->mu);
        int holds = davif_holds(h, j->path, t, etag_cb, j, qstore_now_ms());
        pthread_mutex_unlock(&t->mu);
        if (!holds) {
            set(j, 412, "the If header's conditions do not hold");
            return -1;
        }
    }
    if (!j->if_match && !j->if_none_match) return 0;
    char cur[128];
    etag_cb(j, j->path, cur, sizeof cur);
    struct stat st;
    int exists = davfs_stat(j->area, j->rel, &st) == 0;
    htd_str tag = {cur, strlen(cur)};
    if (j->if_match &&
        !(strcmp(j->if_match, "*") == 0
              ? exists
              : cur[0] && etag_match((htd_str){j->if_match, strlen(j->if_match)}, tag, 0))) {
        set(j, 412, "precondition failed: If-Match");
        return -1;
    }
    if (j->if_none_match &&
        (strcmp(j->if_none_match, "*") == 0
             ? exists
             : cur[0] &&
                   etag_match((htd_str){j->if_none_match, strlen(j->if_none_match)}, tag, 1))) {
        set(j, 412, "precondition failed: If-None-Match");
        return -1;
    }
    return 0;
}

/* Whether the locks let the request change path (tree: and what is below
 * it; member: its parent's membership), by the tokens its If submits. 0,
 * or -1 with 423 set. */
static int guard(dav_job *j, const davif *h, const char *path, int tree, int member)
{
    dav_locks *t = &j->srv->locks;
    pthread_mutex_lock(&t->mu);
    int ok = davl_may_write(t, path, tree, member, h->tokens, h->ntokens, qstore_now_ms());
    pthread_mutex_unlock(&t->mu);
    if (ok) return 0;
    set(j, 423, "locked: the request does not submit the lock's token in an If header");
    return -1;
}

/* Drops the locks rooted at or below the job's path (a DELETE, a MOVE's
 * source): in memory now, in the database with the job's ask_db. */
static void drop_locks_below(dav_job *j)
{
    dav_locks *t = &j->srv->locks;
    size_t n = strlen(j->path);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n;) {
        const char *r = t->v[i].root;
        if (!strncmp(r, j->path, n) && (r[n] == 0 || r[n] == '/')) {
            davl_remove(t, t->v[i].token); /* moves the last into i */
            j->drop_tree = 1;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

static void do_propfind(dav_job *j)
{
    dav_propfind pf;
    const char *why;
    if (davx_parse_propfind(j->body, j->body_len, &pf, &why) < 0) {
        set(j, 400, why);
        return;
    }
    walk w = {.max = j->depth == DEPTH_INF ? j->srv->infinity_max + 1 : (size_t)-1};
    dprops d = {0};
    if (walk_tree(j, &w) < 0) {
        if (w.too_many)
            set(j, 403, "a PROPFIND with Depth: infinity would list more than webdav_infinity_max");
        else
            set_errno(j, w.n ? ENOMEM : errno, "cannot read the collection");
    } else if (ask_db(j, &d, NULL) < 0 || d.failed) {
        set(j, 500, "cannot read the dead properties");
    } else {
        uint64_t q[2];
        int has_quota = store_quota(j->sx, j->ai, &q[0], &q[1]) == 0;
        davx_ms *m = davx_ms_new(w.n * 800);
        for (size_t i = 0; m && i < w.n; i++)
            propfind_one(m, &w.v[i], &pf, &d, j->mime, &j->srv->locks, has_quota ? q : NULL);
        if (m && davx_ms_finish(m, &j->out, &j->out_len) == 0)
            set(j, 207, NULL);
        else
            set(j, 500, "out of memory");
    }
    dprops_free(&d);
    walk_free(&w);
    davx_propfind_free(&pf);
}

static void do_proppatch(dav_job *j)
{
    dav_patch p;
    const char *why;
    if (davx_parse_proppatch(j->body, j->body_len, &p, &why) < 0) {
        set(j, 400, why);
        return;
    }
    struct stat st;
    int rc = davfs_stat(j->area, j->rel, &st);
    int refused = 0;
    for (size_t i = 0; i < p.n; i++)
        refused |= is_live(&p.ops[i].nm);
    int failed = rc == 0 && !refused && ask_db(j, NULL, &p) < 0;
    if (rc < 0) {
        set_errno(j, -rc, "cannot find the resource");
    } else {
        /* 207: each property with its status; a live one cannot be set,
         * and with it the others fail (424), as the change is all or none. */
        res r = {.path = j->path, .dir = S_ISDIR(st.st_mode)};
        char href[3 * REQ_PATH_MAX + 4];
        href_of(&r, href, sizeof href);
        davx_ms *m = davx_ms_new(0);
        if (m) {
            davx_ms_response_begin(m, href);
            for (int pass = 0; pass < 2; pass++) {
                int any = 0;
                for (size_t i = 0; i < p.n; i++) {
                    int live_one = is_live(&p.ops[i].nm);
                    if (refused && live_one != (pass == 0)) continue;
                    if (!refused && pass == 1) continue;
                    if (!any++) davx_ms_propstat_begin(m);
                    davx_ms_prop_empty(m, &p.ops[i].nm);
                }
                if (any)
                    davx_ms_propstat_end(m, refused ? (pass == 0 ? 403 : 424) : failed ? 500 : 200);
            }
            davx_ms_response_end(m);
        }
        if (m && davx_ms_finish(m, &j->out, &j->out_len) == 0)
            set(j, 207, NULL);
        else
            set(j, 500, "out of memory");
    }
    davx_patch_free(&p);
}

static void do_mkcol(dav_job *j)
{
    pthread_mutex_lock(j->lock);
    int rc = davfs_mkcol(j->area, j->rel);
    pthread_mutex_unlock(j->lock);
    if (rc == -EEXIST)
        set(j, 405, "a resource exists there already");
    else if (rc == -ENOENT || rc == -ENOTDIR)
        set(j, 409, "the parent collection does not exist");
    else if (rc < 0)
        set_errno(j, -rc, "cannot make the collection");
    else if (ask_db(j, NULL, NULL) < 0) /* what a lost resource left there */
        set(j, 500, "cannot clear the properties");
    else
        set(j, 201, NULL);
}

static void do_delete(dav_job *j)
{
    if (!*j->rel) {
        set(j, 403, "the writable area itself cannot be deleted");
        return;
    }
    pthread_mutex_lock(j->lock);
    uint64_t bytes = 0;
    int rc = davfs_size(j->area, j->rel, 1, &bytes);
    if (rc == 0) rc = davfs_delete(j->area, j->rel);
    if (rc == 0) store_quota_add(j->sx, j->ai, -(int64_t)bytes);
    pthread_mutex_unlock(j->lock);
    if (rc == 0) drop_locks_below(j);
    if (rc < 0)
        set_errno(j, -rc, "cannot delete");
    else if (ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot remove the properties");
    else
        set(j, 204, NULL);
}

/* Whether the areas open at a and b are on one filesystem (one sync). */
static int same_fs(int a, int b)
{
    struct stat sa, sb;
    return a == b || (fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev);
}

static void do_copy_move(dav_job *j)
{
    int move = j->op == OP_MOVE;
    size_t n = strlen(j->path);
    if (!strcmp(j->path, j->to) || (!strncmp(j->to, j->path, n) && j->to[n] == '/')) {
        set(j, 403, "the destination is the source or below it");
        return;
    }
    if (!*j->rel || !*j->to_rel) {
        set(j, 403, "a writable area itself cannot be copied, moved or replaced");
        return;
    }
    uint64_t qa, qu;
    int same = move && j->ai == j->to_ai;
    int quotas =
        store_quota(j->sx, j->ai, &qa, &qu) == 0 || store_quota(j->sx, j->to_ai, &qa, &qu) == 0;
    /* A move with no quota to keep (the most common change a client
     * makes: a rename) looks at nothing first: the rename says whether the
     * source was there and what it replaced. */
    int existed = 0, rc;
    if (!move || quotas || j->depth != DEPTH_INF) {
        struct stat st, dst;
        if ((rc = davfs_stat(j->area, j->rel, &st)) < 0) {
            set_errno(j, -rc, "no such resource");
            return;
        }
        if (move && S_ISDIR(st.st_mode) && j->depth != DEPTH_INF) {
            set(j, 400, "a collection moves with Depth: infinity");
            return;
        }
        existed = davfs_stat(j->to_area, j->to_rel, &dst) == 0;
        if (existed && !j->overwrite) {
            set(j, 412, "the destination exists and Overwrite is F");
            return;
        }
    }
    /* What the destination's area gains: the source (all of it, or a
     * collection alone for Depth: 0), less what it replaces; a move within
     * an area only frees what it replaces. It is taken from the quota
     * first (507 when it does not fit), and given back if the change fails.
     * Areas without quotas are not measured. */
    uint64_t src = 0, old = 0;
    if (quotas && ((!same && davfs_size(j->area, j->rel, j->depth != 0, &src) < 0) ||
                   (existed && davfs_size(j->to_area, j->to_rel, 1, &old) < 0))) {
        set(j, 500, "cannot measure the resources");
        return;
    }
    int64_t gain = (same ? 0 : (int64_t)src) - (int64_t)old;
    if (quotas && store_quota_take(j->sx, j->to_ai, gain) < 0) {
        set(j, 507, "the destination's quota would be exceeded");
        return;
    }
    int replaced = 0;
    if (move) pthread_mutex_lock(j->lock);
    rc = move ? davfs_move(j->area, j->rel, j->to_area, j->to_rel, j->overwrite, &replaced)
              : davfs_copy(j->area, j->rel, j->to_area, j->to_rel, j->depth != 0, j->overwrite);
    if (move) pthread_mutex_unlock(j->lock);
    /* Durable before it is answered: the areas' filesystems synced, in
     * syncs the moves made meanwhile share (the lock is let go first). A
     * sync that fails leaves the move made all the same: its accounts,
     * locks and properties follow it, and the answer says it may not last. */
    int synced = 0;
    if (move && rc == 0) synced = davfs_sync(j->to_area);
    if (move && rc == 0 && !synced && !same_fs(j->area, j->to_area)) synced = davfs_sync(j->area);
    existed |= replaced;
    if (quotas) {
        if (rc < 0 && gain > 0) store_quota_add(j->sx, j->to_ai, -gain);
        if (rc == 0 && gain < 0) store_quota_add(j->sx, j->to_ai, gain);
        if (rc == 0 && move && !same) store_quota_add(j->sx, j->ai, -(int64_t)src);
    }
    if (move && rc == 0) drop_locks_below(j); /* locks stay where they were taken */
    if (rc == -EEXIST)
        set(j, 412, "the destination exists and Overwrite is F");
    else if (rc == -ENOTDIR)
        set(j, 409, "the destination's parent collection does not exist");
    else if (rc == -EINVAL)
        set(j, 403, "the destination is below the source");
    else if (rc == -EOPNOTSUPP)
        set(j, 500,
            "the file system here cannot put it in place atomically (no RENAME_NOREPLACE "
            "or RENAME_EXCHANGE, and no hard link for it)");
    else if (rc < 0)
        set_errno(j, -rc, move ? "cannot move" : "cannot copy");
    else if (ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot copy the properties");
    else if (synced < 0)
        set_errno(j, -synced, "moved, but the disk did not confirm it");
    else
        set(j, existed ? 204 : 201, NULL);
}

/* Grants the Timeout asked for, within LOCK_MAX_S. */
static long granted(long asked)
{
    return asked < 0 || asked > LOCK_MAX_S ? LOCK_MAX_S : asked;
}

/* LOCK: a new lock (201 when it made the resource), or a refresh of those
 * the If header names (an empty body). */
static void do_lock(dav_job *j, const davif *h)
{
    int exclusive, refresh;
    char *owner = NULL;
    const char *why;
    if (davx_parse_lockinfo(j->body, j->body_len, &exclusive, &owner, &refresh, &why) < 0) {
        set(j, 400, why);
        return;
    }
    dav_locks *t = &j->srv->locks;
    int64_t now = qstore_now_ms();
    long secs = granted(j->timeout_s);
    dav_lock row = {0};
    pthread_mutex_lock(&t->mu);
    if (refresh) {
        dav_lock *l = NULL;
        for (size_t i = 0; i < h->ntokens && !l; i++)
            l = davl_find(t, h->tokens[i], j->path, now);
        if (!l) {
            pthread_mutex_unlock(&t->mu);
            set(j, j->if_h ? 412 : 400, "a refresh names a lock of the resource in an If header");
            return;
        }
        l->timeout_s = secs;
        l->expires_ms = now + secs * 1000;
        row = *l;
    } else {
        struct stat st;
        j->exists = davfs_stat(j->area, j->rel, &st) == 0;
        if (davl_conflicts(t, j->path, j->depth == DEPTH_INF, exclusive, now) ||
            (!j->exists && !davl_may_write(t, j->path, 0, 1, h->tokens, h->ntokens, now))) {
            pthread_mutex_unlock(&t->mu);
            free(owner);
            set(j, 423, "the resource is locked already");
            return;
        }
        if (!j->exists) {
            /* A lock on nothing makes an empty resource (RFC 4918 7.3). */
            char leaf[256];
            int pfd = davfs_parent(j->area, j->rel, leaf, sizeof leaf), fd = -1;
            if (pfd >= 0) fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            int e = errno;
            if (fd >= 0) {
                fsync(fd);
                close(fd);
                fsync(pfd);
            }
            if (pfd >= 0) close(pfd);
            if (fd < 0) {
                pthread_mutex_unlock(&t->mu);
                free(owner);
                if (pfd == -ENOENT || pfd == -ENOTDIR)
                    set(j, 409, "the parent collection does not exist");
                else
                    set_errno(j, pfd < 0 ? -pfd : e, "cannot make the resource");
                return;
            }
        }
        row = (dav_lock){.root = j->path,
                         .owner = owner,
                         .infinity = j->depth == DEPTH_INF,
                         .exclusive = exclusive,
                         .timeout_s = secs,
                         .expires_ms = now + secs * 1000};
        if (davl_new_token(row.token) < 0 || davl_add(t, &row) < 0) {
            pthread_mutex_unlock(&t->mu);
            free(owner);
            set(j, 500, "cannot make a lock");
            return;
        }
    }
    /* The row to keep, with copies of what the table owns. */
    j->lock_row = row;
    j->lock_row.root = strdup(row.root);
    j->lock_row.owner = row.owner ? strdup(row.owner) : NULL;
    pthread_mutex_unlock(&t->mu);
    free(owner);
    j->keep_lock = 1;
    memcpy(j->lock_token, row.token, sizeof row.token);
    char href[3 * REQ_PATH_MAX + 4];
    href_of_path(j->path, 0, href, sizeof href);
    davx_lock dl = {.root_href = href,
                    .exclusive = row.exclusive,
                    .infinity = row.infinity,
                    .owner = j->lock_row.owner,
                    .timeout_s = row.timeout_s,
                    .token = row.token};
    if (!j->lock_row.root || ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot keep the lock");
    else if (davx_lock_answer(&dl, &j->out, &j->out_len) < 0)
        set(j, 500, "out of memory");
    else
        set(j, refresh || j->exists ? 200 : 201, NULL);
}

static void do_unlock(dav_job *j)
{
    dav_locks *t = &j->srv->locks;
    pthread_mutex_lock(&t->mu);
    int found = davl_find(t, j->token, j->path, qstore_now_ms()) != NULL;
    if (found) davl_remove(t, j->token);
    pthread_mutex_unlock(&t->mu);
    if (!found) {
        set(j, 409, "no lock with that token covers this resource");
        return;
    }
    memcpy(j->drop_token, j->token, strlen(j->token) + 1); /* a table's token: it fits */
    if (ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot drop the lock");
    else
        set(j, 204, NULL);
}

static void work(htd_job *jb)
{
    dav_job *j = (dav_job *)jb;
    davif h = {0};
    if (conditions(j, &h) < 0) {
        davif_free(&h);
        return;
    }
    switch (j->op) {
    case OP_PROPFIND:
        do_propfind(j);
        break;
    case OP_PROPPATCH:
        if (guard(j, &h, j->path, 0, 0) == 0) do_proppatch(j);
        break;
    case OP_MKCOL:
        if (guard(j, &h, j->path, 0, 1) == 0) do_mkcol(j);
        break;
    case OP_DELETE:
        if (guard(j, &h, j->path, 1, 1) == 0) do_delete(j);
        break;
    case OP_COPY:
        if (guard(j, &h, j->to, 1, 1) == 0) do_copy_move(j);
        break;
    case OP_MOVE:
        if (guard(j, &h, j->path, 1, 1) == 0 && guard(j, &h, j->to, 1, 1) == 0) do_copy_move(j);
        break;
    case OP_LOCK:
        do_lock(j, &h);
        break;
    case OP_UNLOCK:
        do_unlock(j);
        break;
    case OP_CHECK: { /* a PUT's or POST's, before the store takes it */
        struct stat st;
        j->exists = davfs_stat(j->area, j->rel, &st) == 0;
        guard(j, &h, j->path, 0, !j->post && !j->exists);
        break;
    }
    }
    davif_free(&h);
}

/* ---- on the loop ---- */

static void job_free(dav_job *j)
{
    free(j->body);
    free(j->out);
    free(j->if_h);
    free(j->if_match);
    free(j->if_none_match);
    free(j->lock_row.root);
    free(j->lock_row.owner);
    free(j);
}

static void done(htd_job *jb)
{
    dav_job *j = (dav_job *)jb;
    j->done = 1;
    if (j->c)
        conn_resume_request(j->c); /* the content phase below answers */
    else
        job_free(j);
}

static void release(struct htd_req *hr)
{
    dav_job **slot = (dav_job **)req_slot(hr, &dav_module);
    dav_job *j = *slot;
    *slot = NULL;
    if (j->done) {
        job_free(j);
    } else {
        j->c = NULL;          /* done frees it */
        hr->c->w->jobs_out--; /* conn_resume_request will not run for it */
    }
}

static int is_dav_method(int m)
{
    return m == HTD_M_PROPFIND || m == HTD_M_PROPPATCH || m == HTD_M_MKCOL || m == HTD_M_COPY ||
           m == HTD_M_MOVE || m == HTD_M_DELETE || m == HTD_M_OPTIONS || m == HTD_M_LOCK ||
           m == HTD_M_UNLOCK || m == HTD_M_PUT || m == HTD_M_POST;
}

/* Timeout: the first of "Second-N" and "Infinite" (-1), else -2 (none). */
static long timeout_of(const htd_request *r)
{
    htd_str v = htd_request_header(r, "timeout", 7);
    for (size_t i = 0; v.p && i < v.len;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == ',' || v.p[i] == '\t'))
            i++;
        if (v.len - i >= 8 && !strncasecmp(v.p + i, "Infinite", 8)) return -1;
        if (v.len - i > 7 && !strncasecmp(v.p + i, "Second-", 7)) {
            long n = 0;
            size_t k = i + 7, d = 0;
            for (; k < v.len && v.p[k] >= '0' && v.p[k] <= '9' && d < 10; k++, d++)
                n = n * 10 + (v.p[k] - '0');
            if (d) return n;
        }
        while (i < v.len && v.p[i] != ',')
            i++;
    }
    return -2;
}

/* A copy of header name's value, NUL-terminated, or NULL (none, or no
 * memory: *oom set). */
static char *header_copy(const htd_request *r, const char *name, int *oom)
{
    htd_str v = htd_request_header(r, name, strlen(name));
    if (!v.p) return NULL;
    char *s = strndup(v.p, v.len);
    if (!s) *oom = 1;
    return s;
}

/* Depth: 0, 1 or infinity (dflt when absent); -1 for anything else. */
static int depth_of(const htd_request *r, int dflt)
{
    htd_str v = htd_request_header(r, "depth", 5);
    if (!v.p) return dflt;
    if (v.len == 1 && v.p[0] == '0') return 0;
    if (v.len == 1 && v.p[0] == '1') return 1;
    if (v.len == 8 && strncasecmp(v.p, "infinity", 8) == 0) return DEPTH_INF;
    return -1;
}

/* The key of a URL path (dav_job: "//" and vhost first, unless NULL),
 * without a trailing slash (but "/"), and the path relative to its area,
 * whose prefix is plen bytes of it. */
static void split_path(const char *vhost, const char *path, size_t len, size_t plen, char *out,
                       char *rel)
{
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t ns = 0;
    if (vhost) { /* a host name has at most 253 bytes (config.c): it fits */
        ns = strlen(vhost) + 2 < NS_MAX ? strlen(vhost) + 2 : NS_MAX - 1;
        snprintf(out, ns + 1, "//%s", vhost);
    }
    memcpy(out + ns, path, len);
    out[ns + len] = 0;
    const char *r = len > plen ? out + ns + plen : "";
    while (*r == '/')
        r++;
    strcpy(rel, r);
}

/* Destination: an absolute URI of this server, or an absolute path, to a
 * normalised path in out. 0, or the status to answer (why set). */
static int destination(const struct htd_req *hr, char *out, size_t cap, const char **why)
{
    htd_str d = htd_request_header(hr->r, "destination", 11);
    if (!d.p || !d.len) {
        *why = "COPY and MOVE need a Destination";
        return 400;
    }
    const char *p = d.p, *e = d.p + d.len;
    size_t skip = e - p > 7 && !strncasecmp(p, "http://", 7)    ? 7
                  : e - p > 8 && !strncasecmp(p, "https://", 8) ? 8
                                                                : 0;
    if (skip) {
        const char *host = p + skip, *slash = memchr(host, '/', (size_t)(e - host));
        const char *end = slash ? slash : e;
        htd_str h = htd_request_header(hr->r, "host", 4);
        if (!h.p || (size_t)(end - host) != h.len || strncasecmp(host, h.p, h.len) != 0) {
            *why = "the destination is on another server";
            return 502;
        }
        p = slash ? slash : "/";
        if (!slash) e = p + 1;
    }
    if (*p != '/') {
        *why = "Destination must be an absolute URI or path";
        return 400;
    }
    const char *q = memchr(p, '?', (size_t)(e - p));
    if (q) e = q;
    if (htd_path_normalize(p, (size_t)(e - p), out, cap, why) < 0) return 400;
    return 0;
}

static int answer(struct htd_req *hr, dav_job *j)
{
    conn *c = hr->c;
    *(dav_job **)req_slot(hr, &dav_module) = NULL;
    if (j->lock_token[0]) {
        char v[DAVL_TOKEN_LEN + 3];
        snprintf(v, sizeof v, "<%s>", j->lock_token);
        htd_resp_header(hr, "Lock-Token", v);
    }
    if (j->status >= 400) {
        conn_answer(c, j->status, j->why, NULL, 0);
    } else if (htd_respond(hr, j->status, j->out ? "application/xml; charset=utf-8" : NULL, j->out,
                           j->out ? j->out_len : 0) < 0) {
        conn_error(c, 500, "cannot respond", 1);
    }
    job_free(j);
    return MOD_DONE;
}

static int options(struct htd_req *hr)
{
    htd_resp_header(hr, "DAV", "1, 2");
    htd_resp_header(hr, "MS-Author-Via", "DAV");
    htd_resp_header(hr, "Allow", ALLOWED);
    if (htd_respond(hr, 200, NULL, NULL, 0) < 0) conn_error(hr->c, 500, "cannot respond", 1);
    return MOD_DONE;
}

/* Lock-Token: <token>, into out. 0, or -1. */
static int lock_token_of(const htd_request *r, char *out, size_t cap)
{
    htd_str v = htd_request_header(r, "lock-token", 10);
    while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
        v.len--;
    if (!v.p || v.len < 3 || v.p[0] != '<' || v.p[v.len - 1] != '>' || v.len - 2 >= cap) return -1;
    memcpy(out, v.p + 1, v.len - 2);
    out[v.len - 2] = 0;
    return 0;
}

/* Suspends hr for j on the pool. */
static int submit(struct htd_req *hr, dav_job *j)
{
    conn *c = hr->c;
    void **slot = req_slot(hr, &dav_module);
    if (!slot) {
        job_free(j);
        conn_error(c, 500, "out of request slots", 1);
        return MOD_DONE;
    }
    *slot = j;
    j->c = c;
    j->job = (htd_job){.work = work, .done = done, .loop = c->w->loop};
    conn_wait(c);
    jobs_submit(c->w->srv->jobs, &j->job);
    return MOD_AGAIN;
}

static int content_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    const server_ctx *sx = c->w->srv;
    dav_srv *s = registry_state(&sx->reg, &dav_module);
    const htd_request *r = hr->r;
    int m = r->method_id, area, ai;
    size_t plen;
    if (!is_dav_method(m) || hr->path[0] != '/' ||
        (ai = store_area(sx, hr->vh->name, hr->path, hr->path_len, &area, &plen)) < 0 ||
        !store_area_dav(sx, ai))
        return MOD_DECLINED;
    dav_job *j = req_get(hr, &dav_module);
    if (j && j->done && j->op == OP_CHECK && !j->status) {
        /* The locks and conditions let the PUT or POST through: the store
         * takes it. */
        *(dav_job **)req_slot(hr, &dav_module) = NULL;
        job_free(j);
        return MOD_DECLINED;
    }
    if (j && j->done) return answer(hr, j);
    int put = m == HTD_M_PUT || m == HTD_M_POST;
    htd_str if_h = htd_request_header(r, "if", 2);
    if (put) {
        /* Without locks or an If header, a write is the store's alone. */
        pthread_mutex_lock(&s->locks.mu);
        int any = davl_any(&s->locks, qstore_now_ms());
        pthread_mutex_unlock(&s->locks.mu);
        if (!any && !if_h.p) return MOD_DECLINED;
    }
    if (req_path_hidden(hr)) {
        conn_answer(c, 403, "dotfiles cannot be read or written", NULL, 0);
        return MOD_DONE;
    }
    if (m == HTD_M_OPTIONS) return options(hr);
    int has_body = r->chunked || r->content_length > 0;
    if (m == HTD_M_MKCOL && has_body) {
        conn_answer(c, 415, "MKCOL takes no body", NULL, 0);
        return MOD_DONE;
    }
    if ((m == HTD_M_PROPFIND || m == HTD_M_PROPPATCH || m == HTD_M_LOCK) && !hr->body_taken &&
        conn_body_pending(c)) {
        if (!r->chunked && (uint64_t)r->content_length > BODY_MAX) {
            conn_error(c, 413, "request body larger than a WebDAV request takes", 0);
            return MOD_DONE;
        }
        hr->body_max = BODY_MAX;
        conn_read_body(c);
        return MOD_AGAIN;
    }
    int op = m == HTD_M_PROPFIND    ? OP_PROPFIND
             : m == HTD_M_PROPPATCH ? OP_PROPPATCH
             : m == HTD_M_MKCOL     ? OP_MKCOL
             : m == HTD_M_DELETE    ? OP_DELETE
             : m == HTD_M_COPY      ? OP_COPY
             : m == HTD_M_MOVE      ? OP_MOVE
             : m == HTD_M_LOCK      ? OP_LOCK
             : m == HTD_M_UNLOCK    ? OP_UNLOCK
                                    : OP_CHECK;
    int depth = depth_of(r, DEPTH_INF);
    if (depth < 0 || ((op == OP_COPY || op == OP_LOCK) && depth == 1)) {
        conn_answer(c, 400, "Depth must be 0, 1 or infinity (COPY and LOCK: 0 or infinity)", NULL,
                    0);
        return MOD_DONE;
    }
    if (op == OP_PROPFIND && depth == DEPTH_INF && !s->infinity_max) {
        static const char body[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                   "<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/>"
                                   "</D:error>\n";
        if (htd_respond(hr, 403, "application/xml; charset=utf-8", body, sizeof body - 1) < 0)
            conn_error(c, 500, "cannot respond", 1);
        return MOD_DONE;
    }
    if (!(j = calloc(1, sizeof *j))) {
        conn_error(c, 500, "out of memory", 1);
        return MOD_DONE;
    }
    j->op = op;
    j->depth = depth;
    j->srv = s;
    j->sx = sx;
    j->mime = sx->mime;
    j->lock = store_commit_lock(sx);
    j->area = area;
    j->ai = ai;
    j->vhost = store_area_vhost(sx, ai);
    j->post = m == HTD_M_POST;
    j->timeout_s = timeout_of(r);
    if (j->timeout_s == -2) j->timeout_s = LOCK_DEFAULT_S;
    split_path(j->vhost, hr->path, hr->path_len, plen, j->path, j->rel);
    int oom = 0;
    j->if_h = header_copy(r, "if", &oom);
    /* A PUT's If-Match and If-None-Match are the store's to check. */
    if (!put) {
        j->if_match = header_copy(r, "if-match", &oom);
        j->if_none_match = header_copy(r, "if-none-match", &oom);
    }
    if (op == OP_UNLOCK && lock_token_of(r, j->token, sizeof j->token) < 0) {
        job_free(j);
        conn_answer(c, 400, "UNLOCK needs a Lock-Token: <token>", NULL, 0);
        return MOD_DONE;
    }
    if (op == OP_COPY || op == OP_MOVE) {
        const char *why = NULL;
        char to[REQ_PATH_MAX + 1];
        int st = destination(hr, to, sizeof to, &why);
        size_t tplen;
        htd_str ow = htd_request_header(r, "overwrite", 9);
        if (!st && (ow.p && (ow.len != 1 || (ow.p[0] != 'T' && ow.p[0] != 'F'))))
            st = 400, why = "Overwrite must be T or F";
        if (!st &&
            (htd_path_hidden(to, strlen(to)) ||
             (j->to_ai = store_area(sx, hr->vh->name, to, strlen(to), &j->to_area, &tplen)) < 0 ||
             !store_area_dav(sx, j->to_ai)))
            st = 403, why = "the destination is not in a WebDAV writable area of this host";
        if (st) {
            job_free(j);
            conn_answer(c, st, why, NULL, 0);
            return MOD_DONE;
        }
        j->overwrite = !ow.p || ow.p[0] == 'T';
        split_path(j->vhost, to, strlen(to), tplen, j->to, j->to_rel);
    }
    if (hr->body.len && (op == OP_PROPFIND || op == OP_PROPPATCH || op == OP_LOCK)) {
        if ((j->body = malloc(hr->body.len))) memcpy(j->body, hr->body.p, hr->body.len);
        j->body_len = hr->body.len;
        oom |= !j->body;
    }
    if (oom) {
        job_free(j);
        conn_error(c, 500, "out of memory", 1);
        return MOD_DONE;
    }
    return submit(hr, j);
}

static const char *allow(const struct htd_req *hr)
{
    const server_ctx *sx = hr->c->w->srv;
    int fd, ai;
    size_t plen;
    return (ai = store_area(sx, hr->vh->name, hr->path, hr->path_len, &fd, &plen)) >= 0 &&
                   store_area_dav(sx, ai)
               ? "Allow: " ALLOWED "\r\n"
               : NULL;
}

/* The state is made whatever the settings say: a vhost may set webdav,
 * which start learns. */
static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    if (cfg->webdav && !cfg->nwritable) {
        snprintf(err, errlen, "webdav needs writable areas (writable = [\"/dav/\"];)");
        return -1;
    }
    dav_srv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->infinity_max = cfg->webdav_infinity_max;
    s->on = cfg->webdav;
    davl_init(&s->locks);
    *state = s;
    return 0;
}

static void fini(void *state)
{
    dav_srv *s = state;
    if (!s) return;
    davl_fini(&s->locks);
    free(s);
}

static int add_loaded(void *arg, const dav_lock *l)
{
    return davl_add(arg, l);
}

/* The table, and the locks that outlived a restart. */
static int apply_schema(qstore *s, qw_op *op)
{
    dav_srv *ds = statedb_sync_arg(op);
    sqlite3 *db = qstore_sqlite_db(s);
    if (davp_schema(db) != SQLITE_OK) return QS_ERROR;
    pthread_mutex_lock(&ds->locks.mu);
    int rc = davp_lock_load(db, qstore_now_ms(), add_loaded, &ds->locks);
    pthread_mutex_unlock(&ds->locks.mu);
    atomic_store(&ds->props_empty, davp_empty(db) == 1);
    return rc == SQLITE_OK ? QS_OK : QS_ERROR;
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    dav_srv *s = state;
    for (size_t i = 1; i < st->nvhosts; i++)
        s->on |= st->vhosts[i].webdav;
    if (!s->on) return 0;
    davx_init();
    statedb *db = statedb_of(reg);
    if (statedb_open(db, err, errlen) < 0) return -1;
    if (statedb_sync(db, apply_schema, s) != QS_OK) {
        snprintf(err, errlen, "the state database: cannot make or read the WebDAV tables");
        return -1;
    }
    s->db = db;
    return 0;
}

static int wanted(const void *state, int ph)
{
    const dav_srv *s = state;
    return s && s->on && ph == PH_CONTENT;
}

const htd_module dav_module = {
    .name = "dav",
    .phase = {[PH_CONTENT] = content_phase},
    .init = init,
    .fini = fini,
    .start = start,
    .wanted = wanted,
    .release = release,
    .allow = allow,
};
