/*
 * queue_store.c - what every job store shares: job ids, state names, and
 * freeing a job read back (see queue_store.h).
 */
#include "queue_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const state_names[QJ_STATES] = {
    [QJ_QUEUED] = "queued", [QJ_RUNNING] = "running",     [QJ_DONE] = "done",
    [QJ_FAILED] = "failed", [QJ_CANCELLED] = "cancelled",
};

const char *qjob_state_name(int state)
{
    return state >= 0 && state < QJ_STATES ? state_names[state] : "unknown";
}

int qjob_state_parse(const char *name)
{
    for (int i = 0; i < QJ_STATES; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

int qjob_new_id(char id[QJOB_ID_LEN + 1])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    /* 128 bits as 22 characters of 6 bits: 21 whole ones and 2 bits. */
    unsigned bits = 0, nbits = 0;
    size_t k = 0;
    for (size_t i = 0; i < sizeof r; i++) {
        bits = (bits << 8) | r[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            id[k++] = b64url[(bits >> nbits) & 63];
        }
    }
    id[k++] = b64url[(bits << (6 - nbits)) & 63];
    id[k] = 0;
    return 0;
}

void qjob_clear(qjob *j)
{
    free(j->queue);
    free(j->method);
    free(j->target);
    free(j->client);
    free(j->headers);
    free(j->body);
    free(j->idem_key);
    free(j->result_type);
    free(j->result);
    free(j->err);
    memset(j, 0, sizeof *j);
}
