/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the server's tests stand on instead of a whole daemon: a model
 * (reading the real /proc, or whatever ops a test passes), a history, a
 * pipeline without a capture (draining it does nothing), a checker, an
 * alert store, and the struct fdw_server_deps that points at them.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "check/check.h"
#include "model/history.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "sys/procfs.h"

/* ---- the model's view of the kernel: the real /proc ---------------------- */

static inline int fx_read_fd(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	return fdw_proc_read_fd("/proc", tid, fd, out);
}

static inline int fx_read_target(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	return fdw_proc_read_fd("/proc", tid, fd, out);
}

static inline int fx_same_table(void *u, uint32_t tid1, uint32_t tid2)
{
	return fdw_proc_same_table(tid1, tid2);
}

static inline int fx_read_table(void *u, uint32_t tid,
				void (*cb)(void *cbdata, const struct fdw_fd_info *fi),
				void *cbdata)
{
	return fdw_proc_read_table("/proc", tid, cb, cbdata);
}

static inline int fx_same_file(void *u, uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	return fdw_proc_same_file(tid1, fd1, tid2, fd2);
}

static inline int fx_read_proc(void *u, uint32_t pid, char comm[16], uint32_t *ppid)
{
	return fdw_proc_read_stat("/proc", pid, comm, ppid);
}

static const struct fdw_model_ops fx_procfs_ops = {
	.read_fd = fx_read_fd,
	.read_target = fx_read_target,
	.same_table = fx_same_table,
	.read_table = fx_read_table,
	.same_file = fx_same_file,
	.read_proc = fx_read_proc,
};

/* ---- the layers below the server ------------------------------------------ */

struct fx {
	struct fdw_model model;
	struct fdw_history history;
	struct fdw_pipeline pipeline;
	struct fdw_checker checker;
	struct fdw_alerts alerts;
	bool ready;
	struct fdw_server_deps deps;
	struct fdw_server_opts opts;
};

/* `ops` NULL: the real /proc. 0 or -errno. */
static inline int fx_init(struct fx *f, const struct fdw_model_ops *ops, uint64_t history_size)
{
	int r;

	memset(f, 0, sizeof(*f));
	fdw_model_init(&f->model, ops ? ops : &fx_procfs_ops);
	r = fdw_history_init(&f->history, history_size);
	if (r < 0)
		return r;
	r = fdw_alerts_init(&f->alerts, 16, NULL);
	if (r < 0) {
		fdw_history_free(&f->history);
		return r;
	}
	fdw_pipeline_init(&f->pipeline, &f->model, &f->history, "/proc");
	fdw_checker_init(&f->checker, &f->model, &f->pipeline, "/proc", 8);
	f->ready = true;
	f->deps = (struct fdw_server_deps){
		.model = &f->model,
		.history = &f->history,
		.pipeline = &f->pipeline,
		.checker = &f->checker,
		.alerts = &f->alerts,
		.ready = &f->ready,
		.start_mono_ns = 1,
	};
	f->opts = (struct fdw_server_opts){
		.max_clients = 64,
		.metrics_top = 20,
		.max_procs = f->model.max_procs,
		.max_fds = f->model.max_fds,
	};
	return 0;
}

static inline void fx_free(struct fx *f)
{
	fdw_alerts_free(&f->alerts);
	fdw_model_free(&f->model);
	fdw_history_free(&f->history);
	fdw_pipeline_free(&f->pipeline);
}

/* ---- the answers ---------------------------------------------------------- */

/* The body of a chunked answer in place: the chunks' data joined, NUL
 * terminated. The number of chunks (the last, empty one not counted), or
 * -1 when the framing is wrong or the last chunk is missing. */
static inline int dechunk(char *body)
{
	char *in = body, *out = body;
	int n = 0;

	for (;;) {
		char *end;
		unsigned long len = strtoul(in, &end, 16);

		if (end == in || strncmp(end, "\r\n", 2) != 0)
			return -1;
		in = end + 2;
		if (len == 0)
			break;
		if (strlen(in) < len + 2 || strncmp(in + len, "\r\n", 2) != 0)
			return -1;
		memmove(out, in, len);
		out += len;
		in += len + 2;
		n++;
	}
	*out = '\0';
	return strcmp(in, "\r\n") == 0 ? n : -1;
}
