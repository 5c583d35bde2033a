/*
 * zipin: streamed intake of an encrypted ZIP with libarchive (the zip
 * reader only, no seeking, so the same code reads from a socket later).
 *
 * The archive must hold exactly one file (directories are ignored).
 * WinZip AES (AE-1/AE-2, 128/192/256) is accepted where the flow allows
 * zip-aes; ZipCrypto only where it allows zip-legacy, and then with a
 * weak-encryption warning. Links, devices, nested archives, unsafe names,
 * and entries that expand beyond the flow's byte or ratio limits are
 * refused as soon as they are seen, counting bytes actually produced.
 * Every libarchive return other than OK (ARCHIVE_WARN is how a bad AES
 * authentication code or CRC arrives) is a failure, and nothing counts as
 * accepted until the entry has ended cleanly.
 *
 * Problems go into the report as file-level entries (row 0); the entry's
 * name is never echoed (it may name a person).
 */
#ifndef SG_ZIPIN_H
#define SG_ZIPIN_H

#include <stddef.h>
#include <sys/types.h>

#include "policy/config.h"
#include "base/io.h"
#include "check/report.h"

struct sg_zipin_opts {
	const char		*passphrase;	/* may be NULL */
	unsigned		 encryptions;	/* SG_ENC_* the flow accepts */
	int			 require_encryption; /* 0: warn (checker) */
	const struct sg_limits	*limits;
	const char		*pattern;	/* entry-name glob or NULL */
	int			 allow_zip_content; /* docx/xlsx flows */
};

/* Returns 0 when the one entry was delivered whole and clean, -1 when the
 * archive is refused (reasons in the report). `first` holds bytes already
 * read from the source (content sniffing); it is replayed first. */
int	sg_zipin_run(const struct sg_zipin_opts *, const void *first,
	    size_t nfirst, sg_src_fn src, void *src_arg, sg_sink_fn sink,
	    void *sink_arg, struct sg_report *);

#endif
