// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The alert store (daemon/alerts/alerts.c): lifecycle and de-duplication, the
 * bound, the log lines, the JSON the CLI reads, and the state file: saved
 * and loaded back, a crash mid-save, a corrupt file, a reboot. No
 * privileges needed; works in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "base/clock.h"
#include "check.h"
#include "sys/pidinfo.h"

static char dir[] = "/tmp/fdw-test-alerts-XXXXXX";
static char path[256];

static unsigned int count(const char *log, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = log; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static unsigned int changes, updates;

static void on_change(void *u, const struct fdw_alert *a, bool updated)
{
	if (updated)
		updates++;
	else
		changes++;
}

static struct fdw_alert_proc proc(uint32_t pid, uint64_t ticks, const char *comm)
{
	return (struct fdw_alert_proc){ .pid = pid, .start_ticks = ticks, .start_time = 1.5e9,
					.comm = comm };
}

/* A store of 10 on the state file (logging to `log`), loaded at `now`:
 * fdw_alerts_load()'s result. */
static int load(struct fdw_alerts *t, FILE *log, double now)
{
	CHECK_EQ(fdw_alerts_init(t, 10, dir), 0);
	t->log = log;
	return fdw_alerts_load(t, now);
}

/* {"alerts": [...]} of the store by id (pid 0: every process), as the
 * server's walk (server/alert_view.c) gives a privileged client */
static json_t *alerts_doc(const struct fdw_alerts *s, uint32_t pid, bool firing_only)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < s->n; i++) {
		const struct fdw_alert *a = s->v[i];

		if ((pid && a->pid != pid) || (firing_only && a->state != FDW_ALERT_FIRING))
			continue;
		(void)json_array_append_new(arr, fdw_alert_json(a));
	}
	return json_pack("{s:o}", "alerts", arr);
}

static void test_lifecycle(void)
{
	struct fdw_alerts s;
	struct fdw_alert_proc p = proc(42, 1000, "cat"), reused = proc(42, 2000, "cat");
	struct fdw_alert *a, *b, *c;
	char *log = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&log, &len);
	json_t *doc, *o;

	CHECK_EQ(fdw_alerts_init(&s, 10, NULL), 0);
	s.log = f;
	s.on_change = on_change;
	a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 100.0, "grew", json_pack("{s:i}", "fds", 5));
	CHECK(a != NULL && a->id == 1 && a->state == FDW_ALERT_FIRING);
	/* again while firing: the same alert, refreshed, not announced */
	b = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 105.0, "grew more",
			    json_pack("{s:i}", "fds", 9));
	CHECK(b == a);
	CHECK_STR(a->summary, "grew more");
	CHECK_EQ(json_integer_value(json_object_get(a->evidence, "fds")), 9);
	CHECK(a->last_seen == 105.0 && a->fired_at == 100.0);
	/* another kind, and a reused pid, are other alerts */
	c = fdw_alerts_fire(&s, FDW_ALERT_EXHAUSTION, &p, 106.0, "full", NULL);
	CHECK(c && c != a && c->id == 2);
	b = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &reused, 107.0, "other process", NULL);
	CHECK(b && b != a && b->id == 3);
	CHECK(fdw_alerts_find_firing(&s, FDW_ALERT_GROWTH, 42, 1000) == a);
	CHECK(fdw_alerts_find_firing(&s, FDW_ALERT_GROWTH, 42, 2000) == b);
	CHECK_EQ(s.stats.firing[FDW_ALERT_GROWTH], 2);
	/* resolve once; a second resolve does nothing */
	fdw_alerts_resolve(&s, a, 110.0, "stopped");
	fdw_alerts_resolve(&s, a, 111.0, "again");
	CHECK(a->state == FDW_ALERT_RESOLVED && a->resolved_at == 110.0);
	CHECK_STR(a->resolution, "stopped");
	CHECK_EQ(s.stats.firing[FDW_ALERT_GROWTH], 1);
	/* firing again after resolution: a new alert */
	b = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 120.0, "grew again", NULL);
	CHECK(b && b != a && b->id == 4);
	/* the process exits */
	fdw_alerts_resolve_proc(&s, 42, 1000, 130.0, "process exited");
	CHECK(b->state == FDW_ALERT_RESOLVED && c->state == FDW_ALERT_RESOLVED);
	CHECK(fdw_alerts_find_firing(&s, FDW_ALERT_GROWTH, 42, 2000) != NULL);
	fflush(f);
	CHECK_EQ(count(log, "<4>fdwatchd: leak alert"), 4);
	CHECK_EQ(count(log, "<5>fdwatchd: leak alert"), 3);
	CHECK_EQ(count(log, "<4>fdwatchd: leak alert 1 firing: fd-growth pid 42 (cat): grew\n"), 1);
	CHECK_EQ(count(log, "<5>fdwatchd: leak alert 1 resolved: fd-growth pid 42 (cat): stopped\n"),
		 1);
	CHECK_EQ(changes, 7);
	CHECK_EQ(updates, 1);

	/* the shape `fdwatch leaks` reads */
	doc = alerts_doc(&s, 0, false);
	CHECK_EQ(json_array_size(json_object_get(doc, "alerts")), 4);
	o = json_array_get(json_object_get(doc, "alerts"), 0);
	CHECK_EQ(json_integer_value(json_object_get(o, "id")), 1);
	CHECK_STR(json_string_value(json_object_get(o, "kind")), "fd-growth");
	CHECK_STR(json_string_value(json_object_get(o, "state")), "resolved");
	CHECK_EQ(json_integer_value(json_object_get(o, "pid")), 42);
	CHECK_STR(json_string_value(json_object_get(o, "comm")), "cat");
	CHECK(json_real_value(json_object_get(o, "start_time")) == 1.5e9);
	CHECK(json_real_value(json_object_get(o, "fired_at")) == 100.0);
	CHECK(json_real_value(json_object_get(o, "resolved_at")) == 110.0);
	CHECK(json_is_object(json_object_get(o, "evidence")));
	CHECK(json_object_get(o, "start_ticks") == NULL); /* internal */
	json_decref(doc);
	doc = alerts_doc(&s, 42, true);
	CHECK_EQ(json_array_size(json_object_get(doc, "alerts")), 1);
	json_decref(doc);
	CHECK(fdw_alert_kind_from_name("exec-leak") == FDW_ALERT_EXEC_LEAK);
	CHECK(fdw_alert_kind_from_name("nope") == -1);
	fdw_alerts_free(&s);
	fclose(f);
	free(log);
}

static void test_bound(void)
{
	struct fdw_alerts s;
	struct fdw_alert_proc p;
	struct fdw_alert *a[4];

	CHECK_EQ(fdw_alerts_init(&s, 3, NULL), 0);
	s.log = NULL;
	for (int i = 0; i < 3; i++) {
		p = proc(100 + i, 1, "x");
		a[i] = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 1.0, "x", NULL);
		CHECK(a[i] != NULL);
	}
	/* full of firing alerts: refused and counted */
	p = proc(200, 1, "y");
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 2.0, "y", NULL) == NULL);
	CHECK_EQ(s.stats.dropped, 1);
	/* a resolved alert makes room, the oldest resolved first */
	fdw_alerts_resolve(&s, a[1], 3.0, "done");
	fdw_alerts_resolve(&s, a[0], 3.0, "done");
	a[3] = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 4.0, "y", NULL);
	CHECK(a[3] != NULL && a[3]->id == 4);
	CHECK_EQ(s.n, 3);
	CHECK_EQ(s.stats.evicted, 1);
	CHECK(fdw_alerts_get(&s, 1) == NULL);
	CHECK(fdw_alerts_get(&s, 2) != NULL);
	CHECK(fdw_alerts_get(&s, 4) == a[3]);
	fdw_alerts_free(&s);
}

static struct fdw_alert_proc owned(uint32_t pid, uint32_t uid)
{
	struct fdw_alert_proc p = proc(pid, pid, "dcflood");

	p.uid = uid;
	return p;
}

/* The share rules (alerts.h): one user's flood of firing alerts takes a
 * quarter of the store, users together all but an eighth; root's alert
 * still gets in; refusals are counted, and the log stays short. */
static void test_shares(void)
{
	struct fdw_alerts s;
	struct fdw_alert_proc p;
	struct fdw_alert *root;
	unsigned int kept = 0;
	char *log = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&log, &len);
	double now = 100.0;

	CHECK_EQ(fdw_alerts_share(1000), 250);
	CHECK_EQ(fdw_alerts_reserve(1000), 125);
	CHECK_EQ(fdw_alerts_share(3), 1);
	CHECK_EQ(fdw_alerts_reserve(3), 1);
	CHECK_EQ(fdw_alerts_reserve(1), 0);
	CHECK(fdw_alert_owner_system(0) && fdw_alert_owner_system(999));
	CHECK(!fdw_alert_owner_system(1000) && !fdw_alert_owner_system(FDW_OWNER_MIXED) &&
	      !fdw_alert_owner_system(FDW_OWNER_UNKNOWN));

	CHECK_EQ(fdw_alerts_init(&s, 1000, NULL), 0);
	s.log = f;
	/* uid 1000: 1,100 processes, one double close each */
	for (uint32_t i = 0; i < 1100; i++, now += 0.01) {
		p = owned(10000 + i, 1000);
		kept += fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "double close",
					NULL) != NULL;
	}
	CHECK_EQ(kept, 250);
	CHECK_EQ(s.stats.dropped, 850);
	CHECK_EQ(s.stats.dropped_share, 850);
	CHECK_EQ(fdw_alerts_admit(&s, 1000), FDW_ALERT_UID_SHARE);
	CHECK_EQ(fdw_alerts_admit(&s, 1001), FDW_ALERT_ADMIT);
	/* a refresh of a kept alert is no new alert: not refused */
	p = owned(10000, 1000);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "again", NULL) != NULL);
	CHECK_EQ(s.stats.dropped, 850);
	/* root's exec-leak gets in */
	p = owned(1, 0);
	root = fdw_alerts_fire(&s, FDW_ALERT_EXEC_LEAK, &p, now, "leaked fd 3", NULL);
	CHECK(root != NULL);
	/* three more users, then the users' part (875) is full: a fifth user,
	 * "mixed" and "unknown" owners are refused, root is not */
	for (uint32_t u = 1001; u <= 1003; u++)
		for (uint32_t i = 0; i < 250; i++, now += 0.01) {
			p = owned(20000 + u * 1000 + i, u);
			(void)fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "dc", NULL);
		}
	CHECK_EQ(s.stats.dropped, 850 + 125);
	CHECK_EQ(fdw_alerts_admit(&s, 1004), FDW_ALERT_USERS_SHARE);
	CHECK_EQ(fdw_alerts_admit(&s, FDW_OWNER_MIXED), FDW_ALERT_USERS_SHARE);
	CHECK_EQ(fdw_alerts_admit(&s, FDW_OWNER_UNKNOWN), FDW_ALERT_USERS_SHARE);
	p = owned(90000, 1004);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "dc", NULL) == NULL);
	p = owned(2, 0);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_EXEC_LEAK, &p, now, "leaked fd 4", NULL) != NULL);
	p = owned(3, 998);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, now, "grows", NULL) != NULL);
	CHECK_EQ(s.stats.dropped_share, 850 + 125 + 1);

	/* the log, still in the first minute: 10 lines of users' alerts, the
	 * system accounts' 3 lines, one refusal line */
	fflush(f);
	CHECK_EQ(count(log, "firing: double-close"), FDW_ALERT_LOG_BURST_USERS);
	CHECK_EQ(count(log, "firing: exec-leak"), 2);
	CHECK_EQ(count(log, "firing: fd-growth"), 1);
	CHECK_EQ(count(log, "refused"), 1);
	CHECK(strstr(log, "<4>fdwatchd: alerts: new double-close alert of pid 10250 (dcflood, "
			  "uid 1000) refused: uid 1000 holds 250 firing alerts, its share of the "
			  "1000 kept") != NULL);
	CHECK_EQ(s.stats.lines_suppressed, 875 - FDW_ALERT_LOG_BURST_USERS);
	/* a minute later the tick sums up what was held back, once */
	fdw_alerts_tick(&s, now + 30);
	fflush(f);
	CHECK_EQ(count(log, "not logged"), 0);
	fdw_alerts_tick(&s, 100.0 + FDW_ALERT_LOG_WINDOW_S + 1);
	fdw_alerts_tick(&s, 100.0 + FDW_ALERT_LOG_WINDOW_S + 2);
	fflush(f);
	/* the refusals' minute began with the first one, at 102.5 */
	CHECK_EQ(count(log, "more alerts refused"), 0);
	fdw_alerts_tick(&s, 102.5 + FDW_ALERT_LOG_WINDOW_S);
	fdw_alerts_tick(&s, 102.5 + FDW_ALERT_LOG_WINDOW_S + 1);
	fflush(f);
	CHECK_EQ(count(log, "more alerts refused"), 1);
	CHECK_EQ(count(log, "alert lines about processes of users not logged"), 1);
	CHECK(strstr(log, "865 alert lines about processes of users not logged") != NULL);
	CHECK_EQ(count(log, "alert lines about processes of system accounts"), 0);
	CHECK(strstr(log, "975 more alerts refused in the last") != NULL);
	CHECK(strstr(log, "(the last: double-close alert of pid 90000 (dcflood, uid 1004): the "
			  "users' part taken); 976 refused since start") != NULL);
	CHECK(count(log, "\n") < 30);

	/* the flooder's processes exit: room for it again */
	now = 200.0;
	for (uint32_t i = 0; i < 1100; i++)
		fdw_alerts_resolve_proc(&s, 10000 + i, 10000 + i, now, "process exited");
	CHECK_EQ(fdw_alerts_admit(&s, 1000), FDW_ALERT_ADMIT);
	p = owned(30000, 1000);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "dc", NULL) != NULL);
	fdw_alerts_free(&s);
	fclose(f);
	free(log);
}

static int write_file(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* The state file stays within what the reader takes (64 MiB): a store
 * whose evidence would pass it is saved without the resolved alerts'
 * evidence, then without any; every alert is kept. (max-alerts goes up to
 * 1,000,000: a file the daemon wrote was set aside as corrupt at start.) */
/*
 * The store full, a new alert pushes out a resolved one: one user's stream
 * of alerts, each resolved at once, took the whole store and pushed every
 * other owner's history out (the hostile tester: 1,000 of 1,000). A user
 * past its share of the store loses its own oldest first.
 */
static void test_evict_by_share(void)
{
	struct fdw_alerts s;
	struct fdw_alert_proc p;
	struct fdw_alert *a;
	unsigned int rootn = 0, usern = 0, othern = 0;
	double now = 100.0;

	CHECK_EQ(fdw_alerts_init(&s, 40, NULL), 0); /* share 10 */
	s.log = NULL;
	/* root: 20 alerts, resolved; uid 1001: 5 */
	for (uint32_t i = 0; i < 25; i++, now += 1) {
		p = owned(20000 + i, i < 20 ? 0 : 1001);
		a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, now, "growth", NULL);
		CHECK(a != NULL);
		if (a)
			fdw_alerts_resolve(&s, a, now + 0.5, "stopped");
	}
	/* uid 1000: 500 alerts, each resolved at once */
	for (uint32_t i = 0; i < 500; i++, now += 1) {
		p = owned(30000 + i, 1000);
		a = fdw_alerts_fire(&s, FDW_ALERT_DOUBLE_CLOSE, &p, now, "double close", NULL);
		CHECK(a != NULL);
		if (a)
			fdw_alerts_resolve(&s, a, now + 0.5, "exited");
	}
	for (size_t i = 0; i < s.n; i++) {
		rootn += s.v[i]->uid == 0;
		usern += s.v[i]->uid == 1000;
		othern += s.v[i]->uid == 1001;
	}
	CHECK_EQ(s.n, 40);
	CHECK_EQ(rootn, 20); /* root's history stayed */
	CHECK_EQ(othern, 5);
	CHECK_EQ(usern, 15); /* what was left */
	/* the newest of uid 1000 are the ones kept */
	CHECK(s.v[s.n - 1]->uid == 1000 && s.v[s.n - 1]->pid == 30499);
	/* with nobody past a share, the oldest goes: root's first */
	fdw_alerts_free(&s);
	CHECK_EQ(fdw_alerts_init(&s, 40, NULL), 0);
	for (uint32_t i = 0; i < 41; i++, now += 1) {
		p = owned(40000 + i, 0);
		a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, now, "growth", NULL);
		if (a)
			fdw_alerts_resolve(&s, a, now + 0.5, "stopped");
	}
	CHECK_EQ(s.n, 40);
	CHECK_EQ(s.v[0]->pid, 40001);
	fdw_alerts_free(&s);
}

/*
 * Evidence read back from the state file names events of the daemon's
 * earlier run: a race finding, its generation and fd-reuse's reopened, an
 * exec-leak's leaked fds and children are marked "earlier_run", their
 * seqs null (server/alert_view.c hides them from users: this run's seqs
 * start again at 1 and would be taken for theirs). Found by their shape:
 * what carries a "seq", and a file's record (with an "origin", "created"
 * or "closed"), in evidence of a shape no detector makes yet are marked
 * too; a leak site is not.
 */
static void test_earlier_run(void)
{
	struct fdw_alerts s, t;
	struct fdw_alert_proc p = proc(9, 99, "app"), q = proc(10, 100, "app");
	struct fdw_alert_proc r = proc(11, 101, "app"), u = proc(12, 102, "app");
	const json_t *f, *g, *l;
	struct fdw_alert *a;

	p.uid = q.uid = 1000;
	p.gid = q.gid = 1000;
	CHECK_EQ(fdw_alerts_init(&s, 10, dir), 0);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_FD_REUSE, &p, 10.0, "reuse",
			      json_loads("{\"findings\": [{\"fd\": 4, \"seq\": 13, \"generation\": {\"generation\": 2,"
					 " \"target\": \"/old\", \"created\": {\"syscall\": \"openat\","
					 " \"seq\": 10}, \"closed\": null}, \"reopened\": {\"seq\": 12},"
					 " \"target\": \"/new\"}, {\"fd\": 5, \"seq\": 14, \"generation\":"
					 " {\"generation\": 1, \"target\": \"/found\", \"created\": null,"
					 " \"closed\": null}}]}", 0, NULL)) != NULL);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_EXEC_LEAK, &q, 11.0, "leaked",
			      json_loads("{\"leaked\": [{\"fd\": 3, \"target\": \"/x\","
					 " \"origin\": {\"seq\": 5}, \"opened_by\": {\"seq\": 5}}],"
					 " \"children\": [{\"pid\": 15, \"seq\": 9, \"comm\": \"sh\"}]}",
					 0, NULL)) != NULL);
	r.uid = 1001; /* a user's share of 10 is 2 */
	r.gid = 1001;
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &r, 12.0, "grew",
			      json_loads("{\"sites\": [{\"syscall\": \"dup2\", \"sample_fds\":"
					 " [{\"fd\": 43, \"origin\": {\"seq\": 7},"
					 " \"opened_by\": {\"seq\": 6}}]}]}", 0, NULL)) != NULL);
	/* a shape no detector makes (yet) */
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_LIMIT_HIT, &u, 13.0, "hit",
			      json_loads("{\"future\": {\"parts\": [{\"fd\": 9, \"target\": \"/y\","
					 " \"origin\": {\"seq\": 8, \"pid\": 12}}, {\"made\":"
					 " {\"syscall\": \"openat\", \"seq\": 3}}]}}", 0, NULL)) != NULL);
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK_EQ(load(&t, NULL, 20.0), 0);

	/* a leak site's sample fds as the leaked ones */
	a = fdw_alerts_find_firing(&t, FDW_ALERT_GROWTH, 11, 101);
	l = json_array_get(json_object_get(json_array_get(json_object_get(a ? a->evidence : NULL,
									  "sites"), 0),
					   "sample_fds"), 0);
	CHECK(json_is_true(json_object_get(l, "earlier_run")));
	CHECK(json_is_null(json_object_get(json_object_get(l, "origin"), "seq")));
	CHECK(json_is_true(json_object_get(json_object_get(l, "opened_by"), "earlier_run")));
	CHECK(!json_object_get(json_array_get(json_object_get(a ? a->evidence : NULL, "sites"), 0),
			       "earlier_run"));

	a = fdw_alerts_find_firing(&t, FDW_ALERT_FD_REUSE, 9, 99);
	f = json_array_get(json_object_get(a ? a->evidence : NULL, "findings"), 0);
	g = json_object_get(f, "generation");
	CHECK(json_is_true(json_object_get(g, "earlier_run")));
	CHECK(json_is_true(json_object_get(json_object_get(g, "created"), "earlier_run")));
	CHECK(json_is_null(json_object_get(json_object_get(g, "created"), "seq")));
	CHECK(json_is_null(json_object_get(g, "closed")));
	CHECK_STR(json_string_value(json_object_get(g, "target")), "/old"); /* root's still */
	CHECK(json_is_true(json_object_get(json_object_get(f, "reopened"), "earlier_run")));
	CHECK(json_is_null(json_object_get(json_object_get(f, "reopened"), "seq")));
	CHECK(json_is_true(json_object_get(f, "earlier_run"))); /* the finding's own event */
	CHECK(json_is_null(json_object_get(f, "seq")));
	/* a generation with no origin to judge by */
	g = json_object_get(json_array_get(json_object_get(a ? a->evidence : NULL, "findings"), 1),
			    "generation");
	CHECK(json_is_true(json_object_get(g, "earlier_run")));
	CHECK(json_is_null(json_object_get(g, "created")));

	a = fdw_alerts_find_firing(&t, FDW_ALERT_EXEC_LEAK, 10, 100);
	l = json_array_get(json_object_get(a ? a->evidence : NULL, "leaked"), 0);
	CHECK(json_is_true(json_object_get(l, "earlier_run")));
	CHECK(json_is_true(json_object_get(json_object_get(l, "origin"), "earlier_run")));
	CHECK(json_is_null(json_object_get(json_object_get(l, "opened_by"), "seq")));
	CHECK_STR(json_string_value(json_object_get(l, "target")), "/x");
	l = json_array_get(json_object_get(a ? a->evidence : NULL, "children"), 0);
	CHECK(json_is_true(json_object_get(l, "earlier_run"))); /* its exec */
	CHECK(json_is_null(json_object_get(l, "seq")));

	a = fdw_alerts_find_firing(&t, FDW_ALERT_LIMIT_HIT, 12, 102);
	l = json_object_get(json_object_get(a ? a->evidence : NULL, "future"), "parts");
	f = json_array_get(l, 0);
	CHECK(json_is_true(json_object_get(f, "earlier_run")));
	CHECK(json_is_true(json_object_get(json_object_get(f, "origin"), "earlier_run")));
	CHECK(json_is_null(json_object_get(json_object_get(f, "origin"), "seq")));
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(f, "origin"), "pid")), 12);
	g = json_object_get(json_array_get(l, 1), "made");
	CHECK(json_is_true(json_object_get(g, "earlier_run")));
	CHECK(json_is_null(json_object_get(g, "seq")));
	CHECK(!json_object_get(json_array_get(l, 1), "earlier_run"));
	fdw_alerts_free(&t);
	fdw_alerts_free(&s);
	(void)unlink(path);
}

static void test_save_bound(void)
{
	struct fdw_alerts s, t;
	char *big = malloc((1 << 20) + 1);
	struct stat st;

	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, 'x', 1 << 20);
	big[1 << 20] = '\0';
	CHECK_EQ(fdw_alerts_init(&s, 100, dir), 0);
	s.log = NULL;
	/* 70 alerts of 1 MiB of evidence each, 40 of them resolved */
	for (uint32_t i = 0; i < 70; i++) {
		struct fdw_alert_proc p = proc(100 + i, 1000 + i, "big");
		struct fdw_alert *a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 10.0 + i, "grew",
						      json_pack("{s:s}", "blob", big));

		CHECK(a != NULL);
		if (a && i < 40)
			fdw_alerts_resolve(&s, a, 200.0, "gone");
	}
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK(st.st_size <= (64 << 20));
	CHECK(s.save_trimmed);
	CHECK_EQ(fdw_alerts_init(&t, 100, dir), 0);
	t.log = NULL;
	CHECK_EQ(fdw_alerts_load(&t, 300.0), 0);
	CHECK_EQ(t.n, 70);
	/* the firing ones kept their evidence */
	CHECK(fdw_alerts_get(&t, 70) &&
	      json_object_get(fdw_alerts_get(&t, 70)->evidence, "blob") != NULL);
	fdw_alerts_free(&t);
	fdw_alerts_free(&s);
	(void)unlink(path);
	free(big);
}

static void test_persistence(void)
{
	struct fdw_alerts s, t;
	struct fdw_alert_proc p = proc(7, 77, "srv"), q = proc(8, 88, "cli");
	struct fdw_alert *a, *b;
	char tmp[300], corrupt[300], *log = NULL;
	size_t len = 0;
	FILE *f;
	struct stat st;

	/* owners: uid 1000 with gid 42 (User= with Group=), and uid 1000
	 * with any gid (the owner of a user namespace) */
	p.uid = q.uid = 1000;
	p.gid = 42;
	q.gid = FDW_OWNER_GID_ANY;
	CHECK_EQ(fdw_alerts_init(&s, 10, dir), 0);
	s.log = NULL;
	a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 10.0, "grew",
			    json_pack("{s:i, s:[{s:s}]}", "fds", 500, "sites", "target", "/x"));
	b = fdw_alerts_fire(&s, FDW_ALERT_EXEC_LEAK, &q, 11.0, "leaked", NULL);
	fdw_alerts_resolve(&s, b, 12.0, "closed");
	CHECK(a && b);
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK(!s.dirty);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ((size_t)st.st_size, s.saved_bytes); /* the daemon spaces saves by it */

	/* a restart: the same alerts, the ids go on */
	CHECK_EQ(load(&t, NULL, 20.0), 0);
	CHECK_EQ(t.n, 2);
	CHECK_EQ(t.next_id, 3);
	a = fdw_alerts_get(&t, 1);
	CHECK(a && a->state == FDW_ALERT_FIRING && a->recovered && a->pid == 7 &&
	      a->start_ticks == 77 && a->fired_at == 10.0 && !strcmp(a->comm, "srv"));
	CHECK(a && json_integer_value(json_object_get(a->evidence, "fds")) == 500);
	CHECK_EQ(t.stats.firing[FDW_ALERT_GROWTH], 1);
	b = fdw_alerts_get(&t, 2);
	CHECK(b && b->state == FDW_ALERT_RESOLVED && !strcmp(b->resolution, "closed") &&
	      b->resolved_at == 12.0);
	/* the owners' gids came back; the API shows the one gid, none for any */
	CHECK(a && a->uid == 1000 && a->gid == 42);
	CHECK(b && b->uid == 1000 && b->gid == FDW_OWNER_GID_ANY);
	{
		json_t *doc = alerts_doc(&t, 0, false);
		json_t *arr = json_object_get(doc, "alerts");

		for (size_t i = 0; i < json_array_size(arr); i++) {
			json_t *o = json_array_get(arr, i);
			json_int_t id = json_integer_value(json_object_get(o, "id"));

			CHECK_EQ(json_integer_value(json_object_get(o, "uid")), 1000);
			if (id == 1)
				CHECK_EQ(json_integer_value(json_object_get(o, "gid")), 42);
			else
				CHECK(json_object_get(o, "gid") == NULL);
		}
		CHECK_EQ(json_array_size(arr), 2);
		json_decref(doc);
	}
	/* a file without the gid (an older daemon's): the alert is root's
	 * only, not shown to uid 1000 whatever its gid */
	{
		json_t *file = json_load_file(path, 0, NULL);
		json_t *arr = json_object_get(file, "alerts");
		struct fdw_alerts u;

		CHECK(file != NULL);
		for (size_t i = 0; i < json_array_size(arr); i++)
			CHECK_EQ(json_object_del(json_array_get(arr, i), "gid"), 0);
		CHECK_EQ(json_dump_file(file, path, 0), 0);
		json_decref(file);
		CHECK_EQ(load(&u, NULL, 20.0), 0);
		CHECK(fdw_alerts_get(&u, 1) && fdw_alerts_get(&u, 1)->uid == FDW_OWNER_UNKNOWN);
		CHECK(fdw_alerts_get(&u, 2) && fdw_alerts_get(&u, 2)->uid == FDW_OWNER_UNKNOWN);
		fdw_alerts_free(&u);
	}
	/* the detector confirms the recovered alert: joined, not a new one */
	CHECK(fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &p, 21.0, "still", NULL) == a);
	CHECK(a && !a->recovered);
	CHECK(fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &q, 22.0, "new", NULL)->id == 3);

	/* a crash mid-save leaves the temp file: ignored and removed */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK_EQ(write_file(tmp, "{\"version\": 1, \"alerts\": [{\"id\": 9"), 0);
	fdw_alerts_free(&t);
	CHECK_EQ(load(&t, NULL, 30.0), 0);
	CHECK_EQ(t.n, 2);
	CHECK(access(tmp, F_OK) < 0);
	fdw_alerts_free(&t);

	/* another boot: what fired then has ended */
	{
		struct fdw_alerts u;

		CHECK_EQ(fdw_alerts_init(&u, 10, dir), 0);
		u.log = NULL;
		snprintf(u.boot_id, sizeof(u.boot_id), "another-boot");
		CHECK_EQ(fdw_alerts_load(&u, 40.0), 0);
		CHECK(fdw_alerts_get(&u, 1) && fdw_alerts_get(&u, 1)->state == FDW_ALERT_RESOLVED);
		CHECK_STR(fdw_alerts_get(&u, 1)->resolution, "host rebooted");
		CHECK_EQ(u.stats.firing[FDW_ALERT_GROWTH], 0);
		fdw_alerts_free(&u);
	}

	/* a corrupt file: reported, set aside, the daemon starts empty */
	CHECK_EQ(write_file(path, "{\"version\": 1, \"alerts\": [ garbage"), 0);
	f = open_memstream(&log, &len);
	CHECK_EQ(load(&t, f, 50.0), -EBADMSG);
	fflush(f);
	CHECK_EQ(t.n, 0);
	CHECK_EQ(t.stats.load_errors, 1);
	CHECK(strstr(log, "<4>fdwatchd: alerts: state file") != NULL);
	CHECK(strstr(log, "is corrupt") != NULL);
	snprintf(corrupt, sizeof(corrupt), "%s.corrupt", path);
	CHECK_EQ(access(corrupt, F_OK), 0);
	CHECK(access(path, F_OK) < 0);
	/* and the next save writes a good one */
	p = proc(9, 99, "again");
	CHECK(fdw_alerts_fire(&t, FDW_ALERT_LIMIT_HIT, &p, 51.0, "emfile", NULL) != NULL);
	CHECK_EQ(fdw_alerts_save(&t), 0);
	fdw_alerts_free(&t);
	fclose(f);
	free(log);

	/* valid JSON, wrong shape: corrupt too; bad entries alone are skipped */
	CHECK_EQ(write_file(path, "[1, 2, 3]"), 0);
	CHECK_EQ(load(&t, NULL, 60.0), -EBADMSG);
	fdw_alerts_free(&t);
	CHECK_EQ(write_file(path, "{\"version\": 1, \"next_id\": 5, \"alerts\": ["
				  "{\"id\": 3, \"kind\": \"fd-growth\", \"state\": \"resolved\","
				  " \"pid\": 5, \"comm\": \"a\", \"fired_at\": 1.0},"
				  "{\"id\": 4, \"kind\": \"no-such-kind\", \"state\": \"firing\","
				  " \"pid\": 5, \"fired_at\": 1.0}]}"), 0);
	CHECK_EQ(load(&t, NULL, 60.0), 0);
	CHECK_EQ(t.n, 1);
	CHECK_EQ(t.next_id, 5);
	CHECK_EQ(t.stats.load_errors, 1);
	fdw_alerts_free(&t);

	/* an unwritable state directory: the error is returned and counted */
	{
		struct fdw_alerts u;

		CHECK_EQ(fdw_alerts_init(&u, 10, "/proc/fdw-no-such-dir"), 0);
		u.log = NULL;
		p = proc(1, 1, "x");
		(void)fdw_alerts_fire(&u, FDW_ALERT_GROWTH, &p, 1.0, "x", NULL);
		CHECK(fdw_alerts_save(&u) < 0);
		CHECK_EQ(u.stats.save_errors, 1);
		CHECK(u.dirty);
		fdw_alerts_free(&u);
	}
	(void)unlink(corrupt);
	(void)unlink(path);
	fdw_alerts_free(&s); /* the first store (LeakSanitizer) */
}

/* A FIFO (or a directory) as the state file: set aside at once, never an
 * open() that waits for a writer (main's alarm() fails a hang). */
static void test_state_file_types(void)
{
	struct fdw_alerts t;
	char corrupt[300], *log = NULL;
	size_t len = 0;
	struct stat st;
	FILE *f;

	snprintf(corrupt, sizeof(corrupt), "%s.corrupt", path);
	CHECK_EQ(mkfifo(path, 0600), 0);
	f = open_memstream(&log, &len);
	CHECK_EQ(load(&t, f, 1.0), -EINVAL);
	fflush(f);
	CHECK_EQ(t.n, 0);
	CHECK_EQ(t.stats.load_errors, 1);
	CHECK(log && strstr(log, "is corrupt (not a regular file)") != NULL);
	CHECK(lstat(corrupt, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK(access(path, F_OK) < 0);
	/* the store works without it */
	{
		struct fdw_alert_proc p = proc(3, 33, "x");

		CHECK(fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &p, 2.0, "grew", NULL) != NULL);
		CHECK_EQ(fdw_alerts_save(&t), 0);
		CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	}
	fdw_alerts_free(&t);
	fclose(f);
	free(log);
	(void)unlink(corrupt);

	/* a FIFO at the temp name (load removes it, but a save must not hang) */
	{
		char tmp[300];

		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		CHECK_EQ(load(&t, NULL, 3.0), 0);
		CHECK_EQ(mkfifo(tmp, 0600), 0);
		t.dirty = true;
		CHECK(fdw_alerts_save(&t) < 0);
		(void)unlink(tmp);
		CHECK_EQ(fdw_alerts_save(&t), 0);
		fdw_alerts_free(&t);
	}
	(void)unlink(path);
}

/* Every id the API shows is in 1..INT64_MAX (alerts.h): a state file near
 * the top wraps to the lowest free id; one beyond it is corrupt. */
static void test_id_bounds(void)
{
	struct fdw_alerts t;
	struct fdw_alert_proc p = proc(11, 111, "a"), q = proc(12, 122, "b"),
			      u = proc(13, 133, "c");
	struct fdw_alert *a, *b, *c;
	char text[1024], *log = NULL;
	size_t len = 0;
	json_t *doc;
	FILE *f;

	CHECK_EQ(FDW_ALERT_ID_MAX, INT64_MAX);
	snprintf(text, sizeof(text),
		 "{\"version\": 1, \"next_id\": %lld, \"alerts\": ["
		 "{\"id\": 1, \"kind\": \"fd-growth\", \"state\": \"resolved\","
		 " \"pid\": 5, \"comm\": \"a\", \"fired_at\": 1.0},"
		 "{\"id\": %lld, \"kind\": \"fd-growth\", \"state\": \"resolved\","
		 " \"pid\": 6, \"comm\": \"b\", \"fired_at\": 1.0}]}",
		 (long long)INT64_MAX - 1, (long long)INT64_MAX - 2);
	CHECK_EQ(write_file(path, text), 0);
	f = open_memstream(&log, &len);
	CHECK_EQ(load(&t, f, 1.0), 0);
	CHECK_EQ(t.n, 2);
	CHECK(t.next_id == (uint64_t)INT64_MAX - 1);
	a = fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &p, 2.0, "a", NULL);
	b = fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &q, 2.0, "b", NULL);
	c = fdw_alerts_fire(&t, FDW_ALERT_GROWTH, &u, 2.0, "c", NULL);
	CHECK(a && a->id == (uint64_t)INT64_MAX - 1);
	CHECK(b && b->id == (uint64_t)INT64_MAX);
	CHECK(c && c->id == 2); /* wrapped; 1 is still kept */
	CHECK_EQ(t.next_id, 3);
	fflush(f);
	CHECK(log && strstr(log, "numbering starts again at 1") != NULL);
	/* sorted by id, each found, none negative in JSON */
	for (size_t i = 1; i < t.n; i++)
		CHECK(t.v[i - 1]->id < t.v[i]->id);
	CHECK(fdw_alerts_get(&t, (uint64_t)INT64_MAX) == b && fdw_alerts_get(&t, 2) == c);
	doc = alerts_doc(&t, 0, false);
	{
		json_t *o;
		size_t i;

		CHECK_EQ(json_array_size(json_object_get(doc, "alerts")), 5);
		json_array_foreach(json_object_get(doc, "alerts"), i, o)
			CHECK(json_integer_value(json_object_get(o, "id")) > 0);
	}
	json_decref(doc);
	/* saved and loaded back: the same ids; the next one after the free 2 */
	CHECK_EQ(fdw_alerts_save(&t), 0);
	fdw_alerts_free(&t);
	fclose(f);
	free(log);
	CHECK_EQ(load(&t, NULL, 3.0), 0);
	CHECK_EQ(t.n, 5);
	CHECK(fdw_alerts_get(&t, (uint64_t)INT64_MAX) && fdw_alerts_get(&t, 2));
	a = fdw_alerts_fire(&t, FDW_ALERT_EXEC_LEAK, &p, 4.0, "d", NULL);
	CHECK(a && a->id == 3);
	fdw_alerts_free(&t);

	/* next_id below 1: after the largest id */
	CHECK_EQ(write_file(path, "{\"version\": 1, \"next_id\": -5, \"alerts\": ["
				  "{\"id\": 3, \"kind\": \"fd-growth\", \"state\": \"resolved\","
				  " \"pid\": 5, \"comm\": \"a\", \"fired_at\": 1.0}]}"), 0);
	CHECK_EQ(load(&t, NULL, 5.0), 0);
	CHECK_EQ(t.next_id, 4);
	fdw_alerts_free(&t);

	/* beyond INT64_MAX: refused, the file set aside */
	CHECK_EQ(write_file(path, "{\"version\": 1, \"next_id\": 9223372036854775808,"
				  " \"alerts\": []}"), 0);
	CHECK_EQ(load(&t, NULL, 6.0), -EBADMSG);
	CHECK_EQ(t.next_id, 1);
	fdw_alerts_free(&t);
	CHECK_EQ(write_file(path, "{\"version\": 1, \"alerts\": ["
				  "{\"id\": 18446744073709551615, \"kind\": \"fd-growth\","
				  " \"state\": \"resolved\", \"pid\": 5, \"fired_at\": 1.0}]}"), 0);
	CHECK_EQ(load(&t, NULL, 7.0), -EBADMSG);
	CHECK_EQ(t.n, 0);
	fdw_alerts_free(&t);
	snprintf(text, sizeof(text), "%s.corrupt", path);
	(void)unlink(text);
	(void)unlink(path);
}

/* The state file, loaded: n alerts, the first with evidence fds = `fds`. */
static void check_saved(size_t n, long long fds)
{
	struct fdw_alerts t;

	CHECK_EQ(load(&t, NULL, 12.0), 0);
	CHECK_EQ(t.n, n);
	if (t.n == n && n)
		CHECK_EQ(json_integer_value(json_object_get(t.v[0]->evidence, "fds")), fds);
	fdw_alerts_free(&t);
}

/*
 * A save in three steps (the daemon writes in the thread pool): the file
 * is the store as it was at _begin. The detectors change an alert's
 * evidence in place (growth.c) while the writer runs on another thread:
 * the job's document must not share it. A change after _begin is the
 * next save's; a failed write leaves the store to be saved again.
 */
static void test_save_job(void)
{
	struct fdw_alerts s;
	struct fdw_alert_proc p = proc(21, 2100, "srv"), q = proc(22, 2200, "late");
	struct fdw_alerts_save_job *j;
	struct fdw_alert *a;
	char tmp[300];

	(void)unlink(path);
	CHECK_EQ(fdw_alerts_init(&s, 10, dir), 0);
	s.log = NULL;
	a = fdw_alerts_fire(&s, FDW_ALERT_GROWTH, &p, 10.0, "grew", json_pack("{s:i}", "fds", 500));
	CHECK(a != NULL);
	if (!a)
		return;
	j = fdw_alerts_save_begin(&s);
	CHECK(j != NULL);
	CHECK(!s.dirty && s.saving);
	CHECK(fdw_alerts_save_begin(&s) == NULL); /* one in flight at a time */
	/* the loop goes on while the writer runs */
	CHECK_EQ(json_object_set_new(a->evidence, "fds", json_integer(900)), 0);
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_LIMIT_HIT, &q, 11.0, "emfile", NULL) != NULL);
	CHECK(s.dirty);
	CHECK(fdw_alerts_save_begin(&s) == NULL); /* still one at a time */
	CHECK_EQ(fdw_alerts_save(&s), -EBUSY);	  /* ... nor a synchronous one */
	CHECK_EQ(s.stats.save_errors, 0);
	fdw_alerts_save_write(j);
	CHECK_EQ(fdw_alerts_save_end(&s, j), 0);
	CHECK(!s.saving && s.dirty); /* the later change still to save */
	CHECK_EQ(s.stats.saves, 1);

	check_saved(1, 500);

	/* the next save has both, and the new figure */
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK(!s.dirty);
	check_saved(2, 900);

	/* a write that fails (a FIFO at the temp name): dirty again, counted */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK_EQ(json_object_set_new(a->evidence, "fds", json_integer(901)), 0);
	s.dirty = true;
	j = fdw_alerts_save_begin(&s);
	CHECK(j != NULL);
	CHECK_EQ(mkfifo(tmp, 0600), 0);
	if (j) {
		fdw_alerts_save_write(j);
		CHECK(fdw_alerts_save_end(&s, j) < 0);
	}
	(void)unlink(tmp);
	CHECK(s.dirty && !s.saving && s.save_failing);
	CHECK_EQ(s.stats.save_errors, 1);
	/* a job no thread took: the same, and it took no time */
	s.stats.save_ms_last = 77;
	j = fdw_alerts_save_begin(&s);
	CHECK(j != NULL);
	if (j)
		fdw_alerts_save_cancel(&s, j, -ENOMEM);
	CHECK(s.dirty && !s.saving);
	CHECK_EQ(s.stats.save_errors, 2);
	CHECK_EQ(s.stats.save_ms_last, 77);

	/* a write that waits on the disk: its age is shown, and past a
	 * minute it is said once; its end is said too */
	{
		char *log = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&log, &len);

		CHECK(f != NULL);
		s.log = f;
		CHECK_EQ(fdw_alerts_save_pending_ms(&s, fdw_now_mono()), 0); /* none */
		j = fdw_alerts_save_begin(&s);
		CHECK(j != NULL);
		CHECK_EQ(fdw_alerts_save_pending_ms(&s, s.save_started_ns + 5000000000ull), 5000);
		fdw_alerts_tick(&s, 13.0);
		s.save_started_ns -= (FDW_ALERT_SAVE_STALL_MS + 1000) * 1000000ull;
		fdw_alerts_tick(&s, 14.0);
		fdw_alerts_tick(&s, 15.0);
		if (j) {
			fdw_alerts_save_write(j);
			CHECK_EQ(fdw_alerts_save_end(&s, j), 0);
		}
		CHECK_EQ(fdw_alerts_save_pending_ms(&s, fdw_now_mono()), 0);
		s.log = NULL;
		fclose(f);
		CHECK(log && strstr(log, "has waited on the disk for 60 s") &&
		      !strstr(strstr(log, "has waited on the disk") + 1, "has waited on the disk"));
		CHECK(log && strstr(log, "that waited ended after 61 s") != NULL);
		free(log);
		s.dirty = true;
	}
	/* and the retry writes what the failed ones held */
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK(!s.dirty && !s.save_failing);
	check_saved(2, 901);
	fdw_alerts_free(&s);
	(void)unlink(path);
}

/*
 * A summary names a leak site's file, whose name is a user's bytes: not
 * UTF-8 ("bad\xff" made with open(2)), or UTF-8 cut in the middle of a
 * character where the detector's buffer ended. Before, json_string() of
 * such a summary was NULL, the alert had no JSON: GET /v1/leaks ended
 * without an answer for root and every client that sees the alert, the
 * follow streams stopped, and no alert was saved any more (the state
 * document could not be made) until the alert left the store.
 */
static void test_summary_bytes(void)
{
	struct fdw_alerts s, t;
	struct fdw_alert_proc p = proc(9, 99, "bad");
	struct fdw_alert *a, *b;
	json_t *o;

	CHECK_EQ(fdw_alerts_init(&s, 10, dir), 0);
	s.log = NULL;
	a = fdw_alerts_fire(&s, FDW_ALERT_EXHAUSTION, &p, 10.0,
			    "top site: 96 x openat /tmp/bad\xff\xfe-name", NULL);
	/* "caf\xc3\xa9" cut after its first byte */
	b = fdw_alerts_fire(&s, FDW_ALERT_LIMIT_HIT, &p, 10.0, "top site: 1 x openat /caf\xc3",
			    NULL);
	CHECK(a && b);
	if (!a || !b)
		return;
	o = fdw_alert_json(a);
	CHECK(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "summary")),
		  "top site: 96 x openat /tmp/bad\\xff\\xfe-name");
	json_decref(o);
	o = fdw_alert_json(b);
	CHECK(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "summary")),
		  "top site: 1 x openat /caf\\xc3");
	json_decref(o);
	/* refreshed with such a summary, and resolved */
	CHECK(fdw_alerts_fire(&s, FDW_ALERT_EXHAUSTION, &p, 11.0, "again \xff", NULL) == a);
	fdw_alerts_resolve(&s, b, 12.0, "gone \xc3");
	o = fdw_alert_json(a);
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "summary")) ?: "", "again \\xff"));
	json_decref(o);
	o = fdw_alert_json(b);
	CHECK(o && !strcmp(json_string_value(json_object_get(o, "resolution")) ?: "",
			   "gone \\xc3"));
	json_decref(o);
	/* and the store is still saved */
	CHECK_EQ(fdw_alerts_save(&s), 0);
	CHECK_EQ(load(&t, NULL, 20.0), 0);
	CHECK_EQ(t.n, 2);
	CHECK(fdw_alerts_get(&t, 1) &&
	      !strcmp(fdw_alerts_get(&t, 1)->summary, "again \\xff"));
	fdw_alerts_free(&t);
	fdw_alerts_free(&s);
	(void)unlink(path);
}

int main(void)
{
	alarm(30); /* a state file that blocks must fail the test, not hang it */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/alerts.json", dir);
	test_lifecycle();
	test_bound();
	test_shares();
	test_evict_by_share();
	test_persistence();
	test_earlier_run();
	test_save_bound();
	test_save_job();
	test_state_file_types();
	test_id_bounds();
	test_summary_bytes();
	(void)rmdir(dir);
	return check_summary();
}
