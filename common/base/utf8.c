/* utf8: cell text validation; see utf8.h. */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

/* Any byte >= 0x80 or < 0x20 in the 8-byte word? */
static int
word_special(uint64_t w)
{
	const uint64_t hi = 0x8080808080808080ULL;
	const uint64_t ctl = 0x2020202020202020ULL;

	/* The classic "has a byte less than n" test, plus the high bits. */
	return ((((w - ctl) & ~w) | w) & hi) != 0;
}

enum sg_utf8_result
sg_utf8_check(const unsigned char *s, size_t len, size_t *pos, size_t *chars)
{
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned char c;

		if (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (!word_special(w)) {
				i += 8;
				n += 8;
				continue;
			}
		}
		c = s[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
				*pos = i;
				return SG_UTF8_CONTROL;
			}
			i++;
		} else if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= len || (s[i + 1] & 0xc0) != 0x80)
				goto bad;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (i + 2 >= len || (s[i + 1] & 0xc0) != 0x80 ||
			    (s[i + 2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && s[i + 1] < 0xa0) ||	/* overlong */
			    (c == 0xed && s[i + 1] > 0x9f))	/* surrogate */
				goto bad;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (i + 3 >= len || (s[i + 1] & 0xc0) != 0x80 ||
			    (s[i + 2] & 0xc0) != 0x80 ||
			    (s[i + 3] & 0xc0) != 0x80 ||
			    (c == 0xf0 && s[i + 1] < 0x90) ||
			    (c == 0xf4 && s[i + 1] > 0x8f))
				goto bad;
			i += 4;
		} else
			goto bad;
		n++;
	}
	if (chars != NULL)
		*chars = n;
	return SG_UTF8_OK;
bad:
	*pos = i;
	return SG_UTF8_INVALID;
}
