// SPDX-License-Identifier: LGPL-2.1-or-later
/* Leak alerts: lifecycle, de-duplication, persistence. See alerts.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "base/hashmap.h"
#include "sys/pidinfo.h"
#include "base/fs.h"
#include "base/clock.h"
#include "base/grow.h"
#include "base/json.h"
#include "base/log.h"
#include "base/search.h"

#define STATE_FILE "alerts.json"
#define STATE_VERSION 1
#define STATE_MAX_BYTES (64u << 20) /* a state file larger than this is not ours */

static const char *const kind_names[FDW_ALERT_KINDS] = {
	[FDW_ALERT_GROWTH] = "fd-growth",
	[FDW_ALERT_EXHAUSTION] = "fd-exhaustion",
	[FDW_ALERT_LIMIT_HIT] = "fd-limit-hit",
	[FDW_ALERT_EXEC_LEAK] = "exec-leak",
	[FDW_ALERT_DOUBLE_CLOSE] = "double-close",
	[FDW_ALERT_USE_AFTER_CLOSE] = "use-after-close",
	[FDW_ALERT_CLOSE_IN_FLIGHT] = "close-in-flight",
	[FDW_ALERT_DUP2_CLOBBER] = "dup2-clobber",
	[FDW_ALERT_FD_REUSE] = "fd-reuse",
};

const char *fdw_alert_kind_name(enum fdw_alert_kind k)
{
	return (unsigned int)k < FDW_ALERT_KINDS ? kind_names[k] : "unknown";
}

int fdw_alert_kind_from_name(const char *name)
{
	for (int k = 0; name && k < FDW_ALERT_KINDS; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

const char *fdw_alert_state_name(enum fdw_alert_state s)
{
	return s == FDW_ALERT_FIRING ? "firing" : "resolved";
}

/* ---- memory ------------------------------------------------------------ */

static void alert_free(struct fdw_alert *a)
{
	if (!a)
		return;
	free(a->summary);
	free(a->resolution);
	json_decref(a->evidence);
	free(a);
}

static int read_boot_id(char out[40])
{
	char buf[64];
	ssize_t n;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(out, 40, "%.39s", buf);
	return 0;
}

int fdw_alerts_init(struct fdw_alerts *s, size_t max, const char *state_dir)
{
	memset(s, 0, sizeof(*s));
	s->max = max ? max : 1000;
	s->next_id = 1;
	s->log = stderr;
	(void)read_boot_id(s->boot_id);
	if (state_dir && *state_dir) {
		size_t len = strlen(state_dir) + sizeof("/" STATE_FILE);

		s->path = malloc(len);
		if (!s->path)
			return -ENOMEM;
		snprintf(s->path, len, "%s/%s", state_dir, STATE_FILE);
	}
	return 0;
}

void fdw_alerts_free(struct fdw_alerts *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		alert_free(s->v[i]);
	free(s->v);
	free(s->path);
	s->v = NULL;
	s->path = NULL;
	s->n = s->cap = 0;
}

/* ---- lookup ------------------------------------------------------------- */

/* The store's order: s->v by id (qsort(3) comparator). */
static int cmp_alert_id(const void *x, const void *y)
{
	const struct fdw_alert *a = *(const struct fdw_alert *const *)x;
	const struct fdw_alert *b = *(const struct fdw_alert *const *)y;

	return a->id < b->id ? -1 : a->id > b->id;
}

struct fdw_alert *fdw_alerts_get(struct fdw_alerts *s, uint64_t id)
{
	const struct fdw_alert key = { .id = id }, *kp = &key;
	size_t k = FDW_LOWER_BOUND(&kp, s->v, s->n, cmp_alert_id);

	return k < s->n && s->v[k]->id == id ? s->v[k] : NULL;
}

struct fdw_alert *fdw_alerts_find_firing(struct fdw_alerts *s, enum fdw_alert_kind kind,
					 uint32_t pid, uint64_t start_ticks)
{
	/* newest first: a firing alert is usually recent */
	for (size_t i = s->n; i > 0; i--) {
		struct fdw_alert *a = s->v[i - 1];

		if (a->state == FDW_ALERT_FIRING && a->kind == kind && a->pid == pid &&
		    a->start_ticks == start_ticks)
			return a;
	}
	return NULL;
}

/* ---- logging -------------------------------------------------------------- */

/* comm and summaries come from processes: keep log lines printable */
static const char *printable(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in && *in && i + 1 < len; in++)
		out[i++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	out[i] = '\0';
	return out;
}

static const char *owner_name(uint32_t uid, char *buf, size_t len)
{
	if (uid == FDW_OWNER_MIXED)
		return "mixed";
	if (uid == FDW_OWNER_UNKNOWN)
		return "unknown";
	snprintf(buf, len, "%u", uid);
	return buf;
}

/* What a limiter held back in its minute, said once the minute is over. */
static void rl_summary(struct fdw_alerts *s, int which, const struct fdw_alert_ratelimit *rl,
		       double now)
{
	double span = now - rl->start;

	if (span < FDW_ALERT_LOG_WINDOW_S || span > 10 * FDW_ALERT_LOG_WINDOW_S)
		span = FDW_ALERT_LOG_WINDOW_S; /* the clock moved: say the window */
	if (which == FDW_ALERT_RL_REFUSED)
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: %llu more alerts refused in the last %.0f s, not logged one by "
			   "one (the last: %s); %llu refused since start (alerts.dropped)",
			   (unsigned long long)rl->suppressed, span, s->refused_last,
			   (unsigned long long)s->stats.dropped);
	else
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: %llu alert lines about processes of %s not logged in the last "
			   "%.0f s (at most %u a minute; %llu since start); GET /v1/leaks has "
			   "every alert",
			   (unsigned long long)rl->suppressed,
			   which == FDW_ALERT_RL_SYSTEM ? "system accounts" : "users", span,
			   which == FDW_ALERT_RL_SYSTEM ? FDW_ALERT_LOG_BURST_SYSTEM
							: FDW_ALERT_LOG_BURST_USERS,
			   (unsigned long long)s->stats.lines_suppressed);
}

/* A new window once the last one is over (or the clock went back); the
 * lines it held back are summed up first. */
static void rl_roll(struct fdw_alerts *s, int which, double now)
{
	struct fdw_alert_ratelimit *rl = &s->rl[which];

	if (rl->on && now >= rl->start && now - rl->start < FDW_ALERT_LOG_WINDOW_S)
		return;
	if (rl->on && rl->suppressed)
		rl_summary(s, which, rl, now);
	*rl = (struct fdw_alert_ratelimit){ .on = true, .start = now };
}

/* May a line of this limiter be logged now (burst lines a window)? */
static bool rl_allow(struct fdw_alerts *s, int which, double now, unsigned int burst)
{
	struct fdw_alert_ratelimit *rl = &s->rl[which];

	rl_roll(s, which, now);
	if (rl->lines < burst) {
		rl->lines++;
		return true;
	}
	rl->suppressed++;
	return false;
}

void fdw_alerts_tick(struct fdw_alerts *s, double now)
{
	for (int i = 0; s && i < FDW_ALERT_RLS; i++)
		if (s->rl[i].on)
			rl_roll(s, i, now);
	/* a write that waits on the disk is neither done nor failed: said
	 * once, the file being stale meanwhile */
	if (s && s->saving && !s->save_stall_logged &&
	    fdw_alerts_save_pending_ms(s, fdw_now_mono()) >= FDW_ALERT_SAVE_STALL_MS) {
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: saving %s has waited on the disk for %u s (the daemon goes on; "
			   "the file is stale until it completes)",
			   s->path, FDW_ALERT_SAVE_STALL_MS / 1000);
		s->save_stall_logged = true;
	}
}

static void log_alert(struct fdw_alerts *s, const struct fdw_alert *a, const char *what,
		      const char *text, double now)
{
	bool sys = fdw_alert_owner_system(a->uid);
	char comm[64], line[1024];

	if (!rl_allow(s, sys ? FDW_ALERT_RL_SYSTEM : FDW_ALERT_RL_USERS, now,
		      sys ? FDW_ALERT_LOG_BURST_SYSTEM : FDW_ALERT_LOG_BURST_USERS)) {
		s->stats.lines_suppressed++;
		return;
	}
	/* a warning when it fires, a notice when it resolves */
	fdw_log_to(s->log, a->state == FDW_ALERT_FIRING ? LOG_WARNING : LOG_NOTICE,
		   "leak alert %llu %s: %s pid %u (%s): %s", (unsigned long long)a->id, what,
		   fdw_alert_kind_name(a->kind), a->pid, printable(a->comm, comm, sizeof(comm)),
		   printable(text, line, sizeof(line)));
}

/* ---- lifecycle ------------------------------------------------------------ */

static int store_append(struct fdw_alerts *s, struct fdw_alert *a)
{
	if (FDW_GROW(s->v, s->n, s->cap, 16) < 0)
		return -ENOMEM;
	s->v[s->n++] = a;
	return 0;
}

/* Keep s->v sorted by id: an id taken after a wrap is not the largest. */
static int store_insert(struct fdw_alerts *s, struct fdw_alert *a)
{
	size_t i;
	int r = store_append(s, a);

	if (r < 0)
		return r;
	for (i = s->n - 1; i > 0 && s->v[i - 1]->id > a->id; i--)
		s->v[i] = s->v[i - 1];
	s->v[i] = a;
	return 0;
}

static void advance_id(struct fdw_alerts *s)
{
	if (s->next_id < FDW_ALERT_ID_MAX) {
		s->next_id++;
		return;
	}
	s->next_id = 1;
	fdw_log_to(s->log, LOG_NOTICE,
		   "alerts: id %llu was the last one: numbering starts again at 1, skipping "
		   "the ids of alerts still kept", (unsigned long long)FDW_ALERT_ID_MAX);
}

/* The next free id (alerts.h): at most s->n ids are taken, so the loop
 * ends within s->n + 1 steps. */
static uint64_t take_id(struct fdw_alerts *s)
{
	uint64_t id;

	if (s->next_id < 1 || s->next_id > FDW_ALERT_ID_MAX)
		s->next_id = 1;
	while (fdw_alerts_get(s, s->next_id))
		advance_id(s);
	id = s->next_id;
	advance_id(s);
	return id;
}

/*
 * Forget the oldest resolved alert, for a new one of `uid`: its own when
 * it holds its share of the store (fdw_alerts_share) or more, else the
 * oldest of the user who holds the most past that share, else the oldest.
 * One user's stream of alerts, resolved at once, pushed every other
 * owner's history out of the store. false when every alert fires.
 */
static bool evict_one(struct fdw_alerts *s, uint32_t uid)
{
	size_t share = fdw_alerts_share(s->max), mine = 0, top_n = 0;
	uint32_t top = uid;
	bool own = true; /* top's first, then the oldest */
	size_t i;

	for (i = 0; i < s->n; i++)
		mine += s->v[i]->uid == uid;
	if (fdw_alert_owner_system(uid) || mine < share) {
		/* the user holding the most, when past its share (one walk) */
		struct fdw_hashmap counts;

		fdw_hashmap_init(&counts);
		for (i = 0; i < s->n; i++) {
			uint32_t u = s->v[i]->uid;
			size_t n;

			if (fdw_alert_owner_system(u))
				continue;
			n = (size_t)(uintptr_t)fdw_hashmap_get(&counts, u) + 1;
			if (fdw_hashmap_put(&counts, u, (void *)(uintptr_t)n) < 0)
				break; /* no memory: the oldest below */
			if (n > top_n) {
				top_n = n;
				top = u;
			}
		}
		fdw_hashmap_free(&counts);
		own = top_n >= share; /* nobody past a share: the oldest */
	}
	for (int pass = !own; pass < 2; pass++) {
		for (i = 0; i < s->n; i++) {
			if (s->v[i]->state == FDW_ALERT_RESOLVED && (pass || s->v[i]->uid == top))
				break;
		}
		if (i < s->n)
			break;
	}
	if (i < s->n) {
		alert_free(s->v[i]);
		memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
		s->n--;
		s->stats.evicted++;
		s->dirty = true;
		return true;
	}
	return false;
}

/* ---- shares ------------------------------------------------------------------ */

size_t fdw_alerts_share(size_t max)
{
	return max >= 4 ? max / 4 : 1;
}

size_t fdw_alerts_reserve(size_t max)
{
	if (max >= 16)
		return max / 8;
	return max >= 2 ? 1 : 0;
}

/* One walk of the store (at most max alerts), for a new alert only: a
 * refresh of a firing one is not asked. */
enum fdw_alert_admit fdw_alerts_admit(const struct fdw_alerts *s, uint32_t uid)
{
	size_t users = 0, mine = 0, firing = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct fdw_alert *a = s->v[i];

		if (a->state != FDW_ALERT_FIRING)
			continue;
		firing++;
		users += !fdw_alert_owner_system(a->uid);
		mine += a->uid == uid;
	}
	if (!fdw_alert_owner_system(uid)) {
		if (mine >= fdw_alerts_share(s->max))
			return FDW_ALERT_UID_SHARE;
		if (users >= s->max - fdw_alerts_reserve(s->max))
			return FDW_ALERT_USERS_SHARE;
	}
	return firing >= s->max ? FDW_ALERT_FULL : FDW_ALERT_ADMIT;
}

/* Refused: counted; logged at once at most once a minute, the others
 * summed up in the next minute's line (rl_summary). */
static void refuse(struct fdw_alerts *s, enum fdw_alert_admit why, enum fdw_alert_kind kind,
		   const struct fdw_alert_proc *proc, double now)
{
	char comm[64], owner[16], what[128];

	s->stats.dropped++;
	if (why != FDW_ALERT_FULL)
		s->stats.dropped_share++;
	snprintf(what, sizeof(what), "%s alert of pid %u (%s, uid %s)", fdw_alert_kind_name(kind),
		 proc->pid, printable(proc->comm, comm, sizeof(comm)),
		 owner_name(proc->uid, owner, sizeof(owner)));
	if (!rl_allow(s, FDW_ALERT_RL_REFUSED, now, 1)) {
		snprintf(s->refused_last, sizeof(s->refused_last), "%s: %s", what,
			 why == FDW_ALERT_UID_SHARE ? "its uid's share taken"
			 : why == FDW_ALERT_USERS_SHARE ? "the users' part taken"
							: "every alert fires");
		return;
	}
	if (why == FDW_ALERT_UID_SHARE)
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: new %s refused: uid %s holds %zu firing alerts, its share of "
			   "the %zu kept (--max-alerts); counted in alerts.dropped, further "
			   "refusals summed up once a minute",
			   what, owner, fdw_alerts_share(s->max), s->max);
	else if (why == FDW_ALERT_USERS_SHARE)
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: new %s refused: users' processes hold %zu firing alerts, all "
			   "but the %zu of the %zu kept (--max-alerts) that are for system "
			   "accounts' (uid 0-%u); counted in alerts.dropped, further refusals "
			   "summed up once a minute",
			   what, s->max - fdw_alerts_reserve(s->max), fdw_alerts_reserve(s->max),
			   s->max, FDW_ALERT_SYSTEM_UID_MAX);
	else
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: new %s refused: all %zu alerts kept fire (--max-alerts); "
			   "counted in alerts.dropped, further refusals summed up once a minute",
			   what, s->max);
}

/*
 * A summary or resolution, kept as the text the API, the state file and
 * the log show: a detector's summary names a file, whose name is a user's
 * bytes (not UTF-8, or UTF-8 cut where the detector's buffer ended), and a
 * JSON string must be UTF-8. Other bytes become "\xNN", as fdw_json_bytes
 * writes them in the evidence; without that the alert had no JSON at all
 * (GET /v1/leaks and the state file failed on it).
 */
static int set_str(char **dst, const char *src)
{
	json_t *j = fdw_json_bytes(src ? src : "");
	char *c = j ? strdup(json_string_value(j)) : NULL;

	json_decref(j);
	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

struct fdw_alert *fdw_alerts_fire(struct fdw_alerts *s, enum fdw_alert_kind kind,
				  const struct fdw_alert_proc *proc, double now,
				  const char *summary, json_t *evidence)
{
	enum fdw_alert_admit why;
	struct fdw_alert *a;
	uint64_t saved_next;

	if ((unsigned int)kind >= FDW_ALERT_KINDS) {
		json_decref(evidence);
		return NULL;
	}
	a = fdw_alerts_find_firing(s, kind, proc->pid, proc->start_ticks);
	if (a) {
		/* de-duplicated: refresh, do not announce again */
		a->last_seen = now;
		a->recovered = false;
		if (summary)
			(void)set_str(&a->summary, summary);
		if (evidence) {
			json_decref(a->evidence);
			a->evidence = evidence;
		}
		if (proc->comm && *proc->comm)
			snprintf(a->comm, sizeof(a->comm), "%s", proc->comm);
		if (proc->uid != FDW_OWNER_UNKNOWN) {
			a->uid = proc->uid;
			a->gid = proc->gid;
		}
		s->dirty = true;
		if (s->on_change)
			s->on_change(s->userdata, a, true);
		return a;
	}
	why = fdw_alerts_admit(s, proc->uid);
	if (why != FDW_ALERT_ADMIT) {
		refuse(s, why, kind, proc, now);
		json_decref(evidence);
		return NULL;
	}
	while (s->n >= s->max)
		if (!evict_one(s, proc->uid)) {
			refuse(s, FDW_ALERT_FULL, kind, proc, now);
			json_decref(evidence);
			return NULL;
		}
	a = calloc(1, sizeof(*a));
	if (!a || set_str(&a->summary, summary) < 0) {
		free(a);
		json_decref(evidence);
		return NULL;
	}
	saved_next = s->next_id;
	a->id = take_id(s);
	a->kind = kind;
	a->state = FDW_ALERT_FIRING;
	a->pid = proc->pid;
	a->start_ticks = proc->start_ticks;
	a->start_time = proc->start_time;
	snprintf(a->comm, sizeof(a->comm), "%s", proc->comm ? proc->comm : "");
	a->uid = proc->uid;
	a->gid = proc->gid;
	a->fired_at = a->last_seen = now;
	a->eta_s = -1;
	a->evidence = evidence ? evidence : json_object();
	if (store_insert(s, a) < 0) {
		s->next_id = saved_next;
		alert_free(a);
		return NULL;
	}
	s->stats.fired[kind]++;
	s->stats.firing[kind]++;
	s->dirty = true;
	log_alert(s, a, "firing", a->summary, now);
	if (s->on_change)
		s->on_change(s->userdata, a, false);
	return a;
}

void fdw_alerts_resolve(struct fdw_alerts *s, struct fdw_alert *a, double now,
			const char *reason)
{
	if (!a || a->state != FDW_ALERT_FIRING)
		return;
	a->state = FDW_ALERT_RESOLVED;
	a->resolved_at = now;
	(void)set_str(&a->resolution, reason ? reason : "condition cleared");
	if (s->stats.firing[a->kind])
		s->stats.firing[a->kind]--;
	s->stats.resolved[a->kind]++;
	s->dirty = true;
	log_alert(s, a, "resolved", a->resolution, now);
	if (s->on_change)
		s->on_change(s->userdata, a, false);
}

void fdw_alerts_resolve_proc(struct fdw_alerts *s, uint32_t pid, uint64_t start_ticks,
			     double now, const char *reason)
{
	for (size_t i = 0; i < s->n; i++) {
		struct fdw_alert *a = s->v[i];

		if (a->state == FDW_ALERT_FIRING && a->pid == pid &&
		    a->start_ticks == start_ticks)
			fdw_alerts_resolve(s, a, now, reason);
	}
}

/* ---- JSON ------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* JSON strings must be UTF-8: a comm need not be */
static json_t *safe_string(const char *s)
{
	json_t *j = json_string(s);
	char buf[64];
	size_t i;

	if (j)
		return j;
	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

static json_t *alert_json(const struct fdw_alert *a, bool internal)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:o, s:f, s:f, s:o, s:f, s:o, s:o}",
			      "id", (json_int_t)a->id,
			      "kind", fdw_alert_kind_name(a->kind),
			      "state", fdw_alert_state_name(a->state),
			      "pid", (json_int_t)a->pid,
			      "comm", safe_string(a->comm),
			      "start_time", a->start_time,
			      "fired_at", a->fired_at,
			      "resolved_at",
			      a->state == FDW_ALERT_RESOLVED ? json_real(a->resolved_at) : json_null(),
			      "last_seen", a->last_seen,
			      "summary", str_or_null(a->summary),
			      "resolution", str_or_null(a->resolution));

	if (!o)
		return NULL;
	if (json_object_set(o, "evidence", a->evidence ? a->evidence : json_object()) < 0) {
		json_decref(o);
		return NULL;
	}
	if (a->uid < FDW_OWNER_MIXED &&
	    json_object_set_new(o, "uid", json_integer((json_int_t)a->uid)) < 0) {
		json_decref(o);
		return NULL;
	}
	/* the gid the owner must have too; none: any gid (the owner of a
	 * user namespace). The saved file says -1 for any: a file without
	 * it (an older daemon's) keeps its alerts root's */
	if (a->uid < FDW_OWNER_MIXED && (internal || a->gid != FDW_OWNER_GID_ANY) &&
	    json_object_set_new(o, "gid", json_integer(a->gid == FDW_OWNER_GID_ANY
								? -1
								: (json_int_t)a->gid)) < 0) {
		json_decref(o);
		return NULL;
	}
	if (internal) {
		(void)json_object_set_new(o, "start_ticks", json_integer((json_int_t)a->start_ticks));
		(void)json_object_set_new(o, "rate_per_s", json_real(a->rate_per_s));
		(void)json_object_set_new(o, "eta_s", json_real(a->eta_s));
	}
	return o;
}

json_t *fdw_alert_json(const struct fdw_alert *a)
{
	return alert_json(a, false);
}

/* ---- persistence ------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		(void)close(fd);
	free(dir);
	return r;
}

/* What the state file leaves out to stay within STATE_MAX_BYTES, which
 * the reader holds it to: nothing, the evidence of resolved alerts, every
 * alert's evidence (the alerts themselves, their ids and states, stay). */
enum state_trim { TRIM_NONE, TRIM_RESOLVED_EVIDENCE, TRIM_ALL_EVIDENCE };

/*
 * A save in flight: the document, taken on the loop, is the job's alone.
 * The evidence's objects and arrays are copied, not shared: the detectors
 * change an alert's evidence in place (growth.c) while the writer reads it
 * on another thread; its strings, never changed, are shared (a 1 MiB
 * string costs a reference, not a copy).
 */
struct fdw_alerts_save_job {
	json_t *doc;	      /* {version, boot_id, next_id, alerts} */
	char *path;
	/* the writer's answer */
	bool written;	      /* _write ran (not a cancelled job) */
	int r;
	enum state_trim trim; /* what it left out */
	size_t bytes;	      /* the file's size */
	uint64_t ns;	      /* how long it took (serialise, write, fsync) */
};

static json_t *state_doc(const struct fdw_alerts *s)
{
	json_t *arr = json_array(), *doc;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct fdw_alert *a = s->v[i];
		json_t *o = alert_json(a, true);
		json_t *ev = a->evidence ? fdw_json_copy_shared(a->evidence) : json_object();

		/* json_object_set_new() and json_array_append_new() take
		 * their argument even when they fail */
		if (!o || json_object_set_new(o, "evidence", ev) < 0) {
			if (!o)
				json_decref(ev);
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
		if (json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	doc = json_pack("{s:i, s:s, s:I, s:o}", "version", STATE_VERSION, "boot_id", s->boot_id,
			"next_id", (json_int_t)s->next_id, "alerts", arr);
	return doc;
}

/* Leave out what `trim` says (the doc is the job's: changed in place). */
static void state_trim(json_t *doc, enum state_trim trim)
{
	json_t *arr = json_object_get(doc, "alerts"), *o;
	size_t i;

	json_array_foreach(arr, i, o) {
		const char *st = json_string_value(json_object_get(o, "state"));

		if (trim == TRIM_ALL_EVIDENCE ||
		    (trim == TRIM_RESOLVED_EVIDENCE && st &&
		     !strcmp(st, fdw_alert_state_name(FDW_ALERT_RESOLVED))))
			(void)json_object_del(o, "evidence");
	}
}

/* A save that failed (or could not start): what it held is the next's. */
static void save_failed(struct fdw_alerts *s, int r)
{
	s->dirty = true;
	s->stats.save_errors++;
	if (!s->save_failing)
		fdw_log_to(s->log, LOG_WARNING,
			   "alerts: cannot save %s: %s (alerts are kept in memory; retrying)",
			   s->path, strerror(-r));
	s->save_failing = true;
}

struct fdw_alerts_save_job *fdw_alerts_save_begin(struct fdw_alerts *s)
{
	struct fdw_alerts_save_job *j;

	if (!s->path || !s->dirty || s->saving)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (j) {
		j->path = strdup(s->path);
		j->doc = state_doc(s);
	}
	if (!j || !j->path || !j->doc) {
		if (j) {
			json_decref(j->doc);
			free(j->path);
			free(j);
		}
		save_failed(s, -ENOMEM);
		return NULL;
	}
	/* a change from now on is the next save's */
	s->dirty = false;
	s->saving = true;
	s->save_started_ns = fdw_now_mono();
	s->save_stall_logged = false;
	return j;
}

/* Any thread: touches nothing but the job. */
void fdw_alerts_save_write(struct fdw_alerts_save_job *j)
{
	uint64_t t0 = fdw_now_mono();
	char *text = NULL, *tmp = NULL;
	int fd = -1, r;
	size_t len;

	j->written = true;
	for (enum state_trim trim = TRIM_NONE; trim <= TRIM_ALL_EVIDENCE; trim++) {
		free(text);
		if (trim != TRIM_NONE)
			state_trim(j->doc, trim);
		text = json_dumps(j->doc, JSON_COMPACT);
		if (!text || strlen(text) + 1 <= STATE_MAX_BYTES) {
			j->trim = trim;
			break;
		}
		if (trim == TRIM_ALL_EVIDENCE) {
			/* not even then: the file the reader would set aside is
			 * not written; the old one stays */
			r = -EFBIG;
			goto out;
		}
	}
	len = strlen(j->path) + 5;
	tmp = malloc(len);
	if (!text || !tmp) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(tmp, len, "%s.tmp", j->path);
	r = fdw_mkdir_parents(j->path);
	if (r < 0)
		goto out;
	/* O_NONBLOCK: a FIFO at the temp name fails (ENXIO) instead of hanging */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	fd = -1;
	if (r == 0 && rename(tmp, j->path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		goto out;
	}
	/* the rename itself must reach the disk */
	(void)fsync_dir_of(j->path);
	j->bytes = strlen(text) + 1;
out:
	j->r = r;
	j->ns = fdw_now_mono() - t0;
	free(text);
	free(tmp);
}

int fdw_alerts_save_end(struct fdw_alerts *s, struct fdw_alerts_save_job *j)
{
	int r = j->r;

	s->saving = false;
	if (j->written) {
		if (j->ns / 1000000 > s->stats.save_ms_max)
			s->stats.save_ms_max = j->ns / 1000000;
		s->stats.save_ms_last = j->ns / 1000000;
	}
	if (s->save_stall_logged)
		fdw_log_to(s->log, LOG_NOTICE, "alerts: the save of %s that waited ended after %llu s%s",
			   s->path, (unsigned long long)((fdw_now_mono() - s->save_started_ns) /
							 1000000000ull),
			   r < 0 ? ", failed" : "");
	s->save_stall_logged = false;
	if (r == 0) {
		if (j->trim != TRIM_NONE && !s->save_trimmed)
			fdw_log_to(s->log, LOG_WARNING,
				   "alerts: %s would pass %u MiB: saved without the evidence "
				   "of %s alerts",
				   s->path, STATE_MAX_BYTES >> 20,
				   j->trim == TRIM_ALL_EVIDENCE ? "all" : "resolved");
		s->save_trimmed = j->trim != TRIM_NONE;
		s->saved_bytes = j->bytes;
		s->stats.saves++;
		if (s->save_failing)
			fdw_log_to(s->log, LOG_NOTICE, "alerts: saving %s works again", s->path);
		s->save_failing = false;
	} else {
		save_failed(s, r);
	}
	json_decref(j->doc);
	free(j->path);
	free(j);
	return r;
}

void fdw_alerts_save_cancel(struct fdw_alerts *s, struct fdw_alerts_save_job *j, int err)
{
	j->r = err < 0 ? err : -EIO;
	(void)fdw_alerts_save_end(s, j);
}

uint64_t fdw_alerts_save_pending_ms(const struct fdw_alerts *s, uint64_t now_ns)
{
	if (!s->saving || now_ns < s->save_started_ns)
		return 0;
	return (now_ns - s->save_started_ns) / 1000000;
}

int fdw_alerts_save(struct fdw_alerts *s)
{
	struct fdw_alerts_save_job *j;

	if (!s->path || !s->dirty)
		return 0;
	if (s->saving)
		return -EBUSY;
	j = fdw_alerts_save_begin(s);
	if (!j)
		return -ENOMEM; /* counted */
	fdw_alerts_save_write(j);
	return fdw_alerts_save_end(s, j);
}

/*
 * The state file's bytes. Opened O_NONBLOCK|O_NOFOLLOW: a FIFO (or a device)
 * put in its place must not hang start-up in open() or read(); anything but
 * a regular file is -EINVAL, set aside by the caller like a corrupt file.
 */
static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (st.st_size > STATE_MAX_BYTES)
		r = -EFBIG;
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		(void)close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

static double num(const json_t *o, const char *k, double dflt)
{
	const json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

/*
 * Evidence read back from the state file names events of the daemon's
 * earlier run, which this run cannot tell whose they were: their seqs
 * would be taken for this run's (sequence numbers start again at 1).
 * What names them is known by its shape, wherever a detector put it (a
 * new shape of evidence needs nothing here):
 *  - what carries an event's "seq" gets it null and "earlier_run": true:
 *    an origin (origin_json of detect/evidence.c and detect/races.c: a
 *    race finding's generation's created and closed, fd-reuse's
 *    reopened, an fd's origin and opened_by), a race finding (its first
 *    event), an exec-leak child (its exec);
 *  - the record of a file whose making origins tell (an object with an
 *    "origin", "created" or "closed" member: a leaked fd or a leak site's
 *    sample fd, detect/evidence.c leak_json_slot; a race finding's
 *    generation, whose created and closed may both be null) gets
 *    "earlier_run": true too, so it is hidden with nothing to judge by.
 *    Not a leak site ("opened_by" is a syscall's name there).
 * server/alert_view.c hides what is marked from every client but root
 * and the group. It recurses as deep as the evidence goes, as the
 * json_deep_copy() before it did (jansson's parser bounds the depth).
 * 0, or -1 when out of memory.
 */
static int evidence_of_earlier_run(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if (evidence_of_earlier_run(m) < 0)
				return -1;
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	if (json_object_get(v, "seq") && json_object_set_new(v, "seq", json_null()) < 0)
		return -1;
	if ((json_object_get(v, "seq") || json_object_get(v, "origin") ||
	     json_object_get(v, "created") || json_object_get(v, "closed")) &&
	    json_object_set_new(v, "earlier_run", json_true()) < 0)
		return -1;
	json_object_foreach(v, key, m)
		if (evidence_of_earlier_run(m) < 0)
			return -1;
	return 0;
}

/* One persisted alert; NULL when it does not make sense. */
static struct fdw_alert *alert_from_json(const json_t *o)
{
	const json_t *id = json_object_get(o, "id"), *pid = json_object_get(o, "pid");
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *state = json_string_value(json_object_get(o, "state"));
	const char *comm = json_string_value(json_object_get(o, "comm"));
	const char *summary = json_string_value(json_object_get(o, "summary"));
	const char *resolution = json_string_value(json_object_get(o, "resolution"));
	const json_t *ev = json_object_get(o, "evidence");
	struct fdw_alert *a;
	int k = fdw_alert_kind_from_name(kind);

	if (!json_is_object(o) || !json_is_integer(id) || json_integer_value(id) <= 0 ||
	    !json_is_integer(pid) || json_integer_value(pid) <= 0 ||
	    json_integer_value(pid) > INT_MAX || k < 0 || !state ||
	    (strcmp(state, "firing") && strcmp(state, "resolved")) ||
	    !json_is_number(json_object_get(o, "fired_at")))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = (uint64_t)json_integer_value(id);
	a->kind = (enum fdw_alert_kind)k;
	a->state = strcmp(state, "firing") ? FDW_ALERT_RESOLVED : FDW_ALERT_FIRING;
	a->pid = (uint32_t)json_integer_value(pid);
	a->start_ticks = (uint64_t)num(o, "start_ticks", 0);
	a->start_time = num(o, "start_time", 0);
	snprintf(a->comm, sizeof(a->comm), "%s", comm ? comm : "");
	/* a file of an older daemon has none: such alerts stay root's */
	a->uid = json_is_integer(json_object_get(o, "uid")) &&
			 json_integer_value(json_object_get(o, "uid")) >= 0 &&
			 json_integer_value(json_object_get(o, "uid")) < (json_int_t)FDW_OWNER_MIXED
		 ? (uint32_t)json_integer_value(json_object_get(o, "uid"))
		 : FDW_OWNER_UNKNOWN;
	{
		const json_t *g = json_object_get(o, "gid");
		json_int_t gv = json_is_integer(g) ? json_integer_value(g) : -2;

		if (gv == -1 || (gv >= 0 && gv < (json_int_t)FDW_OWNER_MIXED))
			a->gid = gv == -1 ? FDW_OWNER_GID_ANY : (uint32_t)gv;
		else
			a->uid = FDW_OWNER_UNKNOWN; /* no gid saved: root's */
		if (a->uid == FDW_OWNER_UNKNOWN)
			a->gid = FDW_OWNER_GID_ANY;
	}
	a->fired_at = num(o, "fired_at", 0);
	a->resolved_at = num(o, "resolved_at", 0);
	a->last_seen = num(o, "last_seen", a->fired_at);
	a->rate_per_s = num(o, "rate_per_s", 0);
	a->eta_s = num(o, "eta_s", -1);
	a->summary = strdup(summary ? summary : "");
	a->resolution = resolution ? strdup(resolution) : NULL;
	a->evidence = json_is_object(ev) ? json_deep_copy(ev) : json_object();
	a->recovered = a->state == FDW_ALERT_FIRING;
	if (!a->summary || !a->evidence || evidence_of_earlier_run(a->evidence) < 0) {
		alert_free(a);
		return NULL;
	}
	return a;
}

static void set_aside(struct fdw_alerts *s, const char *why)
{
	size_t len = strlen(s->path) + sizeof(".corrupt");
	char *dst = malloc(len);

	s->stats.load_errors++;
	if (dst) {
		snprintf(dst, len, "%s.corrupt", s->path);
		if (rename(s->path, dst) < 0) {
			free(dst);
			dst = NULL;
		}
	}
	fdw_log_to(s->log, LOG_WARNING,
		   "alerts: state file %s is corrupt (%s)%s%s; starting without the earlier alerts",
		   s->path, why, dst ? "; moved to " : "", dst ? dst : "");
	free(dst);
}

/*
 * The entries of a state file, into the store: unreadable or duplicate ones
 * counted in *bad; firing ones of an earlier boot resolved ("host
 * rebooted", counted in *stale); *max_id the highest id kept.
 */
static void load_entries(struct fdw_alerts *s, json_t *arr, const char *boot, double now,
			 size_t *bad, size_t *stale, uint64_t *max_id)
{
	json_t *o;
	size_t idx;

	json_array_foreach(arr, idx, o) {
		struct fdw_alert *a;

		if (s->n >= s->max)
			break;
		a = alert_from_json(o);
		if (!a || fdw_alerts_get(s, a->id)) {
			alert_free(a);
			(*bad)++;
			continue;
		}
		if (a->state == FDW_ALERT_FIRING && (!boot || strcmp(boot, s->boot_id))) {
			/* its process died with the previous boot */
			a->state = FDW_ALERT_RESOLVED;
			a->resolved_at = now;
			a->recovered = false;
			free(a->resolution);
			a->resolution = strdup("host rebooted");
			(*stale)++;
		}
		if (store_append(s, a) < 0) {
			alert_free(a);
			break;
		}
		/* keep sorted even if the file was not */
		if (s->n > 1 && s->v[s->n - 2]->id > a->id)
			qsort(s->v, s->n, sizeof(*s->v), cmp_alert_id);
		if (a->state == FDW_ALERT_FIRING)
			s->stats.firing[a->kind]++;
		if (a->id > *max_id)
			*max_id = a->id;
	}
}

int fdw_alerts_load(struct fdw_alerts *s, double now)
{
	char *text = NULL, why[256], *tmp;
	json_error_t err;
	json_t *doc, *arr;
	size_t len = 0, bad = 0, stale = 0;
	uint64_t max_id = 0;
	json_int_t next;
	int r;

	if (!s->path)
		return 0;
	/* a temp file left by a crash mid-save: the real file is intact */
	len = strlen(s->path) + 5;
	tmp = malloc(len);
	if (tmp) {
		snprintf(tmp, len, "%s.tmp", s->path);
		(void)unlink(tmp);
		free(tmp);
	}
	r = read_file(s->path, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(why, sizeof(why), "%s",
			 r == -EINVAL ? "not a regular file" : strerror(-r));
		set_aside(s, why);
		return r;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	free(text);
	if (!doc) {
		snprintf(why, sizeof(why), "line %d: %s", err.line, err.text);
		set_aside(s, why);
		return -EBADMSG;
	}
	arr = json_object_get(doc, "alerts");
	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) !=
	    STATE_VERSION || !json_is_array(arr)) {
		json_decref(doc);
		set_aside(s, "not an fdwatch alert file of version 1");
		return -EBADMSG;
	}
	load_entries(s, arr, json_string_value(json_object_get(doc, "boot_id")), now, &bad, &stale,
		     &max_id);
	/* ids above FDW_ALERT_ID_MAX do not parse (jansson: "too big
	 * integer"), the file was set aside above; a next_id below 1 or below
	 * an id in use is replaced: after the largest id, wrapping if need be */
	next = json_integer_value(json_object_get(doc, "next_id"));
	s->next_id = next > 0 ? (uint64_t)next : 1;
	if (s->next_id <= max_id)
		s->next_id = max_id < FDW_ALERT_ID_MAX ? max_id + 1 : 1;
	json_decref(doc);
	if (bad) {
		s->stats.load_errors++;
		s->dirty = true;
		fdw_log_to(s->log, LOG_WARNING, "alerts: %zu unreadable entr%s in %s skipped", bad,
			   bad == 1 ? "y" : "ies", s->path);
	}
	if (stale)
		s->dirty = true;
	return 0;
}
