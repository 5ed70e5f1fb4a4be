/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel and UAPI numbers the probes test. BTF, hence vmlinux.h, carries the
 * kernel's enums but none of its #defines; each name here is the kernel's
 * with a trailing underscore, so it can never collide with an enum a
 * kernel's BTF brings. The values are the same on x86_64 and arm64
 * (asm-generic).
 */
#ifndef FDWATCH_CONSTS_BPF_H
#define FDWATCH_CONSTS_BPF_H

/* clone(2), clone3(2), unshare(2) flags (linux/sched.h) */
#define CLONE_FILES_ 0x00000400
#define CLONE_PIDFD_ 0x00001000

/* include/uapi/linux/magic.h: the anonymous inodes' filesystem */
#define ANON_INODE_FS_MAGIC_ 0x09041934

/* task_struct.flags (include/linux/sched.h) */
#define PF_KTHREAD_ 0x00200000

/* fcntl(2) commands (asm-generic/fcntl.h, linux/fcntl.h) */
#define F_DUPFD_ 0
#define F_SETFD_ 2
#define F_DUPFD_CLOEXEC_ 1030

/* sockets (asm-generic/socket.h, linux/socket.h) */
#define SOL_SOCKET_ 1
#define SO_PEERPIDFD_ 77
#define SCM_RIGHTS_ 1
#define SCM_PIDFD_ 4
#define CMSG_ALIGN_(len) (((len) + sizeof(long) - 1) & ~(sizeof(long) - 1))

/* seccomp(2) (linux/seccomp.h) */
#define SECCOMP_SET_MODE_FILTER_ 1
#define SECCOMP_FILTER_FLAG_NEW_LISTENER_ (1UL << 3)

/*
 * ioctl(2) commands. _IO(type, nr) is (type << 8 | nr) on x86_64 and arm64
 * (asm-generic/ioctl.h: no direction, no size).
 */
#define IO_(type, nr) (((type) << 8) | (nr))
#define FIONCLEX_ 0x5450			/* asm-generic/ioctls.h */
#define FIOCLEX_ 0x5451
#define TIOCGPTPEER_ IO_('T', 0x41)
#define NS_GET_USERNS_ IO_(0xb7, 0x1)		/* linux/nsfs.h */
#define NS_GET_PARENT_ IO_(0xb7, 0x2)
#define PIDFD_GET_CGROUP_NAMESPACE_ IO_(0xff, 1) /* linux/pidfd.h: the first ... */
#define PIDFD_GET_UTS_NAMESPACE_ IO_(0xff, 10)	/* ... and the last namespace */
#define USERFAULTFD_IOC_NEW_ IO_(0xaa, 0x00)	/* linux/userfaultfd.h */
#define KVM_CREATE_VM_ IO_(0xae, 0x01)		/* linux/kvm.h */
#define KVM_CREATE_VCPU_ IO_(0xae, 0x41)
#define KVM_GET_STATS_FD_ IO_(0xae, 0xce)
#define SIOCGSKNS_ 0x894c			/* linux/sockios.h: a socket's net ns */
#define TUNGETDEVNETNS_ IO_('T', 227)		/* linux/if_tun.h */
/* _IOR/_IOW/_IOWR(type, nr, size): direction << 30 | size << 16 | type << 8 | nr */
#define IOC_SIZE_MASK_ (0x3fffu << 16)
#define IOC_(dir, type, nr, size) (((dir) << 30) | ((size) << 16) | ((type) << 8) | (nr))
#define NS_MNT_GET_NEXT_ IOC_(2u, 0xb7, 11, 16) /* _IOR(NSIO, 11, struct mnt_ns_info) */
#define NS_MNT_GET_PREV_ IOC_(2u, 0xb7, 12, 16)
/* linux/seccomp.h: SECCOMP_IOWR(0, struct seccomp_notif), SECCOMP_IOW(3, addfd) */
#define SECCOMP_IOCTL_NOTIF_RECV_ IOC_(3u, '!', 0, 80)
#define SECCOMP_IOCTL_NOTIF_ADDFD_ IOC_(1u, '!', 3, 24)
#define SECCOMP_ADDFD_FLAG_SEND_ (1u << 1)

/* bpf(2) commands the vmlinux.h of an older kernel may lack */
#define BPF_TOKEN_CREATE_ 36

#endif /* FDWATCH_CONSTS_BPF_H */
