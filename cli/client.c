// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <curl/curl.h>

#include "client.h"
#include "jsoncheck.h"

#ifndef FDWATCH_VERSION
#define FDWATCH_VERSION "unknown"
#endif

struct fdw_client {
	CURL *curl;
	char *socket_path;
	enum fdw_fail_phase phase;
	char detail[CURL_ERROR_SIZE + 256];
	char errbuf[CURL_ERROR_SIZE];
	fdw_stop_fn abort_fn;
	void *abort_data;
	long answer_timeout_ms;
};

enum body_mode {
	BODY_UNDECIDED,		/* stream: status not looked at yet */
	BODY_WHOLE,		/* collect the whole body */
	BODY_LINES,		/* split a 2xx stream into NDJSON lines */
};

/* State of one transfer, shared by the libcurl callbacks. */
struct xfer {
	struct fdw_client *c;
	enum body_mode mode;
	char *buf;		/* the body, or the current partial line */
	size_t len;
	size_t cap;
	size_t limit;
	fdw_line_fn fn;
	void *userdata;
	fdw_stop_fn stop;
	bool started;		/* fn was told that a 2xx stream began */
	bool stopped;		/* fn or stop ended the stream */
	bool headers_done;	/* a final (non-1xx) header block arrived */
	bool may_idle;		/* a 2xx stream: quiet between lines is fine */
	int err;		/* -errno from a callback */
	int64_t start_ms;	/* monotonic: the request began */
	int64_t last_rx_ms;	/* monotonic: the last bytes arrived */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4)))
static void fail(struct fdw_client *c, enum fdw_fail_phase phase,
		 const char *fmt, ...)
{
	va_list ap;

	c->phase = phase;
	va_start(ap, fmt);
	(void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

int fdw_client_new(struct fdw_client **out, const char *socket_path)
{
	struct fdw_client *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->answer_timeout_ms = FDW_ANSWER_TIMEOUT_MS;
	c->socket_path = strdup(socket_path);
	c->curl = curl_easy_init();
	if (!c->socket_path || !c->curl) {
		fdw_client_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void fdw_client_free(struct fdw_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->socket_path);
	free(c);
}

void fdw_client_set_abort(struct fdw_client *c, fdw_stop_fn fn, void *userdata)
{
	c->abort_fn = fn;
	c->abort_data = userdata;
}

void fdw_client_set_answer_timeout(struct fdw_client *c, long ms)
{
	c->answer_timeout_ms = ms > 0 ? ms : FDW_ANSWER_TIMEOUT_MS;
}

enum fdw_fail_phase fdw_client_phase(const struct fdw_client *c)
{
	return c->phase;
}

const char *fdw_client_detail(const struct fdw_client *c)
{
	return c->detail;
}

void fdw_response_clear(struct fdw_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

const char *fdw_response_error(const struct fdw_response *resp, char *buf,
			       size_t size)
{
	const char *msg = json_string_value(json_object_get(resp->json, "error"));

	if (msg && *msg)
		return msg;
	(void)snprintf(buf, size, "fdwatchd answered HTTP %ld", resp->status);
	return buf;
}

static int buf_append(struct xfer *x, const char *data, size_t n)
{
	if (n > x->limit - x->len)
		return -EFBIG;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;

		while (cap < x->len + n + 1)
			cap *= 2;
		p = realloc(x->buf, cap);
		if (!p)
			return -ENOMEM;
		x->buf = p;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return 0;
}

/* One complete NDJSON line is in x->buf[0..len). */
static int handle_line(struct xfer *x)
{
	json_error_t jerr;
	size_t len = x->len;
	json_t *obj;
	int r;

	while (len && (x->buf[len - 1] == '\r' || x->buf[len - 1] == ' ' ||
		       x->buf[len - 1] == '\t'))
		len--;
	if (!len)
		return 0;
	obj = json_loadb(x->buf, len, 0, &jerr);
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		fail(x->c, FDW_FAIL_RESPONSE,
		     "invalid JSON line from fdwatchd: %s",
		     obj ? "not an object" : jerr.text);
		return -EBADMSG;
	}
	r = x->fn(obj, x->buf, len, x->userdata);
	json_decref(obj);
	if (r > 0)
		x->stopped = true;
	return r;
}

static int feed_lines(struct xfer *x, const char *data, size_t n)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;
		int r;

		r = buf_append(x, data, chunk);
		if (r == -EFBIG) {
			fail(x->c, FDW_FAIL_RESPONSE,
			     "line from fdwatchd longer than %u bytes",
			     FDW_MAX_LINE);
			return -EMSGSIZE;
		}
		if (r < 0)
			return r;
		if (!nl)
			return 0;
		r = handle_line(x);
		x->len = 0;
		if (r)
			return r;
		data = nl + 1;
		n -= chunk + 1;
	}
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	int r;

	x->last_rx_ms = mono_ms();
	if (x->mode == BODY_UNDECIDED) {
		long status = 0;

		(void)curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE,
					&status);
		if (status >= 200 && status < 300) {
			x->mode = BODY_LINES;
			x->limit = FDW_MAX_LINE;
		} else {
			x->mode = BODY_WHOLE;
		}
	}

	if (x->mode == BODY_LINES) {
		r = feed_lines(x, data, n);
	} else {
		r = buf_append(x, data, n);
		if (r == -EFBIG)
			fail(x->c, FDW_FAIL_RESPONSE,
			     "answer from fdwatchd larger than %u bytes",
			     FDW_MAX_BODY);
	}
	if (r > 0)
		return 0;	/* fn asked to stop: abort the transfer */
	if (r < 0) {
		x->err = r;
		return 0;
	}
	return n;
}

static size_t header_cb(char *data, size_t size, size_t nmemb,
			void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	bool end_of_headers;
	long status = 0;
	int r;

	x->last_rx_ms = mono_ms();
	/* Only the empty line that ends a header block matters here. */
	end_of_headers = (n == 2 && data[0] == '\r' && data[1] == '\n') ||
			 (n == 1 && data[0] == '\n');
	if (!end_of_headers)
		return n;
	(void)curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200) {
		x->headers_done = true;
		x->may_idle = x->fn && status < 300;
	}
	if (!x->fn || x->started || status < 200 || status >= 300)
		return n;
	x->started = true;
	r = x->fn(NULL, NULL, 0, x->userdata);
	if (r > 0) {
		x->stopped = true;
		return 0;
	}
	if (r < 0) {
		x->err = r;
		return 0;
	}
	return n;
}

/*
 * Between the request and the end of the answer's headers, within an
 * answer's body, or within a stream's line, the daemon owes us bytes: it
 * must not fall silent for longer than the answer timeout. Only a follow
 * stream between two lines may idle.
 */
static bool owes_bytes(const struct xfer *x)
{
	if (!x->headers_done)
		return true;
	if (x->may_idle)	/* before its first line, or between two */
		return x->mode == BODY_LINES && x->len > 0;
	return true;
}

static int progress_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = userdata;
	struct fdw_client *c = x->c;
	long bound = c->answer_timeout_ms;
	int64_t now;

	if (x->stop && x->stop(x->userdata)) {
		x->stopped = true;
		return 1;
	}
	if (c->abort_fn && c->abort_fn(c->abort_data)) {
		fail(c, FDW_FAIL_TRANSFER, "request to fdwatchd interrupted");
		x->err = -ECANCELED;
		return 1;
	}
	now = mono_ms();
	if (!x->headers_done && now - x->start_ms > bound) {
		fail(c, FDW_FAIL_TRANSFER,
		     "no answer from fdwatchd within %ld s", bound / 1000);
		x->err = -ETIMEDOUT;
		return 1;
	}
	if (x->headers_done && owes_bytes(x) && now - x->last_rx_ms > bound) {
		fail(c, FDW_FAIL_TRANSFER,
		     "fdwatchd stopped answering (nothing for %ld s)",
		     bound / 1000);
		x->err = -ETIMEDOUT;
		return 1;
	}
	return 0;
}

/* Dogfooding: our own socket must not leak into anything we might exec. */
static curl_socket_t open_socket_cb(void *userdata, curlsocktype purpose,
				    struct curl_sockaddr *addr)
{
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC,
		      addr->protocol);
}

static int set_options(struct fdw_client *c, const char *path,
		       struct xfer *x, bool stream)
{
	char url[512];
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;

	if (snprintf(url, sizeof(url), "http://localhost%s", path) >=
	    (int)sizeof(url))
		return -ENAMETOOLONG;

	curl_easy_reset(h);
#define SET(opt, val) \
	do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	/* Never send the request through a proxy from the environment. */
	SET(CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http");
#endif
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, "fdwatch/" FDWATCH_VERSION);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, FDW_CONNECT_TIMEOUT_MS);
	SET(CURLOPT_TIMEOUT_MS, stream ? 0L : FDW_REQUEST_TIMEOUT_MS);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	/* every request: the answer timeout, and the caller's abort */
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
	SET(CURLOPT_XFERINFODATA, x);
#undef SET
	if (rc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/* -errno for a failed curl_easy_perform(), with phase and detail set. */
static int map_curl_error(struct fdw_client *c, CURLcode rc)
{
	const char *text = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	curl_off_t connect_us = 0;
	long os_errno = 0;

	(void)curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
	(void)curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connect_us);

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		fail(c, FDW_FAIL_CONNECT, "%s",
		     strerror(os_errno > 0 ? (int)os_errno : ECONNREFUSED));
		return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		if (!connect_us) {
			fail(c, FDW_FAIL_CONNECT, "%s", strerror(ETIMEDOUT));
			return -ETIMEDOUT;
		}
		fail(c, FDW_FAIL_TRANSFER, "no answer from fdwatchd: %s", text);
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		fail(c, FDW_FAIL_TRANSFER, "%s", strerror(ENOMEM));
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
		fail(c, FDW_FAIL_TRANSFER,
		     "fdwatchd closed the connection without answering");
		return -ECONNRESET;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		fail(c, FDW_FAIL_TRANSFER, "connection to fdwatchd failed: %s",
		     os_errno > 0 ? strerror((int)os_errno) : text);
		return os_errno > 0 ? -(int)os_errno : -EIO;
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		fail(c, FDW_FAIL_RESPONSE, "bad answer from fdwatchd: %s", text);
		return -EPROTO;
	default:
		fail(c, FDW_FAIL_TRANSFER, "request to fdwatchd failed: %s",
		     text);
		return -EIO;
	}
}

static int perform(struct fdw_client *c, const char *path, struct xfer *x,
		   bool stream, struct fdw_response *resp)
{
	CURLcode rc;
	long status = 0;
	int r;

	c->phase = FDW_FAIL_NONE;
	c->detail[0] = '\0';
	c->errbuf[0] = '\0';

	if (strlen(c->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fail(c, FDW_FAIL_CONNECT, "%s", strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	r = set_options(c, path, x, stream);
	if (r < 0) {
		fail(c, FDW_FAIL_TRANSFER, "cannot set up the request: %s",
		     strerror(-r));
		return r;
	}

	x->start_ms = mono_ms();
	x->last_rx_ms = x->start_ms;
	rc = curl_easy_perform(c->curl);
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->err) {
		if (c->phase == FDW_FAIL_NONE)
			fail(c, FDW_FAIL_TRANSFER, "%s", strerror(-x->err));
		return x->err;
	}
	if (rc != CURLE_OK && !x->stopped)
		return map_curl_error(c, rc);

	resp->status = status;
	return 0;
}

static int get(struct fdw_client *c, const char *path,
	       struct fdw_response *resp, bool parse)
{
	struct xfer x = {
		.c = c,
		.mode = BODY_WHOLE,
		.limit = FDW_MAX_BODY,
	};
	json_error_t jerr;
	int r;

	memset(resp, 0, sizeof(*resp));
	r = perform(c, path, &x, false, resp);
	if (r < 0)
		goto out;
	if (!x.buf) {
		r = buf_append(&x, "", 0);
		if (r < 0)
			goto out;
	}
	if (!parse && resp->status >= 200 && resp->status < 300) {
		if (!fdw_json_valid(x.buf, x.len)) {
			fail(c, FDW_FAIL_RESPONSE, "invalid JSON from fdwatchd");
			r = -EBADMSG;
			goto out;
		}
	} else {
		resp->json = json_loadb(x.buf, x.len, 0, &jerr);
	}
	if (parse && !resp->json && resp->status >= 200 && resp->status < 300) {
		fail(c, FDW_FAIL_RESPONSE, "invalid JSON from fdwatchd: %s",
		     jerr.text);
		r = -EBADMSG;
		goto out;
	}
	resp->body = x.buf;
	resp->body_len = x.len;
	x.buf = NULL;
out:
	free(x.buf);
	if (r < 0)
		fdw_response_clear(resp);
	return r;
}

int fdw_client_get(struct fdw_client *c, const char *path,
		   struct fdw_response *resp)
{
	return get(c, path, resp, true);
}

int fdw_client_get_raw(struct fdw_client *c, const char *path,
		       struct fdw_response *resp)
{
	return get(c, path, resp, false);
}

int fdw_client_stream(struct fdw_client *c, const char *path, fdw_line_fn fn,
		      fdw_stop_fn stop, void *userdata,
		      struct fdw_response *resp, bool *stopped)
{
	struct xfer x = {
		.c = c,
		.mode = BODY_UNDECIDED,
		.limit = FDW_MAX_BODY,
		.fn = fn,
		.userdata = userdata,
		.stop = stop,
	};
	int r;

	memset(resp, 0, sizeof(*resp));
	*stopped = false;
	r = perform(c, path, &x, true, resp);
	if (r < 0)
		goto out;
	if (x.stopped) {
		*stopped = true;
		goto out;
	}
	if (x.mode == BODY_LINES) {
		/* The stream ended: a last line may lack its newline. */
		if (x.len)
			r = handle_line(&x);
		if (r > 0) {
			*stopped = true;
			r = 0;
		}
		goto out;
	}
	/* Not a 2xx stream: keep the body for the caller's error message. */
	if (x.buf) {
		resp->json = json_loadb(x.buf, x.len, 0, NULL);
		resp->body = x.buf;
		resp->body_len = x.len;
		x.buf = NULL;
	}
out:
	free(x.buf);
	if (r < 0)
		fdw_response_clear(resp);
	return r;
}
