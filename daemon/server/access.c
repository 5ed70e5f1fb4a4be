// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Who may see what (docs/api.md, "Access"). A client is privileged when
 * its peer credentials, read once at accept (SO_PEERCRED, and
 * SO_PEERGROUPS for its supplementary groups: the kernel's view, the same
 * one that let it open the socket), say root or group fdwatch; the group's
 * gid is resolved at start and at fdw_server_reload_access(), never per
 * request (NSS may block). Any other client sees only what belongs to a
 * process owned by its own uid and, unless the owner is a user
 * namespace's, whose gids are the client's SO_PEERCRED gid (the kernel's
 * ptrace_may_access compares the caller's gid with the real, effective
 * and saved gids and never looks at supplementary groups; a process of
 * User=alice Group=shadow is not alice's): srv_client_sees_pid() and
 * srv_client_sees_owner() are the one test every route, stream and follower
 * applies.
 *
 * A process's owner (sys/pidinfo.h fdw_pid_owner_read: all four uids of
 * /proc/PID/status, else "mixed", nobody's; in a user namespace, the uid
 * owning its outermost one), with the gid a client needs, is kept in a
 * bounded cache by pid, with the sequence number from which that owner
 * holds: an event belongs to the incarnation of its pid that was alive at
 * its seq. The cache learns every process's owner once when the daemon is
 * ready, then from the events the server sees anyway (no syscall): a fork
 * starts a new incarnation with its parent's owner, an exec's record
 * carries the new program's owner as the probe read it at the exec
 * (FDW_F_OWNER: uids, gids, capabilities, user namespace and dumpable
 * mode; the gid in exit_code; a record without it makes the owner be read
 * again from /proc before it is trusted). setuid() and setgid() themselves
 * are no event: a known owner that changed is noticed at the next read
 * (after OWNER_TTL_NS) and nothing before that read is attributed to the
 * new one.
 * Everything unknown is hidden: an event older than its pid's current
 * incarnation, the events of a process that exited before anyone asked
 * whose it was, a process whose uids differ.
 *
 * A client in another pid namespace than the daemon's (a container the
 * socket is bind-mounted into) is refused outright, root's too
 * (srv_peer_ns(), at accept; every request is then 403): its uid says
 * nothing of which processes the kernel shows it, and the pids the daemon
 * speaks are not its own. So is a client in another user namespace (a
 * sandbox, a rootless container sharing the host's pids), to which the
 * kernel refuses the fds of its own uid's processes outside it, and one
 * whose namespaces cannot be told (it exited before the accept, /proc
 * unreadable).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/log.h"
#include "model/model.h"
#include "server/internal.h"
#include "sys/pidinfo.h"

#define OWNER_TTL_NS (5ull * 1000000000ull) /* a live process's owner is re-read after */
#define OWNERS_MAX 65536			/* pids remembered at once */
#define PEER_GROUPS_MAX 256			/* supplementary groups read per peer */
#define LEARN_BATCH 64				/* owners read per event at start */

struct owner {
	uint32_t uid;	    /* FDW_OWNER_UNKNOWN: to be read from /proc */
	uint32_t gid;	    /* the gid a client of uid `uid` needs (FDW_OWNER_GID_ANY) */
	uint64_t since_seq; /* events from this seq on are this incarnation's */
	uint64_t exec_seq;  /* an exec at this seq, owner not re-read yet; 0: none */
	uint64_t read_ns;   /* CLOCK_MONOTONIC of the last /proc read; 0: never */
	bool gone;	    /* /proc has it no more: uid is the last known owner */
	bool lost;	    /* exec_seq is fdw_server_records_lost()'s, not an exec's */
	bool exited;	    /* its exit was seen: its pid may be another's since */
	/* times marked for a re-read (an exec without its owner's record, a
	 * loss), also when exec_seq stayed as it was: a read in the pool
	 * from before a mark must not clear it (owner_unchanged) */
	uint32_t marks;
};

/* The owner of a process that is gone, for an event at `seq`. */
static uint32_t owner_gone(const struct owner *o, uint64_t seq, uint32_t *gid)
{
	if (seq == UINT64_MAX || (o->exec_seq && seq >= o->exec_seq))
		return FDW_OWNER_UNKNOWN;
	*gid = o->gid;
	return o->uid;
}

/* ---- the group ---------------------------------------------------------- */

int srv_access_resolve(struct fdw_server *s)
{
	const char *name = s->opts.socket_group ? s->opts.socket_group : FDW_SERVER_GROUP;
	struct group gr, *res = NULL;
	char buf[16384];
	int r;

	r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	s->has_group = res != NULL;
	s->group = res ? res->gr_gid : 0;
	return res ? 1 : 0;
}

/* Is `gid` among the peer's supplementary groups (SO_PEERGROUPS)? */
static bool peer_in_group(uv_os_fd_t fd, gid_t gid)
{
	gid_t groups[PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: more than PEER_GROUPS_MAX; not trusted */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

void srv_access_classify(struct client *c, uv_os_fd_t fd)
{
	const struct fdw_server *s = c->srv;

	c->privileged = c->uid == 0;
	if (!c->privileged && s->has_group && c->uid != (uid_t)-1)
		c->privileged = c->gid == s->group || (fd >= 0 && peer_in_group(fd, s->group));
}

/* ---- the client's namespaces --------------------------------------------- */

/* Linux 6.5. Old headers lack it; its number is asm-generic's on these
 * (another arch's would name another option, whose int would be closed) */
#if !defined(SO_PEERPIDFD) && (defined(__x86_64__) || defined(__i386__) || \
			       defined(__aarch64__) || defined(__arm__) || defined(__riscv))
#define SO_PEERPIDFD 77
#endif

/* The namespaces a client must share with the daemon: s->ns[i] is the
 * daemon's /proc/self/ns/<ns_names[i]>. */
static const char *const ns_names[] = { "pid", "user" };
_Static_assert(sizeof(ns_names) / sizeof(*ns_names) == SRV_NS_N, "one name a namespace");

/* The namespaces of the process whose /proc directory is `dir` into id[]:
 * 0, or -errno. stat(2) alone: no fd. */
static int ns_read(const char *dir, struct srv_ns id[SRV_NS_N])
{
	char path[64];
	struct stat st;

	for (size_t i = 0; i < SRV_NS_N; i++) {
		snprintf(path, sizeof(path), "%s/ns/%s", dir, ns_names[i]);
		if (stat(path, &st) < 0)
			return -errno;
		id[i] = (struct srv_ns){ .dev = st.st_dev, .ino = st.st_ino };
	}
	return 0;
}

int srv_access_ns_self(struct fdw_server *s)
{
	int r;

	s->has_ns = false;
	r = ns_read("/proc/self", s->ns);
	if (r < 0)
		return r;
	s->has_ns = true;
	return 0;
}

/*
 * Is the peer of socket `fd` (-1: none, `pid` alone), whose SO_PEERCRED
 * pid is `pid`, in the daemon's pid namespace and user namespace? 1 yes,
 * 0 another, -errno when it cannot be told (the caller takes that as
 * another). A process never changes its own pid namespace (setns() and
 * unshare() move its children only), so once is enough. Its user
 * namespace it can change, but only to one it is less privileged in
 * (unshare) or to one it holds CAP_SYS_ADMIN in (setns): read now, a
 * client that left the daemon's since its connect is refused. Another
 * user namespace: the kernel refuses /proc/PID/fd even of its own uid's
 * processes outside it (cap_ptrace_access_check: no CAP_SYS_PTRACE in
 * theirs), which its host uid (SO_PEERCRED) does not say. `pid` is the peer's when it
 * connected: a pidfd of that very process (SO_PEERPIDFD) that has not
 * exited after /proc/PID/ns/ was read proves the files were its, not a
 * reused pid's. Without SO_PEERPIDFD (before 6.5), the pid is trusted as
 * the kernel's SO_PEERCRED gives it. A pid of 0: the peer is in no
 * namespace below ours (the kernel could not name it to us).
 */
int srv_peer_ns(const struct fdw_server *s, int fd, pid_t pid)
{
	struct srv_ns id[SRV_NS_N];
	char dir[32];
	int pidfd = -1, r;
	socklen_t len = sizeof(pidfd);

	if (pid <= 0)
		return 0;
	if (!s->has_ns)
		return -ENOENT;
#ifdef SO_PEERPIDFD
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		if (errno != ENOPROTOOPT)
			return -errno; /* ESRCH, EINVAL: gone already */
		pidfd = -1;
	} else if (fd >= 0 && len != sizeof(pidfd)) {
		if (pidfd >= 0)
			(void)close(pidfd);
		return -EINVAL;
	}
#else
	(void)fd;
	(void)len;
#endif
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	r = ns_read(dir, id);
	if (r == 0 && pidfd >= 0) {
		/* the kernel's pidfds are O_CLOEXEC; POLLIN: it exited */
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n = poll(&p, 1, 0);

		if (n != 0)
			r = n < 0 ? -errno : -ESRCH;
	}
	if (pidfd >= 0)
		(void)close(pidfd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < SRV_NS_N; i++) {
		if (id[i].dev != s->ns[i].dev || id[i].ino != s->ns[i].ino)
			return 0;
	}
	return 1;
}

/* ---- process owners ------------------------------------------------------- */

static int read_owner(const struct fdw_server *s, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	*gid = FDW_OWNER_GID_ANY; /* a test's reader may know no gid */
	if (s->deps.read_owner)
		return s->deps.read_owner(s->deps.owner_userdata, pid, uid, gid);
	return fdw_pid_owner_read(NULL, pid, uid, gid);
}

/* Forget the owners of processes the model no longer has (they exited):
 * the events of an exited process are hidden from then on. */
static void owners_prune(struct fdw_server *s)
{
	struct fdw_model *m = s->deps.model;
	uint64_t *dead, key;
	size_t it = 0, n = 0;
	void *v;

	dead = malloc(fdw_hashmap_size(&s->owners) * sizeof(*dead) + 1);
	if (!dead)
		return;
	while (fdw_hashmap_next(&s->owners, &it, &key, &v))
		if (!m || !fdw_model_proc(m, (uint32_t)key))
			dead[n++] = key;
	for (size_t i = 0; i < n; i++)
		free(fdw_hashmap_remove(&s->owners, dead[i]));
	s->owners_evicted += n;
	free(dead);
	/* a pid forgotten may come back as an entry read from /proc: nothing
	 * older than now may be attributed to it */
	s->owners_floor = s->last_seq + 1;
}

/* The entry of `pid`, made (owner unknown) when missing. NULL when the
 * cache is full of live processes or out of memory (counted). */
static struct owner *owner_entry(struct fdw_server *s, uint32_t pid, uint64_t since)
{
	struct owner *o = fdw_hashmap_get(&s->owners, pid);

	if (o)
		return o;
	if (fdw_hashmap_size(&s->owners) >= OWNERS_MAX) {
		uint64_t now = fdw_now_mono();

		/* a walk of the whole cache: at most once a second */
		if (now - s->owners_pruned_ns >= 1000000000ull) {
			s->owners_pruned_ns = now;
			owners_prune(s);
		}
	}
	if (fdw_hashmap_size(&s->owners) >= OWNERS_MAX)
		goto refused;
	o = calloc(1, sizeof(*o));
	if (!o)
		goto refused;
	o->uid = FDW_OWNER_UNKNOWN;
	o->gid = FDW_OWNER_GID_ANY;
	o->since_seq = since;
	if (fdw_hashmap_put(&s->owners, pid, o) < 0) {
		free(o);
		goto refused;
	}
	return o;
refused:
	s->owners_refused++;
	s->owners_floor = s->last_seq + 1;
	return NULL;
}

void srv_access_learn(struct fdw_server *s, uint32_t pid)
{
	struct owner *o;
	uint32_t uid, gid;

	if (fdw_hashmap_get(&s->owners, pid) || read_owner(s, pid, &uid, &gid) < 0)
		return;
	o = owner_entry(s, pid, s->owners_floor);
	if (!o)
		return;
	o->uid = uid;
	o->gid = gid;
	o->read_ns = fdw_now_mono();
}

/*
 * From the first event after start-up is done: the owner of every process
 * the model has (one /proc read each), so that the children they fork
 * start with a known owner and a later setuid() shows as a change (fail
 * closed) instead of being taken for the owner all along. LEARN_BATCH per
 * event, not all at once: 10,000 processes would stall the loop. A process
 * the walk misses (the map changed under it) is learnt at its first
 * lookup instead, with nothing before that attributed.
 */
static void owners_learn_some(struct fdw_server *s)
{
	struct fdw_model *m = s->deps.model;
	uint64_t key;

	for (unsigned int n = 0; n < LEARN_BATCH; n++) {
		if (!m || !fdw_hashmap_next(&m->procs, &s->owners_learn_it, &key, NULL)) {
			s->owners_learnt = true;
			return;
		}
		srv_access_learn(s, (uint32_t)key);
	}
}

void srv_access_note_event(struct fdw_server *s, const struct fdw_history_entry *e)
{
	struct owner *parent, *child;

	if (e->seq >= s->last_seq)
		s->last_seq = e->seq;
	if (!s->owners_learnt && (!s->deps.ready || *s->deps.ready))
		owners_learn_some(s);
	switch (e->type) {
	case FDW_REC_FORK:
		if ((e->flags & FDW_F_THREAD) || !e->u.task.child_pid || e->u.task.child_pid == e->pid)
			return;
		/* a new incarnation of child_pid: whatever was known is not its */
		parent = fdw_hashmap_get(&s->owners, e->pid);
		child = owner_entry(s, e->u.task.child_pid, e->seq);
		if (!child)
			return;
		if (parent && parent->exec_seq && parent->lost) {
			/* its parent's owner, to be read again first, like the
			 * parent's (records were lost: fdw_server_records_lost) */
			*child = (struct owner){ .uid = parent->uid, .gid = parent->gid,
						 .since_seq = e->seq, .exec_seq = e->seq,
						 .lost = true };
			break;
		}
		*child = (struct owner){
			.uid = parent && !parent->exec_seq ? parent->uid : FDW_OWNER_UNKNOWN,
			.gid = parent && !parent->exec_seq ? parent->gid : FDW_OWNER_GID_ANY,
			.since_seq = e->seq,
			.read_ns = parent && !parent->exec_seq ? parent->read_ns : 0,
		};
		break;
	case FDW_REC_EXEC:
		if (e->flags & FDW_F_OWNER) {
			/* the probe read the new program's owner at its exec:
			 * from the exec on it is that one's (a later setuid()
			 * is noticed by the next read, as always) */
			bool nobody = e->u.task.child_tid == FDW_EXEC_OWNER_NOBODY;
			uint32_t uid = nobody ? FDW_OWNER_MIXED : e->u.task.child_tid;
			/* its gid rides in exit_code (include/fdwatch_event.h) */
			uint32_t gid = nobody ? FDW_OWNER_GID_ANY : (uint32_t)e->u.task.exit_code;

			child = fdw_hashmap_get(&s->owners, e->pid);
			if (!child) {
				child = owner_entry(s, e->pid, e->seq);
				if (!child)
					return;
				child->since_seq = e->seq;
			} else if (child->uid != uid || child->gid != gid || child->exec_seq) {
				child->since_seq = e->seq;
			}
			child->uid = uid;
			child->gid = gid;
			child->exec_seq = 0;
			child->lost = false;
			child->gone = false;
			child->exited = false;
			child->read_ns = fdw_now_mono();
			return;
		}
		/* a setuid program may run now: read its owner before trusting it */
		child = fdw_hashmap_get(&s->owners, e->pid);
		if (!child) {
			/* unknown before: nothing before the exec is attributed */
			child = owner_entry(s, e->pid, e->seq);
			if (child)
				child->since_seq = e->seq;
		} else {
			if (!child->exec_seq)
				child->exec_seq = e->seq;
			child->lost = false; /* an exec's: its children unknown */
			child->marks++;
		}
		break;
	case FDW_REC_EXIT:
		if (e->flags & FDW_F_GROUP_DEAD) {
			/* a fork that reuses its pid makes a new entry; one
			 * whose record is lost does not (records_lost) */
			child = fdw_hashmap_get(&s->owners, e->pid);
			if (child)
				child->exited = true;
		}
		break;
	default:
		break;
	}
}

/*
 * Records were lost: which, the kernel does not say, only whose (its
 * per-process count, `tgids`; NULL when that overflowed). An exec of a
 * setuid or setgid program may be one, whose FDW_F_OWNER record would have
 * changed the owner: without it, the owner cached before (the user who ran
 * it) would take the program's events until the next read (OWNER_TTL_NS).
 * So the owner of each process that may have changed is as after an exec
 * without its record: read again from /proc before an event from
 * `since_seq` on (applied since the last look at the lost count) is
 * attributed; an owner found changed takes them (fail closed), one found
 * the same hides nothing. Which may have changed: those whose records were
 * lost; those whose entry came to be since `since_seq` (the fork of a
 * child of a program whose exec was lost may have come before the loss was
 * seen, and the child took the caller's owner; a fork record lost is
 * counted as its parent's, and hides whose child came of it); and those
 * seen to exit (a fork whose record is lost may have taken the pid, and
 * nothing made a new entry for it). Not the others: under sustained loss,
 * marking every owner made an unprivileged client's status, process list
 * and follow stream read every process's owner again after each drain
 * (bench/RESULTS.md, 2026-12-02). One pass over the cache per loss seen (at
 * most once per drain), no /proc read until someone asks.
 */
void fdw_server_records_lost(struct fdw_server *s, uint64_t since_seq,
			     const struct fdw_hashmap *tgids)
{
	uint64_t key;
	size_t it = 0;
	void *v;

	if (!s)
		return;
	s->owners_losses++; /* a pid with no entry: owners_done */
	while (fdw_hashmap_next(&s->owners, &it, &key, &v)) {
		struct owner *o = v;
		uint64_t mark = since_seq > o->since_seq ? since_seq : o->since_seq;

		if (o->gone)
			continue;
		if (tgids && o->since_seq < since_seq && !o->exited &&
		    !fdw_hashmap_get(tgids, key))
			continue; /* none of its records lost, none it may have made */
		o->marks++; /* a read in the pool from before: not taken */
		if (o->uid == FDW_OWNER_UNKNOWN)
			continue; /* read at its next look anyway */
		if (!o->exec_seq) {
			o->exec_seq = mark;
			o->lost = true;
		} else if (o->exec_seq > mark) {
			o->exec_seq = mark; /* an exec's mark, after the loss */
		}
	}
}

/* Would srv_owner_of(pid, seq) read the owner of `pid` (entry `o`, NULL:
 * none) from /proc now? Unknown, its exec's owner not read yet (for an
 * event from the exec on), or last read OWNER_TTL_NS ago; never for an
 * earlier process with this pid or one that is gone. */
static bool owner_needs_read(const struct owner *o, uint64_t seq, uint64_t now)
{
	if (!o)
		return true;
	if (seq < o->since_seq || o->gone)
		return false;
	if (o->uid == FDW_OWNER_UNKNOWN)
		return true;
	if (o->exec_seq)
		return seq >= o->exec_seq;
	return now - o->read_ns >= OWNER_TTL_NS;
}

/*
 * A read of `pid`'s owner (result `r`, `uid`, `gid`, done at `now`) taken
 * into its entry `o` (NULL: none, made here), and the owner for an event
 * at `seq` that follows. The one place a /proc read changes the cache:
 * srv_owner_of's inline read and the pool's (owners_done) both come here.
 */
static uint32_t owner_take(struct fdw_server *s, uint32_t pid, struct owner *o, uint64_t seq,
			   int r, uint32_t uid, uint32_t gid, uint64_t now, uint32_t *gidp)
{
	if (!o) {
		/* a process whose fork we did not see and that was not there
		 * when the owners were learnt: what it did before this look
		 * may have been done as someone else (setuid() is not an
		 * event), so it is nobody's */
		uint64_t since = s->last_seq + 1;

		o = owner_entry(s, pid, since);
		if (!o) {
			if (r < 0 || seq < since)
				return FDW_OWNER_UNKNOWN;
			*gidp = gid;
			return uid;
		}
	}
	if (r < 0) {
		/* gone (or unreadable): not read again until its pid is reused */
		o->gone = true;
		return owner_gone(o, seq, gidp);
	}
	if (o->uid == FDW_OWNER_UNKNOWN) {
		/* never read: a fork of a parent whose owner was not known (not
		 * learnt yet, the cache full), an exec without its owner's
		 * record. What it did before this read may have been done as
		 * another identity (a root worker that dropped to a user and
		 * made itself dumpable again): nothing before it is attributed */
		if (o->since_seq <= s->last_seq)
			o->since_seq = s->last_seq + 1;
		o->exec_seq = 0;
	} else if (o->exec_seq) {
		if (uid != o->uid || gid != o->gid)
			o->since_seq = o->exec_seq; /* another identity from the exec on */
		o->exec_seq = 0;
		o->lost = false;
	} else if (uid != o->uid || gid != o->gid) {
		/* changed without an exec (setuid(), setgid()): since when,
		 * we do not know */
		o->since_seq = s->last_seq + 1;
	}
	o->uid = uid;
	o->gid = gid;
	o->read_ns = now;
	if (seq < o->since_seq)
		return FDW_OWNER_UNKNOWN;
	*gidp = gid;
	return uid;
}

/*
 * The owner of `pid` for an event with sequence number `seq` (UINT64_MAX:
 * the process as it is now). FDW_OWNER_UNKNOWN when it cannot be known.
 */
uint32_t srv_owner_of(struct fdw_server *s, uint32_t pid, uint64_t seq, uint32_t *gidp)
{
	uint64_t now = fdw_now_mono();
	struct owner *o = fdw_hashmap_get(&s->owners, pid);
	uint32_t uid, gid, dummy;
	int r;

	if (!gidp)
		gidp = &dummy;
	*gidp = FDW_OWNER_GID_ANY;
	if (!owner_needs_read(o, seq, now)) {
		if (seq < o->since_seq)
			return FDW_OWNER_UNKNOWN; /* an earlier process with this pid */
		if (o->gone)
			return owner_gone(o, seq, gidp);
		/* fresh, or before its exec it was still the old program */
		*gidp = o->gid;
		return o->uid;
	}
	r = read_owner(s, pid, &uid, &gid);
	return owner_take(s, pid, o, seq, r, uid, gid, now, gidp);
}

/* ---- owners read in the thread pool ---------------------------------------- */

/*
 * An unprivileged client's status, process list, event list and event
 * follow stream's backlog ask for the owner of every process (or of every pid in the history): past
 * OWNER_TTL_NS each is a /proc read (~60 us), 0.3 s of a blocked loop for
 * 5,000 idle processes, which anyone may ask for again every 5 seconds.
 * So before such a request is served, the owners it will need to read
 * are read in libuv's thread pool (pool.c, as refresh.c's names: the work
 * item is the server's; a client asking meanwhile joins it, then looks
 * again; a client that closes only detaches) and taken on the loop by
 * owner_take() exactly as an inline read
 * would be, but only into an entry that has not changed since it was
 * looked at (an exec, fork, exit, loss or another read meanwhile: the
 * inline read handles that one). What is left, few owners, srv_owner_of()
 * still reads inline.
 *
 * Bounded: at most OWNERS_MAX_JOBS items in flight, OWNERS_MAX_PIDS pids
 * each; past a bound the rest are read inline as before and the skip is
 * counted (status: dropped.owner_prefetches). Fewer than OWNERS_MIN owners
 * to read are read inline at once.
 */
#define OWNERS_MIN 32
#define OWNERS_MAX_JOBS 2
#define OWNERS_MAX_PIDS 16384

struct owner_read {
	uint32_t pid;
	bool had;	  /* there was an entry ... */
	struct owner was; /* ... as it was then */
	int r;		  /* the read: 0 or -errno */
	uint32_t uid, gid;
	uint64_t read_ns; /* when it was done */
};

struct srv_owners {
	struct srv_job job; /* first: the pool's item (pool.c) */
	/* the reader, as deps had it when the item was made */
	int (*read_owner)(void *userdata, uint32_t pid, uint32_t *uid, uint32_t *gid);
	void *owner_userdata;
	uint64_t losses; /* s->owners_losses when it was made */
	uint64_t refused; /* s->owners_refused when it was made */
	struct owner_read *reads;
	size_t n, cap;
};
_Static_assert(offsetof(struct srv_owners, job) == 0, "srv_job_new() allocates it");

/* In a thread of the pool: nothing of the loop's is touched. */
static void owners_work(struct srv_job *j)
{
	struct srv_owners *w = (struct srv_owners *)j;

	for (size_t i = 0; i < w->n; i++) {
		struct owner_read *rd = &w->reads[i];

		rd->gid = FDW_OWNER_GID_ANY;
		rd->r = w->read_owner ? w->read_owner(w->owner_userdata, rd->pid, &rd->uid, &rd->gid)
				      : fdw_pid_owner_read(NULL, rd->pid, &rd->uid, &rd->gid);
		rd->read_ns = fdw_now_mono();
	}
}

/* Is entry `o` (NULL: none) as `rd` saw it? */
static bool owner_unchanged(const struct owner *o, const struct owner_read *rd)
{
	const struct owner *w = &rd->was;

	if (!o || !rd->had)
		return !o && !rd->had;
	return o->uid == w->uid && o->gid == w->gid && o->since_seq == w->since_seq &&
	       o->exec_seq == w->exec_seq && o->read_ns == w->read_ns && o->gone == w->gone &&
	       o->lost == w->lost && o->exited == w->exited && o->marks == w->marks;
}

/* On the loop: the reads taken into the cache, each unless its entry
 * changed meanwhile. */
static void owners_done(struct srv_job *j, int status)
{
	struct srv_owners *w = (struct srv_owners *)j;
	struct fdw_server *s = j->s;

	for (size_t i = 0; status == 0 && !s->stopping && i < w->n; i++) {
		const struct owner_read *rd = &w->reads[i];
		struct owner *o = fdw_hashmap_get(&s->owners, rd->pid);
		uint32_t gid;

		/* a pid with no entry may be another process since a loss
		 * (its exit and a fork reusing it lost), or since an entry
		 * was refused (the cache full: the fork or exec that made it
		 * another's left no entry to differ): nothing says */
		if (!o && (w->losses != s->owners_losses || w->refused != s->owners_refused))
			continue;
		if (owner_unchanged(o, rd))
			(void)owner_take(s, rd->pid, o, UINT64_MAX, rd->r, rd->uid, rd->gid,
					 rd->read_ns, &gid);
	}
}

static void owners_wake(struct srv_job *j, struct client *c)
{
	(void)j;
	if (c->owners_joined)
		srv_owners_then(c, c->owners_then); /* it may need others */
	else
		c->owners_then(c);
}

static void owners_release(struct srv_job *j)
{
	free(((struct srv_owners *)j)->reads);
}

static const struct srv_job_ops owners_ops = {
	.work = owners_work,
	.done = owners_done,
	.wake = owners_wake,
	.release = owners_release,
};

/* pid's owner to be read (for an event at `seq`), unless it needs none,
 * is in `w` already or `w` is full. */
static void owners_want(struct fdw_server *s, struct srv_owners *w, struct fdw_hashmap *seen,
			uint32_t pid, uint64_t seq, uint64_t now, bool *over)
{
	struct owner *o = fdw_hashmap_get(&s->owners, pid);
	struct owner_read *rd;

	if (!pid || !owner_needs_read(o, seq, now) || (seen && fdw_hashmap_get(seen, pid)))
		return;
	if (w->n >= OWNERS_MAX_PIDS) {
		*over = true;
		return;
	}
	if (seen && fdw_hashmap_put(seen, pid, (void *)1) < 0)
		return;
	if (FDW_GROW(w->reads, w->n, w->cap, 64) < 0) {
		*over = true;
		return;
	}
	rd = &w->reads[w->n++];
	*rd = (struct owner_read){ .pid = pid, .had = o != NULL };
	if (o)
		rd->was = *o;
}

/* The owners `c`'s request (c->owners_for) will read, into `w`. */
static void owners_collect(struct client *c, struct srv_owners *w, bool *over)
{
	struct fdw_server *s = c->srv;
	struct fdw_model *m = s->deps.model;
	const struct fdw_history *h = s->deps.history;
	uint64_t now = fdw_now_mono(), key;
	struct fdw_hashmap seen;
	size_t it = 0;

	if (c->owners_for == SRV_OWNERS_PROCS) {
		while (m && fdw_hashmap_next(&m->procs, &it, &key, NULL))
			owners_want(s, w, NULL, (uint32_t)key, UINT64_MAX, now, over);
		return;
	}
	/* the history's pids (of c->owners_pid, 0: all), for their events */
	fdw_hashmap_init(&seen);
	for (uint64_t i = h ? h->len : 0; i > 0 && !*over; i--) {
		const struct fdw_history_entry *e = fdw_history_at(h, i - 1);

		if (!c->owners_pid || e->pid == c->owners_pid)
			owners_want(s, w, &seen, e->pid, e->seq, now, over);
	}
	fdw_hashmap_free(&seen);
}

void srv_owners_then(struct client *c, void (*then)(struct client *c))
{
	struct fdw_server *s = c->srv;
	bool joined = c->owners_joined, over = false;
	struct srv_owners *w;

	c->owners_then = then;
	c->owners_joined = false;
	if (c->privileged || s->stopping) {
		then(c);
		return;
	}
	w = srv_job_new(s, &owners_ops, sizeof(*w));
	if (!w) {
		s->owners_skipped++;
		then(c);
		return;
	}
	owners_collect(c, w, &over);
	if (w->n < OWNERS_MIN) {
		srv_job_free(&w->job);
		then(c); /* few: inline */
		return;
	}
	/* an item in flight is another client's: wait for it first (their
	 * owners are often the same), once, then look again */
	if (s->owners_jobs && !joined && srv_job_wait(s->owners_jobs, c)) {
		c->owners_joined = true;
		srv_job_free(&w->job);
		return;
	}
	w->read_owner = s->deps.read_owner;
	w->owner_userdata = s->deps.owner_userdata;
	w->losses = s->owners_losses;
	w->refused = s->owners_refused;
	if (s->owners_reading >= OWNERS_MAX_JOBS || !srv_job_wait(&w->job, c) ||
	    srv_job_queue(&w->job, &s->owners_jobs, &s->owners_reading) < 0) {
		srv_job_detach(c);
		srv_job_free(&w->job);
		s->owners_skipped++;
		then(c);
		return;
	}
	if (over)
		s->owners_skipped++; /* the rest inline */
}

void srv_access_free(struct fdw_server *s)
{
	size_t it = 0;
	void *v;

	while (fdw_hashmap_next(&s->owners, &it, NULL, &v))
		free(v);
	fdw_hashmap_free(&s->owners);
	it = 0;
	while (fdw_hashmap_next(&s->sites_budget, &it, NULL, &v))
		free(v);
	fdw_hashmap_free(&s->sites_budget);
}

/* ---- a uid's share of the loop's time for leak sites ---------------------- */

/*
 * GET /v1/leaks?pid= groups the process's table into leak sites on the loop
 * (detect/sites.c): O(fds), ~9 ms for 19,000 fds on the test VM, and any
 * user may ask for its own process again and again from many connections
 * (hostile: 16 connections held root's status at p50 86 ms). An
 * unprivileged uid may spend a SITES_SHARE_DIV-th of the loop's time on
 * them, refilled as time passes, SITES_BURST_NS at once; past it the
 * request is 429 and counted (dropped.leak_sites). Root and the group are
 * not bound. SITES_BUDGETS_MAX uids are remembered; a full budget is
 * forgotten first, and with none to forget a new uid is refused.
 */
#define SITES_SHARE_DIV 10
#define SITES_BURST_NS (250 * 1000000ll)
#define SITES_BUDGETS_MAX 4096

struct sites_budget {
	int64_t ns;  /* loop time left, in ns (below 0: owed) */
	uint64_t at; /* CLOCK_MONOTONIC of the last refill */
};

static void sites_refill(struct sites_budget *b, uint64_t now)
{
	if (now > b->at) {
		uint64_t add = (now - b->at) / SITES_SHARE_DIV;

		b->ns = add >= (uint64_t)(SITES_BURST_NS - b->ns) ? SITES_BURST_NS
								  : b->ns + (int64_t)add;
		b->at = now;
	}
}

static struct sites_budget *sites_budget(struct fdw_server *s, uint32_t uid, uint64_t now)
{
	struct sites_budget *b = fdw_hashmap_get(&s->sites_budget, uid);
	size_t it = 0;
	uint64_t key;
	void *v;

	if (b) {
		sites_refill(b, now);
		return b;
	}
	while (fdw_hashmap_size(&s->sites_budget) >= SITES_BUDGETS_MAX &&
	       fdw_hashmap_next(&s->sites_budget, &it, &key, &v)) {
		sites_refill(v, now);
		if (((struct sites_budget *)v)->ns < SITES_BURST_NS)
			continue;
		free(fdw_hashmap_remove(&s->sites_budget, key));
		it = 0; /* the map may have shrunk under the walk */
	}
	if (fdw_hashmap_size(&s->sites_budget) >= SITES_BUDGETS_MAX)
		return NULL;
	b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	b->ns = SITES_BURST_NS;
	b->at = now;
	if (fdw_hashmap_put(&s->sites_budget, uid, b) < 0) {
		free(b);
		return NULL;
	}
	return b;
}

bool srv_sites_admit(struct client *c, uint64_t now)
{
	struct sites_budget *b;

	if (c->privileged)
		return true;
	b = sites_budget(c->srv, c->uid, now);
	if (b && b->ns > 0)
		return true;
	c->srv->sites_refused++;
	return false;
}

void srv_sites_charge(struct client *c, uint64_t ns, uint64_t now)
{
	struct sites_budget *b;

	if (c->privileged)
		return;
	b = sites_budget(c->srv, c->uid, now);
	if (b)
		b->ns -= ns > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ns;
}

/* ---- the one test --------------------------------------------------------- */

bool srv_client_sees_owner(const struct client *c, uint32_t uid, uint32_t gid)
{
	if (c->privileged)
		return true;
	/* the kernel's ptrace_may_access(PTRACE_MODE_READ_FSCREDS): the
	 * caller's uid is the process's uids, and its gid (only the one
	 * SO_PEERCRED gives, never a supplementary group) the process's gids */
	return uid < FDW_OWNER_MIXED && uid == (uint32_t)c->uid &&
	       (gid == FDW_OWNER_GID_ANY || gid == (uint32_t)c->gid);
}

bool srv_client_sees_pid(struct client *c, uint32_t pid, uint64_t seq)
{
	uint32_t uid, gid;

	if (c->privileged)
		return true;
	uid = srv_owner_of(c->srv, pid, seq, &gid);
	return srv_client_sees_owner(c, uid, gid);
}

bool srv_client_sees_origin(struct client *c, uint32_t pid, const struct fdw_origin *o,
			    bool seqless_seen)
{
	if (c->privileged)
		return true;
	if ((!o || !o->seq) && seqless_seen)
		return true;
	return srv_client_sees_pid(c, o && o->pid ? o->pid : pid, o ? o->seq : 0);
}
