// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The metrics (server/metrics.c): the listen address is loopback only; the
 * exposition text has HELP and TYPE for every family, well-formed samples,
 * and a bounded number of series however many processes there are. No
 * privileges needed: the model holds this process (read from /proc) and
 * synthetic children of it. No daemon either (server_fixture.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/metrics.h"
#include "server/render.h"
#include "server/stats.h"
#include "server_fixture.h"

static void test_parse_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	CHECK_EQ(fdw_metrics_parse_listen("127.0.0.1:9464", &ss, &len), 0);
	CHECK(ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	CHECK_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	CHECK_EQ(fdw_metrics_parse_listen("127.3.2.1:0", &ss, &len), 0);
	CHECK_EQ(fdw_metrics_parse_listen("localhost:80", &ss, &len), 0);
	CHECK_EQ(fdw_metrics_parse_listen("[::1]:9464", &ss, &len), 0);
	CHECK(ss.ss_family == AF_INET6);
	/* not loopback: refused */
	CHECK_EQ(fdw_metrics_parse_listen("0.0.0.0:9464", &ss, &len), -EPERM);
	CHECK_EQ(fdw_metrics_parse_listen("192.168.1.10:9464", &ss, &len), -EPERM);
	CHECK_EQ(fdw_metrics_parse_listen("[::]:9464", &ss, &len), -EPERM);
	CHECK_EQ(fdw_metrics_parse_listen("[2001:db8::1]:9464", &ss, &len), -EPERM);
	/* malformed */
	CHECK_EQ(fdw_metrics_parse_listen("127.0.0.1", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("127.0.0.1:", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("127.0.0.1:65536", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("127.0.0.1:-1", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen(":9464", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("example.com:9464", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("[::1]9464", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen("::1:9464", &ss, &len), -EINVAL);
	CHECK_EQ(fdw_metrics_parse_listen(NULL, &ss, &len), -EINVAL);
}

/* Every sample's family was declared (HELP then TYPE) before it; names and
 * label syntax are the format's. Returns the number of samples. */
static unsigned int check_exposition(const char *text, const char *family, unsigned int *fam_n)
{
	char declared[128][96];
	unsigned int ndecl = 0, samples = 0;
	const char *line = text;

	*fam_n = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[1024];

		CHECK(nl != NULL); /* every line ends with a newline */
		if (!nl || len >= sizeof(buf))
			break;
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (!strncmp(buf, "# HELP ", 7)) {
			char name[96];

			CHECK(sscanf(buf + 7, "%95s", name) == 1);
			if (ndecl < 128)
				snprintf(declared[ndecl++], sizeof(declared[0]), "%s", name);
			/* TYPE follows HELP */
			CHECK(!strncmp(nl + 1, "# TYPE ", 7) && !strncmp(nl + 8, name, strlen(name)));
		} else if (buf[0] != '#') {
			char name[96];
			size_t n = strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789_:");
			bool found = false;
			char *value;

			CHECK(n > 0 && n < sizeof(name));
			snprintf(name, sizeof(name), "%.*s", (int)n, buf);
			for (unsigned int i = 0; i < ndecl; i++)
				found |= !strcmp(declared[i], name);
			if (!found)
				fprintf(stderr, "undeclared family: %s\n", name);
			CHECK(found);
			CHECK(buf[n] == ' ' || buf[n] == '{');
			value = strrchr(buf, ' ');
			CHECK(value != NULL);
			if (value) {
				char *end;

				(void)strtod(value + 1, &end);
				CHECK(*end == '\0');
			}
			if (buf[n] == '{')
				CHECK(strstr(buf, "} ") != NULL);
			samples++;
			if (!strcmp(name, family))
				(*fam_n)++;
		}
		line = nl + 1;
	}
	return samples;
}

static uint64_t sum_family(const char *text, const char *family)
{
	uint64_t sum = 0;
	size_t flen = strlen(family);

	for (const char *p = text; (p = strstr(p, family)); p++) {
		const char *nl = strchr(p, '\n'), *sp;

		if ((p != text && p[-1] != '\n') || p[flen] != '{')
			continue;
		sp = nl ? nl : p + strlen(p);
		while (sp > p && sp[-1] != ' ')
			sp--;
		sum += strtoull(sp, NULL, 10);
	}
	return sum;
}

static void test_render(void)
{
	static struct fx f;
	struct fdw_stats st;
	uint32_t self = (uint32_t)getpid(), tid = self;
	unsigned int fam_n = 0, samples;
	size_t len = 0;
	char *text;

	CHECK_EQ(fx_init(&f, NULL, 16), 0);
	f.model.max_procs = 1000;
	f.model.max_fds = 100000;
	f.opts.metrics_top = 5;
	CHECK_EQ(fdw_model_add_scanned(&f.model, self, (uint32_t)getppid(), "tester", &tid, 1, 1),
		 0);
	/* 60 children of 30 different commands: more groups than shown */
	for (uint32_t i = 0; i < 60; i++) {
		struct fdw_event ev = {
			.seq = i + 1,
			.ts = 1000 + i,
			.pid = self,
			.tid = self,
			.type = FDW_REC_FORK,
			.child_pid = 3000000 + i,
			.child_tid = 3000000 + i,
			.child_files = 0xffff888000100000ull + i * 0x1000,
		};

		snprintf(ev.comm, sizeof(ev.comm), "worker-%u\"\\", i % 30);
		fdw_model_apply(&f.model, &ev);
	}
	CHECK_EQ(fdw_hashmap_size(&f.model.procs), 61);
	text = NULL;
	CHECK_EQ(fdw_stats_collect(&f.deps, &f.opts, NULL, &st), 0);
	CHECK_EQ(fdw_metrics_render(&f.deps, &st, f.opts.metrics_top, NULL, NULL, &text, &len), 0);
	fdw_stats_release(&st);
	CHECK(text != NULL && strlen(text) == len);
	if (text) {
		samples = check_exposition(text, "fdwatch_open_fds", &fam_n);
		CHECK(samples > 30);
		/* 5 groups and the rest as one */
		CHECK_EQ(fam_n, 6);
		CHECK(strstr(text, "fdwatch_open_fds{command=\"_other\",unit=\"\"}") != NULL);
		/* label values escaped */
		CHECK(strstr(text, "command=\"worker-1\\\"\\\\\"") != NULL);
		/* every fd of the model is counted once */
		CHECK_EQ(sum_family(text, "fdwatch_open_fds"), f.model.stats.fds);
		CHECK_EQ(sum_family(text, "fdwatch_processes"), 61);
		CHECK(strstr(text, "\nfdwatch_tracked_processes 61\n") != NULL);
		CHECK(strstr(text, "\nfdwatch_alerts_firing{kind=\"fd-growth\"} 0\n") != NULL);
		CHECK(strstr(text, "\nfdwatch_events_lost_total 0\n") != NULL);
		CHECK(strstr(text, "\nprocess_open_fds ") != NULL);
		CHECK(strstr(text, "\nprocess_max_fds ") != NULL);
		CHECK(strstr(text, "# TYPE fdwatch_events_received_total counter\n") != NULL);
	}
	free(text);
	fx_free(&f);
}

/* ---- /v1/status and /metrics: one snapshot, the same figures ------------------ */

/* The value of the sample `sample` (a name, with its labels) in `text`. */
static long long metric(const char *text, const char *sample)
{
	char needle[160];
	const char *p;

	snprintf(needle, sizeof(needle), "\n%s ", sample);
	p = strstr(text, needle);
	if (!p) {
		fprintf(stderr, "no sample %s\n", sample);
		return -1;
	}
	return strtoll(p + strlen(needle), NULL, 10);
}

static long long status_figure(const json_t *o, const char *path)
{
	char key[64];
	const char *dot = strchr(path, '.');

	if (!dot)
		return json_integer_value(json_object_get(o, path));
	snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
	return json_integer_value(json_object_get(json_object_get(o, key), dot + 1));
}

/* Every figure both outputs show, by its name in each. */
static const struct {
	const char *status, *metric;
} shared[] = {
	{ "events_received", "fdwatch_events_received_total" },
	{ "events_lost", "fdwatch_events_lost_total" },
	{ "events_dropped_decode", "fdwatch_events_undecodable_total" },
	{ "processes", "fdwatch_tracked_processes" },
	{ "tables", "fdwatch_tracked_tables" },
	{ "fds", "fdwatch_tracked_fds" },
	{ "stale_tables", "fdwatch_stale_tables" },
	{ "resyncs", "fdwatch_resyncs_total" },
	{ "resync_fds_failed", "fdwatch_resync_failures_total" },
	{ "anomalies", "fdwatch_model_anomalies_total" },
	{ "stale_closes", "fdwatch_model_stale_closes_total" },
	{ "audit.runs", "fdwatch_audit_runs_total" },
	{ "audit.checked", "fdwatch_audit_checked_total" },
	{ "audit.divergences", "fdwatch_audit_divergences_total" },
	{ "audit.inconclusive", "fdwatch_audit_inconclusive_total" },
	{ "dropped.processes", "fdwatch_dropped_total{resource=\"processes\"}" },
	{ "dropped.fds", "fdwatch_dropped_total{resource=\"fds\"}" },
	{ "dropped.clients", "fdwatch_dropped_total{resource=\"api_clients\"}" },
	{ "dropped.followers", "fdwatch_dropped_total{resource=\"api_followers\"}" },
	{ "history.dropped", "fdwatch_dropped_total{resource=\"history\"}" },
	{ "alerts.dropped", "fdwatch_dropped_total{resource=\"alerts\"}" },
	{ "alerts.detector_processes", "fdwatch_leak_detector_processes" },
	{ "alerts.stack_processes", "fdwatch_leak_stack_processes" },
	{ "alerts.save_errors", "fdwatch_alert_store_save_errors_total" },
	{ "fd_names.names", "fdwatch_fd_names" },
	{ "fd_names.bytes", "fdwatch_fd_names_bytes" },
	{ "fd_names.max_bytes", "fdwatch_fd_names_max_bytes" },
	{ "fd_names.refused", "fdwatch_dropped_total{resource=\"fd_names\"}" },
};

/* Render `st` both ways and compare every shared figure; returns how many
 * agreed. */
static unsigned int compare_outputs(const struct fdw_server_deps *deps, const struct fdw_stats *st)
{
	unsigned int agreed = 0;
	json_t *status = fdw_render_status(st);
	char *text = NULL;
	size_t len;
	long long firing = 0;

	CHECK(status != NULL);
	CHECK_EQ(fdw_metrics_render(deps, st, 5, NULL, NULL, &text, &len), 0);
	if (!status || !text)
		goto out;
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		long long a = status_figure(status, shared[i].status);
		long long b = metric(text, shared[i].metric);

		if (a != b)
			fprintf(stderr, "%s %lld but %s %lld\n", shared[i].status, a,
				shared[i].metric, b);
		CHECK_EQ(a, b);
		agreed += a == b;
	}
	for (int k = 0; k < FDW_ALERT_KINDS; k++) {
		char sample[96];

		snprintf(sample, sizeof(sample), "fdwatch_alerts_firing{kind=\"%s\"}",
			 fdw_alert_kind_name(k));
		firing += metric(text, sample);
	}
	CHECK_EQ(status_figure(status, "alerts.firing"), firing);
out:
	json_decref(status);
	free(text);
	return agreed;
}

static void test_same_figures(void)
{
	static struct fx f;
	uint64_t per_cpu[2] = { 3, 4 };
	struct fdw_stats st = { 0 };
	uint64_t *fields[] = {
		&st.events_received, &st.events_bad, &st.processes, &st.tables, &st.stale_tables,
		&st.fds, &st.ofds, &st.resyncs, &st.resync_failed, &st.anomalies,
		&st.stale_closes, &st.dropped_procs, &st.dropped_fds, &st.history_dropped,
		&st.audit_runs, &st.audit_checked, &st.audit_divergences, &st.audit_inconclusive,
		&st.alerts.dropped, &st.alerts.save_errors,
		&st.leaks.procs, &st.leaks.watching, &st.server.dropped_clients,
		&st.server.dropped_followers, &st.fd_names, &st.fd_names_bytes,
		&st.fd_names_max_bytes, &st.fd_names_refused,
	};
	uint32_t self = (uint32_t)getpid();
	struct fdw_proc *p;

	CHECK_EQ(fx_init(&f, NULL, 16), 0);
	/* a snapshot whose figures all differ: a renderer that shows the
	 * wrong field cannot agree by chance */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		*fields[i] = 101 + i;
	st.lost_per_cpu = per_cpu;
	st.ncpus = 2;
	st.events_lost = 7;
	for (int k = 0; k < FDW_ALERT_KINDS; k++)
		st.alerts_firing += st.alerts.firing[k] = 11 + k;
	CHECK_EQ(compare_outputs(&f.deps, &st), sizeof(shared) / sizeof(shared[0]));

	/*
	 * And from a real snapshot. A table seen only in /proc is not bound
	 * (not in m->tables): /metrics used to count stale tables there and
	 * missed it, /v1/status walked the tasks and found it.
	 */
	CHECK_EQ(fdw_model_add_scanned(&f.model, self, (uint32_t)getppid(), "tester", &self, 1, 1),
		 0);
	p = fdw_model_proc(&f.model, self);
	if (p)
		fdw_model_mark_proc_stale(&f.model, p);
	CHECK_EQ(fdw_hashmap_size(&f.model.tables), 0);
	CHECK_EQ(fdw_stats_collect(&f.deps, &f.opts, NULL, &st), 0);
	CHECK_EQ(st.tables, 1);
	CHECK_EQ(st.stale_tables, 1);
	CHECK_EQ(compare_outputs(&f.deps, &st), sizeof(shared) / sizeof(shared[0]));
	fdw_stats_release(&st);
	fx_free(&f);
}

int main(void)
{
	test_parse_listen();
	test_render();
	test_same_figures();
	return check_summary();
}
