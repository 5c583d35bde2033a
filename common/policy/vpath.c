/*
 * vpath: see vpath.h.
 */
#include "policy/vpath.h"

#include <string.h>

int
sg_vseg_ok(const char *s, size_t n, enum sg_vseg kind)
{
	size_t i;

	if (n == 0 || n > SG_VNAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.')
			continue;
		if (kind == SG_VSEG_NAME && (ch == ' ' || ch == '(' ||
		    ch == ')' || ch == '+' || ch == ','))
			continue;
		if (kind == SG_VSEG_ID && ch == ':')
			continue;
		return 0;
	}
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 32);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
sg_vpath_unescape(char *path)
{
	char *p, *out;

	if (strchr(path, '?') || strchr(path, '#'))
		return -1;
	for (p = out = path; *p; p++) {
		if (*p == '%') {
			int hi, lo;

			if ((hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
				return -1;
			if (hi * 16 + lo == '/' || hi * 16 + lo == 0)
				return -1;
			*out++ = (char)(hi * 16 + lo);
			p += 2;
		} else
			*out++ = *p;
	}
	*out = '\0';
	return 0;
}

int
sg_vpath_split(char *path, char *seg[SG_VPATH_MAXSEG], int flags)
{
	char *p = path, *e;
	int n = 0;
	size_t len;

	for (e = path; *e; e++)
		if ((unsigned char)*e < 0x20 || *e == 0x7f || *e == '\\')
			return -1;
	if (*p == '/')
		p++;
	else if (!(flags & SG_VPATH_RELATIVE))
		return -1;
	while (*p) {
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (e)
			*e = '\0';
		if (len == 0) {
			/* "//" inside, or a trailing '/' */
			if (e == NULL || !(flags & SG_VPATH_TRAILING))
				return -1;
		} else if (len > SG_VSEG_MAX)
			return -1;
		else if (p[0] == '.' && (len == 1 || (len == 2 &&
		    p[1] == '.'))) {
			if (!(flags & SG_VPATH_DOTS) && (len == 2 ||
			    !(flags & SG_VPATH_DOT)))
				return -1;
			if (len == 2 && n > 0)
				n--;
		} else {
			if (n == SG_VPATH_MAXSEG)
				return -1;
			seg[n++] = p;
		}
		if (e == NULL)
			break;
		p = e + 1;
		if (*p == '\0' && !(flags & SG_VPATH_TRAILING))
			return -1;
	}
	return n;
}
