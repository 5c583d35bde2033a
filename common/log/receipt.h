/*
 * receipt: a signed receipt for one event of a transfer (accepted,
 * downloaded, confirmed), which its holder checks offline with the
 * transfer log's verifier key alone.
 *
 * A receipt is JSON:
 *
 *   { "format": "schoolgate-receipt/1",
 *     "note": "<a C2SP signed note by the log key>",
 *     "proof": { "checkpoint": "<the log's signed checkpoint note>",
 *                "leaf_index": i, "tree_size": n,
 *                "hashes": [ "<base64>", ... ] }      (or null)
 *     "pending": "..." }                              (when proof is null)
 *
 * The note's text names the event, one "key value" per line:
 *
 *   schoolgate receipt
 *   log <the log's origin, the verifier key's name>
 *   transfer <id>
 *   event received | downloaded | confirmed
 *   by <party>
 *   agreement <id>          flow <id>            (received)
 *   plain-sha256 <hex>      stored-sha256 <hex>  (received)
 *   rows <n>                recipients <p>,<p>   (received)
 *   record <sequence number of the event's record in the log>
 *   leaf <base64 of that record's RFC 9162 leaf hash>
 *   time <RFC 3339>
 *
 * The proof, once the log has a checkpoint covering the record, is its
 * inclusion proof (RFC 9162 2.1.3) against that checkpoint: the log
 * holds the record, and cannot drop it later without its checkpoints
 * showing it. Until then the note is the log key's promise, and the
 * full receipt comes from GET /v1/transfers/{id}/receipt.
 *
 * No personal data: ids, hashes, counts.
 */
#ifndef SG_RECEIPT_H
#define SG_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "log/note.h"
#include "log/tlog.h"

#define SG_RECEIPT_FORMAT	"schoolgate-receipt/1"

struct sg_receipt {
	char		 transfer[64], event[16], by[96], agreement[130],
			 flow[130], plain_sha256[65], stored_sha256[65],
			 recipients[2048], time[32];
	uint64_t	 rows, record;
	unsigned char	 leaf[32];
	int		 has_received;	/* agreement ... recipients set */
};

/* The receipt (malloc'd JSON) for r, signed by signer; pr NULL or
 * without a checkpoint: pending. NULL when out of memory. */
char	*sg_receipt_make(const struct sg_note_key *signer,
	    const struct sg_receipt *r, const struct sg_log_proof *pr);
/* Checks a receipt against the log's verifier key: its note's
 * signature, and its proof when it has one (the checkpoint's signature,
 * the leaf's inclusion). 0 (r filled, *proved 1 or 0 when pending), or
 * -1 with err saying what does not hold. */
int	sg_receipt_verify(const char *json, size_t len,
	    const struct sg_note_key *verifier, struct sg_receipt *r,
	    int *proved, uint64_t *tree_size, char err[SG_ERR_MAX]);

#endif
