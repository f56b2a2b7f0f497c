/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store.c - PUT, POST and DELETE in the writable areas; see store.h.
 *
 * An upload goes through jobs, one at a time, each run on the pool and
 * finished on the loop (upload_done):
 *   BEGIN   make the missing parent directories, check If-Match and
 *           If-None-Match, create the temporary file (O_EXCL, beside the
 *           target, a dotfile so it is never served)
 *   WRITE   append what the connection has buffered (at most UP_BUF bytes)
 *   COMMIT  write the rest, fsync, check the preconditions again and rename,
 *           under the store's commit lock, then fsync the directory
 *   ABORT   remove the temporary file (the client left, or the body was bad)
 *   DELETE  check, unlink or rmdir, fsync the directory
 * While a job runs the connection reads nothing: the body waits in the
 * socket, which is what keeps a slow disk from filling memory.
 *
 * Missing parents are created (like `mkdir -p`); a file standing where a
 * directory must be is 409 Conflict, because replacing it would destroy a
 * document the client did not name.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "cache.h"
#include "conn.h"
#include "dav_fs.h"
#include "errlog.h"
#include "etag.h"
#include "jobs.h"
#include "module.h"
#include "path.h"
#include "rename.h"
#include "req.h"
#include "response.h"

#define UP_BUF (64 * 1024)

enum { OP_BEGIN, OP_WRITE, OP_COMMIT, OP_ABORT, OP_DELETE };

/* The upload of c's request (its slot: NULL when none). */
#define UP_OF(c) (*(struct upload **)req_slot((c)->req, &store_module))

/* One writable area: a directory beneath the root of the top-level server
 * or of a vhost, opened when the server starts. */
typedef struct area {
    char *vhost;    /* the vhost's first name; NULL for the top-level server's */
    char *prefix;   /* the normalised path prefix */
    size_t plen;    /* its length without a trailing '/' */
    char *dir;      /* its directory, absolute (cleaning and measuring) */
    int fd;         /* O_PATH, or -1 */
    uint64_t max;   /* a document's size limit */
    uint64_t quota; /* the bytes its documents may take in all, or 0: no limit */
    int dav;        /* WebDAV: a PUT makes no missing parent (409) */
    /* The bytes of its documents (st_size of its regular files), measured
     * at start and kept by every change: what the quota is held against. */
    atomic_llong used;
} area;

/* The module's per-server state: the writable areas. */
typedef struct areas {
    area *v;
    size_t n;
    uint64_t max_upload;       /* the top level's: a vhost's areas take it by default */
    pthread_mutex_t commit_mu; /* precondition checks and renames (work) */
    atomic_ulong tmp_seq;      /* temporary file names */
} areas;

typedef struct upload {
    htd_job job; /* first: a job pointer is an upload pointer */
    conn *c;     /* NULL once the connection is gone */
    areas *a;
    area *ar; /* the writable area it writes in */
    worker *w;
    int op, busy;
    int handled;         /* the sink has seen the end of the last job */
    int method;          /* HTD_M_PUT, HTD_M_POST or HTD_M_DELETE */
    int expect_continue; /* answer 100 once BEGIN accepts the upload */
    int dir_fd, tmp_fd;
    char dir[REQ_PATH_MAX]; /* the target's directory, relative to its area ("" for the area) */
    char name[256];         /* the target's name in dir (POST: chosen in BEGIN) */
    char tmp[64];           /* the temporary file's name in dir */
    /* The Location to answer with: the normalised path, encoded again, never
     * the target as the client spelled it ("//attacker.example/../up/x" is
     * stored at /up/x and answers /up/x); POST: the collection's, without
     * its trailing '/', the name to follow. */
    char loc[3 * REQ_PATH_MAX + 1];
    char if_match[256];      /* the If-Match value, if has_if_match */
    char if_none_match[256]; /* the If-None-Match value, if has_if_none_match */
    int has_if_match, has_if_none_match;
    int area_fd; /* the writable area's directory: dir is relative to it */
    char ext[8]; /* POST: the extension the Content-Type calls for */
    char *buf;   /* body bytes not yet written */
    size_t len;
    uint64_t total, limit;
    /* Quota: the bytes the upload holds of its area's (used), and the size
     * of the document it replaces as BEGIN found it (old). */
    int64_t reserved, old;
    int64_t declared; /* the body's Content-Length, or -1 (chunked) */
    int status;       /* the job's outcome: 0, or an HTTP status */
    const char *why;  /* for a failing status */
    int existed;      /* COMMIT: the target existed (204) or not (201) */
    /* for the access log, as the request is long gone by then */
} upload;

/* ---- areas and cleaning ---- */

int store_parse_size(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0, mult = 1;
    size_t i = 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
        if (n > (1ull << 40)) return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (i == 0 || n == 0) return -1;
    if (i + 1 == len) {
        char u = v[i] | 0x20;
        mult = u == 'k' ? 1ull << 10 : u == 'm' ? 1ull << 20 : u == 'g' ? 1ull << 30 : 0;
        i++;
    }
    if (i != len || !mult || n > (1ull << 40) / mult) return -1;
    *out = n * mult;
    return 0;
}

/* The writable area of vhost's path, or -1. An area is a directory, named
 * with or without a trailing '/': /docs/ takes in /docs itself too (POST
 * /docs). */
static int area_of(const areas *s, const char *vhost, const char *path, size_t len)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const area *a = &s->v[i];
        if (a->vhost ? !vhost || strcmp(a->vhost, vhost) != 0 : vhost != NULL) continue;
        if (htd_path_under(path, len, a->prefix, a->plen)) return (int)i;
    }
    return -1;
}

int store_writable(const server_ctx *s, const char *vhost, const char *path, size_t len)
{
    return area_of(registry_state(&s->reg, &store_module), vhost, path, len) >= 0;
}

int store_area(const server_ctx *s, const char *vhost, const char *path, size_t len, int *fd,
               size_t *prefix)
{
    const areas *a = registry_state(&s->reg, &store_module);
    int i = area_of(a, vhost, path, len);
    if (i < 0) return -1;
    *fd = a->v[i].fd;
    *prefix = a->v[i].plen;
    return i;
}

const char *store_area_vhost(const server_ctx *s, int i)
{
    const areas *a = registry_state(&s->reg, &store_module);
    return a->v[i].vhost;
}

int store_area_dav(const server_ctx *s, int i)
{
    const areas *a = registry_state(&s->reg, &store_module);
    return a->v[i].dav;
}

/* Takes bytes (> 0) of area a's quota: 0, or -1 when they do not fit. */
static int reserve(area *a, int64_t bytes)
{
    if (bytes <= 0) return 0;
    long long cur = atomic_load(&a->used);
    do {
        if (a->quota && cur + bytes > (long long)a->quota) return -1;
    } while (!atomic_compare_exchange_weak(&a->used, &cur, cur + bytes));
    return 0;
}

int store_quota_take(const server_ctx *s, int i, int64_t bytes)
{
    areas *a = registry_state(&s->reg, &store_module);
    return reserve(&a->v[i], bytes);
}

void store_quota_add(const server_ctx *s, int i, int64_t bytes)
{
    areas *a = registry_state(&s->reg, &store_module);
    atomic_fetch_add(&a->v[i].used, bytes);
}

int store_quota(const server_ctx *s, int i, uint64_t *quota, uint64_t *used)
{
    const areas *a = registry_state(&s->reg, &store_module);
    if (!a->v[i].quota) return -1;
    long long u = atomic_load(&a->v[i].used);
    *quota = a->v[i].quota;
    *used = u > 0 ? (uint64_t)u : 0;
    return 0;
}

pthread_mutex_t *store_commit_lock(const server_ctx *s)
{
    areas *a = registry_state(&s->reg, &store_module);
    return a ? &a->commit_mu : NULL;
}

static int cleaned;
static long long measured;
/* Trees a WebDAV MOVE's mark dooms (dav_fs.h), found as the area is
 * walked and removed after it. */
static char **doomed;
static size_t ndoomed;

/* Whether the mark at path (a file named DAVFS_DOOMED_PREFIX...) dooms
 * the directory it is in: read, and asked of davfs_doomed with where that
 * directory stands. */
static int dooms_its_directory(const char *path, const struct FTW *ftw)
{
    char dir[PATH_MAX], text[320];
    if (ftw->base < 2 || (size_t)ftw->base > sizeof dir) return 0;
    memcpy(dir, path, (size_t)ftw->base - 1);
    dir[ftw->base - 1] = 0; /* the directory the mark is in */
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text) : -1;
    if (fd >= 0) close(fd);
    *slash = 0;
    struct stat parent;
    int yes =
        n > 0 && lstat(dir, &parent) == 0 && davfs_doomed(text, (size_t)n, &parent, slash + 1);
    *slash = '/';
    return yes;
}

/* Visited depth first: a temporary file, or anything in a temporary tree
 * (a WebDAV copy being built, a tree being deleted), goes; the size of
 * every other regular file is counted. */
static int clean_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (!strstr(path, "/" STORE_TMP_PREFIX)) {
        if (flag == FTW_F && S_ISREG(st->st_mode)) measured += st->st_size;
        return 0;
    }
    if (flag == FTW_F &&
        !strncmp(path + ftw->base, DAVFS_DOOMED_PREFIX, sizeof DAVFS_DOOMED_PREFIX - 1) &&
        dooms_its_directory(path, ftw)) {
        char **more = realloc(doomed, (ndoomed + 1) * sizeof *doomed);
        char *dir = strndup(path, (size_t)ftw->base - 1);
        if (more) doomed = more;
        if (more && dir)
            doomed[ndoomed++] = dir;
        else
            free(dir);
    }
    if (flag == FTW_DP ? rmdir(path) == 0 : unlink(path) == 0) cleaned++;
    return 0;
}

/* Removes what is in a doomed tree, uncounting its documents. */
static int remove_doomed(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && S_ISREG(st->st_mode)) measured -= st->st_size;
    if (flag == FTW_DP ? rmdir(path) == 0 : unlink(path) == 0) cleaned++;
    return 0;
}

/* Removes temporary files that a killed htd left in area a, and trees a
 * move's mark dooms, and measures what it holds. Returns how many were
 * removed, or -1 with err set. */
static int clean(area *a, char *err, size_t errlen)
{
    cleaned = 0; /* called before any thread starts */
    measured = 0;
    int rc = nftw(a->dir, clean_one, 16, FTW_PHYS | FTW_DEPTH);
    for (size_t i = 0; i < ndoomed; i++) {
        nftw(doomed[i], remove_doomed, 16, FTW_PHYS | FTW_DEPTH);
        free(doomed[i]);
    }
    free(doomed);
    doomed = NULL;
    ndoomed = 0;
    if (rc < 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot clean writable area %s: %s", a->dir, strerror(errno));
        return -1;
    }
    atomic_store(&a->used, measured);
    return cleaned;
}

/* ---- on the pool ---- */

static void set(upload *u, int status, const char *why)
{
    u->status = status;
    u->why = why;
}

static void set_errno(upload *u, const char *what)
{
    switch (errno) {
    case ENOSPC:
    case EDQUOT:
        set(u, 507, "the disk is full");
        break;
    case ENOTDIR:
    case EEXIST:
        set(u, 409, "a file stands where a directory must be");
        break;
    case EXDEV:
    case ELOOP:
        set(u, 403, "a symbolic link leads outside the document root");
        break;
    case EACCES:
    case EPERM:
    case EROFS:
        set(u, 403, "the server may not write here");
        break;
    case ENAMETOOLONG: /* a directory's name over 255 bytes, as static files answer it */
        set(u, 414, "path too long");
        break;
    default:
        set(u, 500, what);
    }
}

/* Opens the directory rel beneath base; -1 with errno, or with *hidden set
 * (if hidden is not NULL) when it is, symlinks followed, where the dotfile
 * rule refuses: "cfg -> .git" is no way to write into .git. */
static int open_beneath_dir(int base, const char *rel, int *hidden)
{
    if (!hidden) return htd_open_beneath(base, rel, O_RDONLY | O_DIRECTORY);
    char where[PATH_MAX];
    int fd = htd_open_resolved(base, rel, O_RDONLY | O_DIRECTORY, where, sizeof where);
    *hidden = fd >= 0 && htd_path_hidden(where, strlen(where));
    if (*hidden) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* mkdir -p of rel beneath base: each missing directory is made inside its
 * parent as opened beneath base, so no symlink can have one made outside,
 * and the parent is fsynced so the new entry survives a crash. 0 or -1,
 * with *hidden set (if hidden is not NULL) when a parent is a dotfile's. */
static int make_dirs(int base, const char *rel, int *hidden)
{
    char part[REQ_PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof part) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (size_t i = 1; i <= n; i++) {
        if (i < n && rel[i] != '/') continue;
        memcpy(part, rel, i);
        part[i] = 0;
        char *slash = strrchr(part, '/');
        const char *leaf = slash ? slash + 1 : part;
        if (slash) *slash = 0;
        int pfd = open_beneath_dir(base, slash ? part : "", hidden);
        if (pfd < 0) return -1;
        int rc = mkdirat(pfd, leaf, 0755);
        if (rc == 0)
            rc = fsync(pfd);
        else if (errno == EEXIST)
            rc = 0;
        int e = errno;
        close(pfd);
        errno = e;
        if (rc < 0) return -1;
    }
    return 0;
}

/* Opens the target's directory beneath its area, making the missing ones. */
static int open_dir(upload *u, int create)
{
    int hidden = 0;
    if (create && make_dirs(u->area_fd, u->dir, &hidden) < 0) {
        if (hidden)
            set(u, 403, "dotfiles cannot be written");
        else
            set_errno(u, "cannot make a directory");
        return -1;
    }
    u->dir_fd = open_beneath_dir(u->area_fd, u->dir, &hidden);
    if (u->dir_fd < 0) {
        if (hidden)
            set(u, 403, "dotfiles cannot be written");
        else if (errno == ENOENT && !create)
            set(u, 404, "no such document");
        else
            set_errno(u, "cannot open the directory");
        return -1;
    }
    return 0;
}

/* If-Match (strong comparison; "*" matches any current document) and
 * If-None-Match: * (create only). 0, or the status 412/409. */
static int check_preconditions(upload *u)
{
    struct stat st;
    int exists = fstatat(u->dir_fd, u->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    u->existed = exists;
    u->old = exists && S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
    if (exists && S_ISDIR(st.st_mode) && u->method != HTD_M_DELETE) {
        set(u, 409, "a directory stands at this path");
        return -1;
    }
    char tag[80];
    htd_str etag = {tag, exists ? (size_t)etag_of_file(&st, tag, sizeof tag) : 0};
    if (u->has_if_none_match && exists &&
        etag_match((htd_str){u->if_none_match, strlen(u->if_none_match)}, etag, 1)) {
        set(u, 412, "precondition failed: the document exists");
        return -1;
    }
    if (u->has_if_match) {
        int ok = exists && etag_match((htd_str){u->if_match, strlen(u->if_match)}, etag, 0);
        if (!ok) {
            set(u, 412, "precondition failed: the document has changed");
            return -1;
        }
    }
    return 0;
}

static int write_all(upload *u)
{
    size_t off = 0;
    while (off < u->len) {
        ssize_t n = write(u->tmp_fd, u->buf + off, u->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            set_errno(u, "cannot write the document");
            return -1;
        }
        off += (size_t)n;
    }
    u->len = 0;
    return 0;
}

static void remove_tmp(upload *u)
{
    if (u->tmp_fd >= 0) {
        close(u->tmp_fd);
        u->tmp_fd = -1;
        unlinkat(u->dir_fd, u->tmp, 0);
    }
}

/* A unique, time-ordered, URL-safe name: nanoseconds and a sequence, in hex. */
static void choose_name(upload *u)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long ns =
        (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
    snprintf(u->name, sizeof u->name, "%016llx-%04lx%s", ns,
             atomic_fetch_add(&u->a->tmp_seq, 1) & 0xffff, u->ext);
}

static void work(htd_job *j)
{
    upload *u = (upload *)j;
    areas *s = u->a;
    u->status = 0;
    switch (u->op) {
    case OP_BEGIN: {
        /* If-Match needs a current document: with no directory there is
         * none, and nothing is made for a request that fails. */
        int create = u->method == HTD_M_PUT && !u->has_if_match && !u->ar->dav;
        if (open_dir(u, create) < 0) {
            if (u->status == 404 && u->method == HTD_M_PUT && !u->has_if_match)
                set(u, 409, "the parent collection does not exist");
            else if (u->status == 404 && u->method == HTD_M_PUT)
                set(u, 412, "precondition failed: there is no such document");
            return;
        }
        if (u->method == HTD_M_POST)
            choose_name(u);
        else if (check_preconditions(u) < 0)
            return;
        /* A declared size that would take the area past its quota is
         * refused before anything is written; it is held meanwhile. */
        if (u->declared >= 0 && reserve(u->ar, u->declared - u->old) < 0) {
            set(u, 507, "the writable area's quota would be exceeded");
            return;
        }
        if (u->declared >= 0 && u->declared > u->old) u->reserved = u->declared - u->old;
        unsigned char rnd[8];
        if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
            set(u, 500, "no random bytes for a temporary name");
            return;
        }
        snprintf(u->tmp, sizeof u->tmp, STORE_TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x-%lx",
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
                 atomic_fetch_add(&s->tmp_seq, 1));
        u->tmp_fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (u->tmp_fd < 0) set_errno(u, "cannot create the document");
        return;
    }
    case OP_WRITE:
        if (write_all(u) < 0) remove_tmp(u);
        return;
    case OP_COMMIT: {
        if (write_all(u) < 0 || fsync(u->tmp_fd) < 0) {
            if (!u->status) set_errno(u, "cannot write the document");
            remove_tmp(u);
            return;
        }
        close(u->tmp_fd);
        u->tmp_fd = -1;
        /* The check and the rename are one step for every upload of this
         * server, so two If-Match writers cannot both win. */
        pthread_mutex_lock(&s->commit_mu);
        int rc;
        if (u->method == HTD_M_POST) {
            rc = htd_rename_noreplace(u->dir_fd, u->tmp, u->dir_fd, u->name);
            u->existed = 0;
            u->old = 0;
        } else {
            rc = check_preconditions(u);
            if (rc == 0)
                rc = renameat(u->dir_fd, u->tmp, u->dir_fd, u->name);
            else
                rc = 1;
        }
        if (rc == 0) {
            /* What the area holds now: the new size for the old one (as
             * it was just before the rename), for what was held. */
            atomic_fetch_add(&u->ar->used, (long long)u->total - u->old - u->reserved);
            u->reserved = 0;
        }
        pthread_mutex_unlock(&s->commit_mu);
        if (rc != 0) {
            if (rc < 0) set_errno(u, "cannot rename the document into place");
            unlinkat(u->dir_fd, u->tmp, 0);
            return;
        }
        if (fsync(u->dir_fd) < 0) set_errno(u, "cannot sync the directory");
        return;
    }
    case OP_ABORT:
        remove_tmp(u);
        return;
    case OP_DELETE:
        if (open_dir(u, 0) < 0) return;
        pthread_mutex_lock(&s->commit_mu);
        struct stat st;
        if (fstatat(u->dir_fd, u->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            set(u, 404, "no such document");
        } else if (check_preconditions(u) == 0) {
            int dir = S_ISDIR(st.st_mode);
            if (unlinkat(u->dir_fd, u->name, dir ? AT_REMOVEDIR : 0) < 0) {
                if (errno == ENOTEMPTY || errno == EEXIST)
                    set(u, 409, "the directory is not empty");
                else
                    set_errno(u, "cannot delete the document");
            } else if (S_ISREG(st.st_mode)) {
                atomic_fetch_sub(&u->ar->used, (long long)st.st_size);
            }
        }
        pthread_mutex_unlock(&s->commit_mu);
        if (!u->status && fsync(u->dir_fd) < 0) set_errno(u, "cannot sync the directory");
        return;
    }
}

/* Adds the writable area spec ("PREFIX[:SIZE[:QUOTA]]") of the vhost named
 * vhost (NULL: the top-level server), beneath its root (root_fd, root):
 * its directory is made if missing and opened, so that every write
 * resolves beneath the area and a symlink inside it cannot lead a write
 * into the read-only rest of the root; a killed htd's temporary files are
 * removed and what it holds is measured. 0, or -1 with err set. */
static int add_area(areas *s, const char *vhost, int root_fd, const char *root, const char *spec,
                    uint64_t max_upload, int dav, char *err, size_t errlen)
{
    area *v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) goto oom;
    s->v = v;
    area *a = &v[s->n];
    *a = (area){.fd = -1, .dav = dav};
    atomic_init(&a->used, 0);
    const char *why;
    char norm[4096];
    if (store_parse_area(spec, norm, sizeof norm, &a->max, &a->quota, &why) < 0) {
        snprintf(err, errlen, "bad writable area '%s': %s", spec, why);
        return -1;
    }
    if (!a->max) a->max = max_upload;
    s->n++;
    a->plen = strlen(norm);
    if (a->plen && norm[a->plen - 1] == '/') a->plen--;
    size_t dl = strlen(root) + a->plen + 1;
    if (!(a->prefix = strdup(norm)) || (vhost && !(a->vhost = strdup(vhost))) ||
        !(a->dir = malloc(dl)))
        goto oom;
    snprintf(a->dir, dl, "%s%.*s", root, (int)a->plen, norm);
    char rel[REQ_PATH_MAX];
    snprintf(rel, sizeof rel, "%.*s", a->plen ? (int)a->plen - 1 : 0, norm + 1);
    if (make_dirs(root_fd, rel, NULL) < 0 ||
        (a->fd = htd_open_beneath(root_fd, rel, O_PATH | O_DIRECTORY)) < 0) {
        snprintf(err, errlen, "cannot open writable area %s%s%s: %s", norm, vhost ? " of " : "",
                 vhost ? vhost : "", strerror(errno));
        return -1;
    }
    return clean(a, err, errlen) < 0 ? -1 : 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void fini(void *state)
{
    areas *s = state;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].vhost);
        free(s->v[i].prefix);
        free(s->v[i].dir);
        if (s->v[i].fd >= 0) close(s->v[i].fd);
    }
    free(s->v);
    pthread_mutex_destroy(&s->commit_mu);
    free(s);
}

/* The top-level writable areas of cfg; the vhosts' come with the site
 * (start). */
static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    areas *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *state = s;
    pthread_mutex_init(&s->commit_mu, NULL);
    atomic_init(&s->tmp_seq, 0);
    s->max_upload = cfg->max_upload;
    if (!cfg->nwritable) return 0;
    if (!cfg->root) {
        snprintf(err, errlen, "writable areas need a document root");
        return -1;
    }
    char *root = realpath(cfg->root, NULL);
    int root_fd = root ? open(root, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int rc = 0;
    if (root_fd < 0) {
        snprintf(err, errlen, "cannot serve root %s: %s", cfg->root, strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < cfg->nwritable; i++)
        rc = add_area(s, NULL, root_fd, root, cfg->writable[i], cfg->max_upload, cfg->webdav, err,
                      errlen);
    if (root_fd >= 0) close(root_fd);
    free(root);
    return rc;
}

/* At start: the vhosts' writable areas are opened; and a writable area
 * that every client may write to is said once, as a warning (a site that
 * means it, an intranet's, can ignore it): no address rule and no password
 * on the scope a PUT to its prefix gets. */
static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    (void)reg;
    areas *s = state;
    for (size_t k = 1; k < st->nvhosts; k++) {
        const vhost *vh = &st->vhosts[k];
        uint64_t max = vh->max_upload ? vh->max_upload : s->max_upload;
        for (size_t i = 0; i < vh->nwritable; i++)
            if (add_area(s, vh->name, vh->root_fd, vh->root, vh->writable[i], max, vh->webdav, err,
                         errlen) < 0)
                return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        const char *p = s->v[i].prefix;
        const vhost *vh = NULL;
        for (size_t k = 0; k < st->nvhosts && !vh; k++) {
            const char *name = st->vhosts[k].name;
            if (name ? s->v[i].vhost && strcmp(name, s->v[i].vhost) == 0 : !s->v[i].vhost)
                vh = &st->vhosts[k];
        }
        if (!vh) continue;
        htd_str caps[10];
        int ncaps;
        const rule *r = site_rule(vh, HTD_M_PUT, p, strlen(p), caps, &ncaps);
        const scope *sc = r ? &r->sc : &vh->sc;
        if (!sc->naccess && !sc->auth)
            errlog(ERRLOG_WARN,
                   "htd: warning: PUT, POST and DELETE under %s%s%s are open to every client "
                   "(no access rule and no auth on it)",
                   p, s->v[i].vhost ? " of " : "", s->v[i].vhost ? s->v[i].vhost : "");
    }
    return 0;
}

/* ---- on the loop ---- */

static void upload_free(upload *u)
{
    if (u->reserved) atomic_fetch_sub(&u->ar->used, u->reserved); /* not written after all */
    u->w->jobs_out--;
    budget_sub(&u->w->mem, UP_BUF);
    if (u->dir_fd >= 0) close(u->dir_fd);
    free(u->buf);
    free(u);
}

static void submit(upload *u, int op)
{
    u->op = op;
    u->busy = 1;
    u->handled = 0;
    if (u->c) {
        /* From here the request may outlive the site its vhost and rule
         * were chosen under (a reload retires it): it keeps nothing of it,
         * and its answer goes to the top-level server's log. */
        struct htd_req *hr = u->c->req;
        hr->vh = NULL;
        hr->sc = NULL;
        hr->rule_hdrs_len = 0;
        hr->cc = NULL;
        hr->cache = NULL;
    }
    jobs_submit(u->w->srv->jobs, &u->job);
}

/* Ends the request with an error and lets the upload go. keep: whether the
 * connection may go on (the rest of the body is then read and dropped). */
static void finish_error(upload *u, int keep)
{
    conn *c = u->c;
    /* A body not taken yet is dropped, or ends the connection (response.c). */
    UP_OF(c) = NULL;
    conn_error(c, u->status, u->why, keep);
    u->c = NULL;
    if (u->tmp_fd >= 0)
        submit(u, OP_ABORT);
    else
        upload_free(u);
}

static void finish_ok(upload *u)
{
    conn *c = u->c;
    worker *l = c->w;
    UP_OF(c) = NULL;
    if (l->caches[0].c) cache_flush(l->caches[0].c); /* other loops learn of it by inotify */
    if (u->method == HTD_M_DELETE || u->existed) {
        resp r = {.status = 204, .length = -1};
        response_head(c, &r);
        conn_log(u->c, 204, 0);
    } else {
        char loc[sizeof u->loc + sizeof u->name + 1], body[sizeof loc + 16];
        int post = u->method == HTD_M_POST; /* its name was chosen URL-safe */
        snprintf(loc, sizeof loc, "%s%s%s", u->loc, post ? "/" : "", post ? u->name : "");
        int bl = snprintf(body, sizeof body, "created %s\n", loc);
        resp r = {.status = 201,
                  .ctype = "text/plain; charset=utf-8",
                  .length = bl,
                  .location = {loc, strlen(loc)}};
        if (response_head(c, &r) == 0) conn_out_copy(c, body, (size_t)bl);
        conn_log(u->c, 201, (uint64_t)bl);
    }
    conn_seal(c);
    upload_free(u);
}

static void upload_done(htd_job *j)
{
    upload *u = (upload *)j;
    u->busy = 0;
    if (!u->c) { /* the connection went away meanwhile */
        if (u->tmp_fd >= 0)
            submit(u, OP_ABORT);
        else
            upload_free(u);
        return;
    }
    conn_resume(u->c); /* its sink goes on */
}

/* Takes body bytes into the upload's buffer; a full buffer, or the end of
 * the body, goes to the disk. */
static int take_body(conn *c, upload *u)
{
    const char *why = "malformed chunked body";
    int done = 0;
    /* Chunked decoding is in place and may need to see more than room;
     * it never yields more data than it consumed, so the input is limited
     * to the room, again and again: the chunks' framing yields less than
     * it takes, and SINK_MORE must mean the read buffer was all taken, or
     * its rest waits for bytes the client has already sent. */
    while (!done && u->len < UP_BUF && c->rpos < c->rlen) {
        size_t consumed, dlen;
        size_t room = UP_BUF - u->len;
        size_t avail = c->rlen - c->rpos;
        if (avail > room) avail = room;
        done = conn_body_take(c, c->rbuf + c->rpos, avail, &consumed, &dlen, &why);
        if (done < 0) {
            u->status = -done;
            u->why = why;
            finish_error(u, 0);
            return SINK_DONE;
        }
        memcpy(u->buf + u->len, c->rbuf + c->rpos, dlen);
        u->len += dlen;
        u->total += dlen;
        c->rpos += (uint32_t)consumed;
        if (u->total > u->limit) {
            u->status = 413;
            u->why = "document larger than the writable area accepts";
            finish_error(u, 0);
            return SINK_DONE;
        }
        /* A body of no declared size is held against the quota as it
         * comes: once past it, the upload ends and its file goes. */
        int64_t more = (int64_t)u->total - u->old - u->reserved;
        if (u->declared < 0 && more > 0) {
            if (reserve(u->ar, more) < 0) {
                u->status = 507;
                u->why = "the writable area's quota is exceeded";
                finish_error(u, 0);
                return SINK_DONE;
            }
            u->reserved += more;
        }
    }
    if (done)
        submit(u, OP_COMMIT);
    else if (u->len == UP_BUF)
        submit(u, OP_WRITE);
    return u->busy ? SINK_WAIT : SINK_MORE;
}

/* The request's sink (module.h): between disk jobs, the body goes into the
 * upload; the end of each job says how to go on. */
static int store_sink(conn *c)
{
    upload *u = UP_OF(c);
    if (!u) return SINK_DONE; /* answered */
    if (u->busy) return SINK_WAIT;
    if (!u->handled) {
        u->handled = 1;
        if (u->status) {
            /* A client still to send a body it was told to wait for will
             * not; a body cut short by a failed write cannot be followed
             * either. */
            int keep = u->op == OP_DELETE || u->op == OP_COMMIT ||
                       (u->op == OP_BEGIN && !u->expect_continue);
            finish_error(u, keep);
            return SINK_DONE;
        }
        if (u->op == OP_COMMIT || u->op == OP_DELETE) {
            finish_ok(u);
            return SINK_DONE;
        }
        if (u->op == OP_BEGIN) conn_take_body(c); /* accepted: the body may come */
        if (!conn_body_pending(c)) {
            submit(u, OP_COMMIT);
            return SINK_WAIT;
        }
    }
    return c->rpos < c->rlen ? take_body(c, u) : SINK_MORE;
}

static void copy_str(char *dst, size_t cap, htd_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.p, n);
    dst[n] = 0;
}

static const char *ext_for(htd_str ctype)
{
    static const struct {
        const char *type, *ext;
    } map[] = {
        {"application/json", ".json"}, {"text/plain", ".txt"},   {"text/html", ".html"},
        {"text/csv", ".csv"},          {"text/markdown", ".md"}, {"application/xml", ".xml"},
        {"text/xml", ".xml"},          {"image/png", ".png"},    {"image/jpeg", ".jpg"},
        {"image/gif", ".gif"},         {"image/webp", ".webp"},  {"image/svg+xml", ".svg"},
        {"application/pdf", ".pdf"},   {"text/css", ".css"},     {"text/javascript", ".js"},
    };
    size_t n = 0;
    while (n < ctype.len && ctype.p[n] != ';' && ctype.p[n] != ' ')
        n++;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].type) == n && strncasecmp(ctype.p, map[i].type, n) == 0)
            return map[i].ext;
    return ".bin";
}

void store_start(conn *c, const htd_request *r, const struct htd_req *hr)
{
    worker *l = c->w;
    areas *s = registry_state(&l->srv->reg, &store_module);
    if (budget_over(&l->mem, UP_BUF)) {
        conn_busy(c);
        return;
    }
    upload *u = calloc(1, sizeof *u);
    if (!u || !(u->buf = malloc(UP_BUF))) {
        free(u);
        conn_error(c, 500, "out of memory", 0);
        return;
    }
    budget_add(&l->mem, UP_BUF);
    u->job = (htd_job){.work = work, .done = upload_done, .loop = l->loop};
    u->c = c;
    u->a = s;
    u->w = l;
    l->jobs_out++;
    u->method = r->method_id;
    u->dir_fd = u->tmp_fd = -1;
    u->expect_continue = r->expect_continue && r->version == 11 && conn_body_pending(c);
    int area = area_of(s, hr->vh->name, hr->path, hr->path_len);
    u->ar = &s->v[area];
    u->area_fd = u->ar->fd;
    u->declared = r->chunked ? -1 : r->content_length > 0 ? r->content_length : 0;
    htd_str v = htd_request_known(r, HTD_H_IF_MATCH),
            inm = htd_request_known(r, HTD_H_IF_NONE_MATCH);
    size_t ll = hr->path_len;
    if (u->method == HTD_M_POST && ll && hr->path[ll - 1] == '/') ll--;
    size_t locn = htd_path_uri(hr->path, ll, u->loc, sizeof u->loc - 1);
    if (locn >= sizeof u->loc || (v.p && v.len >= sizeof u->if_match) ||
        (inm.p && inm.len >= sizeof u->if_none_match)) {
        u->status = 431;
        u->why = "path or precondition too long for the document store";
        goto refuse;
    }
    u->loc[locn] = 0;
    if ((u->has_if_match = v.p != NULL)) copy_str(u->if_match, sizeof u->if_match, v);
    if ((u->has_if_none_match = inm.p != NULL))
        copy_str(u->if_none_match, sizeof u->if_none_match, inm);

    /* dir and name from the decoded path, relative to the area */
    size_t skip = u->ar->plen;
    const char *p = hr->path + skip;
    size_t n = hr->path_len - skip;
    while (n && *p == '/')
        p++, n--;
    int collection = u->method == HTD_M_POST;
    if (collection) {
        if (n && p[n - 1] == '/') n--;
        copy_str(u->dir, sizeof u->dir, (htd_str){p, n});
        strcpy(u->ext, ext_for(htd_request_known(r, HTD_H_CONTENT_TYPE)));
    } else {
        if (u->method == HTD_M_DELETE && n && p[n - 1] == '/') n--; /* a directory */
        if (n == 0 || p[n - 1] == '/') {
            u->status = 409;
            u->why = n == 0 ? "the writable area itself cannot be replaced or deleted"
                            : "a document's path cannot end with a slash";
            goto refuse;
        }
        const char *slash = memrchr(p, '/', n);
        size_t dl = slash ? (size_t)(slash - p) : 0;
        htd_str name = slash ? (htd_str){slash + 1, n - dl - 1} : (htd_str){p, n};
        if (name.len >= sizeof u->name) {
            u->status = 414;
            u->why = "document name longer than 255 bytes";
            goto refuse;
        }
        copy_str(u->dir, sizeof u->dir, (htd_str){p, dl});
        copy_str(u->name, sizeof u->name, name);
    }

    u->limit = u->ar->max;
    if (u->method != HTD_M_DELETE && !r->chunked && r->content_length > 0 &&
        (uint64_t)r->content_length > u->limit) {
        u->status = 413;
        u->why = "document larger than the writable area accepts";
        goto refuse;
    }
    UP_OF(c) = u;
    c->req->sink = store_sink; /* the phases end in CS_SINK */
    submit(u, u->method == HTD_M_DELETE ? OP_DELETE : OP_BEGIN);
    return;
refuse:
    UP_OF(c) = u;
    finish_error(u, u->status != 413);
}

/* The content phase: PUT, POST and DELETE in a writable area of the
 * request's vhost. */
static int content_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    int m = hr->r->method_id;
    if ((m != HTD_M_PUT && m != HTD_M_POST && m != HTD_M_DELETE) ||
        !store_writable(c->w->srv, hr->vh->name, hr->path, hr->path_len))
        return MOD_DECLINED;
    if (req_path_hidden(hr)) {
        conn_error(c, 403, "dotfiles cannot be written", !conn_body_pending(c));
        return MOD_DONE;
    }
    store_start(c, hr->r, hr); /* it takes the body once its preconditions hold */
    return MOD_DONE;
}

static void release_upload(struct htd_req *hr)
{
    store_detach(hr->c);
}

static const char *allow(const struct htd_req *hr)
{
    return store_writable(hr->c->w->srv, hr->vh->name, hr->path, hr->path_len)
               ? "Allow: GET, HEAD, OPTIONS, PUT, POST, DELETE\r\n"
               : NULL;
}

const htd_module store_module = {
    .name = "store",
    .phase = {[PH_CONTENT] = content_phase},
    .init = init,
    .fini = fini,
    .start = start,
    .release = release_upload,
    .allow = allow,
};

void store_detach(conn *c)
{
    upload *u = UP_OF(c);
    UP_OF(c) = NULL;
    u->c = NULL;
    if (u->busy) return; /* upload_done cleans up */
    if (u->tmp_fd >= 0)
        submit(u, OP_ABORT);
    else
        upload_free(u);
}

int store_parse_area(const char *spec, char *norm, size_t cap, uint64_t *max, uint64_t *quota,
                     const char **why)
{
    size_t len = strlen(spec);
    *max = *quota = 0;
    *why = "must start with '/'";
    /* From the right: a size, then before it a size or nothing (then the
     * first was the quota). */
    const char *last = memrchr(spec, ':', len);
    uint64_t a;
    /* What starts with a digit after a ':' is meant as a size: one that is
     * not a size ("1MB") is refused, never taken as part of the path. */
    static const char bad[] = "a size is a number of bytes, or one with K, M or G (\"1M\", "
                              "not \"1MB\")";
    if (last && last[1] >= '0' && last[1] <= '9' &&
        store_parse_size(last + 1, len - (size_t)(last - spec) - 1, &a) < 0) {
        *why = bad;
        return -1;
    }
    if (last && store_parse_size(last + 1, len - (size_t)(last - spec) - 1, &a) == 0) {
        len = (size_t)(last - spec);
        const char *prev = memrchr(spec, ':', len);
        uint64_t b = 0;
        size_t bl = prev ? len - (size_t)(prev - spec) - 1 : 0;
        if (prev && bl && prev[1] >= '0' && prev[1] <= '9' &&
            store_parse_size(prev + 1, bl, &b) < 0) {
            *why = bad;
            return -1;
        }
        if (prev && (bl == 0 || store_parse_size(prev + 1, bl, &b) == 0)) {
            len = (size_t)(prev - spec);
            *max = b;
            *quota = a;
        } else {
            *max = a;
        }
    }
    if (spec[0] != '/') return -1;
    return htd_path_normalize(spec, len, norm, cap, why) < 0 ? -1 : 0;
}
