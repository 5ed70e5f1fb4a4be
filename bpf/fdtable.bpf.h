/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The current task's descriptor table: fd -> struct file -> inode. */
#ifndef FDWATCH_FDTABLE_BPF_H
#define FDWATCH_FDTABLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "fdwatch_event.h"

/*
 * The struct file installed at `fd` in the task's table, NULL if none: the
 * one lookup every identity below starts from.
 */
static __always_inline struct file *file_at(struct task_struct *task, int fd)
{
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct file **arr;
	struct file *file = NULL;

	if (fd < 0 || !files)
		return NULL;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &arr[fd]))
		return NULL;
	return file;
}

/* A record's first fd's identity: its struct file (file_at) and its inode. */
static __always_inline void fill_identity(struct fdw_fd_event *e, struct file *file)
{
	struct inode *inode;

	if (!file)
		return;
	e->file = (__u64)file;
	e->files[0] = (__u64)file;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return;
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->mode = BPF_CORE_READ(inode, i_mode);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
}

/* The inode number of a struct file (file_at), 0 if none. */
static __always_inline __u64 file_ino(struct file *file)
{
	struct inode *inode;

	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return 0;
	return BPF_CORE_READ(inode, i_ino);
}

#endif /* FDWATCH_FDTABLE_BPF_H */
