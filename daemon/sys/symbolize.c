// SPDX-License-Identifier: LGPL-2.1-or-later
/* Stack frames to names with elfutils' libdwfl. See symbolize.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/symbolize.h"

#ifdef HAVE_LIBDW
#include <elfutils/libdwfl.h>

struct fdw_symbolizer {
	uint32_t pid;
	Dwfl *dwfl;
	bool reloaded; /* the mappings were re-read once already */
};

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

bool fdw_symbolizer_available(void)
{
	return true;
}

static int report(uint32_t pid, Dwfl **out)
{
	Dwfl *dwfl = dwfl_begin(&proc_callbacks);
	int r;

	if (!dwfl)
		return -ENOMEM;
	/* returns an errno (positive) or -1 for a libdwfl error */
	r = dwfl_linux_proc_report(dwfl, (pid_t)pid);
	if (r != 0) {
		dwfl_end(dwfl);
		return r > 0 ? -r : -EIO;
	}
	if (dwfl_report_end(dwfl, NULL, NULL) != 0) {
		dwfl_end(dwfl);
		return -EIO;
	}
	*out = dwfl;
	return 0;
}

int fdw_symbolizer_new(uint32_t pid, struct fdw_symbolizer **out)
{
	struct fdw_symbolizer *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->pid = pid;
	r = report(pid, &s->dwfl);
	if (r < 0) {
		free(s);
		return r == -ENOENT ? -ESRCH : r;
	}
	*out = s;
	return 0;
}

void fdw_symbolizer_free(struct fdw_symbolizer *s)
{
	if (!s)
		return;
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

int fdw_symbolize(struct fdw_symbolizer *s, uint64_t ip, bool return_address, char *buf,
		  size_t len)
{
	Dwarf_Addr lookup = return_address && ip ? ip - 1 : ip;
	Dwfl_Module *mod = NULL;
	const char *modname = NULL, *fn = NULL;
	GElf_Off off = 0;
	GElf_Sym sym;

	if (!len)
		return 0;
	if (s && s->dwfl) {
		mod = dwfl_addrmodule(s->dwfl, lookup);
		if (!mod && !s->reloaded) {
			Dwfl *fresh;

			s->reloaded = true;
			if (report(s->pid, &fresh) == 0) {
				dwfl_end(s->dwfl);
				s->dwfl = fresh;
				mod = dwfl_addrmodule(s->dwfl, lookup);
			}
		}
	}
	if (mod) {
		modname = base_name(dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL,
						     NULL));
		fn = dwfl_module_addrinfo(mod, lookup, &off, &sym, NULL, NULL, NULL);
	}
	if (fn) {
		/* the offset of the frame's own address, as debuggers print it */
		snprintf(buf, len, "%s+0x%" PRIx64 " (%s)", fn, (uint64_t)(off + (ip - lookup)),
			 modname && *modname ? modname : "?");
		return 1;
	}
	if (modname && *modname)
		snprintf(buf, len, "0x%" PRIx64 " (%s)", ip, modname);
	else
		snprintf(buf, len, "0x%" PRIx64, ip);
	return 0;
}

#else /* !HAVE_LIBDW */

bool fdw_symbolizer_available(void)
{
	return false;
}

int fdw_symbolizer_new(uint32_t pid, struct fdw_symbolizer **out)
{
	(void)pid;
	*out = NULL;
	return -ENOTSUP;
}

void fdw_symbolizer_free(struct fdw_symbolizer *s)
{
	(void)s;
}

int fdw_symbolize(struct fdw_symbolizer *s, uint64_t ip, bool return_address, char *buf,
		  size_t len)
{
	(void)s;
	(void)return_address;
	if (len)
		snprintf(buf, len, "0x%" PRIx64, ip);
	return 0;
}

#endif
