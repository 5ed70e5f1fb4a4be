// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The model's containers: open file descriptions (refcounted by the fds
 * that refer to them), fd slots with their ring of earlier generations,
 * and tables. No events, no /proc: apply.c and resync.c change tables
 * through these.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	case FDW_SRC_HIDDEN:
		return "hidden";
	default:
		return "unknown";
	}
}

/* Memory kept for reuse is made inaccessible to ASan and valgrind, as
 * free() would leave it. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MEM_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define MEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#elif defined(FDW_HAVE_VALGRIND)
#include <valgrind/memcheck.h>
#define MEM_POISON(p, n) (void)VALGRIND_MAKE_MEM_NOACCESS(p, n)
#define MEM_UNPOISON(p, n) (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#else
#define MEM_POISON(p, n) ((void)(p), (void)(n))
#define MEM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

const struct fdw_origin fdw_origin_none = { .from_fd = -1 };

/*
 * The origins' arena (see struct fdw__origin): blocks of FDW_ORIGIN_BLOCK
 * records, never moved, and one list of the free ones through their
 * handle field (a free record is poisoned for ASan and valgrind but for
 * that field, as free() would leave it). Under a dup+close flood every
 * event makes an origin and frees one: no malloc or free for either
 * (they were 11% of the daemon's time when origins were malloc'd, perf).
 * Handles 0 and FDW_ORIGIN_NONE are never given out.
 *
 * After a burst the arena gives its wholly free blocks back (2 million
 * origins kept 112 MiB for good before): when the records in use fall
 * below origin_shrink_at (a quarter of the arena's), origin_compact()
 * counts each block's free records off the free list, frees the blocks
 * with none in use and takes their records off the list. Their indexes
 * are vacant, given to the next blocks needed. A pass costs a walk of the
 * free list; the next waits until the records in use halve again (or the
 * arena grows and shrinks by a quarter), so a record's free costs a
 * compare: after a pass every block kept holds a record in use, so a pass
 * walks at most FDW_ORIGIN_BLOCK records per one in use, paid for by the
 * half of them freed before the next. Records of many processes opened
 * at once share blocks, and a block frees only with its last record: so
 * passes go on while the records in use halve. The rest goes with the
 * last model.
 *
 * A fork child's view of an inherited fd is its parent's origin with
 * source FDW_SRC_INHERIT (fdw__origin_set_source). Made per child, that was
 * one record per fd per child: 400 children of a 5,000-fd parent held 2
 * million. The first such view of a record is its twin, and every later
 * child shares it. Neither holds the other: each one's handle field, which
 * a record in use does not otherwise need, names the other, ORIGIN_TWINNED
 * in both refs says so, and whichever goes first unlinks (no map: a link
 * costs no memory). Records never change once made, so a twin stays equal
 * to its record with the source changed.
 */
struct fdw__origin **fdw__origin_blocks;
static uint32_t origin_nblocks, origin_cap;
static uint32_t origin_free;  /* first free record's handle, 0: none */
static uint32_t origin_fresh; /* records never used: handles from here on */
static uint32_t origin_models; /* models alive (the arena is freed with the last) */
static uint32_t *origin_vacant; /* block indexes whose block was freed */
static uint32_t origin_nvacant;
static uint32_t origin_shrink_at; /* origin_compact() below this many in use */
#define ORIGIN_MIN_COMPACT 16u	  /* blocks: a smaller arena is left alone */
static uint32_t origin_live;   /* records in use */
#define ORIGIN_TWINNED 0x80000000u /* in refs: handle names its twin */

static struct fdw__origin *origin_rec(uint32_t h)
{
	return h > FDW_ORIGIN_NONE
		       ? &fdw__origin_blocks[h >> FDW_ORIGIN_BLOCK_LOG][h & (FDW_ORIGIN_BLOCK - 1)]
		       : NULL;
}

static uint32_t origin_ref(uint32_t h)
{
	struct fdw__origin *r = origin_rec(h);

	if (r)
		r->refs++;
	return h ? h : FDW_ORIGIN_NONE;
}

/* r goes: its twin is no longer linked to it. */
static void origin_untwin(struct fdw__origin *r)
{
	struct fdw__origin *other = origin_rec(r->handle);

	if (other)
		other->refs &= ~ORIGIN_TWINNED;
}

static void origin_compact(void);

/* r's last hold went: back on the free list (origin_put, whose test is
 * inlined: most puts are not the last). */
static __attribute__((noinline)) void origin_release(struct fdw__origin *r, uint32_t h)
{
	if (r->refs & ORIGIN_TWINNED)
		origin_untwin(r);
	r->handle = origin_free;
	origin_free = h;
	origin_live--;
	MEM_POISON(r, offsetof(struct fdw__origin, handle));
	if (origin_live < origin_shrink_at)
		origin_compact();
}

static inline void origin_put(struct fdw_model *m, uint32_t h)
{
	struct fdw__origin *r = origin_rec(h);

	(void)m;
	if (r && !(--r->refs & ~ORIGIN_TWINNED))
		origin_release(r, h);
}

/* Blocks in memory. */
static uint32_t origin_blocks_held(void)
{
	return origin_nblocks - origin_nvacant;
}

static void origin_set_shrink(uint32_t at)
{
	origin_shrink_at = origin_blocks_held() >= ORIGIN_MIN_COMPACT ? at : 0;
}

/* Free the blocks with no record in use (see the arena's comment). */
static __attribute__((noinline)) void origin_compact(void)
{
	uint32_t fresh_b = origin_fresh >> FDW_ORIGIN_BLOCK_LOG, *link = &origin_free;
	uint16_t *nfree = calloc(origin_nblocks, sizeof(*nfree));

	if (!nfree) {
		origin_shrink_at = 0; /* again when the arena grows */
		return;
	}
	for (uint32_t h = origin_free; h; h = origin_rec(h)->handle)
		nfree[h >> FDW_ORIGIN_BLOCK_LOG]++;
	/* the block records are still handed out from stays, and block 0
	 * (handles 0 and FDW_ORIGIN_NONE are never free) */
	for (uint32_t b = 1; b < origin_nblocks; b++) {
		if (!fdw__origin_blocks[b] || b == fresh_b || nfree[b] != FDW_ORIGIN_BLOCK)
			nfree[b] = 0;
	}
	nfree[0] = 0;
	/* off the list, then freed */
	while (*link) {
		struct fdw__origin *r = origin_rec(*link);

		if (nfree[*link >> FDW_ORIGIN_BLOCK_LOG])
			*link = r->handle;
		else
			link = &r->handle;
	}
	for (uint32_t b = 1; b < origin_nblocks; b++) {
		if (!nfree[b])
			continue;
		MEM_UNPOISON(fdw__origin_blocks[b], FDW_ORIGIN_BLOCK * sizeof(struct fdw__origin));
		free(fdw__origin_blocks[b]);
		fdw__origin_blocks[b] = NULL;
		origin_vacant[origin_nvacant++] = b;
	}
	free(nfree);
	origin_set_shrink(origin_live / 2);
}

/* A vacant index's new block, its records on the free list: 0 or -ENOMEM. */
static __attribute__((noinline)) int origin_refill(void)
{
	uint32_t b = origin_vacant[origin_nvacant - 1];
	struct fdw__origin *blk = malloc(FDW_ORIGIN_BLOCK * sizeof(*blk));

	if (!blk)
		return -ENOMEM;
	origin_nvacant--;
	fdw__origin_blocks[b] = blk;
	for (uint32_t i = FDW_ORIGIN_BLOCK; i-- > 0;) {
		blk[i].handle = origin_free;
		origin_free = (b << FDW_ORIGIN_BLOCK_LOG) | i;
		MEM_POISON(&blk[i], offsetof(struct fdw__origin, handle));
	}
	origin_set_shrink(origin_blocks_held() * FDW_ORIGIN_BLOCK / 4);
	return 0;
}

/* origin_alloc() with the free list empty: a vacant block's records, or
 * a fresh one. */
static __attribute__((noinline)) struct fdw__origin *origin_alloc_slow(void)
{
	struct fdw__origin *r;
	uint32_t h;

	if (origin_nvacant && origin_refill() == 0) {
		h = origin_free;
		r = origin_rec(h);
		origin_free = r->handle;
		goto out;
	}
	if (!origin_fresh)
		origin_fresh = FDW_ORIGIN_NONE + 1;
	if ((origin_fresh >> FDW_ORIGIN_BLOCK_LOG) == origin_nblocks) {
		struct fdw__origin *blk;

		if (origin_nblocks == (UINT32_MAX >> FDW_ORIGIN_BLOCK_LOG))
			return NULL;
		if (origin_nblocks == origin_cap) {
			uint32_t n = origin_cap ? origin_cap * 2 : 16;
			struct fdw__origin **nb = realloc(fdw__origin_blocks, n * sizeof(*nb));
			uint32_t *nv;

			if (!nb)
				return NULL;
			fdw__origin_blocks = nb;
			nv = realloc(origin_vacant, n * sizeof(*nv));
			if (!nv)
				return NULL;
			origin_vacant = nv;
			origin_cap = n;
		}
		blk = malloc(FDW_ORIGIN_BLOCK * sizeof(*blk));
		if (!blk)
			return NULL;
		MEM_POISON(blk, FDW_ORIGIN_BLOCK * sizeof(*blk));
		fdw__origin_blocks[origin_nblocks++] = blk;
		origin_set_shrink(origin_blocks_held() * FDW_ORIGIN_BLOCK / 4);
	}
	h = origin_fresh++;
	r = origin_rec(h);
out:
	MEM_UNPOISON(r, sizeof(*r));
	r->handle = h;
	origin_live++;
	return r;
}

/* A free record (its handle set), or NULL when out of memory. */
static inline struct fdw__origin *origin_alloc(void)
{
	struct fdw__origin *r;
	uint32_t h = origin_free;

	if (!h)
		return origin_alloc_slow();
	r = origin_rec(h);
	origin_free = r->handle; /* the link was left accessible */
	MEM_UNPOISON(r, sizeof(*r));
	r->handle = h;
	origin_live++;
	return r;
}

void fdw_model_origin_usage(uint64_t *live, uint64_t *bytes)
{
	*live = origin_live;
	*bytes = (uint64_t)origin_blocks_held() * FDW_ORIGIN_BLOCK * sizeof(struct fdw__origin) +
		 (uint64_t)origin_cap * (sizeof(*fdw__origin_blocks) + sizeof(*origin_vacant));
}

/*
 * A hold on an origin equal to *val. Equal ones come in runs (an fd and the
 * OFD its open created; every fd of a table read from /proc), so the last
 * one made is kept (m->origin_last, held) and shared when equal.
 */
static inline __attribute__((always_inline)) uint32_t origin_get(struct fdw_model *m,
							   const struct fdw_origin *val)
{
	struct fdw__origin *r = origin_rec(m->origin_last);

	if (r && !memcmp(&r->o, val, sizeof(*val))) {
		r->refs++;
		return m->origin_last;
	}
	if (!memcmp(val, &fdw_origin_none, sizeof(*val)))
		return FDW_ORIGIN_NONE;
	r = origin_alloc();
	if (!r)
		return FDW_ORIGIN_NONE;
	r->o = *val;
	r->refs = 2; /* the caller's and origin_last's */
	origin_put(m, m->origin_last);
	m->origin_last = r->handle;
	return r->handle;
}

void fdw__origin_set(struct fdw_model *m, uint32_t *dst, const struct fdw_origin *val)
{
	uint32_t n = origin_get(m, val); /* val may be *dst's */

	origin_put(m, *dst);
	*dst = n;
}

void fdw__origin_set_source(struct fdw_model *m, uint32_t *dst, uint8_t source)
{
	struct fdw__origin *r = origin_rec(*dst), *tr;
	struct fdw_origin v = *dst ? *fdw_origin_at(*dst) : fdw_origin_none;
	uint32_t n;

	if (*dst && v.source == source)
		return;
	if (r && (r->refs & ORIGIN_TWINNED)) {
		tr = origin_rec(r->handle);
		if (tr && tr->o.source == source) {
			fdw__origin_share(m, dst, r->handle);
			return;
		}
	}
	v.source = source;
	n = origin_get(m, &v);
	tr = origin_rec(n);
	/* held by others too (the parent's fds): later views share a twin */
	if (r && tr && tr != r && !(r->refs & ORIGIN_TWINNED) && !(tr->refs & ORIGIN_TWINNED) &&
	    (r->refs & ~ORIGIN_TWINNED) > 1) {
		r->handle = n;
		tr->handle = *dst;
		r->refs |= ORIGIN_TWINNED;
		tr->refs |= ORIGIN_TWINNED;
	}
	origin_put(m, *dst);
	*dst = n;
}

void fdw__origin_share(struct fdw_model *m, uint32_t *dst, uint32_t src)
{
	uint32_t n = origin_ref(src);

	origin_put(m, *dst);
	*dst = n;
}

void fdw__origin_clear(struct fdw_model *m, uint32_t *dst)
{
	if (!dst)
		return;
	origin_put(m, *dst);
	*dst = FDW_ORIGIN_NONE;
}

void fdw__origin_model_new(void)
{
	origin_models++;
}

/* The model's hold on the last origin it made; with the last model, the
 * arena (fdw_model_free, after every other hold is gone). */
void fdw__origin_forget_last(struct fdw_model *m)
{
	origin_put(m, m->origin_last);
	m->origin_last = 0;
	if (origin_models && --origin_models)
		return;
	for (uint32_t b = 0; b < origin_nblocks; b++) {
		if (!fdw__origin_blocks[b])
			continue;
		MEM_UNPOISON(fdw__origin_blocks[b], FDW_ORIGIN_BLOCK * sizeof(struct fdw__origin));
		free(fdw__origin_blocks[b]);
	}
	free(fdw__origin_blocks);
	free(origin_vacant);
	fdw__origin_blocks = NULL;
	origin_vacant = NULL;
	origin_nblocks = origin_cap = origin_free = origin_fresh = origin_live = 0;
	origin_nvacant = origin_shrink_at = 0;
}

/* ---- open file descriptions -------------------------------------------- */

/*
 * The OFDs' arena (see fdw_ofd_at()): blocks of FDW_OFD_BLOCK_BYTES, each
 * mapped on its own at an address aligned to its size, so that an OFD's
 * block, and from it its handle, is found from its address (no handle nor
 * block index kept in the OFD). A block is a struct fdw__ofd_block header
 * and FDW_OFD_PER_BLOCK OFDs; handle h is OFD h % FDW_OFD_PER_BLOCK of
 * block h / FDW_OFD_PER_BLOCK (handle 0, block 0's first OFD, is never
 * given out). An OFD's generation (fdw_ofd_id()) grows each time its
 * handle is given out, is kept while it is free (not poisoned, like the
 * free-list link), and a new block starts above every generation its index
 * had before (ofd_gen_floor); a handle, or block index, whose generation
 * reached FDW_OFD_GEN_MAX is never given out again: 2^49 OFDs, about 18
 * years at a million a second, before the arena is full of retired
 * handles. A freed OFD goes on its block's free list; a block whose
 * OFDs are all free is unmapped, but one such block is kept for the next
 * OFD (an open and close in a loop would map and unmap one each time).
 * Pages of a block are touched only as its OFDs are first used: a daemon
 * with a few OFDs has a page of them resident, not a block. Process-wide
 * like the origins' arena; unmapped with the last model. Under
 * AddressSanitizer or valgrind a free OFD is poisoned as free() would
 * make it.
 */
struct fdw_ofd **fdw__ofd_blocks;
static uint32_t *ofd_gen_floor; /* per block index: the largest generation given
				 * out there, kept while the block is unmapped
				 * (FDW_OFD_GEN_MAX: the index is retired) */
static uint32_t ofd_nblocks, ofd_cap;
static uint32_t *ofd_partial;	/* blocks with a free OFD (maybe; checked when popped) */
static uint32_t ofd_npartial;
static uint32_t ofd_nempty;	/* blocks kept with no OFD in use */
static uint32_t ofd_models;	/* models alive (the arena goes with the last) */

_Static_assert(FDW_OFD_MAX_BLOCKS * FDW_OFD_PER_BLOCK - 1 < (1u << 24) - 1,
	       "the kfile map (base/keyset.h) holds 24-bit handles");
_Static_assert(sizeof(struct fdw__ofd_block) + FDW_OFD_PER_BLOCK * sizeof(struct fdw_ofd) <=
		       FDW_OFD_BLOCK_BYTES,
	       "a block's OFDs fit in it");
_Static_assert(FDW_OFD_PER_BLOCK < UINT16_MAX, "a block's counts are 16 bits");

static struct fdw__ofd_block *ofd_block(uint32_t b)
{
	return fdw__ofd_blocks[b] ? fdw__ofd_block_of(fdw__ofd_blocks[b]) : NULL;
}

static uint16_t link_next(const struct fdw_ofd *o)
{
	uint16_t next;

	memcpy(&next, o, sizeof(next));
	return next;
}

static void link_set(struct fdw_ofd *o, uint16_t next)
{
	memcpy(o, &next, sizeof(next));
}

static void ofd_push_partial(uint32_t b)
{
	struct fdw__ofd_block *blk = ofd_block(b);

	if (blk->partial)
		return;
	ofd_partial[ofd_npartial++] = b; /* room: ofd_cap covers every block */
	blk->partial = true;
}

/* FDW_OFD_BLOCK_BYTES at an address aligned to it, or NULL. */
static void *ofd_map_block(void)
{
	const size_t sz = FDW_OFD_BLOCK_BYTES;
	uintptr_t a, end;
	uint8_t *p;

	/* mappings are usually placed next to the last one: aligned again */
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!((uintptr_t)p & (sz - 1)))
		return p;
	(void)munmap(p, sz);
	p = mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + sz - 1) & ~(uintptr_t)(sz - 1);
	end = (uintptr_t)p + 2 * sz;
	if (a > (uintptr_t)p)
		(void)munmap(p, a - (uintptr_t)p);
	if (end > a + sz)
		(void)munmap((void *)(a + sz), end - (a + sz));
	return (void *)a;
}

static void ofd_unmap_block(uint32_t b)
{
	struct fdw__ofd_block *blk = ofd_block(b);

	ofd_gen_floor[b] = blk->gen_max;
	MEM_UNPOISON(blk, FDW_OFD_BLOCK_BYTES);
	(void)munmap(blk, FDW_OFD_BLOCK_BYTES);
	fdw__ofd_blocks[b] = NULL;
}

/* An empty block none of whose OFDs can be given out again: unmapped, its
 * index never used again (its floor is FDW_OFD_GEN_MAX). */
static void ofd_retire_block(struct fdw__ofd_block *blk)
{
	uint32_t b = blk->index;

	for (uint32_t i = 0; blk->partial && i < ofd_npartial; i++) {
		if (ofd_partial[i] == b) {
			ofd_partial[i] = ofd_partial[--ofd_npartial];
			break;
		}
	}
	ofd_nempty--;
	blk->gen_max = FDW_OFD_GEN_MAX;
	ofd_unmap_block(b);
}

/* A new block's index; -ENOMEM. */
static int ofd_new_block(void)
{
	struct fdw__ofd_block *blk;
	uint32_t b;

	for (b = 0; b < ofd_nblocks && (fdw__ofd_blocks[b] || ofd_gen_floor[b] >= FDW_OFD_GEN_MAX);
	     b++)
		;
	if (b == ofd_nblocks) {
		if (ofd_nblocks == FDW_OFD_MAX_BLOCKS)
			return -ENOMEM;
		if (ofd_nblocks == ofd_cap) {
			uint32_t n = ofd_cap ? ofd_cap * 2 : 16;
			struct fdw_ofd **nb;
			uint32_t *np;

			if (n > FDW_OFD_MAX_BLOCKS)
				n = FDW_OFD_MAX_BLOCKS;
			nb = realloc(fdw__ofd_blocks, n * sizeof(*nb));
			if (!nb)
				return -ENOMEM;
			fdw__ofd_blocks = nb;
			np = realloc(ofd_partial, n * sizeof(*np));
			if (!np)
				return -ENOMEM;
			ofd_partial = np;
			np = realloc(ofd_gen_floor, n * sizeof(*np));
			if (!np)
				return -ENOMEM;
			ofd_gen_floor = np;
			ofd_cap = n;
		}
		ofd_gen_floor[ofd_nblocks] = 0;
		fdw__ofd_blocks[ofd_nblocks++] = NULL;
	}
	blk = ofd_map_block();
	if (!blk)
		return -ENOMEM;
	/* fresh mappings are zero: only the header's page is touched */
	blk->index = b;
	blk->fresh = b == 0; /* handle 0 is never given out */
	blk->gen_max = ofd_gen_floor[b];
	MEM_POISON(blk->ofds, FDW_OFD_PER_BLOCK * sizeof(struct fdw_ofd));
	fdw__ofd_blocks[b] = blk->ofds;
	ofd_nempty++;
	ofd_push_partial(b);
	return (int)b;
}

static struct fdw_ofd *ofd_alloc(void)
{
	struct fdw__ofd_block *blk;
	struct fdw_ofd *o;
	uint32_t b, gen;

again:
	blk = NULL;
	b = 0;
	while (ofd_npartial) {
		b = ofd_partial[ofd_npartial - 1];
		blk = ofd_block(b);
		if (blk && (blk->free || blk->fresh < FDW_OFD_PER_BLOCK))
			break;
		if (blk)
			blk->partial = false;
		ofd_npartial--;
		blk = NULL;
	}
	if (!blk) {
		int r = ofd_new_block();

		if (r < 0)
			return NULL;
		blk = ofd_block((uint32_t)r);
	}
	if (blk->free) {
		o = &blk->ofds[blk->free - 1];
		blk->free = link_next(o); /* the link is never poisoned */
		gen = o->gen;		  /* nor the generation */
		if (gen >= FDW_OFD_GEN_MAX) {
			/* retired: off the free list for good */
			if (!blk->live && !blk->free && blk->fresh == FDW_OFD_PER_BLOCK)
				ofd_retire_block(blk);
			goto again;
		}
	} else {
		o = &blk->ofds[blk->fresh++];
		gen = ofd_gen_floor[blk->index];
	}
	MEM_UNPOISON(o, sizeof(*o));
	if (blk->live++ == 0)
		ofd_nempty--;
	memset(o, 0, sizeof(*o));
	o->gen = ++gen;
	if (gen > blk->gen_max)
		blk->gen_max = gen;
	return o;
}

static void ofd_release(struct fdw_ofd *o)
{
	struct fdw__ofd_block *blk = fdw__ofd_block_of(o);
	uint32_t b = blk->index;

	link_set(o, blk->free);
	blk->free = (uint16_t)(o - blk->ofds + 1);
	/* the link (kfile) and the generation's word stay readable */
	MEM_POISON(&o->ino, offsetof(struct fdw_ofd, refs) - offsetof(struct fdw_ofd, ino));
	if (--blk->live == 0) {
		if (ofd_nempty >= 1) { /* one empty block is kept, not two */
			for (uint32_t i = 0; blk->partial && i < ofd_npartial; i++) {
				if (ofd_partial[i] == b) {
					ofd_partial[i] = ofd_partial[--ofd_npartial];
					break;
				}
			}
			ofd_unmap_block(b);
			return;
		}
		ofd_nempty++;
	}
	ofd_push_partial(b);
}

void fdw__ofd_model_new(void)
{
	ofd_models++;
}

void fdw__ofd_model_gone(void)
{
	if (ofd_models && --ofd_models)
		return;
	for (uint32_t b = 0; b < ofd_nblocks; b++)
		if (fdw__ofd_blocks[b])
			ofd_unmap_block(b);
	free(fdw__ofd_blocks);
	free(ofd_partial);
	free(ofd_gen_floor);
	fdw__ofd_blocks = NULL;
	ofd_partial = NULL;
	ofd_gen_floor = NULL;
	ofd_nblocks = ofd_cap = ofd_npartial = ofd_nempty = 0;
}

size_t fdw_model_ofd_bytes(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pg = page > 0 ? (size_t)page : 4096, n = 0;

	for (uint32_t b = 0; b < ofd_nblocks; b++) {
		const struct fdw__ofd_block *blk = ofd_block(b);
		size_t used;

		if (!blk)
			continue;
		used = sizeof(*blk) + (size_t)blk->fresh * sizeof(struct fdw_ofd);
		n += (used + pg - 1) / pg * pg;
	}
	return n + (size_t)ofd_cap *
			   (sizeof(*fdw__ofd_blocks) + sizeof(*ofd_partial) + sizeof(*ofd_gen_floor));
}

void *fdw__ofd_resolve(void *ctx, uint32_t h)
{
	(void)ctx;
	return fdw_ofd_at(h);
}

int fdw__ofd_index(struct fdw_model *m, struct fdw_ofd *o)
{
	return fdw_keyset_put(&m->ofds, o, fdw_ofd_handle(o));
}

struct fdw_ofd *fdw__ofd_new(struct fdw_model *m, uint64_t kfile)
{
	struct fdw_ofd *o = ofd_alloc();

	if (!o)
		return NULL;
	o->kfile = kfile;
	o->origin = FDW_ORIGIN_NONE;
	if (kfile && fdw__ofd_index(m, o) < 0)
		o->kfile = 0; /* untracked identity; still a valid OFD */
	m->stats.ofds++;
	return o;
}

static void ofd_free(struct fdw_model *m, struct fdw_ofd *o)
{
	fdw_strtab_put(&m->strings, o->target);
	fdw__origin_clear(m, &o->origin);
	ofd_release(o);
}

/* refs counts the open fds (in any table) that refer to it. */
void fdw__ofd_put(struct fdw_model *m, struct fdw_ofd *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->kfile)
		(void)fdw_keyset_remove_rec(&m->ofds, o->kfile, o);
	o->kfile = 0;
	fdw__pending_drop(m, o);
	m->stats.ofds--;
	ofd_free(m, o);
}

/*
 * A pipe's or socket's own name is made from its inode when read: no
 * string per pipe (both ends of one would share it, still one allocation
 * and a bucket per pipe).
 */
void fdw__ofd_name_by_ino(struct fdw_model *m, struct fdw_ofd *o, bool exact)
{
	fdw_strtab_put(&m->strings, o->target);
	o->target = NULL;
	o->target_ino = true;
	o->target_exact = exact;
}

/*
 * o's new name would take the names past max_name_bytes: it is not kept.
 * o reads FDW_NAME_REFUSED, counted once for as long as it does (the
 * /proc read after a synthesized name, the re-reads of a refresh or a
 * resync are not counted again), and is not exact: a look at its table
 * (fdw_model_refresh_targets) reads it again, and takes it once there is
 * room. The name o had is dropped (it is not what the kernel shows now).
 */
static void ofd_name_refused(struct fdw_model *m, struct fdw_ofd *o)
{
	if (o->target && o->target == m->name_refused)
		return;
	m->stats.names_refused++;
	fdw_strtab_put(&m->strings, o->target);
	o->target = fdw_strtab_ref(m->name_refused);
	o->target_ino = false;
	o->target_exact = false;
}

void fdw__ofd_set_target(struct fdw_model *m, struct fdw_ofd *o, const char *target, bool exact)
{
	char buf[FDW_OFD_NAME_BUF];
	const char *t;
	int r;

	target = target ? target : "";
	if (o->ino && (S_ISFIFO(fdw_ofd_mode(o)) || S_ISSOCK(fdw_ofd_mode(o))) &&
	    !strcmp(fdw_ino_name(S_ISSOCK(fdw_ofd_mode(o)), o->ino, buf), target)) {
		fdw__ofd_name_by_ino(m, o, exact);
		return;
	}
	/* a name interned already is shared at any size: only new ones count */
	r = fdw_strtab_get_max(&m->strings, target, m->max_name_bytes, &t);
	if (r == -ENOSPC) {
		ofd_name_refused(m, o);
		return;
	}
	if (r < 0)
		return;
	fdw_strtab_put(&m->strings, o->target);
	o->target = t;
	o->target_ino = false;
	o->target_exact = exact;
	/* anon inodes (pidfs too) carry type bits that mean nothing here */
	if (exact && !strncmp(t, "anon_inode:", 11))
		o->ifmt = 0;
}

/* ---- slots and their history ------------------------------------------- */

static void table_mirror(struct fdw_table *t)
{
	t->blocks = t->set->blocks;
	t->nblocks = t->set->nblocks;
	t->nslots = t->set->nslots;
}

/* Make the set's directory reach block b. 0 or -ENOMEM. */
static int fdset_reach(struct fdw__fdset *set, uint32_t b)
{
	uint32_t n = set->nblocks ? set->nblocks : 4;
	struct fdw_slot **nb;

	if (b < set->nblocks)
		return 0;
	while (n <= b)
		n *= 2;
	nb = realloc(set->blocks, n * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	memset(nb + set->nblocks, 0, (n - set->nblocks) * sizeof(*nb));
	set->blocks = nb;
	set->nblocks = n;
	set->nslots = fdw_slot_block_end(n - 1) < UINT32_MAX ? (uint32_t)fdw_slot_block_end(n - 1)
							     : UINT32_MAX;
	return 0;
}

/* Slot fd of the set, allocating its block: NULL when out of memory. The
 * slot may be unused (origin 0). */
static struct fdw_slot *fdset_slot(struct fdw__fdset *set, uint32_t fd)
{
	uint32_t off, b = fdw_slot_block(fd, &off);

	if (fdset_reach(set, b) < 0)
		return NULL;
	if (!set->blocks[b]) {
		set->blocks[b] = calloc(fdw_slot_block_size(b), sizeof(struct fdw_slot));
		if (!set->blocks[b])
			return NULL;
	}
	return &set->blocks[b][off];
}

static struct fdw_slot *slot_get(struct fdw_model *m, struct fdw_table *t, int fd)
{
	struct fdw_slot *s;

	/* no fd can reach the kernel's nr_open: a bigger number is garbage
	 * that must not size an allocation */
	if (fd < 0 || (uint64_t)fd >= m->max_fd_number || (uint64_t)fd >= (1u << 31))
		return NULL;
	if (fdw__table_own(m, t) < 0)
		return NULL;
	s = fdset_slot(t->set, (uint32_t)fd);
	table_mirror(t);
	if (!s)
		return NULL;
	if (!s->origin)
		s->origin = FDW_ORIGIN_NONE; /* used from now on */
	return s;
}

/* A slot's ring of earlier generations, in m->hists under the slot's
 * address (slots never move): most slots have none, and a pointer in each
 * would cost every fd 8 bytes. */
struct fdw__hist {
	uint8_t n;    /* entries used */
	uint8_t head; /* the next to write */
	uint64_t seq; /* m->hist_seq when made: its entry in m->hist_fifo */
	struct fdw_fd_history e[FDW_SLOT_HISTORY];
};

/*
 * The histories, oldest first: a ring of (slot address, seq). Past
 * max_history rings, or max_history_bytes of names, the oldest goes for
 * the newest (it was refused instead: a user who opened and closed 64 Ki
 * fds of long names once held every ring of the host, ~1 GiB, and no
 * other process had a history again). An entry whose slot has no ring of
 * that seq (freed, moved by own_copy, which adds the new address) is
 * skipped; the ring is compacted when full, so it holds at most twice the
 * rings alive.
 */
struct fdw__hist_ref {
	uint64_t key;
	uint64_t seq;
};

static bool hist_ref_live(const struct fdw_model *m, const struct fdw__hist_ref *e)
{
	const struct fdw__hist *r = fdw_hashmap_get(&m->hists, e->key);

	return r && r->seq == e->seq;
}

/* Append (key, seq): 0 or -ENOMEM (the ring is then not evictable). */
static int hist_fifo_push(struct fdw_model *m, uint64_t key, uint64_t seq)
{
	struct fdw__hist_ref *v;
	uint32_t cap = m->hist_fifo_cap, n = 0;

	if (m->hist_fifo_len == cap) {
		/* drop the dead entries first; grow only if most are alive */
		for (uint32_t i = 0; i < m->hist_fifo_len; i++) {
			const struct fdw__hist_ref *e = &m->hist_fifo[(m->hist_fifo_head + i) % cap];

			if (hist_ref_live(m, e))
				m->hist_fifo[(m->hist_fifo_head + n++) % cap] = *e;
		}
		m->hist_fifo_len = n;
		if (n * 2 > cap || !cap) {
			uint32_t ncap = cap ? cap * 2 : 1024;

			v = malloc((size_t)ncap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			for (uint32_t i = 0; i < n; i++)
				v[i] = m->hist_fifo[(m->hist_fifo_head + i) % cap];
			free(m->hist_fifo);
			m->hist_fifo = v;
			m->hist_fifo_head = 0;
			m->hist_fifo_cap = ncap;
		}
	}
	cap = m->hist_fifo_cap;
	m->hist_fifo[(m->hist_fifo_head + m->hist_fifo_len++) % cap] =
		(struct fdw__hist_ref){ .key = key, .seq = seq };
	return 0;
}

static void hist_clear(struct fdw_model *m, struct fdw_slot *s);

/* Drop the oldest history alive (not keep's, which goes back at the tail:
 * the newest): false when there is none. */
static bool hist_evict_oldest(struct fdw_model *m, const struct fdw_slot *keep)
{
	while (m->hist_fifo_len) {
		struct fdw__hist_ref e = m->hist_fifo[m->hist_fifo_head];

		m->hist_fifo_head = (m->hist_fifo_head + 1) % m->hist_fifo_cap;
		m->hist_fifo_len--;
		if (!hist_ref_live(m, &e))
			continue;
		if (e.key == (uint64_t)(uintptr_t)keep) {
			/* room: it was just taken off */
			m->hist_fifo[(m->hist_fifo_head + m->hist_fifo_len++) % m->hist_fifo_cap] = e;
			if (m->hist_fifo_len == 1)
				return false; /* the only one */
			continue;
		}
		/* the key is the slot's address: a ring lives no longer than its slot */
		hist_clear(m, (struct fdw_slot *)(uintptr_t)e.key);
		m->stats.history_evicted++;
		return true;
	}
	return false;
}

static struct fdw__hist *hist_of(const struct fdw_model *m, const struct fdw_slot *s)
{
	return s && s->has_hist ? fdw_hashmap_get(&m->hists, (uint64_t)(uintptr_t)s) : NULL;
}

unsigned int fdw_slot_nhist(const struct fdw_model *m, const struct fdw_slot *s)
{
	const struct fdw__hist *r = hist_of(m, s);

	return r ? r->n : 0;
}

const struct fdw_fd_history *fdw_slot_history(const struct fdw_model *m, const struct fdw_slot *s,
					      unsigned int i)
{
	const struct fdw__hist *r = hist_of(m, s);

	if (!r || i >= r->n)
		return NULL;
	return &r->e[(r->head + FDW_SLOT_HISTORY - 1 - i) % FDW_SLOT_HISTORY];
}

/* Drop h's name (a string reference), leaving FDW_HIST_STRING NULL. */
static void hist_name_clear(struct fdw_model *m, struct fdw_fd_history *h)
{
	if (h->name == FDW_HIST_STRING && h->target) {
		m->stats.history_bytes -= strlen(h->target) + 1;
		fdw_strtab_put(&m->strings, h->target);
	}
	h->name = FDW_HIST_STRING;
	h->target = NULL;
}

/* A ring and what its entries hold. NULL-safe. */
static void hist_free(struct fdw_model *m, struct fdw__hist *r)
{
	if (!r)
		return;
	for (unsigned int i = 0; i < FDW_SLOT_HISTORY; i++) {
		hist_name_clear(m, &r->e[i]);
		fdw__origin_clear(m, &r->e[i].origin);
		fdw__origin_clear(m, &r->e[i].closed);
	}
	free(r);
}

/* Free s's ring, if it has one (counted in history_entries). */
static void hist_clear(struct fdw_model *m, struct fdw_slot *s)
{
	struct fdw__hist *r;

	if (!s->has_hist)
		return;
	r = fdw_hashmap_remove(&m->hists, (uint64_t)(uintptr_t)s);
	s->has_hist = false;
	m->stats.history_entries--;
	hist_free(m, r);
}

/*
 * May a ring go for a newer one now? Evictions are budgeted per second of
 * the records' time (a quarter of max_history, at least 1,024): children
 * that each close thousands of inherited fds (test_prestart_forks: 600 a
 * second, 8,000 each) made every close free a ring and make one, and the
 * daemon fell behind for minutes; past the budget a new ring is refused
 * (counted), as all were before evictions.
 */
static bool hist_may_evict(struct fdw_model *m, uint64_t ts)
{
	uint64_t epoch = ts / 1000000000ull + 1; /* 0: none yet */

	if (epoch != m->hist_evict_epoch) {
		m->hist_evict_epoch = epoch;
		m->hist_evict_tokens = m->max_history / 4 > 1024 ? m->max_history / 4 : 1024;
	}
	if (!m->hist_evict_tokens)
		return false;
	m->hist_evict_tokens--;
	return true;
}

static void hist_push(struct fdw_model *m, struct fdw_slot *s, const struct fdw_origin *closed)
{
	struct fdw__hist *r = hist_of(m, s);
	const struct fdw_ofd *o = fdw_slot_ofd(s);
	uint64_t ts = closed ? closed->ts : 0;
	struct fdw_fd_history *h;

	if (!r) {
		while (m->stats.history_entries >= m->max_history && hist_may_evict(m, ts) &&
		       hist_evict_oldest(m, s))
			;
		if (m->stats.history_entries >= m->max_history) {
			m->stats.history_dropped++;
			return;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			m->stats.history_dropped++;
			return;
		}
		r->seq = ++m->hist_seq;
		if (fdw_hashmap_put(&m->hists, (uint64_t)(uintptr_t)s, r) < 0) {
			free(r);
			m->stats.history_dropped++;
			return;
		}
		/* not in the ring (no memory): never evicted, still counted */
		(void)hist_fifo_push(m, (uint64_t)(uintptr_t)s, r->seq);
		s->has_hist = true;
		m->stats.history_entries++;
	}
	h = &r->e[r->head];
	h->generation = s->generation;
	fdw__origin_share(m, &h->origin, s->origin);
	fdw__origin_set(m, &h->closed, closed);
	/* the OFD's interned name, shared, or a pipe's or socket's inode: no
	 * allocation per close */
	hist_name_clear(m, h);
	if (o && o->target_ino) {
		h->name = S_ISSOCK(fdw_ofd_mode(o)) ? FDW_HIST_SOCKET : FDW_HIST_PIPE;
		h->ino = o->ino;
	} else {
		h->target = fdw_strtab_ref(o ? o->target : NULL);
		if (h->target)
			m->stats.history_bytes += strlen(h->target) + 1;
	}
	r->head = (uint8_t)((r->head + 1) % FDW_SLOT_HISTORY);
	if (r->n < FDW_SLOT_HISTORY)
		r->n++;
	/* long names: the oldest histories go (this one last); past the
	 * budget, this one */
	while (m->stats.history_bytes > m->max_history_bytes && hist_may_evict(m, ts) &&
	       hist_evict_oldest(m, s))
		;
	if (m->stats.history_bytes > m->max_history_bytes) {
		hist_clear(m, s);
		m->stats.history_dropped++;
	}
}

/* ---- slot sets ---------------------------------------------------------- */

static struct fdw__fdset *fdset_new(void)
{
	struct fdw__fdset *set = calloc(1, sizeof(*set));

	if (set)
		set->refs = 1;
	return set;
}

/* Give back what a used slot holds and make it unused again. */
static void slot_release(struct fdw_model *m, struct fdw_slot *s)
{
	if (s->ofd_h)
		fdw__ofd_put(m, fdw_slot_ofd(s));
	hist_clear(m, s);
	fdw__origin_clear(m, &s->origin);
	memset(s, 0, sizeof(*s));
}

/* Drop one table's hold; the last frees the slots and their OFD references. */
static void fdset_put(struct fdw_model *m, struct fdw__fdset *set)
{
	if (!set || --set->refs > 0)
		return;
	for (uint32_t b = 0; b < set->nblocks; b++) {
		struct fdw_slot *blk = set->blocks[b];

		if (!blk)
			continue;
		for (uint32_t i = 0; i < fdw_slot_block_size(b); i++)
			if (blk[i].origin)
				slot_release(m, &blk[i]);
		free(blk);
	}
	free(set->blocks);
	free(set);
}

/* ---- tables ------------------------------------------------------------ */

/* A table on `set` (its hold taken by the caller), or on a new empty set. */
static struct fdw_table *table_alloc(struct fdw_model *m, uint64_t kfiles, uint64_t now,
				     struct fdw__fdset *set)
{
	struct fdw_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->set = set ? set : fdset_new();
	if (!t->set) {
		free(t);
		return NULL;
	}
	table_mirror(t);
	t->id = ++m->next_table_id;
	t->created_ts = now;
	if (kfiles) {
		struct fdw_table *old = fdw_hashmap_get(&m->tables, kfiles);

		/* An address still mapped to a live table: that table died
		 * without us seeing its last exit. Unbind it. */
		if (old)
			old->kfiles = 0;
		if (fdw_hashmap_put(&m->tables, kfiles, t) < 0) {
			if (!set)
				fdset_put(m, t->set);
			free(t);
			return NULL;
		}
		t->kfiles = kfiles;
	}
	m->stats.tables++;
	return t;
}

struct fdw_table *fdw__table_new(struct fdw_model *m, uint64_t kfiles, uint64_t now)
{
	return table_alloc(m, kfiles, now, NULL);
}

/* A borrowed table alone on its set: make its view in place. */
static void own_in_place(struct fdw_model *m, struct fdw_table *t)
{
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		struct fdw_slot *s = fdw_table_slot(t, (int)fd);

		if (!s)
			continue;
		hist_clear(m, s);
		if (!s->ofd_h) {
			/* the parent's closed numbers are not the child's */
			slot_release(m, s);
			continue;
		}
		fdw__origin_set_source(m, &s->origin, FDW_SRC_INHERIT);
		s->suspect = false;
	}
}

/*
 * t's own copy of a shared set. A borrowed table (a fork child) gets its
 * open fds, inherited, as fdw__table_copy() would have made them at the
 * fork; the set's owner (the table that had it first) gets every slot with
 * its history, moved: the borrowers that keep the old set do not show it.
 */
static int own_copy(struct fdw_model *m, struct fdw_table *t)
{
	struct fdw__fdset *old = t->set, *set;
	bool borrowed = t->borrowed;

	set = fdset_new();
	if (!set)
		return -ENOMEM;
	/* allocate first: a failure leaves t as it was */
	for (uint32_t fd = 0; fd < old->nslots; fd++) {
		const struct fdw_slot *os = fdw_table_slot(t, (int)fd);

		if (!os || (borrowed && !os->ofd_h) || (!os->ofd_h && !os->has_hist && !os->generation))
			continue;
		if (!fdset_slot(set, fd)) {
			fdset_put(m, set); /* unused slots: nothing to release */
			return -ENOMEM;
		}
	}
	for (uint32_t fd = 0; fd < old->nslots; fd++) {
		struct fdw_slot *os = fdw_table_slot(t, (int)fd), *ns;

		if (!os || (borrowed && !os->ofd_h) || (!os->ofd_h && !os->has_hist && !os->generation))
			continue;
		ns = fdset_slot(set, fd); /* allocated above */
		*ns = *os;
		ns->suspect = false;
		if (ns->ofd_h)
			fdw_slot_ofd(ns)->refs++;
		ns->origin = origin_ref(os->origin);
		ns->has_hist = false;
		if (borrowed) {
			fdw__origin_set_source(m, &ns->origin, FDW_SRC_INHERIT);
		} else if (os->has_hist) {
			/* moved: under the new slot's address */
			void *r = fdw_hashmap_remove(&m->hists, (uint64_t)(uintptr_t)os);

			os->has_hist = false;
			if (r && fdw_hashmap_put(&m->hists, (uint64_t)(uintptr_t)ns, r) == 0) {
				struct fdw__hist *h = r;

				ns->has_hist = true;
				/* its entry in the eviction ring names the old slot,
				 * whose address malloc may give a later copy's slot:
				 * a new seq keeps that entry dead */
				h->seq = ++m->hist_seq;
				(void)hist_fifo_push(m, (uint64_t)(uintptr_t)ns, h->seq);
			} else if (r) { /* no memory for the entry: the history goes */
				hist_free(m, r);
				m->stats.history_entries--;
			}
		}
	}
	old->refs--;
	t->set = set;
	table_mirror(t);
	m->stats.table_copies++;
	return 0;
}

int fdw__table_own_slow(struct fdw_model *m, struct fdw_table *t)
{
	if (t->set->refs > 1) {
		int r = own_copy(m, t);

		if (r < 0) {
			fdw__table_mark_stale(t);
			return r;
		}
	} else {
		own_in_place(m, t);
	}
	if (t->borrowed)
		fdw__cx_forget(t); /* its fds became inherited ones */
	t->borrowed = false;
	return 0;
}

static void given_up_copy(struct fdw_model *m, struct fdw_table *dst, const struct fdw_table *src,
			  bool fork);

struct fdw_table *fdw__table_fork(struct fdw_model *m, struct fdw_table *src, uint64_t kfiles,
				  uint64_t now)
{
	struct fdw_table *t;

	/* past the fd bound: the copy refuses fd by fd, and says so */
	if (m->stats.fds + src->nopen > m->max_fds) {
		t = fdw__table_copy(m, src, kfiles, now);
		if (t) {
			fdw__given_up_clear(m, t);
			given_up_copy(m, t, src, true);
		}
		for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
			struct fdw_slot *s = fdw_table_slot(t, (int)fd);

			if (fdw_slot_open(s))
				fdw__origin_set_source(m, &s->origin, FDW_SRC_INHERIT);
		}
		return t;
	}
	src->set->refs++;
	t = table_alloc(m, kfiles, now, src->set);
	if (!t) {
		src->set->refs--;
		return NULL;
	}
	t->borrowed = true;
	t->stale = src->stale;
	t->nopen = src->nopen;
	given_up_copy(m, t, src, true);
	m->stats.fds += src->nopen;
	m->stats.forks_shared++;
	return t;
}

bool fdw__given_up_note(struct fdw_model *m, struct fdw_table *t, const struct fdw_slot *s,
			uint32_t pid)
{
	const struct fdw_origin *o = fdw_slot_origin(s);
	const struct fdw_ofd *f = fdw_slot_ofd(s);
	struct fdw_given_up *g;
	uint64_t key;
	uint32_t i;
	int at;

	/* an fd this table got by a fork (not one made in it, which a
	 * process sharing the maker's table, CLONE_FILES, may close), given
	 * up by another process than its maker */
	if (!f || !o || o->source != FDW_SRC_INHERIT || !o->seq || !o->pid || !f->ino)
		return false;
	if (o->nr == FDW_SYS_SOCKETPAIR && S_ISSOCK(fdw_ofd_mode(f)))
		key = f->ino | FDW_END_SOCK;
	else if ((o->nr == FDW_SYS_PIPE || o->nr == FDW_SYS_PIPE2) && S_ISFIFO(fdw_ofd_mode(f)))
		key = f->ino & ~FDW_END_SOCK;
	else
		return false;
	if (o->pid == pid)
		return true;
	g = t->given_up;
	at = fdw__given_up_find(g, key, o->seq);
	if (at >= 0) {
		g->own |= 1u << at; /* (the parent's before: now this table's too) */
		return false;
	}
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			m->stats.given_up_evicted++;
			fdw__cx_forget(t); /* noted nowhere: a next call must try again */
			return false;
		}
		t->given_up = g;
		m->stats.given_up_tables++;
	}
	if (g->n < FDW_GIVEN_UP) {
		i = g->n++;
	} else { /* full: the oldest goes */
		i = g->next;
		g->next = (g->next + 1) % FDW_GIVEN_UP;
		m->stats.given_up_evicted++;
		fdw__cx_forget(t); /* the evicted end's fd is noted again by a next call */
	}
	g->own |= 1u << i;
	g->v[i].key = key;
	g->v[i].seq = o->seq;
	return false;
}

void fdw__cx_forget(struct fdw_table *t)
{
	free(t->cx_hint);
	t->cx_hint = NULL;
	t->cx_words = 0;
}

void fdw__cx_mark_slow(struct fdw_table *t, int fd)
{
	uint32_t w = (uint32_t)fd / 64;

	if (w >= t->cx_words) {
		uint32_t n = w + 1 > 2 * t->cx_words ? w + 1 : 2 * t->cx_words;
		uint64_t *h = realloc(t->cx_hint, (size_t)n * sizeof(*h));

		if (!h) {
			fdw__cx_forget(t);
			return;
		}
		/* numbers past the memo were not open when it was made, and
		 * every install since is marked */
		memset(h + t->cx_words, 0, (size_t)(n - t->cx_words) * sizeof(*h));
		t->cx_hint = h;
		t->cx_words = n;
	}
	t->cx_hint[w] |= 1ull << (fd % 64);
}

/* Every slot of first..last, without the memo. */
static void cx_walk(struct fdw_model *m, struct fdw_table *t, uint64_t first, uint32_t last,
		    uint32_t pid)
{
	for (uint64_t fd = first; fd <= last && fd < t->nslots; fd++) {
		struct fdw_slot *s = fdw_table_slot(t, (int)fd);

		if (fdw_slot_open(s)) {
			(void)fdw__given_up_note(m, t, s, pid);
			s->cloexec = true;
		}
	}
}

/* The memo, made by a walk of every slot: each open fd marked. */
static int cx_build(struct fdw_table *t)
{
	uint32_t n = t->nslots / 64 + 1;

	t->cx_hint = calloc(n, sizeof(*t->cx_hint));
	if (!t->cx_hint)
		return -ENOMEM;
	t->cx_words = n;
	for (uint32_t fd = 0; fd < t->nslots; fd++)
		if (fdw_slot_open(fdw_table_slot(t, (int)fd)))
			t->cx_hint[fd / 64] |= 1ull << (fd % 64);
	return 0;
}

void fdw__cloexec_range(struct fdw_model *m, struct fdw_table *t, uint32_t first, uint32_t last,
			uint32_t pid)
{
	if (!t->cx_hint && cx_build(t) < 0) {
		cx_walk(m, t, first, last, pid); /* no memory for the memo */
		return;
	}
	for (uint64_t w = first / 64; w < t->cx_words && w * 64 <= last; w++) {
		uint64_t bits = t->cx_hint[w];

		if (w == first / 64)
			bits &= ~0ull << (first % 64);
		if (w == last / 64 && last % 64 != 63)
			bits &= (1ull << (last % 64 + 1)) - 1;
		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);
			struct fdw_slot *s = fdw_table_slot(t, (int)(w * 64 + b));
			bool keep = false;

			bits &= bits - 1;
			if (fdw_slot_open(s)) {
				keep = fdw__given_up_note(m, t, s, pid);
				s->cloexec = true;
				if (!t->cx_hint) { /* the note dropped it: the rest whole */
					cx_walk(m, t, (uint32_t)(w * 64 + b) + 1, last, pid);
					return;
				}
			}
			if (!keep)
				t->cx_hint[w] &= ~(1ull << b);
		}
	}
}

void fdw__given_up_clear(struct fdw_model *m, struct fdw_table *t)
{
	if (t)
		fdw__cx_forget(t); /* its ends are noted again by a next call */
	if (!t || !t->given_up)
		return;
	free(t->given_up);
	t->given_up = NULL;
	m->stats.given_up_tables--;
}

/* dst gets src's ends given up: all of them, as they are, for an unshare's
 * copy (the same process); for a fork's, those src's table gave up itself,
 * as the child's parent's (one fork down: struct fdw_given_up). */
static void given_up_copy(struct fdw_model *m, struct fdw_table *dst, const struct fdw_table *src,
			  bool fork)
{
	const struct fdw_given_up *sg = src->given_up;
	struct fdw_given_up *g;

	if (!sg || dst->given_up || (fork && !sg->own))
		return;
	g = malloc(sizeof(*g));
	if (!g) {
		m->stats.given_up_evicted += fork ? (uint64_t)__builtin_popcount(sg->own) : sg->n;
		return;
	}
	if (!fork) {
		memcpy(g, sg, sizeof(*g));
	} else {
		/* oldest first, so the child's next eviction is of the
		 * oldest still (a full note's oldest is at its next) */
		g->n = g->next = g->own = 0;
		for (uint32_t k = 0; k < sg->n; k++) {
			uint32_t i = (sg->next + k) % sg->n;

			if (sg->own & (1u << i))
				g->v[g->n++] = sg->v[i];
		}
	}
	dst->given_up = g;
	m->stats.given_up_tables++;
}

void fdw__slot_close(struct fdw_model *m, struct fdw_table *t, struct fdw_slot *s,
		     const struct fdw_origin *closed)
{
	if (!fdw_slot_open(s))
		return;
	hist_push(m, s, closed);
	fdw__ofd_put(m, fdw_slot_ofd(s));
	s->ofd_h = 0;
	s->cloexec = false;
	t->nopen--;
	m->stats.fds--;
}

void fdw__table_free(struct fdw_model *m, struct fdw_table *t)
{
	if (!t)
		return;
	m->stats.fds -= t->nopen;
	fdw__given_up_clear(m, t);
	fdw__cx_forget(t);
	fdw__table_read_gone(t);
	fdset_put(m, t->set);
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
		fdw__table_mark_stale(t);
		return NULL;
	}
	s = slot_get(m, t, fd);
	if (!s) {
		m->stats.dropped_fds++;
		fdw__table_mark_stale(t);
		return NULL;
	}
	fdw__touch(t, fd, FDW_TOUCH_FILE);
	if (s->ofd_h)
		fdw__slot_close(m, t, s, origin);
	ofd->refs++;
	s->ofd_h = fdw_ofd_handle(ofd);
	s->cloexec = cloexec;
	fdw__cx_mark(t, fd);
	s->suspect = false;
	s->inheritable = false;
	s->exec_passed = false;
	fdw__origin_set(m, &s->origin, origin);
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
	given_up_copy(m, t, src, false);
	for (uint32_t fd = 0; fd < src->nslots; fd++) {
		const struct fdw_slot *ss = fdw_table_slot(src, (int)fd);
		struct fdw_slot *ds;

		if (!fdw_slot_open(ss))
			continue;
		ds = fdw__slot_install(m, t, fd, fdw_slot_ofd(ss), ss->cloexec, fdw_slot_origin(ss));
		if (ds) /* the same record, not an equal copy: its twin is shared */
			fdw__origin_share(m, &ds->origin, ss->origin);
		if (ds && src->borrowed) /* the view src would have */
			fdw__origin_set_source(m, &ds->origin, FDW_SRC_INHERIT);
		if (ds) {
			ds->generation = ss->generation;
			ds->inheritable = ss->inheritable;
			ds->exec_passed = ss->exec_passed;
		}
	}
	return t;
}
