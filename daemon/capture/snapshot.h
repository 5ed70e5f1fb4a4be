/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The start-up snapshot: every open fd of every process, read in one pass
 * of a BPF task_file iterator (bpf/snapshot.bpf.c) instead of a readlink,
 * a stat and an fdinfo read per fd and kcmp calls to group shared open
 * files. It answers the model's start-up questions (a task's table, do two
 * tasks share a table, do two fds share an open file) exactly, from the
 * same kernel addresses the probes report; what it does not hold (tasks
 * born after it was taken) the caller asks /proc.
 *
 * Taken once, before the scan, and freed after it; read-only meanwhile.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys/procfs.h"

struct fdw_snapshot;
/* The loaded iterator programs (bpf/snapshot.bpf.c), kept for the daemon's
 * life: a snapshot of one task costs an iterator link and a read, no load. */
struct fdw_snapshotter;

/* Load the programs. `ring_fd`: the probes' ring buffer map (its producer
 * position stamps each table read, fdw_snapshot_position()), or -1. 0 or
 * -errno. */
int fdw_snapshotter_new(struct fdw_snapshotter **out, int ring_fd);
/* NULL-safe. */
void fdw_snapshotter_free(struct fdw_snapshotter *sn);

struct fdw_snapshot_stats {
	uint64_t tasks;	    /* tasks with a descriptor table */
	uint64_t fds;
	uint64_t bytes;	    /* read from the iterator */
	uint64_t no_target; /* fds whose name the kernel could not give: /proc */
	uint64_t ns;	    /* load + read + index, CLOCK_MONOTONIC */
};

/* Run the iterators and index what they wrote: every task (tid 0), or only
 * task `tid` (-ESRCH when it is gone or has no table). 0 or -errno (logged
 * at debug: the caller falls back to /proc). A one-task snapshot is one
 * bpf() call and a read, cheap enough to re-read a large table instead of
 * a readlink, a stat and an fdinfo read per fd. */
int fdw_snapshot_take(struct fdw_snapshotter *sn, uint32_t tid, struct fdw_snapshot **out);
/* Index records already read (tests): 0, -EPROTO for a malformed stream
 * (a bad size, a task's fds split in two runs), -ENOMEM. */
int fdw_snapshot_parse(struct fdw_snapshot **out, const void *buf, size_t len);
/* NULL-safe. */
void fdw_snapshot_free(struct fdw_snapshot *s);
void fdw_snapshot_stats(const struct fdw_snapshot *s, struct fdw_snapshot_stats *out);

/* Every open fd of task `tid` as the snapshot saw it, in fd order; targets
 * the kernel could not name are read through `pf`. -ENOENT when the task is
 * not in the snapshot, else 0 or the first -errno of a /proc read. */
int fdw_snapshot_read_table(const struct fdw_snapshot *s, struct fdw_procfs *pf, uint32_t tid,
			    void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata);
/* 1 when the tasks share a table, 0 when not; -ENOENT when either is not
 * in the snapshot. */
int fdw_snapshot_same_table(const struct fdw_snapshot *s, uint32_t tid1, uint32_t tid2);
/* kcmp(KCMP_FILE)'s answer from the struct file addresses: 0 same open
 * file, 1 fd1's first, 2 after; -ENOENT when either fd is not in it. */
int fdw_snapshot_cmp_file(const struct fdw_snapshot *s, uint32_t tid1, int fd1, uint32_t tid2,
			  int fd2);
/* Did process `pid` exist (a task of it with a descriptor table) when the
 * snapshot was taken? One that did not was born since: its fork record,
 * which comes after the snapshot's ring position, adds it to the model. */
bool fdw_snapshot_has_process(const struct fdw_snapshot *s, uint32_t pid);
/* Call cb once per process holding an fd whose target is `target`
 * (e.g. "anon_inode:[fanotify]"): the fd's tgid, number and file
 * operations address. */
void fdw_snapshot_each_target(const struct fdw_snapshot *s, const char *target,
			      void (*cb)(void *data, uint32_t pid, int fd, uint64_t f_op),
			      void *data);
/* The capture ring's position (fdw_capture_position()'s scale) taken just
 * before the iterator read task `tid`'s fds: records below it are already
 * in what fdw_snapshot_read_table() gives, records at or above it are not.
 * 0 when unknown (no fds in it, or taken without the ring). */
uint64_t fdw_snapshot_position(const struct fdw_snapshot *s, uint32_t tid);
/* The capture ring's position once the iterator was done with task `tid`'s
 * fds: records at or above it came after what fdw_snapshot_read_table()
 * gives. Between fdw_snapshot_position() and this, the iterator was walking
 * the table fd by fd: a change of that time is in what it gives when it
 * was to an fd above the walk's cursor, not when below (a fork of that
 * time copied a table the snapshot does not show). 0 when unknown. */
uint64_t fdw_snapshot_read_end(const struct fdw_snapshot *s, uint32_t tid);
/* The struct file address of fd `fd` of `tid`, 0 when not in it. */
uint64_t fdw_snapshot_kfile(const struct fdw_snapshot *s, uint32_t tid, int fd);
