/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tls.h - TLS over OpenSSL 3, the second transport (transport.h): a
 * connection's session, driven by the same reads and writes as plain TCP;
 * the certificates a site serves, chosen by the name the client asks for
 * (SNI); and the session ticket keys that every loop of a server shares.
 *
 * Three lifetimes, three objects:
 * - tls_shared, one per server: the ticket keys (rotated on a schedule, the
 *   previous one kept for decryption, so a reload or a rotation does not
 *   cost every client a full handshake) and the once-only note on which
 *   path file bodies take (kernel TLS or SSL_write).
 * - tls_certs, one per site: an SSL_CTX per set of certificates (a vhost's:
 *   one ECDSA and one RSA certificate may share it, and OpenSSL picks by what
 *   the client supports), the names that select each, and the default.
 *   Built by a reload with the site and refcounted: a connection holds the
 *   one it was accepted under until it closes, and each SSL holds its
 *   SSL_CTX, so connections in flight keep their certificates.
 * - the connection's transport, made by tls_open for each accepted socket.
 */
#ifndef HTD_TLS_H
#define HTD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

typedef struct tls_shared tls_shared;
typedef struct tls_certs tls_certs;

/* Settings that every context of a site gets. */
typedef struct tls_settings {
    const char *ciphers;      /* TLS 1.2, OpenSSL syntax; NULL: Mozilla's intermediate list */
    const char *ciphersuites; /* TLS 1.3; NULL: OpenSSL's default */
    int no_ktls;              /* never kernel TLS: file bodies by pread and SSL_write */
    int key_readable;         /* take private key files that group or others may read */
} tls_settings;

/* The server's: ticket keys replaced every rotate_ms (0: an hour). NULL
 * with errno when out of memory or without randomness. */
tls_shared *tls_shared_new(uint64_t rotate_ms);
void tls_shared_free(tls_shared *sh);

/* An empty set of contexts with settings s (copied; the strings must last
 * as long as it is being built). NULL with the reason in err. */
tls_certs *tls_certs_new(const tls_settings *s, char *err, size_t errlen);
/* A new context in c: its index, or -1 with the reason. */
int tls_certs_add(tls_certs *c, char *err, size_t errlen);
/* Loads a certificate chain (PEM, the leaf first) and its private key into
 * context i, and checks them: the key file's mode (not readable by group or
 * others unless key_readable), the key against the certificate, and the
 * certificate's dates. 0, or -1 with the reason (naming the file). */
int tls_certs_load(tls_certs *c, int i, const char *cert, const char *key, char *err,
                   size_t errlen);
/* Whether context i has a certificate. */
int tls_certs_ready(const tls_certs *c, int i);
/* Context i serves a client that asks for name (lowercase, without a
 * trailing dot; with wildcard, name is a suffix ".example.com"). 0 or -1. */
int tls_certs_name(tls_certs *c, const char *name, size_t len, int wildcard, int i);
/* Context i serves clients that name no host, or one no context has. */
void tls_certs_default(tls_certs *c, int i);
/* The context for a client's server name (the default for NULL or an
 * unknown name): its index. */
int tls_certs_lookup(const tls_certs *c, const char *name);
tls_certs *tls_certs_hold(tls_certs *c);
/* Drops a reference; the last frees the set (each SSL_CTX lives on while
 * a connection's SSL holds it). NULL is nothing. */
void tls_certs_release(tls_certs *c);

/* A TLS transport for the accepted socket fd, under c's default context,
 * with sh's ticket keys; the handshake happens within its first reads. NULL
 * when out of memory (fd is left to the caller). */
transport *tls_open(tls_certs *c, tls_shared *sh, int fd);

/* The ticket key callback's two halves, for tests: the current key's name
 * (16 bytes) after rotating what is due at now_ms, and whether a key of
 * that name decrypts (1: the current key, 2: the previous one, which asks
 * for a new ticket; 0: unknown). */
void tls_ticket_current(tls_shared *sh, uint64_t now_ms, unsigned char name[16]);
int tls_ticket_known(tls_shared *sh, uint64_t now_ms, const unsigned char name[16]);

#endif
