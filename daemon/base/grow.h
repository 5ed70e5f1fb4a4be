/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/*
 * Room for element n of an array of *cap elements of `size` bytes at *v:
 * when n has reached *cap, the array is reallocated to twice as many
 * (`first` the first time). 0, or -ENOMEM with *v and *cap unchanged (also
 * when the new size does not fit a size_t). systemd's GREEDY_REALLOC, for
 * the appenders that keep (array, count, capacity).
 */
int fdw_grow(void **v, size_t *cap, size_t n, size_t size, size_t first);

/* FDW_GROW(array, count, capacity, first): capacity a size_t lvalue */
#define FDW_GROW(v, n, cap, first) fdw_grow((void **)&(v), &(cap), (n), sizeof(*(v)), (first))
