/*
 * csvcheck: streaming validation of a CSV extract against a flow's
 * manifest, with libcsv in strict mode.
 *
 * Feed the bytes in any chunking; memory stays bounded whatever the file
 * size (one field of at most max_field_bytes, plus the key set's 8-12
 * bytes per row). Every problem goes into the report given at creation;
 * the verdict is final only after sg_csvcheck_finish().
 *
 * Rows are numbered as a spreadsheet shows them: the header is row 1 and
 * every record after it (blank lines included) is the next row.
 *
 * Ownership: the manifest and the report must outlive the checker. Not
 * thread-safe; one checker per file.
 */
#ifndef SG_CSVCHECK_H
#define SG_CSVCHECK_H

#include <stddef.h>

#include "policy/config.h"
#include "check/report.h"

struct sg_csvcheck;

/* NULL on allocation failure. The synchronous checker does all its work
 * in the caller's thread. The threaded one parses in the caller's thread
 * and checks on a thread of its own, joined through a bounded pipe
 * (8 blocks of 256 KiB): the report must not be read before
 * sg_csvcheck_finish() or sg_csvcheck_free() returns. */
struct sg_csvcheck *sg_csvcheck_new(const struct sg_manifest *,
		    struct sg_report *);
struct sg_csvcheck *sg_csvcheck_new_threaded(const struct sg_manifest *,
		    struct sg_report *);
/* The sending school's LAESTAB (3414001), for a manifest with
 * sender_school: each row's LA code and establishment number (or its
 * LAESTAB) must be this school's. Before the first feed; 0: not
 * checked. */
void		 sg_csvcheck_school(struct sg_csvcheck *, unsigned long laestab);
/* Where the identifiers of columns marked `index` go (store/blind.h),
 * as codes, row by row, on the checking thread; the set may be read once
 * sg_csvcheck_finish() has returned. Before the first feed; NULL: not
 * collected. */
struct sg_blind_set;
void		 sg_csvcheck_subjects(struct sg_csvcheck *, struct sg_blind_set *);
/* 0 while checking goes on; -1 once it has stopped (a fatal error such as
 * broken quoting or an over-long field is in the report). Feeding after
 * a stop is harmless and ignored. */
int		 sg_csvcheck_feed(struct sg_csvcheck *, const void *, size_t);
/* End of input: final checks (empty file, no rows, unterminated quote).
 * 0 when the checker ran to the end, -1 when it had stopped. */
int		 sg_csvcheck_finish(struct sg_csvcheck *);
void		 sg_csvcheck_free(struct sg_csvcheck *);
/* Every whole row fed so far has been checked when this returns (a row
 * not yet ended waits for its end); until the next feed, the report may
 * be read for what it holds so far. 1 when it already holds an error
 * (the file will be rejected), 0 when not, -1 when the checker has
 * stopped (rejected; the report must not be read before finish). */
int		 sg_csvcheck_sync(struct sg_csvcheck *);

#endif
