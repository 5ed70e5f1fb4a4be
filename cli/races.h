/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `fdwatch races` and `fdwatch explain KIND` (cli/races.c). */
#ifndef FDWATCH_CLI_RACES_H
#define FDWATCH_CLI_RACES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "render.h"

/* GET /v1/races as a table: one line per finding. 0 or -EBADMSG/-EIO. */
int fdw_render_races(const struct fdw_render *r, const json_t *doc);

/* The explanation of a finding kind on `f`, plain or (json) as one object
 * {"kind", "text"}: 0, or -ENOENT (unknown kind), -ENOMEM, -EIO. */
int fdw_races_explain(FILE *f, const char *kind, bool json);
/* The kinds explain knows, one per line. */
void fdw_races_explain_list(FILE *f);

#endif
