/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside detect/ only: the pieces of an alert's JSON evidence that several
 * detectors share (fds with their provenance, limits, durations).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model/model.h"

struct leak_proc;

/* "42s", "17m", "3.5h", "2.0d"; "?" when negative. */
void leak_fmt_duration(double s, char *buf, size_t len);
/* A number, or JSON null when not known. */
json_t *leak_json_num(bool known, double v);
/* The syscall's name, or JSON null. */
json_t *leak_json_syscall(uint16_t nr);
/* Seconds from CLOCK_MONOTONIC `ts` to `now`, 0 when unknown. */
double leak_age_s(uint64_t ts, uint64_t now);
/* One fd with where it (and its open file description) came from. */
json_t *leak_json_slot(int fd, const struct fdw_slot *s, uint64_t now);
/* "limit_soft" and "limit_hard" of the process (null when unknown or unlimited). */
void leak_evidence_limits(json_t *o, const struct leak_proc *st);
