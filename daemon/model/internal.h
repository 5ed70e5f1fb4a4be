/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared between the model's files, not part of its interface (libuv's
 * uv__ convention: fdw__ names are private to daemon/model/). Nothing
 * outside daemon/model/ includes this header.
 */
#pragma once

#include "model/model.h"

/* ---- table.c: open file descriptions, slots, tables --------------------- */

/* Point *dst at an origin equal to *val (the last one made, when equal;
 * else a new one), dropping what *dst held. FDW_ORIGIN_NONE when out of
 * memory. */
void fdw__origin_set(struct fdw_model *m, uint32_t *dst, const struct fdw_origin *val);
/* *dst with another source (a fork child's view: FDW_SRC_INHERIT). */
void fdw__origin_set_source(struct fdw_model *m, uint32_t *dst, uint8_t source);
/* Share origin src at *dst (no copy), dropping what *dst held. */
void fdw__origin_share(struct fdw_model *m, uint32_t *dst, uint32_t src);
/* Drop *dst's hold; *dst becomes FDW_ORIGIN_NONE. NULL-safe. */
void fdw__origin_clear(struct fdw_model *m, uint32_t *dst);
/* A model uses the origins' arena (fdw_model_init). */
void fdw__origin_model_new(void);
/* Drop the model's hold on the last origin made; the last model frees the
 * arena (fdw_model_free). */
void fdw__origin_forget_last(struct fdw_model *m);

/* A model uses the OFDs' arena (fdw_model_init); the last one gone unmaps
 * it (fdw_model_free: every OFD must have been put). */
void fdw__ofd_model_new(void);
void fdw__ofd_model_gone(void);

/* o's mode is `mode` (its S_IFMT bits are kept). */
static inline void fdw__ofd_set_mode(struct fdw_ofd *o, uint32_t mode)
{
	o->ifmt = (mode & S_IFMT) >> 12;
}

/* m->ofds's fdw_keyset_resolve_fn (ctx: the model). */
void *fdw__ofd_resolve(void *ctx, uint32_t h);
/* Put o in m->ofds under o->kfile (set first): 0, or -errno (o->kfile is
 * then to be cleared: an untracked identity). */
int fdw__ofd_index(struct fdw_model *m, struct fdw_ofd *o);
/* A new OFD, indexed under kfile when kfile is not 0. refs starts at 0. */
struct fdw_ofd *fdw__ofd_new(struct fdw_model *m, uint64_t kfile);
/* Drop one reference; the last frees it. NULL-safe. */
void fdw__ofd_put(struct fdw_model *m, struct fdw_ofd *o);
/* o's name is its inode's, pipe:[ino] or socket:[ino] (o->ino set, a FIFO
 * or a socket): the string it held is dropped. */
void fdw__ofd_name_by_ino(struct fdw_model *m, struct fdw_ofd *o, bool exact);
/* exact: read from /proc (vs synthesized). */
void fdw__ofd_set_target(struct fdw_model *m, struct fdw_ofd *o, const char *target,
			 bool exact);

/* Does o's target read s? (a missing one reads "") */
static inline bool fdw__ofd_target_is(const struct fdw_ofd *o, const char *s)
{
	char buf[FDW_OFD_NAME_BUF];
	const char *t = fdw_ofd_target(o, buf);

	return !strcmp(t ? t : "", s);
}

/* Has o a name yet (interned or made from its inode)? */
static inline bool fdw__ofd_named(const struct fdw_ofd *o)
{
	return o->target || o->target_ino;
}

/* The slots of one or more tables (see struct fdw_table). */
struct fdw__fdset {
	uint32_t refs;		  /* tables on it */
	uint32_t nslots;	  /* fdw_slot_block_end(nblocks - 1), or 0 */
	uint32_t nblocks;
	struct fdw_slot **blocks; /* see struct fdw_table; NULL: none used */
};

/* Make t's set its own and t's view its own (a borrowed child's fds become
 * inherited ones, without history) before t's slots change. 0, or -ENOMEM
 * (t is then marked stale and left as it was). Cheap when already so. */
int fdw__table_own_slow(struct fdw_model *m, struct fdw_table *t);
static inline int fdw__table_own(struct fdw_model *m, struct fdw_table *t)
{
	if (t && (t->borrowed || t->set->refs > 1))
		return fdw__table_own_slow(m, t);
	return 0;
}
/* A fork child's table: shares `src`'s slots until either changes. */
struct fdw_table *fdw__table_fork(struct fdw_model *m, struct fdw_table *src, uint64_t kfiles,
				  uint64_t now);

/* A new table, bound to kfiles unless it is 0. */
struct fdw_table *fdw__table_new(struct fdw_model *m, uint64_t kfiles, uint64_t now);
/* Free a table and its slots (its users must be gone). NULL-safe. */
void fdw__table_free(struct fdw_model *m, struct fdw_table *t);
/* A copy of `src` for fork or unshare: same OFDs, bits and provenance. */
struct fdw_table *fdw__table_copy(struct fdw_model *m, const struct fdw_table *src,
				  uint64_t kfiles, uint64_t now);
/* Process `pid` closes open slot s of t, or makes it close-on-exec: an end
 * of a pipe or socketpair that another process made is noted as given up
 * (struct fdw_given_up). No syscall, no allocation but a table's first.
 * True when pid is the end's maker and another process's call would note
 * it (fdw__cloexec_range keeps such an fd in its memo). */
bool fdw__given_up_note(struct fdw_model *m, struct fdw_table *t, const struct fdw_slot *s,
			uint32_t pid);
/* t's ends given up go (an exec). */
void fdw__given_up_clear(struct fdw_model *m, struct fdw_table *t);
/* Close an open slot, keeping it in its history; `closed` says what closed it. */
void fdw__slot_close(struct fdw_model *m, struct fdw_table *t, struct fdw_slot *s,
		     const struct fdw_origin *closed);
/* Put `ofd` at `fd` (closing what was there). NULL when a bound refused it:
 * the table is then stale. */
struct fdw_slot *fdw__slot_install(struct fdw_model *m, struct fdw_table *t, int fd,
				   struct fdw_ofd *ofd, bool cloexec,
				   const struct fdw_origin *origin);

/* ---- apply.c: targets read later ---------------------------------------- */

/* o is being freed: its pending target (if any) needs no read. */
void fdw__pending_drop(struct fdw_model *m, struct fdw_ofd *o);

/* ---- model.c: processes, tasks, observers ------------------------------- */

void fdw__notify_slow(struct fdw_model *m, struct fdw_proc *p, const struct fdw_event *ev,
		      enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s);

/* Tell every observer that wants `kind`, in registration order. NULL p:
 * nobody is told. Inline: most events on a busy host are of kinds nobody
 * wants, and cost one test here. */
static inline void fdw__notify(struct fdw_model *m, struct fdw_proc *p, const struct fdw_event *ev,
			       enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	if (p && (m->fd_events & FDW_FDEV_BIT(kind)))
		fdw__notify_slow(m, p, ev, kind, fd, s);
}
/* NULL when max_procs refused it (counted) or out of memory. */
struct fdw_proc *fdw__proc_new(struct fdw_model *m, uint32_t pid, uint32_t ppid,
			       const char *comm, uint64_t now);
/* Tell the observers, drop its remaining tasks, free it. */
void fdw__proc_del(struct fdw_model *m, struct fdw_proc *p);
/* A task of p on table t (a task already under tid is dropped first). */
struct fdw_task *fdw__task_new(struct fdw_model *m, uint32_t tid, struct fdw_proc *p,
			       struct fdw_table *t);
void fdw__task_del(struct fdw_model *m, struct fdw_task *task);
/* Move a task to table t (NULL: none); a table left without users is freed. */
void fdw__task_set_table(struct fdw_model *m, struct fdw_task *task, struct fdw_table *t);

/* ---- resync.c: reading the kernel's truth ------------------------------- */

/* Make slot `fd` of `t` what the kernel says (via task `tid`) right now. */
int fdw__resolve_fd(struct fdw_model *m, struct fdw_table *t, uint32_t tid, int fd,
		    const struct fdw_origin *origin);
/* Re-read table t through task tid; fds found new get new_origin (NULL: a
 * procfs origin at `now`). 0 or -errno (the table is then stale). */
int fdw__table_resync_as(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now,
			 const struct fdw_origin *new_origin);

static inline int fdw__table_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid,
				    uint64_t now)
{
	return fdw__table_resync_as(m, t, tid, now, NULL);
}

/* While a read of t runs off the loop (t->touched): a record changed fd
 * (FDW_TOUCH_FILE: opened or closed it; FDW_TOUCH_FLAGS: only its
 * close-on-exec bit), or changed fds it does not name (FDW_TOUCH_ALL). */
enum { FDW_TOUCH_FILE = 1, FDW_TOUCH_FLAGS = 2, FDW_TOUCH_ALL = 3 };
void fdw__touch_slow(struct fdw_table *t, int fd, int how);
/* A dup of oldfd installed (noted by the install): a read meanwhile is
 * applied, but the table stays stale unless oldfd was a record's too. */
void fdw__touch_dup(struct fdw_table *t, int oldfd);
/* t is being freed: its read's notes stay with the reader. */
void fdw__table_read_gone(struct fdw_table *t);

/* close_range(CLOSE_RANGE_CLOEXEC)'s memo (struct fdw_table's cx_hint):
 * fd may now be open without close-on-exec; or forget it all. */
void fdw__cx_mark_slow(struct fdw_table *t, int fd);
void fdw__cx_forget(struct fdw_table *t);
static inline void fdw__cx_mark(struct fdw_table *t, int fd)
{
	if (t && t->cx_hint && fd >= 0)
		fdw__cx_mark_slow(t, fd);
}
/* Make fds first..last of t close-on-exec, as close_range() with
 * CLOSE_RANGE_CLOEXEC by process pid does. */
void fdw__cloexec_range(struct fdw_model *m, struct fdw_table *t, uint32_t first, uint32_t last,
			uint32_t pid);

static inline void fdw__touch(struct fdw_table *t, int fd, int how)
{
	if (t && t->touched)
		fdw__touch_slow(t, fd, how);
}

/* t is known wrong (lost records, a refused install...): a read off the
 * loop still running cannot make it right. */
static inline void fdw__table_mark_stale(struct fdw_table *t)
{
	t->stale = true;
	fdw__touch(t, -1, FDW_TOUCH_ALL);
}

/* A record left t's numbers unknown: re-read now if cheap, else mark it
 * stale and its process wanted (fdw_model_take_wanted). */
void fdw__table_want_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid, uint64_t now,
			    const struct fdw_origin *new_origin);

/* targets.c: name a new OFD from its record now, or queue it for a /proc
 * read at the end of the batch. */
void fdw__resolve_target(struct fdw_model *m, const struct fdw_table *t, const char *comm,
			 struct fdw_ofd *o, const struct fdw_event *ev, int fd);
