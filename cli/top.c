// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatch top (see top.h). Plain ANSI escapes, no curses: the alternate
 * screen, cursor home, erase to end of line. The terminal is put in
 * non-canonical mode without echo (ISIG kept: ^C is a SIGINT) and restored
 * on every way out.
 *
 * Columns are a table (top_cols): adding one (the races column waits for
 * GET /v1/races, and shows "-" while the daemon answers 404) is one entry.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "top.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- what top remembers: the fd counts it saw ---------------------------- */

#define HIST_LEN 60		/* samples per process (one per refresh) */
#define HIST_PROCS 4096		/* processes remembered; more are not */

struct hist_proc {
	int pid;
	unsigned int n, head;
	double ts[HIST_LEN];
	uint32_t fds[HIST_LEN];
	bool seen;		/* in the last answer */
};

struct fdw_top_hist {
	struct hist_proc *procs;
	size_t n;
	uint64_t refused;	/* processes not remembered (bound) */
};

static struct hist_proc *hist_find(const struct fdw_top_hist *h, int pid)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (h->procs[i].pid == pid)
			return &h->procs[i];
	return NULL;
}

static void hist_add(struct fdw_top_hist *h, const json_t *procs, double now)
{
	size_t i, w;
	json_t *p;

	for (i = 0; i < h->n; i++)
		h->procs[i].seen = false;
	json_array_foreach(procs, i, p) {
		int pid = (int)json_integer_value(json_object_get(p, "pid"));
		struct hist_proc *hp = hist_find(h, pid);

		if (!hp) {
			if (h->n == HIST_PROCS) {
				h->refused++;
				continue;
			}
			hp = &h->procs[h->n++];
			memset(hp, 0, sizeof(*hp));
			hp->pid = pid;
		}
		hp->seen = true;
		hp->ts[hp->head] = now;
		hp->fds[hp->head] = (uint32_t)json_integer_value(json_object_get(p, "fds"));
		hp->head = (hp->head + 1) % HIST_LEN;
		if (hp->n < HIST_LEN)
			hp->n++;
	}
	/* forget the processes that are gone */
	for (i = w = 0; i < h->n; i++)
		if (h->procs[i].seen)
			h->procs[w++] = h->procs[i];
	h->n = w;
}

/* The samples of a process, oldest first. */
static size_t hist_values(const struct hist_proc *hp, double *v, double *ts)
{
	for (unsigned int i = 0; i < hp->n; i++) {
		unsigned int k = (hp->head + HIST_LEN - hp->n + i) % HIST_LEN;

		v[i] = hp->fds[k];
		if (ts)
			ts[i] = hp->ts[k];
	}
	return hp->n;
}

/* ---- one row --------------------------------------------------------------- */

struct top_row {
	const json_t *proc;
	int pid;
	double growth;		/* fds/min; NAN unknown */
	double share;		/* of the soft limit; < 0 unknown */
	int alerts;		/* firing */
	int races;		/* -1: no race findings from the daemon */
	const json_t *alert;	/* a firing fd-growth alert, for its series */
};

static double row_growth(const json_t *p, const struct hist_proc *hp)
{
	const json_t *g = json_object_get(p, "growth_per_min");
	double v[HIST_LEN], ts[HIST_LEN];
	size_t n;

	if (json_is_number(g))
		return json_number_value(g);
	/* an older daemon: what top saw itself */
	if (!hp || (n = hist_values(hp, v, ts)) < 2 || ts[n - 1] - ts[0] < 1)
		return NAN;
	return (v[n - 1] - v[0]) / (ts[n - 1] - ts[0]) * 60.0;
}

static double row_share(const json_t *p)
{
	const json_t *lim = json_object_get(p, "limit_soft");

	if (!json_is_integer(lim) || json_integer_value(lim) <= 0)
		return -1;
	return (double)json_integer_value(json_object_get(p, "fds")) /
	       (double)json_integer_value(lim);
}

/* How many items of doc's first array under one of keys name this pid. */
static int count_for_pid(const json_t *doc, const char *const *keys, int pid)
{
	const json_t *arr = NULL;
	size_t i;
	json_t *it;
	int n = 0;

	for (; *keys && !json_is_array(arr); keys++)
		arr = json_object_get(doc, *keys);
	json_array_foreach(arr, i, it)
		if (json_integer_value(json_object_get(it, "pid")) == pid)
			n++;
	return n;
}

static void fill_row(struct top_row *row, const json_t *p, const json_t *leaks,
		     const json_t *races, const struct fdw_top_hist *hist)
{
	static const char *const race_keys[] = { "races", "findings", NULL };
	const json_t *alerts = json_object_get(leaks, "alerts");
	size_t i;
	json_t *a;

	memset(row, 0, sizeof(*row));
	row->proc = p;
	row->pid = (int)json_integer_value(json_object_get(p, "pid"));
	row->growth = row_growth(p, hist_find(hist, row->pid));
	row->share = row_share(p);
	row->races = races ? count_for_pid(races, race_keys, row->pid) : -1;
	json_array_foreach(alerts, i, a) {
		const char *state = json_string_value(json_object_get(a, "state"));
		const char *kind = json_string_value(json_object_get(a, "kind"));

		if (json_integer_value(json_object_get(a, "pid")) != row->pid || !state ||
		    strcmp(state, "firing"))
			continue;
		row->alerts++;
		if (kind && !strcmp(kind, "fd-growth"))
			row->alert = a;
	}
}

/* ---- columns ---------------------------------------------------------------- */

struct top_ctx {
	const struct fdw_top_view *v;
	const struct fdw_top_hist *hist;
};

struct top_col {
	const char *name;
	int width;		/* 0: the rest of the line */
	bool right;
	/* the cell into buf; returns an SGR color or NULL */
	const char *(*cell)(const struct top_ctx *c, const struct top_row *row, char *buf,
			    size_t size);
};

static const char *c_pid(const struct top_ctx *c, const struct top_row *row, char *buf,
			 size_t size)
{
	snprintf(buf, size, "%d", row->pid);
	return NULL;
}

static const char *c_comm(const struct top_ctx *c, const struct top_row *row, char *buf,
			  size_t size)
{
	const char *comm = json_string_value(json_object_get(row->proc, "comm"));
	char *e = fdw_escape(comm ? comm : "-");

	snprintf(buf, size, "%s", e ? e : "?");
	free(e);
	return NULL;
}

static const char *c_fds(const struct top_ctx *c, const struct top_row *row, char *buf,
			 size_t size)
{
	snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(row->proc, "fds")));
	return NULL;
}

static const char *c_growth(const struct top_ctx *c, const struct top_row *row, char *buf,
			    size_t size)
{
	if (isnan(row->growth)) {
		snprintf(buf, size, "-");
		return NULL;
	}
	snprintf(buf, size, "%+.1f", row->growth);
	return row->growth >= 60 ? "1;31" : row->growth > 0.5 ? "33" : NULL;
}

static const char *c_limit(const struct top_ctx *c, const struct top_row *row, char *buf,
			   size_t size)
{
	if (row->share < 0) {
		snprintf(buf, size, "-");
		return NULL;
	}
	snprintf(buf, size, "%.1f%%", row->share * 100);
	return row->share >= 0.8 ? "1;31" : row->share >= 0.5 ? "33" : NULL;
}

/* Time to the soft limit: the alert's projection, else fds / growth. */
static const char *c_eta(const struct top_ctx *c, const struct top_row *row, char *buf,
			 size_t size)
{
	const json_t *eta = json_object_get(json_object_get(row->alert, "evidence"),
					    "seconds_to_limit");
	const json_t *lim = json_object_get(row->proc, "limit_soft");
	double secs = -1;

	if (json_is_number(eta)) {
		secs = json_number_value(eta);
	} else if (!isnan(row->growth) && row->growth > 0 && json_is_integer(lim)) {
		double left = (double)json_integer_value(lim) -
			      (double)json_integer_value(json_object_get(row->proc, "fds"));

		secs = left > 0 ? left / row->growth * 60.0 : 0;
	}
	fdw_format_short_duration(buf, size, secs);
	return secs >= 0 && secs < 3600 ? "1;31" : NULL;
}

static const char *c_alerts(const struct top_ctx *c, const struct top_row *row, char *buf,
			    size_t size)
{
	snprintf(buf, size, "%d", row->alerts);
	return row->alerts ? "1;31" : NULL;
}

static const char *c_races(const struct top_ctx *c, const struct top_row *row, char *buf,
			   size_t size)
{
	if (row->races < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d", row->races);
	return row->races > 0 ? "1;31" : NULL;
}

#define TREND_WIDTH 20

static const char *c_trend(const struct top_ctx *c, const struct top_row *row, char *buf,
			   size_t size)
{
	const struct hist_proc *hp;
	double v[HIST_LEN];

	/* an alerted process: the alert's window, as fdwatch leaks draws it */
	if (row->alert) {
		fdw_alert_trend(row->alert, buf, size, TREND_WIDTH, c->v->utf8);
		if (buf[0])
			return "31";
	}
	hp = hist_find(c->hist, row->pid);
	if (hp && hp->n >= 2)
		fdw_sparkline(buf, size, v, hist_values(hp, v, NULL), TREND_WIDTH, c->v->utf8);
	else
		snprintf(buf, size, "-");
	return NULL;
}

static const struct top_col top_cols[] = {
	{ "PID", 7, true, c_pid },
	{ "COMMAND", 15, false, c_comm },
	{ "FDS", 7, true, c_fds },
	{ "GROWTH/m", 9, true, c_growth },
	{ "LIMIT%", 7, true, c_limit },
	{ "ETA", 5, true, c_eta },
	{ "ALERTS", 6, true, c_alerts },
	{ "RACES", 5, true, c_races },
	{ "TREND", 0, false, c_trend },
};

/* ---- the screen -------------------------------------------------------------- */

static int screen_line, screen_rows;	/* of the frame being drawn */

/* Append s (display width w) clipped to what is left of the line. */
static void put_clipped(FILE *f, const char *s, int *left)
{
	for (; *s && *left > 0; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch, f);
		/* count code points: continuation bytes are free */
		if ((ch & 0xc0) != 0x80) {
			/* the continuation bytes of this one go out too */
			while ((((unsigned char)s[1]) & 0xc0) == 0x80)
				fputc(*++s, f);
			(*left)--;
		}
	}
}

static void put_cell(FILE *f, const struct top_col *col, const char *text, const char *sgr,
		     bool color, int *left)
{
	int w = (int)fdw_text_width(text);
	int pad = col->width > w ? col->width - w : 0;

	if (col->right)
		while (pad-- > 0 && *left > 0) {
			fputc(' ', f);
			(*left)--;
		}
	if (sgr && color)
		fprintf(f, "\033[%sm", sgr);
	put_clipped(f, text, left);
	if (sgr && color)
		fputs("\033[39;22m", f);
	if (!col->right)
		while (pad-- > 0 && *left > 0) {
			fputc(' ', f);
			(*left)--;
		}
}

/* Erase the rest of the line and go to the next one, except after the
 * last line of the screen: a newline there would scroll the first away. */
static void end_line(FILE *f)
{
	fputs("\033[K", f);
	if (++screen_line < screen_rows)
		fputs("\r\n", f);
}

/* Start a frame of rows lines at the top left. */
static void begin_frame(FILE *f, int rows)
{
	screen_line = 0;
	screen_rows = rows;
	fputs("\033[H", f);
}

int fdw_top_render(FILE *f, const struct fdw_top_view *v, const json_t *procs,
		   const json_t *leaks, const json_t *races,
		   const struct fdw_top_hist *hist, int *selected_pid)
{
	const json_t *arr = json_object_get(procs, "processes");
	const json_t **order = NULL;
	struct top_ctx ctx = { v, hist };
	json_int_t total_fds = 0;
	int firing = 0, left, line = 0, sel = -1, first = 0, body;
	size_t n, i;
	char clock[32];
	json_t *a;
	int r;

	if (!json_is_array(arr))
		return -EBADMSG;
	r = fdw_sort_processes(arr, v->sort ? v->sort : "fds", &order);
	if (r < 0)
		return r;
	n = json_array_size(arr);
	for (i = 0; i < n; i++)
		total_fds += json_integer_value(json_object_get(order[i], "fds"));
	json_array_foreach(json_object_get(leaks, "alerts"), i, a)
		firing += !strcmp(json_string_value(json_object_get(a, "state")) ?: "", "firing");
	for (i = 0; i < n; i++)
		if (json_integer_value(json_object_get(order[i], "pid")) == v->selected_pid)
			sel = (int)i;
	if (sel < 0 && n)
		sel = 0;
	*selected_pid = sel >= 0 ? (int)json_integer_value(json_object_get(order[sel], "pid")) : 0;

	fdw_format_clock(clock, sizeof(clock), v->now, true);
	left = v->cols;
	begin_frame(f, v->rows);
	{
		char head[256];

		snprintf(head, sizeof(head),
			 "fdwatch top - %.8s  processes %zu  fds %" JSON_INTEGER_FORMAT
			 "  alerts firing %d  races %s  sort: %s",
			 clock, n, total_fds, firing, races ? "on" : "n/a",
			 v->sort ? v->sort : "fds");
		put_clipped(f, head, &left);
		end_line(f);
		line++;
		left = v->cols;
		put_clipped(f, "keys: q quit  f/g/l/p sort  Up/Down select  Enter fd table", &left);
		end_line(f);
		line++;
	}
	/* the heading */
	left = v->cols;
	fputs(v->color ? "\033[1;7m" : "\033[7m", f);
	for (i = 0; i < ARRAY_SIZE(top_cols) && left > 0; i++) {
		if (i) {
			fputc(' ', f);
			left--;
		}
		put_cell(f, &top_cols[i], top_cols[i].name, NULL, false, &left);
	}
	while (left-- > 0)
		fputc(' ', f);
	fputs("\033[0m", f);
	end_line(f);
	line++;

	/* the rows that fit, scrolled so that the selection shows */
	body = v->rows - line;
	if (body < 1)
		body = 1;
	if (sel >= body)
		first = sel - body + 1;
	for (i = (size_t)first; i < n && line < v->rows; i++, line++) {
		struct top_row row;

		fill_row(&row, order[i], leaks, races, hist);
		left = v->cols;
		if ((int)i == sel)
			fputs("\033[7m", f);
		for (size_t c = 0; c < ARRAY_SIZE(top_cols) && left > 0; c++) {
			char buf[TREND_WIDTH * 3 + 64];
			const char *sgr = top_cols[c].cell(&ctx, &row, buf, sizeof(buf));

			if (c) {
				fputc(' ', f);
				left--;
			}
			put_cell(f, &top_cols[c], buf, sgr, v->color, &left);
		}
		if ((int)i == sel) {
			while (left-- > 0)
				fputc(' ', f);
			fputs("\033[0m", f);
		}
		end_line(f);
	}
	fputs("\033[J", f);
	free(order);
	return ferror(f) ? -EIO : 0;
}

/* One process's fd table (Enter). */
static int render_detail(FILE *f, const struct fdw_top_view *v, const json_t *doc,
			 const char *error, int *first)
{
	const json_t *fds = json_object_get(doc, "fds");
	int left = v->cols, line = 0;
	char head[256];
	size_t i;
	json_t *fd;
	/* a command is a program's basename, any bytes: escaped as in the list */
	char *comm = fdw_escape(json_string_value(json_object_get(doc, "comm")) ?: "?");

	begin_frame(f, v->rows);
	snprintf(head, sizeof(head), "fdwatch top - pid %" JSON_INTEGER_FORMAT " (%s): %zu fds%s",
		 json_integer_value(json_object_get(doc, "pid")), comm ? comm : "?",
		 json_array_size(fds), json_is_true(json_object_get(doc, "stale")) ? "  (stale)" : "");
	free(comm);
	if (error)
		snprintf(head, sizeof(head), "fdwatch top - %s", error);
	put_clipped(f, head, &left);
	end_line(f);
	left = v->cols;
	put_clipped(f, "keys: Esc/q/Backspace back  Up/Down/PgUp/PgDn scroll", &left);
	end_line(f);
	left = v->cols;
	fputs("\033[7m", f);
	put_clipped(f, "     FD  CLOEXEC  TYPE     SYSCALL          AGE  TARGET", &left);
	while (left-- > 0)
		fputc(' ', f);
	fputs("\033[0m", f);
	end_line(f);
	line = 3;
	/* scrolled: never past the last screenful */
	if (*first > (int)json_array_size(fds) - (v->rows - 3))
		*first = (int)json_array_size(fds) - (v->rows - 3);
	if (*first < 0)
		*first = 0;
	json_array_foreach(fds, i, fd) {
		const json_t *o = json_object_get(fd, "origin");
		char age[32], row[512];
		char *target;

		if ((int)i < *first)
			continue;
		if (line >= v->rows)
			break;
		fdw_format_age(age, sizeof(age), v->now,
			       json_number_value(json_object_get(o, "ts")),
			       json_is_number(json_object_get(o, "ts")));
		target = fdw_escape(json_string_value(json_object_get(fd, "target")) ?: "-");
		snprintf(row, sizeof(row), "%7" JSON_INTEGER_FORMAT "  %-7s  %-7s  %-14s %5s  %s",
			 json_integer_value(json_object_get(fd, "fd")),
			 json_is_true(json_object_get(fd, "cloexec")) ? "yes" : "no",
			 json_string_value(json_object_get(fd, "type")) ?: "-",
			 json_string_value(json_object_get(o, "syscall")) ?: "-", age,
			 target ? target : "?");
		free(target);
		left = v->cols;
		put_clipped(f, row, &left);
		end_line(f);
		line++;
	}
	fputs("\033[J", f);
	return ferror(f) ? -EIO : 0;
}

/* ---- the terminal ------------------------------------------------------------ */

static volatile sig_atomic_t top_stop, top_resized;
static struct termios saved_tio;
static bool tio_saved;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_stop = 1;
}

static void term_restore(void)
{
	if (!tio_saved)
		return;
	/* cursor back, main screen back, then the line discipline */
	(void)!write(STDOUT_FILENO, "\033[0m\033[?25h\033[?1049l", 19);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = false;
}

static int term_setup(void)
{
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -errno;
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) < 0)
		return -errno;
	tio_saved = true;
	atexit(term_restore);
	/* the alternate screen, no cursor */
	fputs("\033[?1049h\033[?25l\033[H\033[J", stdout);
	fflush(stdout);
	return 0;
}

static void term_size(struct fdw_top_view *v)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		v->rows = ws.ws_row;
		v->cols = ws.ws_col;
	} else {
		v->rows = 24;
		v->cols = 80;
	}
}

static double top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum key {
	KEY_NONE, KEY_QUIT, KEY_UP, KEY_DOWN, KEY_PGUP, KEY_PGDN, KEY_ENTER, KEY_BACK,
	KEY_SORT_FDS, KEY_SORT_GROWTH, KEY_SORT_LIMIT, KEY_SORT_PID, KEY_REDRAW,
};

/* The keys in what one read() returned (several may have come). */
static size_t parse_keys(const char *buf, size_t len, enum key *keys, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max; i++) {
		char ch = buf[i];

		if (ch == '\033') {
			if (i + 2 < len && (buf[i + 1] == '[' || buf[i + 1] == 'O')) {
				char k = buf[i + 2];

				i += 2;
				if (k == 'A')
					keys[n++] = KEY_UP;
				else if (k == 'B')
					keys[n++] = KEY_DOWN;
				else if ((k == '5' || k == '6') && i + 1 < len && buf[i + 1] == '~') {
					keys[n++] = k == '5' ? KEY_PGUP : KEY_PGDN;
					i++;
				}
				continue;
			}
			keys[n++] = KEY_BACK;	/* a lone Esc */
			continue;
		}
		switch (ch) {
		case 'q':
		case 'Q':
			keys[n++] = KEY_QUIT;
			break;
		case 'k':
			keys[n++] = KEY_UP;
			break;
		case 'j':
			keys[n++] = KEY_DOWN;
			break;
		case '\r':
		case '\n':
		case 'o':
			keys[n++] = KEY_ENTER;
			break;
		case 0x7f:
		case '\b':
		case 'b':
			keys[n++] = KEY_BACK;
			break;
		case 'f':
			keys[n++] = KEY_SORT_FDS;
			break;
		case 'g':
			keys[n++] = KEY_SORT_GROWTH;
			break;
		case 'l':
			keys[n++] = KEY_SORT_LIMIT;
			break;
		case 'p':
			keys[n++] = KEY_SORT_PID;
			break;
		case 0x0c:	/* ^L */
			keys[n++] = KEY_REDRAW;
			break;
		default:
			break;
		}
	}
	return n;
}

struct top_state {
	struct fdw_client *c;
	json_t *procs, *leaks, *races, *detail;
	bool races_gone;	/* the daemon has no /v1/races (404) */
	char error[160];	/* the last failure, shown on the first line */
	char detail_error[160];
	int detail_pid;		/* 0: the process list */
	int detail_first;	/* the table's first row shown */
	struct fdw_top_hist hist;
	char pending[64];	/* keys read while a request was pending */
	size_t npending;
};

/*
 * Polled by the client during each request: a signal, a closed terminal
 * or a q typed meanwhile aborts the request, so that top answers within
 * a second whatever the daemon does. Other keys wait for the main loop.
 */
static bool top_interrupted(void *userdata)
{
	struct top_state *st = userdata;
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	enum key keys[ARRAY_SIZE(st->pending)];
	size_t nk;
	ssize_t len;

	if (top_stop)
		return true;
	if (poll(&p, 1, 0) != 1)
		return false;
	if (st->npending == sizeof(st->pending))
		return false;	/* the main loop will see to them */
	len = read(STDIN_FILENO, st->pending + st->npending,
		   sizeof(st->pending) - st->npending);
	if (len == 0 || (len < 0 && errno != EINTR && errno != EAGAIN)) {
		top_stop = 1;	/* the terminal went away */
		return true;
	}
	if (len < 0)
		return false;
	st->npending += (size_t)len;
	nk = parse_keys(st->pending, st->npending, keys, ARRAY_SIZE(keys));
	for (size_t i = 0; i < nk; i++)
		if (keys[i] == KEY_QUIT)
			return true;
	return false;
}

/* GET path into *out (replacing it); 404 sets *gone when given. */
static int fetch(struct top_state *st, const char *path, json_t **out, bool *gone, char *err,
		 size_t errsize)
{
	struct fdw_response resp;
	int r = fdw_client_get(st->c, path, &resp);

	if (r < 0) {
		snprintf(err, errsize, "%s: %s", path,
			 *fdw_client_detail(st->c) ? fdw_client_detail(st->c) : strerror(-r));
		return r;
	}
	if (resp.status == 404 && gone) {
		*gone = true;
		fdw_response_clear(&resp);
		json_decref(*out);
		*out = NULL;
		return 0;
	}
	if (resp.status < 200 || resp.status >= 300 || !resp.json) {
		char buf[128];

		snprintf(err, errsize, "%s: %s", path, fdw_response_error(&resp, buf, sizeof(buf)));
		fdw_response_clear(&resp);
		return -EIO;
	}
	json_decref(*out);
	*out = json_incref(resp.json);
	fdw_response_clear(&resp);
	return 0;
}

static void refresh(struct top_state *st)
{
	char path[64];
	int r;

	st->error[0] = '\0';
	if (st->detail_pid) {
		snprintf(path, sizeof(path), "/v1/processes/%d/fds", st->detail_pid);
		st->detail_error[0] = '\0';
		if (fetch(st, path, &st->detail, NULL, st->detail_error,
			  sizeof(st->detail_error)) < 0) {
			json_decref(st->detail);
			st->detail = NULL;
		}
		return;
	}
	r = fetch(st, "/v1/processes", &st->procs, NULL, st->error, sizeof(st->error));
	if (r == 0)
		hist_add(&st->hist, json_object_get(st->procs, "processes"), top_now());
	else if (r == -ECANCELED || r == -ETIMEDOUT)
		return;		/* quit, or a daemon that does not answer */
	/* a daemon without the leak detectors or the race API still shows */
	{
		char err[sizeof(st->error)];

		r = fetch(st, "/v1/leaks", &st->leaks, NULL, err, sizeof(err));
		if (r == -ECANCELED || r == -ETIMEDOUT) {
			if (!st->error[0])
				memcpy(st->error, err, sizeof(err));
			return;
		}
		if (r < 0) {
			json_decref(st->leaks);
			st->leaks = NULL;
			if (!st->error[0])
				memcpy(st->error, err, sizeof(err));
		}
	}
	if (!st->races_gone) {
		char ignore[8];

		if (fetch(st, "/v1/races", &st->races, &st->races_gone, ignore, sizeof(ignore)) < 0) {
			json_decref(st->races);
			st->races = NULL;
		}
	}
}

/* Keep only the processes of -p in a /v1/processes answer. */
static void keep_pids(json_t *procs, const struct fdw_args *a)
{
	json_t *arr = json_object_get(procs, "processes");

	if (!a->npids || !json_is_array(arr))
		return;
	for (size_t i = json_array_size(arr); i-- > 0;) {
		json_int_t pid = json_integer_value(json_object_get(json_array_get(arr, i), "pid"));
		bool keep = false;

		for (size_t k = 0; k < a->npids; k++)
			keep |= a->pids[k] == pid;
		if (!keep)
			(void)json_array_remove(arr, i);
	}
}

static void draw(struct top_state *st, struct fdw_top_view *v, int *selected)
{
	term_size(v);
	v->now = top_now();
	if (st->detail_pid) {
		(void)render_detail(stdout, v, st->detail,
				    st->detail_error[0] ? st->detail_error : NULL, &st->detail_first);
	} else if (st->procs) {
		(void)fdw_top_render(stdout, v, st->procs, st->leaks,
				     st->races_gone ? NULL : st->races, &st->hist, selected);
		v->selected_pid = *selected;
	} else {
		int left = v->cols;

		begin_frame(stdout, v->rows);
		put_clipped(stdout, st->error[0] ? st->error : "waiting for fdwatchd...", &left);
		end_line(stdout);
		fputs("\033[J", stdout);
	}
	if (st->error[0] && st->procs) {
		/* the last line says what failed, over the rows */
		int left = v->cols;

		fprintf(stdout, "\033[%d;1H\033[1;31m", v->rows);
		put_clipped(stdout, st->error, &left);
		fputs("\033[0m\033[K", stdout);
	}
	fflush(stdout);
}

/* Move the selection by delta rows in the current order. */
static void move_selection(struct top_state *st, struct fdw_top_view *v, int delta)
{
	const json_t *arr = json_object_get(st->procs, "processes");
	const json_t **order = NULL;
	size_t n = json_array_size(arr);
	int sel = 0;

	if (!n || fdw_sort_processes(arr, v->sort, &order) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_object_get(order[i], "pid")) == v->selected_pid)
			sel = (int)i;
	sel += delta;
	if (sel < 0)
		sel = 0;
	if (sel >= (int)n)
		sel = (int)n - 1;
	v->selected_pid = (int)json_integer_value(json_object_get(order[sel], "pid"));
	free(order);
}

int fdw_top(struct fdw_client *c, const struct fdw_args *a, const struct fdw_render *r)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct fdw_top_view v = {
		.sort = a->sort ? a->sort : "fds", .color = r->color, .utf8 = r->utf8,
	};
	struct top_state st = { .c = c };
	double next = 0;
	int selected = 0;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "fdwatch: top needs a terminal (for a one-shot list: fdwatch ps --sort fds)\n");
		return FDW_EXIT_FAILURE;
	}
	st.hist.procs = calloc(HIST_PROCS, sizeof(*st.hist.procs));
	if (!st.hist.procs) {
		fprintf(stderr, "fdwatch: %s\n", strerror(ENOMEM));
		return FDW_EXIT_FAILURE;
	}
	fdw_client_set_abort(c, top_interrupted, &st);
	/* No SA_RESTART: a signal must wake libcurl's poll() and ours. */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGWINCH, &sa, NULL);
	if (term_setup() < 0) {
		fprintf(stderr, "fdwatch: cannot set up the terminal: %s\n", strerror(errno));
		free(st.hist.procs);
		return FDW_EXIT_FAILURE;
	}

	/* something shows while the first answer is awaited */
	term_size(&v);
	draw(&st, &v, &selected);
	while (!top_stop) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		enum key keys[32];
		char buf[64];
		size_t nk = 0;
		double now = mono_now();
		int timeout;
		bool redraw = false;

		if (now >= next) {
			refresh(&st);
			if (top_stop)
				break;
			keep_pids(st.procs, a);
			next = now + a->interval_ms / 1000.0;
			redraw = true;
		}
		if (redraw || top_resized) {
			top_resized = 0;
			draw(&st, &v, &selected);
		}
		timeout = (int)((next - mono_now()) * 1000);
		if (timeout < 0)
			timeout = 0;
		if (st.npending) {
			/* keys typed while a request was pending */
			nk = parse_keys(st.pending, st.npending, keys, ARRAY_SIZE(keys));
			st.npending = 0;
		} else if (poll(&p, 1, timeout) <= 0) {
			continue;	/* the time, or a signal */
		} else {
			ssize_t len = read(STDIN_FILENO, buf, sizeof(buf));

			if (len == 0) /* the terminal went away */
				break;
			if (len > 0)
				nk = parse_keys(buf, (size_t)len, keys, ARRAY_SIZE(keys));
		}
		for (size_t i = 0; i < nk && !top_stop; i++) {
			switch (keys[i]) {
			case KEY_QUIT:
				if (st.detail_pid) {
					st.detail_pid = 0;
					next = 0;
				} else {
					top_stop = 1;
				}
				break;
			case KEY_BACK:
				if (st.detail_pid) {
					st.detail_pid = 0;
					next = 0;
				}
				break;
			case KEY_ENTER:
				if (!st.detail_pid && v.selected_pid) {
					st.detail_pid = v.selected_pid;
					st.detail_first = 0;
					next = 0;
				}
				break;
			case KEY_UP:
			case KEY_DOWN:
			case KEY_PGUP:
			case KEY_PGDN:
				{
					int page = v.rows > 4 ? v.rows - 4 : 1;
					int delta = keys[i] == KEY_UP ? -1 : keys[i] == KEY_DOWN ? 1 :
						    keys[i] == KEY_PGUP ? -page : page;

					if (st.detail_pid)
						st.detail_first += delta;
					else
						move_selection(&st, &v, delta);
				}
				top_resized = 1;
				break;
			case KEY_SORT_FDS:
				v.sort = "fds";
				top_resized = 1;
				break;
			case KEY_SORT_GROWTH:
				v.sort = "growth";
				top_resized = 1;
				break;
			case KEY_SORT_LIMIT:
				v.sort = "limit";
				top_resized = 1;
				break;
			case KEY_SORT_PID:
				v.sort = "pid";
				top_resized = 1;
				break;
			case KEY_REDRAW:
				fputs("\033[H\033[J", stdout);
				top_resized = 1;
				break;
			case KEY_NONE:
				break;
			}
		}
	}
	fdw_client_set_abort(c, NULL, NULL);
	term_restore();
	json_decref(st.procs);
	json_decref(st.leaks);
	json_decref(st.races);
	json_decref(st.detail);
	free(st.hist.procs);
	return FDW_EXIT_OK;
}
