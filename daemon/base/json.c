// SPDX-License-Identifier: LGPL-2.1-or-later
/* JSON vocabulary: see json.h. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

#if !JSON_HAVE_ATOMIC_BUILTINS && !JSON_HAVE_SYNC_BUILTINS
#error "fdw_json_copy_shared() needs jansson's atomic reference counts"
#endif

json_t *fdw_json_copy_shared(json_t *v)
{
	const char *key;
	json_t *c, *item;
	size_t i;

	if (json_is_object(v)) {
		c = json_object();
		if (!c)
			return NULL;
		json_object_foreach(v, key, item) {
			if (json_object_set_new(c, key, fdw_json_copy_shared(item)) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	}
	if (json_is_array(v)) {
		c = json_array();
		if (!c)
			return NULL;
		json_array_foreach(v, i, item) {
			if (json_array_append_new(c, fdw_json_copy_shared(item)) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	}
	return json_incref(v);
}

json_t *fdw_json_bytes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, out = 0;
	json_t *j;
	char *buf;

	if (!s)
		return json_null();
	/* the common case: already UTF-8 (utf8_seq stops at the NUL) */
	for (len = 0; p[len];) {
		size_t n = utf8_seq(p + len);

		if (!n)
			break;
		len += n;
	}
	if (!p[len])
		return json_stringn_nocheck(s, len);
	len = strlen(s);
	buf = malloc(len * 4 + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i);

		if (n) {
			memcpy(buf + out, p + i, n);
			out += n;
			i += n;
		} else {
			out += (size_t)sprintf(buf + out, "\\x%02x", p[i]);
			i++;
		}
	}
	j = json_stringn_nocheck(buf, out);
	free(buf);
	return j;
}

static void put_run(FILE *f, const unsigned char *from, const unsigned char *to)
{
	if (to > from)
		(void)fwrite_unlocked(from, 1, (size_t)(to - from), f);
}

void fdw_json_put_bytes(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *run;

	if (!s) {
		(void)fputs_unlocked("null", f);
		return;
	}
	(void)putc_unlocked('"', f);
	for (run = p; *p;) {
		size_t n = utf8_seq(p);
		unsigned char c = *p;
		char esc[8];
		size_t elen = 2;

		if (n > 1 || (n == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			p += n;
			continue;
		}
		put_run(f, run, p);
		esc[0] = '\\';
		if (!n) {
			/* fdw_json_bytes' four characters \xNN, the backslash
			 * escaped by the dump */
			memcpy(esc, "\\\\x", 3);
			esc[3] = hex[c >> 4];
			esc[4] = hex[c & 15];
			elen = 5;
		} else if (c == '"' || c == '\\') {
			esc[1] = (char)c;
		} else if (c == '\b') {
			esc[1] = 'b';
		} else if (c == '\f') {
			esc[1] = 'f';
		} else if (c == '\n') {
			esc[1] = 'n';
		} else if (c == '\r') {
			esc[1] = 'r';
		} else if (c == '\t') {
			esc[1] = 't';
		} else { /* jansson: "\\u%04X" */
			memcpy(esc, "\\u00", 4);
			esc[4] = HEX[c >> 4];
			esc[5] = HEX[c & 15];
			elen = 6;
		}
		(void)fwrite_unlocked(esc, 1, elen, f);
		p++;
		run = p;
	}
	put_run(f, run, p);
	(void)putc_unlocked('"', f);
}

/* jansson's jsonp_dtostr: "%.*g", ".0" when that looks like an integer,
 * the exponent without "+" and leading zeros. */
/*
 * A Unix time of this era (2^30 <= v < 2^31 seconds, 2004 to 2038) with
 * 16 significant digits: ten before the point, six after, trailing zeros
 * dropped, exactly as "%.16g" rounds (to nearest, ties to even, on the
 * double's exact binary value). v is M * 2^-22 for an integer M < 2^53, so
 * v * 10^6 = M * 15625 / 2^16. printf's multi-precision path cost more
 * than the rest of a streamed fd together.
 */
static bool put_epoch_16g(FILE *f, double v)
{
	char buf[24], *p;
	unsigned __int128 x;
	uint64_t q, frac;
	unsigned int r;

	if (!(v >= 1073741824.0 && v < 2147483648.0))
		return false;
	x = (unsigned __int128)(uint64_t)(v * 4194304.0) * 15625u; /* exact: v * 2^22 */
	q = (uint64_t)(x >> 16);
	r = (unsigned int)(x & 0xffff);
	if (r > 0x8000 || (r == 0x8000 && (q & 1)))
		q++;
	frac = q % 1000000;
	q /= 1000000;
	p = buf + 11; /* ten digits, then the point */
	for (int i = 9; i >= 0; i--, q /= 10)
		buf[i] = (char)('0' + q % 10);
	buf[10] = '.';
	if (!frac) {
		*p++ = '0'; /* "%.16g" gives no point: jansson's ".0" */
	} else {
		for (int i = 5; i >= 0; i--, frac /= 10)
			p[i] = (char)('0' + frac % 10);
		p += 6;
		while (p[-1] == '0')
			p--;
	}
	(void)fwrite_unlocked(buf, 1, (size_t)(p - buf), f);
	return true;
}

void fdw_json_put_real(FILE *f, double v, int precision)
{
	char buf[64], *e, *from, *to;
	int n;

	if (!isfinite(v)) {
		(void)fputs_unlocked("null", f);
		return;
	}
	if (precision == 16 && put_epoch_16g(f, v))
		return;
	n = snprintf(buf, sizeof(buf), "%.*g", precision ? precision : 17, v);
	if (n < 0 || (size_t)n >= sizeof(buf) - 3) {
		(void)fputs_unlocked("null", f); /* a precision too large: still JSON */
		return;
	}
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	e = strchr(buf, 'e');
	if (e) {
		from = e + 1;
		to = from + 1;
		if (*from == '-')
			from++;
		while (*to == '0')
			to++;
		if (to != from) {
			memmove(from, to, (size_t)n - (size_t)(to - buf) + 1);
			n -= (int)(to - from);
		}
	}
	(void)fwrite_unlocked(buf, 1, (size_t)n, f);
}

static void put_digits(FILE *f, uint64_t v, bool neg)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		*--p = '-';
	(void)fwrite_unlocked(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

void fdw_json_put_int(FILE *f, int64_t v)
{
	put_digits(f, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

void fdw_json_put_u64(FILE *f, uint64_t v)
{
	if (v <= (uint64_t)INT64_MAX) {
		put_digits(f, v, false);
		return;
	}
	(void)putc_unlocked('"', f);
	put_digits(f, v, false);
	(void)putc_unlocked('"', f);
}

static const char *type_from_target(const char *t)
{
	if (!t)
		return "unknown";
	if (!strncmp(t, "pipe:", 5))
		return "fifo";
	if (!strncmp(t, "socket:", 7))
		return "sock";
	if (!strncmp(t, "anon_inode:", 11))
		return "anon";
	return "unknown";
}

const char *fdw_fd_type_name(uint32_t mode, const char *target)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "reg";
	case S_IFDIR:
		return "dir";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "sock";
	case S_IFLNK:
		return "lnk";
	case 0:
		return type_from_target(target);
	default:
		return "unknown";
	}
}
