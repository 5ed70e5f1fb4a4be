// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The listeners: the API's unix socket (its parent directories made, a
 * stale socket file replaced, never more open than 0660) and the optional
 * loopback TCP listener for the metrics. Start, stop, free, counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/fs.h"
#include "base/log.h"
#include "server/internal.h"
#include "server/metrics.h"

#define LISTEN_BACKLOG 1024 /* a burst of reconnects must not meet ECONNREFUSED */

/* ---- lifetime ----------------------------------------------------------- */

void srv_put(struct fdw_server *s)
{
	if (--s->handles > 0 || !s->freeing)
		return;
	srv_access_free(s);
	free(s->path);
	free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
	srv_put(h->data);
}

void fdw_server_stop(struct fdw_server *s)
{
	struct stat st;

	if (!s || s->stopping)
		return;
	s->stopping = true;
	/* remove the socket only if it is still the one we made */
	if (stat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
		(void)unlink(s->path);
	while (s->clients)
		srv_client_close(s->clients);
	srv_jobs_cancel(s->refreshes);
	srv_jobs_cancel(s->owners_jobs);
	uv_close((uv_handle_t *)&s->pumper, on_listener_closed);
	if (s->has_mlistener)
		uv_close((uv_handle_t *)&s->mlistener, on_listener_closed);
	uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

void fdw_server_free(struct fdw_server *s)
{
	if (!s)
		return;
	fdw_server_stop(s);
	s->freeing = true;
	if (s->handles == 0) {
		srv_access_free(s);
		free(s->path);
		free(s);
	}
}

/* ---- the socket file ---------------------------------------------------- */

/* A socket file left at `path`: remove it if nobody answers there. */
static int clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST; /* not ours to remove */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r == 0)
		r = -EADDRINUSE; /* another fdwatchd is serving it */
	else if (errno == ECONNREFUSED)
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	else
		r = -errno;
	(void)close(fd);
	return r;
}

/* Bind s->listener to s->path, 0660 from the first moment, and listen. */
static int listen_unix(struct fdw_server *s)
{
	struct stat st;
	mode_t old_umask;
	int r;

	old_umask = umask(0117);
	r = uv_pipe_bind(&s->listener, s->path);
	(void)umask(old_umask);
	if (r < 0)
		return r;
	/* root's, and the group's when it exists (root's group else: only
	 * root connects until the operator adds an ACL) */
	if (chown(s->path, 0, s->has_group ? s->group : 0) < 0 && errno != EPERM) {
		r = -errno;
		(void)unlink(s->path);
		return r;
	}
	if (chmod(s->path, 0660) < 0 || stat(s->path, &st) < 0) {
		r = -errno;
		(void)unlink(s->path);
		return r;
	}
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	r = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, srv_on_connection);
	if (r < 0)
		(void)unlink(s->path);
	return r;
}

int fdw_server_start(struct fdw_server **out, uv_loop_t *loop, const struct fdw_server_opts *o,
		     const struct fdw_server_deps *deps)
{
	const char *path = o->socket_path;
	struct fdw_server *s;
	int r;

	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG; /* libuv would cut it short */
	r = fdw_mkdir_parents(path);
	if (r < 0)
		return r;
	r = clear_stale_socket(path);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->deps = *deps;
	s->opts = *o;
	s->loop = loop;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return -ENOMEM;
	}
	r = uv_pipe_init(loop, &s->listener, 0);
	if (r < 0) {
		free(s->path);
		free(s);
		return r;
	}
	s->listener.data = s;
	fdw_hashmap_init(&s->owners);
	fdw_hashmap_init(&s->sites_budget);
	r = srv_access_resolve(s);
	if (r < 0)
		log_warning("api: group %s: %s; only root sees every process",
			    o->socket_group ? o->socket_group : FDW_SERVER_GROUP, strerror(-r));
	else if (r == 0)
		log_info("api: no group %s: the socket is root's alone; only root sees every "
			 "process", o->socket_group ? o->socket_group : FDW_SERVER_GROUP);
	r = srv_access_ns_self(s);
	if (r < 0)
		log_warning("api: /proc/self/ns: %s; every client is refused", strerror(-r));
	(void)uv_idle_init(loop, &s->pumper); /* cannot fail */
	s->pumper.data = s;
	s->handles = 2;
	r = listen_unix(s);
	if (r < 0) {
		s->stopping = s->freeing = true;
		uv_close((uv_handle_t *)&s->pumper, on_listener_closed);
		uv_close((uv_handle_t *)&s->listener, on_listener_closed);
		return r;
	}
	*out = s;
	return 0;
}

int fdw_server_reload_access(struct fdw_server *s)
{
	struct stat st;
	int r;

	if (!s || s->stopping)
		return -ENOTCONN;
	r = srv_access_resolve(s);
	if (r < 0)
		return r;
	/* the socket file, if it is still ours */
	if (stat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino &&
	    chown(s->path, 0, s->has_group ? s->group : 0) < 0 && errno != EPERM)
		return -errno;
	return r;
}

/* ---- the metrics listener ----------------------------------------------- */

/* Log where the metrics are, and keep the port (for port 0). */
static int metrics_bound(struct fdw_server *s)
{
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN] = "?";
	int namelen = sizeof(ss), r;

	r = uv_tcp_getsockname(&s->mlistener, (struct sockaddr *)&ss, &namelen);
	if (r < 0) {
		log_err("metrics: getsockname: %s", uv_strerror(r));
		return r;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		(void)inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		s->mport = ntohs(a->sin_port);
		log_info("metrics on http://%s:%u/metrics", host, s->mport);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		(void)inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		s->mport = ntohs(a->sin6_port);
		log_info("metrics on http://[%s]:%u/metrics", host, s->mport);
	}
	return 0;
}

int fdw_server_start_metrics(struct fdw_server *s)
{
	const char *listen = s ? s->opts.metrics_listen : NULL;
	struct sockaddr_storage ss;
	socklen_t slen;
	int r;

	if (!listen)
		return s ? 0 : -ENOTCONN;
	if (s->has_mlistener)
		return -EALREADY;
	r = fdw_metrics_parse_listen(listen, &ss, &slen);
	if (r < 0) {
		log_err("--metrics-listen %s: %s", listen,
			r == -EPERM ? "not a loopback address (127.0.0.0/8 or [::1])"
				    : "expected HOST:PORT (127.0.0.1:9464, [::1]:9464)");
		return r;
	}
	r = uv_tcp_init(s->loop, &s->mlistener);
	if (r < 0) {
		log_err("metrics: %s", uv_strerror(r));
		return r;
	}
	s->mlistener.data = s;
	s->handles++;
	s->has_mlistener = true; /* from here on, fdw_server_stop() closes it */
	r = uv_tcp_bind(&s->mlistener, (const struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->mlistener, LISTEN_BACKLOG, srv_on_connection);
	if (r < 0) {
		log_err("metrics: cannot listen on %s: %s", listen, uv_strerror(r));
		return r;
	}
	return metrics_bound(s);
}

/* ---- counters ----------------------------------------------------------- */

void fdw_server_counters(const struct fdw_server *s, struct fdw_server_counters *out)
{
	*out = (struct fdw_server_counters){ 0 };
	if (!s)
		return;
	out->clients = s->nclients;
	out->followers = s->nfollowers;
	out->dropped_clients = s->dropped_clients;
	out->dropped_share = s->dropped_share;
	out->dropped_mclients = s->dropped_mclients;
	out->dropped_pidns = s->dropped_pidns;
	out->dropped_followers = s->dropped_followers;
	out->slow_readers = s->slow_readers;
	out->request_timeouts = s->request_timeouts;
	out->name_refreshes = s->refresh_skipped;
	out->owner_prefetches = s->owners_skipped;
	out->owners_refused = s->owners_refused;
	out->verify_share = s->verify_share;
	out->leak_sites = s->sites_refused;
}

unsigned int fdw_server_metrics_port(const struct fdw_server *s)
{
	return s ? s->mport : 0;
}
