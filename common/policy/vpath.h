/*
 * vpath: the one resolver for the virtual paths clients name (SFTP paths,
 * HTTPS URLs). A path is split into segments; nothing a client names is
 * ever used as a file name on disk, so the resolver's job is to refuse
 * what is not plainly a path inside the tree: control characters, empty
 * or over-long segments, leading dots, "..", too many segments.
 */
#ifndef SG_VPATH_H
#define SG_VPATH_H

#include <stddef.h>

#include "store/store.h"

#define SG_VPATH_MAXSEG	8
/* The longest file name a sender may give ... */
#define SG_VNAME_MAX	128
/* ... and so the longest segment the tree shows: a transfer as listed in
 * /receive or /reports, its id, '_', the name and a suffix (".age",
 * ".txt"). What is listed can always be named back. */
#define SG_VSUFFIX_MAX	4
#define SG_VSEG_MAX	((SG_ID_MAX - 1) + 1 + SG_VNAME_MAX + SG_VSUFFIX_MAX)

/* What a segment may be: an id (agreement, flow, party: ASCII letters,
 * digits, - _ . :) or a file name: Unicode letters, marks and digits,
 * space, the apostrophe (' and U+2019) and . _ - ( ) + , in well-formed
 * UTF-8, in NFC, not starting with a dot, at most SG_VNAME_MAX bytes. A
 * name in another normalisation form is refused here: the fronts make
 * it NFC first (sg_vname_nfc), so "Zoë" typed either way is one name. */
enum sg_vseg { SG_VSEG_ID, SG_VSEG_NAME };

/* 1 when s (n bytes) is an acceptable segment of that kind. */
int	sg_vseg_ok(const char *s, size_t n, enum sg_vseg kind);

/* The NFC form of a file name as a client sent it, into out (cap bytes,
 * NUL-ended). 0, or -1 when it is not well-formed UTF-8 or its NFC form
 * does not fit; whether it is an acceptable name is sg_vseg_ok's. */
int	sg_vname_nfc(const char *in, char *out, size_t cap);
/* 1 when two names are the same to a person: equal once case-folded and
 * normalised ("Census.zip" and "census.ZIP", "Zoë" composed and
 * decomposed), so that one cannot stand in for the other. */
int	sg_vname_same(const char *a, const char *b);

/* Flags for sg_vpath_split. */
#define SG_VPATH_RELATIVE	0x1	/* a path without a leading '/' is
					   taken from the root */
#define SG_VPATH_DOTS		0x2	/* "." and ".." are resolved
					   lexically (never above the root);
					   otherwise they are refused */
#define SG_VPATH_TRAILING	0x4	/* a trailing '/' is allowed */
#define SG_VPATH_DOT		0x8	/* "." segments are skipped (".."
					   is still refused) */

/*
 * Splits path (modified in place; NUL-terminated) into at most
 * SG_VPATH_MAXSEG segments. Returns the count (0 is the root), or -1
 * when the path is refused. Segments are checked only for control
 * characters, '\\' and length here; sg_vseg_ok() says whether one is a
 * valid id or name for its place in the tree.
 */
int	sg_vpath_split(char *path, char *seg[SG_VPATH_MAXSEG], int flags);

/* Percent-decodes a URL path in place ("%2f" and "%00" are refused).
 * Returns 0, or -1. */
int	sg_vpath_unescape(char *path);

#endif
