/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Syscall arguments, portably (x86_64 and arm64).
 *
 * The syscall probes run at the syscall's exit and read its arguments from
 * the task's saved user registers, bpf_task_pt_regs(current): the struct
 * pt_regs the entry code saved, the very pointer the kernel's syscall
 * wrappers (__x64_sys_*, __arm64_sys_*) receive. So the arguments come out
 * of it with <bpf/bpf_tracing.h>'s PT_REGS_PARMn_SYSCALL() directly, with
 * no PT_REGS_SYSCALL_REGS() step: that one is for a kprobe on a wrapper,
 * whose own first argument is this pointer.
 *
 * The _SYSCALL flavours matter:
 *  - x86_64: the fourth argument is in r10, not rcx (which `syscall`
 *    clobbers with the return address);
 *  - arm64: by the exit tracepoint x0 holds the return value; the first
 *    argument survives in orig_x0.
 * The registers are otherwise left as the syscall found them.
 *
 * The pointer is a BTF pointer (PTR_TO_BTF_ID), so the plain macros' direct
 * loads are allowed, and cheaper than the _CORE_ flavours'
 * bpf_probe_read_kernel() per argument; the field offsets are CO-RE
 * relocated all the same (vmlinux.h types carry preserve_access_index).
 */
#ifndef FDWATCH_COMPAT_BPF_H
#define FDWATCH_COMPAT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#if !defined(bpf_target_x86) && !defined(bpf_target_arm64)
#error "fdwatch's probes read x86_64 or arm64 registers: build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

/* libbpf before 1.2 (e.g. Debian 12's 1.1) stops at the fifth argument. */
#ifndef PT_REGS_PARM6_SYSCALL
#if defined(bpf_target_x86)
#define PT_REGS_PARM6_SYSCALL(x) ((x)->r9)
#else
#define PT_REGS_PARM6_SYSCALL(x) (((const struct user_pt_regs *)(x))->regs[5])
#endif
#endif

#ifndef bpf_ksym_exists /* libbpf < 1.2 */
#define bpf_ksym_exists(sym) (!!(sym))
#endif

/* The current task's saved user registers: see above. */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

#endif /* FDWATCH_COMPAT_BPF_H */
