/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The current task's descriptor table: fd -> struct file -> inode. */
#ifndef FDWATCH_FDTABLE_BPF_H
#define FDWATCH_FDTABLE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "fdwatch_event.h"

/*
 * Reads here are direct loads through BTF pointers (the verifier turns them
 * into fault-safe loads: no helper call), not BPF_CORE_READ's one
 * bpf_probe_read_kernel() call per field: on the close and open paths those
 * calls were ~8% of a dup+close loop's CPU (perf). The one helper call left
 * is the fd array's slot (a pointer to pointers, which the verifier does not
 * index). A struct file found there is a plain address; bpf_rdonly_cast()
 * (Linux 6.2+) makes it a read-only BTF pointer again. Without it (the
 * daemon sets have_rdonly_cast from the kernel's BTF) the fallback branch
 * reads field by field; the verifier sees only the branch in use, the flag
 * being read-only.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

const volatile bool have_rdonly_cast = false;

/*
 * The struct file installed at `fd` in the task's table, NULL if none: the
 * one lookup every identity below starts from.
 */
static __always_inline struct file *file_at(struct task_struct *task, int fd)
{
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct file *file = NULL;

	if (fd < 0 || !files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]))
		return NULL;
	return file;
}

/* The identity of a struct file (file_at): its inode's number, mode, device. */
struct fdw_ident {
	__u64 ino;
	__u32 mode;
	__u32 dev;
};

static __always_inline bool file_ident(struct file *file, struct fdw_ident *id)
{
	struct inode *inode;

	if (!file)
		return false;
	if (have_rdonly_cast) {
		struct file *f = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));

		inode = f->f_inode;
		if (!inode)
			return false;
		id->ino = inode->i_ino;
		id->mode = inode->i_mode;
		id->dev = inode->i_sb->s_dev;
		return true;
	}
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return false;
	id->ino = BPF_CORE_READ(inode, i_ino);
	id->mode = BPF_CORE_READ(inode, i_mode);
	id->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	return true;
}

/* A record's first fd's identity: its struct file (file_at) and its inode. */
static __always_inline void fill_identity(struct fdw_fd_event *e, struct file *file)
{
	struct fdw_ident id;

	if (!file)
		return;
	e->file = (__u64)file;
	e->files[0] = (__u64)file;
	if (!file_ident(file, &id))
		return;
	e->ino = id.ino;
	e->mode = id.mode;
	e->dev = id.dev;
}

/* The inode number of a struct file (file_at), 0 if none. */
static __always_inline __u64 file_ino(struct file *file)
{
	struct fdw_ident id;

	return file_ident(file, &id) ? id.ino : 0;
}

#endif /* FDWATCH_FDTABLE_BPF_H */
