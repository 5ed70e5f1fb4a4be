// SPDX-License-Identifier: LGPL-2.1-or-later
/* Shared pieces of the detectors' evidence: see evidence.h. */
#include <stdio.h>
#include <sys/resource.h>

#include "base/json.h"
#include "capture/syscalls.h"
#include "detect/detector.h"
#include "detect/evidence.h"

void leak_fmt_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "?");
	else if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.1fh", s / 3600);
	else
		snprintf(buf, len, "%.1fd", s / 86400);
}

json_t *leak_json_num(bool known, double v)
{
	return known ? json_real(v) : json_null();
}

json_t *leak_json_syscall(uint16_t nr)
{
	return nr != FDW_SYS_UNKNOWN && fdw_syscall_name(nr) ? json_string(fdw_syscall_name(nr))
							      : json_null();
}

double leak_age_s(uint64_t ts, uint64_t now)
{
	return ts && now > ts ? (double)(now - ts) / 1e9 : 0;
}

static json_t *origin_json(const struct fdw_origin *o, uint64_t now)
{
	/* "seq": the event's (GET /v1/events), also what tells whether a
	 * client may see it (server/alert_view.c) */
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "syscall", leak_json_syscall(o->nr),
			 "source", fdw_origin_source_name(o->source),
			 "seq", o->seq ? json_integer((json_int_t)o->seq) : json_null(),
			 "pid", o->pid ? json_integer(o->pid) : json_null(),
			 "tid", o->tid ? json_integer(o->tid) : json_null(),
			 "comm", o->comm[0] ? fdw_json_bytes(o->comm) : json_null(),
			 "from_fd", o->from_fd >= 0 ? json_integer(o->from_fd) : json_null(),
			 "age_s", leak_json_num(o->ts != 0, leak_age_s(o->ts, now)));
}

json_t *leak_json_slot(int fd, const struct fdw_slot *s, uint64_t now)
{
	const struct fdw_ofd *o = fdw_slot_open(s) ? fdw_slot_ofd(s) : NULL;
	char buf[FDW_OFD_NAME_BUF];
	const char *target = fdw_ofd_target(o, buf);

	if (!o)
		return json_pack("{s:i, s:n}", "fd", fd, "target");
	return json_pack("{s:i, s:o, s:s, s:b, s:I, s:o, s:o}",
			 "fd", fd,
			 "target", fdw_json_bytes(target),
			 "type", fdw_fd_type_name(fdw_ofd_mode(o), target),
			 "cloexec", s->cloexec,
			 "ofd", (json_int_t)fdw_ofd_id(o),
			 "origin", origin_json(fdw_slot_origin(s), now),
			 "opened_by", origin_json(fdw_ofd_origin(o), now));
}

static json_t *limit_json(bool known, uint64_t v)
{
	return known && v != (uint64_t)RLIM_INFINITY ? json_integer((json_int_t)v) : json_null();
}

void leak_evidence_limits(json_t *o, const struct leak_proc *st)
{
	(void)json_object_set_new(o, "limit_soft", limit_json(st->limit_known, st->soft));
	(void)json_object_set_new(o, "limit_hard", limit_json(st->limit_known, st->hard));
}
