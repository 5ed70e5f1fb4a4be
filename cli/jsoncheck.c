// SPDX-License-Identifier: LGPL-2.1-or-later
/* A JSON checker that builds nothing: see jsoncheck.h. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsoncheck.h"

/* jansson's JSON_PARSER_MAX_DEPTH */
#define MAX_DEPTH 2048

struct scan {
	const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool lit(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
		return false;
	s->p += n;
	return true;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n, avail = (size_t)(end - p);
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* A \uXXXX escape at p (after the backslash and 'u'): its code unit. */
static int unicode_escape(struct scan *s)
{
	int v;

	if (s->end - s->p < 4 || (v = hex4(s->p)) < 0)
		return -1;
	s->p += 4;
	return v;
}

static bool string(struct scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		size_t n;
		int u, lo;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			n = utf8_seq(s->p, s->end);
			if (!n)
				return false;
			s->p += n;
			continue;
		}
		if (++s->p >= s->end)
			return false;
		c = *s->p++;
		if (strchr("\"\\/bfnrt", c) && c)
			continue;
		if (c != 'u' || (u = unicode_escape(s)) < 0 || u == 0)
			return false;
		if (u >= 0xdc00 && u <= 0xdfff)
			return false; /* a low surrogate alone */
		if (u >= 0xd800 && u <= 0xdbff) {
			/* a high surrogate: its low half must follow */
			if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
				return false;
			s->p += 2;
			lo = unicode_escape(s);
			if (lo < 0xdc00 || lo > 0xdfff)
				return false;
		}
	}
	return false;
}

static bool digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool number(struct scan *s)
{
	const unsigned char *start = s->p;
	bool real = false;
	char buf[64], *copy = buf, *endp;
	size_t len;
	bool ok = true;

	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || !digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		real = true;
		if (!digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		real = true;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return false;
	}
	len = (size_t)(s->p - start);
	/* short integers fit; short reals without an exponent are finite */
	if ((!real && len <= 18) || (real && len < 300 && !memchr(start, 'e', len) &&
				     !memchr(start, 'E', len)))
		return true;
	if (len >= sizeof(buf)) {
		copy = malloc(len + 1);
		if (!copy)
			return false;
	}
	memcpy(copy, start, len);
	copy[len] = '\0';
	errno = 0;
	if (real) {
		ok = isfinite(strtod(copy, &endp));
	} else {
		(void)strtoll(copy, &endp, 10);
		ok = errno != ERANGE;
	}
	if (copy != buf)
		free(copy);
	return ok;
}

static bool value(struct scan *s, int depth);

/* An object or an array at s->p. */
static bool container(struct scan *s, int depth)
{
	unsigned char close = *s->p == '{' ? '}' : ']';
	bool object = close == '}';

	if (depth >= MAX_DEPTH)
		return false;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return true;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"' || !string(s))
				return false;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
			skip_ws(s);
		}
		if (!value(s, depth + 1))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == close) {
			s->p++;
			return true;
		}
		if (*s->p != ',')
			return false;
		s->p++;
		skip_ws(s);
	}
}

/* depth: the containers around the value; jansson counts every value */
static bool value(struct scan *s, int depth)
{
	if (s->p >= s->end || depth >= MAX_DEPTH)
		return false;
	switch (*s->p) {
	case '{':
	case '[':
		return container(s, depth);
	case '"':
		return string(s);
	case 't':
		return lit(s, "true");
	case 'f':
		return lit(s, "false");
	case 'n':
		return lit(s, "null");
	default:
		return number(s);
	}
}

bool fdw_json_valid(const char *text, size_t len)
{
	struct scan s = { (const unsigned char *)text, (const unsigned char *)text + len };

	skip_ws(&s);
	if (s.p >= s.end || (*s.p != '{' && *s.p != '['))
		return false;
	if (!container(&s, 0))
		return false;
	skip_ws(&s);
	return s.p == s.end;
}

const char *fdw_json_skip(const char *p, const char *end)
{
	struct scan s = { (const unsigned char *)p, (const unsigned char *)end };

	skip_ws(&s);
	if (!value(&s, 0))
		return NULL;
	return (const char *)s.p;
}
