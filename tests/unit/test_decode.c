// SPDX-License-Identifier: LGPL-2.1-or-later
/* Record decoding (the ABI check), the syscall table, and the hash map. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "capture/decode.h"
#include "base/hash.h"
#include "base/hashmap.h"
#include "base/keyset.h"
#include "capture/syscalls.h"

/* A record header of this ABI: type and size, the rest as the caller sets. */
static void set_hdr(struct fdw_hdr *h, uint16_t type, size_t size)
{
	h->type = type;
	h->abi = FDW_ABI_VERSION;
	h->size = (uint16_t)size;
}

static struct fdw_fd_event fd_record(unsigned int nr, int64_t ret)
{
	struct fdw_fd_event r;

	memset(&r, 0, sizeof(r));
	set_hdr(&r.sys.hdr, FDW_REC_SYSCALL, sizeof(r));
	r.sys.hdr.pid = 10;
	r.sys.hdr.tid = 11;
	r.sys.hdr.ts = 12345;
	r.sys.hdr.files = 0xffff888000000000ull;
	r.sys.nr = nr;
	r.sys.ret = ret;
	return r;
}

static void test_decode(void)
{
	struct fdw_fd_event r = fd_record(FDW_SYS_PIPE2, 0);
	struct fdw_sys_event plain;
	struct fdw_open_event o;
	struct fdw_task_event t;
	struct fdw_event ev;

	r.sys.nfds = 2;
	r.fds[0] = 3;
	r.fds[1] = 4;
	r.sys.args[1] = O_CLOEXEC;
	r.ino = 77;
	r.mode = 010600;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), 0);
	CHECK_EQ(ev.pid, 10);
	CHECK_EQ(ev.tid, 11);
	CHECK_EQ(ev.nr, FDW_SYS_PIPE2);
	CHECK_EQ(ev.nfds, 2);
	CHECK_EQ(ev.fds[1], 4);
	CHECK_EQ(ev.ino, 77);
	CHECK(fdw_syscall_cloexec(&ev));

	/* wrong ABI version: refused with EPROTO */
	r.sys.hdr.abi = FDW_ABI_VERSION + 1;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), -EPROTO);
	r.sys.hdr.abi = FDW_ABI_VERSION;
	/* size disagreeing with the header, truncated, unknown type/nr */
	CHECK_EQ(fdw_decode(&r, sizeof(r) - 8, &ev), -EBADMSG);
	CHECK_EQ(fdw_decode(&r, 4, &ev), -EBADMSG);
	r.sys.hdr.type = 99;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), -EBADMSG);
	r.sys.hdr.type = FDW_REC_SYSCALL;
	r.sys.nr = FDW_SYS_MAX;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), -EBADMSG);
	r.sys.nr = FDW_SYS_PIPE2;
	r.sys.nfds = FDW_MAX_FDS + 1;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), -EBADMSG);
	r.sys.nfds = 1;
	r.fds[0] = -5;
	CHECK_EQ(fdw_decode(&r, sizeof(r), &ev), -EBADMSG);
	CHECK_EQ(fdw_decode(NULL, 0, &ev), -EBADMSG);

	/* a plain record (dup family) may not claim fds */
	memset(&plain, 0, sizeof(plain));
	set_hdr(&plain.hdr, FDW_REC_SYSCALL, sizeof(plain));
	plain.nr = FDW_SYS_DUP2;
	plain.ret = 100;
	plain.args[0] = 3;
	plain.args[1] = 100;
	CHECK_EQ(fdw_decode(&plain, sizeof(plain), &ev), 0);
	CHECK_EQ(ev.args[1], 100);
	CHECK_EQ(ev.nfds, 0);
	plain.nfds = 1;
	CHECK_EQ(fdw_decode(&plain, sizeof(plain), &ev), -EBADMSG);

	/* the open family's path must be NUL-terminated within the record */
	memset(&o, 0, sizeof(o));
	o.fe = fd_record(FDW_SYS_OPENAT, 3);
	o.fe.sys.hdr.size = sizeof(o);
	o.fe.sys.nfds = 1;
	o.fe.fds[0] = 3;
	strcpy(o.path, "/etc/passwd");
	CHECK_EQ(fdw_decode(&o, sizeof(o), &ev), 0);
	CHECK_STR(ev.path, "/etc/passwd");
	memset(o.path, 'x', sizeof(o.path));
	CHECK_EQ(fdw_decode(&o, sizeof(o), &ev), -EBADMSG);

	/* task records: comm always terminated */
	memset(&t, 0, sizeof(t));
	set_hdr(&t.hdr, FDW_REC_FORK, sizeof(t));
	t.child_pid = 42;
	t.hz = 250;
	t.start_boottime = 123456789012ull;
	t.start_stack = 0x7ffd5a5a1000ull;
	memset(t.comm, 'a', sizeof(t.comm));
	CHECK_EQ(fdw_decode(&t, sizeof(t), &ev), 0);
	CHECK_EQ(ev.child_pid, 42);
	CHECK_EQ(ev.hz, 250);
	CHECK_EQ(strlen(ev.comm), FDW_COMM_LEN - 1);
	/* the process's identity, and its program's */
	CHECK_EQ(ev.start_boottime, 123456789012ull);
	CHECK_EQ(ev.start_stack, 0x7ffd5a5a1000ull);
	/* a syscall record after it shows none of it */
	plain.nfds = 0;
	CHECK_EQ(fdw_decode(&plain, sizeof(plain), &ev), 0);
	CHECK_EQ(ev.start_boottime, 0);
	CHECK_EQ(ev.start_stack, 0);
}

/* The dup family's and close's short record: a syscall record to the rest. */
static void test_decode_short(void)
{
	struct fdw_short_event s;
	struct fdw_event ev;

	_Static_assert(sizeof(s) + 8 == 64, "a short record and the ring's header: one line");
	memset(&ev, 0x5a, sizeof(ev)); /* what an earlier record left */
	memset(&s, 0, sizeof(s));
	set_hdr(&s.hdr, FDW_REC_SHORT, sizeof(s));
	s.hdr.pid = 10;
	s.hdr.tid = 12;
	s.hdr.flags = FDW_F_JIFFIES;
	s.nr = FDW_SYS_DUP3;
	s.stack = 7;
	s.ret = 100;
	s.args[0] = 3;
	s.args[1] = 100;
	s.args[2] = O_CLOEXEC;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK_EQ(ev.type, FDW_REC_SYSCALL);
	CHECK_EQ(ev.nr, FDW_SYS_DUP3);
	CHECK_EQ(ev.pid, 10);
	CHECK_EQ(ev.tid, 12);
	CHECK_EQ(ev.flags, FDW_F_JIFFIES);
	CHECK_EQ(ev.stack, 7);
	CHECK_EQ(ev.ret, 100);
	CHECK_EQ(ev.args[0], 3);
	CHECK_EQ(ev.args[1], 100);
	CHECK_EQ(ev.args[2], O_CLOEXEC);
	CHECK_EQ(ev.args[3], 0);
	CHECK_EQ(ev.args[5], 0);
	CHECK_EQ(ev.nfds, 0);
	CHECK_EQ(ev.child_pid, 0);
	CHECK(ev.path == NULL);
	CHECK(fdw_syscall_cloexec(&ev));

	/* ints sign-extended: close(-1) failing with EBADF */
	s.nr = FDW_SYS_CLOSE;
	s.args[0] = -1;
	s.close.now_lo = s.close.now_hi = 0;
	s.ret = -EBADF;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK_EQ((int64_t)ev.ret, -EBADF);
	CHECK_EQ((int64_t)ev.args[0], -1);
	CHECK_EQ(ev.close_now, 0);

	/* a close that saw another task's file at the number: its address */
	s.ret = 0;
	s.close.fd = 9;
	s.close.now_lo = 0x12345680u;
	s.close.now_hi = 0xffff8881u;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK_EQ(ev.args[0], 9);
	CHECK_EQ(ev.args[1], 0);
	CHECK_EQ(ev.args[2], 0);
	CHECK_EQ(ev.close_now, 0xffff888112345680ull);
	/* the next record does not inherit it */
	s.nr = FDW_SYS_DUP2;
	s.args[1] = 11;
	s.args[2] = 0;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK_EQ(ev.close_now, 0);
	CHECK_EQ(ev.args[1], 11);
	s.args[2] = (int32_t)0x80080000u; /* a flag in bit 31: not sign-extended */
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK_EQ(ev.args[2], 0x80080000u);
	s.nr = FDW_SYS_CLOSE;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), 0);
	CHECK(ev.close_now != 0);
	{ /* any other record clears it too */
		struct fdw_sys_event plain;

		memset(&plain, 0, sizeof(plain));
		set_hdr(&plain.hdr, FDW_REC_SYSCALL, sizeof(plain));
		plain.nr = FDW_SYS_CLOSE_RANGE;
		CHECK_EQ(fdw_decode(&plain, sizeof(plain), &ev), 0);
		CHECK_EQ(ev.close_now, 0);
	}

	/* only the syscalls that send it; its exact size */
	s.nr = FDW_SYS_OPENAT;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), -EBADMSG);
	s.nr = FDW_SYS_MAX;
	CHECK_EQ(fdw_decode(&s, sizeof(s), &ev), -EBADMSG);
	s.nr = FDW_SYS_DUP;
	s.hdr.size = sizeof(s) - 4;
	CHECK_EQ(fdw_decode(&s, sizeof(s) - 4, &ev), -EBADMSG);
}

/* The race records carry no fds, arguments or task part: none is left
 * over from the record decoded before (the history keeps them). */
static void test_decode_race_records(void)
{
	struct fdw_inflight_event f;
	struct fdw_badf_event b;
	struct fdw_event ev;

	memset(&ev, 0x5a, sizeof(ev)); /* what an earlier record left */
	memset(&f, 0, sizeof(f));
	set_hdr(&f.hdr, FDW_REC_INFLIGHT, sizeof(f));
	f.hdr.pid = 10;
	f.hdr.tid = 11;
	f.nr = FDW_SYS_CLOSE;
	f.other_nr = FDW_SYS_READ;
	f.other_tid = 12;
	f.fd = 7;
	strcpy(f.other_comm, "reader");
	CHECK_EQ(fdw_decode(&f, sizeof(f), &ev), 0);
	CHECK_EQ(ev.type, FDW_REC_INFLIGHT);
	CHECK_EQ(ev.race_fd, 7);
	CHECK_EQ(ev.other_tid, 12);
	CHECK_STR(ev.comm, "reader");
	CHECK_EQ(ev.nfds, 0);
	CHECK_EQ(ev.fds[0], 0);
	CHECK_EQ(ev.ret, 0);
	CHECK_EQ(ev.stack, 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(ev.args[i], 0);
	CHECK_EQ(ev.child_pid, 0);
	CHECK_EQ(ev.exit_code, 0);
	CHECK(ev.path == NULL);

	memset(&ev, 0x5a, sizeof(ev));
	memset(&b, 0, sizeof(b));
	set_hdr(&b.sys.hdr, FDW_REC_BADF, sizeof(b));
	b.sys.nr = FDW_SYS_READ;
	b.sys.ret = -EBADF;
	b.sys.args[0] = 5;
	b.fd = 5;
	CHECK_EQ(fdw_decode(&b, sizeof(b), &ev), 0);
	CHECK_EQ(ev.race_fd, 5);
	CHECK_EQ(ev.args[0], 5);
	CHECK_EQ(ev.nfds, 0);
	CHECK_EQ(ev.child_pid, 0);
	CHECK_EQ(ev.exit_code, 0);
}

static void test_syscalls(void)
{
	struct fdw_event ev;

	CHECK_STR(fdw_syscall_name(FDW_SYS_DUP3), "dup3");
	CHECK_EQ(fdw_syscall_by_name("close_range"), FDW_SYS_CLOSE_RANGE);
	CHECK_EQ(fdw_syscall_by_name("nope"), FDW_SYS_UNKNOWN);
	/* every traced syscall has a name */
	for (unsigned int nr = 1; nr < FDW_SYS_MAX; nr++)
		CHECK(fdw_syscall_info(nr) != NULL);
	CHECK_STR(fdw_errno_name(EBADF), "EBADF");

	memset(&ev, 0, sizeof(ev));
	ev.nr = FDW_SYS_SOCKET;
	ev.args[1] = SOCK_STREAM | SOCK_CLOEXEC;
	CHECK(fdw_syscall_cloexec(&ev));
	ev.args[1] = SOCK_STREAM;
	CHECK(!fdw_syscall_cloexec(&ev));
	ev.nr = FDW_SYS_OPENAT2;
	ev.aux = O_CLOEXEC;
	CHECK(fdw_syscall_cloexec(&ev));
	ev.nr = FDW_SYS_PIDFD_OPEN;
	CHECK(fdw_syscall_cloexec(&ev));
	ev.nr = FDW_SYS_ACCEPT;
	CHECK(!fdw_syscall_cloexec(&ev));
	ev.nr = FDW_SYS_RECVMSG;
	ev.args[2] = MSG_CMSG_CLOEXEC;
	CHECK(fdw_syscall_cloexec(&ev));
}

static void test_hashmap(void)
{
	struct fdw_hashmap h;
	static int vals[5000];
	size_t it = 0, n = 0;
	uint64_t k;
	void *v;

	fdw_hashmap_init(&h);
	for (int i = 0; i < 5000; i++)
		CHECK_EQ(fdw_hashmap_put(&h, (uint64_t)i * 4096 + 0xffff888000000000ull, &vals[i]), 0);
	CHECK_EQ(fdw_hashmap_size(&h), 5000);
	/* remove every other key; the rest must all still be found */
	for (int i = 0; i < 5000; i += 2)
		CHECK(fdw_hashmap_remove(&h, (uint64_t)i * 4096 + 0xffff888000000000ull) == &vals[i]);
	for (int i = 0; i < 5000; i++) {
		void *got = fdw_hashmap_get(&h, (uint64_t)i * 4096 + 0xffff888000000000ull);

		if (i % 2)
			CHECK(got == &vals[i]);
		else
			CHECK(got == NULL);
	}
	while (fdw_hashmap_next(&h, &it, &k, &v))
		n++;
	CHECK_EQ(n, 2500);
	CHECK(fdw_hashmap_put(&h, 1, NULL) == -EINVAL);
	fdw_hashmap_free(&h);
	fdw_hashmap_free(NULL);
}

struct keyrec {
	uint32_t other;
	uint64_t key;
};

static struct keyrec recs[5001]; /* handle h: recs[h - 1] */

static void *keyrec_resolve(void *ctx, uint32_t h)
{
	CHECK(ctx == recs);
	CHECK(h >= 1 && h <= 5001);
	return &recs[h - 1];
}

static void test_keyset(void)
{
	struct fdw_keyset s;
	struct keyrec *again = &recs[5000];

	fdw_keyset_init(&s, offsetof(struct keyrec, key), keyrec_resolve, recs);
	CHECK(fdw_keyset_get(&s, 1) == NULL);
	CHECK(fdw_keyset_remove(&s, 1) == NULL);
	for (int i = 0; i < 5000; i++) {
		recs[i].key = (uint64_t)i * 4096 + 0xffff888000000000ull;
		CHECK_EQ(fdw_keyset_put(&s, &recs[i], (uint32_t)i + 1), 0);
	}
	CHECK_EQ(fdw_keyset_size(&s), 5000);
	/* remove every other key; the rest must all still be found */
	for (int i = 0; i < 5000; i += 2)
		CHECK(fdw_keyset_remove(&s, recs[i].key) == &recs[i]);
	for (int i = 0; i < 5000; i++) {
		void *got = fdw_keyset_get(&s, recs[i].key);

		if (i % 2)
			CHECK(got == &recs[i]);
		else
			CHECK(got == NULL);
	}
	/* a record with a key already held takes its place */
	again->key = recs[1].key;
	CHECK_EQ(fdw_keyset_put(&s, again, 5001), 0);
	CHECK_EQ(fdw_keyset_size(&s), 2500);
	CHECK(fdw_keyset_get(&s, recs[1].key) == again);
	CHECK(fdw_keyset_put(&s, NULL, 1) == -EINVAL);
	CHECK(fdw_keyset_put(&s, again, 0) == -EINVAL);
	CHECK(fdw_keyset_put(&s, again, 1u << 24) == -E2BIG); /* no room in a bucket */
	fdw_keyset_free(&s);
	fdw_keyset_free(NULL);
}

/*
 * Keys whose hashes agree in the bucket tag (top 8 bits) and in the home
 * bucket of a 64-bucket table: every probe among them passes the tag test
 * and must compare the keys themselves; and churn, where removed entries
 * are marked rather than shifted: the table must not grow with it.
 */
static void test_keyset_collisions(void)
{
	enum { N = 24 };
	struct fdw_keyset s;
	uint64_t h0 = 0;
	int n = 0;

	fdw_keyset_init(&s, offsetof(struct keyrec, key), keyrec_resolve, recs);
	for (uint64_t k = 1; n < N; k++) {
		uint64_t h = fdw_hash64(k);

		if (!n)
			h0 = h;
		if ((h >> 56) != (h0 >> 56) || (h & 63) != (h0 & 63))
			continue;
		recs[n++].key = k;
	}
	for (int i = 0; i < N; i++)
		CHECK_EQ(fdw_keyset_put(&s, &recs[i], (uint32_t)i + 1), 0);
	CHECK(s.cap <= 64); /* one home bucket for all */
	for (int i = 0; i < N; i++)
		CHECK(fdw_keyset_get(&s, recs[i].key) == &recs[i]);
	/* remove from the middle of the run: the later ones are still found */
	for (int i = 0; i < N; i += 3)
		CHECK(fdw_keyset_remove(&s, recs[i].key) == &recs[i]);
	for (int i = 0; i < N; i++)
		CHECK(fdw_keyset_get(&s, recs[i].key) == (i % 3 ? &recs[i] : NULL));
	CHECK(!fdw_keyset_remove_rec(&s, recs[1].key, &recs[2])); /* another's key */
	CHECK(fdw_keyset_remove_rec(&s, recs[1].key, &recs[1]));
	CHECK(fdw_keyset_get(&s, recs[1].key) == NULL);
	CHECK(!fdw_keyset_remove_rec(&s, recs[1].key, &recs[1]));
	fdw_keyset_free(&s);

	/* churn: 30 live keys, 200,000 puts and removes */
	fdw_keyset_init(&s, offsetof(struct keyrec, key), keyrec_resolve, recs);
	for (int i = 0; i < 5000; i++)
		recs[i].key = 0xffff888000000000ull + (uint64_t)i * 1024;
	for (int i = 0; i < 200000; i++) {
		int in = i % 5000, out = (i + 5000 - 30) % 5000;

		CHECK_EQ(fdw_keyset_put(&s, &recs[in], (uint32_t)in + 1), 0);
		if (i >= 30)
			CHECK(fdw_keyset_remove(&s, recs[out].key) == &recs[out]);
	}
	CHECK_EQ(fdw_keyset_size(&s), 30);
	CHECK(s.cap <= 128);
	CHECK(s.len + s.tombs < s.cap);
	for (int i = 0; i < 5000; i++) {
		bool live = (200000 - 1 - i + 5000 * 40) % 5000 < 30;

		CHECK(fdw_keyset_get(&s, recs[i].key) == (live ? &recs[i] : NULL));
	}
	fdw_keyset_free(&s);
}

int main(void)
{
	test_decode();
	test_decode_short();
	test_decode_race_records();
	test_syscalls();
	test_hashmap();
	test_keyset();
	test_keyset_collisions();
	return check_summary();
}
