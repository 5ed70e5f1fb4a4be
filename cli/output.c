// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/symbols.h"
#include "output.h"

struct fdw_table {
	const struct fdw_column *cols;
	size_t ncols;
	char **cells;		/* nrows * ncols, row-major */
	const char **colors;	/* the same shape: SGR strings or NULL */
	size_t nrows;
	size_t cap;		/* rows allocated */
};

int fdw_table_new(struct fdw_table **out, const struct fdw_column *cols,
		  size_t ncols)
{
	struct fdw_table *t;

	if (!ncols)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cols = cols;
	t->ncols = ncols;
	*out = t;
	return 0;
}

void fdw_table_free(struct fdw_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->colors);
	free(t);
}

int fdw_table_add_row(struct fdw_table *t)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells;

		if (cap > SIZE_MAX / sizeof(char *) / t->ncols)
			return -ENOMEM;
		const char **colors;

		cells = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		colors = realloc(t->colors, cap * t->ncols * sizeof(char *));
		if (!colors)
			return -ENOMEM;
		t->colors = colors;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		t->cells[t->nrows * t->ncols + c] = NULL;
		t->colors[t->nrows * t->ncols + c] = NULL;
	}
	t->nrows++;
	return 0;
}

static char *escape(const char *s, bool backslash);

int fdw_table_set(struct fdw_table *t, size_t col, const char *text)
{
	char **cell;
	char *copy;

	if (!t->nrows || col >= t->ncols)
		return -EINVAL;
	copy = escape(text ? text : "-", !(t->cols[col].flags & FDW_COL_QUOTED));
	if (!copy)
		return -ENOMEM;
	cell = &t->cells[(t->nrows - 1) * t->ncols + col];
	free(*cell);
	*cell = copy;
	return 0;
}

/* What fdw_escape() writes as \xNN: control bytes, and the backslash
 * itself, so that a text's escape never reads like another text. */
static bool escaped_byte(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f || ch == '\\';
}

static bool escaped_byte_of(unsigned char ch, bool backslash)
{
	return backslash ? escaped_byte(ch) : ch < 0x20 || ch == 0x7f;
}

/*
 * A C1 control in UTF-8 (U+0080 to U+009F: C2 80 to C2 9F) at s: xterm and
 * VTE obey them as the ESC sequences they stand for (U+009B is CSI, U+009D
 * OSC), so a file named "\u009b2J" cleared the screen it was listed on.
 * Both bytes are written as \xNN.
 */
static bool c1_at(const char *s)
{
	return (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 &&
	       (unsigned char)s[1] <= 0x9f;
}

static bool needs_escape(const char *s, bool backslash)
{
	for (; *s; s++)
		if (escaped_byte_of((unsigned char)*s, backslash) || c1_at(s))
			return true;
	return false;
}

int fdw_table_put(struct fdw_table *t, size_t col, char *text)
{
	char **cell;

	if (!t->nrows || col >= t->ncols) {
		free(text);
		return -EINVAL;
	}
	if (!text || needs_escape(text, !(t->cols[col].flags & FDW_COL_QUOTED))) {
		char *copy = escape(text ? text : "-",
				    !(t->cols[col].flags & FDW_COL_QUOTED));

		free(text);
		if (!copy)
			return -ENOMEM;
		text = copy;
	}
	cell = &t->cells[(t->nrows - 1) * t->ncols + col];
	free(*cell);
	*cell = text;
	return 0;
}

int fdw_table_setf(struct fdw_table *t, size_t col, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = fdw_table_set(t, col, s);
	free(s);
	return r;
}

int fdw_table_reorder(struct fdw_table *t, const size_t *order)
{
	size_t n = t->nrows * t->ncols;
	char **cells = malloc((n ? n : 1) * sizeof(*cells));
	const char **colors = malloc((n ? n : 1) * sizeof(*colors));

	if (!cells || !colors) {
		free(cells);
		free(colors);
		return -ENOMEM;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		memcpy(cells + r * t->ncols, t->cells + order[r] * t->ncols,
		       t->ncols * sizeof(*cells));
		memcpy(colors + r * t->ncols, t->colors + order[r] * t->ncols,
		       t->ncols * sizeof(*colors));
	}
	free(t->cells);
	free(t->colors);
	t->cells = cells;
	t->colors = colors;
	t->cap = t->nrows;
	return 0;
}

size_t fdw_table_rows(const struct fdw_table *t)
{
	return t->nrows;
}

const char *fdw_table_cell(const struct fdw_table *t, size_t row, size_t col)
{
	const char *s;

	if (row >= t->nrows || col >= t->ncols)
		return NULL;
	s = t->cells[row * t->ncols + col];
	return s ? s : "";
}

size_t fdw_table_width(const struct fdw_table *t, size_t col, bool headings)
{
	size_t w = 0;

	if (col >= t->ncols)
		return 0;
	if (headings)
		w = fdw_text_width(t->cols[col].name);
	for (size_t r = 0; r < t->nrows; r++) {
		size_t cw = fdw_text_width(fdw_table_cell(t, r, col));

		if (cw > w)
			w = cw;
	}
	return w;
}

/* n spaces, without a printf format to interpret per cell */
static void put_spaces(FILE *f, size_t n)
{
	static const char spaces[] = "                                ";

	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		fwrite(spaces, 1, k, f);
		n -= k;
	}
}

static void put_cell(FILE *f, const char *s, size_t width, bool right,
		     bool last)
{
	size_t w = fdw_text_width(s);
	size_t pad = w < width ? width - w : 0;

	if (right)
		put_spaces(f, pad);
	fputs(s, f);
	if (!right && !last)
		put_spaces(f, pad);
}

static void put_line(FILE *f, const struct fdw_column *cols, size_t ncols,
		     const size_t *widths, const char *const *cells)
{
	for (size_t c = 0; c < ncols; c++) {
		if (c)
			put_spaces(f, FDW_COL_GAP);
		put_cell(f, cells[c] ? cells[c] : "-", widths[c],
			 cols[c].flags & FDW_COL_RIGHT, c + 1 == ncols);
	}
	fputc('\n', f);
}

int fdw_table_set_color(struct fdw_table *t, size_t col, const char *sgr)
{
	if (!t->nrows || col >= t->ncols)
		return -EINVAL;
	t->colors[(t->nrows - 1) * t->ncols + col] = sgr;
	return 0;
}

/*
 * A raw cell: spaces escaped too (lsfd -r). A cell was escaped once when
 * it was set (fdw_escape(): a backslash is \x5c already), so a backslash
 * here starts an escape and is not escaped a second time.
 */
static void put_raw(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == ' ')
			fputs("\\x20", f);
		else
			fputc(*s, f);
	}
}

static void put_styled_line(const struct fdw_table *t, FILE *f, const size_t *widths,
			    const char *const *cells, const char *const *colors,
			    const struct fdw_table_style *st)
{
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = cells[c] ? cells[c] : "-";
		const char *sgr = st->color && colors ? colors[c] : NULL;

		if (c)
			put_spaces(f, st->raw ? 1 : FDW_COL_GAP);
		if (st->raw) {
			put_raw(f, s);
			continue;
		}
		if (sgr) {
			/* padding outside the color, so alignment holds */
			size_t w = fdw_text_width(s);
			size_t pad = w < widths[c] ? widths[c] - w : 0;
			bool right = t->cols[c].flags & FDW_COL_RIGHT;

			if (right)
				put_spaces(f, pad);
			fprintf(f, "\033[%sm%s\033[0m", sgr, s);
			if (!right && c + 1 < t->ncols)
				put_spaces(f, pad);
		} else {
			put_cell(f, s, widths[c], t->cols[c].flags & FDW_COL_RIGHT,
				 c + 1 == t->ncols);
		}
	}
	fputc('\n', f);
}

static int stream_status(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

int fdw_table_print(const struct fdw_table *t, FILE *f, bool headings)
{
	const struct fdw_table_style st = { .headings = headings };

	return fdw_table_print_style(t, f, &st);
}

int fdw_table_print_style(const struct fdw_table *t, FILE *f,
			  const struct fdw_table_style *st)
{
	const char **cells, **heads = NULL;
	size_t *widths;

	widths = calloc(t->ncols, sizeof(*widths));
	cells = calloc(t->ncols, sizeof(*cells));
	heads = calloc(t->ncols, sizeof(*heads));
	if (!widths || !cells || !heads) {
		free(widths);
		free(cells);
		free(heads);
		return -ENOMEM;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		widths[c] = fdw_table_width(t, c, st->headings);
		heads[c] = "1";
	}
	if (st->headings) {
		for (size_t c = 0; c < t->ncols; c++)
			cells[c] = t->cols[c].name;
		put_styled_line(t, f, widths, cells, heads, st);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++)
			cells[c] = fdw_table_cell(t, r, c);
		put_styled_line(t, f, widths, cells, t->colors + r * t->ncols, st);
	}
	free(widths);
	free(cells);
	free(heads);
	return stream_status(f);
}

int fdw_print_row(FILE *f, const struct fdw_column *cols, size_t ncols,
		  const char *const *cells)
{
	size_t widths[32];

	if (ncols > sizeof(widths) / sizeof(widths[0]))
		return -EINVAL;
	for (size_t c = 0; c < ncols; c++)
		widths[c] = cols[c].width;
	put_line(f, cols, ncols, widths, cells);
	return stream_status(f);
}

int fdw_print_row_color(FILE *f, const struct fdw_column *cols, size_t ncols,
			const char *const *cells, const char *const *sgr)
{
	for (size_t c = 0; c < ncols; c++) {
		const char *s = cells[c] ? cells[c] : "-";
		size_t w = fdw_text_width(s);
		size_t pad = w < cols[c].width ? cols[c].width - w : 0;
		bool right = cols[c].flags & FDW_COL_RIGHT;

		if (c)
			put_spaces(f, FDW_COL_GAP);
		if (right)
			put_spaces(f, pad);
		if (sgr && sgr[c])
			fprintf(f, "\033[%sm%s\033[0m", sgr[c], s);
		else
			fputs(s, f);
		if (!right && c + 1 < ncols)
			put_spaces(f, pad);
	}
	fputc('\n', f);
	return stream_status(f);
}

int fdw_print_heading(FILE *f, const struct fdw_column *cols, size_t ncols)
{
	const char *names[32];

	if (ncols > sizeof(names) / sizeof(names[0]))
		return -EINVAL;
	for (size_t c = 0; c < ncols; c++)
		names[c] = cols[c].name;
	return fdw_print_row(f, cols, ncols, names);
}

size_t fdw_text_width(const char *s)
{
	size_t w = 0;

	if (!s)
		return 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

char *fdw_escape(const char *s)
{
	return escape(s, true);
}

static char *escape(const char *s, bool backslash)
{
	size_t n = 0;
	char *out, *p;

	for (const char *q = s; *q; q++) {
		if (c1_at(q)) {
			n += 8;
			q++;
		} else {
			n += escaped_byte_of((unsigned char)*q, backslash) ? 4 : 1;
		}
	}
	out = malloc(n + 1);
	if (!out)
		return NULL;
	p = out;
	for (unsigned int c1 = 0; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!c1 && c1_at(s))
			c1 = 2;
		if (c1 || escaped_byte_of(ch, backslash)) {
			static const char hex[] = "0123456789abcdef";

			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 0xf];
			if (c1)
				c1--;
		} else {
			*p++ = (char)ch;
		}
	}
	*p = '\0';
	return out;
}

void fdw_format_age(char *buf, size_t size, double now, double ts, bool known)
{
	double age;

	if (!known || !isfinite(ts) || !isfinite(now)) {
		(void)snprintf(buf, size, "-");
		return;
	}
	age = now - ts;
	if (age < 0)
		age = 0;
	if (age < 60)
		(void)snprintf(buf, size, "%llds", (long long)age);
	else if (age < 3600)
		(void)snprintf(buf, size, "%lldm", (long long)(age / 60));
	else if (age < 86400)
		(void)snprintf(buf, size, "%lldh", (long long)(age / 3600));
	else if (age < 1e15)
		(void)snprintf(buf, size, "%lldd", (long long)(age / 86400));
	else
		(void)snprintf(buf, size, "-");
}

void fdw_format_duration(char *buf, size_t size, double seconds)
{
	long long s, d, h, m;

	if (!isfinite(seconds) || seconds < 0 || seconds > 1e15) {
		(void)snprintf(buf, size, "-");
		return;
	}
	s = (long long)seconds;
	d = s / 86400;
	h = s % 86400 / 3600;
	m = s % 3600 / 60;
	s %= 60;
	if (d)
		(void)snprintf(buf, size, "%lldd %lldh %lldm", d, h, m);
	else if (h)
		(void)snprintf(buf, size, "%lldh %lldm %llds", h, m, s);
	else if (m)
		(void)snprintf(buf, size, "%lldm %llds", m, s);
	else
		(void)snprintf(buf, size, "%llds", s);
}

void fdw_format_clock(char *buf, size_t size, double ts, bool known)
{
	long long us;
	struct tm tm;
	time_t sec;
	long ms;

	/* Beyond 2^53 us (year 2255) a double no longer holds microseconds. */
	if (!known || !isfinite(ts) || ts < 0 || ts > 9e9) {
		(void)snprintf(buf, size, "-");
		return;
	}
	/* Round to the daemon's microseconds first: 0.1 is 0.0999999... */
	us = (long long)(ts * 1e6 + 0.5);
	sec = (time_t)(us / 1000000);
	ms = (long)(us % 1000000 / 1000);
	if (!localtime_r(&sec, &tm)) {
		(void)snprintf(buf, size, "-");
		return;
	}
	(void)snprintf(buf, size, "%02d:%02d:%02d.%03ld", tm.tm_hour,
		       tm.tm_min, tm.tm_sec, ms);
}

void fdw_format_ret(char *buf, size_t size, long long ret,
		    const char *errname)
{
	if (ret >= 0) {
		(void)snprintf(buf, size, "%lld", ret);
		return;
	}
	if ((!errname || !*errname) && ret >= -4095)
		errname = fdw_sym_errno(ret);
	if (errname && *errname)
		(void)snprintf(buf, size, "%lld (%s)", ret, errname);
	else
		(void)snprintf(buf, size, "%lld", ret);
}

void fdw_sparkline(char *buf, size_t size, const double *v, size_t n,
		   size_t width, bool utf8)
{
	static const char *const blocks[] = {
		"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
	};
	static const char ascii[] = "_.-=+*#@";
	double lo = INFINITY, hi = -INFINITY;
	size_t len = 0, cols;

	if (size)
		buf[0] = '\0';
	if (!n || !width || !size)
		return;
	cols = n < width ? n : width;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	for (size_t c = 0; c < cols; c++) {
		/* bucket c holds values [c*n/cols, (c+1)*n/cols) */
		size_t from = c * n / cols, to = (c + 1) * n / cols;
		double sum = 0;
		int level;

		if (to <= from)
			to = from + 1;
		for (size_t i = from; i < to; i++)
			sum += v[i];
		sum /= (double)(to - from);
		level = hi > lo ? (int)((sum - lo) / (hi - lo) * 7.0 + 0.5) : 0;
		if (level < 0)
			level = 0;
		if (level > 7)
			level = 7;
		if (utf8) {
			if (len + 4 > size)
				break;
			memcpy(buf + len, blocks[level], 3);
			len += 3;
		} else {
			if (len + 2 > size)
				break;
			buf[len++] = ascii[level];
		}
		buf[len] = '\0';
	}
}

void fdw_format_short_duration(char *buf, size_t size, double seconds)
{
	if (!isfinite(seconds) || seconds < 0 || seconds > 1e15)
		(void)snprintf(buf, size, "-");
	else if (seconds < 60)
		(void)snprintf(buf, size, "%llds", (long long)seconds);
	else if (seconds < 3600)
		(void)snprintf(buf, size, "%lldm", (long long)(seconds / 60));
	else if (seconds < 86400)
		(void)snprintf(buf, size, "%lldh", (long long)(seconds / 3600));
	else
		(void)snprintf(buf, size, "%lldd", (long long)(seconds / 86400));
}
