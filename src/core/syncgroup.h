/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * syncgroup.h - group commit for a filesystem's metadata: threads that
 * each need what they changed (a rename, a new directory) on the disk
 * before they answer share syncfs calls. A thread that asks while a sync
 * is running waits for the next one, which covers every change made
 * before it started; so N threads asking at once cost about two syncs, not
 * N fsyncs. Used from pool threads (jobs.h), never from a loop.
 */
#ifndef HTD_SYNCGROUP_H
#define HTD_SYNCGROUP_H

/* Makes every change made before the call to the filesystem that fd is on
 * durable (syncfs), in a sync shared with the threads that ask meanwhile.
 * 0, or -errno of the sync that covered it. */
int syncgroup_sync(int fd);

#endif
