// SPDX-License-Identifier: LGPL-2.1-or-later
/* The decoding tables: see symbols.h. */
#include <stdio.h>
#include <string.h>

#include "common/symbols.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SYM(v, n) { (uint64_t)(v), n }
#define VALUE_SET(n, t) { .name = n, .kind = FDW_SYM_VALUE, .values = t, .nvalues = ARRAY_SIZE(t) }
#define FLAG_SET(n, f) { .name = n, .kind = FDW_SYM_FLAGS, .flags = f, .nflags = ARRAY_SIZE(f) }
#define FIELD_SET(n, v, m, f)                                                             \
	{ .name = n, .kind = FDW_SYM_FLAGS, .values = v, .nvalues = ARRAY_SIZE(v),         \
	  .field_mask = m, .flags = f, .nflags = ARRAY_SIZE(f) }

/* ---- open(2) flags (asm-generic/fcntl.h, octal as the kernel has them) -- */

static const struct fdw_sym accmode[] = {
	SYM(00, "O_RDONLY"), SYM(01, "O_WRONLY"), SYM(02, "O_RDWR"),
};

#define OPEN_STATUS_FLAGS                                                              \
	SYM(0100, "O_CREAT"), SYM(0200, "O_EXCL"), SYM(0400, "O_NOCTTY"),              \
	SYM(01000, "O_TRUNC"), SYM(02000, "O_APPEND"), SYM(04000, "O_NONBLOCK"),       \
	SYM(04010000, "O_SYNC"), SYM(010000, "O_DSYNC"), SYM(020000, "O_ASYNC"),       \
	SYM(040000, "O_DIRECT"), SYM(0100000, "O_LARGEFILE"),                          \
	SYM(020200000, "O_TMPFILE"), SYM(0200000, "O_DIRECTORY"),                      \
	SYM(0400000, "O_NOFOLLOW"), SYM(01000000, "O_NOATIME"),                        \
	SYM(02000000, "O_CLOEXEC"), SYM(010000000, "O_PATH")

static const struct fdw_sym open_flag_bits[] = { OPEN_STATUS_FLAGS };

static const struct fdw_symset open_flags = FIELD_SET("open_flags", accmode, 03, open_flag_bits);

/* F_SETFL's argument: the status flags without the access mode. */
static const struct fdw_symset status_flags = FLAG_SET("status_flags", open_flag_bits);

static const struct fdw_sym cloexec_bit[] = { SYM(02000000, "O_CLOEXEC") };
static const struct fdw_symset cloexec_flags = FLAG_SET("cloexec_flags", cloexec_bit);

static const struct fdw_sym pipe_bits[] = {
	SYM(0200, "O_NOTIFICATION_PIPE"), SYM(04000, "O_NONBLOCK"), SYM(040000, "O_DIRECT"),
	SYM(02000000, "O_CLOEXEC"),
};
static const struct fdw_symset pipe_flags = FLAG_SET("pipe_flags", pipe_bits);

static const struct fdw_sym at_fdcwd[] = { SYM((uint64_t)(int64_t)-100, "AT_FDCWD") };
static const struct fdw_symset dirfd = VALUE_SET("dirfd", at_fdcwd);

static const struct fdw_symset mode = { .name = "mode", .kind = FDW_SYM_OCTAL };
static const struct fdw_symset ubound = { .name = "ubound", .kind = FDW_SYM_UINT };

/* ---- fcntl(2), close_range(2) ------------------------------------------- */

static const struct fdw_sym fcntl_cmds[] = {
	SYM(0, "F_DUPFD"), SYM(1, "F_GETFD"), SYM(2, "F_SETFD"), SYM(3, "F_GETFL"),
	SYM(4, "F_SETFL"), SYM(5, "F_GETLK"), SYM(6, "F_SETLK"), SYM(7, "F_SETLKW"),
	SYM(8, "F_SETOWN"), SYM(9, "F_GETOWN"), SYM(10, "F_SETSIG"), SYM(11, "F_GETSIG"),
	SYM(36, "F_OFD_GETLK"), SYM(37, "F_OFD_SETLK"), SYM(38, "F_OFD_SETLKW"),
	SYM(1024, "F_SETLEASE"), SYM(1025, "F_GETLEASE"), SYM(1026, "F_NOTIFY"),
	SYM(1030, "F_DUPFD_CLOEXEC"), SYM(1031, "F_SETPIPE_SZ"), SYM(1032, "F_GETPIPE_SZ"),
	SYM(1033, "F_ADD_SEALS"), SYM(1034, "F_GET_SEALS"),
};
static const struct fdw_symset fcntl_cmd = VALUE_SET("fcntl_cmd", fcntl_cmds);

static const struct fdw_sym fd_bits[] = { SYM(1, "FD_CLOEXEC") };
static const struct fdw_symset fd_flags = FLAG_SET("fd_flags", fd_bits);

static const struct fdw_sym close_range_bits[] = {
	SYM(1u << 1, "CLOSE_RANGE_UNSHARE"), SYM(1u << 2, "CLOSE_RANGE_CLOEXEC"),
};
static const struct fdw_symset close_range_flags = FLAG_SET("close_range_flags", close_range_bits);

/* ---- sockets ------------------------------------------------------------ */

static const struct fdw_sym af_names[] = {
	SYM(0, "AF_UNSPEC"), SYM(1, "AF_UNIX"), SYM(2, "AF_INET"), SYM(3, "AF_AX25"),
	SYM(4, "AF_IPX"), SYM(5, "AF_APPLETALK"), SYM(6, "AF_NETROM"), SYM(7, "AF_BRIDGE"),
	SYM(8, "AF_ATMPVC"), SYM(9, "AF_X25"), SYM(10, "AF_INET6"), SYM(11, "AF_ROSE"),
	SYM(12, "AF_DECnet"), SYM(13, "AF_NETBEUI"), SYM(14, "AF_SECURITY"), SYM(15, "AF_KEY"),
	SYM(16, "AF_NETLINK"), SYM(17, "AF_PACKET"), SYM(18, "AF_ASH"), SYM(19, "AF_ECONET"),
	SYM(20, "AF_ATMSVC"), SYM(21, "AF_RDS"), SYM(22, "AF_SNA"), SYM(23, "AF_IRDA"),
	SYM(24, "AF_PPPOX"), SYM(25, "AF_WANPIPE"), SYM(26, "AF_LLC"), SYM(27, "AF_IB"),
	SYM(28, "AF_MPLS"), SYM(29, "AF_CAN"), SYM(30, "AF_TIPC"), SYM(31, "AF_BLUETOOTH"),
	SYM(32, "AF_IUCV"), SYM(33, "AF_RXRPC"), SYM(34, "AF_ISDN"), SYM(35, "AF_PHONET"),
	SYM(36, "AF_IEEE802154"), SYM(37, "AF_CAIF"), SYM(38, "AF_ALG"), SYM(39, "AF_NFC"),
	SYM(40, "AF_VSOCK"), SYM(41, "AF_KCM"), SYM(42, "AF_QIPCRTR"), SYM(43, "AF_SMC"),
	SYM(44, "AF_XDP"), SYM(45, "AF_MCTP"),
};
static const struct fdw_symset af = VALUE_SET("socket_domain", af_names);

static const struct fdw_sym sock_types[] = {
	SYM(1, "SOCK_STREAM"), SYM(2, "SOCK_DGRAM"), SYM(3, "SOCK_RAW"), SYM(4, "SOCK_RDM"),
	SYM(5, "SOCK_SEQPACKET"), SYM(6, "SOCK_DCCP"), SYM(10, "SOCK_PACKET"),
};
static const struct fdw_sym sock_bits[] = {
	SYM(04000, "SOCK_NONBLOCK"), SYM(02000000, "SOCK_CLOEXEC"),
};
static const struct fdw_symset sock_type = FIELD_SET("socket_type", sock_types, 0xf, sock_bits);
static const struct fdw_symset sock_flags = FLAG_SET("socket_flags", sock_bits);

static const struct fdw_sym ipprotos[] = {
	SYM(0, "IPPROTO_IP"), SYM(1, "IPPROTO_ICMP"), SYM(2, "IPPROTO_IGMP"),
	SYM(6, "IPPROTO_TCP"), SYM(17, "IPPROTO_UDP"), SYM(41, "IPPROTO_IPV6"),
	SYM(58, "IPPROTO_ICMPV6"), SYM(132, "IPPROTO_SCTP"), SYM(136, "IPPROTO_UDPLITE"),
	SYM(255, "IPPROTO_RAW"), SYM(262, "IPPROTO_MPTCP"),
};
static const struct fdw_symset ipproto = VALUE_SET("ipproto", ipprotos);

static const struct fdw_sym msg_bits[] = {
	SYM(0x1, "MSG_OOB"), SYM(0x2, "MSG_PEEK"), SYM(0x4, "MSG_DONTROUTE"),
	SYM(0x8, "MSG_CTRUNC"), SYM(0x10, "MSG_PROXY"), SYM(0x20, "MSG_TRUNC"),
	SYM(0x40, "MSG_DONTWAIT"), SYM(0x80, "MSG_EOR"), SYM(0x100, "MSG_WAITALL"),
	SYM(0x200, "MSG_FIN"), SYM(0x400, "MSG_SYN"), SYM(0x800, "MSG_CONFIRM"),
	SYM(0x1000, "MSG_RST"), SYM(0x2000, "MSG_ERRQUEUE"), SYM(0x4000, "MSG_NOSIGNAL"),
	SYM(0x8000, "MSG_MORE"), SYM(0x10000, "MSG_WAITFORONE"), SYM(0x40000000, "MSG_CMSG_CLOEXEC"),
};
static const struct fdw_symset msg_flags = FLAG_SET("msg_flags", msg_bits);

static const struct fdw_sym sol_levels[] = { SYM(1, "SOL_SOCKET") };
static const struct fdw_symset sol_level = VALUE_SET("sol_level", sol_levels);

static const struct fdw_sym so_opts[] = {
	SYM(17, "SO_PEERCRED"), SYM(31, "SO_PEERSEC"), SYM(59, "SO_PEERGROUPS"),
	SYM(77, "SO_PEERPIDFD"),
};
static const struct fdw_symset so_opt = VALUE_SET("so_opt", so_opts);

/* ---- the *fd families ---------------------------------------------------- */

#define CLOEXEC_NONBLOCK(prefix) SYM(04000, prefix "NONBLOCK"), SYM(02000000, prefix "CLOEXEC")

static const struct fdw_sym efd_bits[] = { SYM(1, "EFD_SEMAPHORE"), CLOEXEC_NONBLOCK("EFD_") };
static const struct fdw_symset efd_flags = FLAG_SET("eventfd_flags", efd_bits);
static const struct fdw_sym epoll_bits[] = { SYM(02000000, "EPOLL_CLOEXEC") };
static const struct fdw_symset epoll_flags = FLAG_SET("epoll_flags", epoll_bits);
static const struct fdw_sym sfd_bits[] = { CLOEXEC_NONBLOCK("SFD_") };
static const struct fdw_symset sfd_flags = FLAG_SET("signalfd_flags", sfd_bits);
static const struct fdw_sym tfd_bits[] = { CLOEXEC_NONBLOCK("TFD_") };
static const struct fdw_symset tfd_flags = FLAG_SET("timerfd_flags", tfd_bits);
static const struct fdw_sym in_bits[] = { CLOEXEC_NONBLOCK("IN_") };
static const struct fdw_symset in_flags = FLAG_SET("inotify_flags", in_bits);
static const struct fdw_sym uffd_bits[] = { SYM(1, "UFFD_USER_MODE_ONLY"), CLOEXEC_NONBLOCK("O_") };
static const struct fdw_symset uffd_flags = FLAG_SET("userfaultfd_flags", uffd_bits);
static const struct fdw_sym pidfd_bits[] = {
	SYM(0200, "PIDFD_THREAD"), SYM(04000, "PIDFD_NONBLOCK"),
};
static const struct fdw_symset pidfd_flags = FLAG_SET("pidfd_flags", pidfd_bits);

static const struct fdw_sym clocks[] = {
	SYM(0, "CLOCK_REALTIME"), SYM(1, "CLOCK_MONOTONIC"), SYM(2, "CLOCK_PROCESS_CPUTIME_ID"),
	SYM(3, "CLOCK_THREAD_CPUTIME_ID"), SYM(4, "CLOCK_MONOTONIC_RAW"),
	SYM(5, "CLOCK_REALTIME_COARSE"), SYM(6, "CLOCK_MONOTONIC_COARSE"), SYM(7, "CLOCK_BOOTTIME"),
	SYM(8, "CLOCK_REALTIME_ALARM"), SYM(9, "CLOCK_BOOTTIME_ALARM"), SYM(11, "CLOCK_TAI"),
};
static const struct fdw_symset clockid = VALUE_SET("clockid", clocks);

static const struct fdw_sym fan_classes[] = {
	SYM(0x0, "FAN_CLASS_NOTIF"), SYM(0x4, "FAN_CLASS_CONTENT"), SYM(0x8, "FAN_CLASS_PRE_CONTENT"),
};
static const struct fdw_sym fan_bits[] = {
	SYM(0x1, "FAN_CLOEXEC"), SYM(0x2, "FAN_NONBLOCK"), SYM(0x10, "FAN_UNLIMITED_QUEUE"),
	SYM(0x20, "FAN_UNLIMITED_MARKS"), SYM(0x40, "FAN_ENABLE_AUDIT"), SYM(0x80, "FAN_REPORT_PIDFD"),
	SYM(0x100, "FAN_REPORT_TID"), SYM(0x200, "FAN_REPORT_FID"), SYM(0x400, "FAN_REPORT_DIR_FID"),
	SYM(0x800, "FAN_REPORT_NAME"), SYM(0x1000, "FAN_REPORT_TARGET_FID"),
};
static const struct fdw_symset fan_flags = FIELD_SET("fanotify_flags", fan_classes, 0xc, fan_bits);

static const struct fdw_sym mfd_bits[] = {
	SYM(0x1, "MFD_CLOEXEC"), SYM(0x2, "MFD_ALLOW_SEALING"), SYM(0x4, "MFD_HUGETLB"),
	SYM(0x8, "MFD_NOEXEC_SEAL"), SYM(0x10, "MFD_EXEC"),
};
static const struct fdw_symset mfd_flags = FLAG_SET("memfd_flags", mfd_bits);

static const struct fdw_sym perf_bits[] = {
	SYM(0x1, "PERF_FLAG_FD_NO_GROUP"), SYM(0x2, "PERF_FLAG_FD_OUTPUT"),
	SYM(0x4, "PERF_FLAG_PID_CGROUP"), SYM(0x8, "PERF_FLAG_FD_CLOEXEC"),
};
static const struct fdw_symset perf_flags = FLAG_SET("perf_flags", perf_bits);

/* ---- clone, unshare ------------------------------------------------------ */

static const struct fdw_sym signals[] = {
	SYM(1, "SIGHUP"), SYM(2, "SIGINT"), SYM(3, "SIGQUIT"), SYM(4, "SIGILL"),
	SYM(5, "SIGTRAP"), SYM(6, "SIGABRT"), SYM(7, "SIGBUS"), SYM(8, "SIGFPE"),
	SYM(9, "SIGKILL"), SYM(10, "SIGUSR1"), SYM(11, "SIGSEGV"), SYM(12, "SIGUSR2"),
	SYM(13, "SIGPIPE"), SYM(14, "SIGALRM"), SYM(15, "SIGTERM"), SYM(16, "SIGSTKFLT"),
	SYM(17, "SIGCHLD"), SYM(18, "SIGCONT"), SYM(19, "SIGSTOP"), SYM(20, "SIGTSTP"),
	SYM(21, "SIGTTIN"), SYM(22, "SIGTTOU"), SYM(23, "SIGURG"), SYM(24, "SIGXCPU"),
	SYM(25, "SIGXFSZ"), SYM(26, "SIGVTALRM"), SYM(27, "SIGPROF"), SYM(28, "SIGWINCH"),
	SYM(29, "SIGIO"), SYM(30, "SIGPWR"), SYM(31, "SIGSYS"),
};

#define CLONE_BITS                                                                       \
	SYM(0x100, "CLONE_VM"), SYM(0x200, "CLONE_FS"), SYM(0x400, "CLONE_FILES"),       \
	SYM(0x800, "CLONE_SIGHAND"), SYM(0x1000, "CLONE_PIDFD"), SYM(0x2000, "CLONE_PTRACE"), \
	SYM(0x4000, "CLONE_VFORK"), SYM(0x8000, "CLONE_PARENT"), SYM(0x10000, "CLONE_THREAD"), \
	SYM(0x20000, "CLONE_NEWNS"), SYM(0x40000, "CLONE_SYSVSEM"), SYM(0x80000, "CLONE_SETTLS"), \
	SYM(0x100000, "CLONE_PARENT_SETTID"), SYM(0x200000, "CLONE_CHILD_CLEARTID"),     \
	SYM(0x400000, "CLONE_DETACHED"), SYM(0x800000, "CLONE_UNTRACED"),                \
	SYM(0x1000000, "CLONE_CHILD_SETTID"), SYM(0x2000000, "CLONE_NEWCGROUP"),         \
	SYM(0x4000000, "CLONE_NEWUTS"), SYM(0x8000000, "CLONE_NEWIPC"),                  \
	SYM(0x10000000, "CLONE_NEWUSER"), SYM(0x20000000, "CLONE_NEWPID"),               \
	SYM(0x40000000, "CLONE_NEWNET"), SYM(0x80000000u, "CLONE_IO")

static const struct fdw_sym clone_bits[] = { CLONE_BITS };
/* clone's low byte is the signal the parent gets at the child's exit */
static const struct fdw_symset clone_flags = {
	.name = "clone_flags", .kind = FDW_SYM_FLAGS, .values = signals,
	.nvalues = ARRAY_SIZE(signals), .field_mask = 0xff, .field_last = true,
	.flags = clone_bits, .nflags = ARRAY_SIZE(clone_bits),
};
static const struct fdw_symset unshare_flags = FLAG_SET("unshare_flags", clone_bits);

/* ---- bpf, seccomp, landlock, mount API ----------------------------------- */

static const struct fdw_sym bpf_cmds[] = {
	SYM(0, "BPF_MAP_CREATE"), SYM(1, "BPF_MAP_LOOKUP_ELEM"), SYM(2, "BPF_MAP_UPDATE_ELEM"),
	SYM(3, "BPF_MAP_DELETE_ELEM"), SYM(4, "BPF_MAP_GET_NEXT_KEY"), SYM(5, "BPF_PROG_LOAD"),
	SYM(6, "BPF_OBJ_PIN"), SYM(7, "BPF_OBJ_GET"), SYM(8, "BPF_PROG_ATTACH"),
	SYM(9, "BPF_PROG_DETACH"), SYM(10, "BPF_PROG_TEST_RUN"), SYM(11, "BPF_PROG_GET_NEXT_ID"),
	SYM(12, "BPF_MAP_GET_NEXT_ID"), SYM(13, "BPF_PROG_GET_FD_BY_ID"),
	SYM(14, "BPF_MAP_GET_FD_BY_ID"), SYM(15, "BPF_OBJ_GET_INFO_BY_FD"),
	SYM(16, "BPF_PROG_QUERY"), SYM(17, "BPF_RAW_TRACEPOINT_OPEN"), SYM(18, "BPF_BTF_LOAD"),
	SYM(19, "BPF_BTF_GET_FD_BY_ID"), SYM(20, "BPF_TASK_FD_QUERY"),
	SYM(21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"), SYM(22, "BPF_MAP_FREEZE"),
	SYM(23, "BPF_BTF_GET_NEXT_ID"), SYM(24, "BPF_MAP_LOOKUP_BATCH"),
	SYM(25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"), SYM(26, "BPF_MAP_UPDATE_BATCH"),
	SYM(27, "BPF_MAP_DELETE_BATCH"), SYM(28, "BPF_LINK_CREATE"), SYM(29, "BPF_LINK_UPDATE"),
	SYM(30, "BPF_LINK_GET_FD_BY_ID"), SYM(31, "BPF_LINK_GET_NEXT_ID"),
	SYM(32, "BPF_ENABLE_STATS"), SYM(33, "BPF_ITER_CREATE"), SYM(34, "BPF_LINK_DETACH"),
	SYM(35, "BPF_PROG_BIND_MAP"), SYM(36, "BPF_TOKEN_CREATE"),
};
static const struct fdw_symset bpf_cmd = VALUE_SET("bpf_cmd", bpf_cmds);

static const struct fdw_sym seccomp_ops[] = {
	SYM(0, "SECCOMP_SET_MODE_STRICT"), SYM(1, "SECCOMP_SET_MODE_FILTER"),
	SYM(2, "SECCOMP_GET_ACTION_AVAIL"), SYM(3, "SECCOMP_GET_NOTIF_SIZES"),
};
static const struct fdw_symset seccomp_op = VALUE_SET("seccomp_op", seccomp_ops);
static const struct fdw_sym seccomp_bits[] = {
	SYM(1, "SECCOMP_FILTER_FLAG_TSYNC"), SYM(2, "SECCOMP_FILTER_FLAG_LOG"),
	SYM(4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"), SYM(8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"),
	SYM(16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"), SYM(32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
};
static const struct fdw_symset seccomp_flags = FLAG_SET("seccomp_flags", seccomp_bits);

static const struct fdw_sym landlock_bits[] = {
	SYM(1, "LANDLOCK_CREATE_RULESET_VERSION"), SYM(2, "LANDLOCK_CREATE_RULESET_ERRATA"),
};
static const struct fdw_sym addfd_bits[] = {
	SYM(1, "SECCOMP_ADDFD_FLAG_SETFD"), SYM(2, "SECCOMP_ADDFD_FLAG_SEND"),
};
static const struct fdw_symset addfd_flags = FLAG_SET("addfd_flags", addfd_bits);
static const struct fdw_symset landlock_flags = FLAG_SET("landlock_flags", landlock_bits);

static const struct fdw_sym fsopen_bits[] = { SYM(1, "FSOPEN_CLOEXEC") };
static const struct fdw_symset fsopen_flags = FLAG_SET("fsopen_flags", fsopen_bits);
static const struct fdw_sym fsmount_bits[] = { SYM(1, "FSMOUNT_CLOEXEC") };
static const struct fdw_symset fsmount_flags = FLAG_SET("fsmount_flags", fsmount_bits);
static const struct fdw_sym atime_modes[] = {
	SYM(0x00, "MOUNT_ATTR_RELATIME"), SYM(0x10, "MOUNT_ATTR_NOATIME"),
	SYM(0x20, "MOUNT_ATTR_STRICTATIME"),
};
static const struct fdw_sym mount_attr_bits[] = {
	SYM(0x1, "MOUNT_ATTR_RDONLY"), SYM(0x2, "MOUNT_ATTR_NOSUID"), SYM(0x4, "MOUNT_ATTR_NODEV"),
	SYM(0x8, "MOUNT_ATTR_NOEXEC"), SYM(0x80, "MOUNT_ATTR_NODIRATIME"),
	SYM(0x100000, "MOUNT_ATTR_IDMAP"), SYM(0x200000, "MOUNT_ATTR_NOSYMFOLLOW"),
};
static const struct fdw_symset mount_attrs =
	FIELD_SET("mount_attrs", atime_modes, 0x70, mount_attr_bits);
static const struct fdw_sym fspick_bits[] = {
	SYM(1, "FSPICK_CLOEXEC"), SYM(2, "FSPICK_SYMLINK_NOFOLLOW"), SYM(4, "FSPICK_NO_AUTOMOUNT"),
	SYM(8, "FSPICK_EMPTY_PATH"),
};
static const struct fdw_symset fspick_flags = FLAG_SET("fspick_flags", fspick_bits);
static const struct fdw_sym open_tree_bits[] = {
	SYM(1, "OPEN_TREE_CLONE"), SYM(0x100, "AT_SYMLINK_NOFOLLOW"), SYM(0x800, "AT_NO_AUTOMOUNT"),
	SYM(0x1000, "AT_EMPTY_PATH"), SYM(0x8000, "AT_RECURSIVE"), SYM(02000000, "OPEN_TREE_CLOEXEC"),
};
static const struct fdw_symset open_tree_flags = FLAG_SET("open_tree_flags", open_tree_bits);

/* ---- ioctl(2): the commands the probe keeps (bpf/consts.bpf.h) ------------ */

static const struct fdw_sym ioctl_cmds[] = {
	SYM(0x5441, "TIOCGPTPEER"), SYM(0x5450, "FIONCLEX"), SYM(0x5451, "FIOCLEX"),
	SYM(0xaa00, "USERFAULTFD_IOC_NEW"), SYM(0xae01, "KVM_CREATE_VM"),
	SYM(0xae41, "KVM_CREATE_VCPU"), SYM(0xaece, "KVM_GET_STATS_FD"), SYM(0x54e3, "TUNGETDEVNETNS"),
	SYM(0x894c, "SIOCGSKNS"), SYM(0xb701, "NS_GET_USERNS"), SYM(0xb702, "NS_GET_PARENT"),
	SYM(0x8010b70b, "NS_MNT_GET_NEXT"), SYM(0x8010b70c, "NS_MNT_GET_PREV"),
	SYM(0xff01, "PIDFD_GET_CGROUP_NAMESPACE"), SYM(0xff02, "PIDFD_GET_IPC_NAMESPACE"),
	SYM(0xff03, "PIDFD_GET_MNT_NAMESPACE"), SYM(0xff04, "PIDFD_GET_NET_NAMESPACE"),
	SYM(0xff05, "PIDFD_GET_PID_NAMESPACE"), SYM(0xff06, "PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE"),
	SYM(0xff07, "PIDFD_GET_TIME_NAMESPACE"), SYM(0xff08, "PIDFD_GET_TIME_FOR_CHILDREN_NAMESPACE"),
	SYM(0xff09, "PIDFD_GET_USER_NAMESPACE"), SYM(0xff0a, "PIDFD_GET_UTS_NAMESPACE"),
};
static const struct fdw_symset ioctl_cmd = VALUE_SET("ioctl_cmd", ioctl_cmds);

/* ---- io_uring opcodes (the ones that install or close fds) ---------------- */

static const struct fdw_sym uring_ops[] = {
	SYM(13, "IORING_OP_ACCEPT"), SYM(18, "IORING_OP_OPENAT"), SYM(19, "IORING_OP_CLOSE"),
	SYM(28, "IORING_OP_OPENAT2"), SYM(45, "IORING_OP_SOCKET"),
	SYM(54, "IORING_OP_FIXED_FD_INSTALL"),
};
static const struct fdw_symset uring_op = VALUE_SET("uring_op", uring_ops);

const struct fdw_symset *const fdw_symsets[] = {
	&open_flags, &status_flags, &cloexec_flags, &pipe_flags, &dirfd, &mode, &ubound,
	&fcntl_cmd, &fd_flags, &close_range_flags, &af, &sock_type, &sock_flags, &ipproto,
	&msg_flags, &sol_level, &so_opt, &efd_flags, &epoll_flags, &sfd_flags, &tfd_flags,
	&in_flags, &uffd_flags, &pidfd_flags, &clockid, &fan_flags, &mfd_flags, &perf_flags,
	&clone_flags, &unshare_flags, &bpf_cmd, &seccomp_op, &seccomp_flags, &addfd_flags,
	&landlock_flags,
	&fsopen_flags, &fsmount_flags, &mount_attrs, &fspick_flags, &open_tree_flags,
	&ioctl_cmd, &uring_op, NULL,
};

/* ---- which argument uses which set --------------------------------------- */

struct arg_rule {
	const char *syscall;
	const char *arg;
	const struct fdw_symset *set;
	const char *ctx;	/* the rule holds when arg ctx ... */
	uint64_t ctx_value;	/* ... has this value (ctx NULL: always) */
	uint64_t ctx_value2;	/* ... or this one */
};

#define ALWAYS(sc, a, s) { sc, a, s, NULL, 0, 0 }
#define WHEN(sc, a, s, c, v) { sc, a, s, c, v, v }
#define WHEN2(sc, a, s, c, v, v2) { sc, a, s, c, v, v2 }

static const struct arg_rule rules[] = {
	ALWAYS("dup3", "flags", &cloexec_flags),
	ALWAYS("fcntl", "cmd", &fcntl_cmd),
	WHEN("fcntl", "arg", &fd_flags, "cmd", 2),		/* F_SETFD */
	WHEN("fcntl", "arg", &status_flags, "cmd", 4),		/* F_SETFL */
	ALWAYS("close_range", "last", &ubound),
	ALWAYS("close_range", "flags", &close_range_flags),
	ALWAYS("open", "flags", &open_flags),
	ALWAYS("open", "mode", &mode),
	ALWAYS("openat", "dirfd", &dirfd),
	ALWAYS("openat", "flags", &open_flags),
	ALWAYS("openat", "mode", &mode),
	ALWAYS("openat2", "dirfd", &dirfd),
	ALWAYS("openat2", "how_flags", &open_flags),
	ALWAYS("creat", "mode", &mode),
	ALWAYS("socket", "domain", &af),
	ALWAYS("socket", "type", &sock_type),
	WHEN2("socket", "protocol", &ipproto, "domain", 2, 10),	/* AF_INET, AF_INET6 */
	ALWAYS("socketpair", "domain", &af),
	ALWAYS("socketpair", "type", &sock_type),
	WHEN2("socketpair", "protocol", &ipproto, "domain", 2, 10),
	ALWAYS("accept4", "flags", &sock_flags),
	ALWAYS("pipe2", "flags", &pipe_flags),
	ALWAYS("eventfd2", "flags", &efd_flags),
	ALWAYS("epoll_create1", "flags", &epoll_flags),
	ALWAYS("signalfd4", "flags", &sfd_flags),
	ALWAYS("timerfd_create", "clockid", &clockid),
	ALWAYS("timerfd_create", "flags", &tfd_flags),
	ALWAYS("inotify_init1", "flags", &in_flags),
	ALWAYS("fanotify_init", "flags", &fan_flags),
	ALWAYS("fanotify_init", "event_f_flags", &open_flags),
	ALWAYS("memfd_create", "flags", &mfd_flags),
	ALWAYS("userfaultfd", "flags", &uffd_flags),
	ALWAYS("perf_event_open", "flags", &perf_flags),
	ALWAYS("pidfd_open", "flags", &pidfd_flags),
	ALWAYS("open_by_handle_at", "flags", &open_flags),
	ALWAYS("recvmsg", "flags", &msg_flags),
	ALWAYS("recvmmsg", "flags", &msg_flags),
	ALWAYS("unshare", "flags", &unshare_flags),
	ALWAYS("clone", "flags", &clone_flags),
	ALWAYS("memfd_secret", "flags", &cloexec_flags),
	ALWAYS("bpf", "cmd", &bpf_cmd),
	ALWAYS("seccomp", "op", &seccomp_op),
	WHEN("seccomp", "flags", &seccomp_flags, "op", 1),	/* SECCOMP_SET_MODE_FILTER */
	ALWAYS("fsopen", "flags", &fsopen_flags),
	ALWAYS("fsmount", "flags", &fsmount_flags),
	ALWAYS("fsmount", "attr_flags", &mount_attrs),
	ALWAYS("fspick", "dirfd", &dirfd),
	ALWAYS("fspick", "flags", &fspick_flags),
	ALWAYS("open_tree", "dirfd", &dirfd),
	ALWAYS("open_tree", "flags", &open_tree_flags),
	ALWAYS("open_tree_attr", "dirfd", &dirfd),
	ALWAYS("open_tree_attr", "flags", &open_tree_flags),
	ALWAYS("seccomp_addfd", "addfd_flags", &addfd_flags),
	ALWAYS("seccomp_addfd", "newfd_flags", &cloexec_flags),
	ALWAYS("mq_open", "oflag", &open_flags),
	ALWAYS("mq_open", "mode", &mode),
	ALWAYS("landlock_create_ruleset", "flags", &landlock_flags),
	ALWAYS("ioctl", "cmd", &ioctl_cmd),
	WHEN2("ioctl", "arg", &open_flags, "cmd", 0x5441, 0xaa00), /* TIOCGPTPEER, USERFAULTFD_IOC_NEW */
	ALWAYS("getsockopt", "level", &sol_level),
	WHEN("getsockopt", "optname", &so_opt, "level", 1),
	ALWAYS("io_uring", "opcode", &uring_op),
};

const struct fdw_symset *fdw_sym_for_arg(const char *syscall, const char *arg,
					 fdw_sym_get_fn get, void *userdata)
{
	if (!syscall || !arg)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		const struct arg_rule *r = &rules[i];
		uint64_t v;

		/* the first bytes first: this runs for every argument of every
		 * event the API renders */
		if (r->syscall[0] != syscall[0] || r->arg[0] != arg[0] ||
		    strcmp(r->syscall, syscall) || strcmp(r->arg, arg))
			continue;
		if (!r->ctx)
			return r->set;
		if (get && get(userdata, r->ctx, &v) && (v == r->ctx_value || v == r->ctx_value2))
			return r->set;
	}
	return NULL;
}

/* ---- decoding ------------------------------------------------------------ */

static const char *lookup(const struct fdw_sym *t, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return NULL;
}

const char *fdw_sym_value_name(const struct fdw_symset *s, uint64_t v)
{
	if (!s || s->kind != FDW_SYM_VALUE)
		return NULL;
	/* int arguments come sign-extended or as 32-bit: compare both ways */
	return lookup(s->values, s->nvalues, v) ?:
	       (v >> 32 == 0 ? lookup(s->values, s->nvalues, (uint64_t)(int64_t)(int32_t)v) : NULL);
}

size_t fdw_sym_flag_names(const struct fdw_symset *s, uint64_t v, const char **names,
			  size_t max, char *hex)
{
	const char *field = NULL;
	uint64_t left = v;
	size_t n = 0;

	if (!s || s->kind != FDW_SYM_FLAGS || !max)
		return 0;
	if (s->field_mask) {
		const char *fn = lookup(s->values, s->nvalues, v & s->field_mask);

		if (fn) {
			field = fn;
			left &= ~s->field_mask;
		} else if (!(v & s->field_mask)) {
			left &= ~s->field_mask;
		}
	}
	if (field && !s->field_last)
		names[n++] = field;
	for (size_t i = 0; i < s->nflags && n < max; i++) {
		uint64_t bits = s->flags[i].value;

		if (bits && (left & bits) == bits) {
			names[n++] = s->flags[i].name;
			left &= ~bits;
		}
	}
	if (field && s->field_last && n < max)
		names[n++] = field;
	if (left && n < max) {
		(void)snprintf(hex, 24, "%#llx", (unsigned long long)left);
		names[n++] = hex;
	}
	return n;
}

int fdw_sym_format(const struct fdw_symset *s, uint64_t v, bool as_signed, char *buf,
		   size_t size)
{
	const char *names[FDW_SYM_MAX_NAMES];
	char hex[24];
	size_t n, len = 0;
	const char *name;

	switch (s ? s->kind : FDW_SYM_VALUE) {
	case FDW_SYM_VALUE:
		name = fdw_sym_value_name(s, v);
		if (name)
			return snprintf(buf, size, "%s", name);
		break;
	case FDW_SYM_FLAGS:
		n = fdw_sym_flag_names(s, v, names, FDW_SYM_MAX_NAMES, hex);
		if (!n)
			break;
		for (size_t i = 0; i < n; i++) {
			int w = snprintf(buf + (len < size ? len : size),
					 len < size ? size - len : 0, "%s%s", i ? "|" : "", names[i]);

			if (w < 0)
				return w;
			len += (size_t)w;
		}
		return (int)len;
	case FDW_SYM_OCTAL:
		return snprintf(buf, size, "%#llo", (unsigned long long)v);
	case FDW_SYM_UINT:
		if (v == UINT32_MAX || v == UINT64_MAX)
			return snprintf(buf, size, "%s", v == UINT32_MAX ? "~0U" : "~0ULL");
		break;
	}
	if (as_signed)
		return snprintf(buf, size, "%lld", (long long)v);
	return snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* ---- errno ---------------------------------------------------------------- */

const char *fdw_sym_errno(int64_t ret)
{
	/* the kernel-internal restart codes (include/linux/errno.h) */
	static const char *const internal[] = {
		"ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ENOIOCTLCMD",
		"ERESTART_RESTARTBLOCK",
	};

	if (ret >= 0 || ret < -4095)
		return NULL;
	if (-ret >= 512 && -ret <= 516)
		return internal[-ret - 512];
	/* strerrorname_np() is glibc 2.32+: Debian 12 has 2.36 */
	return strerrorname_np((int)-ret);
}

const char *fdw_sym_uring_op(uint64_t op)
{
	return lookup(uring_ops, ARRAY_SIZE(uring_ops), op);
}
