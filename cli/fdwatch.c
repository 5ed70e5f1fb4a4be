// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatch: command-line client of fdwatchd (docs/api.md).
 *
 * This is the layer that knows the context: it builds the request path,
 * reports failures (once, on stderr) and maps them to exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "client.h"
#include "races.h"
#include "render.h"
#include "top.h"

#ifndef FDWATCH_VERSION
#define FDWATCH_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_requested;
/* The first error writing stdout; EPIPE (reader gone) is not a failure. */
static int stdout_errno;

struct run {
	const struct fdw_args *args;
	struct fdw_client *client;
	struct fdw_render render;
	struct fdw_event_filter filter;
	bool filtering;		/* events: a client-side filter is on */
	pid_t pager;		/* 0: none */
};

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

/* Call right after writing stdout, while errno still tells why it failed. */
static void note_stdout(void)
{
	if (ferror(stdout) && !stdout_errno)
		stdout_errno = errno ? errno : EIO;
}

static double now_unix(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Events asked for when client-side filters are on and --limit is not. */
#define FILTER_LIMIT 10000

static bool events_filtered(const struct fdw_args *a)
{
	return a->npids > 1 || a->syscalls || a->comms || a->since || a->until ||
	       a->failed;
}

/* The request path for a parsed command line, with its query string. */
static int build_path(const struct fdw_args *a, char *buf, size_t size)
{
	char query[96] = "";
	size_t qlen = 0;
	int n;

	/*
	 * Each parameter is written as "&name=value" and the first '&' is
	 * dropped. All of them take 41 bytes at most: query cannot fill up.
	 */
	if (a->has_pid && (((a->cmd == FDW_CMD_EVENTS || a->cmd == FDW_CMD_RACES) &&
			    a->npids == 1) ||
			   a->cmd == FDW_CMD_VERIFY))
		qlen += snprintf(query + qlen, sizeof(query) - qlen, "&pid=%d",
				 a->pid);
	if (a->cmd == FDW_CMD_EVENTS && !a->follow && events_filtered(a))
		/* the filters apply to what came: look further back, and keep
		 * the last --limit of those that pass (keep_filtered_tail) */
		qlen += snprintf(query + qlen, sizeof(query) - qlen, "&limit=%d",
				 a->has_limit && a->limit > FILTER_LIMIT ? a->limit : FILTER_LIMIT);
	else if (a->has_limit)
		qlen += snprintf(query + qlen, sizeof(query) - qlen,
				 "&limit=%d", a->limit);
	if (a->follow)
		qlen += snprintf(query + qlen, sizeof(query) - qlen,
				 "&follow=1");
	if (qlen >= sizeof(query))
		return -ENAMETOOLONG;

	switch (a->cmd) {
	case FDW_CMD_STATUS:
		n = snprintf(buf, size, "/v1/status");
		break;
	case FDW_CMD_PS:
		n = snprintf(buf, size, "/v1/processes");
		break;
	case FDW_CMD_FDS:
		n = snprintf(buf, size, "/v1/processes/%d/fds", a->pid);
		break;
	case FDW_CMD_FD:
		n = snprintf(buf, size, "/v1/processes/%d/fds/%d", a->pid,
			     a->fd);
		break;
	case FDW_CMD_EVENTS:
		n = snprintf(buf, size, "/v1/events");
		break;
	case FDW_CMD_VERIFY:
		n = snprintf(buf, size, "/v1/verify");
		break;
	case FDW_CMD_LEAKS:
		n = snprintf(buf, size, "/v1/leaks");
		break;
	case FDW_CMD_RACES:
		n = snprintf(buf, size, "/v1/races");
		break;
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (qlen && snprintf(buf + n, size - n, "?%s", query + 1) >=
		    (int)(size - n))
		return -ENAMETOOLONG;
	return 0;
}

static int report_client_error(const struct run *run, int r)
{
	if (fdw_client_phase(run->client) == FDW_FAIL_CONNECT)
		fprintf(stderr, "fdwatch: cannot connect to fdwatchd at %s: %s\n",
			run->args->socket, strerror(-r));
	else if (*fdw_client_detail(run->client))
		fprintf(stderr, "fdwatch: %s\n", fdw_client_detail(run->client));
	else
		fprintf(stderr, "fdwatch: request to fdwatchd failed: %s\n",
			strerror(-r));
	return FDW_EXIT_FAILURE;
}

static int report_render_error(int r)
{
	if (r == -EBADMSG)
		fprintf(stderr, "fdwatch: unexpected answer from fdwatchd (try --json)\n");
	else
		fprintf(stderr, "fdwatch: %s\n", strerror(-r));
	return FDW_EXIT_FAILURE;
}

static void print_body(const struct fdw_response *resp)
{
	fwrite(resp->body, 1, resp->body_len, stdout);
	if (!resp->body_len || resp->body[resp->body_len - 1] != '\n')
		putchar('\n');
}

/* Filtered events with --limit N: the last N that pass the filters (the
 * daemon was asked for more, since it filters by one pid only). */
static void keep_filtered_tail(const struct run *run, json_t *doc)
{
	json_t *events = json_object_get(doc, "events");
	size_t i, kept = 0;

	if (!run->args->has_limit || !json_is_array(events))
		return;
	for (i = json_array_size(events); i-- > 0;) {
		json_t *ev = json_array_get(events, i);

		if (kept < (size_t)run->args->limit && fdw_event_wanted(&run->render, ev))
			kept++;
		else
			(void)json_array_remove(events, i);
	}
}

/* --json for events: one compact object per line (those the filters keep). */
static int print_event_lines(const struct run *run, const json_t *doc)
{
	const json_t *events = json_object_get(doc, "events");
	size_t i;
	json_t *ev;

	if (!json_is_array(events))
		return -EBADMSG;
	json_array_foreach(events, i, ev) {
		char *s;

		if (!fdw_event_wanted(&run->render, ev))
			continue;
		s = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);

		if (!s)
			return -ENOMEM;
		puts(s);
		free(s);
	}
	return 0;
}

/* --json with -p for ps and leaks: the document with the other pids' items
 * left out. */
static int print_json_pids(const struct run *run, json_t *doc, const char *key)
{
	json_t *arr = json_object_get(doc, key);
	char *s;

	if (!json_is_array(arr))
		return -EBADMSG;
	for (size_t i = json_array_size(arr); i-- > 0;) {
		json_int_t pid = json_integer_value(json_object_get(json_array_get(arr, i), "pid"));
		bool keep = false;

		for (size_t k = 0; k < run->args->npids; k++)
			keep |= run->args->pids[k] == pid;
		if (!keep)
			(void)json_array_remove(arr, i);
	}
	s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

/*
 * A pager for what a person reads on a terminal ($PAGER, default "less"
 * with LESS=FRX: it quits when the text fits and keeps the colors).
 */
static void start_pager(struct run *run)
{
	const struct fdw_args *a = run->args;
	const char *pager = getenv("PAGER");
	int fds[2];
	pid_t pid;

	if (a->no_pager || a->follow || !isatty(STDOUT_FILENO) ||
	    a->cmd == FDW_CMD_TOP)
		return;
	if (!pager || !*pager)
		pager = "less";
	if (!strcmp(pager, "cat"))
		return;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		(void)dup2(fds[0], STDIN_FILENO);
		if (!getenv("LESS"))
			(void)setenv("LESS", "FRX", 1);
		execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	if (dup2(fds[1], STDOUT_FILENO) < 0) {
		close(fds[1]);
		return;
	}
	close(fds[1]);
	run->pager = pid;
}

/* Let the pager see the end of the text and wait until the reader quits. */
static void end_pager(struct run *run)
{
	int status;

	if (!run->pager)
		return;
	fflush(stdout);
	close(STDOUT_FILENO);
	while (waitpid(run->pager, &status, 0) < 0 && errno == EINTR)
		;
	run->pager = 0;
}

static int handle_error_answer(const struct run *run,
			       const struct fdw_response *resp)
{
	const struct fdw_args *a = run->args;
	const char *text;
	char buf[128];
	char *msg;

	/* One line, whatever the daemon put in its text. */
	text = fdw_response_error(resp, buf, sizeof(buf));
	msg = fdw_escape(text);
	fprintf(stderr, "fdwatch: %s\n", msg ? msg : text);
	free(msg);
	/* A closed fd's 404 may still carry the slot's history. */
	if (a->cmd == FDW_CMD_FD && resp->json &&
	    (json_object_get(resp->json, "history") ||
	     json_object_get(json_object_get(resp->json, "fd"), "history"))) {
		if (a->json)
			print_body(resp);
		else
			(void)fdw_render_fd_history(&run->render, resp->json);
	}
	return FDW_EXIT_FAILURE;
}

static int run_get(struct run *run, const char *path)
{
	const struct fdw_args *a = run->args;
	struct fdw_response resp;
	bool ok = true;
	int exit_code = FDW_EXIT_OK;
	int r;

	/* checked to be JSON, not parsed: --json printed as it came (the
	 * checks below need no tree), and ps and fds, whose arrays are
	 * parsed an element at a time (fdw_render_ps_text) */
	if ((a->json && a->cmd != FDW_CMD_EVENTS && a->cmd != FDW_CMD_VERIFY &&
	     !(a->npids && (a->cmd == FDW_CMD_PS || a->cmd == FDW_CMD_LEAKS))) ||
	    (!a->json && (a->cmd == FDW_CMD_PS || a->cmd == FDW_CMD_FDS)))
		r = fdw_client_get_raw(run->client, path, &resp);
	else
		r = fdw_client_get(run->client, path, &resp);
	if (r < 0)
		return report_client_error(run, r);
	/* Ages are relative to the answer, not to when we asked. */
	run->render.now = now_unix();
	if (resp.status < 200 || resp.status >= 300) {
		exit_code = handle_error_answer(run, &resp);
		goto out;
	}

	if (a->cmd == FDW_CMD_EVENTS && !a->follow && events_filtered(a))
		keep_filtered_tail(run, resp.json);
	start_pager(run);
	if (a->json) {
		if (a->cmd == FDW_CMD_EVENTS) {
			r = print_event_lines(run, resp.json);
		} else if (a->npids && (a->cmd == FDW_CMD_PS || a->cmd == FDW_CMD_LEAKS)) {
			r = print_json_pids(run, resp.json,
					    a->cmd == FDW_CMD_PS ? "processes" : "alerts");
		} else {
			print_body(&resp);
			if (a->cmd == FDW_CMD_VERIFY) {
				json_t *jok = json_object_get(resp.json, "ok");

				if (!json_is_boolean(jok))
					r = -EBADMSG;
				ok = json_is_true(jok);
			}
		}
	} else {
		switch (a->cmd) {
		case FDW_CMD_STATUS:
			r = fdw_render_status(&run->render, resp.json);
			break;
		case FDW_CMD_PS:
			r = fdw_render_ps_text(&run->render, resp.body, resp.body_len);
			break;
		case FDW_CMD_FDS:
			r = fdw_render_fds_text(&run->render, resp.body, resp.body_len);
			break;
		case FDW_CMD_FD:
			r = fdw_render_fd(&run->render, resp.json);
			break;
		case FDW_CMD_EVENTS:
			r = fdw_render_events(&run->render, resp.json);
			break;
		case FDW_CMD_VERIFY:
			r = fdw_render_verify(&run->render, resp.json, &ok);
			break;
		case FDW_CMD_LEAKS:
			r = fdw_render_leaks(&run->render, resp.json);
			break;
		case FDW_CMD_RACES:
			r = fdw_render_races(&run->render, resp.json);
			break;
		default:
			r = -EINVAL;
			break;
		}
	}
	note_stdout();
	/* -EIO is a write error: finish_stdout() reports it. */
	if (r < 0 && r != -EIO)
		exit_code = report_render_error(r);
	else if (!ok)
		exit_code = FDW_EXIT_MISMATCH;
out:
	fdw_response_clear(&resp);
	return exit_code;
}

/*
 * fds -p PID,...: every process's table in one, with PID and COMMAND
 * columns (the defaults get them first). A pid the daemon does not know is
 * reported on stderr; the others are still shown (exit 1).
 */
static int run_fds_pids(struct run *run)
{
	const struct fdw_args *a = run->args;
	json_t *all = json_array(), *docs = json_array();
	int exit_code = FDW_EXIT_OK;
	char path[64];
	int r = 0;

	if (!all || !docs) {
		json_decref(all);
		json_decref(docs);
		return report_render_error(-ENOMEM);
	}
	for (size_t i = 0; i < a->npids; i++) {
		struct fdw_response resp;
		const json_t *fds;
		size_t k;
		json_t *f;

		(void)snprintf(path, sizeof(path), "/v1/processes/%d/fds", a->pids[i]);
		r = fdw_client_get(run->client, path, &resp);
		if (r < 0) {
			exit_code = report_client_error(run, r);
			break;
		}
		if (resp.status < 200 || resp.status >= 300) {
			exit_code = handle_error_answer(run, &resp);
			fdw_response_clear(&resp);
			continue;
		}
		fds = json_object_get(resp.json, "fds");
		if (!json_is_array(fds)) {
			exit_code = report_render_error(-EBADMSG);
			fdw_response_clear(&resp);
			break;
		}
		if (!a->json)
			fdw_warn_stale(&run->render, resp.json);
		json_array_foreach(fds, k, f) {
			json_t *copy = json_copy(f);

			if (!copy)
				continue;
			(void)json_object_set(copy, "pid", json_object_get(resp.json, "pid"));
			(void)json_object_set(copy, "comm", json_object_get(resp.json, "comm"));
			(void)json_array_append_new(all, copy);
		}
		(void)json_array_append(docs, resp.json);
		fdw_response_clear(&resp);
	}
	run->render.now = now_unix();
	if (exit_code == FDW_EXIT_OK || json_array_size(all)) {
		start_pager(run);
		if (a->json) {
			char *s = json_dumps(a->npids == 1 ? json_array_get(docs, 0) : docs,
					     JSON_COMPACT);

			if (s)
				puts(s);
			free(s);
		} else {
			json_t *doc = json_pack("{s:O}", "fds", all);

			if (!run->render.output)
				run->render.output = "PID,COMMAND,FD,CLOEXEC,TYPE,OFD,GEN,SYSCALL,TID,"
						     "FROM,AGE,TARGET";
			r = doc ? fdw_render_fds(&run->render, doc) : -ENOMEM;
			json_decref(doc);
			if (r < 0 && r != -EIO)
				exit_code = report_render_error(r);
		}
	}
	json_decref(all);
	json_decref(docs);
	return exit_code;
}

/* Print one streamed event or alert; line is its raw text, or NULL. */
static int stream_item(struct run *run, const json_t *obj, const char *line,
		       size_t len)
{
	const struct fdw_args *a = run->args;
	char *s;

	if (!a->json) {
		run->render.now = now_unix();
		if (a->cmd == FDW_CMD_EVENTS)
			return fdw_render_event_line(&run->render, obj);
		return fdw_render_leak_line(&run->render, obj);
	}
	/* the filters hold for --json too */
	if (a->cmd == FDW_CMD_EVENTS ? !fdw_event_wanted(&run->render, obj) :
	    (a->npids && !fdw_event_wanted(&run->render, obj)))
		return 0;
	if (line) {
		/* Exactly the daemon's object, as it sent it. */
		fwrite(line, 1, len, stdout);
		putchar('\n');
		return 0;
	}
	s = json_dumps(obj, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

/* Line callback of a follow stream (obj NULL: the stream has begun). */
static int on_stream_line(json_t *obj, const char *line, size_t len,
			  void *userdata)
{
	struct run *run = userdata;
	const struct fdw_args *a = run->args;
	bool events = a->cmd == FDW_CMD_EVENTS;
	const json_t *list;
	size_t i;
	int r = 0;

	if (!obj) {
		if (a->json || !run->render.headings)
			return 0;
		r = events ? fdw_render_event_heading(&run->render) :
			     fdw_render_leak_heading(&run->render);
	} else {
		/*
		 * A whole list ({"events": [...]}) where lines were expected:
		 * a daemon that ignored follow=1 or sent a snapshot first.
		 */
		list = json_object_get(obj, events ? "events" : "alerts");
		if (json_is_array(list)) {
			for (i = 0; r >= 0 && i < json_array_size(list); i++)
				r = stream_item(run, json_array_get(list, i),
						NULL, 0);
		} else {
			r = stream_item(run, obj, line, len);
		}
	}
	if (r < 0 && r != -EIO)
		return r;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* The reader went away (EPIPE) or cannot take more. */
		note_stdout();
		return 1;
	}
	return 0;
}

/*
 * Polled by the stream about once a second: a signal, or a reader that
 * went away (POLLERR on a pipe) while no event arrived to make a write
 * fail, ends the stream.
 */
static bool stream_should_stop(void *userdata)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	if (stop_requested)
		return true;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL));
}

static int run_stream(struct run *run, const char *path)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct fdw_response resp;
	bool stopped = false;
	int exit_code = FDW_EXIT_OK;
	int r;

	/* No SA_RESTART: a signal must wake libcurl's poll(). */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);

	r = fdw_client_stream(run->client, path, on_stream_line,
			      stream_should_stop, run, &resp, &stopped);
	if (r < 0)
		return report_client_error(run, r);
	if (!stopped && resp.status && (resp.status < 200 || resp.status >= 300))
		exit_code = handle_error_answer(run, &resp);
	fdw_response_clear(&resp);
	return exit_code;
}

/* Report a failed write to stdout; a reader that went away is not one. */
static int finish_stdout(int exit_code)
{
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		note_stdout();
	if (!stdout_errno || stdout_errno == EPIPE)
		return exit_code;
	fprintf(stderr, "fdwatch: write error: %s\n", strerror(stdout_errno));
	return FDW_EXIT_FAILURE;
}

/* --color: auto means a terminal, not "dumb", and no $NO_COLOR. */
static bool use_color(const struct fdw_args *a)
{
	const char *no = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (a->color == FDW_COLOR_ALWAYS)
		return true;
	if (a->color == FDW_COLOR_NEVER || (no && *no))
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(STDOUT_FILENO);
}

/* The table kind -o and --list-columns are about. */
static const char *view_of(const struct fdw_args *a)
{
	switch (a->cmd) {
	case FDW_CMD_PS:
		return "ps";
	case FDW_CMD_FDS:
	case FDW_CMD_FD:
		return "fds";
	case FDW_CMD_EVENTS:
		return "events";
	case FDW_CMD_LEAKS:
		return "leaks";
	case FDW_CMD_VERIFY:
		return "verify";
	default:
		return NULL;
	}
}

int main(int argc, char **argv)
{
	struct fdw_args args;
	struct run run = { .args = &args };
	char path[256];
	int exit_code;
	int r;

	/* Write errors come back as EPIPE instead of killing us silently. */
	(void)signal(SIGPIPE, SIG_IGN);

	/* `fdwatch [--socket PATH] [-J] explain KIND [-J]` needs no daemon
	 * (cli/races.c) */
	for (int i = 1; i < argc; i++) {
		const char *kind = NULL;
		bool json = false;
		int nargs = 0;

		if (!strcmp(argv[i], "--socket")) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "explain"))
			break;
		for (int j = 1; j < argc; j++) {
			if (!strcmp(argv[j], "--socket")) {
				j++;
			} else if (!strcmp(argv[j], "-J") || !strcmp(argv[j], "--json")) {
				json = true;
			} else if (j > i && argv[j][0] != '-') {
				kind = argv[j];
				nargs++;
			} else if (j > i) {
				nargs = -1; /* an option explain does not take */
				break;
			}
		}
		if (nargs == 1 && fdw_races_explain(stdout, kind, json) == 0)
			return finish_stdout(FDW_EXIT_OK);
		fprintf(stderr, "fdwatch: explain KIND, one of:\n");
		fdw_races_explain_list(stderr);
		return FDW_EXIT_USAGE;
	}
	r = fdw_args_parse(&args, argc, argv, getenv("FDWATCH_SOCKET"));
	if (r < 0) {
		fprintf(stderr, "fdwatch: %s\n", args.error);
		fdw_usage(stderr);
		return FDW_EXIT_USAGE;
	}
	if (args.cmd == FDW_CMD_HELP) {
		if (args.help_cmd)
			fdw_help_cmd(stdout, args.help_cmd);
		else
			fdw_help(stdout);
		return finish_stdout(FDW_EXIT_OK);
	}
	(void)setlocale(LC_CTYPE, "");
	run.render = (struct fdw_render){
		.out = stdout,
		.err = stderr,
		.headings = !args.noheadings,
		.output = args.output,
		.raw = args.raw,
		.color = use_color(&args),
		.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8"),
		.pids = args.npids ? args.pids : NULL,
		.npids = args.npids,
		.sort = args.sort,
	};
	if (args.output || args.list_columns) {
		char err[160];
		const char *view = view_of(&args);

		if (fdw_columns_check(view, args.output, err, sizeof(err)) < 0) {
			fprintf(stderr, "fdwatch: %s\n", err);
			fdw_usage(stderr);
			return FDW_EXIT_USAGE;
		}
		if (args.list_columns) {
			r = fdw_columns_list(&run.render, view);
			return finish_stdout(r < 0 ? FDW_EXIT_FAILURE : FDW_EXIT_OK);
		}
	}
	if (args.cmd == FDW_CMD_EVENTS) {
		double now = now_unix();

		run.filter = (struct fdw_event_filter){
			.syscalls = args.syscalls,
			.comms = args.comms,
			.failed = args.failed,
			.has_since = args.since != NULL,
			.has_until = args.until != NULL,
		};
		if (args.since)
			(void)fdw_parse_time(args.since, now, &run.filter.since);
		if (args.until)
			(void)fdw_parse_time(args.until, now, &run.filter.until);
		run.render.filter = &run.filter;
	}
	if (args.cmd == FDW_CMD_VERSION) {
		printf("fdwatch %s\n", FDWATCH_VERSION);
		return finish_stdout(FDW_EXIT_OK);
	}

	r = args.cmd == FDW_CMD_TOP ? 0 : build_path(&args, path, sizeof(path));
	if (r < 0) {
		fprintf(stderr, "fdwatch: %s\n", strerror(-r));
		return FDW_EXIT_FAILURE;
	}

	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
		fprintf(stderr, "fdwatch: cannot initialize libcurl\n");
		return FDW_EXIT_FAILURE;
	}
	r = fdw_client_new(&run.client, args.socket);
	if (r < 0) {
		fprintf(stderr, "fdwatch: %s\n", strerror(-r));
		curl_global_cleanup();
		return FDW_EXIT_FAILURE;
	}
	/* a verify answers when its check ends, which takes a while on a
	 * big host; every other answer starts at once */
	if (args.cmd == FDW_CMD_VERIFY)
		fdw_client_set_answer_timeout(run.client, FDW_VERIFY_ANSWER_TIMEOUT_MS);
	if (args.cmd == FDW_CMD_TOP)
		exit_code = fdw_top(run.client, &args, &run.render);
	else if (args.cmd == FDW_CMD_FDS && args.npids > 1)
		exit_code = run_fds_pids(&run);
	else if (args.follow)
		exit_code = run_stream(&run, path);
	else
		exit_code = run_get(&run, path);
	exit_code = finish_stdout(exit_code);
	end_pager(&run);

	fdw_client_free(run.client);
	curl_global_cleanup();
	return exit_code;
}
