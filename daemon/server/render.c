// SPDX-License-Identifier: LGPL-2.1-or-later
/* The model, the history and a stats snapshot as JSON: see render.h and docs/api.md. */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hash.h"
#include "capture/syscalls.h"
#include "common/symbols.h"
#include "detect/leaks.h"
#include "server/render.h"

#ifndef FDWATCH_VERSION
#define FDWATCH_VERSION "unknown"
#endif

/* ---- small helpers ---------------------------------------------------- */

/* A comm[16] that may lack its NUL. */
static json_t *json_comm(const char comm[16])
{
	char c[17];

	memcpy(c, comm, 16);
	c[16] = '\0';
	return fdw_json_bytes(c);
}

static json_t *json_u64(uint64_t v)
{
	char buf[24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	/* a raw register no real argument has; keep it exact */
	(void)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

/* json_object_set_new that remembers a failure in *ok. */
static void set(json_t *o, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		*ok = false;
}

static json_t *finish(json_t *o, bool ok)
{
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static double realtime(const struct fdw_server_deps *deps, uint64_t mono_ns)
{
	return deps->realtime ? deps->realtime(mono_ns) : fdw_mono_to_real(mono_ns);
}

static json_t *json_ts(const struct fdw_server_deps *deps, uint64_t mono_ns)
{
	return mono_ns ? json_real(realtime(deps, mono_ns)) : json_null();
}

json_t *fdw_render_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_object();
	if (o && json_object_set_new(o, "error", fdw_json_bytes(msg)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- events ----------------------------------------------------------- */

/* "openat" for IORING_OP_OPENAT: opcode_name predates the shared table and
 * keeps its lower-case short form. */
static json_t *uring_op_json(uint64_t op)
{
	const char *n = fdw_sym_uring_op(op);
	char lower[32];
	size_t i;

	if (!n || strncmp(n, "IORING_OP_", 10))
		return NULL;
	n += 10;
	for (i = 0; n[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] - 'A' + 'a' : n[i]);
	lower[i] = '\0';
	return json_string(lower);
}

static void set_ret(json_t *o, int64_t ret, bool *ok)
{
	const char *en = fdw_sym_errno(ret);

	set(o, "ret", json_integer(ret), ok);
	if (en)
		set(o, "errno", json_string(en), ok);
}

static void set_fds(json_t *o, const struct fdw_event *ev, bool *ok)
{
	json_t *a;

	if (!ev->nfds)
		return;
	a = json_array();
	for (unsigned int i = 0; a && i < ev->nfds && i < FDW_MAX_FDS; i++)
		if (json_array_append_new(a, json_integer(ev->fds[i])) < 0)
			*ok = false;
	set(o, "fds", a, ok);
	if (ev->flags & FDW_F_TRUNCATED)
		set(o, "truncated", json_true(), ok);
}

/* Argument i as the decoder sees it: int kinds sign-extended. */
static uint64_t arg_value(const struct fdw_syscall_info *si, const struct fdw_event *ev,
			  unsigned int i)
{
	if (si->arg_kinds[i] == FDW_ARG_FD || si->arg_kinds[i] == FDW_ARG_INT)
		return (uint64_t)(int64_t)(int32_t)(uint32_t)ev->args[i];
	return ev->args[i];
}

/* fdw_sym_get_fn over an event's arguments. */
static bool arg_by_name(void *userdata, const char *arg, uint64_t *value)
{
	const struct fdw_event *ev = userdata;
	const struct fdw_syscall_info *si = fdw_syscall_info(ev->nr);

	for (unsigned int i = 0; si && i < 6 && si->arg_names[i]; i++)
		if (!strcmp(si->arg_names[i], arg)) {
			*value = arg_value(si, ev, i);
			return true;
		}
	return false;
}

/*
 * The decoded names beside a raw argument (common/symbols.c): "ARG_name"
 * for a value that has a name (AT_FDCWD, AF_UNIX, F_SETFD), "ARG_names"
 * for flags (always, [] for none; bits without a name as one "0x..."). A
 * mode or a bound has no names.
 */
static void set_names(json_t *o, const char *syscall, const char *arg, uint64_t v,
		      fdw_sym_get_fn get, void *userdata, bool *ok)
{
	const struct fdw_symset *s = fdw_sym_for_arg(syscall, arg, get, userdata);
	const char *names[FDW_SYM_MAX_NAMES];
	char key[64], hex[24];
	const char *name;
	json_t *a;
	size_t n;

	if (!s)
		return;
	if (s->kind == FDW_SYM_VALUE) {
		name = fdw_sym_value_name(s, v);
		(void)snprintf(key, sizeof(key), "%s_name", arg);
		if (name)
			set(o, key, json_string(name), ok);
		return;
	}
	if (s->kind != FDW_SYM_FLAGS)
		return;
	n = fdw_sym_flag_names(s, v, names, FDW_SYM_MAX_NAMES, hex);
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(names[i])) < 0)
			*ok = false;
	(void)snprintf(key, sizeof(key), "%s_names", arg);
	set(o, key, a, ok);
}

static void set_syscall_args(json_t *o, const struct fdw_event *ev, bool *ok)
{
	const struct fdw_syscall_info *si = fdw_syscall_info(ev->nr);

	set(o, "syscall", json_string(fdw_syscall_name(ev->nr)), ok);
	for (unsigned int i = 0; si && i < 6; i++) {
		const char *name = si->arg_names[i];
		uint64_t v = ev->args[i];

		if (!name)
			break;
		switch (si->arg_kinds[i]) {
		case FDW_ARG_FD:
		case FDW_ARG_INT:
			set(o, name, json_integer((int32_t)(uint32_t)v), ok);
			set_names(o, si->name, name, arg_value(si, ev, i), arg_by_name, (void *)ev, ok);
			break;
		case FDW_ARG_UINT:
			set(o, name, json_u64(v), ok);
			set_names(o, si->name, name, v, arg_by_name, (void *)ev, ok);
			break;
		case FDW_ARG_PATH:
			if (ev->path)
				set(o, name, fdw_json_bytes(ev->path), ok);
			break;
		case FDW_ARG_PTR:
		case FDW_ARG_NONE:
		default:
			break;
		}
	}
	/* openat2's struct open_how is read by the probe: how.flags in aux */
	if (ev->nr == FDW_SYS_OPENAT2) {
		set(o, "how_flags", json_u64(ev->aux), ok);
		set_names(o, si->name, "how_flags", ev->aux, NULL, NULL, ok);
	}
	set_fds(o, ev, ok);
	set_ret(o, ev->ret, ok);
}

json_t *fdw_render_event(const struct fdw_server_deps *deps, const struct fdw_history_entry *e)
{
	struct fdw_event evbuf;
	const struct fdw_event *ev = &evbuf;
	json_t *o;
	bool ok;

	(void)fdw_history_event(deps->history, e, &evbuf);
	o = json_object();
	ok = o != NULL;
	if (!o)
		return NULL;
	set(o, "seq", json_u64(ev->seq), &ok);
	set(o, "ts", json_real(realtime(deps, ev->ts)), &ok);
	set(o, "pid", json_integer(ev->pid), &ok);
	set(o, "tid", json_integer(ev->tid), &ok);
	switch (ev->type) {
	case FDW_REC_SYSCALL:
		set(o, "comm", json_comm(e->comm), &ok);
		set_syscall_args(o, ev, &ok);
		break;
	case FDW_REC_URING: {
		json_t *op = uring_op_json(ev->aux);

		set(o, "comm", json_comm(e->comm), &ok);
		set(o, "syscall", json_string("io_uring"), &ok);
		set(o, "opcode", json_u64(ev->aux), &ok);
		if (op)
			set(o, "opcode_name", op, &ok);
		set_fds(o, ev, &ok);
		set_ret(o, ev->ret, &ok);
		break;
	}
	case FDW_REC_BADF:
		set(o, "comm", json_comm(e->comm), &ok);
		set_syscall_args(o, ev, &ok);
		set(o, "bad_fd", json_integer(ev->race_fd), &ok);
		set(o, "open_at_exit", json_boolean(ev->race_flags & FDW_BADF_OPEN_AT_EXIT), &ok);
		break;
	case FDW_REC_REUSE:
		set(o, "comm", json_comm(e->comm), &ok);
		set_syscall_args(o, ev, &ok);
		set(o, "reused_fd", json_integer(ev->race_fd), &ok);
		set(o, "previous_syscall", json_string(fdw_syscall_name(ev->other_nr)), &ok);
		set(o, "previous_ino", json_u64(ev->old_ino), &ok);
		set(o, "ino", json_u64(ev->ino), &ok);
		break;
	case FDW_REC_INFLIGHT:
		set(o, "comm", json_comm(e->comm), &ok);
		set(o, "syscall", json_string(fdw_syscall_name(ev->nr)), &ok);
		set(o, "in_flight", json_true(), &ok);
		set(o, "fd", json_integer(ev->race_fd), &ok);
		set(o, "blocked_tid", json_integer(ev->other_tid), &ok);
		set(o, "blocked_syscall", json_string(fdw_syscall_name(ev->other_nr)), &ok);
		set(o, "blocked_comm", json_comm(ev->comm), &ok);
		set(o, "threads", json_integer(ev->threads), &ok);
		break;
	case FDW_REC_FORK:
		set(o, "comm", json_comm(e->comm), &ok);
		set(o, "syscall", json_string("fork"), &ok);
		set(o, "child_pid", json_integer(ev->child_pid), &ok);
		set(o, "child_tid", json_integer(ev->child_tid), &ok);
		set(o, "thread", json_boolean(ev->flags & FDW_F_THREAD), &ok);
		set(o, "shared_files", json_boolean(ev->flags & FDW_F_SHARED_FILES), &ok);
		break;
	case FDW_REC_EXEC:
		/* the new program's name, not the one the history recorded */
		set(o, "comm", json_comm(ev->comm[0] ? ev->comm : e->comm), &ok);
		set(o, "syscall", json_string("exec"), &ok);
		set(o, "old_tid", json_integer(ev->child_pid), &ok);
		break;
	case FDW_REC_EXIT:
		set(o, "comm", json_comm(e->comm), &ok);
		set(o, "syscall", json_string("exit"), &ok);
		set(o, "exit_code", json_integer(ev->exit_code), &ok);
		set(o, "group_dead", json_boolean(ev->flags & FDW_F_GROUP_DEAD), &ok);
		break;
	default:
		set(o, "comm", json_comm(e->comm), &ok);
		set(o, "syscall", json_string("unknown"), &ok);
		set(o, "type", json_integer(ev->type), &ok);
		break;
	}
	return finish(o, ok);
}

/* ---- fds -------------------------------------------------------------- */

/*
 * An origin (or, with `closed`, what ended a generation). In the closed
 * position an event without a syscall number can only be an exec: it is
 * the only task event that closes fds (an exit frees the whole table).
 */
static json_t *render_origin(const struct fdw_server_deps *deps, const struct fdw_origin *og,
			     bool closed)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	const char *sc = NULL;

	if (!o)
		return NULL;
	if (og->nr != FDW_SYS_UNKNOWN)
		sc = fdw_syscall_name(og->nr);
	else if (closed && og->source == FDW_SRC_EVENT && og->seq)
		sc = "exec";
	set(o, "syscall", sc ? json_string(sc) : json_null(), &ok);
	set(o, "tid", og->tid ? json_integer(og->tid) : json_null(), &ok);
	set(o, "pid", og->pid ? json_integer(og->pid) : json_null(), &ok);
	set(o, "comm", og->comm[0] ? json_comm(og->comm) : json_null(), &ok);
	set(o, "ts", json_ts(deps, og->ts), &ok);
	if (!closed)
		set(o, "from_fd", og->from_fd >= 0 ? json_integer(og->from_fd) : json_null(), &ok);
	set(o, "source", json_string(fdw_origin_source_name(og->source)), &ok);
	return finish(o, ok);
}

json_t *fdw_render_slot_history(const struct fdw_server_deps *deps, const struct fdw_slot *s,
				bool (*shown)(void *userdata, const struct fdw_origin *o),
				void *userdata)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && s && i < fdw_slot_nhist(deps->model, s); i++) {
		const struct fdw_fd_history *h = fdw_slot_history(deps->model, s, i);
		char name[FDW_OFD_NAME_BUF];
		json_t *o;
		bool ok = true;

		if (!h)
			break;
		if (shown && (!shown(userdata, fdw_origin_at(h->origin)) ||
			      !shown(userdata, fdw_origin_at(h->closed))))
			continue;
		o = json_object();
		if (!o) {
			json_decref(a);
			return NULL;
		}
		set(o, "generation", json_integer(h->generation), &ok);
		set(o, "target", fdw_json_bytes(fdw_fd_history_target(h, name)), &ok);
		set(o, "origin", render_origin(deps, fdw_origin_at(h->origin), false), &ok);
		set(o, "closed", render_origin(deps, fdw_origin_at(h->closed), true), &ok);
		if (!ok) {
			json_decref(o);
			json_decref(a);
			return NULL;
		}
		if (json_array_append_new(a, o) < 0) { /* it took o */
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* What an origin the client may not see shows */
static const struct fdw_origin origin_hidden = {
	.nr = FDW_SYS_UNKNOWN,
	.source = FDW_SRC_HIDDEN,
	.from_fd = -1,
};

json_t *fdw_render_fd(const struct fdw_server_deps *deps, const struct fdw_table *t, int fd,
		      const struct fdw_slot *s, bool hide_origin)
{
	const struct fdw_ofd *ofd = fdw_slot_ofd(s); /* NULL when closed */
	json_t *o = json_object();
	bool ok = o != NULL;
	char buf[FDW_OFD_NAME_BUF];

	(void)t;
	if (!o)
		return NULL;
	set(o, "fd", json_integer(fd), &ok);
	set(o, "cloexec", json_boolean(ofd && s->cloexec), &ok);
	set(o, "target", fdw_json_bytes(fdw_ofd_target(ofd, buf)), &ok);
	set(o, "type", json_string(fdw_ofd_type(ofd)), &ok);
	set(o, "ofd", ofd ? json_u64(fdw_ofd_id(ofd)) : json_null(), &ok);
	set(o, "generation", json_integer(s ? s->generation : 0), &ok);
	if (ofd)
		set(o, "origin",
		    render_origin(deps, hide_origin ? &origin_hidden : fdw_slot_origin(s), false),
		    &ok);
	else
		set(o, "origin", json_null(), &ok);
	return finish(o, ok);
}

/*
 * The same fd written straight into a stream (stream.c: a 20,000-fd
 * table is 20,000 of these per answer). Byte for byte what
 * json_dumps(fdw_render_fd(deps, t, fd, s), DUMP_FLAGS) gives
 * (tests/unit/test_render.c compares them); building the jansson tree and
 * dumping it cost four times as much.
 */
#define PUT(f, lit) ((void)fwrite_unlocked(lit, 1, sizeof(lit) - 1, f))

static void put_comm(FILE *f, const char comm[16])
{
	char c[17];

	memcpy(c, comm, 16);
	c[16] = '\0';
	fdw_json_put_bytes(f, c);
}

static void put_ts(FILE *f, const struct fdw_server_deps *deps, uint64_t mono_ns)
{
	if (mono_ns)
		fdw_json_put_real(f, realtime(deps, mono_ns), FDW_RENDER_REAL_PRECISION);
	else
		PUT(f, "null");
}

static void put_int_or_null(FILE *f, bool known, int64_t v)
{
	if (known)
		fdw_json_put_int(f, v);
	else
		PUT(f, "null");
}

static void put_u64_or_null(FILE *f, bool known, uint64_t v)
{
	if (known)
		fdw_json_put_u64(f, v);
	else
		PUT(f, "null");
}

/* render_origin(deps, og, false) */
static void put_origin(FILE *f, const struct fdw_server_deps *deps, const struct fdw_origin *og)
{
	PUT(f, "{\"syscall\":");
	if (og->nr != FDW_SYS_UNKNOWN)
		fdw_json_put_bytes(f, fdw_syscall_name(og->nr));
	else
		PUT(f, "null");
	PUT(f, ",\"tid\":");
	put_int_or_null(f, og->tid, og->tid);
	PUT(f, ",\"pid\":");
	put_int_or_null(f, og->pid, og->pid);
	PUT(f, ",\"comm\":");
	if (og->comm[0])
		put_comm(f, og->comm);
	else
		PUT(f, "null");
	PUT(f, ",\"ts\":");
	put_ts(f, deps, og->ts);
	PUT(f, ",\"from_fd\":");
	put_int_or_null(f, og->from_fd >= 0, og->from_fd);
	PUT(f, ",\"source\":");
	fdw_json_put_bytes(f, fdw_origin_source_name(og->source));
	(void)putc_unlocked('}', f);
}

void fdw_render_fd_put(FILE *f, const struct fdw_server_deps *deps, const struct fdw_table *t,
		       int fd, const struct fdw_slot *s, bool hide_origin)
{
	const struct fdw_ofd *ofd = fdw_slot_ofd(s); /* NULL when closed */
	char buf[FDW_OFD_NAME_BUF];

	(void)t;
	PUT(f, "{\"fd\":");
	fdw_json_put_int(f, fd);
	if (ofd && s->cloexec)
		PUT(f, ",\"cloexec\":true,\"target\":");
	else
		PUT(f, ",\"cloexec\":false,\"target\":");
	fdw_json_put_bytes(f, ofd ? fdw_ofd_target(ofd, buf) : NULL);
	PUT(f, ",\"type\":");
	fdw_json_put_bytes(f, fdw_ofd_type(ofd));
	PUT(f, ",\"ofd\":");
	put_u64_or_null(f, ofd, ofd ? fdw_ofd_id(ofd) : 0);
	PUT(f, ",\"generation\":");
	fdw_json_put_int(f, s ? s->generation : 0);
	PUT(f, ",\"origin\":");
	if (ofd)
		put_origin(f, deps, hide_origin ? &origin_hidden : fdw_slot_origin(s));
	else
		PUT(f, "null");
	(void)putc_unlocked('}', f);
}

/* ---- tables and processes ---------------------------------------------- */

static bool proc_stale(const struct fdw_proc *p, const struct fdw_table *t)
{
	return (t && t->stale) || p->lost > 0;
}

/* Why a stale table was not re-read: the errno name of the read that
 * failed (EACCES: /proc refused it), or NULL. */
static const char *stale_error(const struct fdw_proc *p, const struct fdw_table *t)
{
	return proc_stale(p, t) && t && t->read_err ? strerrorname_np(t->read_err) : NULL;
}

json_t *fdw_render_table_head(const struct fdw_server_deps *deps, const struct fdw_proc *p)
{
	struct fdw_proc *mp = (struct fdw_proc *)p;
	const struct fdw_table *t = fdw_model_proc_table(deps->model, mp);
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "pid", json_integer(p->pid), &ok);
	set(o, "comm", json_comm(p->comm), &ok);
	set(o, "table", t ? json_u64(t->id) : json_null(), &ok);
	set(o, "threads", json_integer(p->ntasks), &ok);
	set(o, "stale", json_boolean(proc_stale(p, t)), &ok);
	if (stale_error(p, t))
		set(o, "stale_error", json_string(stale_error(p, t)), &ok);
	return finish(o, ok);
}

json_t *fdw_render_table(const struct fdw_server_deps *deps, const struct fdw_proc *p)
{
	struct fdw_proc *mp = (struct fdw_proc *)p;
	const struct fdw_table *t = fdw_model_proc_table(deps->model, mp);
	json_t *o = fdw_render_table_head(deps, p), *fds = json_array();
	bool ok = o && fds;

	if (!ok) {
		json_decref(o);
		json_decref(fds);
		return NULL;
	}
	for (uint32_t fd = 0; t && fd < t->nslots && ok; fd++) {
		const struct fdw_slot *s = fdw_table_slot(t, (int)fd);
		json_t *f;

		if (!fdw_slot_open(s))
			continue;
		f = fdw_render_fd(deps, t, (int)fd, s, false);
		if (!f || json_array_append_new(fds, f) < 0)
			ok = false;
	}
	set(o, "fds", fds, &ok);
	return finish(o, ok);
}

/* limit_soft and growth_per_min of a process (null when not known). */
static void set_trend(json_t *po, const struct fdw_server_deps *deps, const struct fdw_proc *p,
		      bool *ok)
{
	struct fdw_leak_trend tr;
	bool known = fdw_leaks_proc_trend(deps->leaks, p, &tr);

	set(po, "limit_soft", known && tr.limit_known ? json_u64(tr.soft) : json_null(), ok);
	set(po, "growth_per_min",
	    known && tr.samples >= 2 ? json_real(round(tr.per_min * 10) / 10) : json_null(), ok);
}

json_t *fdw_render_process(const struct fdw_server_deps *deps, const struct fdw_proc *p)
{
	const struct fdw_table *t = fdw_model_proc_table_peek(deps->model, (struct fdw_proc *)p);
	json_t *po = json_object();
	bool ok = po != NULL;

	if (!po)
		return NULL;
	set(po, "pid", json_integer(p->pid), &ok);
	set(po, "ppid", json_integer(p->ppid), &ok);
	set(po, "comm", json_comm(p->comm), &ok);
	set(po, "fds", json_integer(t ? t->nopen : 0), &ok);
	set(po, "table", t ? json_u64(t->id) : json_null(), &ok);
	set(po, "threads", json_integer(p->ntasks), &ok);
	set(po, "stale", json_boolean(proc_stale(p, t)), &ok);
	if (stale_error(p, t))
		set(po, "stale_error", json_string(stale_error(p, t)), &ok);
	set_trend(po, deps, p, &ok);
	return finish(po, ok);
}

void fdw_render_process_put(FILE *f, const struct fdw_server_deps *deps, const struct fdw_proc *p)
{
	const struct fdw_table *t = fdw_model_proc_table_peek(deps->model, (struct fdw_proc *)p);
	struct fdw_leak_trend tr;
	bool known = fdw_leaks_proc_trend(deps->leaks, p, &tr);

	PUT(f, "{\"pid\":");
	fdw_json_put_int(f, p->pid);
	PUT(f, ",\"ppid\":");
	fdw_json_put_int(f, p->ppid);
	PUT(f, ",\"comm\":");
	put_comm(f, p->comm);
	PUT(f, ",\"fds\":");
	fdw_json_put_int(f, t ? t->nopen : 0);
	PUT(f, ",\"table\":");
	put_u64_or_null(f, t, t ? t->id : 0);
	PUT(f, ",\"threads\":");
	fdw_json_put_int(f, p->ntasks);
	if (stale_error(p, t)) {
		PUT(f, ",\"stale\":true,\"stale_error\":\"");
		(void)fputs_unlocked(stale_error(p, t), f); /* an errno name: [A-Z0-9] */
		PUT(f, "\",\"limit_soft\":");
	} else if (proc_stale(p, t)) {
		PUT(f, ",\"stale\":true,\"limit_soft\":");
	} else {
		PUT(f, ",\"stale\":false,\"limit_soft\":");
	}
	put_u64_or_null(f, known && tr.limit_known, tr.soft);
	PUT(f, ",\"growth_per_min\":");
	if (known && tr.samples >= 2)
		fdw_json_put_real(f, round(tr.per_min * 10) / 10, FDW_RENDER_REAL_PRECISION);
	else
		PUT(f, "null");
	(void)putc_unlocked('}', f);
}

uint32_t *fdw_render_pids(const struct fdw_model *m, size_t *n)
{
	uint32_t *pids = malloc((fdw_hashmap_size(&m->procs) + 1) * sizeof(*pids));
	size_t it = 0;
	uint64_t key;

	*n = 0;
	if (!pids)
		return NULL;
	while (fdw_hashmap_next(&m->procs, &it, &key, NULL))
		pids[(*n)++] = (uint32_t)key;
	qsort(pids, *n, sizeof(*pids), fdw_cmp_u32);
	return pids;
}

json_t *fdw_render_processes(const struct fdw_server_deps *deps, fdw_render_filter *visible,
			     void *userdata)
{
	struct fdw_model *m = deps->model;
	size_t n = 0;
	uint32_t *pids;
	json_t *o, *a;
	bool ok = true;

	pids = fdw_render_pids(m, &n);
	o = json_object();
	a = json_array();
	if (!pids || !o || !a) {
		free(pids);
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < n && ok; i++) {
		struct fdw_proc *p = fdw_model_proc(m, pids[i]);
		json_t *po;

		if (!p || (visible && !visible(userdata, p->pid)))
			continue;
		po = fdw_render_process(deps, p);
		if (!po || json_array_append_new(a, po) < 0) /* it took po */
			ok = false;
	}
	free(pids);
	set(o, "processes", a, &ok);
	return finish(o, ok);
}

/* ---- status ----------------------------------------------------------- */

static json_t *status_lost_per_cpu(const struct fdw_stats *st)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < st->ncpus; i++) {
		if (json_array_append_new(a, json_u64(st->lost_per_cpu[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* {"key": value, ...} of unsigned figures; NULL when out of memory. */
struct figure {
	const char *key;
	uint64_t v;
};

static json_t *figures(const struct figure *f, size_t n)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	for (size_t i = 0; ok && i < n; i++)
		set(o, f[i].key, json_u64(f[i].v), &ok);
	return finish(o, ok);
}

#define FIGURES(...)                                                                      \
	figures((const struct figure[]){ __VA_ARGS__ },                                   \
		sizeof((const struct figure[]){ __VA_ARGS__ }) / sizeof(struct figure))

/* The nested objects: audit, history, fd_history, fd_names, limits, dropped,
 * alerts. */
static void status_sections(json_t *o, const struct fdw_stats *st, bool *ok)
{
	set(o, "audit",
	    FIGURES({ "runs", st->audit_runs }, { "checked", st->audit_checked },
		    { "divergences", st->audit_divergences },
		    { "skipped", st->audit_skipped }, { "inconclusive", st->audit_inconclusive }),
	    ok);
	set(o, "history",
	    FIGURES({ "size", st->history_len }, { "capacity", st->history_cap },
		    { "dropped", st->history_dropped }), ok);
	set(o, "fd_history",
	    FIGURES({ "slots", st->fd_history_slots }, { "max_slots", st->fd_history_max },
		    { "bytes", st->fd_history_bytes }, { "max_bytes", st->fd_history_max_bytes },
		    { "evicted", st->fd_history_evicted }, { "refused", st->fd_history_refused }),
	    ok);
	set(o, "given_up",
	    FIGURES({ "tables", st->given_up_tables }, { "evicted", st->given_up_evicted }), ok);
	set(o, "fd_names",
	    FIGURES({ "names", st->fd_names }, { "bytes", st->fd_names_bytes },
		    { "max_bytes", st->fd_names_max_bytes }, { "refused", st->fd_names_refused }),
	    ok);
	set(o, "limits",
	    FIGURES({ "max_processes", st->max_procs }, { "max_fds", st->max_fds },
		    { "max_clients", st->max_clients }), ok);
	set(o, "dropped",
	    FIGURES({ "processes", st->dropped_procs }, { "fds", st->dropped_fds },
		    { "clients", st->server.dropped_clients },
		    { "followers", st->server.dropped_followers },
		    { "clients_share", st->server.dropped_share },
		    { "clients_pidns", st->server.dropped_pidns },
		    { "slow_readers", st->server.slow_readers },
		    { "request_timeouts", st->server.request_timeouts },
		    { "name_refreshes", st->server.name_refreshes },
		    { "owner_prefetches", st->server.owner_prefetches },
		    { "leak_sites", st->server.leak_sites },
		    { "verify_requests", st->verify_refused },
		    { "verify_requests_share", st->server.verify_share },
		    { "verify_differences", st->verify_diffs_truncated },
		    { "target_searches", st->targets_unsearched }), ok);
	/* leak detectors and alerts (detect/leaks.c, alerts/alerts.c) */
	set(o, "alerts",
	    FIGURES({ "firing", st->alerts_firing }, { "stored", st->alerts_stored },
		    { "dropped", st->alerts.dropped }, { "dropped_share", st->alerts.dropped_share },
		    { "lines_suppressed", st->alerts.lines_suppressed },
		    { "saves", st->alerts.saves }, { "save_errors", st->alerts.save_errors },
		    { "save_ms_last", st->alerts.save_ms_last },
		    { "save_ms_max", st->alerts.save_ms_max },
		    { "save_pending_ms", st->alerts.save_pending_ms },
		    { "detector_processes", st->leaks.procs },
		    { "stack_processes", st->leaks.watching }), ok);
}

json_t *fdw_render_status(const struct fdw_stats *st)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "version", json_string(FDWATCH_VERSION), &ok);
	set(o, "abi", json_integer(FDW_ABI_VERSION), &ok);
	set(o, "pid", json_integer(getpid()), &ok);
	set(o, "ready", json_boolean(st->ready), &ok);
	set(o, "uptime_s", json_real(st->uptime_s), &ok);
	set(o, "events_received", json_u64(st->events_received), &ok);
	set(o, "events_lost", json_u64(st->events_lost), &ok);
	set(o, "events_lost_per_cpu", status_lost_per_cpu(st), &ok);
	set(o, "events_dropped_decode", json_u64(st->events_bad), &ok);
	set(o, "loop_lag_max_ms", json_u64(st->loop_lag_max_ms), &ok);
	/* status drains for a bounded time: how far behind this answer is */
	set(o, "ring_backlog_bytes", json_u64(st->ring_backlog_bytes), &ok);
	set(o, "drains_partial", json_u64(st->drains_partial), &ok);
	set(o, "ring_wakeups", json_u64(st->ring_wakeups), &ok);
	set(o, "processes", json_u64(st->processes), &ok);
	set(o, "tables", json_u64(st->tables), &ok);
	set(o, "fds", json_u64(st->fds), &ok);
	set(o, "ofds", json_u64(st->ofds), &ok);
	set(o, "stale_tables", json_u64(st->stale_tables), &ok);
	set(o, "resyncs", json_u64(st->resyncs), &ok);
	set(o, "rereads",
	    json_pack("{s:I, s:I, s:I, s:I, s:I}", "inline", (json_int_t)st->rereads_inline,
		      "deferred", (json_int_t)st->rereads_deferred, "waits",
		      (json_int_t)st->reread_waits, "pool_partial",
		      (json_int_t)st->pool_reads_partial, "pool_refused",
		      (json_int_t)st->pool_reads_refused),
	    &ok);
	set(o, "resync_fds_failed", json_u64(st->resync_failed), &ok);
	set(o, "anomalies", json_u64(st->anomalies), &ok);
	set(o, "stale_closes", json_u64(st->stale_closes), &ok);
	set(o, "unknown_tasks", json_u64(st->unknown_tasks), &ok);
	set(o, "table_splits", json_u64(st->table_splits), &ok);
	set(o, "scan",
	    json_pack("{s:s, s:I, s:I, s:I, s:I}", "source",
		      st->scan_snapshot ? "snapshot" : "proc", "fds", (json_int_t)st->scan_fds,
		      "from_proc", (json_int_t)st->scan_from_proc, "exited",
		      (json_int_t)st->scan_exited, "ms", (json_int_t)st->scan_ms),
	    &ok);
	set(o, "loss",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "resyncs",
		      (json_int_t)st->loss_resyncs, "resyncs_refused", (json_int_t)st->resync_refused,
		      "ghosts_dropped", (json_int_t)st->ghosts_dropped, "scans",
		      (json_int_t)st->discover_runs, "found", (json_int_t)st->discovered,
		      "found_deferred", (json_int_t)st->discover_deferred, "forks_stale",
		      (json_int_t)st->forks_stale, "verify_missing", (json_int_t)st->verify_missing,
		      "addfd_unresolved", (json_int_t)st->addfd_unresolved, "addfd_rereads",
		      (json_int_t)st->addfd_rereads, "pids_reused", (json_int_t)st->pids_reused,
		      "execs_found", (json_int_t)st->execs_found),
	    &ok);
	set(o, "memory",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "heap_bytes",
		      (json_int_t)st->heap_bytes, "origins", (json_int_t)st->origins,
		      "origin_bytes", (json_int_t)st->origin_bytes, "rss_bytes",
		      (json_int_t)st->rss_bytes, "trims", (json_int_t)st->trims,
		      "trim_returned_bytes", (json_int_t)st->trim_returned_bytes, "trim_last_ms",
		      (double)st->trim_last_us / 1e3, "trim_max_ms", (double)st->trim_max_us / 1e3),
	    &ok);
	set(o, "probes",
	    json_pack("{s:I, s:I, s:b}", "attached", (json_int_t)st->probes_attached, "failed",
		      (json_int_t)st->probes_failed, "fanotify_read", st->fanotify_read),
	    &ok);
	if (ok)
		status_sections(o, st, &ok);
	return finish(o, ok);
}

json_t *fdw_render_status_own(const struct fdw_stats *st, uint64_t procs, uint64_t fds,
			      uint64_t firing)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	set(o, "version", json_string(FDWATCH_VERSION), &ok);
	set(o, "abi", json_integer(FDW_ABI_VERSION), &ok);
	set(o, "pid", json_integer(getpid()), &ok);
	set(o, "ready", json_boolean(st->ready), &ok);
	set(o, "uptime_s", json_real(st->uptime_s), &ok);
	/* what the host does is not this client's to count: only its own */
	set(o, "scope", json_string("own"), &ok);
	set(o, "processes", json_u64(procs), &ok);
	set(o, "fds", json_u64(fds), &ok);
	set(o, "alerts", FIGURES({ "firing", firing }), &ok);
	return finish(o, ok);
}
