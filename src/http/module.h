/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * module.h - how features plug into request handling: phases and modules.
 *
 * A request goes through the phases in order: rewrite (choosing its virtual
 * host and rule), access (address rules, authentication, redirects; later
 * charging), content (embedder routes, scripts, the store, static files;
 * later the proxy and queues). In each phase the modules that have a
 * function for it are asked in the registry's order; each answers
 *
 *   MOD_DONE      it answered the request or took it over (a script, an
 *                 upload): the phases are over;
 *   MOD_DECLINED  not its business: the next module is asked;
 *   MOD_AGAIN     suspended: it resumes the request itself (from a pool job,
 *                 a timer, another thread) with conn_resume_request; the
 *                 rewrite phase runs again (a reload may have replaced the
 *                 site meanwhile), and then it is asked again;
 *   100..599      the request ends with that status and a short body.
 *
 * The other hooks are optional: init when the server is made, for the
 * module's per-server state (registry_state), start once its first site is
 * built, and fini when it goes;
 * release when a request ends (answered, or
 * its connection closing) while the module still holds something of it in
 * its slot (req_slot, keyed by the module); free_local when a loop ends,
 * for the module's per-loop state (loop_local, keyed by the module); adopt
 * when a loop moves to a site, for work a loop does of its own accord; log
 * for every response; error_page to
 * answer an error with a page of its own; allow for the methods a path
 * takes (405). A response's body may come from a generator, through a
 * filter (below). The connection code names no module: it knows them only
 * through the registry the server gives it.
 */
#ifndef HTD_MODULE_H
#define HTD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "htd.h"

struct conn;
struct htd_req;
struct site;
struct registry;
struct resp;
struct worker;

enum { PH_REWRITE, PH_ACCESS, PH_CONTENT, PH_COUNT };
/* For wanted (below): the connection hooks, the header filters and the
 * log hooks, rather than a phase. */
enum { PH_CONN = PH_COUNT, PH_HEAD, PH_LOG };
/* What a header filter (head, below) says. */
enum { HEAD_GO = 0, HEAD_REFUSED = 1 };
enum { MOD_DONE = 0, MOD_DECLINED = 1, MOD_AGAIN = 2 };

/* A module that answers with a response it makes piece by piece (a
 * script's output, a file compressed as it goes, a directory listing) sets
 * the request's generator (req.h gen) and returns MOD_DONE. The connection
 * calls the generator whenever the out queue is empty, and it says
 *
 *   GEN_MORE  it queued a piece or gave one to response_body (or queued
 *             an error response in place of the rest): call again once
 *             what is queued is sent;
 *   GEN_WAIT  nothing yet: it runs the connection again (conn_resume) when
 *             there is;
 *   GEN_DONE  the response is whole;
 *   GEN_GONE  it closed the connection.
 */
enum { GEN_MORE, GEN_WAIT, GEN_DONE, GEN_GONE };

/* A filter on a response's body (gzip) is set as the request's filter
 * (req.h) by whoever starts the body. A generator that hands its pieces to
 * response_body (response.h) need not know of it: each piece goes through
 * the filter before it is framed and queued, and what the filter makes goes
 * on with response_body_out. It may hold bytes back or make more than it is
 * given; its state is in its request slot. It is called with p[0..len) of
 * the body, the end of it if last, and says
 *
 *   FILTER_TAKEN  it is done with p (on the last piece: it has passed its
 *                 own last piece on): the generator may go on;
 *   FILTER_MORE   it queued some and still has more of p to make (p stays
 *                 as it is meanwhile): it is called again with nothing
 *                 (NULL, 0, 0) once that is sent, before the generator;
 *   FILTER_ERROR  the response cannot be finished (the connection must
 *                 close).
 */
enum { FILTER_ERROR = -1, FILTER_TAKEN, FILTER_MORE };

/* A module that takes the request body as it arrives (the store's upload)
 * sets the request's sink (req.h) and returns MOD_DONE. The connection
 * calls the sink when body bytes are buffered and when the module runs it
 * again (conn_resume), and it says
 *
 *   SINK_MORE  it took what was buffered: read more of the body;
 *   SINK_WAIT  it is busy (a disk job): read nothing until it runs the
 *              connection again;
 *   SINK_DONE  the request is answered (or refused);
 *   SINK_GONE  it closed the connection.
 */
enum { SINK_MORE, SINK_WAIT, SINK_DONE, SINK_GONE };

typedef struct htd_module {
    const char *name;
    int (*phase[PH_COUNT])(struct htd_req *hr);
    /* The per-server state made from the settings: 0, or -1 with the
     * reason in err (which names the setting). */
    int (*init)(const htd_config *cfg, void **state, char *err, size_t errlen);
    void (*fini)(void *state);
    /* After every init, with the server's first site: for what a module
     * makes of the site's settings that lasts as long as the server (the
     * job queues, their database and threads). 0, or -1 with the reason. */
    int (*start)(void *state, const struct registry *reg, const struct site *st, char *err,
                 size_t errlen);
    /* Whether the module has anything to do in phase ph, given its state
     * once the server is set up (the embedder's handlers added): 0 takes
     * its function out of that phase when the server starts. */
    int (*wanted)(const void *state, int ph);
    /* A connection is accepted (its peer known): 0 to take it, -1 to have
     * it closed at once. conn_close is called for every connection that
     * every conn_open took, as it closes. */
    int (*conn_open)(struct conn *c);
    void (*conn_close)(const struct conn *c);
    void (*release)(struct htd_req *hr);
    void (*free_local)(void *state);
    /* A loop moved to a site (w->site; its first included): for what a
     * module runs on a loop of its own accord, not for a request (the
     * proxy's health checks). free_local ends it with the loop. */
    void (*adopt)(struct worker *w);
    void (*log)(const struct conn *c, int status, uint64_t bytes);
    /* A header filter: called as the head of hr's response is about to be
     * written, with what it will say (its status and length, -1 when the
     * length is not known before the body ends), before anything of it is
     * queued. It may add header lines (htd_resp_header); HEAD_GO lets the
     * response go on. HEAD_REFUSED says it answered the request itself
     * instead (htd_respond, which calls no header filter): the response
     * being started is then dropped whole, unsent and unlogged, whatever
     * its maker goes on to queue, and the filter's answer goes in its
     * place. Not called for HTTP/0.9, nor for the heads a header filter's
     * own answer writes. */
    int (*head)(struct htd_req *hr, const struct resp *r);
    /* A body encoder (content codings on the fly): asked, as the head of a
     * response a handler makes (htd_respond and its kin) is written,
     * whether its body goes out coded. It writes the header lines that say
     * so (Content-Encoding, Vary) into lines[0..cap), their length in
     * *nlines, and returns 1 if the body is coded: its filter is then
     * installed (unless the request is a HEAD), the length no longer
     * known, and the body must go through response_body. 0: as it is (a
     * Vary line may still be there). The first module that has one is
     * asked. */
    int (*encode)(struct htd_req *hr, const struct resp *r, char *lines, size_t cap,
                  size_t *nlines);
    /* 0 if it queued a response with status and a page, extra header
     * lines included; -1 to let the short body go. */
    int (*error_page)(struct htd_req *hr, int status, const char *extra, size_t extra_len);
    /* The Allow header line for hr's path, or NULL to say nothing. */
    const char *(*allow)(const struct htd_req *hr);
} htd_module;

#define REGISTRY_MAX 24

/* The modules of a server, in order; for each phase, the functions of the
 * modules that have one, in the same order, so that a request asks only
 * those; and those of the hooks every response calls. */
typedef struct registry {
    const htd_module *const *mods;
    size_t n;
    int (*phase[PH_COUNT][REGISTRY_MAX])(struct htd_req *hr);
    const htd_module *phase_mod[PH_COUNT][REGISTRY_MAX]; /* whose each function is */
    size_t nphase[PH_COUNT];
    void (*log[REGISTRY_MAX])(const struct conn *c, int status, uint64_t bytes);
    const htd_module *log_mod[REGISTRY_MAX]; /* whose each log hook is */
    size_t nlog;
    const htd_module *head_mod[REGISTRY_MAX]; /* those with a header filter, in order */
    size_t nhead;
    const htd_module *page_mod[REGISTRY_MAX]; /* those with error pages, in order */
    size_t npage;
    const htd_module *encoder;                /* the first with a body encoder, or NULL */
    const htd_module *conn_mod[REGISTRY_MAX]; /* those with conn_open, in order */
    size_t nconn;
    void *state[REGISTRY_MAX]; /* each module's per-server state, as mods */
} registry;

/* Makes r of mods[0..n) (at most REGISTRY_MAX). */
void registry_init(registry *r, const htd_module *const *mods, size_t n);
/* Puts the modules named in names[0..n) first in phase ph, in that order,
 * the others after them as they were. -1 with the unknown name in *bad. */
int registry_order(registry *r, int ph, const char *const *names, size_t n, const char **bad);
/* Runs every module's init, then (unless st is NULL) every start with the
 * first site: 0, or -1 with the reason in err (those made are freed by
 * registry_fini). */
int registry_start(registry *r, const htd_config *cfg, const struct site *st, char *err,
                   size_t errlen);
void registry_fini(registry *r);
/* Takes out of each phase, of the connection hooks, of the header filters
 * and of the log hooks the modules that say they are not wanted there (when the server
 * starts: nothing changes after). */
void registry_seal(registry *r);
/* Runs the modules' conn_open hooks on c: 0 if each took it; else -1, the
 * conn_close of those that took it having run. */
int registry_conn_open(const registry *r, struct conn *c);
void registry_conn_close(const registry *r, const struct conn *c);
/* Module m's per-server state, or NULL. */
void *registry_state(const registry *r, const htd_module *m);

#endif
