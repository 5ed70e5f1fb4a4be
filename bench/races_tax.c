/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatch-bench-races-tax ROUNDS ITERS rw|stat: what the EBADF probes of
 * bpf/races.bpf.h cost a correct program, measured on their own: this
 * process loads just two of them from the skeleton (badf_read + badf_write
 * for "rw", badf_newfstatat + badf_newfstat for "stat") and, ROUNDS times,
 * times ITERS iterations with them attached, then detached.
 *
 *   rw    write 64 bytes to a pipe and read them back
 *   stat  fstatat(fd, "", AT_EMPTY_PATH) (what glibc's fstat() calls)
 *
 * Time is this thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared
 * machine other load changes the wall clock far more than the few tens of
 * nanoseconds measured here. Prints the minimum and the median of each
 * side in ns per iteration. Needs root; other tracers running (fdwatchd)
 * are in both sides alike.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "fdwatch.skel.h"

#define MAX_ROUNDS 256

static bool stat_mode;

static double cpu_ns(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double run(const int p[2], long n)
{
	char buf[64] = { 0 };
	struct stat st;
	double t0 = cpu_ns();

	for (long i = 0; i < n; i++) {
		if (stat_mode) {
			if (fstatat(p[0], "", &st, AT_EMPTY_PATH))
				exit(2);
		} else if (write(p[1], buf, sizeof(buf)) != sizeof(buf) ||
			   read(p[0], buf, sizeof(buf)) != sizeof(buf)) {
			exit(2);
		}
	}
	return (cpu_ns() - t0) / (double)n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *want[2];
	struct fdwatch_bpf *skel;
	struct bpf_program *prog, *progs[2] = { NULL, NULL };
	double on[MAX_ROUNDS], off[MAX_ROUNDS];
	int rounds, p[2];
	long n;

	if (argc != 4 || (rounds = atoi(argv[1])) < 1 || rounds > MAX_ROUNDS ||
	    (n = atol(argv[2])) < 1 || (strcmp(argv[3], "rw") && strcmp(argv[3], "stat"))) {
		fprintf(stderr, "usage: %s ROUNDS(1-%d) ITERS rw|stat\n", argv[0], MAX_ROUNDS);
		return 2;
	}
	stat_mode = !strcmp(argv[3], "stat");
	want[0] = stat_mode ? "badf_newfstatat" : "badf_read";
	want[1] = stat_mode ? "badf_newfstat" : "badf_write";
	skel = fdwatch_bpf__open();
	if (!skel) {
		perror("open the BPF object");
		return 1;
	}
	skel->rodata->self_tgid = 0; /* this process is traced */
	(void)bpf_map__set_max_entries(skel->maps.events, 1 << 20);
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		bool keep = !strcmp(name, want[0]) || !strcmp(name, want[1]);

		(void)bpf_program__set_autoload(prog, keep);
		if (keep)
			progs[!strcmp(name, want[1])] = prog;
	}
	if (!progs[0] || !progs[1] || fdwatch_bpf__load(skel)) {
		fprintf(stderr, "cannot load %s and %s\n", want[0], want[1]);
		return 1;
	}
	if (pipe2(p, O_CLOEXEC)) {
		perror("pipe2");
		return 1;
	}
	(void)run(p, n); /* warm up */
	for (int r = 0; r < rounds; r++) {
		struct bpf_link *l0 = bpf_program__attach(progs[0]);
		struct bpf_link *l1 = bpf_program__attach(progs[1]);

		if (!l0 || !l1) {
			fprintf(stderr, "cannot attach\n");
			return 1;
		}
		on[r] = run(p, n);
		bpf_link__destroy(l0);
		bpf_link__destroy(l1);
		off[r] = run(p, n);
	}
	qsort(on, rounds, sizeof(on[0]), cmp);
	qsort(off, rounds, sizeof(off[0]), cmp);
	printf("mode=%s rounds=%d iterations=%ld detached_min=%.1f detached_median=%.1f "
	       "attached_min=%.1f attached_median=%.1f tax_min=%.1f tax_median=%.1f\n",
	       argv[3], rounds, n, off[0], off[rounds / 2], on[0], on[rounds / 2],
	       on[0] - off[0], on[rounds / 2] - off[rounds / 2]);
	fdwatch_bpf__destroy(skel);
	return 0;
}
