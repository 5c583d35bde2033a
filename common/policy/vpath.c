/*
 * vpath: see vpath.h.
 */
#include "policy/vpath.h"

#include <strings.h>

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

/* A code point outside ASCII that a name may hold: a letter, a mark
 * (what a decomposed letter is made of) or a digit, or U+2019 (the
 * apostrophe word processors type). */
static int
unicode_name_char(utf8proc_int32_t cp)
{
	/* invisible: joiners, variation selectors, fillers */
	if (utf8proc_get_property(cp)->ignorable || cp == 0x115f ||
	    cp == 0x1160 || cp == 0x3164 || cp == 0xffa0)
		return 0;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND:
		return 1;
	default:
		return cp == 0x2019;
	}
}

static int
ascii_only(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* The name mapped by options (NFC, or NFC and case-folded): malloc'd, or
 * NULL when s is not well-formed UTF-8. */
static char *
name_map(const char *s, size_t n, utf8proc_option_t options)
{
	utf8proc_uint8_t *out = NULL;

	if (utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
	    &out, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_REJECTNA |
	    options) < 0)
		return NULL;
	return (char *)out;
}

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
		    ch == ')' || ch == '+' || ch == ',' || ch == '\''))
			continue;
		if (kind == SG_VSEG_ID && ch == ':')
			continue;
		if (kind == SG_VSEG_NAME && ch >= 0x80) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t l = utf8proc_iterate(
			    (const utf8proc_uint8_t *)s + i,
			    (utf8proc_ssize_t)(n - i), &cp);

			if (l <= 0 || !unicode_name_char(cp))
				return 0;
			/* a mark combines with what is before it: not first */
			if (i == 0 && (utf8proc_category(cp) ==
			    UTF8PROC_CATEGORY_MN || utf8proc_category(cp) ==
			    UTF8PROC_CATEGORY_MC))
				return 0;
			i += (size_t)l - 1;
			continue;
		}
		return 0;
	}
	if (kind == SG_VSEG_NAME && !ascii_only(s, n)) {
		/* only the NFC form: a name has one spelling */
		char *nfc = name_map(s, n, 0);
		int same = nfc != NULL && strlen(nfc) == n &&
		    memcmp(nfc, s, n) == 0;

		free(nfc);
		return same;
	}
	return 1;
}

int
sg_vname_nfc(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	char *nfc;

	if (ascii_only(in, n)) {
		if (n >= cap)
			return -1;
		memcpy(out, in, n + 1);
		return 0;
	}
	if ((nfc = name_map(in, n, 0)) == NULL || strlen(nfc) >= cap) {
		free(nfc);
		return -1;
	}
	memcpy(out, nfc, strlen(nfc) + 1);
	free(nfc);
	return 0;
}

int
sg_vname_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *fa, *fb;
	int same;

	if (ascii_only(a, la) && ascii_only(b, lb))
		return la == lb && strcasecmp(a, b) == 0;
	/* compatibility forms too: a fullwidth or mathematical letter is
	 * the letter it looks like */
	fa = name_map(a, la, UTF8PROC_CASEFOLD | UTF8PROC_COMPAT |
	    UTF8PROC_IGNORE);
	fb = name_map(b, lb, UTF8PROC_CASEFOLD | UTF8PROC_COMPAT |
	    UTF8PROC_IGNORE);
	same = fa != NULL && fb != NULL && strcmp(fa, fb) == 0;
	free(fa);
	free(fb);
	return same;
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
