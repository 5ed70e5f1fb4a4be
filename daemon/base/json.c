// SPDX-License-Identifier: LGPL-2.1-or-later
/* JSON vocabulary: see json.h. */
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
