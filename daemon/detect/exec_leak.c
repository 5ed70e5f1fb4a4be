// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The exec-leak detector: fds without close-on-exec (other than 0, 1, 2)
 * that survived an exec, reported against the process that created them,
 * with their provenance and the programs that got them. Fired once the
 * process outlived the first such exec by exec_min_age (a shell that runs
 * one command and exits is no news); resolved when every leaked fd is
 * closed or close-on-exec in the process to blame and closed in the
 * children it went into (exec_fd_leaking). Known limits: only the last
 * LEAK_EXEC_CHILDREN children are looked at (an older one may still hold
 * the fd), and an alert adopted after a restart (exec_new) has its fds but
 * no children (the evidence's pids carry no start time to tell a reused
 * pid), so it resolves on the process to blame alone.
 *
 * Who is to blame (exec_culprit): the program that created the fd and then
 * let a fork of itself exec with it. Not reported, because the fd was
 *
 *   passed through  it went through an exec before (the program holding it
 *                   was given it by whoever ran it: a login session's,
 *                   a CI runner's, make's jobserver pipe in a sub-make), or
 *                   it is older than the daemon (found in /proc: who
 *                   created it is not known, and blaming every holder is
 *                   the false alarm this rule exists to avoid);
 *   set up          the exec'ing process installed it itself, after its
 *                   fork or in the program that execs (`cmd 3>file`, `exec
 *                   3<&0`, posix_spawn's file actions), or a parent put it
 *                   on a number it chose (dup2/dup3/F_DUPFD: socket
 *                   activation's fd 3, LISTEN_FDS), or a shell made it
 *                   (exec_leak_shells, matched against the creating
 *                   thread's command, or the base name of the creator's
 *                   executable when it still runs that program: a script
 *                   started by its #! line has its own name for a
 *                   command): a shell's redirections (`exec
 *                   3>lock; flock 3`, `exec {v}>file`) are how it passes
 *                   fds to the commands it runs, on whatever number the
 *                   open got, and shells make their own fds close-on-exec;
 *   made inheritable  its close-on-exec bit was cleared on purpose (F_SETFD,
 *                   FIONCLEX: python's pass_fds, make's jobserver pipe
 *                   handed to a recursive make);
 *   locked          it holds a lock when the leak is confirmed: flock(2)
 *                   or an OFD lock on its open file description, or a
 *                   POSIX lock of the process to blame. A lock wrapper
 *                   opens, locks, forks and lets the command it runs
 *                   inherit the fd, so that the lock is held until the
 *                   command is done (flock(1) FILE CMD, lockrun; chpst -l,
 *                   setlock and with-lock-ex exec without a fork: set up).
 *                   The kernel's word, not the model's (which traces no
 *                   flock(2) and would have to follow every release):
 *                   /proc/PID/fdinfo/FD's "lock:" lines, read for the fds
 *                   of an alert about to fire, once each (exec_confirm), at
 *                   a tick, not per event. Not for the race form: a
 *                   creator that made its copy close-on-exec did not mean
 *                   to hand the lock over. Excused too, wrongly: a daemon
 *                   that keeps its pidfile locked without close-on-exec
 *                   and spawns helpers (which keep its lock after it dies);
 *   kept            an end of a pipe (a socketpair) whose other end was
 *                   given up in the exec'ing process's lineage after it
 *                   left the creator (closed, close_range, or made
 *                   close-on-exec: by the process between its fork and
 *                   its exec, or by the middle process of a double fork),
 *                   the only fd it keeps on that pipe (pair)
 *                   (exec_pipe_kept: ninja's console pool, a socketpair
 *                   handed to a helper).
 *
 * What is left: an fd created (open, socket, pipe, accept, SCM_RIGHTS, dup
 * to the lowest number) without close-on-exec by a process, copied by
 * fork into a child, and still there when the child execs: the creator is
 * the culprit (the parent, when the creator is gone).
 *
 * The race form (issue 9): the creator has made the same fd close-on-exec
 * since (fcntl(F_SETFD) or FIOCLEX after open): one thread opened without
 * O_CLOEXEC and set the bit a moment later, and another thread's fork came
 * in between. Such an fd is marked "race" in
 * the evidence and keeps the alert firing while it is open (its bit in the
 * creator is no fix: the next fork may come in between again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/grow.h"
#include "base/json.h"
#include "base/search.h"
#include "detect/detector.h"
#include "detect/evidence.h"

#define CHILD(x, k) (&(x)->log->children[((x)->children_head + LEAK_EXEC_CHILDREN - (k)) % \
					   LEAK_EXEC_CHILDREN]) /* k = 1: the newest */

/* x->log, allocated on first use: 0, or -ENOMEM. */
static int exec_log(struct leak_exec *x)
{
	if (!x->log)
		x->log = calloc(1, sizeof(*x->log));
	return x->log ? 0 : -ENOMEM;
}

/* ---- noting leaks as the model sees them --------------------------------- */

/* The first fd of an exec `ev` of process `p`: one more child. */
static void exec_note_child(struct leak_exec *x, const struct fdw_proc *p,
			    const struct fdw_event *ev)
{
	if (x->seq == ev->seq)
		return;
	x->seq = ev->seq;
	x->children_total++;
	x->children_head = (x->children_head + 1) % LEAK_EXEC_CHILDREN;
	if (x->nchildren < LEAK_EXEC_CHILDREN)
		x->nchildren++;
	CHILD(x, 1)->pid = p->pid;
	memcpy(CHILD(x, 1)->comm, p->comm, sizeof(CHILD(x, 1)->comm));
	CHILD(x, 1)->ts = ev->ts;
	CHILD(x, 1)->seq = ev->seq;
	CHILD(x, 1)->nfds = 0;
}

static void exec_note_fd(struct fdw_leaks *l, struct leak_exec *x, int fd,
			 const struct fdw_slot *slot, uint64_t ts, bool race)
{
	json_t *o;

	for (unsigned int i = 0; i < x->nfds; i++)
		if (x->log->fds[i].fd == fd &&
		    (!x->log->fds[i].ofd || x->log->fds[i].ofd == fdw_ofd_id(fdw_slot_ofd(slot)))) {
			x->log->fds[i].ofd = fdw_ofd_id(fdw_slot_ofd(slot));
			return; /* known already (an earlier child) */
		}
	if (x->nfds >= LEAK_EXEC_FDS) {
		l->stats.dropped_exec_fds++;
		return;
	}
	x->log->fds[x->nfds].fd = fd;
	x->log->fds[x->nfds].ofd = fdw_ofd_id(fdw_slot_ofd(slot));
	x->log->fds[x->nfds].race = race;
	x->log->fds[x->nfds].confirmed = false;
	x->nfds++;
	x->nrace += race;
	if (!x->leaked)
		x->leaked = json_array();
	o = leak_json_slot(fd, slot, ts);
	if (o && race)
		(void)json_object_set_new(o, "race", json_true());
	if (x->leaked && o)
		(void)json_array_append_new(x->leaked, o);
	else
		json_decref(o);
}

/*
 * The race form: the creator has the same open file description at fd
 * close-on-exec now, set on purpose after the open (the child's copy, made
 * by a fork in between, was not). Its thread count at the fork is not
 * kept (the thread that set the bit has often exited by the time the
 * child's exec is applied): a single-threaded program that forked between
 * its own open and fcntl is reported the same way, and is as wrong.
 */
static bool exec_race_form(struct fdw_leaks *l, struct fdw_proc *owner, int fd,
			   const struct fdw_slot *slot)
{
	const struct fdw_slot *cs = fdw_table_slot(fdw_model_proc_table(l->m, owner), fd);
	uint64_t seq;

	if (!fdw_slot_open(cs) || cs->ofd_h != slot->ofd_h || !cs->cloexec || cs->inheritable)
		return false;
	seq = fdw_slot_origin(cs)->seq;
	return seq && seq == fdw_slot_origin(slot)->seq;
}

/*
 * Is `name` (a command, or an executable's base name) in exec_leak_shells?
 * Asked for each fd exec record `ev` passes, judged once per name of the
 * record (l->shells).
 */
static bool exec_shell_listed(struct fdw_leaks *l, const struct fdw_event *ev, const char *name)
{
	struct leak_shell_name *e;

	for (unsigned int k = 0; ev->seq && k < LEAK_SHELL_NAMES; k++) {
		e = &l->shells[k];
		if (e->seq == ev->seq && !strncmp(e->name, name, sizeof(e->name)))
			return e->hit;
	}
	e = &l->shells[l->shells_next];
	l->shells_next = (l->shells_next + 1) % LEAK_SHELL_NAMES;
	e->hit = fdw_leak_comm_listed(l->cfg.exec_leak_shells, name);
	e->seq = ev->seq;
	strncpy(e->name, name, sizeof(e->name));
	return e->hit;
}

/*
 * The process to blame for fd `slot` of `p` surviving p's exec, or NULL
 * when nobody is (see the top of the file).
 */
static struct fdw_proc *exec_culprit(struct fdw_leaks *l, struct fdw_proc *p,
				     const struct fdw_event *ev, const struct fdw_slot *slot)
{
	const struct fdw_origin *o = fdw_slot_origin(slot);
	struct fdw_proc *creator;

	if (slot->exec_passed || slot->inheritable || (o->flags & FDW_ORIGIN_CHOSEN))
		return NULL;
	if (o->source != FDW_SRC_INHERIT || !o->pid)
		return NULL; /* set up by p itself, or older than the daemon */
	if (exec_shell_listed(l, ev, o->comm))
		return NULL; /* a shell's redirection, set up for its commands */
	creator = fdw_model_proc(l->m, o->pid);
	if (creator && creator != p && creator->start_ts <= o->ts)
		return creator;
	/* the creator is gone (or its pid reused): the parent holds a fork
	 * of its program */
	return p->ppid && p->ppid != p->pid ? fdw_model_proc(l->m, p->ppid) : NULL;
}

/*
 * Does `creator` run a shell (exec_leak_shells), by its executable's name?
 * A script run by its #! line has the script's name for a command. Read
 * once per program.
 */
static bool exec_shell_exe(struct fdw_leaks *l, const struct fdw_proc *creator,
			   struct leak_exec *x, const struct fdw_event *ev)
{
	if (!l->ops.read_exe || !l->cfg.exec_leak_shells[0])
		return false;
	if (x->exe_exec != creator->exec_count + 1) {
		x->exe_exec = creator->exec_count + 1;
		if (l->ops.read_exe(l->ops.userdata, creator->pid, x->exe, sizeof(x->exe)) < 0)
			x->exe[0] = '\0';
	}
	return exec_shell_listed(l, ev, x->exe);
}

/*
 * Kept on purpose: `slot` is an end of an anonymous pipe or of a
 * socketpair, `p`, after its fork and before this exec `ev`, closed its
 * copy of the other fd the same pipe(2) or socketpair(2) call made (with
 * close(2), or a close_range(2) whose range held it), and this end is the
 * only fd p keeps on that pipe or pair through the exec: the code that
 * ran between the fork and the exec took the pipe (pair) apart and kept
 * this end. The pipe idiom (pipe; fork; close(p[0]); exec) and
 * posix_spawn's addclose file action; ninja's console pool, whose job
 * keeps the write end so that ninja, reading the other end, sees EOF when
 * the job is done; the socketpair hand-over (socketpair; fork;
 * close(sv[0]); exec a program that talks over sv[1], the parent over
 * sv[0]). A forgotten fd is one the child's code never touched: an fd
 * that went into a child that closed nothing of its pipe (pair) still
 * fires, whoever reads the other end (a pipe meant for one child, leaked
 * into another, is the classic hang). So does an end the child keeps
 * beside another fd on the same pipe (pair), at any number (0-2 too): a
 * child that moves the read end onto its stdin (dup2(p[0], 0);
 * close(p[0])) and forgets the write end runs a program that holds the
 * write end of its own stdin and never sees EOF (review of 1fe78f7);
 * likewise dup2(p[1], 1); close(p[1]) with the read end forgotten, and
 * the same with a socketpair's ends. Read from p's slot histories (made
 * after the fork: a fork does not copy the parent's) and from its
 * table's ends given up (struct fdw_given_up, model.h): ends a process
 * other than their creator closed or made close-on-exec (F_SETFD,
 * FIOCLEX, CLOSE_RANGE_CLOEXEC: the exec closes them), which a fork
 * copies into the child, one fork down (not a grandchild that stays as a
 * server and forks children of its own). So the double fork (socketpair;
 * fork; close(sv[0]); fork; exit; exec in the grandchild) and a child that
 * makes the other end close-on-exec are hand-overs too, while the creator's own close or
 * close-on-exec, made before it forked, never is (the classic hang: the
 * parent made its end close-on-exec, the child did nothing). A history or
 * a note the model could not keep leaves the fd reported.
 *
 * A pipe's two ends share an inode, which with the creating event's seq
 * names the pipe(2) call; a socketpair's ends are two sockets, two
 * inodes: the pair is the socketpair(2) event's seq (the origin both ends
 * got from it), and the other end is the socket p closed with that seq.
 *
 * One walk of p's table per exec (exec_pipes_get), not one per leaked fd
 * (an exec with 16,000 pipe ends held the loop for seconds): what the rule
 * needs is gathered into sorted arrays, and each fd is a few binary
 * searches. The arrays have at most one mark per fd kept and per slot
 * history (FDW_SLOT_HISTORY per number), and live while the exec is
 * applied: freed after the exec's highest kept fd was told, else by the
 * next exec the rule reads or the next tick.
 */
struct leak_pipe_mark {
	uint64_t ino; /* the pipe's inode (a socket's: exec_pair_key) */
	uint64_t seq; /* 0: p keeps an fd on it through the exec (one mark
		       * per fd); else p closed, before the exec, an fd the
		       * pipe(2) event `seq` made */
};

/* A socketpair end p closed before the exec (sorted by seq, then key). */
struct leak_pair_mark {
	uint64_t seq; /* the socketpair(2) event that made it */
	uint64_t key; /* its socket (exec_pair_key) */
};

struct leak_exec_pipes {
	uint32_t pid;
	uint64_t seq;	       /* the exec's event */
	uint32_t last;	       /* the highest fd the exec keeps: done after it */
	bool failed;	       /* no memory: every pipe end of the exec is reported */
	struct leak_pipe_mark *marks; /* sorted by (ino, seq) */
	size_t n, cap;
	struct leak_pair_mark *pairs; /* sorted by (seq, key) */
	size_t npairs, pairs_cap;
};

void leak_exec_pipes_free(struct fdw_leaks *l)
{
	if (!l->exec_pipes)
		return;
	free(l->exec_pipes->marks);
	free(l->exec_pipes->pairs);
	free(l->exec_pipes);
	l->exec_pipes = NULL;
}

#define EXEC_SOCK_KEY FDW_END_SOCK /* a socket's inode, apart from pipes' */

/* An fd on an anonymous pipe or a socket: its key (a pipe's inode, a
 * socket's with EXEC_SOCK_KEY), else 0. */
static uint64_t exec_pair_key(const struct fdw_ofd *o)
{
	if (!o || !o->target_ino || !o->ino)
		return 0;
	if (S_ISFIFO(fdw_ofd_mode(o)))
		return o->ino;
	return S_ISSOCK(fdw_ofd_mode(o)) ? o->ino | EXEC_SOCK_KEY : 0;
}

static int exec_pipes_add(struct leak_exec_pipes *x, uint64_t ino, uint64_t seq)
{
	if (FDW_GROW(x->marks, x->n, x->cap, 64) < 0)
		return -ENOMEM;
	x->marks[x->n++] = (struct leak_pipe_mark){ .ino = ino, .seq = seq };
	return 0;
}

static int exec_pairs_add(struct leak_exec_pipes *x, uint64_t seq, uint64_t key)
{
	if (FDW_GROW(x->pairs, x->npairs, x->pairs_cap, 16) < 0)
		return -ENOMEM;
	x->pairs[x->npairs++] = (struct leak_pair_mark){ .seq = seq, .key = key };
	return 0;
}

static int exec_pipes_cmp(const void *a, const void *b)
{
	const struct leak_pipe_mark *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int exec_pairs_cmp(const void *a, const void *b)
{
	const struct leak_pair_mark *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* The first mark at or after (ino, seq): an index in [0, n]. */
static size_t exec_pipes_find(const struct leak_exec_pipes *x, uint64_t ino, uint64_t seq)
{
	const struct leak_pipe_mark key = { .ino = ino, .seq = seq };

	return FDW_LOWER_BOUND(&key, x->marks, x->n, exec_pipes_cmp);
}

/* The first closed socketpair end of event `seq`: an index in [0, npairs]. */
static size_t exec_pairs_find(const struct leak_exec_pipes *x, uint64_t seq)
{
	const struct leak_pair_mark key = { .seq = seq, .key = 0 };

	return FDW_LOWER_BOUND(&key, x->pairs, x->npairs, exec_pairs_cmp);
}

/* How many fds p keeps through the exec on `ino` (a key): 0, 1, or 2 for
 * more. */
static unsigned int exec_pipes_kept_on(const struct leak_exec_pipes *x, uint64_t ino)
{
	size_t k = exec_pipes_find(x, ino, 0);

	if (k >= x->n || x->marks[k].ino != ino || x->marks[k].seq)
		return 0;
	return k + 1 < x->n && x->marks[k + 1].ino == ino && !x->marks[k + 1].seq ? 2 : 1;
}

/* A close by p of one of its fds before the exec `ev`: close(2), or a
 * close_range(2) whose range held it (CLOSE_RANGE_CLOEXEC closes
 * nothing, and leaves no history). */
static bool exec_closed_by(const struct fdw_origin *c, const struct fdw_proc *p,
			   const struct fdw_event *ev)
{
	return c->source == FDW_SRC_EVENT &&
	       (c->nr == FDW_SYS_CLOSE || c->nr == FDW_SYS_CLOSE_RANGE) && c->pid == p->pid &&
	       c->seq && c->seq < ev->seq;
}

/* p's exec `ev` as the pipe rule reads it: its table walked once, at the
 * exec's first pipe end. NULL when there was no memory for it. */
static const struct leak_exec_pipes *exec_pipes_get(struct fdw_leaks *l, struct fdw_proc *p,
						    const struct fdw_event *ev)
{
	struct leak_exec_pipes *x = l->exec_pipes;
	const struct fdw_table *t;

	if (x && x->pid == p->pid && x->seq == ev->seq)
		return x->failed ? NULL : x;
	leak_exec_pipes_free(l);
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->pid = p->pid;
	x->seq = ev->seq;
	l->exec_pipes = x;
	t = fdw_model_proc_table(l->m, p);
	for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
		const struct fdw_slot *s = fdw_table_slot(t, (int)fd);
		unsigned int n;
		uint64_t ino;

		if (!s)
			continue;
		l->stats.exec_pipe_slots++;
		/* kept through the exec (the close-on-exec ones below the fd
		 * being told are closed already, those above not yet) */
		if (fdw_slot_open(s) && !s->cloexec) {
			x->last = fd;
			ino = exec_pair_key(fdw_slot_ofd(s));
			if (ino && exec_pipes_add(x, ino, 0) < 0)
				goto fail;
		}
		n = fdw_slot_nhist(l->m, s);
		for (unsigned int i = 0; i < n; i++) {
			const struct fdw_fd_history *h = fdw_slot_history(l->m, s, i);
			const struct fdw_origin *c = h ? fdw_origin_at(h->closed) : NULL;
			const struct fdw_origin *ho = h ? fdw_origin_at(h->origin) : NULL;

			if (!c || !ho || !h->ino || !ho->seq || !exec_closed_by(c, p, ev))
				continue;
			if (h->name == FDW_HIST_PIPE && exec_pipes_add(x, h->ino, ho->seq) < 0)
				goto fail;
			if (h->name == FDW_HIST_SOCKET && ho->nr == FDW_SYS_SOCKETPAIR &&
			    exec_pairs_add(x, ho->seq, h->ino | EXEC_SOCK_KEY) < 0)
				goto fail;
		}
	}
	/* the ends p's lineage gave up since it left their maker: closed or
	 * made close-on-exec by p, or by a parent between the fork that
	 * took it from the maker and the one that made p (a double fork) */
	for (uint32_t i = 0; t && t->given_up && i < t->given_up->n; i++) {
		uint64_t key = t->given_up->v[i].key, seq = t->given_up->v[i].seq;

		if ((key & EXEC_SOCK_KEY) ? exec_pairs_add(x, seq, key) < 0
					  : exec_pipes_add(x, key, seq) < 0)
			goto fail;
	}
	if (x->n)
		qsort(x->marks, x->n, sizeof(*x->marks), exec_pipes_cmp);
	if (x->npairs)
		qsort(x->pairs, x->npairs, sizeof(*x->pairs), exec_pairs_cmp);
	return x;
fail:
	free(x->marks);
	free(x->pairs);
	x->marks = NULL;
	x->pairs = NULL;
	x->n = x->cap = x->npairs = x->pairs_cap = 0;
	x->failed = true;
	return NULL;
}

static bool exec_pipe_kept(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			   const struct fdw_slot *slot)
{
	const struct fdw_origin *so = fdw_slot_origin(slot);
	uint64_t ino = exec_pair_key(fdw_slot_ofd(slot));
	uint64_t made = so->seq;
	const struct leak_exec_pipes *x;
	bool other = false;
	size_t k;

	if (!ino || !made || !ev->seq)
		return false;
	/* a socket: only an end of a socketpair(2) */
	if ((ino & EXEC_SOCK_KEY) && so->nr != FDW_SYS_SOCKETPAIR)
		return false;
	x = exec_pipes_get(l, p, ev);
	if (!x)
		return false;
	/* the only fd p keeps on this pipe (this end of the pair): this one */
	if (exec_pipes_kept_on(x, ino) != 1)
		return false;
	if (!(ino & EXEC_SOCK_KEY)) {
		/* and p closed an fd the same pipe(2) made */
		k = exec_pipes_find(x, ino, made);
		return k < x->n && x->marks[k].ino == ino && x->marks[k].seq == made;
	}
	/* a socketpair: p closed the other end the same call made, and keeps
	 * no fd on it */
	for (k = exec_pairs_find(x, made); k < x->npairs && x->pairs[k].seq == made; k++) {
		if (x->pairs[k].key == ino)
			continue; /* a copy of this end */
		if (exec_pipes_kept_on(x, x->pairs[k].key))
			return false;
		other = true;
	}
	return other;
}

/*
 * An fd without close-on-exec survived the exec of `p`: note it against
 * its culprit now, while the child's table still shows where the fd came
 * from (short-lived children are gone by the next tick); reported at the
 * tick.
 */
static void exec_leak_fd(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			 int fd, const struct fdw_slot *slot)
{
	struct fdw_proc *owner;
	struct leak_proc *st;
	struct leak_exec *x;

	if (!l->cfg.exec_leaks || fd <= 2 || !fdw_slot_open(slot))
		return;
	owner = exec_culprit(l, p, ev, slot);
	if (!owner || exec_pipe_kept(l, p, ev, slot)) {
		l->stats.exec_fds_excused++;
		return;
	}
	st = leak_proc_get(l, owner, ev->ts);
	if (!st)
		return;
	x = &st->exec;
	/* the creator itself (still running the program that made it) */
	if (owner->pid == fdw_slot_origin(slot)->pid && exec_shell_exe(l, owner, x, ev)) {
		l->stats.exec_fds_excused++;
		return;
	}
	if (exec_log(x) < 0)
		return;
	exec_note_child(x, p, ev);
	CHILD(x, 1)->nfds++;
	if (!x->pending)
		x->pending_since = ev->ts;
	x->pending = true;
	exec_note_fd(l, x, fd, slot, ev->ts, exec_race_form(l, owner, fd, slot));
}

static void exec_on_fd_event(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			     fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	const struct leak_exec_pipes *x;

	if (kind != FDW_FDEV_EXEC_LEAK)
		return;
	exec_leak_fd(l, p, ev, fd, slot);
	/* the exec's last fd: the pipe rule is done with its table */
	x = l->exec_pipes;
	if (x && x->pid == p->pid && x->seq == ev->seq && fd >= 0 && (uint32_t)fd >= x->last)
		leak_exec_pipes_free(l);
}

/* ---- confirming: locks ---------------------------------------------------- */

/* Does `p` hold fd `fd` on the OFD with id `ofd` (0: any), as the model
 * has it? Its inode then (0 unknown) in *ino. */
static bool exec_holds(struct fdw_leaks *l, struct fdw_proc *p, int fd, uint64_t ofd,
		       uint64_t *ino)
{
	const struct fdw_slot *s = fdw_table_slot(fdw_model_proc_table(l->m, p), fd);
	const struct fdw_ofd *o = fdw_slot_ofd(s);

	if (!fdw_slot_open(s) || !o || (ofd && fdw_ofd_id(o) != ofd))
		return false;
	*ino = o->ino;
	return true;
}

/*
 * Does leaked fd k hold a lock? Asked of `p` (the process to blame) while
 * it holds the fd on that OFD (its POSIX locks show only there), else of
 * the newest child that does (the creator closed its copy; a flock or OFD
 * lock shows in every holder). 1, 0, or -errno when nobody could tell.
 */
static int exec_fd_locked(struct fdw_leaks *l, struct fdw_proc *p, struct leak_exec *x,
			  unsigned int k)
{
	int fd = x->log->fds[k].fd, r = -ESRCH;
	uint64_t ofd = x->log->fds[k].ofd, ino;

	if (exec_holds(l, p, fd, ofd, &ino))
		r = l->ops.read_fd_locked(l->ops.userdata, p->pid, fd, ino);
	for (unsigned int c = 1; r < 0 && c <= x->nchildren; c++) {
		struct fdw_proc *kid = fdw_model_proc(l->m, CHILD(x, c)->pid);

		if (kid && kid != p && exec_holds(l, kid, fd, ofd, &ino))
			r = l->ops.read_fd_locked(l->ops.userdata, kid->pid, fd, ino);
	}
	return r;
}

/* Forget leaked fd k: its log entry and its evidence. */
static void exec_drop_fd(struct leak_exec *x, unsigned int k)
{
	size_t n = json_array_size(x->leaked), i = n;

	/* the evidence is in the log's order, unless an allocation failed */
	if (n == x->nfds)
		i = k;
	for (size_t j = 0; i == n && j < n; j++)
		if (json_integer_value(json_object_get(json_array_get(x->leaked, j), "fd")) ==
		    x->log->fds[k].fd)
			i = j;
	if (i < n)
		(void)json_array_remove(x->leaked, i);
	memmove(&x->log->fds[k], &x->log->fds[k + 1], (x->nfds - k - 1) * sizeof(x->log->fds[0]));
	x->nfds--;
}

/*
 * The leaked fds not looked at yet, before they are reported: those that
 * hold a lock were handed over on purpose (the top of the file) and are
 * dropped; an fd whose lock cannot be read is kept (reported). One
 * fdinfo read per new fd of an alert about to fire or be refreshed.
 * Returns how many fds are left.
 */
static unsigned int exec_confirm(struct fdw_leaks *l, struct fdw_proc *p, struct leak_exec *x)
{
	unsigned int k = 0;

	while (k < x->nfds) {
		if (x->log->fds[k].confirmed || x->log->fds[k].race || !l->ops.read_fd_locked ||
		    exec_fd_locked(l, p, x, k) != 1) {
			x->log->fds[k++].confirmed = true;
			continue;
		}
		exec_drop_fd(x, k);
		l->stats.exec_fds_excused++;
	}
	return x->nfds;
}

/* ---- the alert ------------------------------------------------------------ */

void fdw_leak_exec_summary(const json_t *ev, char *summary, size_t len)
{
	const json_t *leaked = json_object_get(ev, "leaked");
	const json_t *kids = json_object_get(ev, "children");
	const json_t *last = json_array_get(kids, json_array_size(kids) - 1); /* the newest */
	json_int_t nfds = json_integer_value(json_object_get(ev, "fds"));
	json_int_t total = json_integer_value(json_object_get(ev, "children_total"));
	json_int_t nrace = json_integer_value(json_object_get(ev, "race_fds"));
	const char *kcomm = json_string_value(json_object_get(last, "comm"));
	char kid[48];
	size_t o, i;
	const json_t *f;

	if (json_is_true(json_object_get(last, "hidden"))) /* server/alert_view.c */
		snprintf(kid, sizeof(kid), "(hidden)");
	else
		snprintf(kid, sizeof(kid), "%s[%lld]", last ? (kcomm ? kcomm : "") : "?",
			 (long long)json_integer_value(json_object_get(last, "pid")));
	o = (size_t)snprintf(summary, len,
			     "%lld fd%s without close-on-exec went into %s it ran (%lld so far, last "
			     "%s):",
			     (long long)nfds, nfds == 1 ? "" : "s",
			     total == 1 ? "a program" : "programs", (long long)total, kid);
	json_array_foreach(leaked, i, f) {
		const json_t *by = json_object_get(f, "opened_by");
		const char *sc = json_string_value(json_object_get(by, "syscall"));
		const char *cm = json_string_value(json_object_get(by, "comm"));

		if (i >= 4 || o >= len)
			break;
		if (json_is_true(json_object_get(f, "hidden"))) {
			/* server/alert_view.c: not the client's to see */
			o += (size_t)snprintf(summary + o, len - o, "%s fd %d (hidden)", i ? "," : "",
					      (int)json_integer_value(json_object_get(f, "fd")));
			continue;
		}
		o += (size_t)snprintf(summary + o, len - o, "%s fd %d %s (%s%s%s)", i ? "," : "",
				      (int)json_integer_value(json_object_get(f, "fd")),
				      json_string_value(json_object_get(f, "target")) ?: "?",
				      sc ? sc : "found in /proc", cm ? " by " : "", cm ? cm : "");
	}
	if (json_array_size(leaked) > 4 && o < len)
		o += (size_t)snprintf(summary + o, len - o, ", ...");
	if (nrace && o < len)
		snprintf(summary + o, len - o,
			 "; %lld made close-on-exec only after the fork (another thread's fork came "
			 "between open and fcntl: open with O_CLOEXEC)", (long long)nrace);
}

static void exec_fire(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
		      uint64_t now, double now_real)
{
	struct leak_exec *x = &st->exec;
	json_t *ev = json_object(), *kids = json_array();
	char summary[768];

	x->pending = false;
	if (!ev || !kids) {
		json_decref(ev);
		json_decref(kids);
		return;
	}
	for (unsigned int k = x->nchildren; k > 0; k--)
		(void)json_array_append_new(kids,
			json_pack("{s:I, s:I, s:o, s:f, s:i}", "pid", (json_int_t)CHILD(x, k)->pid,
				  "seq", (json_int_t)CHILD(x, k)->seq, /* server/alert_view.c */
				  "comm", fdw_json_bytes(CHILD(x, k)->comm),
				  "age_s", leak_age_s(CHILD(x, k)->ts, now),
				  "fds", (int)CHILD(x, k)->nfds));
	(void)json_object_set_new(ev, "fds", json_integer(x->nfds));
	(void)json_object_set_new(ev, "race_fds", json_integer(x->nrace));
	if (x->leaked)
		(void)json_object_set(ev, "leaked", x->leaked);
	else
		(void)json_object_set_new(ev, "leaked", json_array());
	(void)json_object_set_new(ev, "children_total", json_integer((json_int_t)x->children_total));
	(void)json_object_set_new(ev, "children", kids);
	fdw_leak_exec_summary(ev, summary, sizeof(summary));
	(void)leak_alert_fire(l, &x->alert, FDW_ALERT_EXEC_LEAK, p, st, now, now_real, summary, ev);
}

/*
 * Is leaked fd k still leaking? While the process to blame holds it on the
 * same open file description without close-on-exec (its next fork and
 * exec leaks it again; the race form, close-on-exec or not), or while a
 * child it went into still holds it: closing (or marking) the creator's
 * copy after the fork takes nothing back from the child. Resolving on
 * the creator's table alone made the usual form of the leak (open, fork,
 * exec, close the parent's copy) fire and resolve a tick later while the
 * child kept the fd.
 */
static bool exec_fd_leaking(struct fdw_leaks *l, struct fdw_proc *p, const struct leak_exec *x,
			    unsigned int k)
{
	int fd = x->log->fds[k].fd;
	uint64_t ofd = x->log->fds[k].ofd, ino;
	const struct fdw_slot *s = fdw_table_slot(fdw_model_proc_table(l->m, p), fd);

	if (fdw_slot_open(s) && (!s->cloexec || x->log->fds[k].race) &&
	    (!ofd || fdw_ofd_id(fdw_slot_ofd(s)) == ofd))
		return true;
	for (unsigned int c = 1; c <= x->nchildren; c++) {
		struct fdw_proc *kid = fdw_model_proc(l->m, CHILD(x, c)->pid);

		if (kid && kid != p && exec_holds(l, kid, fd, ofd, &ino))
			return true;
	}
	return false;
}

static unsigned int exec_still_leaking(struct fdw_leaks *l, struct fdw_proc *p,
				       const struct leak_exec *x)
{
	unsigned int still = 0;

	for (unsigned int k = 0; k < x->nfds; k++)
		still += exec_fd_leaking(l, p, x, k);
	return still;
}

static void exec_reset(struct leak_exec *x)
{
	x->nfds = 0;
	x->nrace = 0;
	json_decref(x->leaked);
	x->leaked = NULL;
	x->nchildren = x->children_head = 0;
	x->children_total = 0;
	free(x->log);
	x->log = NULL;
}

static void exec_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
		      const struct fdw_table *t, uint64_t now, double now_real)
{
	struct leak_exec *x = &st->exec;
	struct fdw_alert *a = leak_alert_current(l, &x->alert);

	if (x->pending) {
		/* not yet: a shell that runs a command and exits is no news */
		if (!a && now - x->pending_since < (uint64_t)l->cfg.exec_min_age * FDW_NSEC_PER_SEC)
			return;
		if (!exec_confirm(l, p, x) && !a) {
			/* every fd held a lock: nothing to report */
			x->pending = false;
			exec_reset(x);
			return;
		}
		exec_fire(l, p, st, now, now_real);
		return;
	}
	if (!a)
		return;
	if (exec_still_leaking(l, p, x)) {
		leak_alert_seen(a, now_real);
		return;
	}
	leak_alert_resolve(l, &x->alert, now_real,
			   "the leaked fd%s %s closed or close-on-exec now, and no child holds %s",
			   x->nfds == 1 ? "" : "s", x->nfds == 1 ? "is" : "are",
			   x->nfds == 1 ? "it" : "them");
	exec_reset(x);
}

/* An alert from before a restart: its fds are watched again (any OFD: ids
 * do not survive a restart). */
static void exec_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	struct fdw_alert *a = leak_alert_adopt(l, &st->exec.alert, FDW_ALERT_EXEC_LEAK, st);
	struct leak_exec *x = &st->exec;
	const json_t *arr, *o;
	size_t i;

	if (!a)
		return;
	arr = json_object_get(a->evidence, "leaked");
	if (json_array_size(arr) && exec_log(x) < 0)
		return;
	json_array_foreach(arr, i, o) {
		if (x->nfds >= LEAK_EXEC_FDS)
			break;
		x->log->fds[x->nfds].fd = (int)json_integer_value(json_object_get(o, "fd"));
		x->log->fds[x->nfds].ofd = 0;
		x->log->fds[x->nfds].race = json_is_true(json_object_get(o, "race"));
		x->log->fds[x->nfds].confirmed = true; /* reported before */
		x->nrace += x->log->fds[x->nfds].race;
		x->nfds++;
	}
	x->leaked = json_is_array(arr) ? json_deep_copy(arr) : NULL;
}

static void exec_exit(struct fdw_leaks *l, struct leak_proc *st)
{
	json_decref(st->exec.leaked);
	st->exec.leaked = NULL;
	free(st->exec.log);
	st->exec.log = NULL;
}

const struct fdw_detector leak_exec_detector = {
	.name = "exec-leak",
	.on_proc_new = exec_new,
	.on_fd_event = exec_on_fd_event,
	.fd_events = FDW_LEAK_FDEV(FDW_FDEV_EXEC_LEAK),
	.on_tick = exec_tick,
	.on_proc_exit = exec_exit,
};
