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
#include "dav_props.h"
#include "dav_xml.h"
#include "etag.h"
#include "jobs.h"
#include "mime.h"
#include "path.h"
#include "req.h"
#include "site.h"
#include "sqlite_db.h"
#include "statedb.h"
#include "store.h"

#define DEPTH_INF 2
#define BODY_MAX (1 << 20) /* a PROPFIND's or PROPPATCH's XML */

enum { OP_PROPFIND, OP_PROPPATCH, OP_MKCOL, OP_DELETE, OP_COPY, OP_MOVE };

/* The module's per-server state. */
typedef struct dav_srv {
    unsigned infinity_max;
    statedb *db; /* open: the dead properties' */
} dav_srv;

typedef struct dav_job {
    htd_job job;
    conn *c; /* NULL once the connection has gone */
    dav_srv *srv;
    const htd_mime *mime;
    pthread_mutex_t *lock; /* the store's commit lock */
    int op, done, depth, overwrite;
    int area, to_area; /* the areas' directories */
    /* URL paths without a trailing slash, and the same relative to their
     * area ("" for the area itself). */
    char path[REQ_PATH_MAX + 1], rel[REQ_PATH_MAX + 1];
    char to[REQ_PATH_MAX + 1], to_rel[REQ_PATH_MAX + 1];
    char *body;
    size_t body_len;
    /* The answer. */
    int status;
    const char *why;
    char *out; /* a 207's document, or NULL */
    size_t out_len;
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

/* The target, and what lies below it to the job's depth. */
static int walk_tree(dav_job *j, walk *w)
{
    int fd = htd_open_beneath(j->area, j->rel, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) return -1;
    struct stat st;
    time_t created;
    if (stat_at(fd, "", &st, &created) < 0 || walk_add(w, j->path, NULL, &st, created) < 0) {
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
    }
    return a->rc == SQLITE_OK ? QS_OK : QS_ERROR;
}

/* Runs the job's part in the state database: 0, or -1. */
static int ask_db(dav_job *j, dprops *props, const dav_patch *p)
{
    if (!j->srv->db) return 0;
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

static const char *const live_names[] = {"creationdate",   "displayname", "getcontentlength",
                                         "getcontenttype", "getetag",     "getlastmodified",
                                         "resourcetype",   NULL};

static int is_live(const dav_name *nm)
{
    if (strcmp(nm->ns, "DAV:") != 0) return 0;
    for (const char *const *n = live_names; *n; n++)
        if (strcmp(*n, nm->name) == 0) return 1;
    return 0;
}

/* Writes live property name of r (when it has one): 1, else 0. */
static int live(davx_ms *m, const res *r, const char *name, const htd_mime *mime, int names_only)
{
    char v[128];
    const char *text = NULL;
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
    size_t n = htd_path_uri(r->path, strlen(r->path), out, cap - 2);
    if (n >= cap - 2) n = 0;
    if (r->dir && (n == 0 || out[n - 1] != '/')) out[n++] = '/';
    out[n] = 0;
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
static int has_prop(const res *r, const dav_name *nm, const dprops *d)
{
    if (dead_of(d, r->path, nm)) return 1;
    if (!is_live(nm)) return 0;
    return !(r->dir && (!strcmp(nm->name, "getetag") || !strcmp(nm->name, "getcontentlength") ||
                        !strcmp(nm->name, "getcontenttype")));
}

static void propfind_one(davx_ms *m, const res *r, const dav_propfind *pf, const dprops *d,
                         const htd_mime *mime)
{
    char href[3 * REQ_PATH_MAX + 4];
    href_of(r, href, sizeof href);
    davx_ms_response_begin(m, href);
    if (pf->mode != DAVPF_PROP) {
        davx_ms_propstat_begin(m);
        for (const char *const *n = live_names; *n; n++)
            live(m, r, *n, mime, pf->mode == DAVPF_PROPNAME);
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
        has_prop(r, &pf->names[i], d) ? found++ : missing++;
    if (found) {
        davx_ms_propstat_begin(m);
        for (size_t i = 0; i < pf->n; i++) {
            const dav_name *nm = &pf->names[i];
            const dprop *dp = dead_of(d, r->path, nm);
            if (dp)
                davx_ms_prop_raw(m, dp->xml);
            else if (has_prop(r, nm, d))
                live(m, r, nm->name, mime, 0);
        }
        davx_ms_propstat_end(m, 200);
    }
    if (missing) {
        davx_ms_propstat_begin(m);
        for (size_t i = 0; i < pf->n; i++)
            if (!has_prop(r, &pf->names[i], d)) davx_ms_prop_empty(m, &pf->names[i]);
        davx_ms_propstat_end(m, 404);
    }
    davx_ms_response_end(m);
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
        davx_ms *m = davx_ms_new();
        for (size_t i = 0; m && i < w.n; i++)
            propfind_one(m, &w.v[i], &pf, &d, j->mime);
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
        davx_ms *m = davx_ms_new();
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
    int rc = davfs_delete(j->area, j->rel);
    pthread_mutex_unlock(j->lock);
    if (rc < 0)
        set_errno(j, -rc, "cannot delete");
    else if (ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot remove the properties");
    else
        set(j, 204, NULL);
}

static void do_copy_move(dav_job *j)
{
    int move = j->op == OP_MOVE;
    struct stat st;
    int rc = davfs_stat(j->area, j->rel, &st);
    if (rc < 0) {
        set_errno(j, -rc, "no such resource");
        return;
    }
    size_t n = strlen(j->path);
    if (!strcmp(j->path, j->to) ||
        (!strncmp(j->to, j->path, n) && j->to[n] == '/' && S_ISDIR(st.st_mode))) {
        set(j, 403, "the destination is the source or below it");
        return;
    }
    if (!*j->rel || !*j->to_rel) {
        set(j, 403, "a writable area itself cannot be copied, moved or replaced");
        return;
    }
    if (move && S_ISDIR(st.st_mode) && j->depth != DEPTH_INF) {
        set(j, 400, "a collection moves with Depth: infinity");
        return;
    }
    struct stat dst;
    int existed = davfs_stat(j->to_area, j->to_rel, &dst) == 0;
    if (existed && !j->overwrite) {
        set(j, 412, "the destination exists and Overwrite is F");
        return;
    }
    if (move) pthread_mutex_lock(j->lock);
    rc = move ? davfs_move(j->area, j->rel, j->to_area, j->to_rel, j->overwrite)
              : davfs_copy(j->area, j->rel, j->to_area, j->to_rel, j->depth != 0, j->overwrite);
    if (move) pthread_mutex_unlock(j->lock);
    if (rc == -EEXIST)
        set(j, 412, "the destination exists and Overwrite is F");
    else if (rc == -ENOTDIR)
        set(j, 409, "the destination's parent collection does not exist");
    else if (rc == -EINVAL)
        set(j, 403, "the destination is below the source");
    else if (rc < 0)
        set_errno(j, -rc, move ? "cannot move" : "cannot copy");
    else if (ask_db(j, NULL, NULL) < 0)
        set(j, 500, "cannot copy the properties");
    else
        set(j, existed ? 204 : 201, NULL);
}

static void work(htd_job *jb)
{
    dav_job *j = (dav_job *)jb;
    switch (j->op) {
    case OP_PROPFIND:
        do_propfind(j);
        break;
    case OP_PROPPATCH:
        do_proppatch(j);
        break;
    case OP_MKCOL:
        do_mkcol(j);
        break;
    case OP_DELETE:
        do_delete(j);
        break;
    default:
        do_copy_move(j);
    }
}

/* ---- on the loop ---- */

static void job_free(dav_job *j)
{
    free(j->body);
    free(j->out);
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
           m == HTD_M_MOVE || m == HTD_M_DELETE || m == HTD_M_OPTIONS;
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

/* The URL path without a trailing slash (but "/"), and the same relative
 * to its area, whose prefix is plen bytes of it. */
static void split_path(const char *path, size_t len, size_t plen, char *out, char *rel)
{
    while (len > 1 && path[len - 1] == '/')
        len--;
    memcpy(out, path, len);
    out[len] = 0;
    const char *r = len > plen ? out + plen : "";
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
    htd_resp_header(hr, "DAV", "1");
    htd_resp_header(hr, "MS-Author-Via", "DAV");
    htd_resp_header(
        hr, "Allow",
        "GET, HEAD, OPTIONS, PUT, POST, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE");
    if (htd_respond(hr, 200, NULL, NULL, 0) < 0) conn_error(hr->c, 500, "cannot respond", 1);
    return MOD_DONE;
}

static int content_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    const server_ctx *sx = c->w->srv;
    dav_srv *s = registry_state(&sx->reg, &dav_module);
    const htd_request *r = hr->r;
    int m = r->method_id, area;
    size_t plen;
    if (!is_dav_method(m) || hr->vh != &c->w->site->vhosts[0] || hr->path[0] != '/' ||
        store_area(sx, hr->path, hr->path_len, &area, &plen) < 0)
        return MOD_DECLINED;
    dav_job *j = req_get(hr, &dav_module);
    if (j && j->done) return answer(hr, j);
    if (htd_path_hidden(hr->path, hr->path_len)) {
        conn_answer(c, 403, "dotfiles cannot be read or written", NULL, 0);
        return MOD_DONE;
    }
    if (m == HTD_M_OPTIONS) return options(hr);
    int has_body = r->chunked || r->content_length > 0;
    if (m == HTD_M_MKCOL && has_body) {
        conn_answer(c, 415, "MKCOL takes no body", NULL, 0);
        return MOD_DONE;
    }
    if ((m == HTD_M_PROPFIND || m == HTD_M_PROPPATCH) && !hr->body_taken && conn_body_pending(c)) {
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
                                    : OP_MOVE;
    int depth = depth_of(r, DEPTH_INF);
    if (depth < 0 || (op == OP_COPY && depth == 1)) {
        conn_answer(c, 400, "Depth must be 0, 1 or infinity (COPY: 0 or infinity)", NULL, 0);
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
    j->mime = sx->mime;
    j->lock = store_commit_lock(sx);
    j->area = area;
    split_path(hr->path, hr->path_len, plen, j->path, j->rel);
    if (op == OP_COPY || op == OP_MOVE) {
        const char *why = NULL;
        char to[REQ_PATH_MAX + 1];
        int st = destination(hr, to, sizeof to, &why);
        size_t tplen;
        htd_str ow = htd_request_header(r, "overwrite", 9);
        if (!st && (ow.p && (ow.len != 1 || (ow.p[0] != 'T' && ow.p[0] != 'F'))))
            st = 400, why = "Overwrite must be T or F";
        if (!st && (htd_path_hidden(to, strlen(to)) ||
                    store_area(sx, to, strlen(to), &j->to_area, &tplen) < 0))
            st = 403, why = "the destination is not in a writable area";
        if (st) {
            job_free(j);
            conn_answer(c, st, why, NULL, 0);
            return MOD_DONE;
        }
        j->overwrite = !ow.p || ow.p[0] == 'T';
        split_path(to, strlen(to), tplen, j->to, j->to_rel);
    }
    if (hr->body.len && (op == OP_PROPFIND || op == OP_PROPPATCH)) {
        if (!(j->body = malloc(hr->body.len))) {
            job_free(j);
            conn_error(c, 500, "out of memory", 1);
            return MOD_DONE;
        }
        memcpy(j->body, hr->body.p, hr->body.len);
        j->body_len = hr->body.len;
    }
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
    jobs_submit(sx->jobs, &j->job);
    return MOD_AGAIN;
}

static const char *allow(const struct htd_req *hr)
{
    const server_ctx *sx = hr->c->w->srv;
    return registry_state(&sx->reg, &dav_module) && store_writable(sx, hr->path, hr->path_len)
               ? "Allow: GET, HEAD, OPTIONS, PUT, POST, DELETE, PROPFIND, PROPPATCH, MKCOL, "
                 "COPY, MOVE\r\n"
               : NULL;
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    if (!cfg->webdav) return 0;
    if (!cfg->nwritable) {
        snprintf(err, errlen, "webdav needs writable areas (writable = [\"/dav/\"];)");
        return -1;
    }
    dav_srv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->infinity_max = cfg->webdav_infinity_max;
    davx_init();
    *state = s;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

static int apply_schema(qstore *s, qw_op *op)
{
    (void)op;
    return davp_schema(qstore_sqlite_db(s)) == SQLITE_OK ? QS_OK : QS_ERROR;
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    (void)st;
    dav_srv *s = state;
    if (!s) return 0;
    statedb *db = statedb_of(reg);
    if (statedb_open(db, err, errlen) < 0) return -1;
    if (statedb_sync(db, apply_schema, NULL) != QS_OK) {
        snprintf(err, errlen, "the state database: cannot make the WebDAV properties' table");
        return -1;
    }
    s->db = db;
    return 0;
}

static int wanted(const void *state, int ph)
{
    return state && ph == PH_CONTENT;
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
