/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small file-system helpers. */
#pragma once

/* mkdir -p (mode 0755) of the directories above the file `path`: for
 * "/run/fdwatch/x.sock", /run and /run/fdwatch. 0 or -errno. */
int fdw_mkdir_parents(const char *path);
