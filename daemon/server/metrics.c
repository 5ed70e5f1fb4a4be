// SPDX-License-Identifier: LGPL-2.1-or-later
/* The Prometheus text exposition: see metrics.h (routes.c serves it). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/grow.h"
#include "base/hash.h"
#include "base/hashmap.h"
#include "detect/leaks.h"
#include "sys/pidinfo.h"
#include "model/model.h"
#include "server/metrics.h"

#define DEFAULT_TOP 20
#define OTHER_COMMAND "_other"
/* the command of a process `named` does not let through (another user's) */
#define USER_COMMAND "_user"

/* ---- the listen address -------------------------------------------------- */

static int parse_port(const char *s, unsigned int *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (unsigned int)v;
	return 0;
}

int fdw_metrics_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[64];
	const char *colon;
	unsigned int port;
	size_t hlen;

	if (!s)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		if (parse_port(rb + 2, &port) < 0 || inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
			return -EPERM;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || colon == s || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)out;

		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL; /* an IPv6 address without brackets, or a name */
		if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
			return -EPERM;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
	}
	return 0;
}

/* ---- text building ------------------------------------------------------------- */

struct sb {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->buf ? b->buf + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap ? b->cap : 16384;
			char *nb;

			while (cap - b->len <= (size_t)n)
				cap *= 2;
			nb = realloc(b->buf, cap);
			if (!nb) {
				b->oom = true;
				return;
			}
			b->buf = nb;
			b->cap = cap;
		}
	}
}

static void family(struct sb *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: printable ASCII, with \ " and newline escaped. Bytes that
 * are not (command names need not be UTF-8) become '?'. */
static void label_value(struct sb *b, const char *v)
{
	char buf[512];
	size_t o = 0;

	for (; v && *v && o + 2 < sizeof(buf); v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\' || c == '"') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
	}
	buf[o] = '\0';
	sb_printf(b, "\"%s\"", buf);
}

static void sample_u64(struct sb *b, const char *name, uint64_t v)
{
	sb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void sample_f(struct sb *b, const char *name, double v)
{
	sb_printf(b, "%s %.17g\n", name, v);
}

static void gauge(struct sb *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "gauge", help);
	sample_u64(b, name, v);
}

static void counter(struct sb *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	sample_u64(b, name, v);
}

/* ---- groups of processes --------------------------------------------------------- */

struct group {
	char comm[16];
	char unit[128];
	uint64_t procs, fds, max_fds;
	double max_ratio;
	bool ratio_known;
	uint64_t growing;
	double max_rate, min_eta;
	bool eta_known;
	struct group *next; /* same hash */
};

struct groups {
	struct fdw_hashmap by_hash; /* hash of (comm, unit) -> chain of groups */
	struct group **all;
	size_t n, cap;
};

static int cmp_group(const void *x, const void *y)
{
	const struct group *a = *(const struct group *const *)x;
	const struct group *b = *(const struct group *const *)y;

	if ((a->growing > 0) != (b->growing > 0))
		return a->growing ? -1 : 1;
	if (a->fds != b->fds)
		return a->fds > b->fds ? -1 : 1;
	if (strcmp(a->comm, b->comm))
		return strcmp(a->comm, b->comm);
	return strcmp(a->unit, b->unit);
}

static void group_add(struct group *g, uint64_t nopen, const struct fdw_leak_procinfo *pi)
{
	g->procs++;
	g->fds += nopen;
	if (nopen > g->max_fds)
		g->max_fds = nopen;
	if (pi->soft && pi->soft != (uint64_t)RLIM_INFINITY) {
		double r = (double)nopen / (double)pi->soft;

		if (!g->ratio_known || r > g->max_ratio)
			g->max_ratio = r;
		g->ratio_known = true;
	}
	if (pi->growing) {
		g->growing++;
		if (pi->rate_per_s > g->max_rate)
			g->max_rate = pi->rate_per_s;
		if (pi->eta_s >= 0 && (!g->eta_known || pi->eta_s < g->min_eta)) {
			g->min_eta = pi->eta_s;
			g->eta_known = true;
		}
	}
}

/* The group of (comm, unit), made when new. NULL when out of memory. */
static struct group *group_of(struct groups *gs, const char comm[16], const char *unit)
{
	uint64_t h = fdw_fnv_str(fdw_fnv(FDW_FNV_OFFSET, comm, strnlen(comm, 16)), unit);
	struct group *head = fdw_hashmap_get(&gs->by_hash, h), *g;

	for (g = head; g; g = g->next)
		if (!strncmp(g->comm, comm, sizeof(g->comm)) && !strcmp(g->unit, unit))
			return g;
	if (FDW_GROW(gs->all, gs->n, gs->cap, 64) < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	snprintf(g->comm, sizeof(g->comm), "%.15s", comm);
	snprintf(g->unit, sizeof(g->unit), "%s", unit);
	g->next = head;
	if (fdw_hashmap_put(&gs->by_hash, h, g) < 0) {
		free(g);
		return NULL;
	}
	gs->all[gs->n++] = g;
	return g;
}

static void groups_free(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		free(gs->all[i]);
	free(gs->all);
	fdw_hashmap_free(&gs->by_hash);
}

/* Every process with a table into its group, sorted (cmp_group). 0 or -ENOMEM. */
static int groups_collect(const struct fdw_server_deps *deps, struct groups *gs,
			  fdw_render_filter *named, void *userdata)
{
	struct fdw_model *m = deps->model;
	size_t it = 0;
	void *v;

	fdw_hashmap_init(&gs->by_hash);
	while (m && fdw_hashmap_next(&m->procs, &it, NULL, &v)) {
		struct fdw_proc *p = v;
		/* counts: an idle fork child keeps sharing its parent's slots */
		struct fdw_table *t = fdw_model_proc_table_peek(m, p);
		struct fdw_leak_procinfo pi;
		struct group *g;

		if (!t)
			continue;
		(void)fdw_leaks_proc_info(deps->leaks, p, &pi);
		g = group_of(gs, !named || named(userdata, p->pid) ? p->comm : USER_COMMAND,
			     pi.unit);
		if (!g)
			return -ENOMEM;
		group_add(g, t->nopen, &pi);
	}
	if (gs->n)
		qsort(gs->all, gs->n, sizeof(*gs->all), cmp_group);
	return 0;
}

/* The groups past the top `top`, summed (the figures that add up or have a
 * maximum; growth is shown for the top groups only). */
static bool groups_other(const struct groups *gs, size_t top, struct group *other)
{
	*other = (struct group){ .comm = OTHER_COMMAND };
	for (size_t i = top; i < gs->n; i++) {
		const struct group *g = gs->all[i];

		other->procs += g->procs;
		other->fds += g->fds;
		if (g->max_fds > other->max_fds)
			other->max_fds = g->max_fds;
		if (g->ratio_known && (!other->ratio_known || g->max_ratio > other->max_ratio)) {
			other->max_ratio = g->max_ratio;
			other->ratio_known = true;
		}
	}
	return gs->n > top;
}

enum group_figure { G_FDS, G_PROCS, G_MAX_FDS, G_RATIO, G_GROWING, G_RATE, G_ETA };

static const struct {
	const char *name, *help;
	enum group_figure f;
} group_families[] = {
	{ "fdwatch_open_fds",
	  "Open fds of the processes of a group (command, systemd unit); the largest "
	  "groups, the rest under command=\"" OTHER_COMMAND "\".", G_FDS },
	{ "fdwatch_processes", "Processes in a group (command, systemd unit).", G_PROCS },
	{ "fdwatch_process_open_fds_max", "The most open fds of one process of the group.",
	  G_MAX_FDS },
	{ "fdwatch_fd_limit_usage_ratio",
	  "The highest ratio of open fds to the RLIMIT_NOFILE soft limit in the group.", G_RATIO },
	{ "fdwatch_leak_growing_processes",
	  "Processes of the group with a firing fd-growth alert.", G_GROWING },
	{ "fdwatch_leak_growth_rate",
	  "Fastest fd growth (fds per second) of a growing process of the group.", G_RATE },
	{ "fdwatch_leak_limit_eta_seconds",
	  "Shortest projected time until a growing process of the group reaches its "
	  "RLIMIT_NOFILE soft limit.", G_ETA },
};

/* One sample of figure `f` for group `g`, when the group has it. */
static void group_sample(struct sb *b, const char *name, const struct group *g,
			 enum group_figure f)
{
	bool real = f == G_RATIO || f == G_RATE || f == G_ETA;
	uint64_t u = 0;
	double d = 0;

	switch (f) {
	case G_FDS:
		u = g->fds;
		break;
	case G_PROCS:
		u = g->procs;
		break;
	case G_MAX_FDS:
		u = g->max_fds;
		break;
	case G_RATIO:
		if (!g->ratio_known)
			return;
		d = g->max_ratio;
		break;
	case G_GROWING:
		if (!g->growing)
			return;
		u = g->growing;
		break;
	case G_RATE:
		if (!g->growing)
			return;
		d = g->max_rate;
		break;
	case G_ETA:
		if (!g->growing || !g->eta_known)
			return;
		d = g->min_eta;
		break;
	}
	sb_printf(b, "%s{command=", name);
	label_value(b, g->comm);
	sb_printf(b, ",unit=");
	label_value(b, g->unit);
	if (real)
		sb_printf(b, "} %.6g\n", d);
	else
		sb_printf(b, "} %llu\n", (unsigned long long)u);
}

static void render_groups(struct sb *b, const struct fdw_server_deps *deps, unsigned int max,
			  fdw_render_filter *named, void *userdata)
{
	struct groups gs = { 0 };
	struct group other;
	size_t top;
	bool any_other;

	if (groups_collect(deps, &gs, named, userdata) < 0) {
		b->oom = true;
		groups_free(&gs);
		return;
	}
	top = max ? max : DEFAULT_TOP;
	if (top > gs.n)
		top = gs.n;
	any_other = groups_other(&gs, top, &other);
	for (size_t k = 0; k < sizeof(group_families) / sizeof(group_families[0]); k++) {
		const char *name = group_families[k].name;

		family(b, name, "gauge", group_families[k].help);
		for (size_t i = 0; i < top; i++)
			group_sample(b, name, gs.all[i], group_families[k].f);
		if (any_other)
			group_sample(b, name, &other, group_families[k].f);
	}
	groups_free(&gs);
}

/* ---- fdwatchd itself ---------------------------------------------------------------- */

static void render_self(struct sb *b, const struct fdw_stats *fst)
{
	struct fdw_pid_stat ps;
	unsigned long long ut = 0, st = 0, start = 0, vsize = 0;
	long tck = sysconf(_SC_CLK_TCK);
	uint64_t nfds = 0;
	struct rlimit rl;
	double btime = 0;
	DIR *dir;

	if (fdw_pid_stat_read(NULL, (uint32_t)getpid(), &ps) == 0) {
		ut = ps.utime;
		st = ps.stime;
		start = ps.starttime;
		vsize = ps.vsize;
	}
	btime = fdw_boot_time();
	dir = opendir("/proc/self/fd");
	if (dir) {
		struct dirent *de;

		while ((de = readdir(dir)))
			if (de->d_name[0] != '.')
				nfds++;
		closedir(dir);
		if (nfds)
			nfds--; /* the directory's own fd */
	}
	if (tck <= 0)
		tck = 100;
	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	sample_f(b, "process_cpu_seconds_total", (double)(ut + st) / (double)tck);
	gauge(b, "process_open_fds", "Number of open file descriptors.", nfds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		gauge(b, "process_max_fds", "Maximum number of open file descriptors.",
		      rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
	gauge(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize);
	/* the same figure as status memory.rss_bytes */
	gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
	      fst->rss_bytes);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	sample_f(b, "process_start_time_seconds", btime + (double)start / (double)tck);
}

/* ---- the snapshot -------------------------------------------------------------------- */

/* A counter family with one sample per (label value, count). */
struct labelled {
	const char *value;
	uint64_t n;
};

static void labelled_counters(struct sb *b, const char *name, const char *label,
			      const char *help, const struct labelled *v, size_t nv)
{
	family(b, name, "counter", help);
	for (size_t i = 0; i < nv; i++)
		sb_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, v[i].value,
			  (unsigned long long)v[i].n);
}

static void render_health(struct sb *b, const struct fdw_stats *st)
{
	family(b, "fdwatch_build_info", "gauge", "fdwatchd's version (the value is 1).");
	sb_printf(b, "fdwatch_build_info{version=\"%s\",abi=\"%d\"} 1\n", FDWATCH_VERSION,
		  FDW_ABI_VERSION);
	counter(b, "fdwatch_events_received_total", "Records read from the kernel ring buffer.",
		st->events_received);
	counter(b, "fdwatch_events_lost_total",
		"Records the kernel could not queue (ring buffer full); the affected tables "
		"were re-read from /proc.", st->events_lost);
	counter(b, "fdwatch_events_undecodable_total", "Records that failed to decode.",
		st->events_bad);
	family(b, "fdwatch_loop_lag_max_seconds", "gauge",
	       "The event loop's worst lateness so far, measured by its 1 s tick.");
	sample_f(b, "fdwatch_loop_lag_max_seconds", (double)st->loop_lag_max_ms / 1000.0);
	gauge(b, "fdwatch_ring_backlog_bytes",
	      "Records committed to the ring buffer and not applied yet when this answer "
	      "was made (status and metrics drain for a bounded time).",
	      st->ring_backlog_bytes);
	counter(b, "fdwatch_drains_partial_total",
		"Status and metrics answers made before the model caught up with the ring.",
		st->drains_partial);
	counter(b, "fdwatch_ring_wakeups_total",
		"Times the probes woke the daemon early because the ring buffer was filling "
		"(it otherwise consumes on a timer).",
		st->ring_wakeups);
	gauge(b, "fdwatch_tracked_processes", "Processes in the model.", st->processes);
	gauge(b, "fdwatch_tracked_tables", "Descriptor tables in the model.", st->tables);
	gauge(b, "fdwatch_tracked_fds", "Open fds in the model, all tables.", st->fds);
	gauge(b, "fdwatch_stale_tables", "Tables known to be wrong until re-read.",
	      st->stale_tables);
	counter(b, "fdwatch_resyncs_total", "Tables re-read from /proc.", st->resyncs);
	{
		const struct labelled rereads[] = {
			{ "inline", st->rereads_inline },
			{ "deferred", st->rereads_deferred },
		};

		labelled_counters(b, "fdwatch_rereads_asked_total", "when",
				  "Re-reads records asked for (io_uring close, SCM_RIGHTS past the "
				  "record, forks beside threads, table splits): done at once, or "
				  "queued (the table stale meanwhile).",
				  rereads, sizeof(rereads) / sizeof(rereads[0]));
	}
	{
		const struct labelled pool[] = {
			{ "partial", st->pool_reads_partial },
			{ "refused", st->pool_reads_refused },
		};

		labelled_counters(b, "fdwatch_pool_reads_late_total", "result",
				  "Tables read in the thread pool that records changed during "
				  "the read: applied but for the fds those records changed, or "
				  "refused and read again (a change not kept fd by fd).",
				  pool, sizeof(pool) / sizeof(pool[0]));
	}
	counter(b, "fdwatch_reread_waits_total",
		"Queued re-reads put back: the table was read too recently (a tenth of the "
		"time at most).",
		st->reread_waits);
	counter(b, "fdwatch_resync_failures_total", "fds a re-read could not read.",
		st->resync_failed);
	counter(b, "fdwatch_model_anomalies_total",
		"Events that disagreed with the model (repaired from /proc).", st->anomalies);
	counter(b, "fdwatch_model_stale_closes_total",
		"Closes applied after another task had reopened the number: skipped.",
		st->stale_closes);
	counter(b, "fdwatch_audit_runs_total", "Periodic comparisons with /proc.", st->audit_runs);
	counter(b, "fdwatch_audit_checked_total", "Processes compared with /proc.",
		st->audit_checked);
	counter(b, "fdwatch_audit_divergences_total",
		"Processes whose table differed from /proc at an audit.", st->audit_divergences);
	counter(b, "fdwatch_audit_skipped_total",
		"Audit rounds not started because the last one still ran.", st->audit_skipped);
	counter(b, "fdwatch_audit_inconclusive_total",
		"Processes the audit left without a verdict: their table changed while it "
		"looked in ways no record names fd by fd (exec, io_uring, close_range).",
		st->audit_inconclusive);
	gauge(b, "fdwatch_api_clients", "API connections now.", st->server.clients);
	gauge(b, "fdwatch_api_followers", "API follow streams now.", st->server.followers);
	gauge(b, "fdwatch_fd_history_slots",
	      "fd numbers with a slot history (fdwatch fds PID FD), host-wide.",
	      st->fd_history_slots);
	gauge(b, "fdwatch_fd_history_bytes", "Names the slot histories hold.",
	      st->fd_history_bytes);
	counter(b, "fdwatch_fd_history_evicted_total",
		"Slot histories dropped, oldest first, for newer ones (past the bound of "
		"histories or of their names' bytes).",
		st->fd_history_evicted);
	gauge(b, "fdwatch_given_up_tables",
	      "fd tables that note pipe and socketpair ends given up in their lineage "
	      "(the exec-leak hand-over).", st->given_up_tables);
	counter(b, "fdwatch_given_up_evicted_total",
		"Pipe and socketpair ends given up whose note was dropped, oldest first, past "
		"8 a table (their hand-over is then reported).", st->given_up_evicted);
	gauge(b, "fdwatch_fd_names", "Distinct fd target names kept (open fds' and the slot "
	      "histories'), each once.", st->fd_names);
	gauge(b, "fdwatch_fd_names_bytes", "The bytes of those names (length and NUL each).",
	      st->fd_names_bytes);
	gauge(b, "fdwatch_fd_names_max_bytes", "The bound on fdwatch_fd_names_bytes "
	      "(max-name-bytes): a new name past it is not kept (dropped_total fd_names).",
	      st->fd_names_max_bytes);
	gauge(b, "fdwatch_heap_bytes",
	      "The daemon's heap in use (mallinfo2), and the model's mapped OFD blocks.",
	      st->heap_bytes);
	gauge(b, "fdwatch_origin_records", "Provenance records in use (shared by fds, OFDs, "
	      "histories and fork children).", st->origins);
	gauge(b, "fdwatch_origin_bytes", "The blocks holding the provenance records.",
	      st->origin_bytes);
	counter(b, "fdwatch_malloc_trims_total",
		"Times freed memory was given back to the system after a burst (malloc_trim, "
		"in the thread pool).",
		st->trims);
	counter(b, "fdwatch_malloc_trim_returned_bytes_total",
		"Resident memory those trims gave back (RSS before minus after each; an "
		"estimate).",
		st->trim_returned_bytes);
	family(b, "fdwatch_malloc_trim_last_seconds", "gauge",
	       "How long the last malloc_trim took (the loop's allocations wait meanwhile).");
	sample_f(b, "fdwatch_malloc_trim_last_seconds", (double)st->trim_last_us / 1e6);
	family(b, "fdwatch_malloc_trim_max_seconds", "gauge", "The longest malloc_trim so far.");
	sample_f(b, "fdwatch_malloc_trim_max_seconds", (double)st->trim_max_us / 1e6);
}

/* What lost records made the daemon do (status `loss`). */
static void render_loss(struct sb *b, const struct fdw_stats *st)
{
	const struct labelled loss[] = {
		{ "resyncs", st->loss_resyncs },
		{ "resyncs_refused", st->resync_refused },
		{ "ghosts_dropped", st->ghosts_dropped },
		{ "scans", st->discover_runs },
		{ "found", st->discovered },
		{ "found_deferred", st->discover_deferred },
		{ "forks_stale", st->forks_stale },
		{ "verify_missing", st->verify_missing },
		{ "addfd_unresolved", st->addfd_unresolved },
		{ "addfd_rereads", st->addfd_rereads },
		{ "pids_reused", st->pids_reused },
		{ "execs_found", st->execs_found },
	};

	labelled_counters(b, "fdwatch_loss_recovery_total", "action",
			  "What lost records made the daemon do: tables re-read (and refused), "
			  "processes found gone or found missing by /proc scans, fork children of "
			  "stale tables, processes a verify found missing, seccomp ADDFDs into an "
			  "unknown target, processes replaced under a reused pid, new programs of "
			  "lost execs.",
			  loss, sizeof(loss) / sizeof(loss[0]));
}

static void render_dropped(struct sb *b, const struct fdw_stats *st)
{
	const struct labelled dropped[] = {
		{ "processes", st->dropped_procs },
		{ "fds", st->dropped_fds },
		{ "api_clients", st->server.dropped_clients },
		{ "api_clients_pidns", st->server.dropped_pidns },
		{ "api_followers", st->server.dropped_followers },
		{ "api_clients_share", st->server.dropped_share },
		{ "api_slow_readers", st->server.slow_readers },
		{ "api_request_timeouts", st->server.request_timeouts },
		{ "api_name_refreshes", st->server.name_refreshes },
		{ "api_owner_prefetches", st->server.owner_prefetches },
		{ "api_leak_sites", st->server.leak_sites },
		{ "history", st->history_dropped },
		{ "fd_histories", st->fd_history_refused },
		{ "fd_names", st->fd_names_refused },
		{ "target_searches", st->targets_unsearched },
		{ "alerts", st->alerts.dropped },
		{ "alerts_share", st->alerts.dropped_share },
		{ "alert_log_lines", st->alerts.lines_suppressed },
		{ "detector_processes", st->leaks.dropped_procs },
		{ "stack_processes", st->leaks.dropped_watch },
		{ "stacks", st->leaks.dropped_stacks },
		{ "leak_sites", st->leaks.dropped_sites },
		{ "exec_leak_fds", st->leaks.dropped_exec_fds },
		{ "race_findings", st->leaks.race_dropped },
		{ "race_processes", st->leaks.race_dropped_procs },
		{ "race_processes_share", st->leaks.race_dropped_procs_share },
		{ "race_preclose", st->leaks.race_preclose_dropped },
		{ "deep_processes", st->leaks.race_deep_refused },
		{ "metrics_clients", st->server.dropped_mclients },
		{ "verify_requests", st->verify_refused },
		{ "verify_requests_share", st->server.verify_share },
		{ "verify_differences", st->verify_diffs_truncated },
	};

	labelled_counters(b, "fdwatch_dropped_total", "resource",
			  "What a bound refused, by resource (nothing is dropped silently).",
			  dropped, sizeof(dropped) / sizeof(dropped[0]));
}

/* One sample per alert kind. */
static void by_kind(struct sb *b, const char *name, const char *type, const char *help,
		    const uint64_t v[FDW_ALERT_KINDS])
{
	family(b, name, type, help);
	for (int k = 0; k < FDW_ALERT_KINDS; k++)
		sb_printf(b, "%s{kind=\"%s\"} %llu\n", name, fdw_alert_kind_name(k),
			  (unsigned long long)v[k]);
}

/* Race and misuse findings (detect/races.c), by kind, and what was excused. */
static void render_races(struct sb *b, const struct fdw_stats *st)
{
	static const char *const kinds[] = { "double-close", "use-after-close",
					     "close-in-flight", "dup2-clobber", "fd-reuse" };
	const struct fdw_leak_stats *ls = &st->leaks;
	const struct labelled excused[] = {
		{ "close_everything_loop", ls->race_sweeps },
		{ "access_mode", ls->race_wrong_mode },
		{ "never_opened", ls->race_never_opened },
		{ "single_thread", ls->race_single_thread },
		{ "close_not_seen", ls->race_unconfirmed },
		{ "reuse_known_to_thread", ls->race_reuse_excused },
		{ "pre_close", ls->race_preclose },
	};

	family(b, "fdwatch_race_findings_total", "counter",
	       "Race and misuse findings (repeats included), by kind.");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		sb_printf(b, "fdwatch_race_findings_total{kind=\"%s\"} %llu\n", kinds[i],
			  (unsigned long long)ls->race_findings[i]);
	labelled_counters(b, "fdwatch_race_excused_total", "reason",
			  "EBADF results and other candidates not reported as findings, by reason.",
			  excused, sizeof(excused) / sizeof(excused[0]));
	gauge(b, "fdwatch_race_processes", "Processes with race findings kept.", ls->race_procs);
	gauge(b, "fdwatch_race_deep_processes", "Processes in deep mode (fd-reuse) now.",
	      ls->race_deep);
}

static void render_alerts(struct sb *b, const struct fdw_stats *st)
{
	const struct fdw_alert_stats *as = &st->alerts;

	by_kind(b, "fdwatch_alerts_firing", "gauge", "Leak alerts firing now, by kind.",
		as->firing);
	by_kind(b, "fdwatch_alerts_fired_total", "counter", "Leak alerts fired, by kind.",
		as->fired);
	by_kind(b, "fdwatch_alerts_resolved_total", "counter", "Leak alerts resolved, by kind.",
		as->resolved);
	counter(b, "fdwatch_alert_store_save_errors_total",
		"Failed writes of the alert state file.", as->save_errors);
	family(b, "fdwatch_alert_store_save_seconds_max", "gauge",
	       "The longest write of the alert state file (serialise, write, fsync; "
	       "in the thread pool).");
	sample_f(b, "fdwatch_alert_store_save_seconds_max", (double)as->save_ms_max / 1000.0);
	family(b, "fdwatch_alert_store_save_pending_seconds", "gauge",
	       "How long the write of the alert state file in flight has waited (0: none); "
	       "the file is stale meanwhile.");
	sample_f(b, "fdwatch_alert_store_save_pending_seconds",
		 (double)as->save_pending_ms / 1000.0);
	counter(b, "fdwatch_alert_store_load_errors_total",
		"Corrupt alert state files (or entries) set aside at start.", as->load_errors);
	gauge(b, "fdwatch_leak_detector_processes", "Processes with leak detector state.",
	      st->leaks.procs);
	render_races(b, st);
	gauge(b, "fdwatch_leak_stack_processes", "Processes whose user stacks are captured.",
	      st->leaks.watching);
}

int fdw_metrics_render(const struct fdw_server_deps *deps, const struct fdw_stats *st,
		       unsigned int top, fdw_render_filter *named, void *userdata, char **body,
		       size_t *len)
{
	struct sb b = { 0 };

	render_health(&b, st);
	render_dropped(&b, st);
	render_loss(&b, st);
	render_alerts(&b, st);
	render_groups(&b, deps, top, named, userdata);
	render_self(&b, st);
	if (b.oom) {
		free(b.buf);
		return -ENOMEM;
	}
	*body = b.buf;
	*len = b.len;
	return 0;
}
