/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The descriptor-table model. Tables belong to the kernel's file table
 * (struct files_struct), not to a pid: threads share one, fork copies it,
 * CLONE_FILES shares it, unshare/CLOSE_RANGE_UNSHARE/exec split it. Tasks
 * (threads) point at a table; processes group tasks by tgid.
 *
 * The model is pure logic: it never touches /proc itself. When it needs the
 * kernel's truth (an fd it never saw created, a table it must re-read) it
 * asks through struct fdw_model_ops, which the daemon wires to sys/procfs.c
 * and tests wire to fakes. What it changes it tells the observers
 * registered with fdw_model_add_observer().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "base/hashmap.h"
#include "base/json.h"
#include "base/keyset.h"
#include "base/strtab.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"
#include "capture/event.h"

enum fdw_origin_source {
	FDW_SRC_EVENT = 0,  /* created by a syscall the probes saw */
	FDW_SRC_PROCFS = 1, /* found in /proc (before the daemon, or re-read) */
	FDW_SRC_INHERIT = 2,/* copied from the parent at fork */
	FDW_SRC_HIDDEN = 3, /* never in the model: how the server shows an
			     * origin a client may not see (server/render.c) */
};

/* "event", "procfs", "inherit", "hidden" */
const char *fdw_origin_source_name(uint8_t source);

/* The caller chose the fd's number: dup2, dup3, or F_DUPFD that got the
 * number it asked for (shell redirections, socket activation's fd 3). */
#define FDW_ORIGIN_CHOSEN 0x01
/* Given by the /proc read a syscall's truncated record caused (SCM_RIGHTS
 * past FDW_MAX_FDS): the fd may be a later syscall's, whose record, older
 * than the read, then gives it its own (adopt_provenance). */
#define FDW_ORIGIN_READ 0x02

/* Where an fd came from. Slots, OFDs and slot histories point at shared,
 * refcounted copies (an fd and the OFD its open created have one; a whole
 * table read from /proc has one), never NULL. */
struct fdw_origin {
	uint16_t nr;	  /* FDW_SYS_*, FDW_SYS_UNKNOWN when not known */
	uint8_t source;	  /* enum fdw_origin_source */
	uint8_t flags;	  /* FDW_ORIGIN_* */
	int32_t from_fd;  /* the fd it duplicates, -1 if none */
	uint32_t tid;	  /* creating thread, 0 when unknown */
	uint32_t pid;	  /* creating process */
	uint64_t ts;	  /* CLOCK_MONOTONIC ns, 0 when unknown */
	uint64_t seq;	  /* event sequence number, 0 when unknown */
	char comm[16];	  /* creating thread's command */
};

/* What an origin pointer shows when nothing is known (all zero but
 * from_fd -1): a slot never opened, or no memory for the real one. */
extern const struct fdw_origin fdw_origin_none;

/*
 * Slots, OFDs and slot histories hold an origin by a 32-bit handle, not a
 * pointer (8 bytes fewer per slot): 0 none at all (a slot never
 * used), FDW_ORIGIN_NONE fdw_origin_none, else a record in the origins'
 * arena, process-wide (one model in the daemon; tests make them one after
 * another), in blocks of FDW_ORIGIN_BLOCK. Read one with fdw_origin_at().
 */
struct fdw__origin {
	struct fdw_origin o;
	uint32_t refs;
	uint32_t handle; /* its own when made; while twinned (model/table.c),
			  * its twin's; while free, the next free one's */
};

#define FDW_ORIGIN_NONE 1u
#define FDW_ORIGIN_BLOCK_LOG 8u
#define FDW_ORIGIN_BLOCK (1u << FDW_ORIGIN_BLOCK_LOG)
extern struct fdw__origin **fdw__origin_blocks;

/* The origin behind handle h: NULL for 0, &fdw_origin_none for
 * FDW_ORIGIN_NONE. */
static inline const struct fdw_origin *fdw_origin_at(uint32_t h)
{
	if (h <= FDW_ORIGIN_NONE)
		return h ? &fdw_origin_none : NULL;
	return &fdw__origin_blocks[h >> FDW_ORIGIN_BLOCK_LOG][h & (FDW_ORIGIN_BLOCK - 1)].o;
}

/*
 * An open file description: shared by every fd (in any table) that refers
 * to it. Refcounted by those fds. 40 bytes: no id of its own (fdw_ofd_id()
 * makes it from its handle and generation) nor block index (its block is
 * found from its address).
 */
struct fdw_ofd {
	uint64_t kfile; /* kernel struct file address, 0 when not known (while
			 * free: the arena's free-list link) */
	uint64_t ino;
	/* readlink(/proc/PID/fd/N), interned (m->strings); until read, what
	 * the record tells (the open family's path argument, ...). Read it
	 * through fdw_ofd_target(). NULL when target_ino, or when there was no
	 * memory for it. */
	const char *target;
	uint32_t dev;
	uint32_t origin; /* the fd that created it: fdw_ofd_origin() */
	uint32_t refs;
	uint32_t gen : 25;     /* how many times its handle was given out: with
				* the handle, its id (kept while free) */
	bool pending : 1;      /* its target is to be read at the next flush
				* (an entry of the model's pending list names
				* its handle and generation) */
	bool target_exact : 1; /* target read from /proc, or known from the
				* record (pipes, sockets), vs synthesized */
	bool target_ino : 1;   /* the target is the kernel's name made from the
				* inode, pipe:[ino] or socket:[ino]: no string
				* is kept (target NULL), fdw_ofd_target() makes it */
	uint32_t ifmt : 4;     /* the S_IFMT bits of its mode, shifted down
				* (fdw_ofd_mode()); 0 for anon inodes */
};

_Static_assert(sizeof(struct fdw_ofd) == 40, "an OFD is 40 bytes");

/* The largest generation: a handle given out this many times is not given
 * out again (an id is never made twice). */
#define FDW_OFD_GEN_MAX ((1u << 25) - 1)

/* o's file type: its mode's S_IFMT bits (the rest are not kept). */
static inline uint32_t fdw_ofd_mode(const struct fdw_ofd *o)
{
	return (uint32_t)o->ifmt << 12;
}

_Static_assert(S_IFMT == 0xf000, "fdw_ofd.ifmt holds S_IFMT >> 12");

/*
 * OFDs live in a process-wide arena (one model in the daemon; tests make
 * them one after another) of blocks of FDW_OFD_BLOCK_BYTES, each aligned to
 * its size: a header, then FDW_OFD_PER_BLOCK OFDs. Slots hold their OFD by
 * a 32-bit handle (0: none), not a pointer: read it with fdw_ofd_at() or
 * fdw_slot_ofd(). Handles stay below 2^24 (the kfile map's).
 */
#define FDW_OFD_BLOCK_BYTES 65536u

struct fdw__ofd_block {
	uint32_t index; /* in fdw__ofd_blocks */
	uint16_t live;	/* OFDs in use */
	uint16_t fresh; /* OFDs never used: ofds[fresh..] */
	uint16_t free;	/* the first free OFD's index + 1, 0: none (the next
			 * one's in its first bytes) */
	bool partial;	/* on the arena's stack of blocks with room */
	uint32_t gen_max; /* the largest generation of its OFDs */
	struct fdw_ofd ofds[];
};

#define FDW_OFD_PER_BLOCK \
	((uint32_t)((FDW_OFD_BLOCK_BYTES - sizeof(struct fdw__ofd_block)) / sizeof(struct fdw_ofd)))
#define FDW_OFD_MAX_BLOCKS (((1u << 24) - 1) / FDW_OFD_PER_BLOCK)

/* Each block's first OFD (NULL: the block is not mapped). */
extern struct fdw_ofd **fdw__ofd_blocks;

/* The OFD behind handle h, NULL for 0. */
static inline struct fdw_ofd *fdw_ofd_at(uint32_t h)
{
	return h ? &fdw__ofd_blocks[h / FDW_OFD_PER_BLOCK][h % FDW_OFD_PER_BLOCK] : NULL;
}

/* The block holding o (blocks are aligned to their size), and o's handle. */
static inline struct fdw__ofd_block *fdw__ofd_block_of(const struct fdw_ofd *o)
{
	return (struct fdw__ofd_block *)((uintptr_t)o & ~(uintptr_t)(FDW_OFD_BLOCK_BYTES - 1));
}

static inline uint32_t fdw_ofd_handle(const struct fdw_ofd *o)
{
	const struct fdw__ofd_block *blk = fdw__ofd_block_of(o);

	return blk->index * FDW_OFD_PER_BLOCK + (uint32_t)(o - blk->ofds);
}

/*
 * A small id for the API, the same for o's whole life and never another
 * OFD's while the model lives (two OFDs at one time have two handles; one
 * handle's OFDs have increasing generations, kept while the handle is free
 * and across its block's unmapping, and a handle whose generation reached
 * FDW_OFD_GEN_MAX is retired): generation << 24 | handle, below 2^49.
 */
static inline uint64_t fdw_ofd_id(const struct fdw_ofd *o)
{
	return (uint64_t)o->gen << 24 | fdw_ofd_handle(o);
}

/* Bytes the OFDs' arena holds in memory (the pages of its blocks touched,
 * and its directory): mapped, not malloc'd, so mallinfo does not see it. */
size_t fdw_model_ofd_bytes(void);

/* The origins' arena: records in use, and the bytes of its blocks (malloc'd:
 * part of mallinfo's count). */
void fdw_model_origin_usage(uint64_t *live, uint64_t *bytes);

/* What an fd history entry's name is (fdw_fd_history_target). */
enum fdw_hist_name {
	FDW_HIST_STRING, /* target: interned (m->strings), or NULL */
	FDW_HIST_PIPE,	 /* ino: "pipe:[ino]" */
	FDW_HIST_SOCKET, /* ino: "socket:[ino]" */
};

/* An earlier generation of an fd slot. */
struct fdw_fd_history {
	uint32_t generation;
	uint8_t name; /* enum fdw_hist_name */
	uint32_t origin; /* handles: fdw_origin_at() */
	uint32_t closed; /* what closed it */
	union {
		const char *target;
		uint64_t ino; /* a pipe's or socket's, named when read: a
			       * string each would be an allocation per close */
	};
};

#define FDW_SLOT_HISTORY 4

/* One fd number in one table. Taken on first use, kept while closed; it
 * lives in its table's slot blocks (struct fdw_table) and never moves. */
struct fdw_slot {
	uint32_t ofd_h;		  /* its OFD's handle (fdw_slot_ofd()); 0 when closed */
	uint32_t origin;	  /* a handle (fdw_slot_origin()); 0 only in a slot
				   * never used */
	uint32_t generation : 25; /* how many times the number was opened here
				   * (modulo 2^25) */
	/* the number's race with another task's close, in a table tasks share
	 * (docs/architecture.md: threads racing for a number); both outlive
	 * the fd, as the number's state */
	bool race_pending : 1;	  /* an install over it: a close is still to come */
	bool early_close : 1;	  /* a late close came (and was skipped) before the
				   * install it raced, which is still to come */
	bool cloexec : 1;
	bool suspect : 1;	  /* installed over an fd the model still had open:
				   * another thread's close may be in flight */
	bool inheritable : 1;	  /* close-on-exec cleared on purpose (F_SETFD,
				   * FIONCLEX) since the fd was installed */
	bool exec_passed : 1;	  /* went through an exec already, in this table or
				   * the one it was copied from: the program holding
				   * it now was given it, it did not create it */
	bool has_hist : 1;	  /* has a history ring (the model's hists, under the
				   * slot's address: fdw_slot_history) */
};

_Static_assert(sizeof(struct fdw_slot) == 12, "a slot is 12 bytes");

/* The provenance of slot s (NULL for a slot never used) and of OFD o. */
static inline const struct fdw_origin *fdw_slot_origin(const struct fdw_slot *s)
{
	return fdw_origin_at(s->origin);
}

/* Slot s's OFD: NULL for a NULL or closed slot. */
static inline struct fdw_ofd *fdw_slot_ofd(const struct fdw_slot *s)
{
	return s ? fdw_ofd_at(s->ofd_h) : NULL;
}

static inline const struct fdw_origin *fdw_ofd_origin(const struct fdw_ofd *o)
{
	return fdw_origin_at(o->origin);
}

struct fdw__fdset; /* private to daemon/model/ */

/*
 * A table's slots live in a set that fork shares instead of copying (a
 * process holding thousands of fds that forks children which exit at once
 * would otherwise copy and free its whole table per fork). The first change
 * to a shared set, in either table, gives the changing table its own copy;
 * a fork child's view of the shared set (every fd inherited, no slot
 * history of its own) is made then, or when the child's table is first
 * looked at (fdw_model_proc_table). Read slots through fdw_table_slot()
 * (fd numbers below t->nslots); only the model changes them.
 *
 * A set keeps its slots in blocks, not one array (a slot does not move
 * when the table grows, and costs no pointer nor allocation of its own):
 * fds 0-3 in block 0, then blocks of 4, 8, 16, 32 slots for fds 4-7, 8-15,
 * 16-31, 32-63, then blocks of 32. A block is allocated when a slot in it
 * is first used.
 */
/*
 * Ends of pipes and socketpairs a table's processes gave up, other than
 * the process that made them: an fd of a pipe(2), pipe2(2) or
 * socketpair(2) call, inherited from its maker, that was closed (close,
 * close_range) or made close-on-exec on purpose (F_SETFD, FIOCLEX,
 * CLOSE_RANGE_CLOEXEC) in the table, by a process other than the one
 * that made it (the exec-leak rule's hand-over, daemon/detect/exec_leak.c).
 * A fork copies the ends given up in the table itself (`own`) into the
 * child's, as its parent's give-ups: the middle process of a double fork
 * (socketpair; fork; close(sv[0]); fork; exec) has often exited by its
 * child's exec, and a fork copies no slot histories. One fork down, no
 * further: a child that does not exec but stays (the server of tmux's
 * socketpair; fork; close(pair[0]); daemon()) and forks children that
 * exec with the remaining end leaks it into them, and its note is not
 * theirs. An unshare keeps the table's note as it is (the same process).
 * An exec drops it (every fd the new program keeps went through an exec,
 * exec_passed). Allocated at a table's first such end; at most
 * FDW_GIVEN_UP ends, the oldest dropped for a newer one
 * (given_up_evicted).
 */
#define FDW_GIVEN_UP 8
#define FDW_END_SOCK (1ull << 63) /* a key's bit for a socket (else a pipe) */

struct fdw_given_up {
	uint32_t n, next; /* ends kept, and the one to replace when full */
	uint32_t own;	  /* bit i: v[i] given up in this table (else by the
			   * parent before the fork that made it) */
	struct {
		uint64_t key; /* the end's inode, | FDW_END_SOCK for a socket */
		uint64_t seq; /* the event that made it (its origin's seq) */
	} v[FDW_GIVEN_UP];
};

struct fdw_table {
	uint64_t id;	 /* small stable id for the API */
	uint64_t kfiles; /* files_struct address, 0 while unbound (seen only in /proc) */
	uint32_t users;	 /* tasks using it */
	uint32_t nslots; /* fd numbers below it may have a slot: the set's, mirrored */
	uint32_t nblocks; /* the set's, mirrored */
	uint32_t nopen;
	bool stale;	 /* known to be wrong until re-read */
	bool borrowed;	 /* a fork child still on its parent's set */
	uint16_t read_err; /* errno of the last re-read that failed (0: it did not) */
	uint64_t resyncs;
	uint64_t read_pos; /* ring position when last re-read from /proc: records
			    * below it are already reflected, not re-applied */
	uint64_t read_end; /* ring position once that read was done (>= read_pos,
			    * 0: never read): it took the table fd by fd, so
			    * a change between the two is in it or not by
			    * where the read was; a fork then copied a table
			    * the read may not show */
	uint64_t last_pos; /* ring position of the latest record applied to it */
	uint64_t edge_pos; /* ring position of its first record after the last
			    * read ended: that syscall may have changed the
			    * table before the read looked (a record is made
			    * at the syscall's exit, after the change) */
	uint64_t reread_at; /* CLOCK_MONOTONIC ns its last re-read ended (0: none) */
	uint64_t reread_ns; /* ... and what it cost (read and apply) */
	bool reread_asked;  /* a record asked for a re-read not done at once
			     * (fdw__table_want_resync): spaced until one works */
	struct fdw__touched *touched; /* while a read runs off the loop: the fds
				       * records changed since it began
				       * (fdw_model_read_begin) */
	struct fdw_slot **blocks; /* the set's slot blocks (NULL: none used yet), mirrored */
	struct fdw__fdset *set;
	struct fdw_given_up *given_up; /* NULL: none */
	/* close_range(CLOSE_RANGE_CLOEXEC)'s memo, made at the table's first
	 * such call (NULL: none): bit fd set when fd may be open without
	 * close-on-exec, or still to be noted as given up (fdw__given_up_note),
	 * since. The next call visits those fds alone, as the kernel sets a
	 * bitmap: a loop of them against a 19,000-fd table walked every slot
	 * per record. Set by every install and close-on-exec clear; dropped
	 * (a whole walk next time) by a re-read, a given-up end's eviction or
	 * clearing. */
	uint64_t *cx_hint;
	uint32_t cx_words;
	uint64_t created_ts;
};

struct fdw_proc;
struct fdw__touched;   /* private to model/resync.c */
struct fdw__ofd_index; /* private to model/resync.c */
struct fdw__hist_ref;  /* private to model/table.c */

/* How many observers a model takes (fdw_model_add_observer). */
#define FDW_MODEL_MAX_OBSERVERS 4

struct fdw_task {
	uint32_t tid;
	struct fdw_proc *proc;
	struct fdw_table *table;
};

struct fdw_proc {
	uint32_t pid;
	uint32_t ppid;
	uint32_t ntasks;
	uint64_t start_ts; /* CLOCK_MONOTONIC ns of fork/exec/scan */
	uint64_t exec_count;
	/* /proc/PID/stat's starttime (clock ticks after boot), from its fork or
	 * exec record or the stat line of the scan or re-read that found it:
	 * with the pid, the process's identity; 0: not known */
	uint64_t start_ticks;
	/* its program's stack start (stat's startstack, or the fork or exec
	 * record's): an exec makes a new one, a rename does not; 0: not known */
	uint64_t start_stack;
	char comm[16];
	struct fdw_task *leader; /* NULL after the leader exited */
	uint64_t ops;		 /* events applied to this process */
	uint32_t lost;		 /* records the kernel lost for it (pending resync) */
	bool exec_found;	 /* its program was found by a /proc re-read (a stack
				  * start that changed), not by its exec record: that
				  * record, if only late, is not another exec */
	uint64_t fork_pos;	 /* ring position of its fork record; 0: read from /proc */
	/* Per-observer state, indexed by the observer's index
	 * (fdw_model_add_observer); owned by that observer, which frees it in
	 * its on_proc_exit. */
	void *obs_state[FDW_MODEL_MAX_OBSERVERS];
};

/* What the model asks of the outside world (struct fdw_fd_info is
 * sys/procfs.h's). All optional. */
struct fdw_model_ops {
	/* Fill *out with the kernel's fd `fd` of task `tid` now: 0, or -errno
	 * (-ENOENT when not open). */
	int (*read_fd)(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out);
	/* Only target, ino, dev, mode of fd `fd` of task `tid` (cheaper: no
	 * fdinfo). Optional; read_fd is used when NULL. */
	int (*read_target)(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out);
	/* Do two tasks share one file table? 1 yes, 0 no, -errno (kcmp KCMP_FILES). */
	int (*same_table)(void *userdata, uint32_t tid1, uint32_t tid2);
	/* Call cb for every open fd of task `tid`: 0, or -errno. */
	int (*read_table)(void *userdata, uint32_t tid,
			  void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata);
	/* The same, where the names (target, ino, dev, mode) are all that is
	 * needed, in one call rather than one per fd (the BPF iterator):
	 * optional; -errno makes the caller read fd by fd. */
	int (*read_targets)(void *userdata, uint32_t tid,
			    void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata);
	/* read_targets that may be called from another thread than the
	 * loop's (libuv's thread pool) while the loop goes on: it touches no
	 * state of the model's, nor anything the loop changes. Optional. */
	int (*read_targets_mt)(void *userdata, uint32_t tid,
			       void (*cb)(void *cbdata, const struct fdw_fd_info *fi),
			       void *cbdata);
	/* Do fd1 of tid1 and fd2 of tid2 share an open file description?
	 * 1 yes, 0 no, -errno unknown (kcmp(KCMP_FILE)). */
	int (*same_file)(void *userdata, uint32_t tid1, int fd1, uint32_t tid2, int fd2);
	/* The same question answered as an order (kcmp(KCMP_FILE) itself):
	 * 0 same open file description, 1 fd1's comes first, 2 after, 3
	 * unordered, -errno unknown. The order must be total and consistent;
	 * grouping N fds on one inode then costs O(N log N) calls instead of
	 * same_file's O(N^2). Preferred over same_file when set. */
	int (*cmp_file)(void *userdata, uint32_t tid1, int fd1, uint32_t tid2, int fd2);
	/* The kernel ring's position now (fdw_capture_position): records below
	 * it describe changes a /proc read made after this call already shows. */
	uint64_t (*ring_position)(void *userdata);
	/* Optional: the position the last read_table() of `tid` was as of,
	 * when the reader knows it better than ring_position() before the call
	 * (a snapshot taken earlier, stamped per table); 0: not known. *end:
	 * the position once that read was done (0: not known; ring_position()
	 * after the call stands in, later than it but never earlier). */
	uint64_t (*table_position)(void *userdata, uint32_t tid, uint64_t *end);
	/* comm and ppid of a process that appeared without a fork event. */
	int (*read_proc)(void *userdata, uint32_t pid, char comm[16], uint32_t *ppid);
	void *userdata;
};

/* What an observer's on_fd_event is told. */
enum fdw_fd_event_kind {
	FDW_FDEV_OPEN = 1,     /* fd installed (slot now holds it) */
	FDW_FDEV_CLOSE,	       /* fd closed (slot shows what was closed) */
	FDW_FDEV_CLOBBER,      /* dup2/dup3 replaced an open fd */
	FDW_FDEV_DOUBLE_CLOSE, /* close() of an fd that was not open */
	FDW_FDEV_EXEC_LEAK,    /* fd without cloexec survived exec */
	FDW_FDEV_FAIL,	       /* syscall failed (EMFILE, EBADF, ...) */
	FDW_FDEV_BAD_FD,       /* a syscall using fd failed with EBADF (FDW_REC_BADF):
				* the slot as the model has it (NULL: the table was
				* re-read since), ev->race_flags what the kernel saw */
	FDW_FDEV_IN_FLIGHT,    /* fd was closed or replaced while thread ev->other_tid
				* was blocked in ev->other_nr on it (FDW_REC_INFLIGHT);
				* the slot's history has the generation closed */
	FDW_FDEV_REUSE,	       /* deep mode: thread ev->tid used fd, which names another
				* file than at its previous use (FDW_REC_REUSE) */
};

/* An observer's fd_events bit for one kind. */
#define FDW_FDEV_BIT(kind) (1u << (kind))
#define FDW_FDEV_ALL 0xffffffffu

/*
 * A consumer of the model's changes (the leak detectors, ...), in the
 * manner of Falco's sinsp_observer: the wiring code registers it, the model
 * calls every observer in registration order and never includes their
 * headers. Both callbacks are optional.
 */
struct fdw_model_observer {
	const char *name;
	/* A table changed in a way observers care about. `slot` may be NULL
	 * (FDW_FDEV_FAIL; FDW_FDEV_DOUBLE_CLOSE of a number never used). */
	void (*on_fd_event)(void *userdata, struct fdw_proc *p, const struct fdw_event *ev,
			    enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *slot);
	/* A process is about to be dropped: free its state (before p is freed). */
	void (*on_proc_exit)(void *userdata, struct fdw_proc *p);
	/* The kinds on_fd_event wants (FDW_FDEV_BIT bits; 0 means all): the
	 * model calls nobody for an event no observer wants. */
	uint32_t fd_events;
	void *userdata;
};

struct fdw_model_stats {
	uint64_t applied;
	uint64_t unknown_task;	 /* events from tasks we did not know */
	uint64_t unknown_gone;	 /* ... of processes /proc no longer had: dropped */
	uint64_t table_splits;
	uint64_t forks_shared;	 /* fork children that shared the parent's slots */
	uint64_t table_copies;	 /* ... and later copied them (first change) */
	uint64_t resyncs;
	uint64_t resync_failed;
	uint64_t snapshots_stale; /* off-loop reads refused: the table changed meanwhile
				   * in a way not kept fd by fd */
	uint64_t snapshots_partial; /* ... applied but for the fds records changed
				     * meanwhile (fdw_model_snapshot_apply) */
	uint64_t anomalies;	 /* event disagreed with the model (fixed up) */
	uint64_t stale_closes;	 /* closes whose number another task had reopened,
				  * applied after the reopen (and its close): skipped */
	uint64_t dropped_procs;	 /* refused: max_procs */
	uint64_t dropped_fds;	 /* refused: max_fds */
	uint64_t tables;
	uint64_t fds;		 /* open fds across tables */
	uint64_t ofds;
	uint64_t history_entries; /* slots with a history ring */
	uint64_t history_dropped; /* slot histories refused (no memory) */
	uint64_t history_evicted; /* slot histories dropped, oldest first, for newer
				   * ones: past max_history, or max_history_bytes */
	uint64_t history_bytes;	  /* the names the histories hold (strlen + 1 per
				   * entry, shared or not) */
	uint64_t given_up_tables;  /* tables with ends given up (struct fdw_given_up) */
	uint64_t given_up_evicted; /* ends given up dropped, oldest first, past
				    * FDW_GIVEN_UP in a table (or no memory) */
	uint64_t targets_deferred; /* new fds whose target waited for a flush */
	uint64_t targets_read;	   /* ... and were read from /proc then */
	uint64_t targets_skipped;  /* ... and were closed before (no read) */
	uint64_t targets_unsearched; /* ... moved, not looked for: past a flush's
				      * pending_search_budget (the record's name stays) */
	uint64_t resyncs_asked;	   /* re-reads records asked for (io_uring close,
				    * SCM_RIGHTS past the record, forks beside threads,
				    * table splits) ... */
	uint64_t resyncs_deferred; /* ... not done at once: queued (fdw_model_take_wanted) */
	uint64_t names_refused;	   /* fds given FDW_NAME_REFUSED for a name:
				    * past max_name_bytes (once per fd and name
				    * lost, not per attempt) */
	uint64_t pids_reused; /* processes another took the pid of, their exit record
			       * lost: a start that differs (a fork or exec record's,
			       * a /proc re-read's); dropped as at an exit */
	uint64_t execs_found; /* new programs a /proc re-read found (a stack start
			       * that differs): an exec whose record was lost */
};

/* A new fd whose target is read at the next fdw_model_flush_pending(). */
struct fdw_pending_target {
	uint32_t ofd; /* its OFD's handle and generation: the entry is stale */
	uint32_t gen; /* once they name no pending OFD (it was closed) */
	uint32_t tid; /* the thread that created it */
	int32_t fd;
};

/* Pending targets past this are read at once (bounds the list). */
#define FDW_MODEL_MAX_PENDING 4096

struct fdw_model {
	struct fdw_hashmap tasks;  /* tid -> struct fdw_task */
	struct fdw_hashmap procs;  /* pid -> struct fdw_proc */
	struct fdw_hashmap tables; /* kfiles -> struct fdw_table (bound ones) */
	struct fdw_keyset ofds;    /* struct fdw_ofd by kfile (known kfile); ctx: the model */
	struct fdw_strtab strings; /* the targets (open fds' and the slot
				    * histories'), interned: bytes at most
				    * max_name_bytes */
	const char *name_refused;  /* FDW_NAME_REFUSED, interned and held
				    * while the model lives (NULL: no memory) */
	struct fdw_hashmap hists;  /* slot address -> its history ring (has_hist) */
	uint32_t origin_last; /* the origin made last (held): the next equal
			       * one shares it */
	uint64_t next_table_id;
	uint64_t max_procs;
	uint64_t max_fds;
	uint64_t pending_search_budget; /* slots and tasks a flush may look at for
					 * moved fds (fdw_model_flush_pending) */
	uint64_t max_history;	    /* slots with a history ring, host-wide */
	uint64_t max_history_bytes; /* history_bytes at most */
	uint64_t max_name_bytes;    /* strings.bytes at most: a new name past it
				     * is not kept (names_refused) */
	/* the histories oldest first, for eviction (model/table.c) */
	struct fdw__hist_ref *hist_fifo;
	uint32_t hist_fifo_head, hist_fifo_len, hist_fifo_cap;
	uint64_t hist_seq;
	uint64_t hist_evict_epoch, hist_evict_tokens; /* evictions this second */
	uint64_t max_fd_number; /* fs.nr_open: no fd can be this big */
	uint64_t applied_ts; /* the latest record applied, its ts (CLOCK_MONOTONIC
			      * ns as the probe read it; 0: none yet): when an
			      * observer's on_proc_exit happens */
	struct fdw_model_stats stats;
	struct fdw_model_ops ops;
	struct fdw_model_observer observers[FDW_MODEL_MAX_OBSERVERS];
	unsigned int nobservers;
	uint32_t fd_events; /* the union of the observers' fd_events */
	struct fdw_task *last_task; /* one-entry cache for the hot path */
	struct fdw__ofd_index *scan_cands; /* OFD candidates during the start-up scan */
	struct fdw_pending_target *pending; /* fdw_model_flush_pending() */
	uint32_t npending, pending_cap;
	/* re-reads records asked for, inline within a budget, else wanted */
	int64_t inline_tokens_ns;  /* what inline re-reads may still take */
	uint64_t inline_refill_ns; /* CLOCK_MONOTONIC of the last refill */
	uint32_t *wanted;	   /* pids whose table a record wants re-read */
	size_t nwanted, wanted_cap;
};

/*
 * Re-reads asked for by records. A table is re-read at once only when it is
 * small (< FDW_INLINE_RESYNC_MAX_FDS), its last re-read was long enough ago
 * (fdw_model_resync_due) and the model's inline budget allows (a tenth of
 * the time, FDW_INLINE_RESYNC_BURST_NS at once); otherwise it is marked
 * stale and its pid wanted: fdw_model_take_wanted() hands it to the
 * pipeline's queue (budgeted per drain, big tables off the loop).
 */
#define FDW_INLINE_RESYNC_MAX_FDS 512
#define FDW_INLINE_RESYNC_BURST_NS (20 * 1000000ll)
/* A table records keep asking to re-read (reread_asked), whose re-read takes
 * FDW_RESYNC_FREE_NS or more, is re-read at most this fraction of the time:
 * after a re-read that took d, the next waits (FDW_RESYNC_DUTY - 1) * d, but
 * never more than FDW_RESYNC_WAIT_MAX_NS (a 15,000-fd table takes about a
 * second to read: it would stay stale 9 s after its process calmed down).
 * Cheaper ones, and re-reads for lost records alone, are always due. */
#define FDW_RESYNC_DUTY 10
#define FDW_RESYNC_FREE_NS 1000000ull
#define FDW_RESYNC_WAIT_MAX_NS 2000000000ull

static inline bool fdw_model_resync_due(const struct fdw_table *t, uint64_t now_ns)
{
	uint64_t wait = (FDW_RESYNC_DUTY - 1) * t->reread_ns;

	if (wait > FDW_RESYNC_WAIT_MAX_NS)
		wait = FDW_RESYNC_WAIT_MAX_NS;
	return !t->reread_asked || !t->reread_at || t->reread_ns < FDW_RESYNC_FREE_NS ||
	       now_ns >= t->reread_at + wait;
}

/* The next pid a record wanted re-read (its table stale meanwhile), or 0. */
static inline uint32_t fdw_model_take_wanted(struct fdw_model *m)
{
	return m->nwanted ? m->wanted[--m->nwanted] : 0;
}

void fdw_model_init(struct fdw_model *m, const struct fdw_model_ops *ops);
void fdw_model_free(struct fdw_model *m);

/* Register an observer (copied). Returns the observer's index (its slot in
 * every process's state: fdw_proc_state), or -ENOSPC past
 * FDW_MODEL_MAX_OBSERVERS, -EINVAL without one. */
int fdw_model_add_observer(struct fdw_model *m, const struct fdw_model_observer *o);
/* Stop calling observer `idx` (its owner is going away before the model);
 * its index is not reused. No-op for an index out of range. */
void fdw_model_silence_observer(struct fdw_model *m, int idx);

/* Change what observer `idx` wants told (fd_events; 0: all). -EINVAL for
 * an index never returned. */
int fdw_model_set_observer_events(struct fdw_model *m, int idx, uint32_t fd_events);

/* Observer `idx`'s state for process p (NULL until set, or idx out of range). */
static inline void *fdw_proc_state(const struct fdw_proc *p, int idx)
{
	if (!p || idx < 0 || idx >= FDW_MODEL_MAX_OBSERVERS)
		return NULL;
	return p->obs_state[idx];
}

static inline void fdw_proc_set_state(struct fdw_proc *p, int idx, void *state)
{
	if (p && idx >= 0 && idx < FDW_MODEL_MAX_OBSERVERS)
		p->obs_state[idx] = state;
}

/* Apply one decoded event. Never fails: inconsistencies are repaired from
 * /proc (through ops) and counted. */
void fdw_model_apply(struct fdw_model *m, const struct fdw_event *ev);

/*
 * Read the targets of the fds created since the last call that are still
 * open (by the same open file description). The model defers these /proc
 * reads so that an fd opened and closed within one batch of records costs
 * none: until then such an fd's target is synthesized from the record
 * (target_exact false). Whoever shows targets calls this first; the
 * pipeline does at the end of every batch and of every drain.
 */
void fdw_model_flush_pending(struct fdw_model *m);

/* Add (or replace) a process found in /proc with its threads. `tids` lists
 * thread ids, tids[0] the leader's. Reads its table through ops->read_table.
 * Returns 0 or -errno. */
int fdw_model_add_scanned(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
			  const uint32_t *tids, unsigned int ntids, uint64_t now);

/* Around the start-up scan: fds that share an open file description across
 * the scanned processes (inherited before the daemon started) get one OFD. */
void fdw_model_scan_begin(struct fdw_model *m);
void fdw_model_scan_end(struct fdw_model *m);

/* Re-read a table from /proc through `tid`, keeping provenance of the fds
 * that did not change. Clears stale. Returns 0 or -errno. */
int fdw_model_resync(struct fdw_model *m, struct fdw_table *t, uint32_t tid);

/*
 * A table read from /proc off the loop: fdw_model_snapshot_read() runs in a
 * worker thread and touches nothing but the ops (read_table, ring_position)
 * and the snapshot; fdw_model_snapshot_apply() runs on the loop, later.
 */
struct fdw_snapshot_fd {
	int32_t fd;
	bool cloexec;
	uint32_t dev;
	uint32_t mode;
	uint64_t ino;
	size_t target; /* offset in strings */
	uint32_t group; /* fds with one group share an open file description
			 * (kcmp, asked in the worker): the index of the
			 * group's first fd in fds[] */
};

struct fdw_table_snapshot {
	uint32_t tid;	   /* set by the caller: the task to read through */
	int err;	   /* 0, or the read's -errno */
	uint64_t read_pos; /* the ring's position before the read */
	uint64_t read_end; /* ... and after it */
	struct fdw_snapshot_fd *fds;
	size_t n, cap;
	char *strings;
	size_t strlen, strcap;
	bool grouped; /* group is set (ops->cmp_file); else the loop asks kcmp */
	uint64_t kcmp_calls;
};

/* Fill s (s->tid set, the rest zero) from /proc through ops. Thread-safe
 * as long as ops->read_table and ops->ring_position are. */
void fdw_model_snapshot_read(const struct fdw_model_ops *ops, struct fdw_table_snapshot *s);
/*
 * A read of t off the loop begins (before its ring position is taken) and
 * ends (its snapshot applied or dropped; the reader owns the notes, which
 * outlive t if it is freed meanwhile). Meanwhile the model notes which fds
 * records change, so that fdw_model_snapshot_apply() can keep them and
 * take the rest from the snapshot. NULL: a read of t runs already, or no
 * memory (a snapshot with any record of t after its start is then
 * refused, as before).
 */
struct fdw__touched *fdw_model_read_begin(struct fdw_table *t);
void fdw_model_read_end(struct fdw__touched *k);

/* A read of t runs off the loop (a second one would not know the first's
 * notes: wait for it). */
static inline bool fdw_model_read_busy(const struct fdw_table *t)
{
	return t && t->touched;
}

/*
 * Make t what s shows (as fdw_model_resync would), except the fds records
 * changed after the read began, as `notes` (what fdw_model_read_begin gave
 * that read, NULL if nothing) has them: the record is newer than, or as
 * new as, what the read saw of them, so the model keeps them. 0: applied;
 * 1: applied, but a record asked meanwhile for a re-read (an io_uring
 * RECVMSG...): t stays stale and asked; -ESTALE, changing nothing, when a
 * change meanwhile is not kept fd by fd (close_range, a re-read on the
 * loop) or the read has no notes of its own (any record of t since it
 * began refuses it); s->err when the read failed.
 */
int fdw_model_snapshot_apply(struct fdw_model *m, struct fdw_table *t,
			     const struct fdw_table_snapshot *s, const struct fdw__touched *notes);
void fdw_model_snapshot_free(struct fdw_table_snapshot *s);

/* Re-read every table of a process (after the kernel lost its records). */
int fdw_model_resync_proc(struct fdw_model *m, struct fdw_proc *p);

/* Re-read the names of a process's fds whose name can change or was never
 * read (renamed or deleted files, fds closed before the daemon looked). The
 * inode must still match: the model's fd identities are not changed. */
void fdw_model_refresh_targets(struct fdw_model *m, struct fdw_proc *p);

/*
 * The names of a table read in one go (read_targets_mt, off the loop) and
 * applied later on the loop (fdw_model_apply_targets). Compact: a record
 * per fd and the names in one buffer. Bounded: past max_fds records or
 * max_bytes of names, `over` is set and nothing more is taken.
 */
struct fdw_target_rec {
	int32_t fd;
	uint32_t dev;
	uint32_t mode;
	uint32_t name; /* offset in names */
	uint64_t ino;
};

struct fdw_targets {
	struct fdw_target_rec *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	size_t max_fds, max_bytes; /* 0: no bound */
	bool over;		   /* a bound was hit, or out of memory */
};

/* A read_targets callback: append fi to (struct fdw_targets *)cbdata. */
void fdw_targets_add(void *cbdata, const struct fdw_fd_info *fi);
void fdw_targets_free(struct fdw_targets *t);

/* Take the names read into `t` for process p's fds, where the fd still has
 * the inode it had when read (as fdw_model_refresh_targets does; the
 * table may have changed since the read). */
void fdw_model_apply_targets(struct fdw_model *m, struct fdw_proc *p,
			     const struct fdw_targets *t);

/* The same for fd `fd` alone (one /proc read, not the whole table's). */
void fdw_model_refresh_target(struct fdw_model *m, struct fdw_proc *p, int fd);

/*
 * A process /proc lists that the model does not know (its fork record was
 * lost): added with its tasks and an empty table marked stale, not read
 * here (the caller queues it for a re-read, off the loop). A clone that
 * shares its parent's table (CLONE_FILES) joins that table. 0 (also when
 * the model knows it already), or -errno.
 */
int fdw_model_add_found(struct fdw_model *m, uint32_t pid, uint32_t ppid, const char *comm,
			const uint32_t *tids, unsigned int ntids, uint64_t now);

/* Forget a process (its exit record was lost and /proc has no trace). */
void fdw_model_drop_proc(struct fdw_model *m, struct fdw_proc *p);

/* Give p the start and stack start a /proc read showed, where the model
 * does not know them yet (0: not shown). */
void fdw_model_proc_identify(struct fdw_proc *p, uint64_t start_ticks, uint64_t start_stack);

/* Is the process /proc's stat line `st` shows under p's pid another one
 * than p (both starts known, and different): p exited, its pid reused? */
static inline bool fdw_model_proc_other(const struct fdw_proc *p, const struct fdw_pid_stat *st)
{
	return p->start_ticks && st->starttime && st->starttime != p->start_ticks;
}

/*
 * p as /proc's stat line `st` shows it now, p being the process st is of
 * (!fdw_model_proc_other): its command and parent (a rename, a
 * reparenting), and its program. A stack start other than the one the
 * model knows is a new program, an exec whose record was lost: p starts a
 * new program as an exec would (exec_count, start_ts `now`; its table's
 * close-on-exec fds are the re-read's to close), counted in execs_found,
 * and true is returned. A new command alone is not one (PR_SET_NAME).
 */
bool fdw_model_proc_set_stat(struct fdw_model *m, struct fdw_proc *p,
			     const struct fdw_pid_stat *st, uint64_t now);

/*
 * p exited and another process has its pid (fdw_model_proc_other; its
 * exit record, and the other's fork record, were lost): p is dropped as an
 * exit drops it (the observers' on_proc_exit), counted in pids_reused,
 * and the other one, `st` with live threads `tids` (none: it is exiting
 * too), is added as fdw_model_add_found() adds one, with its start and
 * stack start: its table empty and stale, for the caller to read. 0, or
 * -errno when the new one could not be added.
 */
int fdw_model_replace_proc(struct fdw_model *m, struct fdw_proc *p, const struct fdw_pid_stat *st,
			   const uint32_t *tids, unsigned int ntids, uint64_t now);

/* Mark a process's tables stale (its records were lost). */
void fdw_model_mark_proc_stale(struct fdw_model *m, struct fdw_proc *p);

/* Mark every table stale (lost records with unknown owner). */
void fdw_model_mark_all_stale(struct fdw_model *m);

struct fdw_proc *fdw_model_proc(struct fdw_model *m, uint32_t pid);
/* The process of an event just applied: the hot path's task cache first,
 * then the pid. NULL when the model has none (an exit dropped it). */
static inline struct fdw_proc *fdw_model_event_proc(struct fdw_model *m, const struct fdw_event *ev)
{
	const struct fdw_task *t = m->last_task;

	if (t && t->tid == ev->tid && t->proc && t->proc->pid == ev->pid)
		return t->proc;
	return fdw_model_proc(m, ev->pid);
}
/* The table /proc/PID/fd shows: the leader's, else any thread's; a fork
 * child still on its parent's slots gets its own view first (its slots
 * are then its own: inherited, without the parent's histories). */
struct fdw_table *fdw_model_proc_table(struct fdw_model *m, struct fdw_proc *p);
/* The same table as it is: for its counts (nopen, id, stale) only. A fork
 * child's slots are its parent's until it changes (or is looked at): a
 * scrape, a listing or the 1 s sampling of every process made every idle
 * child copy its parent's table. Read slots through fdw_model_table_view(). */
struct fdw_table *fdw_model_proc_table_peek(struct fdw_model *m, struct fdw_proc *p);
/* t with its slots its own (a fork child's own view made first), or t when
 * that fails (it is then stale). */
struct fdw_table *fdw_model_table_view(struct fdw_model *m, struct fdw_table *t);

/* One of a process's tables, with a thread of it that uses it. */
struct fdw_proc_table {
	struct fdw_table *table;
	uint32_t tid;
};

struct fdw_proc_tables {
	struct fdw_proc_table *v;
	size_t n, cap;
};

/*
 * The distinct tables of p's threads, each once (threads nearly always
 * share one; the few that unshared have theirs), into out (emptied first,
 * its array reused). One walk over the host's tasks, none for a process
 * whose one thread is its leader: the callers that need several answers
 * about the tables (due? one table? which is big?) take them from this
 * list. The tables stay valid until the next record is applied. 0, or
 * -ENOMEM (out then holds those found before).
 */
int fdw_model_proc_tables(struct fdw_model *m, struct fdw_proc *p, struct fdw_proc_tables *out);
void fdw_model_proc_tables_free(struct fdw_proc_tables *pt);
/* fdw_model_resync_proc() of the tables fdw_model_proc_tables() listed
 * (no record applied since). */
int fdw_model_resync_tables(struct fdw_model *m, struct fdw_proc *p,
			    const struct fdw_proc_tables *pt);
/* A tid of the process whose table is the one fdw_model_proc_table() gives. */
uint32_t fdw_model_proc_tid(struct fdw_model *m, struct fdw_proc *p);
/* Room for a target made from the inode: "socket:[" 20 digits "]". */
#define FDW_OFD_NAME_BUF 32

/* The kernel's name of a pipe or socket inode, "pipe:[ino]" or
 * "socket:[ino]", made in buf. */
static inline const char *fdw_ino_name(bool sock, uint64_t ino, char buf[FDW_OFD_NAME_BUF])
{
	const char *prefix = sock ? "socket:[" : "pipe:[";
	size_t n = 0, len = strlen(prefix);
	char digits[20];
	uint64_t v = ino;

	/* by hand, not snprintf: every new socket is named */
	memcpy(buf, prefix, len);
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[len++] = digits[--n];
	buf[len++] = ']';
	buf[len] = '\0';
	return buf;
}

/*
 * The target of an fd whose name was not kept: a new name (one not
 * interned already) that would take the model's names past
 * max_name_bytes. The fd is tracked as any other (counts, provenance, the
 * detectors); only its name is missing. Not a name the kernel gives (no
 * path, and no pseudo filesystem "fdwatch"); verify and the audit do not
 * count it as a difference, and a look at the fd (a refresh of its
 * table's names) reads it again.
 */
#define FDW_NAME_REFUSED "fdwatch:[name not kept]"

/* Is target the placeholder of a name not kept? NULL-safe. */
static inline bool fdw_target_refused(const char *target)
{
	return target && !strcmp(target, FDW_NAME_REFUSED);
}

/* What /proc/PID/fd/N shows for o: its interned target, or the name made
 * in buf from its inode (target_ino). NULL for a NULL o, or when o has no
 * name (no memory for it). */
static inline const char *fdw_ofd_target(const struct fdw_ofd *o, char buf[FDW_OFD_NAME_BUF])
{
	if (!o)
		return NULL;
	if (!o->target_ino)
		return o->target;
	return fdw_ino_name(S_ISSOCK(fdw_ofd_mode(o)), o->ino, buf);
}

/* The target an fd history entry had: its string, or its inode's name
 * made in buf. NULL when not known. */
static inline const char *fdw_fd_history_target(const struct fdw_fd_history *h,
						char buf[FDW_OFD_NAME_BUF])
{
	if (!h)
		return NULL;
	if (h->name == FDW_HIST_STRING)
		return h->target;
	return fdw_ino_name(h->name == FDW_HIST_SOCKET, h->ino, buf);
}

/* "reg", "dir", "chr", "blk", "fifo", "sock", "lnk", "anon" or "unknown" for
 * an OFD (from its mode, else inferred from its target). */
static inline const char *fdw_ofd_type(const struct fdw_ofd *o)
{
	char buf[FDW_OFD_NAME_BUF];

	return o ? fdw_fd_type_name(fdw_ofd_mode(o), fdw_ofd_target(o, buf)) : "unknown";
}

/* Block and offset of fd number fd (see struct fdw_table). Blocks stay
 * small: a process's lone high fd (bash's 255, a socket activated at 1000)
 * costs one block, not every number below it. */
#define FDW_SLOT_BLOCK_LOG 5u
#define FDW_SLOT_BLOCK_MAX (1u << FDW_SLOT_BLOCK_LOG)
static inline uint32_t fdw_slot_block(uint32_t fd, uint32_t *off)
{
	uint32_t lb;

	if (fd < 4) {
		*off = fd;
		return 0;
	}
	if (fd < 2 * FDW_SLOT_BLOCK_MAX) {
		lb = 31 - (uint32_t)__builtin_clz(fd); /* 2..FDW_SLOT_BLOCK_LOG */
		*off = fd - (1u << lb);
		return lb - 1;
	}
	*off = (fd - 2 * FDW_SLOT_BLOCK_MAX) % FDW_SLOT_BLOCK_MAX;
	return FDW_SLOT_BLOCK_LOG + (fd - 2 * FDW_SLOT_BLOCK_MAX) / FDW_SLOT_BLOCK_MAX;
}

/* Slots in block b, and the first fd number past it. */
static inline uint32_t fdw_slot_block_size(uint32_t b)
{
	return b == 0 ? 4 : b < FDW_SLOT_BLOCK_LOG ? 2u << b : FDW_SLOT_BLOCK_MAX;
}

static inline uint64_t fdw_slot_block_end(uint32_t b)
{
	return b < FDW_SLOT_BLOCK_LOG ? 4ull << b
				      : 2ull * FDW_SLOT_BLOCK_MAX +
						(uint64_t)(b - FDW_SLOT_BLOCK_LOG + 1) * FDW_SLOT_BLOCK_MAX;
}

/* fd's slot, NULL when the number was never used in t (or is out of range). */
static inline struct fdw_slot *fdw_table_slot(const struct fdw_table *t, int fd)
{
	struct fdw_slot *s;
	uint32_t b, off;

	if (!t || fd < 0 || (uint32_t)fd >= t->nslots)
		return NULL;
	b = fdw_slot_block((uint32_t)fd, &off);
	if (b >= t->nblocks || !t->blocks[b])
		return NULL;
	s = &t->blocks[b][off];
	return s->origin ? s : NULL;
}
static inline bool fdw_slot_open(const struct fdw_slot *s)
{
	return s && s->ofd_h;
}
/* Where g keeps the end `key` that event `seq` made: its index in g->v,
 * -1 when it does not (or g is NULL). */
static inline int fdw__given_up_find(const struct fdw_given_up *g, uint64_t key, uint64_t seq)
{
	for (uint32_t i = 0; g && i < g->n; i++)
		if (g->v[i].key == key && g->v[i].seq == seq)
			return (int)i;
	return -1;
}
/* Did a process of t's lineage other than its maker give up the end of
 * pipe (socketpair) `key` that event `seq` made (struct fdw_given_up)? */
static inline bool fdw_table_gave_up(const struct fdw_table *t, uint64_t key, uint64_t seq)
{
	return fdw__given_up_find(t ? t->given_up : NULL, key, seq) >= 0;
}
/* How many earlier generations of s the model keeps (at most
 * FDW_SLOT_HISTORY), and one of them, newest first: i in [0, that). */
unsigned int fdw_slot_nhist(const struct fdw_model *m, const struct fdw_slot *s);
const struct fdw_fd_history *fdw_slot_history(const struct fdw_model *m, const struct fdw_slot *s,
					      unsigned int i);
