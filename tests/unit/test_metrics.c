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
	CHECK_EQ(fdw_metrics_render(&f.deps, &st, f.opts.metrics_top, &text, &len), 0);
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

int main(void)
{
	test_parse_listen();
	test_render();
	return check_summary();
}
