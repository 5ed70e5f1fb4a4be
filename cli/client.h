/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HTTP client for fdwatchd's unix-socket API (docs/api.md), on libcurl.
 * Nothing here prints: failures come back as -errno plus a phase and a
 * detail string for the caller to report once.
 */
#ifndef FDWATCH_CLI_CLIENT_H
#define FDWATCH_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Largest body (or NDJSON line) accepted from the daemon. */
#define FDW_MAX_BODY (64u << 20)
#define FDW_MAX_LINE (1u << 20)

#define FDW_CONNECT_TIMEOUT_MS 5000L
/* Total time allowed for a non-follow request. */
#define FDW_REQUEST_TIMEOUT_MS 120000L
/*
 * The answer's headers must come within this time of the request (follow
 * streams too), and once an answer, a body or a stream line has begun,
 * its next bytes within this time again. A follow stream may then idle
 * between lines for as long as nothing happens (the daemon sends no
 * heartbeats).
 */
#define FDW_ANSWER_TIMEOUT_MS 10000L
/* verify answers only when its check ends: its headers may take this long */
#define FDW_VERIFY_ANSWER_TIMEOUT_MS FDW_REQUEST_TIMEOUT_MS

enum fdw_fail_phase {
	FDW_FAIL_NONE = 0,
	FDW_FAIL_CONNECT,	/* could not connect to the socket */
	FDW_FAIL_TRANSFER,	/* connected, but the exchange failed */
	FDW_FAIL_RESPONSE,	/* the answer was not what the API promises */
};

struct fdw_client;

struct fdw_response {
	long status;		/* HTTP status */
	char *body;		/* raw body, NUL-terminated (not for 2xx streams) */
	size_t body_len;
	json_t *json;		/* parsed body; NULL when it was not JSON */
};

/*
 * Called once per NDJSON line of a 2xx stream with the parsed object and
 * the raw line (without its newline, not NUL-terminated), and once before
 * that with obj and line NULL when the 2xx answer's headers are complete.
 * Return 0 to go on, 1 to stop quietly, -errno to abort with that error.
 */
typedef int (*fdw_line_fn)(json_t *obj, const char *line, size_t len,
			   void *userdata);

/* Polled at least once a second during a stream: true ends it quietly. */
typedef bool (*fdw_stop_fn)(void *userdata);

int fdw_client_new(struct fdw_client **out, const char *socket_path);
void fdw_client_free(struct fdw_client *c);

/*
 * Polled at least once a second during every request (stream or not):
 * true aborts it with -ECANCELED. NULL (the default) polls nothing.
 */
void fdw_client_set_abort(struct fdw_client *c, fdw_stop_fn fn, void *userdata);

/* How long an answer may take to start, and to go on once started
 * (default FDW_ANSWER_TIMEOUT_MS; 0 keeps the default). */
void fdw_client_set_answer_timeout(struct fdw_client *c, long ms);

/*
 * GET path (e.g. "/v1/status"). Returns 0 when an HTTP answer arrived,
 * whatever its status (resp filled; release with fdw_response_clear()),
 * or -errno with fdw_client_phase()/fdw_client_detail() set. A 2xx answer
 * whose body is not JSON fails with -EBADMSG.
 */
int fdw_client_get(struct fdw_client *c, const char *path,
		   struct fdw_response *resp);

/*
 * The same for a caller that prints a 2xx body as it came (--json): the
 * body is checked to be JSON (jsoncheck.h) but not parsed, so resp->json
 * is NULL for a 2xx answer (a non-2xx one is parsed for its error).
 */
int fdw_client_get_raw(struct fdw_client *c, const char *path,
		       struct fdw_response *resp);

/*
 * GET path and feed each NDJSON line of a 2xx answer to fn, with no total
 * timeout (the answer timeout bounds the headers and each line, not the
 * quiet between lines). Ends when the daemon closes the stream, fn returns 1, or stop
 * (may be NULL) returns true: all return 0, and set *stopped when it was
 * fn or stop. A non-2xx answer is returned like fdw_client_get() does
 * (resp->status, resp->json).
 */
int fdw_client_stream(struct fdw_client *c, const char *path, fdw_line_fn fn,
		      fdw_stop_fn stop, void *userdata,
		      struct fdw_response *resp, bool *stopped);

void fdw_response_clear(struct fdw_response *resp);

enum fdw_fail_phase fdw_client_phase(const struct fdw_client *c);
/* Text describing the last failure ("" when none). */
const char *fdw_client_detail(const struct fdw_client *c);

/* The "error" string of a non-2xx body, or a generic text. Owned by resp. */
const char *fdw_response_error(const struct fdw_response *resp, char *buf,
			       size_t size);

#endif /* FDWATCH_CLI_CLIENT_H */
