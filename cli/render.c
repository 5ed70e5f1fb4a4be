// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/symbols.h"
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
	for (size_t i = 0; i < n && !r; i++)
		r = fdw_table_set(t, i, cells[i]);
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
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
 * One kind of table: its columns and how one JSON item fills a row (cells
 * are malloc'd; a NULL cell means out of memory).
 */
struct table_kind {
	const struct fdw_column *cols;
	size_t ncols;
	void (*fill)(const struct fdw_render *r, const json_t *item, char **cells);
};

#define MAX_COLS 16

static int fill_row(const struct fdw_render *r, const struct table_kind *k,
		    struct fdw_table *t, const json_t *item)
{
	char *cells[MAX_COLS] = { NULL };

	k->fill(r, item, cells);
	return add_row(t, cells, k->ncols);
}

/* The items of arr as a table, sorted by the integer field sort_key when
 * given, else in their order. */
static int print_table(const struct fdw_render *r, const struct table_kind *k,
		       const json_t *arr, const char *sort_key)
{
	struct sort_item *items = NULL;
	struct fdw_table *t = NULL;
	int ret = 0;

	if (k->ncols > MAX_COLS)
		return -EINVAL;
	if (sort_key)
		ret = sort_by(arr, sort_key, &items);
	if (!ret)
		ret = fdw_table_new(&t, k->cols, k->ncols);
	for (size_t i = 0; !ret && i < json_array_size(arr); i++)
		ret = fill_row(r, k, t, items ? items[i].v : json_array_get(arr, i));
	if (!ret)
		ret = fdw_table_print(t, r->out, r->headings);
	fdw_table_free(t);
	free(items);
	return ret;
}

/* One item as a row with the columns' fixed widths (follow mode). */
static int print_line(const struct fdw_render *r, const struct table_kind *k,
		      const json_t *item)
{
	const char *cells[MAX_COLS];
	struct fdw_table *t = NULL;
	int ret;

	if (k->ncols > MAX_COLS)
		return -EINVAL;
	ret = fdw_table_new(&t, k->cols, k->ncols);
	if (!ret)
		ret = fill_row(r, k, t, item);
	if (!ret) {
		for (size_t c = 0; c < k->ncols; c++)
			cells[c] = fdw_table_cell(t, 0, c);
		ret = fdw_print_row(r->out, k->cols, k->ncols, cells);
	}
	fdw_table_free(t);
	return ret;
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
	{ "TABLE", FDW_COL_RIGHT, 0 },
	{ "STALE", 0, 0 },
};

static void ps_fill(const struct fdw_render *r, const json_t *p, char **cells)
{
	cells[0] = text_of(get(p, "pid"));
	cells[1] = text_of(get(p, "comm"));
	cells[2] = text_of(get(p, "fds"));
	cells[3] = text_of(get(p, "table"));
	cells[4] = text_of(get(p, "stale"));
}

static const struct table_kind ps_table = { ps_cols, ARRAY_SIZE(ps_cols), ps_fill };

int fdw_render_ps(const struct fdw_render *r, const json_t *doc)
{
	const json_t *procs = get(doc, "processes");

	if (!json_is_array(procs))
		return -EBADMSG;
	return print_table(r, &ps_table, procs, "pid");
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
};

static void warn_stale(const struct fdw_render *r, const json_t *doc)
{
	if (!json_is_true(get(doc, "stale")) || !r->err)
		return;
	fprintf(r->err,
		"fdwatch: warning: the fd table of pid %" JSON_INTEGER_FORMAT
		" is stale (events were lost); it may differ from /proc\n",
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
}

static const struct table_kind fds_table = { fds_cols, ARRAY_SIZE(fds_cols), fds_fill };

int fdw_render_fds(const struct fdw_render *r, const json_t *doc)
{
	const json_t *fds = get(doc, "fds");

	if (!json_is_array(fds))
		return -EBADMSG;
	warn_stale(r, doc);
	return print_table(r, &fds_table, fds, "fd");
}

/* ---- one fd ------------------------------------------------------------ */

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

static const struct table_kind hist_table = { hist_cols, ARRAY_SIZE(hist_cols), hist_fill };

int fdw_render_fd_history(const struct fdw_render *r, const json_t *doc)
{
	const json_t *hist = fd_history(doc);

	if (!json_array_size(hist))
		return 0;
	return print_table(r, &hist_table, hist, NULL);
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
	warn_stale(r, doc);
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
	{ "ARGS", 0, 30 },
	{ "RET", 0, 0 },
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
}

static const struct table_kind event_table = { event_cols, ARRAY_SIZE(event_cols), event_fill };

int fdw_render_events(const struct fdw_render *r, const json_t *doc)
{
	const json_t *events = get(doc, "events");

	if (!json_is_array(events))
		return -EBADMSG;
	return print_table(r, &event_table, events, NULL);
}

int fdw_render_event_heading(const struct fdw_render *r)
{
	return fdw_print_heading(r->out, event_cols, ARRAY_SIZE(event_cols));
}

int fdw_render_event_line(const struct fdw_render *r, const json_t *ev)
{
	return print_line(r, &event_table, ev);
}

/* ---- verify ------------------------------------------------------------ */

static const struct fdw_column verify_cols[] = {
	{ "PID", FDW_COL_RIGHT, 0 },
	{ "FD", FDW_COL_RIGHT, 0 },
	{ "KIND", 0, 0 },
	{ "MODEL", 0, 0 },
	{ "KERNEL", 0, 0 },
};

static void verify_fill(const struct fdw_render *r, const json_t *d, char **cells)
{
	cells[0] = text_of(get(d, "pid"));
	cells[1] = text_of(get(d, "fd"));
	cells[2] = text_of(get(d, "kind"));
	cells[3] = text_of(get(d, "model"));
	cells[4] = text_of(get(d, "kernel"));
}

static const struct table_kind verify_table = { verify_cols, ARRAY_SIZE(verify_cols),
						verify_fill };

int fdw_render_verify(const struct fdw_render *r, const json_t *doc,
		      bool *ok)
{
	const json_t *diffs = get(doc, "differences");
	const json_t *jok = get(doc, "ok");
	int ret;

	if (!json_is_boolean(jok))
		return -EBADMSG;
	*ok = json_is_true(jok);
	if (*ok) {
		fprintf(r->out, "OK: model matches /proc for %" JSON_INTEGER_FORMAT
			" processes\n", json_integer_value(get(doc, "checked")));
		return ferror(r->out) ? -EIO : 0;
	}
	ret = print_table(r, &verify_table, diffs, NULL);
	if (!ret && r->err)
		fprintf(r->err, "fdwatch: %zu difference%s between the model and /proc (%"
			JSON_INTEGER_FORMAT " process%s checked)\n",
			json_array_size(diffs),
			json_array_size(diffs) == 1 ? "" : "s",
			json_integer_value(get(doc, "checked")),
			json_integer_value(get(doc, "checked")) == 1 ? "" : "es");
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
	{ "SUMMARY", 0, 0 },
};

static void leak_fill(const struct fdw_render *r, const json_t *a, char **cells)
{
	const json_t *fired = get(a, "fired_at");

	cells[0] = text_of(get(a, "id"));
	cells[1] = text_of(get(a, "kind"));
	cells[2] = text_of(get(a, "state"));
	cells[3] = text_of(get(a, "pid"));
	cells[4] = text_of(get(a, "comm"));
	cells[5] = json_is_number(fired) ? age_text(r->now, fired) : text_of(fired);
	cells[6] = text_of(get(a, "summary"));
}

static const struct table_kind leak_table = { leak_cols, ARRAY_SIZE(leak_cols), leak_fill };

int fdw_render_leaks(const struct fdw_render *r, const json_t *doc)
{
	const json_t *alerts = get(doc, "alerts");

	if (!json_is_array(alerts))
		return -EBADMSG;
	return print_table(r, &leak_table, alerts, NULL);
}

int fdw_render_leak_heading(const struct fdw_render *r)
{
	return fdw_print_heading(r->out, leak_cols, ARRAY_SIZE(leak_cols));
}

int fdw_render_leak_line(const struct fdw_render *r, const json_t *alert)
{
	return print_line(r, &leak_table, alert);
}
