/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Human output for the fdwatch CLI: aligned column tables whose widths come
 * from the data, fixed-width rows for streams, and small pure formatters.
 */
#ifndef FDWATCH_CLI_OUTPUT_H
#define FDWATCH_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Column flags. */
#define FDW_COL_RIGHT 0x1	/* right-align (numbers) */
/* The cell quotes its strings itself, JSON-style ("a\nb", "x\\y"): its
 * backslashes are that quoting's, and only control bytes are escaped. */
#define FDW_COL_QUOTED 0x2

/* Columns are separated by this many spaces. */
#define FDW_COL_GAP 2

struct fdw_column {
	const char *name;
	unsigned int flags;
	size_t width;		/* fixed width for fdw_print_row(); 0 for tables */
};

struct fdw_table;

/* cols must outlive the table. */
int fdw_table_new(struct fdw_table **out, const struct fdw_column *cols,
		  size_t ncols);
void fdw_table_free(struct fdw_table *t);

/* Start a new row; its cells are empty ("") until set. */
int fdw_table_add_row(struct fdw_table *t);

/* Set a cell of the last row to a copy of text (NULL prints as "-").
 * Control characters are escaped as \xNN. */
int fdw_table_set(struct fdw_table *t, size_t col, const char *text);
/* The same, taking text (malloc'd, NULL prints as "-"): kept as it is
 * when nothing in it needs escaping; freed on error. */
int fdw_table_put(struct fdw_table *t, size_t col, char *text);

__attribute__((format(printf, 3, 4)))
int fdw_table_setf(struct fdw_table *t, size_t col, const char *fmt, ...);

size_t fdw_table_rows(const struct fdw_table *t);

/* Put the rows in this order: row i becomes the old row order[i] (a
 * permutation of the rows). -ENOMEM leaves the table as it was. */
int fdw_table_reorder(struct fdw_table *t, const size_t *order);
const char *fdw_table_cell(const struct fdw_table *t, size_t row, size_t col);

/* Width of column col: the widest cell, and the heading when headings. */
size_t fdw_table_width(const struct fdw_table *t, size_t col, bool headings);

/* Print the table (and the heading line when headings). Returns 0 or
 * -errno when writing failed. The last column is never padded. */
int fdw_table_print(const struct fdw_table *t, FILE *f, bool headings);

/* How a table is printed. */
struct fdw_table_style {
	bool headings;
	bool raw;	/* no alignment, one space between columns, spaces in
			 * cells as \x20 (backslashes are \x5c in every cell
			 * already: fdw_escape()) (lsfd -r) */
	bool color;	/* SGR colors of the cells, bold headings */
};

/* Color of a cell of the last row: an SGR parameter string ("31", "1;33")
 * that must outlive the table (a literal), or NULL for none. */
int fdw_table_set_color(struct fdw_table *t, size_t col, const char *sgr);

int fdw_table_print_style(const struct fdw_table *t, FILE *f,
			  const struct fdw_table_style *st);

/*
 * The sparkline of n values in at most width characters (values are
 * averaged into buckets when there are more): Unicode blocks
 * (U+2581..U+2588) when utf8, else ASCII "_.-=+*#@". Scaled from the
 * smallest to the largest value (a flat line is all lowest). buf gets ""
 * for n == 0.
 */
void fdw_sparkline(char *buf, size_t size, const double *v, size_t n,
		   size_t width, bool utf8);

/* A short duration: "45s", "16m", "3h", "2d" (rounded down); "-" when < 0
 * or not finite. */
void fdw_format_short_duration(char *buf, size_t size, double seconds);

/* Print one row with the columns' fixed widths (cells that are longer
 * push the rest right). cells[i] NULL prints as "-". Not escaped. */
int fdw_print_row(FILE *f, const struct fdw_column *cols, size_t ncols,
		  const char *const *cells);
/* fdw_print_row() with an SGR color per cell (sgr[i] NULL: none), the
 * padding outside the colors. */
int fdw_print_row_color(FILE *f, const struct fdw_column *cols, size_t ncols,
			const char *const *cells, const char *const *sgr);
/* The heading line for fdw_print_row(). */
int fdw_print_heading(FILE *f, const struct fdw_column *cols, size_t ncols);

/* Display width: UTF-8 code points (continuation bytes don't count). */
size_t fdw_text_width(const char *s);

/* Copy of s with control bytes (< 0x20, 0x7f) and the backslash written as
 * \xNN (a backslash is \x5c: no two texts escape alike); NULL on ENOMEM. */
char *fdw_escape(const char *s);

/* Age of ts at now in one unit, floored: "3s", "5m", "2h", "4d"; "0s" for
 * a timestamp in the future; "-" when !known. */
void fdw_format_age(char *buf, size_t size, double now, double ts, bool known);

/* A duration such as an uptime: "12s", "5m 3s", "1h 2m 5s", "2d 3h 4m". */
void fdw_format_duration(char *buf, size_t size, double seconds);

/* Local wall-clock time of a unix timestamp: "HH:MM:SS.mmm"; "-" when
 * !known. */
void fdw_format_clock(char *buf, size_t size, double ts, bool known);

/* "-9 (EBADF)" for a failure (errname may be NULL: derived from -ret),
 * "10" otherwise. */
void fdw_format_ret(char *buf, size_t size, long long ret,
		    const char *errname);

#endif /* FDWATCH_CLI_OUTPUT_H */
