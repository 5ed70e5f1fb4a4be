/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A set of records keyed by a uint64_t field of the record itself (an
 * intrusive map): a bucket holds only the record's pointer, the key is read
 * from the record. Half a struct fdw_hashmap's 16 bytes per bucket, for
 * maps as big as the model's kfile -> OFD one (an entry per open file
 * description). Linear probing, backward-shift deletion, load under 3/4.
 *
 * A record's key must not change while the set holds it: remove it first.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fdw_keyset {
	void **buckets; /* NULL marks an empty bucket */
	size_t cap;	/* power of two, or 0 */
	size_t len;
	size_t key_off; /* offsetof(record, its uint64_t key) */
};

void fdw_keyset_init(struct fdw_keyset *s, size_t key_off);
/* Frees the buckets, not the records. NULL-safe. */
void fdw_keyset_free(struct fdw_keyset *s);
/* The record whose key is `key`, NULL when none. */
void *fdw_keyset_get(const struct fdw_keyset *s, uint64_t key);
/* Insert rec, or put it in place of the record with its key. 0, -EINVAL
 * for NULL, -ENOMEM. */
int fdw_keyset_put(struct fdw_keyset *s, void *rec);
/* Remove and return the record under `key`, NULL when absent. */
void *fdw_keyset_remove(struct fdw_keyset *s, uint64_t key);
static inline size_t fdw_keyset_size(const struct fdw_keyset *s)
{
	return s->len;
}
