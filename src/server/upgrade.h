/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * upgrade.h - starting a new program that takes over the listening sockets,
 * and, in that program, telling the old one that it serves.
 */
#ifndef HTD_UPGRADE_H
#define HTD_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

#define UPGRADE_MAX_FDS 1000

/* Runs path with argv and this process's environment, and with fds[0..n)
 * as its descriptors 3..3+n as socket activation passes them (LISTEN_FDS,
 * LISTEN_PID, and their names, colon-separated, as LISTEN_FDNAMES), and the writing end of a pipe
 * as 3+n (HTD_UPGRADE_READY). The child's pid, with the pipe's reading end in *ready
 * (close-on-exec): it gives one byte once the new server serves, or reads as closed if the program
 * ends first. -1 with a reason. */
pid_t upgrade_spawn(const char *path, char *const argv[], const int *fds, size_t n,
                    const char *names, int *ready, char *err, size_t errlen);
/* In the new program: the descriptor to say it serves on, or -1 when it was
 * not started by upgrade_spawn (the variable is removed). */
int upgrade_inherited(void);
/* Writes the byte that stops the old server, and closes fd (-1: nothing). */
void upgrade_say_ready(int fd);

#endif
