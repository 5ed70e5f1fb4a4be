/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "capture/event.h"

/*
 * Check one ring-buffer record and unpack it into *ev. ev->path points
 * into `data` (valid while the record is). Returns 0, or -EPROTO for an
 * ABI version mismatch, -EBADMSG for a malformed record (wrong size, unknown
 * type, out-of-range counts).
 */
int fdw_decode(const void *data, size_t len, struct fdw_event *ev);
