// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * User stacks of fd creation, for the leak sites: a process the growth
 * detector suspects gets its stacks captured (fdw_capture_watch_stacks), and
 * each fd it opens then remembers its stack, until it is closed. Stacks are
 * shared (refcounted) across fds and bounded (max_stacks, max_watch); they
 * are named (symbolized) only when an answer shows them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "detect/detector.h"
#include "sys/symbolize.h"

#define STACK_FRAMES_SHOWN 16

struct leak_stack {
	uint32_t id; /* stack id + 1, as events carry it */
	uint32_t refs;
	uint32_t pid;
	unsigned int n;
	uint64_t ips[FDW_STACK_DEPTH];
	char **names; /* symbolized lazily */
};

/* ---- the shared, refcounted stacks ----------------------------------------- */

static void stack_free(struct leak_stack *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; s->names && i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s);
}

static struct leak_stack *stack_ref(struct fdw_leaks *l, uint32_t id, uint32_t pid)
{
	struct leak_stack *s = fdw_hashmap_get(&l->stacks, id);
	int n;

	if (s) {
		s->refs++;
		return s;
	}
	if (!l->capture || fdw_hashmap_size(&l->stacks) >= l->cfg.max_stacks) {
		l->stats.dropped_stacks++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	n = fdw_capture_read_stack(l->capture, id, s->ips, FDW_STACK_DEPTH);
	if (n <= 0 || fdw_hashmap_put(&l->stacks, id, s) < 0) {
		l->stats.dropped_stacks++;
		free(s);
		return NULL;
	}
	s->id = id;
	s->n = (unsigned int)n;
	s->pid = pid;
	s->refs = 1;
	l->stats.stacks = fdw_hashmap_size(&l->stacks);
	return s;
}

static void stack_unref(struct fdw_leaks *l, uint32_t id)
{
	struct leak_stack *s = fdw_hashmap_get(&l->stacks, id);

	if (!s || --s->refs > 0)
		return;
	(void)fdw_hashmap_remove(&l->stacks, id);
	/* the kernel's map is bounded too: forget it there as well */
	fdw_capture_drop_stack(l->capture, id);
	stack_free(s);
	l->stats.stacks = fdw_hashmap_size(&l->stacks);
}

void leak_stacks_free(struct fdw_leaks *l)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	/* what is left has no fd referring to it any more */
	while (fdw_hashmap_next(&l->stacks, &it, &key, &v))
		stack_free(v);
	fdw_hashmap_free(&l->stacks);
}

static void stack_names(struct leak_stack *s, struct leak_proc *st)
{
	bool own = st && st->pid == s->pid;
	char buf[512];

	if (s->names)
		return;
	s->names = calloc(s->n, sizeof(*s->names));
	if (!s->names)
		return;
	if (own && !st->stacks.sym && !st->stacks.sym_failed)
		st->stacks.sym_failed = fdw_symbolizer_new(st->pid, &st->stacks.sym) < 0;
	for (unsigned int i = 0; i < s->n; i++) {
		(void)fdw_symbolize(own ? st->stacks.sym : NULL, s->ips[i], i > 0, buf, sizeof(buf));
		s->names[i] = strdup(buf);
	}
}

json_t *leak_stack_frames(struct fdw_leaks *l, struct leak_proc *st, uint32_t id)
{
	struct leak_stack *s = fdw_hashmap_get(&l->stacks, id);
	json_t *frames;

	if (!s)
		return NULL;
	frames = json_array();
	if (!frames)
		return NULL;
	stack_names(s, st);
	for (unsigned int f = 0; s->names && f < s->n && f < STACK_FRAMES_SHOWN; f++)
		if (s->names[f])
			(void)json_array_append_new(frames, json_string(s->names[f]));
	return frames;
}

/* ---- the stack of each fd of a process ------------------------------------------ */

static inline void *pack_fdstack(uint32_t generation, uint32_t stack)
{
	return (void *)(uintptr_t)(((uint64_t)generation << 32) | stack);
}

uint32_t leak_stack_of_fd(void *u, int fd, const struct fdw_slot *s)
{
	struct leak_proc *st = u;
	uintptr_t v;

	if (!st || !fdw_hashmap_size(&st->stacks.fdstacks))
		return 0;
	v = (uintptr_t)fdw_hashmap_get(&st->stacks.fdstacks, (uint64_t)fd);
	if (!v || (uint32_t)((uint64_t)v >> 32) != s->generation)
		return 0;
	return (uint32_t)v;
}

static void fdstack_forget(struct fdw_leaks *l, struct leak_proc *st, int fd)
{
	void *v;

	if (!fdw_hashmap_size(&st->stacks.fdstacks))
		return;
	v = fdw_hashmap_remove(&st->stacks.fdstacks, (uint64_t)fd);
	if (v)
		stack_unref(l, (uint32_t)(uintptr_t)v);
}

static void fdstack_set(struct fdw_leaks *l, struct leak_proc *st, int fd, uint32_t stack,
			const struct fdw_slot *slot)
{
	void *old;

	if (!stack_ref(l, stack, st->pid)) {
		fdstack_forget(l, st, fd);
		return;
	}
	old = fdw_hashmap_get(&st->stacks.fdstacks, (uint64_t)fd);
	if (fdw_hashmap_put(&st->stacks.fdstacks, (uint64_t)fd,
			    pack_fdstack(slot->generation, stack)) < 0) {
		stack_unref(l, stack);
		return;
	}
	if (old)
		stack_unref(l, (uint32_t)(uintptr_t)old);
}

void leak_symbols_forget(struct leak_proc *st)
{
	fdw_symbolizer_free(st->stacks.sym);
	st->stacks.sym = NULL;
	st->stacks.sym_failed = false;
}

void leak_watch(struct fdw_leaks *l, struct leak_proc *st, bool on)
{
	struct leak_stacks *ss = &st->stacks;

	if (!l->capture || ss->watching == on)
		return;
	if (!on) {
		(void)fdw_capture_watch_stacks(l->capture, st->pid, false);
		ss->watching = false;
		l->stats.watching--;
		/* its stacks are named already; the ELF files need not stay open */
		leak_symbols_forget(st);
		return;
	}
	if (l->stats.watching >= l->cfg.max_watch ||
	    fdw_capture_watch_stacks(l->capture, st->pid, true) < 0) {
		if (!ss->watch_refused)
			l->stats.dropped_watch++;
		ss->watch_refused = true;
		return;
	}
	ss->watching = true;
	l->stats.watching++;
}

/* ---- the hooks ------------------------------------------------------------------- */

static void stacks_on_fd_event(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			       fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	struct leak_proc *st = leak_proc_find(l, p);

	if (!st)
		return;
	if (kind == FDW_FDEV_OPEN && ev->stack && st->stacks.watching && slot)
		fdstack_set(l, st, fd, ev->stack, slot);
	else if (kind == FDW_FDEV_OPEN || kind == FDW_FDEV_CLOSE || kind == FDW_FDEV_CLOBBER)
		fdstack_forget(l, st, fd);
}

static void stacks_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	fdw_hashmap_init(&st->stacks.fdstacks);
}

static void stacks_exit(struct fdw_leaks *l, struct leak_proc *st)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	leak_watch(l, st, false);
	while (fdw_hashmap_next(&st->stacks.fdstacks, &it, &key, &v))
		stack_unref(l, (uint32_t)(uintptr_t)v);
	fdw_hashmap_free(&st->stacks.fdstacks);
	leak_symbols_forget(st);
}

const struct fdw_detector leak_stacks_detector = {
	.name = "stacks",
	.on_proc_new = stacks_new,
	.on_fd_event = stacks_on_fd_event,
	.fd_events = FDW_LEAK_FDEV(FDW_FDEV_OPEN) | FDW_LEAK_FDEV(FDW_FDEV_CLOSE) |
		     FDW_LEAK_FDEV(FDW_FDEV_CLOBBER),
	.on_proc_exit = stacks_exit,
};
