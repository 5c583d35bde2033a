/*
 * utf8: validation of cell text. A cell must be well-formed UTF-8
 * (no overlongs, no surrogates, nothing above U+10FFFF) and hold no C0
 * control character other than TAB, CR and LF (which only a quoted cell
 * can carry). Stateless; never reads past len.
 */
#ifndef SG_UTF8_H
#define SG_UTF8_H

#include <stddef.h>

enum sg_utf8_result {
	SG_UTF8_OK = 0,
	SG_UTF8_INVALID,	/* malformed sequence at *pos */
	SG_UTF8_CONTROL,	/* NUL or other control character at *pos */
};

/* Check s; on failure *pos is the 0-based byte offset. On success *chars
 * (may be NULL) is the number of code points. */
enum sg_utf8_result sg_utf8_check(const unsigned char *s, size_t len,
			size_t *pos, size_t *chars);

#endif
