// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * `fdwatch races`: the race and misuse findings of GET /v1/races, one line
 * per finding (an alert carries up to 16 of one kind for one process), and
 * `fdwatch explain KIND`, which needs no daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "races.h"

static const struct {
	const char *kind;
	const char *text;
} explain[] = {
	{ "double-close",
	  "close() was called on a file descriptor that was not open.\n"
	  "\n"
	  "A descriptor is a number. After close(fd) the kernel may hand the same\n"
	  "number to the next open(), socket() or accept() of ANY thread. A second\n"
	  "close(fd) then either fails with EBADF (what fdwatch saw: harmless this\n"
	  "time) or, a moment later, silently closes the other thread's new file,\n"
	  "whose reads and writes then go to whatever gets the number next.\n"
	  "\n"
	  "What to do: find the two closes (the finding names the thread and time\n"
	  "of the first close, and the thread that closed again). Give the\n"
	  "descriptor one owner; set your copy to -1 right after close() and never\n"
	  "close -1. \"never_opened\" means the number was not open at all in this\n"
	  "process while fdwatch watched: a stale or uninitialized variable.\n" },
	{ "use-after-close",
	  "A system call (read, write, fstat, lseek, send, ioctl, ...) used a file\n"
	  "descriptor after it had been closed, and failed with EBADF.\n"
	  "\n"
	  "The program still holds the number of a file it closed. This time the\n"
	  "number was free and the call failed; if another thread had opened\n"
	  "something in between, the same call would have read or written THAT\n"
	  "file or socket instead (data sent to the wrong peer, a database file\n"
	  "overwritten by log lines).\n"
	  "\n"
	  "What to do: the finding names who created the descriptor, who closed it\n"
	  "and when, and which thread used it afterwards. Make the closing code\n"
	  "tell the users (set the variable to -1 under the same lock, reference\n"
	  "count the owner) before it closes.\n" },
	{ "close-in-flight",
	  "A thread closed (or replaced with dup2) a file descriptor while another\n"
	  "thread was blocked in a system call on it (read, recv, accept, write...).\n"
	  "\n"
	  "Linux does not interrupt the blocked call: it keeps the old file until\n"
	  "the call returns (close(2), \"Multithreaded processes and close()\"). The\n"
	  "blocked thread may wait forever, or finish on the old file while the\n"
	  "number already names a new one, and the program silently diverges.\n"
	  "\n"
	  "What to do: wake the blocked thread first (shutdown(fd, SHUT_RDWR) on a\n"
	  "socket, a wake-up pipe or eventfd beside it, a timeout), wait for it to\n"
	  "return, then close. A placeholder dup2'd over the fd, the thread\n"
	  "signalled, and the number closed within race_preclose_ms (OpenJDK's\n"
	  "pre-close) is not reported.\n" },
	{ "dup2-clobber",
	  "dup2() or dup3() was called onto a descriptor number that was open and\n"
	  "had been opened by another thread.\n"
	  "\n"
	  "dup2 closes whatever the target number holds, without an error and\n"
	  "without telling anyone. The thread that opened it still believes the\n"
	  "number is its file and now talks to the new one.\n"
	  "\n"
	  "What to do: dup2 only onto numbers your code owns (0, 1, 2 when\n"
	  "redirecting; numbers you reserved). To replace a shared descriptor on\n"
	  "purpose (log rotation), reopen the same path; fdwatch does not report\n"
	  "that, nor a dup2 whose number is closed within race_preclose_ms (the\n"
	  "pre-close idiom: a dup2 then a close is a close).\n" },
	{ "fd-reuse",
	  "A thread used a file descriptor number that, since its previous use,\n"
	  "another thread had closed and reopened as a different kind of file.\n"
	  "\n"
	  "The call did not fail: the number was valid, but it now names another\n"
	  "file. This is how an SSL layer ends up writing into a database file, or\n"
	  "a log line goes down a client's socket. fdwatch watches for it in\n"
	  "processes that already showed a descriptor misuse (deep mode).\n"
	  "\n"
	  "What to do: the finding names the file the thread used before (who\n"
	  "created and who closed it) and what the number holds now (who opened\n"
	  "it). The thread kept the number after its owner closed it: give the\n"
	  "descriptor one owner that tells its users before closing, and have them\n"
	  "drop their copy (set it to -1) under the same lock.\n" },
	{ "exec-leak",
	  "A descriptor without close-on-exec crossed exec() into a program that\n"
	  "did not ask for it.\n"
	  "\n"
	  "The child keeps the file or socket open (a listening port, a lock, the\n"
	  "write end of a pipe whose reader then never sees end-of-file). In a\n"
	  "threaded program it is often a race: one thread opens without\n"
	  "O_CLOEXEC and sets FD_CLOEXEC a moment later, while another thread\n"
	  "forks and execs in between.\n"
	  "\n"
	  "What to do: open with O_CLOEXEC (SOCK_CLOEXEC, pipe2(O_CLOEXEC),\n"
	  "accept4(SOCK_CLOEXEC), F_DUPFD_CLOEXEC); pass what a child needs\n"
	  "explicitly (posix_spawn file actions, subprocess pass_fds).\n"
	  "\n"
	  "Not reported: fds handed over on purpose. Those that went through an\n"
	  "exec before, that the exec'ing process or a shell set up (cmd 3>file,\n"
	  "exec 3>lock), that a parent put on a number it chose (dup2: socket\n"
	  "activation), whose close-on-exec was cleared (F_SETFD, pass_fds), and\n"
	  "those that hold a lock (flock(2), fcntl) unless their creator made\n"
	  "its own copy close-on-exec: a lock wrapper such as `flock FILE CMD`\n"
	  "gives CMD the locked fd so the lock is held while CMD runs.\n" },
};

int fdw_races_explain(FILE *f, const char *kind, bool json)
{
	for (size_t i = 0; kind && i < sizeof(explain) / sizeof(explain[0]); i++) {
		json_t *o;
		int r;

		if (strcmp(kind, explain[i].kind))
			continue;
		if (!json) {
			fputs(explain[i].text, f);
			return 0;
		}
		o = json_pack("{s:s, s:s}", "kind", explain[i].kind, "text", explain[i].text);
		if (!o)
			return -ENOMEM;
		r = json_dumpf(o, f, JSON_COMPACT);
		json_decref(o);
		if (r < 0)
			return -EIO;
		fputc('\n', f);
		return 0;
	}
	return -ENOENT;
}

void fdw_races_explain_list(FILE *f)
{
	for (size_t i = 0; i < sizeof(explain) / sizeof(explain[0]); i++)
		fprintf(f, "  %s\n", explain[i].kind);
}

/*
 * The strings of a row, escaped as every table escapes them (fdw_escape:
 * control bytes as \xNN): a command is the basename of what a process
 * exec'd, any bytes but NUL and '/', and must not reach a terminal as its
 * escape sequences. Each is kept until the row is printed (row_free).
 */
#define ROW_STRS 8
struct row {
	char *s[ROW_STRS];
	unsigned int n;
};

static const char *row_str(struct row *row, const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	char *e;

	if (!s)
		return "-";
	if (row->n == ROW_STRS || !(e = fdw_escape(s)))
		return "?"; /* out of memory (or of slots): never the raw bytes */
	row->s[row->n++] = e;
	return e;
}

static void row_free(struct row *row)
{
	for (unsigned int i = 0; i < row->n; i++)
		free(row->s[i]);
	row->n = 0;
}

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* "openat by 1234" / "close by 1235" of a generation's origin. */
static void who(struct row *row, char *buf, size_t len, const json_t *o)
{
	if (!json_is_object(o)) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s/%lld", row_str(row, o, "syscall"), num(o, "tid"));
}

int fdw_render_races(const struct fdw_render *r, const json_t *doc)
{
	const json_t *races = json_object_get(doc, "races");
	size_t i, j;
	json_t *a, *f;

	if (!json_is_array(races))
		return -EBADMSG;
	if (r->headings)
		fprintf(r->out, "%-6s %-16s %-8s %7s %-15s %5s %7s %-14s %-16s %-16s %s\n", "ID",
			"KIND", "STATE", "PID", "COMMAND", "FD", "TID", "SYSCALL", "CREATED",
			"CLOSED", "SUMMARY");
	json_array_foreach(races, i, a) {
		const json_t *ev = json_object_get(a, "evidence");
		const json_t *findings = json_object_get(ev, "findings");
		struct row row = { .n = 0 };

		if (!json_is_array(findings) || !json_array_size(findings)) {
			/* exec-leak and any kind without findings: one line */
			fprintf(r->out, "%-6lld %-16s %-8s %7lld %-15s %5s %7s %-14s %-16s %-16s %s\n",
				num(a, "id"), row_str(&row, a, "kind"), row_str(&row, a, "state"),
				num(a, "pid"), row_str(&row, a, "comm"), "-", "-", "-", "-", "-",
				row_str(&row, a, "summary"));
			row_free(&row);
			continue;
		}
		json_array_foreach(findings, j, f) {
			const json_t *g = json_object_get(f, "generation");
			bool hidden = json_is_true(json_object_get(f, "hidden"));
			char created[48], closed[48], sc[48], tid[24];

			who(&row, created, sizeof(created), json_object_get(g, "created"));
			who(&row, closed, sizeof(closed), json_object_get(g, "closed"));
			if (hidden || json_is_true(json_object_get(g, "hidden"))) {
				/* done before the process was the caller's (docs/api.md) */
				snprintf(created, sizeof(created), "(hidden)");
				snprintf(closed, sizeof(closed), "(hidden)");
			}
			snprintf(sc, sizeof(sc), "%s", hidden ? "(hidden)" : row_str(&row, f, "syscall"));
			if (json_is_integer(json_object_get(f, "tid")))
				snprintf(tid, sizeof(tid), "%lld", num(f, "tid"));
			else
				snprintf(tid, sizeof(tid), "-");
			if (json_is_integer(json_object_get(f, "blocked_tid")))
				snprintf(closed, sizeof(closed), "%s/%lld",
					 row_str(&row, f, "blocked_syscall"), num(f, "blocked_tid"));
			fprintf(r->out, "%-6lld %-16s %-8s %7lld %-15s %5lld %7s %-14s %-16s %-16s %s\n",
				num(a, "id"), row_str(&row, a, "kind"), row_str(&row, a, "state"),
				num(a, "pid"), row_str(&row, a, "comm"), num(f, "fd"), tid, sc,
				created, closed, j == 0 ? row_str(&row, a, "summary") : "");
			row_free(&row);
		}
	}
	return ferror(r->out) ? -EIO : 0;
}
