// SPDX-License-Identifier: LGPL-2.1-or-later
/* server/access.c: whose process an event belongs to, through forks, execs
 * of setuid programs, exits and reused pids; who sees which uid and alert;
 * sys/pidinfo.c's owner from a status file. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "check.h"
#include "detect/leaks.h"
#include "server/internal.h"
#include "sys/pidinfo.h"

/* the kernel's view, as the test sets it: owner[pid], 0 meaning gone */
static uint32_t owner_now[1024];
/* ... and the gid a client needs, gid_now[pid] (0: any gid) */
static uint32_t gid_now[1024];
/* reads of owner_now[] so far */
static unsigned int owner_reads;

static int fake_owner(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	(void)u;
	owner_reads++;
	if (pid >= 1024 || !owner_now[pid])
		return -ESRCH;
	*uid = owner_now[pid] == 9999 ? 0 : owner_now[pid];
	if (gid_now[pid])
		*gid = gid_now[pid];
	return 0;
}

static struct fdw_history_entry ev(uint64_t seq, uint16_t type, uint32_t pid, uint32_t child)
{
	struct fdw_history_entry e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	e.type = (uint8_t)type;
	e.pid = pid;
	e.u.task.child_pid = child;
	return e;
}

static void note(struct fdw_server *s, uint64_t seq, uint16_t type, uint32_t pid, uint32_t child)
{
	struct fdw_history_entry e = ev(seq, type, pid, child);

	srv_access_note_event(s, &e);
}

#define ROOT 9999 /* owner_now value for uid 0 */

/* An alert of `kind` for `pid`, owned by uid and gid, in store st. */
static void fire(struct fdw_alerts *st, enum fdw_alert_kind kind, uint32_t pid, uint32_t uid,
		 uint32_t gid)
{
	struct fdw_alert_proc p = { .pid = pid, .start_ticks = 1, .comm = "app", .uid = uid,
				    .gid = gid };

	CHECK(fdw_alerts_fire(st, kind, &p, 1.0, "an alert", NULL) != NULL);
}

/* The ids of the alerts srv_alerts_next() gives c, as "1,3," (static). */
static const char *ids_seen(struct client *c, uint32_t pid, bool races)
{
	static char buf[256];
	uint64_t after = 0;
	bool oom = false;
	json_t *a;

	buf[0] = '\0';
	while ((a = srv_alerts_next(c, &after, pid, races, &oom))) {
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, "%lld,",
			 (long long)json_integer_value(json_object_get(a, "id")));
		json_decref(a);
	}
	CHECK(!oom);
	return buf;
}

/*
 * A fork whose parent's owner is not known (not learnt yet at start-up,
 * or the cache was full): the child's owner is known only from its first
 * read, and what it did between the fork and that read may have been
 * done as someone else (a root worker that drops to a user and makes
 * itself dumpable again: setuid() is no event). Nothing before the read is
 * attributed, as for a process whose fork was not seen.
 */
static void test_fork_unknown_parent(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);

	owner_now[30] = ROOT; /* root's, never looked at */
	note(s, 100, FDW_REC_FORK, 30, 850);
	note(s, 101, FDW_REC_SYSCALL, 850, 0); /* an open as root */
	owner_now[850] = 1000;		       /* setresuid(1000), dumpable again */
	note(s, 102, FDW_REC_SYSCALL, 850, 0);
	CHECK_EQ(srv_owner_of(s, 850, 101, NULL), FDW_OWNER_UNKNOWN);
	CHECK_EQ(srv_owner_of(s, 850, 102, NULL), FDW_OWNER_UNKNOWN);
	note(s, 103, FDW_REC_SYSCALL, 850, 0);
	CHECK_EQ(srv_owner_of(s, 850, 103, NULL), 1000); /* after the read: its owner's */
	CHECK_EQ(srv_owner_of(s, 850, UINT64_MAX, NULL), 1000);
	owner_now[30] = owner_now[850] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * Records lost, a setuid program's exec among them (the user flooded the
 * ring on purpose): its later events came with no exec before them, and the
 * user's cached owner (fresh, within OWNER_TTL_NS) took them. After
 * fdw_server_records_lost(), every owner is read again before an event
 * since the last look at the lost count is attributed: the program's are
 * root's (and, as after an exec that changed the owner, nothing before is
 * the user's); a process whose owner did not change keeps its events.
 */
static void test_records_lost(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);

	owner_now[40] = 1000; /* the user's shell */
	owner_now[41] = 1000; /* another of the user's processes */
	srv_access_learn(s, 40);
	srv_access_learn(s, 41);
	note(s, 200, FDW_REC_SYSCALL, 40, 0);
	CHECK_EQ(srv_owner_of(s, 40, 200, NULL), 1000);
	/* 201: the exec of a setuid program, lost; then its records */
	owner_now[40] = ROOT;
	note(s, 202, FDW_REC_SYSCALL, 40, 0);
	note(s, 203, FDW_REC_SYSCALL, 41, 0);
	fdw_server_records_lost(s, 201, NULL); /* the lost count seen after 200 */
	CHECK_EQ(srv_owner_of(s, 40, 202, NULL), 0);
	/* the identity changed since the loss: what came before, nobody's
	 * (as after an exec whose owner changed, test_owners) */
	CHECK_EQ(srv_owner_of(s, 40, 200, NULL), FDW_OWNER_UNKNOWN);
	CHECK_EQ(srv_owner_of(s, 41, 203, NULL), 1000); /* unchanged: nothing hidden */
	CHECK_EQ(srv_owner_of(s, 41, 199, NULL), 1000);
	/* a setuid program that forked after its lost exec (the fork record
	 * came, before the loss was seen): its child inherited the user's
	 * owner; read again, it is root's */
	owner_now[50] = 1000;
	srv_access_learn(s, 50);
	note(s, 300, FDW_REC_SYSCALL, 50, 0);
	owner_now[50] = ROOT; /* 301: its exec, lost */
	note(s, 302, FDW_REC_FORK, 50, 51);
	owner_now[51] = ROOT;
	note(s, 303, FDW_REC_SYSCALL, 51, 0);
	fdw_server_records_lost(s, 301, NULL);
	CHECK_EQ(srv_owner_of(s, 51, 303, NULL), 0);
	/* forks after the loss was seen: the child of a process still to be
	 * read again is read again too (not nobody's: its parent's owner may
	 * well be unchanged, as 41's is) */
	note(s, 304, FDW_REC_FORK, 50, 52);
	owner_now[52] = ROOT;
	CHECK_EQ(srv_owner_of(s, 52, 305, NULL), 0);
	fdw_server_records_lost(s, 306, NULL);
	note(s, 307, FDW_REC_FORK, 41, 43);
	owner_now[43] = 1000;
	CHECK_EQ(srv_owner_of(s, 43, 308, NULL), 1000);
	owner_now[40] = owner_now[41] = owner_now[43] = 0;
	owner_now[50] = owner_now[51] = owner_now[52] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * Records lost, and the kernel says whose (its per-process count): only
 * the owners that may have changed are read again, not every process's
 * at every drain that saw a loss (an unprivileged client's status read
 * them all). Those are: the processes whose records were lost (the
 * setuid program's exec), the children forked since the last look at the
 * lost count (a child of that program whose fork record came before the
 * loss was seen took the user's owner), and a pid seen to exit (a process
 * whose fork record was lost, counted as its parent's, may have it now:
 * nothing made a new entry for it). Another process of the user's,
 * unchanged, keeps its events without a read.
 */
static void test_records_lost_whose(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct fdw_history_entry ex = ev(403, FDW_REC_EXIT, 62, 0);
	struct fdw_hashmap tgids;
	unsigned int reads;

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);
	fdw_hashmap_init(&tgids);

	for (uint32_t pid = 60; pid <= 62; pid++) {
		owner_now[pid] = 1000;
		srv_access_learn(s, pid);
	}
	note(s, 400, FDW_REC_SYSCALL, 60, 0);
	/* 401: 60 execs a setuid program, its record lost; */
	owner_now[60] = ROOT;
	/* its fork of 63, whose record came before the loss was seen */
	note(s, 402, FDW_REC_FORK, 60, 63);
	owner_now[63] = ROOT;
	/* 62 exits, and a root process 80 forks a child that takes pid 62:
	 * that fork record is lost (counted as 80's) */
	ex.flags = FDW_F_GROUP_DEAD;
	srv_access_note_event(s, &ex);
	owner_now[62] = ROOT;
	note(s, 404, FDW_REC_SYSCALL, 61, 0);
	note(s, 405, FDW_REC_SYSCALL, 62, 0);
	note(s, 406, FDW_REC_SYSCALL, 60, 0);
	note(s, 407, FDW_REC_SYSCALL, 63, 0);
	CHECK(fdw_hashmap_put(&tgids, 60, (void *)1) == 0);
	CHECK(fdw_hashmap_put(&tgids, 80, (void *)1) == 0);
	fdw_server_records_lost(s, 401, &tgids);

	reads = owner_reads;
	CHECK_EQ(srv_owner_of(s, 61, 404, NULL), 1000); /* none of its records lost */
	CHECK_EQ(srv_owner_of(s, 61, UINT64_MAX, NULL), 1000);
	CHECK_EQ(owner_reads, reads); /* ... and not read again */
	CHECK_EQ(srv_owner_of(s, 60, 406, NULL), 0);	      /* its exec lost */
	CHECK_EQ(srv_owner_of(s, 63, 407, NULL), 0);	      /* forked since */
	CHECK_EQ(srv_owner_of(s, 62, 405, NULL), 0);	      /* its pid another's */
	CHECK_EQ(srv_owner_of(s, 62, UINT64_MAX, NULL), 0);
	CHECK_EQ(owner_reads, reads + 3);
	/* a loss seen later, whose set has none of them: nothing read again */
	fdw_hashmap_free(&tgids);
	fdw_hashmap_init(&tgids);
	CHECK(fdw_hashmap_put(&tgids, 80, (void *)1) == 0);
	note(s, 410, FDW_REC_SYSCALL, 60, 0);
	fdw_server_records_lost(s, 409, &tgids);
	reads = owner_reads;
	CHECK_EQ(srv_owner_of(s, 60, 410, NULL), 0);
	CHECK_EQ(srv_owner_of(s, 63, UINT64_MAX, NULL), 0);
	CHECK_EQ(owner_reads, reads);
	fdw_hashmap_free(&tgids);
	for (uint32_t pid = 60; pid <= 63; pid++)
		owner_now[pid] = 0;
	srv_access_free(s);
	free(s);
}

static void test_owners(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);

	/* a process there when the daemon became ready: its owner learnt */
	owner_now[10] = 1000;
	srv_access_learn(s, 10);
	note(s, 1, FDW_REC_SYSCALL, 10, 0);
	CHECK_EQ(srv_owner_of(s, 10, 1, NULL), 1000);
	/* its child: the parent's owner from the fork on, not before */
	note(s, 5, FDW_REC_FORK, 10, 11);
	owner_now[11] = 1000;
	CHECK_EQ(srv_owner_of(s, 11, 6, NULL), 1000);
	CHECK_EQ(srv_owner_of(s, 11, 4, NULL), FDW_OWNER_UNKNOWN);

	/* the child execs a setuid program: after the exec it is root's,
	 * before it the user's */
	note(s, 8, FDW_REC_EXEC, 11, 0);
	owner_now[11] = ROOT;
	CHECK_EQ(srv_owner_of(s, 11, 9, NULL), 0);
	CHECK_EQ(srv_owner_of(s, 11, 7, NULL), FDW_OWNER_UNKNOWN); /* identity changed at 8 */
	CHECK_EQ(srv_owner_of(s, 11, UINT64_MAX, NULL), 0);

	/* an exec that keeps the owner keeps the history visible */
	note(s, 10, FDW_REC_FORK, 10, 12);
	note(s, 12, FDW_REC_EXEC, 12, 0);
	owner_now[12] = 1000;
	CHECK_EQ(srv_owner_of(s, 12, 11, NULL), 1000);
	CHECK_EQ(srv_owner_of(s, 12, 13, NULL), 1000);

	/* gone after an exec nobody looked at: what it did after it is nobody's */
	note(s, 14, FDW_REC_FORK, 10, 13);
	note(s, 15, FDW_REC_EXEC, 13, 0);
	owner_now[13] = 0;
	CHECK_EQ(srv_owner_of(s, 13, 16, NULL), FDW_OWNER_UNKNOWN);
	CHECK_EQ(srv_owner_of(s, 13, 14, NULL), 1000); /* before the exec: the parent's user's */
	CHECK_EQ(srv_owner_of(s, 13, UINT64_MAX, NULL), FDW_OWNER_UNKNOWN);

	/* pid 12 exits and root's process 20 forks a new pid 12: the old
	 * process's events stay the user's, the new one's are root's */
	owner_now[20] = ROOT;
	CHECK_EQ(srv_owner_of(s, 20, 17, NULL), 0);
	note(s, 18, FDW_REC_FORK, 20, 12);
	owner_now[12] = ROOT;
	CHECK_EQ(srv_owner_of(s, 12, 19, NULL), 0);
	CHECK_EQ(srv_owner_of(s, 12, 13, NULL), FDW_OWNER_UNKNOWN); /* an earlier pid 12 */

	/* a thread is no new process */
	note(s, 20, FDW_REC_FORK, 10, 10);
	CHECK_EQ(srv_owner_of(s, 10, 21, NULL), 1000);

	/* never seen and gone: nobody's, and not read again */
	CHECK_EQ(srv_owner_of(s, 500, 3, NULL), FDW_OWNER_UNKNOWN);
	owner_now[500] = 1000; /* a new process took the pid, its fork unseen */
	CHECK_EQ(srv_owner_of(s, 500, 3, NULL), FDW_OWNER_UNKNOWN);
	/* until its pid's fork is seen */
	note(s, 30, FDW_REC_FORK, 10, 500);
	CHECK_EQ(srv_owner_of(s, 500, 31, NULL), 1000);

	/* seen first by a lookup (its fork unseen): what it did before the
	 * look may have been done as someone else (setuid() is no event) */
	owner_now[700] = 1000;
	note(s, 50, FDW_REC_SYSCALL, 700, 0);
	CHECK_EQ(srv_owner_of(s, 700, 50, NULL), FDW_OWNER_UNKNOWN);
	note(s, 52, FDW_REC_SYSCALL, 700, 0);
	CHECK_EQ(srv_owner_of(s, 700, 52, NULL), 1000);

	/* an exec of a pid never seen: nothing before it is attributed */
	note(s, 60, FDW_REC_SYSCALL, 701, 0);
	note(s, 61, FDW_REC_EXEC, 701, 0);
	owner_now[701] = 1000;
	CHECK_EQ(srv_owner_of(s, 701, 62, NULL), 1000);
	CHECK_EQ(srv_owner_of(s, 701, 60, NULL), FDW_OWNER_UNKNOWN);

	/* read once, then cached */
	owner_now[600] = 1000;
	CHECK_EQ(srv_owner_of(s, 600, UINT64_MAX, NULL), 1000);

	/* an exec whose record carries the owner (FDW_F_OWNER): root's
	 * process 20 forks 800, which execs a program that opens a secret
	 * and drops every uid to 1000 before anyone looks. From the record
	 * the exec is root's; the drop, seen at the next read, hides all
	 * before it; /proc, read right after the drop, would have said 1000
	 * and lent it the root part */
	note(s, 70, FDW_REC_FORK, 20, 800);
	{
		struct fdw_history_entry e = ev(71, FDW_REC_EXEC, 800, 800);

		e.flags = FDW_F_OWNER;
		e.u.task.child_tid = 0;
		srv_access_note_event(s, &e);
	}
	note(s, 72, FDW_REC_SYSCALL, 800, 0); /* the open, as root */
	owner_now[800] = 1000;		      /* dropped */
	CHECK_EQ(srv_owner_of(s, 800, 72, NULL), 0);
	/* a user's exec of a setuid program: nobody's from the record on,
	 * without a /proc read (that would see the uids after its drop) */
	note(s, 80, FDW_REC_FORK, 10, 801);
	owner_now[801] = 1000;
	CHECK_EQ(srv_owner_of(s, 801, 81, NULL), 1000);
	{
		struct fdw_history_entry e = ev(82, FDW_REC_EXEC, 801, 801);

		e.flags = FDW_F_OWNER;
		e.u.task.child_tid = FDW_EXEC_OWNER_NOBODY;
		srv_access_note_event(s, &e);
	}
	note(s, 83, FDW_REC_SYSCALL, 801, 0);
	CHECK_EQ(srv_owner_of(s, 801, 83, NULL), FDW_OWNER_MIXED);
	CHECK_EQ(srv_owner_of(s, 801, 81, NULL), FDW_OWNER_UNKNOWN); /* identity changed at 82 */
	/* an ordinary exec with the record's owner the same: history kept */
	note(s, 90, FDW_REC_FORK, 10, 802);
	owner_now[802] = 1000;
	{
		struct fdw_history_entry e = ev(91, FDW_REC_EXEC, 802, 802);

		e.flags = FDW_F_OWNER;
		e.u.task.child_tid = 1000;
		e.u.task.exit_code = (int32_t)FDW_OWNER_GID_ANY; /* the same gid as known */
		srv_access_note_event(s, &e);
	}
	owner_now[802] = 0; /* not read: the record's owner is trusted */
	CHECK_EQ(srv_owner_of(s, 802, 90, NULL), 1000);
	CHECK_EQ(srv_owner_of(s, 802, 92, NULL), 1000);
	srv_access_free(s);
	free(s);
}

static void test_sees(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000 };
	struct fdw_alerts st;

	fdw_hashmap_init(&s->owners);
	CHECK(srv_client_sees_owner(&c, 1000, FDW_OWNER_GID_ANY));
	CHECK(!srv_client_sees_owner(&c, 0, FDW_OWNER_GID_ANY));
	CHECK(!srv_client_sees_owner(&c, 1001, FDW_OWNER_GID_ANY));
	CHECK(!srv_client_sees_owner(&c, FDW_OWNER_MIXED, FDW_OWNER_GID_ANY));
	CHECK(!srv_client_sees_owner(&c, FDW_OWNER_UNKNOWN, FDW_OWNER_GID_ANY));
	c.uid = (uid_t)-1; /* no credentials: sees no "unknown" either */
	CHECK(!srv_client_sees_owner(&c, FDW_OWNER_UNKNOWN, FDW_OWNER_GID_ANY));
	c.uid = 1000;

	/* the alerts: of the client's uid only; of a pid, of the race kinds */
	CHECK_EQ(fdw_alerts_init(&st, 16, NULL), 0);
	s->deps.alerts = &st;
	CHECK_STR(ids_seen(&c, 0, false), "");
	fire(&st, FDW_ALERT_GROWTH, 1, 1000, FDW_OWNER_GID_ANY);
	fire(&st, FDW_ALERT_GROWTH, 2, 0, FDW_OWNER_GID_ANY);
	fire(&st, FDW_ALERT_GROWTH, 3, FDW_OWNER_UNKNOWN, FDW_OWNER_GID_ANY);
	fire(&st, FDW_ALERT_DOUBLE_CLOSE, 1, 1000, FDW_OWNER_GID_ANY);
	fire(&st, FDW_ALERT_DOUBLE_CLOSE, 2, 0, FDW_OWNER_GID_ANY);
	CHECK_STR(ids_seen(&c, 0, false), "1,4,");
	CHECK_STR(ids_seen(&c, 0, true), "4,");
	CHECK_STR(ids_seen(&c, 2, false), "");

	c.privileged = true;
	CHECK(srv_client_sees_owner(&c, 0, FDW_OWNER_GID_ANY));
	CHECK(srv_client_sees_owner(&c, FDW_OWNER_UNKNOWN, FDW_OWNER_GID_ANY));
	CHECK_STR(ids_seen(&c, 0, false), "1,2,3,4,5,");
	CHECK_STR(ids_seen(&c, 0, true), "4,5,");
	CHECK_STR(ids_seen(&c, 2, false), "2,5,");
	{
		/* from where a chunk stopped: the first id above it */
		uint64_t after = 2;
		bool oom = false;
		json_t *a = srv_alerts_next(&c, &after, 0, true, &oom);

		CHECK_EQ(json_integer_value(json_object_get(a, "id")), 4);
		CHECK_EQ(after, 4);
		json_decref(a);
		after = 5;
		CHECK(srv_alerts_next(&c, &after, 0, false, &oom) == NULL);
		CHECK(!oom);
	}
	fdw_alerts_free(&st);
	srv_access_free(s);
	free(s);
}

/*
 * The gids (ptrace_may_access compares the caller's gid with the
 * process's real, effective and saved gids): a process of uid 1000 whose
 * gid is 42 (User=1000 Group=42, a setgid program) is not shown to a
 * client of uid 1000 and gid 1000, and is to one of gid 42. Supplementary
 * groups play no part (the kernel ignores them there).
 */
static void test_gids(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	uint32_t gid = 0;
	struct fdw_alerts st;

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);
	CHECK(srv_client_sees_owner(&c, 1000, 1000));
	CHECK(srv_client_sees_owner(&c, 1000, FDW_OWNER_GID_ANY)); /* a namespace's owner */
	CHECK(!srv_client_sees_owner(&c, 1000, 42));
	CHECK(!srv_client_sees_owner(&c, 1001, 1000));

	/* learnt at start: its gid too */
	owner_now[900] = 1000;
	gid_now[900] = 42;
	srv_access_learn(s, 900);
	note(s, 1, FDW_REC_SYSCALL, 900, 0);
	CHECK_EQ(srv_owner_of(s, 900, 1, &gid), 1000);
	CHECK_EQ(gid, 42);
	CHECK(!srv_client_sees_pid(&c, 900, 1));
	c.gid = 42;
	CHECK(srv_client_sees_pid(&c, 900, 1));
	c.gid = 1000;
	/* its child keeps it, without a read */
	note(s, 2, FDW_REC_FORK, 900, 901);
	CHECK_EQ(srv_owner_of(s, 901, 3, &gid), 1000);
	CHECK_EQ(gid, 42);
	/* a user's process execs a setgid program: the record's gid from
	 * the exec on, the events before it the old gid's */
	owner_now[902] = 1000;
	gid_now[902] = 1000;
	srv_access_learn(s, 902);
	note(s, 4, FDW_REC_SYSCALL, 902, 0);
	{
		struct fdw_history_entry e = ev(5, FDW_REC_EXEC, 902, 902);

		e.flags = FDW_F_OWNER;
		e.u.task.child_tid = 1000;
		e.u.task.exit_code = 42;
		srv_access_note_event(s, &e);
	}
	note(s, 6, FDW_REC_SYSCALL, 902, 0);
	CHECK(srv_client_sees_pid(&c, 902, 4) == false); /* before: another identity */
	CHECK(!srv_client_sees_pid(&c, 902, 6));
	CHECK(!srv_client_sees_pid(&c, 902, UINT64_MAX));
	c.gid = 42;
	CHECK(srv_client_sees_pid(&c, 902, 6));
	c.gid = 1000;
	/* alerts: their gid must be the client's; FDW_OWNER_GID_ANY: any */
	CHECK_EQ(fdw_alerts_init(&st, 16, NULL), 0);
	s->deps.alerts = &st;
	fire(&st, FDW_ALERT_GROWTH, 10, 1000, 1000);
	fire(&st, FDW_ALERT_GROWTH, 11, 1000, 42);
	fire(&st, FDW_ALERT_GROWTH, 12, 1000, FDW_OWNER_GID_ANY);
	CHECK_STR(ids_seen(&c, 0, false), "1,3,");
	fdw_alerts_free(&st);
	for (int i = 900; i <= 903; i++)
		owner_now[i] = gid_now[i] = 0;
	srv_access_free(s);
	free(s);
}

/* Process `pid` of server s: root's (learnt so), a syscall at seq 10, an
 * exec as uid 1000 (its owner in the record) at seq 20, a syscall at 30:
 * a root program that dropped to the user and exec'd. */
static void root_then_user(struct fdw_server *s, uint32_t pid)
{
	struct fdw_history_entry e = ev(20, FDW_REC_EXEC, pid, pid);

	s->deps.read_owner = fake_owner;
	fdw_hashmap_init(&s->owners);
	owner_now[pid] = ROOT;
	srv_access_learn(s, pid);
	note(s, 10, FDW_REC_SYSCALL, pid, 0);
	e.flags = FDW_F_OWNER;
	e.u.task.child_tid = 1000;
	e.u.task.exit_code = (int32_t)FDW_OWNER_GID_ANY;
	srv_access_note_event(s, &e);
	owner_now[pid] = 1000;
	note(s, 30, FDW_REC_SYSCALL, pid, 0);
}

/*
 * Race evidence names the generations a finding hit (detect/races.c).
 * Process 700 was root's, then exec'd as uid 1000 at seq 20 (a root
 * program that opened files, dropped to the user and exec'd): a generation
 * it made or closed before is hidden from the user's client, as in a
 * slot's history, in a copy; what the user may see is the alert itself.
 */
static void test_alert_view(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	json_t *alert, *v, *f;
	char *before, *after;

	root_then_user(s, 700);
	CHECK(!srv_client_sees_pid(&c, 700, 10));
	CHECK(srv_client_sees_pid(&c, 700, 25));

	alert = json_loads(
		"{\"id\": 1, \"kind\": \"double-close\", \"pid\": 700, \"uid\": 1000,"
		" \"summary\": \"thread 700 closed fd 40 again (closed by thread 699 before) (+5 more)\","
		" \"evidence\": {\"total\": 6, \"findings\": ["
		/* 0: opened as root, closed by the exec */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 30, \"tid\": 700, \"fd\": 40,"
		"  \"generation\": {\"generation\": 2, \"target\": \"/root/secret\","
		"  \"created\": {\"pid\": 700, \"seq\": 10}, \"closed\": {\"pid\": 700, \"seq\": 20,"
		"  \"tid\": 699}}},"
		/* 1: the user's own */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 30, \"fd\": 41,"
		"  \"generation\": {\"generation\": 3, \"target\": \"pipe:[1]\","
		"  \"created\": {\"pid\": 700, \"seq\": 25}, \"closed\": {\"pid\": 700, \"seq\": 30}}},"
		/* 2: never opened */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 30, \"fd\": 42,"
		"  \"generation\": null, \"never_opened\": true},"
		/* 3: fd-reuse: what the number names now was opened as root */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 30, \"fd\": 43,"
		"  \"generation\": {\"generation\": 1, \"target\": \"/mine\","
		"  \"created\": {\"pid\": 700, \"seq\": 26}, \"closed\": null},"
		"  \"reopened\": {\"pid\": 700, \"seq\": 12}, \"target\": \"/root/other\"},"
		/* 4: found in /proc (no seq): as of the start of what is known */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 30, \"fd\": 44,"
		"  \"generation\": {\"generation\": 1, \"target\": \"/root/found\","
		"  \"created\": {\"pid\": 700, \"seq\": null}, \"closed\": {\"pid\": 700, \"seq\": 27}}},"
		/* 5: done as root itself: what a thread did, and when */
		"{\"kind\": \"double-close\", \"pid\": 700, \"seq\": 15, \"fd\": 45, \"tid\": 698,"
		"  \"syscall\": \"close\", \"count\": 3, \"time\": 1.5,"
		"  \"generation\": {\"generation\": 4, \"target\": \"/root/own\","
		"  \"created\": {\"pid\": 700, \"seq\": 11}, \"closed\": {\"pid\": 700, \"seq\": 14}}}"
		"]}}",
		0, NULL);
	CHECK(alert != NULL);
	before = json_dumps(alert, JSON_SORT_KEYS);

	v = srv_alert_view(&c, alert);
	CHECK(v != NULL && v != alert);
	after = json_dumps(v, JSON_SORT_KEYS);
	CHECK(after && !strstr(after, "/root/"));
	f = json_object_get(json_object_get(v, "evidence"), "findings");
	CHECK_EQ(json_array_size(f), 6);
	{
		json_t *want = json_pack("{s:i, s:b, s:n, s:n, s:n}", "generation", 2, "hidden", 1,
					 "target", "created", "closed");

		CHECK(json_equal(json_object_get(json_array_get(f, 0), "generation"), want));
		json_decref(want);
	}
	CHECK(json_equal(json_array_get(f, 1), json_array_get(json_object_get(json_object_get(
								       alert, "evidence"), "findings"),
							       1)));
	CHECK(json_is_null(json_object_get(json_array_get(f, 2), "generation")));
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(json_array_get(f, 3), "generation"), "target")),
		  "/mine");
	CHECK(json_is_null(json_object_get(json_array_get(f, 3), "reopened")));
	CHECK(json_is_true(json_object_get(json_array_get(f, 3), "reopened_hidden")));
	CHECK(json_is_true(json_object_get(json_object_get(json_array_get(f, 4), "generation"),
					   "hidden")));
	{
		json_t *want = json_pack("{s:s, s:i, s:i, s:b, s:n, s:n, s:n, s:n, s:n, s:n}",
					 "kind", "double-close", "pid", 700, "fd", 45, "hidden", 1,
					 "seq", "tid", "syscall", "count", "time", "generation");

		CHECK(json_equal(json_array_get(f, 5), want));
		json_decref(want);
	}
	/* the summary named the thread that closed root's file */
	CHECK_STR(json_string_value(json_object_get(v, "summary")),
		  "thread 700 closed fd 40 again (closed by thread (hidden) before) (+5 more)");
	json_decref(v);
	free(after);
	/* the alert itself, everyone else's, untouched */
	after = json_dumps(alert, JSON_SORT_KEYS);
	CHECK_STR(after, before);
	free(after);

	/* root and the group see it whole: the alert itself */
	c.privileged = true;
	v = srv_alert_view(&c, alert);
	CHECK(v == alert);
	json_decref(v);
	c.privileged = false;

	/* nothing to hide: shared, not copied */
	CHECK_EQ(json_array_remove(json_object_get(json_object_get(alert, "evidence"), "findings"),
				   0), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(json_array_remove(
				 json_object_get(json_object_get(alert, "evidence"), "findings"), 1),
			 0);
	CHECK_EQ(json_array_size(json_object_get(json_object_get(alert, "evidence"), "findings")),
		 1);
	v = srv_alert_view(&c, alert);
	CHECK(v == alert);
	json_decref(v);
	json_decref(alert);
	free(before);
	owner_now[700] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * exec-leak evidence (detect/exec_leak.c) names the leaked fds, their files
 * and who opened them. Process 710 was root's, leaked fd 3 into a child
 * (seq 10), exec'd as uid 1000 at seq 20 and leaked fd 4 (seq 25): the
 * alert is the user's now (its owner is read at each fire). Fd 3 is hidden
 * from the user, and the summary, which names the files, made again.
 */
static void test_alert_view_exec_leak(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	json_t *alert, *v, *l;
	char *before, *after, summary[768];

	root_then_user(s, 710);
	/* its children: 711 root's (exec'd at seq 10), 712 the user's */
	owner_now[712] = 1000;
	srv_access_learn(s, 712);

	alert = json_loads(
		"{\"id\": 1, \"kind\": \"exec-leak\", \"pid\": 710, \"uid\": 1000,"
		" \"summary\": \"2 fds ...: fd 3 /root/secret (openat by app), fd 4 /mine\","
		" \"evidence\": {\"fds\": 2, \"race_fds\": 1, \"children_total\": 2,"
		" \"children\": [{\"pid\": 711, \"seq\": 10, \"comm\": \"sleep\", \"fds\": 1},"
		"                {\"pid\": 712, \"seq\": 26, \"comm\": \"sleep\", \"fds\": 1}],"
		" \"leaked\": ["
		"{\"fd\": 3, \"target\": \"/root/secret\", \"type\": \"reg\", \"race\": true,"
		"  \"origin\": {\"syscall\": \"openat\", \"source\": \"inherit\", \"pid\": 710, \"seq\": 10},"
		"  \"opened_by\": {\"syscall\": \"openat\", \"pid\": 710, \"seq\": 10, \"comm\": \"app\"}},"
		"{\"fd\": 4, \"target\": \"/mine\", \"type\": \"reg\","
		"  \"origin\": {\"syscall\": \"openat\", \"source\": \"inherit\", \"pid\": 710, \"seq\": 25},"
		"  \"opened_by\": {\"syscall\": \"openat\", \"pid\": 710, \"seq\": 25, \"comm\": \"app\"}}"
		"]}}",
		0, NULL);
	CHECK(alert != NULL);
	before = json_dumps(alert, JSON_SORT_KEYS);

	/* the detector's summary, made from the same evidence */
	fdw_leak_exec_summary(json_object_get(alert, "evidence"), summary, sizeof(summary));
	CHECK_STR(summary, "2 fds without close-on-exec went into programs it ran (2 so far, last "
			   "sleep[712]): fd 3 /root/secret (openat by app), fd 4 /mine (openat by "
			   "app); 1 made close-on-exec only after the fork (another thread's fork "
			   "came between open and fcntl: open with O_CLOEXEC)");

	v = srv_alert_view(&c, alert);
	CHECK(v != NULL && v != alert);
	after = json_dumps(v, JSON_SORT_KEYS);
	CHECK(after && !strstr(after, "/root/"));
	l = json_object_get(json_object_get(v, "evidence"), "leaked");
	CHECK_EQ(json_array_size(l), 2);
	{
		json_t *want = json_pack("{s:i, s:b, s:n, s:n, s:n, s:n, s:b}", "fd", 3, "hidden", 1,
					 "target", "type", "origin", "opened_by", "race", 1);

		CHECK(json_equal(json_array_get(l, 0), want));
		json_decref(want);
	}
	CHECK_STR(json_string_value(json_object_get(json_array_get(l, 1), "target")), "/mine");
	{
		/* root's child: which program root ran, and its pid */
		json_t *kids = json_object_get(json_object_get(v, "evidence"), "children");
		json_t *want = json_pack("{s:b, s:n, s:n, s:n, s:n}", "hidden", 1, "pid", "seq",
					 "comm", "fds");

		CHECK(json_equal(json_array_get(kids, 0), want));
		CHECK_EQ(json_integer_value(json_object_get(json_array_get(kids, 1), "pid")), 712);
		json_decref(want);
	}
	CHECK_STR(json_string_value(json_object_get(v, "summary")),
		  "2 fds without close-on-exec went into programs it ran (2 so far, last "
		  "sleep[712]): fd 3 (hidden), fd 4 /mine (openat by app); 1 made close-on-exec "
		  "only after the fork (another thread's fork came between open and fcntl: open "
		  "with O_CLOEXEC)");
	json_decref(v);
	free(after);
	after = json_dumps(alert, JSON_SORT_KEYS);
	CHECK_STR(after, before); /* everyone else's: untouched */
	free(after);

	/* root sees it whole */
	c.privileged = true;
	v = srv_alert_view(&c, alert);
	CHECK(v == alert);
	json_decref(v);
	c.privileged = false;

	/* read back after a restart (alerts/alerts.c): the user's own fd 4 is
	 * of an earlier run, whose seqs this one cannot judge */
	{
		json_t *mine = json_array_get(
			json_object_get(json_object_get(alert, "evidence"), "leaked"), 1);

		CHECK_EQ(json_object_set_new(mine, "earlier_run", json_true()), 0);
		v = srv_alert_view(&c, alert);
		after = json_dumps(v, JSON_SORT_KEYS);
		CHECK(after && !strstr(after, "/mine") && !strstr(after, "/root/"));
		free(after);
		json_decref(v);
		CHECK_EQ(json_object_del(mine, "earlier_run"), 0);
	}

	/* the newest child root's (a setuid program the user ran): the
	 * summary does not name it */
	{
		json_t *kids = json_object_get(json_object_get(alert, "evidence"), "children");

		CHECK_EQ(json_array_append(kids, json_array_get(kids, 0)), 0);
		v = srv_alert_view(&c, alert);
		CHECK(v != NULL);
		after = v ? json_dumps(v, JSON_SORT_KEYS) : NULL;
		CHECK(after && !strstr(after, "711"));
		CHECK(v && strstr(json_string_value(json_object_get(v, "summary")),
				  "(2 so far, last (hidden)): fd 3 (hidden), fd 4 /mine"));
		free(after);
		json_decref(v);
		CHECK_EQ(json_array_remove(kids, 2), 0);
		/* only the user's fd and child: shared, not copied */
		CHECK_EQ(json_array_remove(kids, 0), 0);
	}
	CHECK_EQ(json_array_remove(json_object_get(json_object_get(alert, "evidence"), "leaked"), 0),
		 0);
	v = srv_alert_view(&c, alert);
	CHECK(v == alert);
	json_decref(v);
	json_decref(alert);
	free(before);
	owner_now[710] = 0;
	owner_now[712] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * Leak sites (detect/sites.c) say how a group of open fds was made. Process
 * 720 made fd 43 as root (seq 10) and fd 44 as the user (seq 25): the
 * first site keeps its target and count and hides how, in an alert's
 * evidence and in the live sites alike; the second is whole.
 */
static void test_sites_view(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	const char *sites =
		"{\"sites\": ["
		"{\"syscall\": \"dup2\", \"opened_by\": \"openat\", \"source\": \"event\","
		" \"target\": \"/root/secret\", \"type\": \"reg\", \"comm\": \"python3\","
		" \"count\": 1, \"stacks\": [{\"count\": 1, \"frames\": [\"main\"]}],"
		" \"sample_fds\": [{\"fd\": 43, \"target\": \"/root/secret\","
		"   \"origin\": {\"pid\": 720, \"seq\": 10},"
		"   \"opened_by\": {\"pid\": 720, \"seq\": 10}}]},"
		"{\"syscall\": \"openat\", \"opened_by\": \"openat\", \"source\": \"event\","
		" \"target\": \"/mine\", \"type\": \"reg\", \"comm\": \"python3\","
		" \"count\": 1, \"stacks\": [],"
		" \"sample_fds\": [{\"fd\": 44, \"target\": \"/mine\","
		"   \"origin\": {\"pid\": 720, \"seq\": 25},"
		"   \"opened_by\": {\"pid\": 720, \"seq\": 25}}]}]}";
	json_t *doc, *alert, *v, *a, *b, *orig_b;

	root_then_user(s, 720);
	doc = json_loads(sites, 0, NULL);
	orig_b = json_deep_copy(json_array_get(json_object_get(doc, "sites"), 1));
	alert = json_pack("{s:i, s:s, s:i, s:i, s:O, s:s}", "id", 1, "kind", "fd-growth", "pid",
			  720, "uid", 1000, "evidence", doc, "summary",
			  "open fds grew 10 -> 50 in 1m (40.0/min, fast trend, R2 0.99)"
			  "; top site: 1 x dup2 of openat /root/secret");
	CHECK(alert && orig_b);
	{
		/* the detectors' top site, from the same JSON (detect/sites.c) */
		char top[128];

		fdw_leak_site_describe(json_array_get(json_object_get(doc, "sites"), 0), top,
				       sizeof(top));
		CHECK_STR(top, "1 x dup2 of openat /root/secret");
		fdw_leak_site_describe(orig_b, top, sizeof(top));
		CHECK_STR(top, "1 x openat /mine");
	}

	/* the live sites, in place */
	CHECK_EQ(srv_sites_view(&c, doc, 720), 0);
	a = json_array_get(json_object_get(doc, "sites"), 0);
	b = json_array_get(json_object_get(doc, "sites"), 1);
	CHECK(json_is_true(json_object_get(a, "hidden")));
	CHECK_STR(json_string_value(json_object_get(a, "source")), "hidden");
	CHECK(json_is_null(json_object_get(a, "syscall")) &&
	      json_is_null(json_object_get(a, "opened_by")) &&
	      json_is_null(json_object_get(a, "comm")));
	CHECK_EQ(json_array_size(json_object_get(a, "sample_fds")), 0);
	CHECK_EQ(json_array_size(json_object_get(a, "stacks")), 0);
	CHECK_STR(json_string_value(json_object_get(a, "target")), "/root/secret"); /* as /proc */
	CHECK_EQ(json_integer_value(json_object_get(a, "count")), 1);
	CHECK(json_equal(b, orig_b));

	/* an alert's evidence: in the user's copy */
	CHECK_EQ(json_object_set_new(alert, "evidence", json_loads(sites, 0, NULL)), 0);
	v = srv_alert_view(&c, alert);
	CHECK(v != NULL && v != alert);
	a = json_array_get(json_object_get(json_object_get(v, "evidence"), "sites"), 0);
	CHECK(json_is_true(json_object_get(a, "hidden")));
	CHECK(json_equal(json_array_get(json_object_get(json_object_get(v, "evidence"), "sites"), 1),
			 orig_b));
	/* its summary named how root made them */
	CHECK_STR(json_string_value(json_object_get(v, "summary")),
		  "open fds grew 10 -> 50 in 1m (40.0/min, fast trend, R2 0.99)"
		  "; top site: 1 x (hidden) /root/secret");
	CHECK_STR(json_string_value(json_object_get(json_array_get(
			  json_object_get(json_object_get(alert, "evidence"), "sites"), 0),
						    "syscall")),
		  "dup2"); /* the alert itself untouched */
	json_decref(v);
	c.privileged = true;
	v = srv_alert_view(&c, alert);
	CHECK(v == alert);
	json_decref(v);
	json_decref(alert);
	json_decref(doc);
	json_decref(orig_b);
	owner_now[720] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * A user's view of an alert it may see only part of is its own where it
 * differs (the alert, its evidence, the arrays holding what is hidden,
 * each element hidden in part) and shares the rest with the store: a
 * growth alert's 16 sites of samples and stacks are not copied for one
 * site made as root. Process 750 made fd 43 as root (seq 10), fd 44 as
 * the user (seq 25); child 751's exec (seq 10) was root's.
 */
static void test_alert_view_shares(void)
{
	static const char *const arrays[] = { "findings", "leaked", "children", "sites" };
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	json_t *alert, *v, *ev, *vev;
	char *before, *after;

	root_then_user(s, 750);
	alert = json_loads(
		"{\"id\": 1, \"kind\": \"fd-growth\", \"pid\": 750, \"uid\": 1000,"
		" \"summary\": \"grew\", \"evidence\": {\"fds\": 9, \"series\": [1, 5, 9],"
		" \"findings\": ["
		"{\"kind\": \"double-close\", \"pid\": 750, \"fd\": 43, \"seq\": 26,"
		"  \"generation\": {\"generation\": 1, \"target\": \"/root/a\","
		"  \"created\": {\"pid\": 750, \"seq\": 10}, \"closed\": null}},"
		"{\"kind\": \"double-close\", \"pid\": 750, \"fd\": 44, \"seq\": 27,"
		"  \"generation\": {\"generation\": 1, \"target\": \"/mine\","
		"  \"created\": {\"pid\": 750, \"seq\": 25}, \"closed\": null}}],"
		" \"leaked\": ["
		"{\"fd\": 43, \"target\": \"/root/a\", \"origin\": {\"pid\": 750, \"seq\": 10},"
		"  \"opened_by\": {\"pid\": 750, \"seq\": 10}},"
		"{\"fd\": 44, \"target\": \"/mine\", \"origin\": {\"pid\": 750, \"seq\": 25},"
		"  \"opened_by\": {\"pid\": 750, \"seq\": 25}}],"
		" \"children\": [{\"pid\": 751, \"seq\": 10, \"comm\": \"rootprog\"},"
		"  {\"pid\": 750, \"seq\": 25, \"comm\": \"sleep\"}],"
		" \"sites\": ["
		"{\"syscall\": \"openat\", \"target\": \"/data/*\", \"count\": 1,"
		"  \"stacks\": [{\"count\": 1, \"frames\": [\"main\"]}],"
		"  \"sample_fds\": [{\"fd\": 43, \"origin\": {\"pid\": 750, \"seq\": 10},"
		"   \"opened_by\": {\"pid\": 750, \"seq\": 10}}]},"
		"{\"syscall\": \"openat\", \"target\": \"/mine\", \"count\": 1,"
		"  \"stacks\": [{\"count\": 1, \"frames\": [\"main\"]}],"
		"  \"sample_fds\": [{\"fd\": 44, \"origin\": {\"pid\": 750, \"seq\": 25},"
		"   \"opened_by\": {\"pid\": 750, \"seq\": 25}}]}]}}",
		0, NULL);
	ev = json_object_get(alert, "evidence");
	before = json_dumps(alert, JSON_SORT_KEYS);
	v = srv_alert_view(&c, alert);
	vev = json_object_get(v, "evidence");
	/* its own where it differs: the first of each array, hidden */
	CHECK(v != alert && vev && vev != ev);
	for (size_t k = 0; k < sizeof(arrays) / sizeof(arrays[0]); k++) {
		json_t *va = json_object_get(vev, arrays[k]), *a = json_object_get(ev, arrays[k]);
		json_t *hid = json_array_get(va, 0);

		CHECK(json_array_size(va) == 2 && va != a && hid != json_array_get(a, 0));
		CHECK(json_is_true(json_object_get(hid, "hidden")) ||
		      json_is_true(json_object_get(json_object_get(hid, "generation"), "hidden")));
		/* what it shows as it is: the store's */
		CHECK(json_array_get(va, 1) == json_array_get(a, 1));
	}
	CHECK(json_object_get(vev, "series") == json_object_get(ev, "series"));
	json_decref(v);
	after = json_dumps(alert, JSON_SORT_KEYS);
	CHECK_STR(after, before); /* everyone else's: untouched */
	free(after);
	free(before);
	json_decref(alert);
	owner_now[750] = 0;
	srv_access_free(s);
	free(s);
}

/*
 * GET /v1/leaks?pid= groups a table on the loop, ~9 ms for 19,000 fds: an
 * unprivileged uid gets a tenth of the loop's time for it (250 ms at
 * once), refused past it and counted; another uid has its own share, root
 * none.
 */
static void test_sites_budget(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct client c = { .srv = s, .uid = 1000, .gid = 1000 };
	struct client other = { .srv = s, .uid = 1001, .gid = 1001 };
	struct client root = { .srv = s, .privileged = true };
	uint64_t now = 5000000000ull;

	fdw_hashmap_init(&s->owners);
	fdw_hashmap_init(&s->sites_budget);
	CHECK(srv_sites_admit(&c, now));
	srv_sites_charge(&c, 200000000, now); /* 200 ms: 50 left */
	CHECK(srv_sites_admit(&c, now));
	srv_sites_charge(&c, 100000000, now); /* 50 ms owed */
	CHECK(!srv_sites_admit(&c, now));
	CHECK(!srv_sites_admit(&c, now + 400000000)); /* +40 ms: 10 owed */
	CHECK_EQ(s->sites_refused, 2);
	CHECK(srv_sites_admit(&other, now));
	srv_sites_charge(&root, 10000000000ull, now);
	CHECK(srv_sites_admit(&root, now));
	CHECK(srv_sites_admit(&c, now + 1000000000)); /* +100 ms: 50 left */
	/* refilled to 250 ms at most, however long it waited */
	srv_sites_charge(&c, 260000000, now + 100000000000ull);
	CHECK(!srv_sites_admit(&c, now + 100000000000ull));
	CHECK_EQ(s->sites_refused, 3);
	srv_access_free(s);
	free(s);
}

/* ROOT/PID/status with this Uid: line, the file owned by file_uid (as
 * root; else left this process's) */
static void write_status_owned(const char *root, const char *pid, const char *uidline,
			       uid_t file_uid)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/status", root, pid);
	f = fopen(path, "w");
	fprintf(f, "Name:\tx\nUmask:\t0022\nState:\tS\n%sGid:\t0\t0\t0\t0\n", uidline);
	fclose(f);
	if (geteuid() == 0)
		(void)chown(path, file_uid, (gid_t)-1);
}

static void write_status(const char *root, const char *pid, const char *uidline)
{
	write_status_owned(root, pid, uidline, geteuid());
}

static void test_owner_read(void)
{
	char root[] = "/tmp/fdwt-owner-XXXXXX";
	uint32_t uid = 7;

	CHECK(mkdtemp(root) != NULL);
	write_status_owned(root, "1", "Uid:\t1000\t1000\t1000\t1000\n", 1000);
	write_status(root, "2", "Uid:\t1000\t0\t1000\t0\n");
	write_status(root, "3", "Uid:\t1000\t1000\n");
	write_status(root, "4", "Uid:\t-1\t1\t1\t1\n");
	write_status(root, "5", "Uid:\t4294967295\t4294967295\t4294967295\t4294967295\n");
	write_status_owned(root, "6", "Uid:\t0\t0\t0\t0\n", 0);
	/* all four uids 1000, the file root's: not dumpable (a setuid program
	 * that dropped back to its caller's uid): nobody's */
	write_status_owned(root, "7", "Uid:\t1000\t1000\t1000\t1000\n", 0);
	/* uid 1000 all four and dumpable, but the kernel still hides its fds
	 * from uid 1000 (ptrace_may_access): a permitted capability (an
	 * ambient one, say), gids that differ (the first Gid: line counts) */
	write_status_owned(root, "9", "Uid:\t1000\t1000\t1000\t1000\nCapPrm:\t0000000000002000\n", 1000);
	write_status_owned(root, "10", "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t0\t1000\t1000\n", 1000);
	write_status_owned(root, "11", "Uid:\t1000\t1000\t1000\t1000\nCapPrm:\t0000000000000000\n", 1000);
	write_status_owned(root, "1", "Uid:\t1000\t1000\t1000\t1000\n", 1000);
	/* a file-system uid and gid of their own (setfsuid, setfsgid), dumpable
	 * again: the kernel compares the other three only, 1000's with gid 42 */
	write_status_owned(root, "13", "Uid:\t1000\t1000\t1000\t0\nGid:\t42\t42\t42\t7\n", 1000);
	/* User=1000 Group=42: 1000's with gid 42 (the first Gid: line) */
	write_status_owned(root, "12", "Uid:\t1000\t1000\t1000\t1000\nGid:\t42\t42\t42\t42\n", 1000);
	{
		uint32_t gid = 7;

		CHECK_EQ(fdw_pid_owner_read(root, 12, &uid, &gid), 0);
		CHECK_EQ(uid, geteuid() == 0 ? 1000 : FDW_OWNER_MIXED);
		CHECK_EQ(gid, geteuid() == 0 ? 42 : FDW_OWNER_GID_ANY);
		CHECK_EQ(fdw_pid_owner_read(root, 13, &uid, &gid), 0);
		CHECK_EQ(uid, geteuid() == 0 ? 1000 : FDW_OWNER_MIXED);
		CHECK_EQ(gid, geteuid() == 0 ? 42 : FDW_OWNER_GID_ANY);
		CHECK_EQ(fdw_pid_owner_read(root, 10, &uid, &gid), 0);
		CHECK_EQ(gid, FDW_OWNER_GID_ANY); /* nobody's: no gid */
		CHECK_EQ(fdw_pid_owner_read(NULL, (uint32_t)getpid(), &uid, &gid), 0);
		CHECK_EQ(gid, getgid());
	}
	CHECK_EQ(fdw_pid_owner_read(root, 9, &uid, NULL), 0);
	CHECK_EQ(uid, FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 10, &uid, NULL), 0);
	CHECK_EQ(uid, FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 11, &uid, NULL), 0);
	CHECK_EQ(uid, geteuid() == 0 ? 1000 : FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 1, &uid, NULL), 0);
	CHECK_EQ(uid, geteuid() == 0 ? 1000 : FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 7, &uid, NULL), 0);
	CHECK_EQ(uid, FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 2, &uid, NULL), 0);
	CHECK_EQ(uid, FDW_OWNER_MIXED);
	uid = 7;
	CHECK_EQ(fdw_pid_owner_read(root, 3, &uid, NULL), -EBADMSG);
	CHECK_EQ(fdw_pid_owner_read(root, 4, &uid, NULL), -EBADMSG);
	CHECK_EQ(fdw_pid_owner_read(root, 5, &uid, NULL), -EBADMSG);
	CHECK_EQ(uid, 7); /* untouched on failure */
	CHECK_EQ(fdw_pid_owner_read(root, 6, &uid, NULL), 0);
	CHECK_EQ(uid, geteuid() == 0 ? 0 : FDW_OWNER_MIXED);
	CHECK_EQ(fdw_pid_owner_read(root, 8, &uid, NULL), -ESRCH);
	/* and this process's own, from the real /proc */
	CHECK_EQ(fdw_pid_owner_read(NULL, (uint32_t)getpid(), &uid, NULL), 0);
	CHECK_EQ(uid, getuid());
	for (int i = 1; i <= 13; i++) {
		char p[512];

		snprintf(p, sizeof(p), "%s/%d/status", root, i);
		(void)unlink(p);
		snprintf(p, sizeof(p), "%s/%d", root, i);
		(void)rmdir(p);
	}
	(void)rmdir(root);
}

/* Write `text` to /proc/PID/NAME. */
static int write_proc(pid_t pid, const char *name, const char *text)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -EIO;
	(void)close(fd);
	return r;
}

/*
 * A child (run as root) in a new user namespace that uid `owner` makes,
 * with uid and gid map `map` (written by root), where it takes uid and gid
 * `inner` (0: all capabilities in it, else none); with `nest`, one more
 * namespace inside (owned by the uid it has then); dumpable again or not
 * (its change of uids made it not). It waits to be killed. Its pid, or 0
 * when user namespaces cannot be made here.
 */
static pid_t userns_child(uid_t owner, const char *map, uid_t inner, bool nest, bool dumpable)
{
	int ready[2], go[2];
	char c = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		if (owner && (setresgid(owner, owner, owner) || setresuid(owner, owner, owner)))
			_exit(1);
		if (unshare(CLONE_NEWUSER) < 0 || write(ready[1], "u", 1) != 1 ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		if (setresgid(inner, inner, inner) || setresuid(inner, inner, inner) || (nest && unshare(CLONE_NEWUSER) < 0))
			_exit(1);
		if (dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	(void)close(ready[1]);
	(void)close(go[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1 || write_proc(pid, "uid_map", map) < 0 ||
	    write_proc(pid, "setgroups", "deny") < 0 || write_proc(pid, "gid_map", map) < 0 ||
	    write(go[1], "g", 1) != 1 || read(ready[0], &c, 1) != 1 || c != 'r') {
		if (pid > 0) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
		}
		pid = 0;
	}
	(void)close(ready[0]);
	(void)close(go[1]);
	return pid;
}

/* Does the kernel show uid `uid` (gid the same) where fd 0 of `pid` is? */
static bool kernel_shows(pid_t pid, uid_t uid)
{
	char path[64], buf[256];
	int st = 0;
	pid_t c;

	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	c = fork();
	if (c == 0) {
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(2);
		_exit(readlink(path, buf, sizeof(buf)) > 0 ? 0 : 1);
	}
	return c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * A process in a user namespace is the owner's of its outermost one below
 * the initial namespace, whatever its own uids and capabilities: that uid
 * has CAP_SYS_PTRACE over the subtree, any other uid (its own included)
 * is refused its fds by the kernel. Real namespaces, real /proc, and the
 * kernel's own answer beside ours.
 */
static void test_owner_userns(void)
{
	static const struct {
		uid_t owner;
		const char *map;
		uid_t inner;
		bool nest, dumpable;
		uint32_t want;
		const char *what;
	} cases[] = {
		/* a rootless container: the user's own */
		{ 1000, "0 1000 1", 0, false, true, 1000, "user's namespace" },
		{ 1000, "0 1000 1", 0, true, true, 1000, "nested in the user's namespace" },
		/* PrivateUsers=yes with User=, a setuid sandbox: root made the
		 * namespace, the process runs as the user's uid: root's */
		{ 0, "0 0 1\n1000 1000 1", 1000, false, true, 0, "PrivateUsers=, User=" },
		{ 0, "0 1000 1", 0, false, true, 0, "root's namespace, its root the user's uid" },
		{ 0, "0 1000 1", 0, true, true, 0, "the user's namespace inside root's" },
		/* not dumpable, its mm still the initial namespace's (no exec
		 * since its uids changed): the kernel wants CAP_SYS_PTRACE
		 * there, which the owner lacks */
		{ 1000, "0 1000 1", 0, false, false, FDW_OWNER_MIXED, "not dumpable" },
		/* a subordinate uid in the user's namespace: the user's (the
		 * kernel shows it from inside the namespace, which the user
		 * may enter; its /proc/PID/fd is 0500, the subuid's) */
		{ 1000, "0 200000 1", 0, false, true, 1000, "subordinate uid" },
	};
	uint32_t uid;

	if (geteuid() != 0) {
		printf("# user namespaces: skipped (not root)\n");
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = userns_child(cases[i].owner, cases[i].map, cases[i].inner,
					 cases[i].nest, cases[i].dumpable);

		if (!pid) {
			printf("# user namespaces: skipped (cannot make one)\n");
			return;
		}
		uid = 7;
		CHECK_EQ(fdw_pid_owner_read(NULL, (uint32_t)pid, &uid, NULL), 0);
		if (uid != cases[i].want)
			printf("# %s: owner %u, want %u\n", cases[i].what, uid, cases[i].want);
		CHECK_EQ(uid, cases[i].want);
		if (!strstr(cases[i].map, "200000"))
			CHECK_EQ(kernel_shows(pid, 1000), cases[i].want == 1000);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
}

int main(void)
{
	test_owners();
	test_fork_unknown_parent();
	test_records_lost();
	test_records_lost_whose();
	test_sees();
	test_gids();
	test_alert_view();
	test_sites_view();
	test_sites_budget();
	test_alert_view_exec_leak();
	test_alert_view_shares();
	test_owner_read();
	test_owner_userns();
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
