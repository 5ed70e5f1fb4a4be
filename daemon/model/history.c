// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/history.h"

int fdw_history_init(struct fdw_history *h, uint64_t cap)
{
	memset(h, 0, sizeof(*h));
	if (!cap)
		return -EINVAL;
	h->ring = calloc(cap, sizeof(*h->ring));
	if (!h->ring)
		return -ENOMEM;
	h->cap = cap;
	return 0;
}

void fdw_history_free(struct fdw_history *h)
{
	if (!h || !h->ring)
		return;
	for (uint64_t i = 0; i < h->cap; i++)
		free(h->ring[i].path);
	free(h->ring);
	memset(h, 0, sizeof(*h));
}

const struct fdw_history_entry *fdw_history_push(struct fdw_history *h, const struct fdw_event *ev,
						 const char *comm)
{
	struct fdw_history_entry *e = &h->ring[h->head];

	if (h->len == h->cap)
		h->dropped++;
	else
		h->len++;
	free(e->path);
	e->path = NULL;
	e->ev = *ev;
	e->ev.path = NULL;
	if (ev->path) {
		e->path = strdup(ev->path);
		e->ev.path = e->path; /* NULL when out of memory: rendered without */
	}
	if (comm) {
		strncpy(e->comm, comm, sizeof(e->comm) - 1);
		e->comm[sizeof(e->comm) - 1] = '\0';
	} else {
		e->comm[0] = '\0';
	}
	h->head = (h->head + 1) % h->cap;
	return e;
}

const struct fdw_history_entry *fdw_history_at(const struct fdw_history *h, uint64_t i)
{
	if (i >= h->len)
		return NULL;
	return &h->ring[(h->head + h->cap - h->len + i) % h->cap];
}
