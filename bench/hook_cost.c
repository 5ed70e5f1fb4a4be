/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatch-bench-hook-cost ROUNDS ITERS: the fixed cost of a hook at a
 * syscall's exit, three ways (bench/hook_cost.bpf.c), against no hook:
 *
 *   tp          empty per-syscall tracepoints on dup and close (fdwatch's way)
 *   raw-switch  one tp_btf/sys_exit program, a switch on the syscall number
 *   raw-tail    one tp_btf/sys_exit program, a tail call by the number
 *   tp-ring     the tracepoints writing a 64-byte record to a ring buffer
 *               (reserve, stores, submit: fdwatch's way; drained between
 *               arms)
 *   tp-own      the same record in a slot of this CPU's region of an
 *               mmap-able array, with a global sequence (the design not
 *               built: per-CPU buffers merged by sequence in the daemon)
 *
 * Each round runs every arm once, in an order that rotates, and times
 * ITERS x (dup + close) and 2 x ITERS x getppid() (traced by none) with
 * this thread's CPU time. Prints, per arm, the median of the rounds'
 * ratios to the no-hook arm of the same round, with their min-max: what
 * fdwatch's probes would pay before doing anything, and what a raw
 * dispatcher would cost every syscall the host makes. Needs root.
 *
 * fdwatch-bench-hook-cost hold TRACEPOINT...: the empty program of the `tp`
 * arm attached to each syscalls:TRACEPOINT named (sys_exit_dup ...) until
 * SIGTERM or SIGINT; prints "attached N" once they are. bench/run.sh's
 * `hooks` arm: the same syscall tracepoints as a running fdwatchd, with
 * nothing in them, the floor of fdwatch's design on that machine.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hook_cost.skel.h"

#define MAX_ROUNDS 256
#define ARMS 6

static const char *const arm_names[ARMS] = { "none",	 "tp",	    "raw-switch",
					     "raw-tail", "tp-ring", "tp-own" };

static double cpu_ns(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double dupclose(int fd, long n)
{
	double t0 = cpu_ns();

	for (long i = 0; i < n; i++) {
		int d = dup(fd);

		if (d < 0 || close(d) < 0)
			exit(2);
	}
	return (cpu_ns() - t0) / (double)n;
}

static double getppid_loop(long n)
{
	double t0 = cpu_ns();

	for (long i = 0; i < n; i++)
		(void)syscall(SYS_getppid);
	return (cpu_ns() - t0) / (double)n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Attach arm `a`'s programs into links[2]; 0 or -errno. */
static int attach(struct hook_cost *s, int a, struct bpf_link *links[2])
{
	struct bpf_program *p[2] = { NULL, NULL };

	if (a == 1) {
		p[0] = s->progs.tp_dup;
		p[1] = s->progs.tp_close;
	} else if (a == 2) {
		p[0] = s->progs.raw_switch;
	} else if (a == 3) {
		p[0] = s->progs.raw_tail;
	} else if (a == 4) {
		p[0] = s->progs.ring_dup;
		p[1] = s->progs.ring_close;
	} else if (a == 5) {
		p[0] = s->progs.own_dup;
		p[1] = s->progs.own_close;
	}
	for (int i = 0; i < 2; i++) {
		if (!p[i])
			continue;
		links[i] = bpf_program__attach(p[i]);
		if (!links[i])
			return -errno;
	}
	return 0;
}

static void summary(const char *what, double v[ARMS][MAX_ROUNDS], int rounds)
{
	double r[MAX_ROUNDS], base[MAX_ROUNDS];

	for (int i = 0; i < rounds; i++)
		base[i] = v[0][i];
	qsort(base, rounds, sizeof(double), cmp);
	printf("%-9s untraced %.1f ns/iteration (median)\n", what, base[rounds / 2]);
	for (int a = 1; a < ARMS; a++) {
		for (int i = 0; i < rounds; i++)
			r[i] = v[a][i] / v[0][i];
		qsort(r, rounds, sizeof(double), cmp);
		printf("%-9s %-10s %.3f (%.3f-%.3f)\n", what, arm_names[a], r[rounds / 2], r[0],
		       r[rounds - 1]);
	}
}

static int drop(void *ctx, void *data, size_t size)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

/* `hold TP...`: empty programs on those tracepoints until a signal. */
static int hold(int n, char **tps)
{
	struct bpf_link **links = calloc((size_t)n, sizeof(*links));
	struct hook_cost *s = hook_cost__open_and_load();
	sigset_t set;
	int r = 1, sig;

	if (!links || !s) {
		fprintf(stderr, "hook-cost: loading the programs failed (root? BTF?)\n");
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		links[i] = bpf_program__attach_tracepoint(s->progs.tp_dup, "syscalls", tps[i]);
		if (!links[i]) {
			fprintf(stderr, "hook-cost: attaching syscalls:%s: %s\n", tps[i],
				strerror(errno));
			goto out;
		}
	}
	printf("attached %d\n", n);
	(void)fflush(stdout);
	if (sigwait(&set, &sig) == 0)
		r = 0;
out:
	for (int i = 0; links && i < n; i++)
		bpf_link__destroy(links[i]);
	free(links);
	hook_cost__destroy(s);
	return r;
}

int main(int argc, char **argv)
{
	static double dc[ARMS][MAX_ROUNDS], gp[ARMS][MAX_ROUNDS];
	unsigned long consumed = 0;
	struct ring_buffer *rb;
	struct hook_cost *s;
	int rounds, fd, r;
	__u32 key;
	long n;

	if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		return hold(argc - 2, argv + 2);
	if (argc != 3 || (rounds = atoi(argv[1])) < 1 || rounds > MAX_ROUNDS ||
	    (n = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: %s ROUNDS(1-%d) ITERS | hold TRACEPOINT...\n", argv[0],
			MAX_ROUNDS);
		return 2;
	}
	s = hook_cost__open();
	if (s && (libbpf_num_possible_cpus() <= 0 ||
		  bpf_map__set_max_entries(s->maps.own,
					   (__u32)libbpf_num_possible_cpus() * 4096) ||
		  hook_cost__load(s))) {
		hook_cost__destroy(s);
		s = NULL;
	}
	if (!s) {
		fprintf(stderr, "hook-cost: loading the programs failed (root? BTF?)\n");
		return 1;
	}
	key = SYS_dup;
	fd = bpf_program__fd(s->progs.tail_dup);
	r = bpf_map_update_elem(bpf_map__fd(s->maps.by_nr), &key, &fd, BPF_ANY);
	key = SYS_close;
	fd = bpf_program__fd(s->progs.tail_close);
	if (!r)
		r = bpf_map_update_elem(bpf_map__fd(s->maps.by_nr), &key, &fd, BPF_ANY);
	rb = ring_buffer__new(bpf_map__fd(s->maps.rb), drop, &consumed, NULL);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r || fd < 0 || !rb) {
		fprintf(stderr, "hook-cost: setting up failed\n");
		hook_cost__destroy(s);
		return 1;
	}
	for (int i = 0; i < rounds; i++) {
		for (int k = 0; k < ARMS; k++) {
			int a = (k + i) % ARMS;
			struct bpf_link *links[2] = { NULL, NULL };

			r = attach(s, a, links);
			if (r) {
				fprintf(stderr, "hook-cost: attaching %s: %d\n", arm_names[a], r);
				return 1;
			}
			(void)dupclose(fd, n / 16 + 1); /* warm up */
			dc[a][i] = dupclose(fd, n);
			gp[a][i] = getppid_loop(2 * n);
			for (int l = 0; l < 2; l++)
				bpf_link__destroy(links[l]);
			(void)ring_buffer__consume(rb); /* room for the next ring arm */
		}
	}
	summary("dupclose", dc, rounds);
	summary("getppid", gp, rounds);
	/* the hooks ran: the counter moved (dup returns > 0), records came */
	printf("hits %llu, ring records %lu (reserve failed %llu), own records %llu\n",
	       (unsigned long long)s->bss->hits, consumed,
	       (unsigned long long)s->bss->ring_full, (unsigned long long)s->bss->own_seq);
	close(fd);
	if (s->bss->ring_full)
		fprintf(stderr, "hook-cost: the 64 MiB ring filled: ITERS at most 400000\n");
	r = s->bss->hits && consumed && s->bss->own_seq && !s->bss->ring_full ? 0 : 1;
	ring_buffer__free(rb);
	hook_cost__destroy(s);
	return r;
}
