// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/symbols.h"
#include "jsoncheck.h"
#include "render.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const json_t *get(const json_t *obj, const char *key)
{
	return json_object_get(obj, key);
}

static char *dup_text(const char *s)
{
	return strdup(s);
}

char *fdw_json_text(const json_t *v)
{
	char *s = NULL;

	if (!v)
		return dup_text("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return dup_text(json_string_value(v));
	case JSON_INTEGER:
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT,
			     json_integer_value(v)) < 0)
			return NULL;
		return s;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(v)) < 0)
			return NULL;
		return s;
	case JSON_TRUE:
		return dup_text("yes");
	case JSON_FALSE:
		return dup_text("no");
	case JSON_OBJECT:
	case JSON_ARRAY:
		return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	case JSON_NULL:
	default:
		break;
	}
	return dup_text("-");
}

static char *text_of(const json_t *v)
{
	return fdw_json_text(v);
}

static char *age_text(double now, const json_t *ts)
{
	char buf[32];

	fdw_format_age(buf, sizeof(buf), now, json_number_value(ts),
		       json_is_number(ts));
	return dup_text(buf);
}

static char *clock_text(const json_t *ts)
{
	char buf[32];

	fdw_format_clock(buf, sizeof(buf), json_number_value(ts),
			 json_is_number(ts));
	return dup_text(buf);
}

/* Add a row made of cells (all malloc'd, NULL meaning ENOMEM); frees them. */
static int add_row(struct fdw_table *t, char **cells, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (!cells[i])
			r = -ENOMEM;
	if (!r)
		r = fdw_table_add_row(t);
	/* the cells move into the table, or are freed */
	for (size_t i = 0; i < n; i++) {
		if (r)
			free(cells[i]);
		else
			r = fdw_table_put(t, i, cells[i]);
	}
	return r;
}

/* Print "key: value" lines with the values aligned; frees vals. */
static int print_kv(FILE *f, const char *const *keys, char **vals, size_t n)
{
	size_t width = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (!vals[i])
			r = -ENOMEM;
		if (strlen(keys[i]) + 1 > width)
			width = strlen(keys[i]) + 1;
	}
	for (size_t i = 0; i < n && !r; i++) {
		char *v = fdw_escape(vals[i]);

		if (!v) {
			r = -ENOMEM;
			break;
		}
		fprintf(f, "%s:%*s %s\n", keys[i],
			(int)(width - strlen(keys[i]) - 1), "", v);
		free(v);
	}
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	if (!r && ferror(f))
		r = -EIO;
	return r;
}

struct sort_item {
	const json_t *v;
	json_int_t key;
	size_t index;
};

static int cmp_item(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The elements of arr sorted by the integer field key (stable). */
static int sort_by(const json_t *arr, const char *key, struct sort_item **out)
{
	size_t n = json_array_size(arr);
	struct sort_item *items;

	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i].v = json_array_get(arr, i);
		items[i].key = json_integer_value(get(items[i].v, key));
		items[i].index = i;
	}
	qsort(items, n, sizeof(*items), cmp_item);
	*out = items;
	return 0;
}

/*
 * One kind of table: every column it can print (the defaults first, in
 * their order, then the others), how one JSON item fills a row (every
 * column's cell, malloc'd; a NULL cell means out of memory) and, for
 * colors, the SGR of some cells.
 */
struct table_kind {
	const char *name;		/* "ps": what --list-columns is about */
	const struct fdw_column *cols;
	const char *const *help;	/* one line per column */
	size_t ncols;
	size_t ndefault;		/* the first ndefault columns */
	void (*fill)(const struct fdw_render *r, const json_t *item, char **cells);
	void (*color)(const json_t *item, const char **sgr);
};

#define MAX_COLS 24

/* The columns to print: -o COLS, +COLS after the defaults, or the defaults
 * (extra: indices of columns to put first, e.g. PID for fds -p). */
static int select_cols(const struct table_kind *k, const char *output, size_t *sel,
		       size_t *nsel, char *err, size_t errsize)
{
	const char *p = output;
	size_t n = 0;

	if (!output || *output == '+') {
		for (size_t c = 0; c < k->ndefault; c++)
			sel[n++] = c;
		if (!output) {
			*nsel = n;
			return 0;
		}
		p++;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t c;

		for (c = 0; c < k->ncols; c++)
			if (strlen(k->cols[c].name) == len &&
			    !strncasecmp(k->cols[c].name, p, len))
				break;
		if (c == k->ncols) {
			if (err)
				(void)snprintf(err, errsize, "unknown column '%.*s' for %s (try --list-columns)",
					       (int)len, p, k->name);
			return -EINVAL;
		}
		if (n == MAX_COLS) {
			if (err)
				(void)snprintf(err, errsize, "too many columns");
			return -EINVAL;
		}
		sel[n++] = c;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!n) {
		if (err)
			(void)snprintf(err, errsize, "no columns given");
		return -EINVAL;
	}
	*nsel = n;
	return 0;
}

/* A table with the selected columns; cols must hold MAX_COLS. */
static int new_selected(const struct fdw_render *r, const struct table_kind *k,
			struct fdw_column *cols, size_t *sel, size_t *nsel,
			struct fdw_table **t)
{
	if (k->ncols > MAX_COLS)
		return -EINVAL;
	if (select_cols(k, r->output, sel, nsel, NULL, 0) < 0)
		return -EINVAL;
	for (size_t i = 0; i < *nsel; i++)
		cols[i] = k->cols[sel[i]];
	return fdw_table_new(t, cols, *nsel);
}

static int fill_row(const struct fdw_render *r, const struct table_kind *k,
		    struct fdw_table *t, const size_t *sel, size_t nsel, const json_t *item)
{
	char *cells[MAX_COLS] = { NULL };
	const char *sgr[MAX_COLS] = { NULL };
	bool taken[MAX_COLS] = { false };
	char *picked[MAX_COLS];
	int ret;

	k->fill(r, item, cells);
	/* each selected cell moves to the row; a column asked for twice
	 * (-o PID,PID) gets a copy the second time */
	for (size_t i = 0; i < nsel; i++) {
		size_t c = sel[i];

		if (!cells[c] || !taken[c]) {
			picked[i] = cells[c];
			taken[c] = true;
		} else {
			picked[i] = strdup(cells[c]);
		}
	}
	for (size_t c = 0; c < k->ncols; c++)
		if (!taken[c])
			free(cells[c]);
	ret = add_row(t, picked, nsel);
	if (!ret && k->color && r->color) {
		k->color(item, sgr);
		for (size_t i = 0; i < nsel; i++)
			if (sgr[sel[i]])
				(void)fdw_table_set_color(t, i, sgr[sel[i]]);
	}
	return ret;
}

/* The pids of -p, when given: is pid one of them? */
static bool pid_wanted(const struct fdw_render *r, const json_t *item)
{
	json_int_t pid = json_integer_value(get(item, "pid"));

	if (!r->npids)
		return true;
	for (size_t i = 0; i < r->npids; i++)
		if (r->pids[i] == pid)
			return true;
	return false;
}

/* The items of arr (those keep() wants, when given) as a table, sorted
 * when items is given. */
static int print_items(const struct fdw_render *r, const struct table_kind *k,
		       const json_t *arr, const struct sort_item *items,
		       bool (*keep)(const struct fdw_render *r, const json_t *item))
{
	struct fdw_column cols[MAX_COLS];
	size_t sel[MAX_COLS], nsel = 0;
	struct fdw_table *t = NULL;
	int ret;

	ret = new_selected(r, k, cols, sel, &nsel, &t);
	for (size_t i = 0; !ret && i < json_array_size(arr); i++) {
		const json_t *item = items ? items[i].v : json_array_get(arr, i);

		if (!keep || keep(r, item))
			ret = fill_row(r, k, t, sel, nsel, item);
	}
	if (!ret) {
		struct fdw_table_style st = {
			.headings = r->headings, .raw = r->raw, .color = r->color,
		};

		ret = fdw_table_print_style(t, r->out, &st);
	}
	fdw_table_free(t);
	return ret;
}

/* The items of arr as a table, sorted by the integer field sort_key when
 * given, else in their order. */
static int print_table(const struct fdw_render *r, const struct table_kind *k,
		       const json_t *arr, const char *sort_key)
{
	struct sort_item *items = NULL;
	int ret = 0;

	if (sort_key)
		ret = sort_by(arr, sort_key, &items);
	if (!ret)
		ret = print_items(r, k, arr, items, NULL);
	free(items);
	return ret;
}

/* One item as a row with the columns' fixed widths (follow mode). */
static int print_line(const struct fdw_render *r, const struct table_kind *k,
		      const json_t *item)
{
	struct fdw_column cols[MAX_COLS];
	const char *cells[MAX_COLS];
	size_t sel[MAX_COLS], nsel = 0;
	struct fdw_table *t = NULL;
	int ret;

	ret = new_selected(r, k, cols, sel, &nsel, &t);
	if (!ret)
		ret = fill_row(r, k, t, sel, nsel, item);
	if (!ret && r->raw) {
		struct fdw_table_style st = { .raw = true };

		ret = fdw_table_print_style(t, r->out, &st);
	} else if (!ret) {
		const char *sgr[MAX_COLS] = { NULL }, *picked[MAX_COLS];

		for (size_t c = 0; c < nsel; c++)
			cells[c] = fdw_table_cell(t, 0, c);
		if (r->color && k->color) {
			k->color(item, sgr);
			for (size_t c = 0; c < nsel; c++)
				picked[c] = sgr[sel[c]];
			ret = fdw_print_row_color(r->out, cols, nsel, cells, picked);
		} else {
			ret = fdw_print_row(r->out, cols, nsel, cells);
		}
	}
	fdw_table_free(t);
	return ret;
}

/* The heading of print_line()'s rows. */
static int print_line_heading(const struct fdw_render *r, const struct table_kind *k)
{
	struct fdw_column cols[MAX_COLS];
	const char *names[MAX_COLS];
	size_t sel[MAX_COLS], nsel = 0;

	if (k->ncols > MAX_COLS || select_cols(k, r->output, sel, &nsel, NULL, 0) < 0)
		return -EINVAL;
	for (size_t i = 0; i < nsel; i++) {
		cols[i] = k->cols[sel[i]];
		names[i] = cols[i].name;
	}
	if (r->raw) {
		for (size_t i = 0; i < nsel; i++)
			fprintf(r->out, "%s%s", i ? " " : "", names[i]);
		fputc('\n', r->out);
		return ferror(r->out) ? -EIO : 0;
	}
	if (r->color) {
		const char *bold[MAX_COLS];

		for (size_t i = 0; i < nsel; i++)
			bold[i] = "1";
		return fdw_print_row_color(r->out, cols, nsel, names, bold);
	}
	return fdw_print_row(r->out, cols, nsel, names);
}

/* ---- status ---------------------------------------------------------- */

int fdw_render_status(const struct fdw_render *r, const json_t *doc)
{
	static const char *const keys[] = {
		"version", "uptime", "events received", "events lost",
		"processes", "tables", "fds tracked", "stale tables",
		"resyncs", "audit divergences", "history size",
	};
	const json_t *uptime = get(doc, "uptime_s");
	const json_t *hist = get(doc, "history");
	char *vals[ARRAY_SIZE(keys)];
	char buf[64];

	if (!json_is_object(doc))
		return -EBADMSG;
	if (json_is_number(uptime)) {
		fdw_format_duration(buf, sizeof(buf), json_number_value(uptime));
		vals[1] = dup_text(buf);
	} else {
		vals[1] = dup_text("-");
	}
	vals[0] = text_of(get(doc, "version"));
	vals[2] = text_of(get(doc, "events_received"));
	vals[3] = text_of(get(doc, "events_lost"));
	vals[4] = text_of(get(doc, "processes"));
	vals[5] = text_of(get(doc, "tables"));
	vals[6] = text_of(get(doc, "fds"));
	vals[7] = text_of(get(doc, "stale_tables"));
	vals[8] = text_of(get(doc, "resyncs"));
	vals[9] = text_of(get(get(doc, "audit"), "divergences"));
	if (json_is_integer(get(hist, "capacity"))) {
		char *size = text_of(get(hist, "size"));

		vals[10] = NULL;
		if (size && asprintf(&vals[10], "%s (capacity %" JSON_INTEGER_FORMAT ")",
				     size, json_integer_value(get(hist, "capacity"))) < 0)
			vals[10] = NULL;
		free(size);
	} else {
		vals[10] = text_of(get(hist, "size"));
	}
	return print_kv(r->out, keys, vals, ARRAY_SIZE(keys));
}

/* ---- ps ---------------------------------------------------------------- */

static const struct fdw_column ps_cols[] = {
	{ "PID", FDW_COL_RIGHT, 0 },
	{ "COMMAND", 0, 0 },
	{ "FDS", FDW_COL_RIGHT, 0 },
	{ "GROWTH", FDW_COL_RIGHT, 0 },
	{ "USE%", FDW_COL_RIGHT, 0 },
	{ "TABLE", FDW_COL_RIGHT, 0 },
	{ "STALE", 0, 0 },
	{ "PPID", FDW_COL_RIGHT, 0 },
	{ "THREADS", FDW_COL_RIGHT, 0 },
	{ "LIMIT", FDW_COL_RIGHT, 0 },
};

static const char *const ps_help[] = {
	"process id", "command name", "open file descriptors",
	"fd count growth over the last minute, fds/min",
	"open fds as a share of the RLIMIT_NOFILE soft limit",
	"file table id (shared by CLONE_FILES processes)",
	"yes when the table may differ from /proc (events lost, or not readable)",
	"parent process id", "threads", "RLIMIT_NOFILE soft limit",
};

/* fds / limit_soft, or a negative number when unknown. */
static double limit_share(const json_t *p)
{
	const json_t *lim = get(p, "limit_soft");

	if (!json_is_integer(lim) || json_integer_value(lim) <= 0)
		return -1;
	return (double)json_integer_value(get(p, "fds")) / (double)json_integer_value(lim);
}

/* A number with one decimal and a suffix ("+12.5", "1200.0/min"). */
static char *real_text(const json_t *v, bool sign, const char *suffix)
{
	char *s = NULL;

	if (!json_is_number(v))
		return dup_text("-");
	if (asprintf(&s, sign ? "%+.1f%s" : "%.1f%s", json_number_value(v), suffix) < 0)
		return NULL;
	return s;
}

static void ps_fill(const struct fdw_render *r, const json_t *p, char **cells)
{
	double share = limit_share(p);

	cells[0] = text_of(get(p, "pid"));
	cells[1] = text_of(get(p, "comm"));
	cells[2] = text_of(get(p, "fds"));
	cells[3] = real_text(get(p, "growth_per_min"), true, "");
	if (share < 0)
		cells[4] = dup_text("-");
	else if (asprintf(&cells[4], "%.1f%%", share * 100) < 0)
		cells[4] = NULL;
	cells[5] = text_of(get(p, "table"));
	cells[6] = text_of(get(p, "stale"));
	cells[7] = text_of(get(p, "ppid"));
	cells[8] = text_of(get(p, "threads"));
	cells[9] = text_of(get(p, "limit_soft"));
}

static void ps_color(const json_t *p, const char **sgr)
{
	double share = limit_share(p);

	if (json_number_value(get(p, "growth_per_min")) >= 60)
		sgr[3] = "1;31";
	if (share >= 0.8)
		sgr[4] = "1;31";
	else if (share >= 0.5)
		sgr[4] = "33";
	if (json_is_true(get(p, "stale")))
		sgr[6] = "33";
}

static const struct table_kind ps_table = {
	"ps", ps_cols, ps_help, ARRAY_SIZE(ps_cols), 7, ps_fill, ps_color,
};

/* --sort: the value to put first (largest), and how to read it. */
static double ps_key(const json_t *p, const char *sort)
{
	if (!strcmp(sort, "fds"))
		return (double)json_integer_value(get(p, "fds"));
	if (!strcmp(sort, "growth"))
		return json_is_number(get(p, "growth_per_min")) ?
			       json_number_value(get(p, "growth_per_min")) : -1e300;
	if (!strcmp(sort, "limit"))
		return limit_share(p);
	return -(double)json_integer_value(get(p, "pid"));
}

struct dsort {
	const json_t *v;
	double key;
	json_int_t pid;
};

/* The --sort order: the larger key first, then the smaller pid. */
static int cmp_key_pid(double xkey, json_int_t xpid, double ykey, json_int_t ypid)
{
	if (xkey != ykey)
		return xkey > ykey ? -1 : 1;
	return xpid < ypid ? -1 : xpid > ypid;
}

static int cmp_dsort(const void *a, const void *b)
{
	const struct dsort *x = a, *y = b;

	return cmp_key_pid(x->key, x->pid, y->key, y->pid);
}

/* The processes in --sort order (largest first, then by pid). */
int fdw_sort_processes(const json_t *procs, const char *sort, const json_t ***out)
{
	size_t n = json_array_size(procs);
	struct dsort *d = calloc(n ? n : 1, sizeof(*d));
	const json_t **v = calloc(n ? n : 1, sizeof(*v));

	if (!d || !v) {
		free(d);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		d[i].v = json_array_get(procs, i);
		d[i].key = ps_key(d[i].v, sort ? sort : "pid");
		d[i].pid = json_integer_value(get(d[i].v, "pid"));
	}
	qsort(d, n, sizeof(*d), cmp_dsort);
	for (size_t i = 0; i < n; i++)
		v[i] = d[i].v;
	free(d);
	*out = v;
	return 0;
}

int fdw_render_ps(const struct fdw_render *r, const json_t *doc)
{
	const json_t *procs = get(doc, "processes");
	const json_t **order = NULL;
	struct sort_item *items;
	size_t n;
	int ret;

	if (!json_is_array(procs))
		return -EBADMSG;
	ret = fdw_sort_processes(procs, r->sort, &order);
	if (ret < 0)
		return ret;
	n = json_array_size(procs);
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items) {
		free(order);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		items[i].v = order[i];
	ret = print_items(r, &ps_table, procs, items, pid_wanted);
	free(items);
	free(order);
	return ret;
}

/* ---- fds --------------------------------------------------------------- */

static const struct fdw_column fds_cols[] = {
	{ "FD", FDW_COL_RIGHT, 0 },
	{ "CLOEXEC", 0, 0 },
	{ "TYPE", 0, 0 },
	{ "OFD", FDW_COL_RIGHT, 0 },
	{ "GEN", FDW_COL_RIGHT, 0 },
	{ "SYSCALL", 0, 0 },
	{ "TID", FDW_COL_RIGHT, 0 },
	{ "FROM", FDW_COL_RIGHT, 0 },
	{ "AGE", FDW_COL_RIGHT, 0 },
	{ "TARGET", 0, 0 },
	{ "PID", FDW_COL_RIGHT, 0 },
	{ "COMMAND", 0, 0 },
	{ "SOURCE", 0, 0 },
	{ "OPENED", 0, 0 },
};

static const char *const fds_help[] = {
	"file descriptor number", "close-on-exec flag",
	"reg, dir, chr, blk, fifo, sock, lnk, anon, unknown",
	"open file description id (shared by dup'ed and inherited fds)",
	"generation: how often this fd number was (re)used",
	"the syscall that installed the fd", "thread that installed it",
	"the fd it was duplicated from", "time since it was installed",
	"what readlink /proc/PID/fd/FD shows", "process id", "command name",
	"event, inherit (fork) or procfs (found in /proc)",
	"wall-clock time it was installed",
};

void fdw_warn_stale(const struct fdw_render *r, const json_t *doc)
{
	const char *why = json_string_value(get(doc, "stale_error"));

	if (!json_is_true(get(doc, "stale")) || !r->err)
		return;
	if (why)
		fprintf(r->err,
			"fdwatch: warning: the fd table of pid %" JSON_INTEGER_FORMAT
			" is stale: the daemon's last re-read of /proc failed (%s); it may"
			" differ from /proc\n",
			json_integer_value(get(doc, "pid")), why);
	else
		fprintf(r->err,
			"fdwatch: warning: the fd table of pid %" JSON_INTEGER_FORMAT
			" is stale (events were lost: not re-read yet); it may differ from"
			" /proc\n",
			json_integer_value(get(doc, "pid")));
}

static void fds_fill(const struct fdw_render *r, const json_t *f, char **cells)
{
	const json_t *o = get(f, "origin");

	cells[0] = text_of(get(f, "fd"));
	cells[1] = text_of(get(f, "cloexec"));
	cells[2] = text_of(get(f, "type"));
	cells[3] = text_of(get(f, "ofd"));
	cells[4] = text_of(get(f, "generation"));
	cells[5] = text_of(get(o, "syscall"));
	cells[6] = text_of(get(o, "tid"));
	cells[7] = text_of(get(o, "from_fd"));
	cells[8] = age_text(r->now, get(o, "ts"));
	cells[9] = text_of(get(f, "target"));
	cells[10] = text_of(get(f, "pid"));
	cells[11] = text_of(get(f, "comm"));
	cells[12] = text_of(get(o, "source"));
	cells[13] = clock_text(get(o, "ts"));
}

static void fds_color(const json_t *f, const char **sgr)
{
	if (json_is_false(get(f, "cloexec")))
		sgr[1] = "33";
}

static const struct table_kind fds_table = {
	"fds", fds_cols, fds_help, ARRAY_SIZE(fds_cols), 10, fds_fill, fds_color,
};

int fdw_render_fds(const struct fdw_render *r, const json_t *doc)
{
	const json_t *fds = get(doc, "fds");

	if (!json_is_array(fds))
		return -EBADMSG;
	fdw_warn_stale(r, doc);
	return print_table(r, &fds_table, fds, "fd");
}

/* ---- one fd ------------------------------------------------------------ */

/* ---- ps and fds from the answer's text ------------------------------------ */

/*
 * A large answer (20,000 fds, 10,000 processes) parsed whole into a jansson
 * tree cost more time and memory than the table it becomes. Here the
 * members beside the array are parsed into `head`, then each element of
 * the array alone: made a row, and freed.
 */
struct answer {
	json_t *head;		/* the members other than the array */
	const char *arr, *arr_end; /* the array's elements, between its brackets */
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Why json_loadb() failed: out of memory, or text it does not take. */
static int load_error(const json_error_t *je)
{
	return json_error_code(je) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;
}

/* One member "key": value at p; *pp after it. The array `key` is kept in
 * a, any other member set in a->head. */
static int answer_member(const char **pp, const char *end, const char *key, struct answer *a)
{
	const char *p = *pp, *v, *ve, *k = p, *ke = fdw_json_skip(p, end);
	json_t *name, *val;
	json_error_t je;
	int ret = 0;

	if (!ke || *k != '"')
		return -EBADMSG;
	p = skip_ws(ke, end);
	if (p == end || *p != ':')
		return -EBADMSG;
	v = skip_ws(p + 1, end);
	ve = fdw_json_skip(v, end);
	if (!ve)
		return -EBADMSG;
	name = json_loadb(k, (size_t)(ke - k), JSON_DECODE_ANY, NULL);
	if (!json_is_string(name)) {
		json_decref(name);
		return -EBADMSG;
	}
	if (!strcmp(json_string_value(name), key) && *v == '[') {
		a->arr = v + 1;
		a->arr_end = ve - 1;
	} else {
		val = json_loadb(v, (size_t)(ve - v), JSON_DECODE_ANY, &je);
		if (!val)
			ret = load_error(&je);
		else if (json_object_set_new(a->head, json_string_value(name), val) < 0)
			ret = -ENOMEM;
	}
	json_decref(name);
	*pp = ve;
	return ret;
}

/* The object in text: its array `key` and the other members. */
static int answer_split(const char *text, size_t len, const char *key, struct answer *a)
{
	const char *p = text, *end = text + len;
	int ret = 0;

	a->arr = a->arr_end = NULL;
	a->head = json_object();
	if (!a->head)
		return -ENOMEM;
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return -EBADMSG;
	p = skip_ws(p + 1, end);
	while (!ret && p < end && *p != '}') {
		ret = answer_member(&p, end, key, a);
		p = skip_ws(p, end);
		if (!ret && p < end && *p == ',')
			p = skip_ws(p + 1, end);
		else if (!ret && (p == end || *p != '}'))
			ret = -EBADMSG;
	}
	if (!ret && (p == end || skip_ws(p + 1, end) != end || !a->arr))
		ret = -EBADMSG;
	return ret;
}

/* The next element of the array, parsed (the caller's to free); NULL at
 * the end (*err 0) or for an element that is not JSON (*err < 0). */
static json_t *answer_next(struct answer *a, int *err)
{
	const char *p = skip_ws(a->arr, a->arr_end), *e;
	json_error_t je;
	json_t *v;

	*err = 0;
	if (p < a->arr_end && *p == ',')
		p = skip_ws(p + 1, a->arr_end);
	if (p >= a->arr_end)
		return NULL;
	e = fdw_json_skip(p, a->arr_end);
	v = e ? json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY, &je) : NULL;
	if (!v) {
		*err = e ? load_error(&je) : -EBADMSG;
		return NULL;
	}
	a->arr = e;
	return v;
}

/* A row's place: ps by --sort (cmp_key_pid, as fdw_sort_processes),
 * fds by fd number, in the answer's order when equal (cmp_item). */
struct placed {
	double key;
	json_int_t pid;
	size_t row;
};

static int cmp_placed_ps(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;
	int c = cmp_key_pid(x->key, x->pid, y->key, y->pid);

	if (c)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int cmp_placed_fds(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int print_text(const struct fdw_render *r, const struct table_kind *k, const char *text,
		      size_t len, bool ps)
{
	struct fdw_column cols[MAX_COLS];
	size_t sel[MAX_COLS], nsel = 0, n = 0, cap = 0, *order = NULL;
	struct placed *pl = NULL;
	struct fdw_table *t = NULL;
	struct answer a;
	json_t *el;
	int ret, err = 0;

	ret = answer_split(text, len, ps ? "processes" : "fds", &a);
	if (!ret && !ps)
		fdw_warn_stale(r, a.head);
	if (!ret)
		ret = new_selected(r, k, cols, sel, &nsel, &t);
	while (!ret && (el = answer_next(&a, &err))) {
		if (!ps || pid_wanted(r, el)) {
			if (n == cap) {
				struct placed *np;

				cap = cap ? cap * 2 : 256;
				np = realloc(pl, cap * sizeof(*pl));
				if (!np)
					ret = -ENOMEM;
				else
					pl = np;
			}
			if (!ret)
				ret = fill_row(r, k, t, sel, nsel, el);
			if (!ret) {
				pl[n].key = ps ? ps_key(el, r->sort ? r->sort : "pid")
					       : (double)json_integer_value(get(el, "fd"));
				pl[n].pid = json_integer_value(get(el, "pid"));
				pl[n].row = n;
				n++;
			}
		}
		json_decref(el);
	}
	if (!ret)
		ret = err;
	if (!ret) {
		if (n) /* pl is NULL when the array is empty */
			qsort(pl, n, sizeof(*pl), ps ? cmp_placed_ps : cmp_placed_fds);
		order = malloc((n ? n : 1) * sizeof(*order));
		if (!order)
			ret = -ENOMEM;
		for (size_t i = 0; order && i < n; i++)
			order[i] = pl[i].row;
	}
	if (!ret)
		ret = fdw_table_reorder(t, order);
	if (!ret) {
		struct fdw_table_style st = {
			.headings = r->headings, .raw = r->raw, .color = r->color,
		};

		ret = fdw_table_print_style(t, r->out, &st);
	}
	free(order);
	free(pl);
	fdw_table_free(t);
	json_decref(a.head);
	return ret;
}

int fdw_render_ps_text(const struct fdw_render *r, const char *text, size_t len)
{
	return print_text(r, &ps_table, text, len, true);
}

int fdw_render_fds_text(const struct fdw_render *r, const char *text, size_t len)
{
	return print_text(r, &fds_table, text, len, false);
}

static const struct fdw_column hist_cols[] = {
	{ "GEN", FDW_COL_RIGHT, 0 },
	{ "TARGET", 0, 0 },
	{ "SYSCALL", 0, 0 },
	{ "TID", FDW_COL_RIGHT, 0 },
	{ "OPENED", 0, 0 },
	{ "CLOSED-BY", 0, 0 },
};

/* "close:42" (syscall:tid), "close" when the tid is unknown, "-". */
static char *closed_by(const json_t *closed)
{
	const char *sc = json_string_value(get(closed, "syscall"));
	const json_t *tid = get(closed, "tid");
	char *s = NULL;

	if (!sc)
		return dup_text("-");
	if (!json_is_integer(tid))
		return dup_text(sc);
	if (asprintf(&s, "%s:%" JSON_INTEGER_FORMAT, sc,
		     json_integer_value(tid)) < 0)
		return NULL;
	return s;
}

static const json_t *fd_history(const json_t *doc)
{
	const json_t *h = get(get(doc, "fd"), "history");

	return h ? h : get(doc, "history");
}

static void hist_fill(const struct fdw_render *r, const json_t *h, char **cells)
{
	const json_t *o = get(h, "origin");

	cells[0] = text_of(get(h, "generation"));
	cells[1] = text_of(get(h, "target"));
	cells[2] = text_of(get(o, "syscall"));
	cells[3] = text_of(get(o, "tid"));
	cells[4] = clock_text(get(o, "ts"));
	cells[5] = closed_by(get(h, "closed"));
}

static const struct table_kind hist_table = {
	"fds PID FD", hist_cols, NULL, ARRAY_SIZE(hist_cols), ARRAY_SIZE(hist_cols), hist_fill, NULL,
};

int fdw_render_fd_history(const struct fdw_render *r, const json_t *doc)
{
	const json_t *hist = fd_history(doc);
	struct fdw_render all = *r;

	if (!json_array_size(hist))
		return 0;
	all.output = NULL;	/* -o is about the fds table */
	return print_table(&all, &hist_table, hist, NULL);
}

int fdw_render_fd(const struct fdw_render *r, const json_t *doc)
{
	static const char *const keys[] = {
		"pid", "fd", "target", "type", "cloexec", "ofd", "generation",
		"source", "syscall", "tid", "from fd", "opened",
	};
	const json_t *f = get(doc, "fd");
	const json_t *o = get(f, "origin");
	const json_t *ts = get(o, "ts");
	char *vals[ARRAY_SIZE(keys)];
	char clock[32], age[32];
	int ret;

	if (!json_is_object(f))
		return -EBADMSG;
	fdw_warn_stale(r, doc);
	vals[0] = text_of(get(doc, "pid"));
	vals[1] = text_of(get(f, "fd"));
	vals[2] = text_of(get(f, "target"));
	vals[3] = text_of(get(f, "type"));
	vals[4] = text_of(get(f, "cloexec"));
	vals[5] = text_of(get(f, "ofd"));
	vals[6] = text_of(get(f, "generation"));
	vals[7] = text_of(get(o, "source"));
	vals[8] = text_of(get(o, "syscall"));
	vals[9] = text_of(get(o, "tid"));
	vals[10] = text_of(get(o, "from_fd"));
	if (json_is_number(ts)) {
		fdw_format_clock(clock, sizeof(clock), json_number_value(ts),
				 true);
		fdw_format_age(age, sizeof(age), r->now, json_number_value(ts),
			       true);
		if (asprintf(&vals[11], "%s (%s ago)", clock, age) < 0)
			vals[11] = NULL;
	} else {
		vals[11] = dup_text("-");
	}
	ret = print_kv(r->out, keys, vals, ARRAY_SIZE(keys));
	if (ret < 0 || !json_array_size(fd_history(doc)))
		return ret;
	fputc('\n', r->out);
	return fdw_render_fd_history(r, doc);
}

/* ---- events ------------------------------------------------------------ */

/* Fixed widths are for follow mode; tables size themselves. */
static const struct fdw_column event_cols[] = {
	{ "TIME", 0, 12 },
	{ "PID", FDW_COL_RIGHT, 7 },
	{ "TID", FDW_COL_RIGHT, 7 },
	{ "COMMAND", 0, 15 },
	{ "SYSCALL", 0, 12 },
	{ "ARGS", FDW_COL_QUOTED, 30 },
	{ "RET", 0, 0 },
	{ "SEQ", FDW_COL_RIGHT, 8 },
	{ "ERRNO", 0, 8 },
	{ "AGE", FDW_COL_RIGHT, 4 },
	{ "CALL", FDW_COL_QUOTED, 0 },
};

static const char *const event_help[] = {
	"wall-clock time of the event", "process id", "thread id", "command name",
	"syscall (fork, exec, exit for process events)",
	"arguments, decoded the way strace prints them",
	"return value, with the errno name when it failed",
	"the daemon's sequence number", "errno name of a failure",
	"time since the event",
	"the call as strace prints it: openat(AT_FDCWD, \"/etc/hosts\", O_RDONLY) = 3",
};

static bool is_event_meta(const char *key)
{
	static const char *const meta[] = {
		"seq", "ts", "pid", "tid", "comm", "syscall", "ret", "errno",
	};

	for (size_t i = 0; i < ARRAY_SIZE(meta); i++)
		if (!strcmp(key, meta[i]))
			return true;
	return false;
}

static bool plain_string(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* fdw_sym_get_fn over an event object's integer fields. */
static bool json_arg(void *userdata, const char *arg, uint64_t *value)
{
	const json_t *v = get(userdata, arg);

	if (!json_is_integer(v))
		return false;
	*value = (uint64_t)json_integer_value(v);
	return true;
}

/*
 * A "NAME_name"/"NAME_names" field beside a NAME field: the daemon's
 * decoding of it, which the human view prints in NAME's place.
 */
static bool is_decoded_names(const json_t *ev, const char *key)
{
	const char *us = strrchr(key, '_');
	char base[64];

	if (!us || (strcmp(us, "_name") && strcmp(us, "_names")) ||
	    (size_t)(us - key) >= sizeof(base))
		return false;
	memcpy(base, key, (size_t)(us - key));
	base[us - key] = '\0';
	return get(ev, base) != NULL;
}

char *fdw_event_decoded(const json_t *ev, const char *key, const json_t *val)
{
	const char *sc = json_string_value(get(ev, "syscall"));
	const struct fdw_symset *set;
	json_int_t v;
	char *s = NULL;
	int n;

	if (!json_is_integer(val))
		return NULL;
	set = fdw_sym_for_arg(sc, key, json_arg, (void *)ev);
	if (!set)
		return NULL;
	v = json_integer_value(val);
	n = fdw_sym_format(set, (uint64_t)v, v < 0, NULL, 0);
	if (n < 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	(void)fdw_sym_format(set, (uint64_t)v, v < 0, s, (size_t)n + 1);
	return s;
}

char *fdw_event_args(const json_t *ev)
{
	const char *key;
	json_t *val;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	bool first = true;

	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	json_object_foreach((json_t *)ev, key, val) {
		char *text;

		if (is_event_meta(key) || is_decoded_names(ev, key))
			continue;
		if (json_is_string(val) && plain_string(json_string_value(val)))
			text = dup_text(json_string_value(val));
		else if (json_is_boolean(val) || json_is_string(val) ||
			 json_is_null(val))
			text = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
		else if (!(text = fdw_event_decoded(ev, key, val)))
			text = fdw_json_text(val);
		if (!text) {
			fclose(f);
			free(out);
			return NULL;
		}
		fprintf(f, "%s%s=%s", first ? "" : " ", key, text);
		free(text);
		first = false;
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

/* One value of fdw_event_call(). */
static char *call_value(const json_t *ev, const char *key, const json_t *val)
{
	char *text;

	if (json_is_string(val) || json_is_array(val) || json_is_boolean(val) ||
	    json_is_null(val))
		/* strace quotes strings (escaping what needs it), prints [3, 4] */
		return json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
	text = fdw_event_decoded(ev, key, val);
	return text ? text : fdw_json_text(val);
}

char *fdw_event_call(const json_t *ev)
{
	const char *sc = json_string_value(get(ev, "syscall"));
	/* process events are no syscalls: their fields by name */
	bool named = sc && (!strcmp(sc, "fork") || !strcmp(sc, "exec") || !strcmp(sc, "exit"));
	/* pipe(2) fills its array first: strace prints it there */
	bool fds_first = sc && (!strcmp(sc, "pipe") || !strcmp(sc, "pipe2"));
	const char *key;
	json_t *val;
	char *out = NULL;
	size_t len = 0;
	char ret[64];
	bool first = true;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fprintf(f, "%s(", sc ? sc : "?");
	for (int pass = fds_first ? 0 : 1; pass < 2; pass++) {
		json_object_foreach((json_t *)ev, key, val) {
			char *text;

			if (is_event_meta(key) || is_decoded_names(ev, key) ||
			    (fds_first && (pass == 0) != !strcmp(key, "fds")))
				continue;
			text = call_value(ev, key, val);
			if (!text) {
				fclose(f);
				free(out);
				return NULL;
			}
			fprintf(f, "%s%s%s%s", first ? "" : ", ", named ? key : "",
				named ? "=" : "", text);
			free(text);
			first = false;
		}
	}
	if (json_is_integer(get(ev, "ret"))) {
		fdw_event_ret(ret, sizeof(ret), ev);
		fprintf(f, ") = %s", ret);
	} else {
		fputs(") = ?", f);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

void fdw_event_ret(char *buf, size_t size, const json_t *ev)
{
	const json_t *ret = get(ev, "ret");

	if (!json_is_integer(ret)) {
		(void)snprintf(buf, size, "-");
		return;
	}
	fdw_format_ret(buf, size, json_integer_value(ret),
		       json_string_value(get(ev, "errno")));
}

static char *ret_text(const json_t *ev)
{
	char buf[64];

	fdw_event_ret(buf, sizeof(buf), ev);
	return dup_text(buf);
}

static void event_fill(const struct fdw_render *r, const json_t *ev, char **cells)
{
	cells[0] = clock_text(get(ev, "ts"));
	cells[1] = text_of(get(ev, "pid"));
	cells[2] = text_of(get(ev, "tid"));
	cells[3] = text_of(get(ev, "comm"));
	cells[4] = text_of(get(ev, "syscall"));
	cells[5] = fdw_event_args(ev);
	cells[6] = ret_text(ev);
	cells[7] = text_of(get(ev, "seq"));
	cells[8] = text_of(get(ev, "errno"));
	cells[9] = age_text(r->now, get(ev, "ts"));
	cells[10] = fdw_event_call(ev);
}

static void event_color(const json_t *ev, const char **sgr)
{
	if (json_integer_value(get(ev, "ret")) < 0) {
		sgr[6] = "31";
		sgr[8] = "31";
	}
}

static const struct table_kind event_table = {
	"events", event_cols, event_help, ARRAY_SIZE(event_cols), 7, event_fill, event_color,
};

/* Is name one of the comma-separated list? */
static bool in_list(const char *list, const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (!name)
		return false;
	while (*list) {
		size_t l = strcspn(list, ",");

		if (l == len && !strncmp(list, name, len))
			return true;
		list += l;
		if (*list == ',')
			list++;
	}
	return false;
}

bool fdw_event_wanted(const struct fdw_render *r, const json_t *ev)
{
	const struct fdw_event_filter *f = r->filter;
	const json_t *ts = get(ev, "ts");

	if (!pid_wanted(r, ev))
		return false;
	if (!f)
		return true;
	if (f->syscalls && !in_list(f->syscalls, json_string_value(get(ev, "syscall"))))
		return false;
	if (f->comms && !in_list(f->comms, json_string_value(get(ev, "comm"))))
		return false;
	if (f->failed && !(json_is_integer(get(ev, "ret")) &&
			   json_integer_value(get(ev, "ret")) < 0))
		return false;
	/* an event without a time is outside any window */
	if ((f->has_since || f->has_until) && !json_is_number(ts))
		return false;
	if (f->has_since && json_number_value(ts) < f->since)
		return false;
	if (f->has_until && json_number_value(ts) > f->until)
		return false;
	return true;
}

int fdw_render_events(const struct fdw_render *r, const json_t *doc)
{
	const json_t *events = get(doc, "events");

	if (!json_is_array(events))
		return -EBADMSG;
	return print_items(r, &event_table, events, NULL, fdw_event_wanted);
}

int fdw_render_event_heading(const struct fdw_render *r)
{
	return print_line_heading(r, &event_table);
}

int fdw_render_event_line(const struct fdw_render *r, const json_t *ev)
{
	if (!fdw_event_wanted(r, ev))
		return 0;
	return print_line(r, &event_table, ev);
}

/* ---- verify ------------------------------------------------------------ */

static const struct fdw_column verify_cols[] = {
	{ "PID", FDW_COL_RIGHT, 0 },
	{ "FD", FDW_COL_RIGHT, 0 },
	{ "KIND", 0, 0 },
	{ "MODEL", 0, 0 },
	{ "KERNEL", 0, 0 },
	{ "NOTE", 0, 0 },
};

/* Why a difference may not be one (docs/api.md, verify): "unsettled" (the
 * table moved in ways its records do not name; not counted) and "thread
 * running" (a thread ran all along: maybe a close still at work). */
static char *verify_note(const json_t *d)
{
	bool unsettled = json_is_true(get(d, "unsettled"));
	bool running = json_is_true(get(d, "thread_running"));

	if (unsettled && running)
		return dup_text("unsettled, thread running");
	if (unsettled)
		return dup_text("unsettled");
	return dup_text(running ? "thread running" : "-");
}

static void verify_fill(const struct fdw_render *r, const json_t *d, char **cells)
{
	cells[0] = text_of(get(d, "pid"));
	cells[1] = text_of(get(d, "fd"));
	cells[2] = text_of(get(d, "kind"));
	cells[3] = text_of(get(d, "model"));
	cells[4] = text_of(get(d, "kernel"));
	cells[5] = verify_note(d);
}

static const char *const verify_help[] = {
	"process id", "file descriptor", "missing, extra, target or cloexec",
	"what the model holds", "what /proc shows",
	"unsettled (not counted: the table moved unnamed), thread running",
};

static const struct table_kind verify_table = {
	"verify", verify_cols, verify_help, ARRAY_SIZE(verify_cols), ARRAY_SIZE(verify_cols),
	verify_fill, NULL,
};

int fdw_render_verify(const struct fdw_render *r, const json_t *doc,
		      bool *ok)
{
	const json_t *diffs = get(doc, "differences");
	const json_t *jok = get(doc, "ok");
	const json_t *missing = get(doc, "missing_processes");
	int ret;

	if (!json_is_boolean(jok))
		return -EBADMSG;
	*ok = json_is_true(jok);
	if (*ok) {
		json_int_t unread = json_integer_value(get(doc, "errors"));

		fprintf(r->out, "OK: model matches /proc for %" JSON_INTEGER_FORMAT
			" processes\n", json_integer_value(get(doc, "checked")));
		/* a process whose /proc could not be read was not compared:
		 * not a difference, but not "matches" either */
		if (unread > 0 && r->err)
			fprintf(r->err, "fdwatch: %" JSON_INTEGER_FORMAT " process%s could not be "
				"read from /proc and %s not compared\n", unread,
				unread == 1 ? "" : "es", unread == 1 ? "was" : "were");
		return ferror(r->out) ? -EIO : 0;
	}
	ret = json_array_size(diffs) ? print_table(r, &verify_table, diffs, NULL) : 0;
	if (!ret && r->err && json_array_size(diffs))
		fprintf(r->err, "fdwatch: %zu difference%s between the model and /proc (%"
			JSON_INTEGER_FORMAT " process%s checked)\n",
			json_array_size(diffs),
			json_array_size(diffs) == 1 ? "" : "s",
			json_integer_value(get(doc, "checked")),
			json_integer_value(get(doc, "checked")) == 1 ? "" : "es");
	if (!ret && r->err && json_array_size(missing)) {
		/* live processes the model does not hold at all */
		fprintf(r->err, "fdwatch: %zu live process%s missing from the model:",
			json_array_size(missing), json_array_size(missing) == 1 ? "" : "es");
		for (size_t i = 0; i < json_array_size(missing) && i < 20; i++)
			fprintf(r->err, " %" JSON_INTEGER_FORMAT,
				json_integer_value(json_array_get(missing, i)));
		fprintf(r->err, "%s\n", json_array_size(missing) > 20 ? " ..." : "");
	}
	return ret;
}

/* ---- leaks ------------------------------------------------------------- */

static const struct fdw_column leak_cols[] = {
	{ "ID", FDW_COL_RIGHT, 5 },
	{ "KIND", 0, 12 },
	{ "STATE", 0, 9 },
	{ "PID", FDW_COL_RIGHT, 7 },
	{ "COMMAND", 0, 15 },
	{ "FIRED", FDW_COL_RIGHT, 5 },
	{ "TREND", 0, 20 },
	{ "RATE", FDW_COL_RIGHT, 10 },
	{ "ETA", FDW_COL_RIGHT, 5 },
	{ "SUMMARY", 0, 0 },
	{ "FDS", FDW_COL_RIGHT, 6 },
	{ "LIMIT", FDW_COL_RIGHT, 7 },
	{ "RESOLUTION", 0, 20 },
};

static const char *const leak_help[] = {
	"alert id", "fd-growth, fd-exhaustion, fd-limit-hit, exec-leak",
	"firing or resolved", "process id", "command name", "time since it fired",
	"the fd count over the alert window (sparkline)",
	"growth rate, fds/min", "time left to the RLIMIT_NOFILE soft limit",
	"what the detector saw", "open fds when the evidence was taken",
	"RLIMIT_NOFILE soft limit", "why it resolved",
};

#define TREND_WIDTH 20

void fdw_alert_trend(const json_t *alert, char *buf, size_t size, size_t width,
		     bool utf8)
{
	const json_t *series = get(get(alert, "evidence"), "series");
	size_t n = json_array_size(series);
	double v[256];

	if (size)
		buf[0] = '\0';
	if (n > 256)
		n = 256;	/* the daemon sends 64 at most */
	for (size_t i = 0; i < n; i++)
		v[i] = json_number_value(json_array_get(series, i));
	fdw_sparkline(buf, size, v, n, width, utf8);
}

static void leak_fill(const struct fdw_render *r, const json_t *a, char **cells)
{
	const json_t *fired = get(a, "fired_at");
	const json_t *ev = get(a, "evidence");
	const json_t *rate = get(ev, "rate_per_min");
	const json_t *eta = get(ev, "seconds_to_limit");
	char buf[TREND_WIDTH * 3 + 1];

	cells[0] = text_of(get(a, "id"));
	cells[1] = text_of(get(a, "kind"));
	cells[2] = text_of(get(a, "state"));
	cells[3] = text_of(get(a, "pid"));
	cells[4] = text_of(get(a, "comm"));
	cells[5] = json_is_number(fired) ? age_text(r->now, fired) : text_of(fired);
	fdw_alert_trend(a, buf, sizeof(buf), TREND_WIDTH, r->utf8);
	cells[6] = dup_text(buf[0] ? buf : "-");
	cells[7] = real_text(rate, false, "/min");
	/* the projection holds while the alert fires */
	if (json_is_number(eta) && !strcmp(json_string_value(get(a, "state")) ?: "", "firing")) {
		fdw_format_short_duration(buf, sizeof(buf), json_number_value(eta));
		cells[8] = dup_text(buf);
	} else {
		cells[8] = dup_text("-");
	}
	cells[9] = text_of(get(a, "summary"));
	cells[10] = text_of(get(ev, "fds"));
	cells[11] = text_of(get(ev, "limit_soft"));
	cells[12] = text_of(get(a, "resolution"));
}

static void leak_color(const json_t *a, const char **sgr)
{
	const char *state = json_string_value(get(a, "state"));

	if (state && !strcmp(state, "firing"))
		sgr[2] = "1;31";
	else if (state && !strcmp(state, "resolved"))
		sgr[2] = "32";
}

static const struct table_kind leak_table = {
	"leaks", leak_cols, leak_help, ARRAY_SIZE(leak_cols), 10, leak_fill, leak_color,
};

int fdw_render_leaks(const struct fdw_render *r, const json_t *doc)
{
	const json_t *alerts = get(doc, "alerts");

	if (!json_is_array(alerts))
		return -EBADMSG;
	return print_items(r, &leak_table, alerts, NULL, pid_wanted);
}

int fdw_render_leak_heading(const struct fdw_render *r)
{
	return print_line_heading(r, &leak_table);
}

int fdw_render_leak_line(const struct fdw_render *r, const json_t *alert)
{
	if (!pid_wanted(r, alert))
		return 0;
	return print_line(r, &leak_table, alert);
}

/* ---- columns -------------------------------------------------------------- */

static const struct table_kind *const kinds[] = {
	&ps_table, &fds_table, &event_table, &leak_table, &verify_table,
};

static const struct table_kind *kind_of(const char *view)
{
	for (size_t i = 0; view && i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i]->name, view))
			return kinds[i];
	return NULL;
}

int fdw_columns_check(const char *view, const char *output, char *err, size_t size)
{
	const struct table_kind *k = kind_of(view);
	size_t sel[MAX_COLS], n;

	if (!k) {
		(void)snprintf(err, size, "%s has no columns", view ? view : "this command");
		return -EINVAL;
	}
	return select_cols(k, output, sel, &n, err, size);
}

int fdw_columns_list(const struct fdw_render *r, const char *view)
{
	static const struct fdw_column cols[] = { { "COLUMN", 0, 0 }, { "DESCRIPTION", 0, 0 } };
	const struct table_kind *k = kind_of(view);
	struct fdw_table_style st = { .headings = r->headings, .raw = r->raw };
	struct fdw_table *t = NULL;
	int ret;

	if (!k)
		return -EINVAL;
	ret = fdw_table_new(&t, cols, 2);
	for (size_t c = 0; !ret && c < k->ncols; c++) {
		ret = fdw_table_add_row(t);
		if (!ret)
			ret = fdw_table_set(t, 0, k->cols[c].name);
		if (!ret)
			ret = fdw_table_setf(t, 1, "%s%s", k->help ? k->help[c] : "",
					     c < k->ndefault ? " (default)" : "");
	}
	if (!ret)
		ret = fdw_table_print_style(t, r->out, &st);
	fdw_table_free(t);
	return ret;
}
