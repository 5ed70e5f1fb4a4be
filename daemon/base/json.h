/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON helpers shared by every layer that renders (jansson). */
#pragma once

#include <jansson.h>

/*
 * A JSON string for bytes that need not be UTF-8 (paths, targets, comms):
 * valid UTF-8 is kept as is; any other byte becomes the four characters
 * "\xNN". Never NULL for a non-NULL `s` unless out of memory; NULL `s` gives
 * JSON null.
 */
json_t *fdw_json_bytes(const char *s);
