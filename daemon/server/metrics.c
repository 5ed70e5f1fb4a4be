// SPDX-License-Identifier: LGPL-2.1-or-later
/* The Prometheus text exposition: see metrics.h (api.c serves it). */
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

#include "server/api.h"
#include "daemon.h"
#include "detect/leaks.h"
#include "server/metrics.h"

#define DEFAULT_TOP 20
#define OTHER_COMMAND "_other"

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
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			struct in6_addr a6;

			/* an IPv6 address without brackets, or a name */
			return inet_pton(AF_INET6, host, &a6) == 1 ? -EINVAL : -EINVAL;
		}
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
	uint64_t hash;
	uint64_t procs, fds, max_fds;
	double max_ratio;
	bool ratio_known;
	uint64_t growing;
	double max_rate, min_eta;
	bool eta_known;
	struct group *next;
};

static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h * 0x100000001b3ull;
}

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

static void group_labels(struct sb *b, const char *name, const struct group *g)
{
	sb_printf(b, "%s{command=", name);
	label_value(b, g->comm);
	sb_printf(b, ",unit=");
	label_value(b, g->unit);
	sb_printf(b, "}");
}

static void render_groups(struct sb *b, struct fdw_daemon *d)
{
	struct fdw_hashmap h;
	struct group **all = NULL, other = { .comm = OTHER_COMMAND };
	size_t n = 0, cap = 0, top;
	size_t it = 0;
	uint64_t key;
	void *v;
	bool any_other = false;

	fdw_hashmap_init(&h);
	while (fdw_hashmap_next(&d->model.procs, &it, &key, &v)) {
		struct fdw_proc *p = v;
		struct fdw_table *t = fdw_model_proc_table(&d->model, p);
		struct fdw_leak_procinfo pi;
		struct group *g, *head;
		uint64_t hh;

		if (!t)
			continue;
		(void)fdw_leaks_proc_info(d->leaks, p, &pi);
		hh = fnv_str(fnv_str(0xcbf29ce484222325ull, p->comm), pi.unit);
		head = fdw_hashmap_get(&h, hh);
		for (g = head; g; g = g->next)
			if (!strncmp(g->comm, p->comm, sizeof(g->comm)) && !strcmp(g->unit, pi.unit))
				break;
		if (!g) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct group **na = realloc(all, nc * sizeof(*na));

				if (!na) {
					b->oom = true;
					break;
				}
				all = na;
				cap = nc;
			}
			g = calloc(1, sizeof(*g));
			if (!g) {
				b->oom = true;
				break;
			}
			snprintf(g->comm, sizeof(g->comm), "%.15s", p->comm);
			snprintf(g->unit, sizeof(g->unit), "%s", pi.unit);
			g->hash = hh;
			g->next = head;
			if (fdw_hashmap_put(&h, hh, g) < 0) {
				free(g);
				b->oom = true;
				break;
			}
			all[n++] = g;
		}
		group_add(g, t->nopen, &pi);
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_group);
	top = d->cfg.metrics_top ? d->cfg.metrics_top : DEFAULT_TOP;
	if (top > n)
		top = n;
	for (size_t i = top; i < n; i++) {
		struct group *g = all[i];

		any_other = true;
		other.procs += g->procs;
		other.fds += g->fds;
		if (g->max_fds > other.max_fds)
			other.max_fds = g->max_fds;
		if (g->ratio_known && (!other.ratio_known || g->max_ratio > other.max_ratio)) {
			other.max_ratio = g->max_ratio;
			other.ratio_known = true;
		}
	}

	family(b, "fdwatch_open_fds", "gauge",
	       "Open fds of the processes of a group (command, systemd unit); the largest "
	       "groups, the rest under command=\"" OTHER_COMMAND "\".");
	for (size_t i = 0; i < top; i++) {
		group_labels(b, "fdwatch_open_fds", all[i]);
		sb_printf(b, " %llu\n", (unsigned long long)all[i]->fds);
	}
	if (any_other) {
		group_labels(b, "fdwatch_open_fds", &other);
		sb_printf(b, " %llu\n", (unsigned long long)other.fds);
	}
	family(b, "fdwatch_processes", "gauge", "Processes in a group (command, systemd unit).");
	for (size_t i = 0; i < top; i++) {
		group_labels(b, "fdwatch_processes", all[i]);
		sb_printf(b, " %llu\n", (unsigned long long)all[i]->procs);
	}
	if (any_other) {
		group_labels(b, "fdwatch_processes", &other);
		sb_printf(b, " %llu\n", (unsigned long long)other.procs);
	}
	family(b, "fdwatch_process_open_fds_max", "gauge",
	       "The most open fds of one process of the group.");
	for (size_t i = 0; i < top; i++) {
		group_labels(b, "fdwatch_process_open_fds_max", all[i]);
		sb_printf(b, " %llu\n", (unsigned long long)all[i]->max_fds);
	}
	if (any_other) {
		group_labels(b, "fdwatch_process_open_fds_max", &other);
		sb_printf(b, " %llu\n", (unsigned long long)other.max_fds);
	}
	family(b, "fdwatch_fd_limit_usage_ratio", "gauge",
	       "The highest ratio of open fds to the RLIMIT_NOFILE soft limit in the group.");
	for (size_t i = 0; i < top; i++) {
		if (!all[i]->ratio_known)
			continue;
		group_labels(b, "fdwatch_fd_limit_usage_ratio", all[i]);
		sb_printf(b, " %.6g\n", all[i]->max_ratio);
	}
	if (any_other && other.ratio_known) {
		group_labels(b, "fdwatch_fd_limit_usage_ratio", &other);
		sb_printf(b, " %.6g\n", other.max_ratio);
	}
	family(b, "fdwatch_leak_growing_processes", "gauge",
	       "Processes of the group with a firing fd-growth alert.");
	for (size_t i = 0; i < top; i++) {
		if (!all[i]->growing)
			continue;
		group_labels(b, "fdwatch_leak_growing_processes", all[i]);
		sb_printf(b, " %llu\n", (unsigned long long)all[i]->growing);
	}
	family(b, "fdwatch_leak_growth_rate", "gauge",
	       "Fastest fd growth (fds per second) of a growing process of the group.");
	for (size_t i = 0; i < top; i++) {
		if (!all[i]->growing)
			continue;
		group_labels(b, "fdwatch_leak_growth_rate", all[i]);
		sb_printf(b, " %.6g\n", all[i]->max_rate);
	}
	family(b, "fdwatch_leak_limit_eta_seconds", "gauge",
	       "Shortest projected time until a growing process of the group reaches its "
	       "RLIMIT_NOFILE soft limit.");
	for (size_t i = 0; i < top; i++) {
		if (!all[i]->growing || !all[i]->eta_known)
			continue;
		group_labels(b, "fdwatch_leak_limit_eta_seconds", all[i]);
		sb_printf(b, " %.6g\n", all[i]->min_eta);
	}
	for (size_t i = 0; i < n; i++)
		free(all[i]);
	free(all);
	fdw_hashmap_free(&h);
}

/* ---- fdwatchd itself ---------------------------------------------------------------- */

static void render_self(struct sb *b)
{
	char buf[2048], *p;
	unsigned long long ut = 0, st = 0, start = 0, vsize = 0;
	long long rss = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	uint64_t nfds = 0;
	struct rlimit rl;
	double btime = 0;
	DIR *dir;
	int fd;
	ssize_t n;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (n > 0) {
			buf[n] = '\0';
			p = strrchr(buf, ')');
			/* fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss) */
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
					"%*d %*d %*d %*d %*d %*d %llu %llu %lld",
					&ut, &st, &start, &vsize, &rss) != 5)
				ut = st = start = vsize = 0, rss = 0;
		}
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
	gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
	      rss > 0 ? (uint64_t)rss * (uint64_t)page : 0);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	sample_f(b, "process_start_time_seconds", btime + (double)start / (double)tck);
}

/* ---- everything ----------------------------------------------------------------------- */

static uint64_t stale_tables(struct fdw_daemon *d)
{
	size_t it = 0;
	void *v;
	uint64_t n = 0;

	while (fdw_hashmap_next(&d->model.tables, &it, NULL, &v))
		n += ((struct fdw_table *)v)->stale;
	return n;
}

int fdw_metrics_render(struct fdw_daemon *d, char **body, size_t *len)
{
	const struct fdw_model_stats *ms = &d->model.stats;
	const struct fdw_leak_stats *ls = fdw_leaks_stats(d->leaks);
	const struct fdw_alert_stats *as = &d->alerts.stats;
	static const struct fdw_leak_stats no_leaks;
	struct sb b = { 0 };

	if (!ls)
		ls = &no_leaks;
	family(&b, "fdwatch_build_info", "gauge", "fdwatchd's version (the value is 1).");
	sb_printf(&b, "fdwatch_build_info{version=\"%s\",abi=\"%d\"} 1\n", FDWATCH_VERSION,
		  FDW_ABI_VERSION);
	counter(&b, "fdwatch_events_received_total", "Records read from the kernel ring buffer.",
		d->pipeline.stats.events_received);
	counter(&b, "fdwatch_events_lost_total",
		"Records the kernel could not queue (ring buffer full); the affected tables "
		"were re-read from /proc.", fdw_daemon_lost(d, NULL, 0, NULL));
	counter(&b, "fdwatch_events_undecodable_total", "Records that failed to decode.",
		d->pipeline.stats.events_bad);
	gauge(&b, "fdwatch_tracked_processes", "Processes in the model.",
	      fdw_hashmap_size(&d->model.procs));
	gauge(&b, "fdwatch_tracked_tables", "Descriptor tables in the model.", ms->tables);
	gauge(&b, "fdwatch_tracked_fds", "Open fds in the model, all tables.", ms->fds);
	gauge(&b, "fdwatch_stale_tables", "Tables known to be wrong until re-read.",
	      stale_tables(d));
	counter(&b, "fdwatch_resyncs_total", "Tables re-read from /proc.", ms->resyncs);
	counter(&b, "fdwatch_resync_failures_total", "fds a re-read could not read.",
		ms->resync_failed);
	counter(&b, "fdwatch_model_anomalies_total",
		"Events that disagreed with the model (repaired from /proc).", ms->anomalies);
	counter(&b, "fdwatch_audit_runs_total", "Periodic comparisons with /proc.", d->checker.stats.runs);
	counter(&b, "fdwatch_audit_checked_total", "Processes compared with /proc.",
		d->checker.stats.checked);
	counter(&b, "fdwatch_audit_divergences_total",
		"Processes whose table differed from /proc at an audit.", d->checker.stats.divergences);
	gauge(&b, "fdwatch_api_clients", "API connections now.", fdw_api_clients(d->api));
	gauge(&b, "fdwatch_api_followers", "API follow streams now.", fdw_api_followers(d->api));

	family(&b, "fdwatch_dropped_total", "counter",
	       "What a bound refused, by resource (nothing is dropped silently).");
	sb_printf(&b, "fdwatch_dropped_total{resource=\"processes\"} %llu\n",
		  (unsigned long long)ms->dropped_procs);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"fds\"} %llu\n",
		  (unsigned long long)ms->dropped_fds);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"api_clients\"} %llu\n",
		  (unsigned long long)fdw_api_dropped_clients(d->api));
	sb_printf(&b, "fdwatch_dropped_total{resource=\"api_followers\"} %llu\n",
		  (unsigned long long)fdw_api_dropped_followers(d->api));
	sb_printf(&b, "fdwatch_dropped_total{resource=\"history\"} %llu\n",
		  (unsigned long long)d->history.dropped);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"alerts\"} %llu\n",
		  (unsigned long long)as->dropped);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"detector_processes\"} %llu\n",
		  (unsigned long long)ls->dropped_procs);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"stack_processes\"} %llu\n",
		  (unsigned long long)ls->dropped_watch);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"stacks\"} %llu\n",
		  (unsigned long long)ls->dropped_stacks);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"leak_sites\"} %llu\n",
		  (unsigned long long)ls->dropped_sites);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"exec_leak_fds\"} %llu\n",
		  (unsigned long long)ls->dropped_exec_fds);
	sb_printf(&b, "fdwatch_dropped_total{resource=\"metrics_clients\"} %llu\n",
		  (unsigned long long)fdw_api_dropped_metrics_clients(d->api));

	family(&b, "fdwatch_alerts_firing", "gauge", "Leak alerts firing now, by kind.");
	for (int k = 0; k < FDW_ALERT_KINDS; k++)
		sb_printf(&b, "fdwatch_alerts_firing{kind=\"%s\"} %llu\n", fdw_alert_kind_name(k),
			  (unsigned long long)as->firing[k]);
	family(&b, "fdwatch_alerts_fired_total", "counter", "Leak alerts fired, by kind.");
	for (int k = 0; k < FDW_ALERT_KINDS; k++)
		sb_printf(&b, "fdwatch_alerts_fired_total{kind=\"%s\"} %llu\n",
			  fdw_alert_kind_name(k), (unsigned long long)as->fired[k]);
	family(&b, "fdwatch_alerts_resolved_total", "counter", "Leak alerts resolved, by kind.");
	for (int k = 0; k < FDW_ALERT_KINDS; k++)
		sb_printf(&b, "fdwatch_alerts_resolved_total{kind=\"%s\"} %llu\n",
			  fdw_alert_kind_name(k), (unsigned long long)as->resolved[k]);
	counter(&b, "fdwatch_alert_store_save_errors_total",
		"Failed writes of the alert state file.", as->save_errors);
	counter(&b, "fdwatch_alert_store_load_errors_total",
		"Corrupt alert state files (or entries) set aside at start.", as->load_errors);
	gauge(&b, "fdwatch_leak_detector_processes", "Processes with leak detector state.",
	      ls->procs);
	gauge(&b, "fdwatch_leak_stack_processes", "Processes whose user stacks are captured.",
	      ls->watching);

	render_groups(&b, d);
	render_self(&b);
	if (b.oom) {
		free(b.buf);
		return -ENOMEM;
	}
	*body = b.buf;
	*len = b.len;
	return 0;
}
