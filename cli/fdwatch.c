// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatch: command-line client of fdwatchd (docs/api.md).
 *
 * This is the layer that knows the context: it builds the request path,
 * reports failures (once, on stderr) and maps them to exit codes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "client.h"
#include "races.h"
#include "render.h"

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
	if (a->has_pid && (a->cmd == FDW_CMD_EVENTS || a->cmd == FDW_CMD_VERIFY ||
			   a->cmd == FDW_CMD_RACES))
		qlen += snprintf(query + qlen, sizeof(query) - qlen, "&pid=%d",
				 a->pid);
	if (a->has_limit)
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

/* --json for events: one compact object per line. */
static int print_event_lines(const json_t *doc)
{
	const json_t *events = json_object_get(doc, "events");
	size_t i;
	json_t *ev;

	if (!json_is_array(events))
		return -EBADMSG;
	json_array_foreach(events, i, ev) {
		char *s = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);

		if (!s)
			return -ENOMEM;
		puts(s);
		free(s);
	}
	return 0;
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

	r = fdw_client_get(run->client, path, &resp);
	if (r < 0)
		return report_client_error(run, r);
	/* Ages are relative to the answer, not to when we asked. */
	run->render.now = now_unix();
	if (resp.status < 200 || resp.status >= 300) {
		exit_code = handle_error_answer(run, &resp);
		goto out;
	}

	if (a->json) {
		if (a->cmd == FDW_CMD_EVENTS) {
			r = print_event_lines(resp.json);
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
			r = fdw_render_ps(&run->render, resp.json);
			break;
		case FDW_CMD_FDS:
			r = fdw_render_fds(&run->render, resp.json);
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

int main(int argc, char **argv)
{
	struct fdw_args args;
	struct run run = { .args = &args };
	char path[256];
	int exit_code;
	int r;

	/* Write errors come back as EPIPE instead of killing us silently. */
	(void)signal(SIGPIPE, SIG_IGN);

	/* `fdwatch [--socket PATH] explain KIND` needs no daemon (cli/races.c) */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket")) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		if (strcmp(argv[i], "explain"))
			break;
		if (i + 2 == argc && fdw_races_explain(stdout, argv[i + 1]) == 0)
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
		fdw_help(stdout);
		return finish_stdout(FDW_EXIT_OK);
	}
	if (args.cmd == FDW_CMD_VERSION) {
		printf("fdwatch %s\n", FDWATCH_VERSION);
		return finish_stdout(FDW_EXIT_OK);
	}

	r = build_path(&args, path, sizeof(path));
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
	run.render = (struct fdw_render){
		.out = stdout,
		.err = stderr,
		.headings = !args.noheadings,
	};

	if (args.follow)
		exit_code = run_stream(&run, path);
	else
		exit_code = run_get(&run, path);

	fdw_client_free(run.client);
	curl_global_cleanup();
	return finish_stdout(exit_code);
}
