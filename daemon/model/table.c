// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The model's containers: open file descriptions (refcounted by the fds
 * that refer to them), fd slots with their ring of earlier generations,
 * and tables. No events, no /proc: apply.c and resync.c change tables
 * through these.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/internal.h"

/* ---- origins ----------------------------------------------------------- */

const char *fdw_origin_source_name(uint8_t source)
{
	switch (source) {
	case FDW_SRC_EVENT:
		return "event";
	case FDW_SRC_PROCFS:
		return "procfs";
	case FDW_SRC_INHERIT:
		return "inherit";
	default:
		return "unknown";
	}
}

/* ---- open file descriptions -------------------------------------------- */

struct fdw_ofd *fdw__ofd_new(struct fdw_model *m, uint64_t kfile)
{
	struct fdw_ofd *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->id = ++m->next_ofd_id;
	o->kfile = kfile;
	if (kfile && fdw_hashmap_put(&m->ofds, kfile, o) < 0)
		o->kfile = 0; /* untracked identity; still a valid OFD */
	m->stats.ofds++;
	return o;
}

static void ofd_free(struct fdw_ofd *o)
{
	free(o->target);
	free(o->path_arg);
	free(o);
}

/* refs counts the open fds (in any table) that refer to it. */
void fdw__ofd_put(struct fdw_model *m, struct fdw_ofd *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->kfile && fdw_hashmap_get(&m->ofds, o->kfile) == o)
		(void)fdw_hashmap_remove(&m->ofds, o->kfile);
	o->kfile = 0;
	fdw__pending_drop(m, o);
	m->stats.ofds--;
	ofd_free(o);
}

void fdw__ofd_set_target(struct fdw_ofd *o, const char *target, bool exact)
{
	char *t = strdup(target ? target : "");

	if (!t)
		return;
	free(o->target);
	o->target = t;
	o->target_exact = exact;
	/* anon inodes (pidfs too) carry type bits that mean nothing here */
	if (exact && !strncmp(t, "anon_inode:", 11))
		o->mode = 0;
}

/* ---- slots and their history ------------------------------------------- */

struct fdw_slot *fdw_table_slot(const struct fdw_table *t, int fd)
{
	if (!t || fd < 0 || (uint32_t)fd >= t->nslots)
		return NULL;
	return t->slots[fd];
}

static struct fdw_slot *slot_get(struct fdw_model *m, struct fdw_table *t, int fd)
{
	struct fdw_slot *s;

	/* no fd can reach the kernel's nr_open: a bigger number is garbage
	 * that must not size an allocation */
	if (fd < 0 || (uint64_t)fd >= m->max_fd_number)
		return NULL;
	if ((uint32_t)fd >= t->nslots) {
		uint64_t n = t->nslots ? t->nslots : 64;
		struct fdw_slot **ns;

		while (n <= (uint64_t)fd)
			n *= 2;
		if (n > (1u << 31))
			return NULL;
		ns = realloc(t->slots, n * sizeof(*ns));
		if (!ns)
			return NULL;
		memset(ns + t->nslots, 0, (n - t->nslots) * sizeof(*ns));
		t->slots = ns;
		t->nslots = n;
	}
	s = t->slots[fd];
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		t->slots[fd] = s;
	}
	return s;
}

const struct fdw_fd_history *fdw_slot_history(const struct fdw_slot *s, unsigned int i)
{
	if (!s || !s->hist || i >= s->nhist)
		return NULL;
	return &s->hist[(s->hist_head + FDW_SLOT_HISTORY - 1 - i) % FDW_SLOT_HISTORY];
}

static void hist_clear(struct fdw_slot *s)
{
	if (!s->hist)
		return;
	for (unsigned int i = 0; i < FDW_SLOT_HISTORY; i++)
		free(s->hist[i].target);
	free(s->hist);
	s->hist = NULL;
	s->nhist = 0;
	s->hist_head = 0;
}

static void hist_push(struct fdw_model *m, struct fdw_slot *s, const struct fdw_origin *closed)
{
	struct fdw_fd_history *h;

	if (!s->hist) {
		if (m->stats.history_entries >= m->max_history) {
			m->stats.history_dropped++;
			return;
		}
		s->hist = calloc(FDW_SLOT_HISTORY, sizeof(*s->hist));
		if (!s->hist)
			return;
		m->stats.history_entries++;
	}
	h = &s->hist[s->hist_head];
	h->generation = s->generation;
	h->origin = s->origin;
	h->closed = *closed;
	/* a number reused for the same file (a loop's open or dup and close)
	 * keeps the copy it has: no allocation per close */
	if (!s->ofd || !s->ofd->target) {
		free(h->target);
		h->target = NULL;
	} else if (!h->target || strcmp(h->target, s->ofd->target)) {
		free(h->target);
		h->target = strdup(s->ofd->target);
	}
	s->hist_head = (s->hist_head + 1) % FDW_SLOT_HISTORY;
	if (s->nhist < FDW_SLOT_HISTORY)
		s->nhist++;
}

/* ---- tables ------------------------------------------------------------ */

struct fdw_table *fdw__table_new(struct fdw_model *m, uint64_t kfiles, uint64_t now)
{
	struct fdw_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = ++m->next_table_id;
	t->created_ts = now;
	if (kfiles) {
		struct fdw_table *old = fdw_hashmap_get(&m->tables, kfiles);

		/* An address still mapped to a live table: that table died
		 * without us seeing its last exit. Unbind it. */
		if (old)
			old->kfiles = 0;
		if (fdw_hashmap_put(&m->tables, kfiles, t) < 0) {
			free(t);
			return NULL;
		}
		t->kfiles = kfiles;
	}
	m->stats.tables++;
	return t;
}

void fdw__slot_close(struct fdw_model *m, struct fdw_table *t, struct fdw_slot *s,
		     const struct fdw_origin *closed)
{
	if (!fdw_slot_open(s))
		return;
	hist_push(m, s, closed);
	fdw__ofd_put(m, s->ofd);
	s->ofd = NULL;
	s->cloexec = false;
	t->nopen--;
	m->stats.fds--;
}

void fdw__table_free(struct fdw_model *m, struct fdw_table *t)
{
	if (!t)
		return;
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		struct fdw_slot *s = t->slots[fd];

		if (!s)
			continue;
		if (s->ofd) {
			fdw__ofd_put(m, s->ofd);
			m->stats.fds--;
		}
		if (s->hist)
			m->stats.history_entries--;
		hist_clear(s);
		free(s);
	}
	free(t->slots);
	if (t->kfiles && fdw_hashmap_get(&m->tables, t->kfiles) == t)
		(void)fdw_hashmap_remove(&m->tables, t->kfiles);
	m->stats.tables--;
	free(t);
}

/*
 * Put `ofd` at `fd`. An fd already open there is closed first (dup2's
 * atomic replace); `closed` says what closed it. Returns the slot, NULL when
 * the fd bound refused it (the table is then marked stale).
 */
struct fdw_slot *fdw__slot_install(struct fdw_model *m, struct fdw_table *t, int fd,
				   struct fdw_ofd *ofd, bool cloexec,
				   const struct fdw_origin *origin)
{
	struct fdw_slot *s;

	if (m->stats.fds >= m->max_fds && !fdw_slot_open(fdw_table_slot(t, fd))) {
		m->stats.dropped_fds++;
		t->stale = true;
		return NULL;
	}
	s = slot_get(m, t, fd);
	if (!s) {
		m->stats.dropped_fds++;
		t->stale = true;
		return NULL;
	}
	if (s->ofd)
		fdw__slot_close(m, t, s, origin);
	ofd->refs++;
	s->ofd = ofd;
	s->cloexec = cloexec;
	s->suspect = false;
	s->inheritable = false;
	s->exec_passed = false;
	s->origin = *origin;
	s->generation++;
	t->nopen++;
	m->stats.fds++;
	return s;
}

/* A copy of `src` for fork or unshare: same OFDs, bits and provenance. */
struct fdw_table *fdw__table_copy(struct fdw_model *m, const struct fdw_table *src,
				  uint64_t kfiles, uint64_t now)
{
	struct fdw_table *t = fdw__table_new(m, kfiles, now);

	if (!t)
		return NULL;
	t->stale = src->stale;
	for (uint32_t fd = 0; fd < src->nslots; fd++) {
		const struct fdw_slot *ss = src->slots[fd];
		struct fdw_slot *ds;

		if (!fdw_slot_open(ss))
			continue;
		ds = fdw__slot_install(m, t, fd, ss->ofd, ss->cloexec, &ss->origin);
		if (ds) {
			ds->generation = ss->generation;
			ds->inheritable = ss->inheritable;
			ds->exec_passed = ss->exec_passed;
		}
	}
	return t;
}
