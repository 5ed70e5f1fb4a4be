/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The harness of the request-path fuzzer (fuzz_request.c) and of the
 * request corpus unit test (tests/unit/test_requests.c): every input is sent as the
 * whole of one client's connection to a real server (server/, on a unix
 * socket, on a loop run by this process), then the client half-closes and
 * reads until the server hangs up. Parsing, routing, the access filter,
 * rendering, chunked answers and follow streams all run on it. The first
 * byte picks the peer: root, or an unprivileged uid (access.c's filters).
 *
 * Checked besides what ASan/UBSan find: the server answers with an HTTP/1.1
 * status line or nothing, always hangs up, and holds no client afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <signal.h>
#include <syslog.h>

#include "base/log.h"
#include "server/internal.h"
#include "../unit/server_fixture.h"

static uv_loop_t loop;
static struct fx F;
static struct fdw_server *S;
static char sock_path[108];

static int fake_owner(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	(void)gid; /* any gid of the uid */
	*uid = pid % 2 ? 1000 : 0;
	return pid < 100 ? 0 : -ESRCH;
}

static void harness_init(void)
{
	struct fdw_server_opts o;
	json_t *ev;

	signal(SIGPIPE, SIG_IGN);
	fdw_log_set_max(LOG_CRIT);
	if (uv_loop_init(&loop) < 0 || fx_init(&F, NULL, 256) < 0)
		abort();
	F.deps.read_owner = fake_owner;
	/* a little of everything to render: events of two owners, alerts */
	for (uint32_t i = 1; i <= 300; i++) {
		struct fdw_event e = { .seq = i, .ts = i * 1000, .type = FDW_REC_SYSCALL,
				       .pid = 10 + i % 4, .tid = 10 + i % 4,
				       .nr = FDW_SYS_OPENAT, .ret = (int64_t)(i % 7) - 2 };

		e.path = i % 3 ? "/etc/fdwt-fuzz" : NULL;
		(void)fdw_history_push(&F.history, &e, "fuzz");
	}
	for (uint32_t i = 1; i <= 4; i++) {
		struct fdw_alert_proc p = { .pid = 10 + i, .start_ticks = i, .start_time = 1.0,
					    .comm = "leaky", .uid = i % 2 ? 1000 : 0 };

		ev = json_pack("{s:i}", "fds", (int)i);
		(void)fdw_alerts_fire(&F.alerts, FDW_ALERT_GROWTH, &p, 2.0, "grows", ev);
	}
	snprintf(sock_path, sizeof(sock_path), "/tmp/fdwt-fuzz-%d.sock", (int)getpid());
	o = F.opts;
	o.socket_path = sock_path;
	o.socket_group = "fdwt-no-such-group";
	if (fdw_server_start(&S, &loop, &o, &F.deps) < 0)
		abort();
}

/* Run the loop until `fd` reads EOF (the server hung up) or ~2 s pass. */
static size_t exchange(int fd, char *resp, size_t cap)
{
	size_t got = 0;

	for (int i = 0; i < 20000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char sink[4096];
		ssize_t n;

		(void)uv_run(&loop, UV_RUN_NOWAIT);
		if (poll(&p, 1, 0) <= 0) {
			if (i > 50)
				usleep(100);
			continue;
		}
		n = read(fd, got < cap ? resp + got : sink, got < cap ? cap - got : sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return got;
		if (n > 0 && got < cap)
			got += (size_t)n;
	}
	fprintf(stderr, "the server did not hang up\n");
	abort();
}

/* One connection: `data` (its first byte the peer: even root, odd uid
 * 1000) sent, the answer's first `cap` bytes in resp; their number. */
static size_t harness_request(const uint8_t *data, size_t size, char *resp, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t off = 0, got;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	S->fake_cred = true;
	S->fake_uid = size && (data[0] & 1) ? 1000 : 0;
	S->fake_gid = S->fake_uid;
	S->fake_pid = 4242;
	(void)uv_run(&loop, UV_RUN_NOWAIT); /* accept with those credentials */
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	if (size)
		data++, size--;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	}
	(void)shutdown(fd, SHUT_WR);
	got = exchange(fd, resp, cap);
	(void)close(fd);
	if (got && (got < 12 || memcmp(resp, "HTTP/1.1 ", 9))) {
		fprintf(stderr, "not an HTTP/1.1 answer: %.40s\n", resp);
		abort();
	}
	/* the hang-up closes the server's side too */
	for (int i = 0; i < 100 && S->clients; i++)
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	if (S->clients) {
		fprintf(stderr, "a client is still held after its hang-up\n");
		abort();
	}
	return got;
}
