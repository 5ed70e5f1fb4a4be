/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The start-up snapshot's record (bpf/snapshot.bpf.c writes one per task
 * with a descriptor table, then one per open fd of every task that owns a
 * table of its own, then one end record; daemon/capture/snapshot.c
 * reads them from the iterator's file). Fixed-width fields; `size` is the
 * record's full size, the target follows the fixed part (not terminated).
 */
#ifndef FDWATCH_SNAPSHOT_H
#define FDWATCH_SNAPSHOT_H

#ifdef __bpf__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define FDW_SNAP_TARGET_MAX 4096

/* flags */
#define FDW_SNAP_CLOEXEC   0x1 /* close-on-exec set for this fd */
#define FDW_SNAP_NO_TARGET 0x2 /* d_path failed (too long, ...): read /proc */
#define FDW_SNAP_TASK	   0x4 /* a task (iter/task), not an fd: fd, kfile, inode 0 */
#define FDW_SNAP_END	   0x8 /* the fd walk's end (written once, last): only pos */

struct fdw_snap_rec {
	__u16 size;	  /* sizeof(fixed part) + target_len, rounded up to 8 */
	__u16 target_len;
	__u32 flags;	  /* FDW_SNAP_* */
	__u32 tgid;	  /* process (global pid, as the probes report it) */
	__u32 tid;	  /* the task: the leader, or a thread with a table of its own */
	__u32 fd;
	__u32 f_flags;	  /* the open file's status flags (O_ACCMODE, O_APPEND, ...) */
	__u32 mode;	  /* inode's S_IFMT bits (0: anon inode) */
	__u32 dev;	  /* inode's superblock: major << 20 | minor */
	__u64 ino;
	__u64 files;	  /* files_struct address: equal for tasks sharing a table */
	__u64 kfile;	  /* struct file address: equal for fds sharing an open file */
	__u64 f_op;	  /* its file operations (what kind of file it is) */
	__u64 pos;	  /* the probes' ring producer position + 1 when this
			   * record was written (fdw_capture_position()'s
			   * scale): every syscall whose record lies below it
			   * had returned, so this table already shows it;
			   * 0: unknown */
	/* then target_len bytes: d_path(&file->f_path), what
	 * readlink(/proc/PID/fd/N) shows */
};

#endif /* FDWATCH_SNAPSHOT_H */
