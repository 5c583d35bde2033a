/* html: form fields, cookies and templates for the web page; see html.h. */
#include "base/html.h"

#include <string.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one urlencoded value (n bytes) into out; -2 when malformed or
 * too long. */
static long
form_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];

		if (ch == '+')
			ch = ' ';
		else if (ch == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -2;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -2;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch == 0 || o + 1 >= cap)
			return -2;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return (long)o;
}

long
sg_form_field(const char *body, size_t len, const char *name, char *out,
    size_t cap)
{
	size_t nl = strlen(name), i = 0;
	long found = -1;

	if (cap == 0)
		return -2;
	while (i < len) {
		const char *pair = body + i, *amp, *eq;
		size_t plen;

		amp = memchr(pair, '&', len - i);
		plen = amp ? (size_t)(amp - pair) : len - i;
		eq = memchr(pair, '=', plen);
		if (eq != NULL && (size_t)(eq - pair) == nl &&
		    memcmp(pair, name, nl) == 0) {
			if (found != -1)
				return -2;	/* repeated: ambiguous */
			found = form_decode(eq + 1, plen - nl - 1, out, cap);
			if (found < 0)
				return found;
		}
		i += plen + 1;
	}
	if (found == -1)
		out[0] = '\0';
	return found;
}

long
sg_cookie_get(const char *h, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	while (h != NULL && *h) {
		const char *end;
		size_t vl;

		while (*h == ' ' || *h == ';')
			h++;
		end = strchr(h, ';');
		if (end == NULL)
			end = h + strlen(h);
		if ((size_t)(end - h) > nl && h[nl] == '=' &&
		    strncmp(h, name, nl) == 0) {
			vl = (size_t)(end - h) - nl - 1;
			while (vl > 0 && h[nl + vl] == ' ')
				vl--;
			if (vl + 1 > cap)
				return -1;
			memcpy(out, h + nl + 1, vl);
			out[vl] = '\0';
			return (long)vl;
		}
		h = end;
	}
	return -1;
}

void
sg_html_escape(FILE *f, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		switch (s[i]) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(s[i], f);
		}
}

static const char *
var(const char *const vars[], const char *name, size_t nl)
{
	size_t i;

	for (i = 0; vars != NULL && vars[i] != NULL; i += 2)
		if (strlen(vars[i]) == nl && memcmp(vars[i], name, nl) == 0)
			return vars[i + 1];
	return NULL;
}

/* The end of the section opened just before t[i] ("{{/name}}"), or
 * NULL; sections of the same name do not nest. */
static const char *
section_end(const char *t, size_t len, size_t i, const char *name, size_t nl,
    size_t *after)
{
	size_t j;

	for (j = i; j + nl + 5 <= len; j++)
		if (t[j] == '{' && t[j + 1] == '{' && t[j + 2] == '/' &&
		    memcmp(t + j + 3, name, nl) == 0 &&
		    t[j + 3 + nl] == '}' && t[j + 4 + nl] == '}') {
			*after = j + nl + 5;
			return t + j;
		}
	return NULL;
}

int
sg_tmpl_fill(FILE *f, const char *t, size_t len, const char *const vars[])
{
	size_t i = 0;

	while (i < len) {
		const char *open = NULL, *v, *end;
		size_t j, raw, nl, after;

		for (j = i; j + 1 < len; j++)
			if (t[j] == '{' && t[j + 1] == '{') {
				open = t + j;
				break;
			}
		if (open == NULL) {
			fwrite(t + i, 1, len - i, f);
			return 0;
		}
		fwrite(t + i, 1, j - i, f);
		if (j + 2 < len && t[j + 2] == '#') {
			/* {{#name}}...{{/name}}: shown when name has a
			 * value that is not empty */
			j += 3;
			for (nl = 0; j + nl < len && t[j + nl] != '}'; nl++)
				;
			if (nl == 0 || j + nl + 2 > len || t[j + nl + 1] != '}' ||
			    (end = section_end(t, len, j + nl + 2, t + j, nl,
			    &after)) == NULL)
				return -1;
			v = var(vars, t + j, nl);
			if (v != NULL && v[0] != '\0' && sg_tmpl_fill(f,
			    t + j + nl + 2, (size_t)(end - (t + j + nl + 2)),
			    vars) != 0)
				return -1;
			i = after;
			continue;
		}
		raw = (j + 2 < len && t[j + 2] == '{') ? 3 : 2;
		j += raw;
		for (nl = 0; j + nl < len && t[j + nl] != '}'; nl++)
			;
		if (j + nl + raw > len)
			return -1;
		for (i = 0; i < raw; i++)
			if (t[j + nl + i] != '}')
				return -1;
		if ((v = var(vars, t + j, nl)) != NULL) {
			if (raw == 3)
				fputs(v, f);
			else
				sg_html_escape(f, v, strlen(v));
		}
		i = j + nl + raw;
	}
	return 0;
}
