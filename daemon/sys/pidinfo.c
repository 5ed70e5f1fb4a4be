// SPDX-License-Identifier: LGPL-2.1-or-later
/* Per-process figures from /proc: see pidinfo.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/grow.h"
#include "base/clock.h"
#include "sys/pidinfo.h"

static const char *root_or_proc(const char *root)
{
	return root ? root : "/proc";
}

/* A small file, NUL-terminated: its length, or -errno. */
/* path into buf (NUL-terminated); *file_uid, when asked, the file's owner
 * as the kernel shows it (fstat of the same open file) */
static int read_small_owned(const char *path, char *buf, size_t len, uid_t *file_uid)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (file_uid) {
		struct stat st;

		if (fstat(fd, &st) < 0) {
			int r = -errno;

			(void)close(fd);
			return r;
		}
		*file_uid = st.st_uid;
	}
	n = fdw_read_all(fd, buf, len - 1);
	(void)close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return (int)n;
}

static int read_small(const char *path, char *buf, size_t len)
{
	return read_small_owned(path, buf, len, NULL);
}

/* ROOT/PID/NAME (pid 0: ROOT/NAME) into path */
static int proc_path(char *path, size_t size, const char *root, uint32_t pid, const char *name)
{
	int n = pid ? snprintf(path, size, "%s/%u/%s", root_or_proc(root), pid, name)
		    : snprintf(path, size, "%s/%s", root_or_proc(root), name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ROOT/PID/NAME into buf; a missing process is -ESRCH. */
/* ROOT/PID/NAME into buf; *file_uid, when asked, the file's owner */
static int read_pid_file_owned(const char *root, uint32_t pid, const char *name, char *buf,
			       size_t len, uid_t *file_uid)
{
	char path[PATH_MAX];
	int n = proc_path(path, sizeof(path), root, pid, name);

	if (n < 0)
		return n;
	n = read_small_owned(path, buf, len, file_uid);
	return n == -ENOENT ? -ESRCH : n;
}

static int read_pid_file(const char *root, uint32_t pid, const char *name, char *buf,
			 size_t len)
{
	return read_pid_file_owned(root, pid, name, buf, len, NULL);
}

int fdw_keyed_line_read(const char *path, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key), cap = 0, vlen;
	char *line = NULL, *v;
	int r = -EBADMSG;
	ssize_t n;
	FILE *f;

	if (!len)
		return -EINVAL;
	/* line by line: a line before it can be very long (ROOT/stat's intr) */
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, key, klen) || (line[klen] != ' ' && line[klen] != '\t'))
			continue;
		v = line + klen + strspn(line + klen, " \t");
		vlen = (size_t)(line + n - v);
		if (vlen && v[vlen - 1] == '\n')
			vlen--;
		if (vlen < len) {
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			r = (int)vlen;
		}
		break;
	}
	if (n < 0 && ferror(f))
		r = errno ? -errno : -EIO;
	free(line);
	(void)fclose(f);
	return r;
}

/* The line of ROOT/PID/NAME (pid 0: ROOT/NAME) that starts with `key`
 * (fdw_keyed_line_read); a missing ROOT/PID/NAME is -ESRCH. */
static int read_proc_line(const char *root, uint32_t pid, const char *name, const char *key,
			  char *buf, size_t len)
{
	char path[PATH_MAX];
	int r = proc_path(path, sizeof(path), root, pid, name);

	if (r == 0)
		r = fdw_keyed_line_read(path, key, buf, len);
	return r == -ENOENT && pid ? -ESRCH : r;
}

/* A decimal number that is the whole of `s` (no sign). */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EBADMSG;
	*out = v;
	return 0;
}

/* The next space-separated word of *p, NUL-terminated in place. */
static char *next_word(char **p)
{
	char *w = *p + strspn(*p, " \n");

	if (!*w)
		return NULL;
	*p = w + strcspn(w, " \n");
	if (**p)
		*(*p)++ = '\0';
	return w;
}

/*
 * "PID (COMM) STATE PPID ... FLAGS ... STARTTIME ...": COMM is whatever the
 * process named itself, spaces and parentheses included, so it ends at the
 * LAST ')' (every later field is a number or the state letter).
 */
int fdw_pid_stat_read(const char *root, uint32_t pid, struct fdw_pid_stat *out)
{
	struct fdw_pid_stat st = { 0 };
	char buf[1024], *open_paren, *p, *w;
	uint64_t v = 0;
	size_t len;
	int r;

	r = read_pid_file(root, pid, "stat", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (!buf[0])
		return -ESRCH; /* reaped while we read */
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')');
	if (!open_paren || !p || p < open_paren)
		return -EBADMSG;
	len = (size_t)(p - open_paren - 1);
	if (len >= sizeof(st.comm))
		len = sizeof(st.comm) - 1;
	memcpy(st.comm, open_paren + 1, len);
	p++;
	/* up to the flags (field 9) required; a line shorter than the
	 * kernel's 52 fields leaves the later figures 0 */
	for (int field = 3; field <= 28; field++) {
		w = next_word(&p);
		if (!w && field <= 9)
			return -EBADMSG;
		if (!w)
			break;
		if (field == 3) {
			if (w[1])
				return -EBADMSG;
			st.state = w[0];
			continue;
		}
		if (field == 24) { /* rss: signed in the kernel's format */
			st.rss = strtoll(w, NULL, 10);
			continue;
		}
		if (field != 4 && field != 9 && (field < 14 || field > 15) && field != 22 &&
		    field != 23 && field != 28)
			continue;
		if (parse_u64(w, &v) < 0)
			return -EBADMSG;
		switch (field) {
		case 4:
			st.ppid = (uint32_t)v;
			break;
		case 9:
			st.flags = (uint32_t)v;
			break;
		case 14:
			st.utime = v;
			break;
		case 15:
			st.stime = v;
			break;
		case 22:
			st.starttime = v;
			break;
		case 28:
			st.startstack = v;
			break;
		default:
			st.vsize = v;
		}
	}
	*out = st;
	return 0;
}

static int parse_limit(const char *w, uint64_t *out)
{
	if (w && !strcmp(w, "unlimited")) {
		*out = (uint64_t)RLIM_INFINITY;
		return 0;
	}
	return w ? parse_u64(w, out) : -EBADMSG;
}

int fdw_pid_limits_read(const char *root, uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	char buf[256], *p = buf;
	uint64_t s, h;
	int r;

	/* "Max open files            1024                 524288               files" */
	r = read_proc_line(root, pid, "limits", "Max open files", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (parse_limit(next_word(&p), &s) < 0 || parse_limit(next_word(&p), &h) < 0)
		return -EBADMSG;
	*soft = s;
	*hard = h;
	return 0;
}

/* Are the real, effective and saved ids of the `key` line ("\nGid:") one
 * id? A line missing or unreadable is not. The fourth, the file-system id,
 * plays no part in ptrace_may_access. */
static bool same_ids(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);
	unsigned long long first = 0, v;
	char *end;

	if (!p)
		return false;
	p += strlen(key);
	for (int i = 0; i < 3; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || end == p)
			return false;
		if (i == 0)
			first = v;
		else if (v != first)
			return false;
		p = end;
	}
	return true;
}

/* Does the process hold a permitted capability (CapPrm: not all zero)? A
 * status without the line (an old kernel, a test's tree) holds none. */
static bool has_caps(const char *buf)
{
	const char *p = strstr(buf, "\nCapPrm:");

	if (!p)
		return false;
	p += strlen("\nCapPrm:");
	while (*p == ' ' || *p == '\t')
		p++;
	for (; isxdigit((unsigned char)*p); p++)
		if (*p != '0')
			return true;
	return false;
}

/* Is the user namespace of `fd` the one of `ref`? */
static bool same_ns(int fd, const struct stat *ref)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == ref->st_dev && st.st_ino == ref->st_ino;
}

/*
 * Whose the user namespace of ROOT/PID is, for the API. 1: the initial one
 * (the daemon's own, /proc/self/ns/user: the uids it sees are in its
 * terms, and NS_GET_PARENT goes no higher), or no ns/user link (a test's
 * tree, a kernel without user namespaces). 0: one below it, *owner the uid
 * that owns its outermost ancestor below the initial one (its "level 1"
 * namespace). That uid holds every capability, CAP_SYS_PTRACE too, over
 * the whole subtree, so the kernel (ptrace_may_access) shows it the fds of
 * every process in it, whatever their own uids; a uid that does not own
 * it is refused them (cap_ptrace_access_check: another namespace and no
 * CAP_SYS_PTRACE in it), even a process's own uid: a service with
 * PrivateUsers=, a setuid sandbox, whose namespace root made. -errno: not
 * known (a namespace outside the daemon's, deeper than the kernel allows).
 */
static int userns_owner(const char *root, uint32_t pid, uint32_t *owner)
{
	char path[PATH_MAX];
	struct stat self;
	uid_t uid;
	int fd, parent, r;

	r = proc_path(path, sizeof(path), root, pid, "ns/user");
	if (r < 0)
		return r;
	if (stat("/proc/self/ns/user", &self) < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	if (same_ns(fd, &self)) {
		(void)close(fd);
		return 1;
	}
	/* a user namespace nests 33 deep at most (create_user_ns) */
	for (int depth = 0; depth < 33; depth++) {
		parent = ioctl(fd, NS_GET_PARENT);
		if (parent < 0) {
			/* EPERM: the initial namespace passed without a
			 * match, it is not below the daemon's */
			r = -errno;
			goto out;
		}
		if (same_ns(parent, &self)) {
			(void)close(parent);
			r = ioctl(fd, NS_GET_OWNER_UID, &uid) < 0 ? -errno : 0;
			if (r == 0)
				*owner = (uint32_t)uid;
			goto out;
		}
		(void)close(fd);
		fd = parent;
	}
	r = -ELOOP;
out:
	(void)close(fd);
	return r;
}

/* The first (real) id of the `key` line ("\nGid:"); -EBADMSG when it has
 * none or one the API cannot hold apart from its sentinels. */
static int first_id(const char *buf, const char *key, uint32_t *id)
{
	const char *p = strstr(buf, key);
	unsigned long long v;
	char *end;

	if (!p)
		return -EBADMSG;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p || v >= FDW_OWNER_MIXED)
		return -EBADMSG;
	*id = (uint32_t)v;
	return 0;
}

int fdw_pid_owner_read(const char *root, uint32_t pid, uint32_t *owner, uint32_t *gid)
{
	static const char key[] = "\nUid:";
	char buf[4096], *p, *end;
	unsigned long long u[4];
	uint32_t nsowner = 0, pgid = FDW_OWNER_GID_ANY;
	uid_t file_uid;
	int r;

	r = read_pid_file_owned(root, pid, "status", buf, sizeof(buf), &file_uid);
	if (r < 0)
		return r;
	p = strstr(buf, key);
	if (!p)
		return -EBADMSG;
	p += strlen(key);
	for (int i = 0; i < 4; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EBADMSG;
		errno = 0;
		u[i] = strtoull(p, &end, 10);
		if (errno || end == p || u[i] >= FDW_OWNER_MIXED)
			return -EBADMSG;
		p = end;
	}
	/* the kernel shows a process's fds to the uid that is its real,
	 * effective and saved uid (ptrace_may_access); its file-system uid
	 * plays no part (parsed, ignored). A process that is not dumpable (a
	 * setuid program, also after it dropped to its caller's uid; one that
	 * changed its file-system uid and did not prctl(PR_SET_DUMPABLE, 1)
	 * again; prctl(PR_SET_DUMPABLE, 0)) has its /proc files owned by
	 * root: the kernel hides its fds from the uid */
	*owner = u[0] == u[1] && u[1] == u[2] && file_uid == (uid_t)u[0]
			 ? (uint32_t)u[0]
			 : FDW_OWNER_MIXED;
	/* nor does the kernel show them (ptrace_may_access) to a user whose
	 * uid matches when the process's gids differ among themselves (no
	 * one gid can match them all) or when it holds a capability its user
	 * lacks (ambient capabilities of a service, say): nobody's either */
	if (*owner != FDW_OWNER_MIXED && (!same_ids(buf, "\nGid:") || (u[0] && has_caps(buf))))
		*owner = FDW_OWNER_MIXED;
	/* and to a user whose uid matches only when the user's gid is the
	 * process's (ptrace_may_access compares the gids like the uids): a
	 * service with User=alice Group=shadow is not alice's for a client
	 * whose gid is alice's. The gid of a process that is nobody's, or
	 * the owner's of a user namespace, plays no part: any */
	if (*owner == FDW_OWNER_MIXED || first_id(buf, "\nGid:", &pgid) < 0) {
		*owner = FDW_OWNER_MIXED;
		pgid = FDW_OWNER_GID_ANY;
	}
	/* in a user namespace below the daemon's, the process is the owner's
	 * of its outermost one (userns_owner), whatever its uids, gids and
	 * capabilities; a namespace not known is nobody's */
	r = userns_owner(root, pid, &nsowner);
	if (r < 0) {
		*owner = FDW_OWNER_MIXED;
		pgid = FDW_OWNER_GID_ANY;
	} else if (r == 0) {
		/* unless it is not dumpable with its mm the initial
		 * namespace's (uids changed since an exec done there,
		 * would_dump() of a program it could not read): the kernel
		 * wants CAP_SYS_PTRACE there too. Its /proc files are then
		 * root's (task_dump_owner), as they are when the namespace
		 * of its mm maps no root: nobody's, to be safe. The owner of
		 * the namespace holds CAP_SYS_PTRACE in it (ptrace_has_cap),
		 * whatever its gid and the process's: any gid */
		*owner = file_uid == 0 && nsowner != 0 ? FDW_OWNER_MIXED : nsowner;
		pgid = FDW_OWNER_GID_ANY;
	}
	if (gid)
		*gid = pgid;
	return 0;
}

int fdw_pid_nofile_limit(const char *root, uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	struct rlimit rl;

	/* prlimit() takes pids of our own PID namespace; another /proc (a
	 * daemon in a container reading the host's) has only its file */
	if (root && strcmp(root, "/proc"))
		return fdw_pid_limits_read(root, pid, soft, hard);
	if (prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &rl) == 0) {
		*soft = rl.rlim_cur;
		*hard = rl.rlim_max;
		return 0;
	}
	if (errno != EPERM)
		return -errno;
	/* another user's process: the limits file says the same */
	return fdw_pid_limits_read(root, pid, soft, hard) < 0 ? -EPERM : 0;
}

/* The innermost component of cgroup path `cg` that ends in one of the
 * suffixes: copied to out, true. */
static bool innermost_unit(const char *cg, const char *const *suffixes, size_t nsuffixes,
			   char *out, size_t len)
{
	const char *end = cg + strlen(cg);

	while (end > cg) {
		const char *start = end;
		size_t clen;

		while (start > cg && start[-1] != '/')
			start--;
		clen = (size_t)(end - start);
		for (size_t i = 0; i < nsuffixes; i++) {
			size_t sl = strlen(suffixes[i]);

			if (clen > sl && !memcmp(end - sl, suffixes[i], sl)) {
				snprintf(out, len, "%.*s", (int)clen, start);
				return true;
			}
		}
		end = start > cg ? start - 1 : cg;
	}
	return false;
}

int fdw_pid_unit(const char *root, uint32_t pid, char *out, size_t len)
{
	static const char *const units[] = { ".service", ".scope", ".socket", ".mount", ".swap" };
	static const char *const slices[] = { ".slice" };
	char buf[4096], *line, *save = NULL;
	int r;

	if (!len)
		return -EINVAL;
	out[0] = '\0';
	r = read_pid_file(root, pid, "cgroup", buf, sizeof(buf));
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cg = strchr(line, ':');

		if (!cg || !(cg = strchr(cg + 1, ':')))
			continue;
		if (strncmp(line, "0::", 3) && !strstr(line, "name=systemd:"))
			continue;
		cg++;
		/* the innermost unit wins; a slice only when there is none */
		if (innermost_unit(cg, units, sizeof(units) / sizeof(units[0]), out, len) ||
		    innermost_unit(cg, slices, 1, out, len))
			break;
	}
	return 0;
}

int fdw_pid_exe_name(const char *root, uint32_t pid, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;
	size_t blen;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	n = snprintf(path, sizeof(path), "%s/%u/exe", root_or_proc(root), pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	target[n] = '\0';
	/* the file was replaced since (a package upgrade): still its name */
	if (n > 10 && !strcmp(target + n - 10, " (deleted)"))
		target[n - 10] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	blen = strlen(base);
	if (!blen)
		return -EBADMSG;
	if (blen >= len)
		return -ENAMETOOLONG;
	memcpy(buf, base, blen + 1);
	return 0;
}

int fdw_boot_time_read(const char *root, double *out)
{
	char buf[64], *end;
	double v;
	int r;

	r = read_proc_line(root, 0, "stat", "btime", buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	v = strtod(buf, &end);
	if (errno || end == buf || *end || v < 0)
		return -EBADMSG;
	*out = v;
	return 0;
}

double fdw_boot_time(void)
{
	static double bt = -1;
	double v = 0;
	int r;

	if (bt >= 0)
		return bt;
	r = fdw_boot_time_read(NULL, &v);
	if (r < 0 && r != -EBADMSG)
		return 0; /* not readable now: try again next time */
	bt = r < 0 ? 0 : v;
	return bt;
}

int fdw_timens_boottime_read(const char *root, int64_t *out)
{
	char buf[128], *p, *end;
	long long sec, nsec;
	int r;

	/* "boottime <seconds> <nanoseconds>", seconds maybe negative */
	r = read_proc_line(root, 0, "self/timens_offsets", "boottime", buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	sec = strtoll(buf, &end, 10);
	if (errno || end == buf)
		return -EBADMSG;
	p = end;
	nsec = strtoll(p, &end, 10);
	if (errno || end == p || nsec < 0 || nsec >= 1000000000ll || *end ||
	    sec > INT64_MAX / 1000000000ll - 1 || sec < INT64_MIN / 1000000000ll + 1)
		return -EBADMSG;
	*out = (int64_t)sec * 1000000000ll + nsec;
	return 0;
}

int64_t fdw_timens_boottime(void)
{
	static int64_t off;
	static bool known;
	int64_t v = 0;
	int r;

	if (known)
		return off;
	r = fdw_timens_boottime_read(NULL, &v);
	if (r == 0 || r == -ENOENT) {
		off = r == 0 ? v : 0;
		known = true;
	}
	return r == 0 ? v : 0;
}

double fdw_clk_tck(void)
{
	static double hz;

	if (!hz) {
		long v = sysconf(_SC_CLK_TCK);

		hz = v > 0 ? (double)v : 100.0;
	}
	return hz;
}

#define CLOSE_RANGE_CLOEXEC_ (1u << 2) /* linux/close_range.h */

/* The syscalls that can close or replace an fd: the one list that
 * read_thread keeps and fdw_syscall_changes_fd looks into. */
static bool changes_fds(long nr)
{
	return nr == SYS_close ||
#ifdef SYS_close_range
	       nr == SYS_close_range ||
#endif
#ifdef SYS_dup2
	       nr == SYS_dup2 ||
#endif
	       nr == SYS_dup3;
}

/* Does this syscall, blocked in, change fd `fd`? */
bool fdw_syscall_changes_fd(const struct fdw_thread_syscall *sc, int fd)
{
	if (!changes_fds(sc->nr))
		return false;
	if (sc->nr == SYS_close)
		return (int)sc->args[0] == fd;
#ifdef SYS_close_range
	if (sc->nr == SYS_close_range)
		return !(sc->args[2] & CLOSE_RANGE_CLOEXEC_) &&
		       (unsigned int)fd >= (unsigned int)sc->args[0] &&
		       (unsigned int)fd <= (unsigned int)sc->args[1];
#endif
	/* dup3, and dup2 where it exists: the target is the second */
	return (int)sc->args[1] == fd;
}

/*
 * One thread's ROOT/PID/task/TID/syscall: "NR ARG1 ... ARG6 SP PC" with the
 * arguments in hex while it is blocked inside a syscall; "-1 SP PC" when
 * blocked outside one; "running" while it runs or waits for a CPU. 1 and
 * *sc filled when it is blocked in a syscall that changes an fd (close,
 * close_range, dup2, dup3), -EAGAIN when it runs, else 0 (gone, or doing
 * something else).
 */
static int read_thread(const char *root, uint32_t pid, uint32_t tid,
		       struct fdw_thread_syscall *sc)
{
	char path[PATH_MAX], buf[256];
	int n;

	n = snprintf(path, sizeof(path), "%s/%u/task/%u/syscall", root_or_proc(root), pid, tid);
	if (n < 0 || (size_t)n >= sizeof(path) || read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	if (strncmp(buf, "running", 7) == 0)
		return -EAGAIN;
	memset(sc, 0, sizeof(*sc));
	sc->tid = tid;
	if (sscanf(buf, "%ld 0x%llx 0x%llx 0x%llx", &sc->nr, &sc->args[0], &sc->args[1],
		   &sc->args[2]) < 2)
		return 0;
	return changes_fds(sc->nr);
}

static int push_tid(struct fdw_pid_syscalls *out, uint32_t tid)
{
	if (FDW_GROW(out->running, out->nrunning, out->running_cap, 8) < 0)
		return -ENOMEM;
	out->running[out->nrunning++] = tid;
	return 0;
}

static int push_syscall(struct fdw_pid_syscalls *out, const struct fdw_thread_syscall *sc)
{
	if (FDW_GROW(out->v, out->n, out->cap, 4) < 0)
		return -ENOMEM;
	out->v[out->n++] = *sc;
	return 0;
}

/* One thread read into `out`: its fd-changing syscall, or its tid among
 * the running ones. */
static int note_thread(struct fdw_pid_syscalls *out, const char *root, uint32_t pid,
		       uint32_t tid)
{
	struct fdw_thread_syscall sc;
	int r = read_thread(root, pid, tid, &sc);

	if (r == 1)
		return push_syscall(out, &sc);
	if (r == -EAGAIN)
		return push_tid(out, tid);
	return 0;
}

int fdw_pid_syscalls_read(const char *root, uint32_t pid, struct fdw_pid_syscalls *out)
{
	char path[PATH_MAX];
	struct dirent *de;
	int r = 0;
	DIR *d;

	out->n = 0;
	out->nrunning = 0;
	snprintf(path, sizeof(path), "%s/%u/task", root_or_proc(root), pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while (r == 0 && (de = readdir(d))) {
		unsigned long tid;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		tid = strtoul(de->d_name, &end, 10);
		if (*end || !tid || (unsigned long)(uint32_t)tid != tid)
			continue;
		r = note_thread(out, root, pid, (uint32_t)tid);
	}
	closedir(d);
	return r;
}

int fdw_pid_syscalls_reread(const char *root, uint32_t pid, struct fdw_pid_syscalls *out)
{
	size_t n = out->nrunning;
	int r = 0;

	out->nrunning = 0;
	/* the list is rebuilt in place: entry i is read before slot i is
	 * written again */
	for (size_t i = 0; i < n && r == 0; i++)
		r = note_thread(out, root, pid, out->running[i]);
	return r;
}

#define SETTLE_PAUSE_NS 1000000ull

int fdw_pid_syscalls_settle(const char *root, uint32_t pid, uint64_t budget_ns,
			    bool (*done)(const struct fdw_pid_syscalls *s, void *arg), void *arg,
			    struct fdw_pid_syscalls *out)
{
	uint64_t t0 = fdw_now_mono();
	int r = fdw_pid_syscalls_read(root, pid, out);

	while (r == 0 && !done(out, arg) && out->nrunning &&
	       fdw_now_mono() - t0 + SETTLE_PAUSE_NS <= budget_ns) {
		struct timespec ts = { 0, SETTLE_PAUSE_NS };

		(void)nanosleep(&ts, NULL);
		r = fdw_pid_syscalls_reread(root, pid, out);
	}
	return r;
}

void fdw_pid_syscalls_free(struct fdw_pid_syscalls *s)
{
	if (!s)
		return;
	free(s->v);
	free(s->running);
	memset(s, 0, sizeof(*s));
}
