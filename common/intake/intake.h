/*
 * intake: check one upload against its flow, whatever container it came
 * in. The container is recognised by content, never by name: a ZIP
 * (local-header signature), an age file (binary or armored), or plain
 * CSV.
 *
 * For a ZIP on a CSV flow, decoding and checking overlap: libarchive runs
 * on the calling thread and the CSV checker on a second thread, joined by
 * a bounded pipe (512 KiB), so memory does not grow with the file.
 *
 * Contract: sg_intake_check() reads src to its end (or until the verdict
 * is certain), fills the report, and returns 0; it returns -1 only when
 * it could not run at all (then the report says why). The verdict is
 * sg_report_verdict(report).
 */
#ifndef SG_INTAKE_H
#define SG_INTAKE_H

#include "seal/age.h"
#include "policy/config.h"
#include "check/report.h"
#include "intake/zipin.h"

struct sg_blind_set;

struct sg_intake_opts {
	const struct sg_flow	*flow;
	const char		*passphrase;	/* ZIP password, may be NULL */
	int			 require_encryption; /* 0: offline checker */
	/* the sending school's LAESTAB, for a manifest's sender_school
	 * check; 0: not checked */
	unsigned long		 school;
	/* where the identifiers of the manifest's `index` columns go, as
	 * codes (store/blind.h); NULL: not collected */
	struct sg_blind_set	*subjects;
	/* the gateway's storage identity, for uploads sealed to it */
	const struct sg_age_identity *ids;
	size_t			 nids;
	/* When set, every decoded byte is passed here (on the checking
	 * thread) before it is checked, so that the daemon seals while it
	 * checks; a refusal stops the check with rule store.write. */
	sg_sink_fn		 plain;
	void			*plain_arg;
	/* Optional: how the check stands before the end. Before each read
	 * of the source, want_sync(sync_arg) may ask; then every byte read
	 * so far is decoded and checked (whole rows: a row not yet ended
	 * waits for its end) before synced(sync_arg, rejected, the first
	 * error or NULL) is called, on the thread that runs the intake. The
	 * daemon uses it to tell an SFTP client of a rejection in the answer
	 * to its last WRITE. */
	int			(*want_sync)(void *);
	void			(*synced)(void *, int rejected,
				    const struct sg_report_entry *first);
	void			*sync_arg;
};

int	sg_intake_check(const struct sg_intake_opts *, sg_src_fn src,
	    void *src_arg, struct sg_report *);

#endif
