/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small file-system helpers. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p (mode 0755) of the directories above the file `path`: for
 * "/run/fdwatch/x.sock", /run and /run/fdwatch. 0 or -errno. */
int fdw_mkdir_parents(const char *path);

/* read(2) from fd into buf until the end of the file or until cap bytes,
 * EINTR retried: the number of bytes read, less than cap only at the end
 * of the file, or -errno (what was read before the error is dropped). */
ssize_t fdw_read_all(int fd, void *buf, size_t cap);
