/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel and UAPI numbers the probes test. BTF, hence vmlinux.h, carries the
 * kernel's enums but none of its #defines; each name here is the kernel's
 * with a trailing underscore, so it can never collide with an enum a
 * kernel's BTF brings.
 */
#ifndef FDWATCH_CONSTS_BPF_H
#define FDWATCH_CONSTS_BPF_H

#define EBADF_ 9
#define O_CLOEXEC_ 02000000
#define CLONE_FILES_ 0x00000400
#define CLONE_PIDFD_ 0x00001000
#define CLONE_THREAD_ 0x00010000
#define PF_KTHREAD_ 0x00200000
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define SCM_PIDFD_ 4
#define FIONCLEX_ 0x5450
#define FIOCLEX_ 0x5451
#define F_DUPFD_ 0
#define F_SETFD_ 2
#define F_DUPFD_CLOEXEC_ 1030
#define CMSG_ALIGN_(len) (((len) + sizeof(long) - 1) & ~(sizeof(long) - 1))

#endif /* FDWATCH_CONSTS_BPF_H */
