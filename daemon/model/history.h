/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A bounded ring of recent events (for `fdwatch events`). The oldest entry
 * is overwritten when full; `dropped` counts those.
 */
#pragma once

#include <stdint.h>

#include "capture/event.h"

struct fdw_history_entry {
	struct fdw_event ev; /* ev.path points at path below, or NULL */
	char comm[16];	     /* the process's command when the event happened */
	char *path;	     /* owned copy of the path argument */
};

struct fdw_history {
	struct fdw_history_entry *ring;
	uint64_t cap;
	uint64_t head;	  /* index of the next write */
	uint64_t len;
	uint64_t dropped; /* overwritten */
};

int fdw_history_init(struct fdw_history *h, uint64_t cap);
void fdw_history_free(struct fdw_history *h);
/* Append a copy of *ev (its path is copied). Returns the stored entry. */
const struct fdw_history_entry *fdw_history_push(struct fdw_history *h, const struct fdw_event *ev,
						 const char *comm);
/* i-th oldest entry, i in [0, len). */
const struct fdw_history_entry *fdw_history_at(const struct fdw_history *h, uint64_t i);
