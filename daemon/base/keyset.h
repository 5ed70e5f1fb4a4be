/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A set of records keyed by a uint64_t field of the record itself (an
 * intrusive map) whose buckets hold 32-bit handles, not pointers: the owner
 * of the records numbers them and turns a handle back into the record
 * (resolve), and the key is read from the record. A quarter of a struct
 * fdw_hashmap's 16 bytes per bucket, for maps as big as the model's kfile
 * -> OFD one (an entry per open file description; OFDs live in blocks, a
 * handle is a block and an index; at most 2^24 - 1). Linear probing;
 * each bucket carries 8 bits of its key's hash beside the handle, so a
 * probe reads a record only when they match; removed entries are marked
 * and cleared when the table is rebuilt; buckets in use under 3/4. It
 * doubles when the live entries pass half, and halves when they fall to
 * an eighth (never under FDW_KEYSET_MIN_CAP buckets).
 *
 * A record's key must not change while the set holds it: remove it first.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The record numbered h (never 0), which must be in the set. */
typedef void *(*fdw_keyset_resolve_fn)(void *ctx, uint32_t h);

#define FDW_KEYSET_MIN_CAP 16

struct fdw_keyset {
	uint32_t *buckets; /* tag and handle; 0 marks an empty bucket */
	size_t cap;	   /* power of two, or 0 */
	size_t len;
	size_t tombs;	   /* buckets of removed entries */
	size_t key_off;	   /* offsetof(record, its uint64_t key) */
	fdw_keyset_resolve_fn resolve;
	void *ctx;
};

void fdw_keyset_init(struct fdw_keyset *s, size_t key_off, fdw_keyset_resolve_fn resolve,
		     void *ctx);
/* Frees the buckets, not the records. NULL-safe. */
void fdw_keyset_free(struct fdw_keyset *s);
/* The record whose key is `key`, NULL when none. */
void *fdw_keyset_get(const struct fdw_keyset *s, uint64_t key);
/* Insert rec (its handle h, not 0), or put it in place of the record with
 * its key. 0, -EINVAL, -E2BIG (h over 2^24 - 1), -ENOMEM. */
int fdw_keyset_put(struct fdw_keyset *s, void *rec, uint32_t h);
/* Remove and return the record under `key`, NULL when absent. May rebuild
 * the buckets smaller: every record left in the set is read. */
void *fdw_keyset_remove(struct fdw_keyset *s, uint64_t key);
/* Remove the entry under `key` if it is rec; whether it was. */
bool fdw_keyset_remove_rec(struct fdw_keyset *s, uint64_t key, const void *rec);
static inline size_t fdw_keyset_size(const struct fdw_keyset *s)
{
	return s->len;
}
