/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls.c - TLS over OpenSSL 3 as a transport (see tls.h, transport.h).
 *
 * The handshake has no state of its own in the connection: the SSL is put
 * in accept state and the first SSL_read performs it, so the connection's
 * ordinary reads drive it through the reactor's ordinary callbacks. Where
 * OpenSSL waits for the other direction (SSL_ERROR_WANT_WRITE in a read: a
 * handshake flight the socket could not take), the transport says so with
 * pending() bits, which the connection honours.
 *
 * The contract "less than asked means EAGAIN" holds: a read goes on
 * decrypting records until its buffer is full or OpenSSL wants more from
 * the socket; a write goes on record after record until the socket is full.
 * SSL_MODE_ENABLE_PARTIAL_WRITE makes SSL_write return after each record,
 * so a count is always what was sent; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
 * lets the record it began be offered again from another address (the
 * caller's iovec, or the stack buffer pieces are gathered into), which is
 * all the out queue's re-offer guarantees.
 *
 * Small pieces of a vectored write (a head, a short body) are gathered into
 * one record on the stack: a record costs a MAC, a header and a TCP
 * segment, and a 1 KiB response in one record is one send. Larger pieces
 * are written from where they lie. No write buffer of our own is kept per
 * connection. OpenSSL's record buffers (some 34 KiB for both directions)
 * are kept by the first TLS_KEEP_BUFFERS connections open at a time: a
 * release after every record and an allocation before the next cost about
 * 6% of a small request's CPU. Connections beyond those release them
 * whenever they are empty (SSL_MODE_RELEASE_BUFFERS), so that ten thousand
 * idle connections hold the SSL alone.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errlog.h"

#define TLS_RECORD 16384 /* the most plaintext a record holds */
/* File bodies without kernel TLS: this many records are encrypted at a time
 * and sent with one system call (a write per record costs the receiver a
 * wakeup each, and the sender a syscall each: most of a large response's
 * CPU beside the cipher). */
#define TLS_BATCH_RECORDS 4
#define TLS_BATCH (TLS_BATCH_RECORDS * (TLS_RECORD + 256)) /* + each record's header, tag */
#define HOUR_MS 3600000u

/* Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2; TLS 1.3
 * keeps OpenSSL's suites, which are that configuration's too. */
static const char intermediate[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
static const char groups[] = "X25519:P-256:P-384";

/* ---- ticket keys ---- */

typedef struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    uint64_t born; /* ms, monotonic */
    int set;
} ticket_key;

/* How many connections of a server keep OpenSSL's record buffers between
 * records (see the top): at most some 8.5 MiB for them. */
#define TLS_KEEP_BUFFERS 256

struct tls_shared {
    pthread_mutex_t mu;
    ticket_key cur, prev; /* prev decrypts until the next rotation */
    uint64_t rotate_ms;
    atomic_int noted; /* the path of file bodies has been logged */
    atomic_uint kept; /* connections keeping their record buffers */
    /* Fetched once: OpenSSL 3 looks a cipher named by EVP_aes_256_cbc() up
     * in its provider tables, under a lock, at every use. */
    EVP_CIPHER *aes;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int new_key(ticket_key *k, uint64_t now)
{
    if (RAND_bytes(k->name, sizeof k->name) != 1 || RAND_priv_bytes(k->aes, sizeof k->aes) != 1 ||
        RAND_priv_bytes(k->hmac, sizeof k->hmac) != 1)
        return -1;
    k->born = now;
    k->set = 1;
    return 0;
}

/* Under sh->mu: replaces the current key once it is rotate_ms old, keeping
 * it as the previous one; a key two periods old decrypts nothing more. A
 * failed replacement keeps what there is (and is tried again next time). */
static void rotate(tls_shared *sh, uint64_t now)
{
    uint64_t age = now - sh->cur.born;
    if (age < sh->rotate_ms) return;
    ticket_key k;
    if (new_key(&k, now) < 0) return;
    if (age < 2 * sh->rotate_ms)
        sh->prev = sh->cur;
    else
        explicit_bzero(&sh->prev, sizeof sh->prev);
    sh->cur = k;
    explicit_bzero(&k, sizeof k);
}

tls_shared *tls_shared_new(uint64_t rotate_ms)
{
    tls_shared *sh = calloc(1, sizeof *sh);
    if (!sh) return NULL;
    sh->rotate_ms = rotate_ms ? rotate_ms : HOUR_MS;
    if (new_key(&sh->cur, now_ms()) < 0 ||
        !(sh->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL))) {
        ERR_clear_error();
        explicit_bzero(sh, sizeof *sh);
        free(sh);
        errno = EIO;
        return NULL;
    }
    pthread_mutex_init(&sh->mu, NULL);
    atomic_init(&sh->noted, 0);
    return sh;
}

void tls_shared_free(tls_shared *sh)
{
    if (!sh) return;
    pthread_mutex_destroy(&sh->mu);
    EVP_CIPHER_free(sh->aes);
    explicit_bzero(sh, sizeof *sh);
    free(sh);
}

void tls_ticket_current(tls_shared *sh, uint64_t now, unsigned char name[16])
{
    pthread_mutex_lock(&sh->mu);
    rotate(sh, now);
    memcpy(name, sh->cur.name, 16);
    pthread_mutex_unlock(&sh->mu);
}

/* Under sh->mu: the key named name, and whether it is the previous one. */
static const ticket_key *find_key(tls_shared *sh, const unsigned char *name, int *old)
{
    *old = 0;
    if (memcmp(name, sh->cur.name, 16) == 0) return &sh->cur;
    *old = 1;
    if (sh->prev.set && memcmp(name, sh->prev.name, 16) == 0) return &sh->prev;
    return NULL;
}

int tls_ticket_known(tls_shared *sh, uint64_t now, const unsigned char name[16])
{
    pthread_mutex_lock(&sh->mu);
    rotate(sh, now);
    int old;
    const ticket_key *k = find_key(sh, name, &old);
    pthread_mutex_unlock(&sh->mu);
    return k ? 1 + old : 0;
}

/* ---- the connection ---- */

typedef struct tls_conn {
    transport t;
    SSL *ssl;
    tls_certs *certs; /* a reference: the SNI callback looks names up in it */
    tls_shared *sh;
    unsigned pend;   /* TRANSPORT_READ_ON_WRITABLE, TRANSPORT_WRITE_ON_READABLE */
    uint8_t ready;   /* the handshake is over and the kTLS question settled */
    uint8_t ktls;    /* the kernel encrypts what is sent: sendfile stays sendfile */
    uint8_t shut;    /* close_notify was sent (or tried) */
    uint8_t no_ktls; /* the settings said never */
    uint8_t drained; /* the socket's last read gave less than asked (read_seen) */
    uint8_t keeps;   /* one of sh->kept: its record buffers stay between records */
    uint8_t ktls_rx; /* the kernel decrypts what is read: a short read says nothing */
    /* A batch of records of a file body (tls_sendfile): the ciphertext,
     * sent from boff, and the plaintext it holds, which the caller is told
     * was taken only once all of it has gone. Allocated while a batch is
     * under way, so idle connections hold none. */
    char *batch;
    size_t blen, boff;
    size_t held;
    BIO *sock_bio; /* the socket's, while the batch's stands in as the write BIO */
} tls_conn;

/* Ticket keys: OpenSSL asks with enc = 1 for a key to seal a new ticket,
 * and with enc = 0 for the key a client's ticket names. */
static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    tls_conn *tc = SSL_get_app_data(s);
    if (!tc) return -1;
    tls_shared *sh = tc->sh;
    ticket_key k;
    int old = 0, rc;
    pthread_mutex_lock(&sh->mu);
    rotate(sh, now_ms());
    if (enc) {
        k = sh->cur;
    } else {
        const ticket_key *f = find_key(sh, name, &old);
        if (!f) {
            pthread_mutex_unlock(&sh->mu);
            return 0; /* unknown or retired: a full handshake */
        }
        k = *f;
    }
    pthread_mutex_unlock(&sh->mu);
    if (enc && RAND_bytes(iv, 16) != 1) {
        rc = -1;
        goto out;
    }
    if (enc) memcpy(name, k.name, 16);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof k.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(hctx, params) ||
        (enc ? !EVP_EncryptInit_ex(cctx, sh->aes, NULL, k.aes, iv)
             : !EVP_DecryptInit_ex(cctx, sh->aes, NULL, k.aes, iv)))
        rc = -1;
    else
        /* 2: issue a new ticket: when the previous key sealed this one,
         * and always in TLS 1.3, whose clients use a ticket once (browsers
         * do): without a new one at each resumption, every other
         * connection would be a full handshake. */
        rc = old || (!enc && SSL_version(s) == TLS1_3_VERSION) ? 2 : 1;
out:
    explicit_bzero(&k, sizeof k);
    return rc;
}

/* Says once per server which way file bodies go: through the kernel's TLS
 * with sendfile, or read and written by SSL_write (and why). */
static void note_path(tls_conn *tc)
{
    if (atomic_exchange(&tc->sh->noted, 1)) return;
    if (tc->ktls) {
        errlog(ERRLOG_NOTICE, "htd: TLS: kernel TLS in use");
        return;
    }
    const char *why = "the connection's cipher is not one the kernel takes";
    if (tc->no_ktls) {
        why = "turned off by the ktls setting";
    } else {
        char ulp[256] = "";
        int fd = open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, ulp, sizeof ulp - 1) : -1;
        if (fd >= 0) close(fd);
        ulp[n > 0 ? n : 0] = 0;
        if (!strstr(ulp, "tls")) why = "the kernel has no tls module";
    }
    errlog(ERRLOG_NOTICE, "htd: TLS: kernel TLS unavailable (%s), using SSL_write", why);
}

static void handshake_done(tls_conn *tc)
{
    tc->ready = 1;
    tc->ktls = !tc->no_ktls && BIO_get_ktls_send(SSL_get_wbio(tc->ssl)) > 0;
    /* Kernel TLS's reads stop at a record's end, short of what was asked
     * with more behind them: read_seen's note would mislead. */
    tc->ktls_rx = BIO_get_ktls_recv(SSL_get_rbio(tc->ssl)) > 0;
    note_path(tc);
}

/* A plain HTTP request on the TLS port: a clear answer in plain text, as
 * nginx gives, rather than a silent close. What the client sent is
 * drained first, so that closing does not reset the answer away. */
static void plain_refusal(int fd)
{
    static const char body[] = "this port speaks HTTPS: a plain HTTP request came\n";
    char msg[256];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 400 Bad Request\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "\r\n%s",
                     sizeof body - 1, body);
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) return;
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        continue;
}

/* After an SSL call on tc that returned r <= 0: -1 with errno (EAGAIN when
 * it waits, noting in pend when it waits for the other direction: other is
 * the bit that says so for this kind of call), or 0 for the peer's
 * close_notify. The thread's error queue is left empty. */
static ssize_t ssl_fail(tls_conn *tc, int fd, int r, unsigned other)
{
    int saved = errno; /* a failed system call's, before anything else can change it */
    int e = SSL_get_error(tc->ssl, r);
    ssize_t rc = -1;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        if (other == TRANSPORT_WRITE_ON_READABLE) tc->pend |= other;
        errno = EAGAIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        if (other == TRANSPORT_READ_ON_WRITABLE) tc->pend |= other;
        errno = EAGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN:
        if (other == TRANSPORT_READ_ON_WRITABLE) {
            rc = 0;
        } else {
            errno = EPIPE;
        }
        break;
    case SSL_ERROR_SYSCALL:
        errno = saved && saved != EAGAIN ? saved : ECONNRESET;
        break;
    default: {
        unsigned long err = ERR_peek_error();
        if (ERR_GET_LIB(err) == ERR_LIB_SSL && (ERR_GET_REASON(err) == SSL_R_HTTP_REQUEST ||
                                                ERR_GET_REASON(err) == SSL_R_HTTPS_PROXY_REQUEST))
            plain_refusal(fd);
        errno = EPROTO;
    }
    }
    ERR_clear_error();
    return rc;
}

/* The socket BIO's callback: notes whether its last read emptied the
 * socket. OpenSSL reads ahead (as much as its buffer takes), so a read
 * that gave less than it asked for left nothing behind it. */
static long read_seen(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                      size_t *processed)
{
    (void)argp, (void)argi, (void)argl;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
        tls_conn *tc = (tls_conn *)BIO_get_callback_arg(b);
        tc->drained = ret > 0 && processed && *processed < len;
    }
    return ret;
}

static ssize_t tls_read(transport *t, int fd, void *buf, size_t len)
{
    tls_conn *tc = (tls_conn *)t;
    tc->pend &= ~(unsigned)TRANSPORT_READ_ON_WRITABLE;
    size_t got = 0;
    ssize_t rc = 0;
    tc->drained = 0;
    while (got < len) {
        size_t n;
        int r = SSL_read_ex(tc->ssl, (char *)buf + got, len - got, &n);
        if (r > 0) {
            got += n;
            if (!tc->ready && SSL_is_init_finished(tc->ssl)) handshake_done(tc); /* ktls_rx */
            /* The socket emptied and every byte read decrypted: less than
             * asked is EAGAIN, without a read() to be told so. */
            if (tc->drained && !tc->ktls_rx && !SSL_has_pending(tc->ssl)) break;
            continue;
        }
        rc = ssl_fail(tc, fd, r, TRANSPORT_READ_ON_WRITABLE);
        break;
    }
    if (!tc->ready && SSL_is_init_finished(tc->ssl)) handshake_done(tc);
    /* What stopped the reading (EAGAIN, the end, an error) is said by the
     * next call, OpenSSL being in the same state then. */
    return got ? (ssize_t)got : rc;
}

static ssize_t tls_writev(transport *t, int fd, const struct iovec *iov, int cnt, int more)
{
    (void)more; /* each call's bytes end in a record of their own */
    tls_conn *tc = (tls_conn *)t;
    tc->pend &= ~(unsigned)TRANSPORT_WRITE_ON_READABLE;
    char gather[TLS_RECORD];
    size_t done = 0, off = 0;
    int i = 0;
    while (i < cnt) {
        size_t rest = iov[i].iov_len - off;
        if (rest == 0) {
            i++;
            off = 0;
            continue;
        }
        const char *p = (const char *)iov[i].iov_base + off;
        size_t n = rest;
        if (rest < TLS_RECORD && i + 1 < cnt) {
            /* Gathered from the same place on a re-offer, so a record begun
             * is offered again with at least its own bytes. */
            n = 0;
            size_t o = off;
            for (int j = i; j < cnt && n < TLS_RECORD; j++, o = 0) {
                size_t k = iov[j].iov_len - o;
                if (k > TLS_RECORD - n) k = TLS_RECORD - n;
                memcpy(gather + n, (const char *)iov[j].iov_base + o, k);
                n += k;
            }
            p = gather;
        }
        size_t w;
        int r = SSL_write_ex(tc->ssl, p, n, &w);
        if (r <= 0) {
            ssize_t f = ssl_fail(tc, fd, r, TRANSPORT_WRITE_ON_READABLE);
            return done ? (ssize_t)done : f;
        }
        done += w;
        while (w) { /* advance by what the record took */
            size_t k = iov[i].iov_len - off;
            if (w < k) {
                off += w;
                break;
            }
            w -= k;
            i++;
            off = 0;
        }
    }
    return (ssize_t)done;
}

/* ---- batches of records for file bodies ---- */

/* The write BIO of a batch: records go to the end of tc->batch. */
static int batch_write(BIO *b, const char *p, int n)
{
    tls_conn *tc = BIO_get_data(b);
    if (n <= 0 || (size_t)n > TLS_BATCH - tc->blen) { /* never: a batch has room for its records */
        BIO_set_retry_write(b);
        return -1;
    }
    memcpy(tc->batch + tc->blen, p, (size_t)n);
    tc->blen += (size_t)n;
    return n;
}

static long batch_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *batch_method;
static void make_batch_method(void)
{
    batch_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "htd batch");
    if (batch_method && (!BIO_meth_set_write(batch_method, batch_write) ||
                         !BIO_meth_set_ctrl(batch_method, batch_ctrl))) {
        BIO_meth_free(batch_method);
        batch_method = NULL;
    }
}

/* Sends what the batch holds: 0 when it has all gone (the batch is let
 * go), else -1 with errno (EAGAIN: the socket is full). */
static int batch_flush(tls_conn *tc, int fd)
{
    while (tc->boff < tc->blen) {
        ssize_t n = send(fd, tc->batch + tc->boff, tc->blen - tc->boff, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        tc->boff += (size_t)n;
    }
    free(tc->batch);
    tc->batch = NULL;
    tc->blen = tc->boff = 0;
    return 0;
}

/* Encrypts p[0..n) (at most TLS_BATCH_RECORDS records) into a new batch,
 * the batch BIO standing in for the socket's meanwhile. The plaintext
 * taken, or -1 with errno. */
static ssize_t batch_fill(tls_conn *tc, int fd, const char *p, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_batch_method);
    BIO *b = batch_method ? BIO_new(batch_method) : NULL;
    if (!b || !(tc->batch = malloc(TLS_BATCH))) {
        BIO_free(b);
        errno = ENOMEM;
        return -1;
    }
    BIO_set_data(b, tc);
    BIO_set_init(b, 1);
    tc->sock_bio = SSL_get_wbio(tc->ssl);
    BIO_up_ref(tc->sock_bio);
    SSL_set0_wbio(tc->ssl, b); /* the SSL owns b now */
    size_t done = 0;
    ssize_t rc = 0;
    while (done < n) {
        size_t w;
        int r = SSL_write_ex(tc->ssl, p + done, n - done, &w);
        if (r <= 0) {
            rc = ssl_fail(tc, fd, r, TRANSPORT_WRITE_ON_READABLE);
            break;
        }
        done += w;
    }
    SSL_set0_wbio(tc->ssl, tc->sock_bio); /* frees b, takes our reference back */
    tc->sock_bio = NULL;
    if (!done) {
        free(tc->batch);
        tc->batch = NULL;
        tc->blen = 0;
        return rc;
    }
    return (ssize_t)done;
}

static ssize_t tls_sendfile(transport *t, int fd, int file_fd, off_t *off, size_t len)
{
    tls_conn *tc = (tls_conn *)t;
    tc->pend &= ~(unsigned)TRANSPORT_WRITE_ON_READABLE;
    if (tc->ktls) {
        ossl_ssize_t n = SSL_sendfile(tc->ssl, file_fd, *off, len, 0);
        if (n < 0) return ssl_fail(tc, fd, (int)n, TRANSPORT_WRITE_ON_READABLE);
        *off += n;
        return n;
    }
    /* A batch sent in part before: its plaintext is the first of what is
     * offered again (the caller re-offers), and is taken once it has all
     * gone. */
    size_t done = 0;
    if (tc->batch) {
        if (batch_flush(tc, fd) < 0) return -1;
        *off += (off_t)tc->held;
        done = tc->held;
        tc->held = 0;
    }
    char buf[TLS_BATCH_RECORDS * TLS_RECORD];
    while (done < len) {
        size_t want = len - done < sizeof buf ? len - done : sizeof buf;
        ssize_t n = pread(file_fd, buf, want, *off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return done ? (ssize_t)done : n;
        ssize_t w = batch_fill(tc, fd, buf, (size_t)n);
        if (w < 0) return done ? (ssize_t)done : -1;
        if (batch_flush(tc, fd) < 0) {
            /* The socket is full (or gone): these bytes count as taken once
             * the batch has gone, at the next call. */
            tc->held = (size_t)w;
            return done ? (ssize_t)done : -1;
        }
        *off += w;
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int tls_shutdown(transport *t, int fd)
{
    tls_conn *tc = (tls_conn *)t;
    if (!tc->shut) {
        tc->shut = 1;
        /* One try at close_notify; a full socket or a broken session
         * leaves it unsent, and nothing waits for the client's. */
        if (SSL_is_init_finished(tc->ssl)) SSL_shutdown(tc->ssl);
        ERR_clear_error();
    }
    return shutdown(fd, SHUT_WR);
}

static void tls_close(transport *t, int fd)
{
    tls_conn *tc = (tls_conn *)t;
    if (tc->keeps) atomic_fetch_sub_explicit(&tc->sh->kept, 1, memory_order_relaxed);
    free(tc->batch);
    SSL_free(tc->ssl);
    close(fd);
    tls_certs_release(tc->certs);
    free(tc);
}

static unsigned tls_pending(const transport *t)
{
    const tls_conn *tc = (const tls_conn *)t;
    return tc->pend | (SSL_pending(tc->ssl) > 0 ? TRANSPORT_READABLE : 0);
}

static int tls_info(const transport *t, transport_info *out)
{
    const tls_conn *tc = (const tls_conn *)t;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(tc->ssl, &alpn, &alpn_len);
    *out = (transport_info){
        .protocol = SSL_get_version(tc->ssl),
        .cipher = SSL_get_cipher_name(tc->ssl),
        .server_name = SSL_get_servername(tc->ssl, TLSEXT_NAMETYPE_host_name),
        .alpn = alpn_len ? alpn : NULL,
        .alpn_len = alpn_len,
    };
    return 0;
}

static const transport_ops tls_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = tls_sendfile,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .pending = tls_pending,
    .info = tls_info,
};

/* ---- certificates ---- */

typedef struct tls_name {
    char *name; /* lowercase; a wildcard's is its suffix ".example.com" */
    size_t len;
    int wildcard;
    int ctx;
} tls_name;

struct tls_certs {
    atomic_int refs;
    tls_settings set;
    SSL_CTX **ctx;
    uint8_t *loaded; /* a certificate is in ctx[i] */
    size_t nctx;
    tls_name *names;
    size_t nnames;
    int dflt;
};

static void ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
}

/* The client's server name picks the context, before anything is sent. */
static int servername_cb(SSL *s, int *alert, void *arg)
{
    (void)alert;
    (void)arg;
    tls_conn *tc = SSL_get_app_data(s);
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (!tc || !name) return SSL_TLSEXT_ERR_OK;
    SSL_CTX *ctx = tc->certs->ctx[tls_certs_lookup(tc->certs, name)];
    if (ctx != SSL_get_SSL_CTX(s)) SSL_set_SSL_CTX(s, ctx);
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: http/1.1 when the client offers it; a client that offers only
 * other protocols gets none agreed, and HTTP/1.1 anyway. */
static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    (void)s;
    (void)arg;
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

tls_certs *tls_certs_new(const tls_settings *s, char *err, size_t errlen)
{
    tls_certs *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->set = *s;
    c->dflt = -1;
    return c;
}

int tls_certs_add(tls_certs *c, char *err, size_t errlen)
{
    SSL_CTX **nc = realloc(c->ctx, (c->nctx + 1) * sizeof *nc);
    if (nc) c->ctx = nc;
    uint8_t *nl = nc ? realloc(c->loaded, c->nctx + 1) : NULL;
    if (nl) c->loaded = nl;
    SSL_CTX *ctx = nl ? SSL_CTX_new(TLS_server_method()) : NULL;
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char why[256];
    const char *ciphers = c->set.ciphers ? c->set.ciphers : intermediate;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set1_groups_list(ctx, groups)) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot set up TLS: %s", why);
        goto fail;
    }
    if (!SSL_CTX_set_cipher_list(ctx, ciphers)) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "bad cipher list \"%s\": %s", ciphers, why);
        goto fail;
    }
    if (c->set.ciphersuites && !SSL_CTX_set_ciphersuites(ctx, c->set.ciphersuites)) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "bad TLS 1.3 cipher suites \"%s\": %s", c->set.ciphersuites, why);
        goto fail;
    }
    SSL_CTX_set_dh_auto(ctx, 1); /* the intermediate list's DHE suites */
    /* No renegotiation (a client's can cost the server a handshake for
     * free); an end of stream without close_notify is an end, as HTTP's
     * framing says what was whole; kernel TLS where it can be had. */
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION;
    if (!c->set.no_ktls) opts |= SSL_OP_ENABLE_KTLS;
    SSL_CTX_set_options(ctx, opts);
    /* A record's header and body in one read, and whatever follows them. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Resumption by tickets alone, sealed with the server's shared keys:
     * no session cache to share between loops; one ticket a handshake is
     * what a client uses. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    c->ctx[c->nctx] = ctx;
    c->loaded[c->nctx] = 0;
    return (int)c->nctx++;
fail:
    SSL_CTX_free(ctx);
    return -1;
}

int tls_certs_load(tls_certs *c, int i, const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = c->ctx[i];
    char why[256];
    struct stat st;
    if (stat(key, &st) < 0) {
        snprintf(err, errlen, "cannot read private key %s: %s", key, strerror(errno));
        return -1;
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH)) && !c->set.key_readable) {
        snprintf(err, errlen,
                 "private key %s may be read by %s (mode %03o); chmod 600 it, or allow it with "
                 "key_readable",
                 key, st.st_mode & S_IROTH ? "anyone" : "its group", (unsigned)(st.st_mode & 0777));
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load certificate %s: %s", cert, why);
        return -1;
    }
    X509 *x = SSL_CTX_get0_certificate(ctx); /* the one just loaded */
    if (x && X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
        snprintf(err, errlen, "certificate %s has expired", cert);
        return -1;
    }
    if (x && X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
        snprintf(err, errlen, "certificate %s is not valid yet", cert);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                               ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
            ERR_clear_error();
            snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
            return -1;
        }
        ssl_reason(why, sizeof why);
        snprintf(err, errlen, "cannot load private key %s: %s", key, why);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "private key %s does not match certificate %s", key, cert);
        return -1;
    }
    c->loaded[i] = 1;
    return 0;
}

int tls_certs_ready(const tls_certs *c, int i)
{
    return c->loaded[i];
}

int tls_certs_name(tls_certs *c, const char *name, size_t len, int wildcard, int i)
{
    tls_name *nn = realloc(c->names, (c->nnames + 1) * sizeof *nn);
    if (!nn) return -1;
    c->names = nn;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    c->names[c->nnames++] = (tls_name){copy, len, wildcard, i};
    return 0;
}

void tls_certs_default(tls_certs *c, int i)
{
    c->dflt = i;
}

int tls_certs_lookup(const tls_certs *c, const char *name)
{
    char h[256];
    size_t n = name ? strlen(name) : 0;
    if (n && name[n - 1] == '.') n--;
    if (n == 0 || n >= sizeof h) return c->dflt;
    for (size_t i = 0; i < n; i++)
        h[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
    const tls_name *best = NULL;
    for (size_t i = 0; i < c->nnames; i++) {
        const tls_name *v = &c->names[i];
        if (!v->wildcard) {
            if (v->len == n && memcmp(v->name, h, n) == 0) return v->ctx;
        } else if (n > v->len && memcmp(h + n - v->len, v->name, v->len) == 0) {
            if (!best || v->len > best->len) best = v;
        }
    }
    return best ? best->ctx : c->dflt;
}

tls_certs *tls_certs_hold(tls_certs *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void tls_certs_release(tls_certs *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < c->nctx; i++)
        SSL_CTX_free(c->ctx[i]);
    for (size_t i = 0; i < c->nnames; i++)
        free(c->names[i].name);
    free(c->names);
    free(c->ctx);
    free(c->loaded);
    free(c);
}

transport *tls_open(tls_certs *c, tls_shared *sh, int fd)
{
    tls_conn *tc = calloc(1, sizeof *tc);
    if (!tc) return NULL;
    /* A socket BIO for each direction, so that read_seen is asked about
     * reads alone. The descriptor is the connection's to close. */
    BIO *rb = BIO_new_socket(fd, BIO_NOCLOSE), *wb = BIO_new_socket(fd, BIO_NOCLOSE);
    if (!rb || !wb || !(tc->ssl = SSL_new(c->ctx[c->dflt]))) {
        BIO_free(rb);
        BIO_free(wb);
        ERR_clear_error();
        free(tc);
        return NULL;
    }
    BIO_set_callback_ex(rb, read_seen);
    BIO_set_callback_arg(rb, (char *)tc);
    SSL_set_bio(tc->ssl, rb, wb); /* the SSL owns them */
    SSL_set_accept_state(tc->ssl);
    SSL_set_app_data(tc->ssl, tc);
    if (atomic_fetch_add_explicit(&sh->kept, 1, memory_order_relaxed) < TLS_KEEP_BUFFERS) {
        SSL_clear_mode(tc->ssl, SSL_MODE_RELEASE_BUFFERS);
        tc->keeps = 1;
    } else {
        atomic_fetch_sub_explicit(&sh->kept, 1, memory_order_relaxed);
    }
    tc->t.ops = &tls_ops;
    tc->certs = tls_certs_hold(c);
    tc->sh = sh;
    tc->no_ktls = (uint8_t)c->set.no_ktls;
    return &tc->t;
}
