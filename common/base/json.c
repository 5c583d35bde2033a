/* json: escaping helpers; see json.h. */
#include "base/json.h"

#include <string.h>

#include "base/utf8.h"

void
sg_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, bad, n;

	fputc('"', f);
	while (i < len) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			fputc(c, f);
			i++;
		} else {
			/* copy the longest valid run, replace a bad byte */
			for (n = 2; n <= 4 && i + n <= len; n++)
				if (sg_utf8_check(p + i, n, &bad, NULL) ==
				    SG_UTF8_OK)
					break;
			if (n <= 4 && i + n <= len) {
				fwrite(p + i, 1, n, f);
				i += n;
			} else {
				fputs("\\ufffd", f);
				i++;
			}
		}
	}
	fputc('"', f);
}

void
sg_json_key(FILE *f, int first, const char *key)
{
	if (!first)
		fputc(',', f);
	sg_json_str(f, key);
	fputc(':', f);
}
