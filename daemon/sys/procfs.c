// SPDX-License-Identifier: LGPL-2.1-or-later
/* The kernel's truth, read from /proc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>

#include "base/fs.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* close-on-exec from fdinfo's octal "flags:" line */
static int read_fdinfo_cloexec(int fdinfo_dir, const char *name, bool *cloexec)
{
	char buf[512];
	ssize_t n;
	int fd, r = -EIO;
	char *line;

	fd = openat(fdinfo_dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		r = -errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? r : -ENOENT;
	buf[n] = '\0';
	line = strstr(buf, "flags:");
	if (line) {
		unsigned long flags = strtoul(line + 6, NULL, 8);

		*cloexec = (flags & O_CLOEXEC) != 0;
		r = 0;
	}
	return r;
}

static int read_link_stat(int fd_dir, const char *name, struct fdw_fd_info *out)
{
	struct stat st;
	ssize_t n;
	uint32_t num;
	int r;

	r = parse_u32(name, &num);
	if (r < 0)
		return r;
	n = readlinkat(fd_dir, name, out->target, sizeof(out->target) - 1);
	if (n < 0 && errno == ENAMETOOLONG) {
		/* open, but deeper than the kernel can name: not closed */
		n = (ssize_t)strlen(FDW_TARGET_TOO_LONG);
		memcpy(out->target, FDW_TARGET_TOO_LONG, (size_t)n);
	}
	if (n < 0)
		return -errno;
	out->target[n] = '\0';
	out->fd = (int)num;
	out->kfile = 0; /* /proc does not show it */
	/* stat through the magic link: the open file's inode */
	if (fstatat(fd_dir, name, &st, 0) == 0) {
		out->ino = st.st_ino;
		out->dev = (uint32_t)(((major(st.st_dev) & 0xfff) << 20) | (minor(st.st_dev) & 0xfffff));
		out->mode = st.st_mode & S_IFMT;
		/* anon inodes have no type bits in the kernel's i_mode */
		if (!strncmp(out->target, "anon_inode:", 11))
			out->mode = 0;
	} else {
		out->ino = 0;
		out->dev = 0;
		out->mode = 0;
	}
	out->cloexec = false;
	return 0;
}

static int read_one(int fd_dir, int fdinfo_dir, const char *name, struct fdw_fd_info *out)
{
	int r = read_link_stat(fd_dir, name, out);

	if (r < 0)
		return r;
	return read_fdinfo_cloexec(fdinfo_dir, name, &out->cloexec);
}

static int open_dirs(const char *root, uint32_t tid, int *fd_dir, int *fdinfo_dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%u/fd", root, tid);
	*fd_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd_dir < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	snprintf(path, sizeof(path), "%s/%u/fdinfo", root, tid);
	*fdinfo_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fdinfo_dir < 0) {
		int r = errno == ENOENT ? -ESRCH : -errno;

		close(*fd_dir);
		return r;
	}
	return 0;
}

int fdw_proc_read_fd(const char *root, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	int fd_dir, fdinfo_dir, r;
	char name[16];

	if (fd < 0)
		return -EINVAL;
	r = open_dirs(root, tid, &fd_dir, &fdinfo_dir);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%d", fd);
	r = read_one(fd_dir, fdinfo_dir, name, out);
	close(fdinfo_dir);
	close(fd_dir);
	return r;
}

/* A "lock:" line's kind, after "lock:\t<id>: " (fs/locks.c lock_get_status). */
static bool fdinfo_lock_held(const char *line)
{
	static const char *const kinds[] = { "FLOCK ", "OFDLCK ", "POSIX " };

	line += strspn(line, " \t");
	line += strspn(line, "0123456789");
	if (*line++ != ':')
		return false;
	line += strspn(line, " \t");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strncmp(line, kinds[i], strlen(kinds[i])))
			return true;
	return false; /* LEASE, DELEG, "->" (a waiter: /proc/locks only) */
}

int fdw_proc_fd_locked(const char *root, uint32_t pid, int fd, uint64_t ino)
{
	char path[128], buf[4096];
	ssize_t len;
	int f;

	if (fd < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%u/fdinfo/%d", root ? root : "/proc", pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		if (errno != ENOENT)
			return -errno;
		/* no such fd, or no such process */
		snprintf(path, sizeof(path), "%s/%u", root ? root : "/proc", pid);
		return access(path, F_OK) == 0 ? -ENOENT : -ESRCH;
	}
	/* the lock lines follow pos, flags, mnt_id, ino and come before the
	 * file type's own (an inotify's watches, an eventfd's count) */
	len = fdw_read_all(f, buf, sizeof(buf) - 1);
	close(f);
	if (len < 0)
		return (int)len;
	buf[len] = '\0';
	for (const char *line = buf; *line;) {
		const char *nl = strchr(line, '\n');

		/* "ino:" comes before the locks (older kernels have none) */
		if (ino && !strncmp(line, "ino:", 4) && strtoull(line + 4, NULL, 10) != ino)
			return 0;
		if (!strncmp(line, "lock:", 5) && fdinfo_lock_held(line + 5))
			return 1;
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

/* ---- a /proc context with a cache of fd directories ---------------------- */

#define FDW_PROCFS_DIR_CACHE 16

/*
 * The cache makes fdw_procfs_read_target() a readlinkat + fstatat on an open
 * /proc/TID/fd (no open per call: it runs for every fd-creating event).
 * Least recently used entries are replaced.
 */
struct fdw_procfs {
	char *root;
	uint64_t clock; /* stamps for `used` */
	struct {
		uint32_t tid; /* 0: empty */
		int fd;
		uint64_t used;
	} dirs[FDW_PROCFS_DIR_CACHE];
};

int fdw_procfs_new(struct fdw_procfs **out, const char *root)
{
	struct fdw_procfs *pf = calloc(1, sizeof(*pf));

	if (!pf)
		return -ENOMEM;
	pf->root = strdup(root ? root : "/proc");
	if (!pf->root) {
		free(pf);
		return -ENOMEM;
	}
	*out = pf;
	return 0;
}

void fdw_procfs_free(struct fdw_procfs *pf)
{
	if (!pf)
		return;
	for (unsigned int i = 0; i < FDW_PROCFS_DIR_CACHE; i++)
		if (pf->dirs[i].tid)
			(void)close(pf->dirs[i].fd);
	free(pf->root);
	free(pf);
}

/* An open /proc/TID/fd of `tid`; fresh: open it again even when cached. */
static int cached_fd_dir(struct fdw_procfs *pf, uint32_t tid, bool fresh)
{
	unsigned int victim = 0;
	char path[128];
	int fd;

	for (unsigned int i = 0; i < FDW_PROCFS_DIR_CACHE; i++) {
		if (pf->dirs[i].tid == tid) {
			if (!fresh) {
				pf->dirs[i].used = ++pf->clock;
				return pf->dirs[i].fd;
			}
			victim = i;
			break;
		}
		if (pf->dirs[i].used < pf->dirs[victim].used)
			victim = i;
	}
	snprintf(path, sizeof(path), "%s/%u/fd", pf->root, tid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (pf->dirs[victim].tid)
		(void)close(pf->dirs[victim].fd);
	pf->dirs[victim].tid = tid;
	pf->dirs[victim].fd = fd;
	pf->dirs[victim].used = ++pf->clock;
	return fd;
}

int fdw_procfs_read_target(struct fdw_procfs *pf, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	char name[16];
	int dir, r;

	if (!pf || fd < 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "%d", fd);
	dir = cached_fd_dir(pf, tid, false);
	if (dir < 0)
		return dir;
	r = read_link_stat(dir, name, out);
	if (r == -ENOENT || r == -ESRCH) {
		/* the cached directory may belong to a task that died and
		 * whose id was reused: look again once */
		dir = cached_fd_dir(pf, tid, true);
		if (dir < 0)
			return dir;
		r = read_link_stat(dir, name, out);
	}
	return r;
}

int fdw_proc_same_table(uint32_t tid1, uint32_t tid2)
{
	long r = syscall(SYS_kcmp, (pid_t)tid1, (pid_t)tid2, KCMP_FILES, 0ul, 0ul);

	if (r < 0)
		return -errno;
	return r == 0;
}

int fdw_proc_read_table(const char *root, uint32_t tid,
			void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info *fi;
	int fd_dir, fdinfo_dir, dup_fd, r;
	struct dirent *de;
	DIR *d;

	r = open_dirs(root, tid, &fd_dir, &fdinfo_dir);
	if (r < 0)
		return r;
	fi = malloc(sizeof(*fi));
	dup_fd = fcntl(fd_dir, F_DUPFD_CLOEXEC, 0);
	d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!fi || !d) {
		r = fi ? -errno : -ENOMEM;
		if (!d && dup_fd >= 0)
			close(dup_fd);
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* an fd closed between readdir and readlink is simply gone */
		if (read_one(fd_dir, fdinfo_dir, de->d_name, fi) == 0)
			cb(cbdata, fi);
	}
	r = errno ? -errno : 0;
out:
	if (d)
		closedir(d);
	free(fi);
	close(fdinfo_dir);
	close(fd_dir);
	return r;
}

int fdw_proc_read_stat(const char *root, uint32_t pid, char comm[16], uint32_t *ppid)
{
	struct fdw_pid_stat st;
	int r = fdw_pid_stat_read(root, pid, &st);

	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	memcpy(comm, st.comm, 16);
	if (ppid)
		*ppid = st.ppid;
	return 0;
}

int fdw_proc_list_tasks(const char *root, uint32_t pid, uint32_t **tids, unsigned int *n)
{
	char path[64];
	struct dirent *de;
	uint32_t *v = NULL, tid;
	unsigned int len = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%u/task", root, pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	/* leader first */
	cap = 8;
	v = malloc(cap * sizeof(*v));
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	v[len++] = pid;
	while ((de = readdir(d))) {
		if (parse_u32(de->d_name, &tid) < 0 || tid == pid)
			continue;
		if (len == cap) {
			uint32_t *nv = realloc(v, cap * 2 * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[len++] = tid;
	}
	closedir(d);
	*tids = v;
	*n = len;
	return 0;
}

static bool task_live(const char *root, uint32_t pid, uint32_t tid)
{
	struct fdw_pid_stat st;
	char task_root[PATH_MAX];

	if (tid == pid)
		return fdw_pid_stat_read(root, pid, &st) == 0 && fdw_pid_stat_live(&st);
	/* ROOT/PID/task/TID/stat: the same parser, one level down */
	snprintf(task_root, sizeof(task_root), "%s/%u/task", root, pid);
	return fdw_pid_stat_read(task_root, tid, &st) == 0 && fdw_pid_stat_live(&st);
}

unsigned int fdw_proc_live_tasks(const char *root, uint32_t pid, uint32_t *tids, unsigned int n)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++)
		if (task_live(root, pid, tids[i]))
			tids[k++] = tids[i];
	return k;
}

bool fdw_proc_exited(const char *root, uint32_t pid)
{
	struct fdw_pid_stat st;
	uint32_t *tids = NULL;
	unsigned int n = 0;
	bool exited;
	int r;

	r = fdw_pid_stat_read(root, pid, &st);
	if (r == -ESRCH) {
		char path[PATH_MAX];

		/* no ROOT/PID at all (a fake tree may have one without a stat) */
		snprintf(path, sizeof(path), "%s/%u", root, pid);
		return access(path, F_OK) < 0 && errno == ENOENT;
	}
	if (r < 0)
		return false; /* unsure: keep it */
	if (fdw_pid_stat_live(&st))
		return false; /* the common case: a live leader, one read */
	r = fdw_proc_list_tasks(root, pid, &tids, &n);
	if (r < 0)
		return r == -ESRCH;
	exited = fdw_proc_live_tasks(root, pid, tids, n) == 0;
	free(tids);
	return exited;
}

int fdw_proc_list_pids(const char *root, int (*cb)(void *data, uint32_t pid), void *data)
{
	struct dirent *de;
	uint32_t pid;
	DIR *d = opendir(root);
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (parse_u32(de->d_name, &pid) < 0)
			continue;
		r = cb(data, pid);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int fdw_proc_same_file(uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	long r = syscall(SYS_kcmp, (pid_t)tid1, (pid_t)tid2, KCMP_FILE, (unsigned long)fd1,
			 (unsigned long)fd2);

	if (r < 0)
		return -errno;
	return r == 0;
}

int fdw_proc_cmp_file(uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	long r = syscall(SYS_kcmp, (pid_t)tid1, (pid_t)tid2, KCMP_FILE, (unsigned long)fd1,
			 (unsigned long)fd2);

	if (r < 0)
		return -errno;
	return (int)r;
}

int fdw_proc_nofile_limit(uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	struct rlimit rl;

	if (prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &rl) < 0)
		return -errno;
	*soft = rl.rlim_cur;
	*hard = rl.rlim_max;
	return 0;
}
