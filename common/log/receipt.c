/*
 * receipt: signed receipts for transfer events (see receipt.h).
 */
#include "log/receipt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/codec.h"
#include "log/merkle.h"

#define TITLE	"schoolgate receipt"

/* Values go on one line each: no newline, nothing a reader could take
 * for another key. The callers pass ids, hashes and numbers. */
static int
line_ok(const char *v)
{
	return v != NULL && v[0] != '\0' && strpbrk(v, "\n\r") == NULL &&
	    strlen(v) < 2048;
}

char *
sg_receipt_make(const struct sg_note_key *signer, const struct sg_receipt *r,
    const struct sg_log_proof *pr)
{
	char text[4096], leaf[48], *note, *out = NULL;
	json_t *j, *proof = json_null();
	size_t i;
	int n;

	if (!line_ok(r->transfer) || !line_ok(r->event) || !line_ok(r->by) ||
	    !line_ok(r->time) || (r->has_received && (!line_ok(r->agreement) ||
	    !line_ok(r->flow) || !line_ok(r->plain_sha256) ||
	    !line_ok(r->stored_sha256) || !line_ok(r->recipients))))
		return NULL;
	sg_b64_encode(r->leaf, 32, leaf, 1);
	if (r->has_received)
		n = snprintf(text, sizeof(text), TITLE "\nlog %s\ntransfer %s\n"
		    "event %s\nby %s\nagreement %s\nflow %s\nplain-sha256 %s\n"
		    "stored-sha256 %s\nrows %" PRIu64 "\nrecipients %s\n"
		    "record %" PRIu64 "\nleaf %s\ntime %s\n", signer->name,
		    r->transfer, r->event, r->by, r->agreement, r->flow,
		    r->plain_sha256, r->stored_sha256, r->rows, r->recipients,
		    r->record, leaf, r->time);
	else
		n = snprintf(text, sizeof(text), TITLE "\nlog %s\ntransfer %s\n"
		    "event %s\nby %s\nrecord %" PRIu64 "\nleaf %s\ntime %s\n",
		    signer->name, r->transfer, r->event, r->by, r->record, leaf,
		    r->time);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    (note = sg_note_sign(text, (size_t)n, signer)) == NULL)
		return NULL;
	if (pr != NULL && pr->checkpoint != NULL) {
		json_t *h = json_array();

		for (i = 0; i < pr->plen; i++) {
			char b[48];

			sg_b64_encode(pr->proof[i], 32, b, 1);
			json_array_append_new(h, json_string(b));
		}
		proof = json_pack("{s:s, s:I, s:I, s:o}", "checkpoint",
		    pr->checkpoint, "leaf_index", (json_int_t)(pr->seq - 1),
		    "tree_size", (json_int_t)pr->size, "hashes", h);
	}
	j = json_pack("{s:s, s:s, s:o}", "format", SG_RECEIPT_FORMAT, "note",
	    note, "proof", proof);
	if (j != NULL && json_is_null(proof))
		json_object_set_new(j, "pending", json_string("the transfer "
		    "log has not yet made a checkpoint covering this record; "
		    "GET /v1/transfers/{id}/receipt gives the receipt with "
		    "its inclusion proof once it has"));
	free(note);
	if (j != NULL)
		out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}

/* "key value\n" lines of the note's text into r; -1 when a line is
 * missing, repeated, or not one a receipt has. */
static int
parse_text(const char *t, size_t n, const char *logname,
    struct sg_receipt *r, char err[SG_ERR_MAX])
{
	static const char *const keys[] = { "log", "transfer", "event", "by",
	    "agreement", "flow", "plain-sha256", "stored-sha256", "rows",
	    "recipients", "record", "leaf", "time", NULL };
	unsigned seen = 0;
	const char *p = t, *end = t + n, *nl, *sp;
	char v[2048], *e;
	size_t k, kl, vl;

	memset(r, 0, sizeof(*r));
	if (n < sizeof(TITLE) || memcmp(t, TITLE "\n", sizeof(TITLE)) != 0)
		return sg_errf(err, "not a schoolgate receipt");
	p += sizeof(TITLE);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
			return sg_errf(err, "a line of the receipt is malformed");
		kl = (size_t)(sp - p);
		vl = (size_t)(nl - sp - 1);
		if (vl == 0 || vl >= sizeof(v))
			return sg_errf(err, "a value of the receipt is malformed");
		memcpy(v, sp + 1, vl);
		v[vl] = '\0';
		for (k = 0; keys[k] != NULL; k++)
			if (strlen(keys[k]) == kl && memcmp(keys[k], p, kl) == 0)
				break;
		if (keys[k] == NULL || (seen & (1u << k)))
			return sg_errf(err, "the receipt has an unknown or "
			    "repeated line");
		seen |= 1u << k;
#define PUT(f) do { \
	if (vl >= sizeof(r->f)) \
		return sg_errf(err, "a value of the receipt is too long"); \
	memcpy(r->f, v, vl + 1); \
} while (0)
		switch (k) {
		case 0:
			if (strcmp(v, logname) != 0)
				return sg_errf(err, "the receipt is for log "
				    "\"%s\", not this key's", v);
			break;
		case 1: PUT(transfer); break;
		case 2: PUT(event); break;
		case 3: PUT(by); break;
		case 4: PUT(agreement); break;
		case 5: PUT(flow); break;
		case 6: PUT(plain_sha256); break;
		case 7: PUT(stored_sha256); break;
		case 8:
			r->rows = strtoull(v, &e, 10);
			if (*e != '\0')
				return sg_errf(err, "rows is not a number");
			break;
		case 9: PUT(recipients); break;
		case 10:
			r->record = strtoull(v, &e, 10);
			if (*e != '\0' || r->record == 0)
				return sg_errf(err, "record is not a number");
			break;
		case 11:
			if (sg_b64_decode(v, vl, r->leaf, 32, 1) != 32)
				return sg_errf(err, "leaf is not a hash");
			break;
		case 12: PUT(time); break;
		}
#undef PUT
		p = nl + 1;
	}
	/* log transfer event by record leaf time */
	if ((seen & 0x1c0fu) != 0x1c0fu)
		return sg_errf(err, "the receipt lacks a line it must have");
	r->has_received = (seen & 0x3f0u) == 0x3f0u;
	if (strcmp(r->event, "received") == 0 && !r->has_received)
		return sg_errf(err, "a receipt for an acceptance must name the "
		    "agreement, flow, hashes, rows and recipients");
	return 0;
}

/* "<origin>\n<size>\n<base64 root>\n" */
static int
parse_checkpoint(const char *t, size_t n, const char *logname,
    uint64_t *size, unsigned char root[32], char err[SG_ERR_MAX])
{
	char buf[256], *a, *b, *c, *e;

	if (n == 0 || n >= sizeof(buf))
		return sg_errf(err, "the checkpoint is malformed");
	memcpy(buf, t, n);
	buf[n] = '\0';
	a = buf;
	if ((b = strchr(a, '\n')) == NULL)
		return sg_errf(err, "the checkpoint is malformed");
	*b++ = '\0';
	if ((c = strchr(b, '\n')) == NULL)
		return sg_errf(err, "the checkpoint is malformed");
	*c++ = '\0';
	if (strcmp(a, logname) != 0)
		return sg_errf(err, "the checkpoint is for another log");
	*size = strtoull(b, &e, 10);
	if (*e != '\0' || b[0] == '\0')
		return sg_errf(err, "the checkpoint's size is malformed");
	if ((e = strchr(c, '\n')) == NULL || e[1] != '\0' ||
	    sg_b64_decode(c, (size_t)(e - c), root, 32, 1) != 32)
		return sg_errf(err, "the checkpoint's root is malformed");
	return 0;
}

int
sg_receipt_verify(const char *json, size_t len,
    const struct sg_note_key *key, struct sg_receipt *r, int *proved,
    uint64_t *tree_size, char err[SG_ERR_MAX])
{
	unsigned char (*h)[32] = NULL, root[32];
	const char *note, *cp, *why = NULL;
	json_t *j, *pf, *hs, *v;
	json_error_t je;
	size_t tl, i, nh;
	uint64_t size = 0;
	int rc = -1;

	*proved = 0;
	*tree_size = 0;
	if ((j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return sg_errf(err, "not a receipt (JSON: %s)", je.text);
	if (!json_is_object(j) || !json_is_string(json_object_get(j,
	    "format")) || strcmp(json_string_value(json_object_get(j,
	    "format")), SG_RECEIPT_FORMAT) != 0 ||
	    !json_is_string(json_object_get(j, "note"))) {
		sg_errf(err, "not a receipt (format %s expected)",
		    SG_RECEIPT_FORMAT);
		goto out;
	}
	note = json_string_value(json_object_get(j, "note"));
	if (sg_note_verify(note, strlen(note), key, &tl, &why) != 0) {
		sg_errf(err, "the receipt's signature does not hold: %s", why ?
		    why : "bad note");
		goto out;
	}
	if (parse_text(note, tl, key->name, r, err) != 0)
		goto out;
	pf = json_object_get(j, "proof");
	if (pf == NULL || json_is_null(pf)) {
		rc = 0;		/* a promise: signed, not yet proved */
		goto out;
	}
	if (!json_is_object(pf) || !json_is_string(v = json_object_get(pf,
	    "checkpoint")) || !json_is_integer(json_object_get(pf,
	    "leaf_index")) || !json_is_integer(json_object_get(pf,
	    "tree_size")) || !json_is_array(hs = json_object_get(pf,
	    "hashes")) || (nh = json_array_size(hs)) > SG_MERKLE_MAX_PROOF) {
		sg_errf(err, "the receipt's proof is malformed");
		goto out;
	}
	cp = json_string_value(v);
	if (sg_note_verify(cp, strlen(cp), key, &tl, &why) != 0) {
		sg_errf(err, "the checkpoint's signature does not hold: %s",
		    why ? why : "bad note");
		goto out;
	}
	if (parse_checkpoint(cp, tl, key->name, &size, root, err) != 0)
		goto out;
	if ((uint64_t)json_integer_value(json_object_get(pf, "tree_size")) !=
	    size || json_integer_value(json_object_get(pf, "leaf_index")) !=
	    (json_int_t)(r->record - 1) || r->record > size) {
		sg_errf(err, "the proof is not for this record and checkpoint");
		goto out;
	}
	if ((h = calloc(nh ? nh : 1, 32)) == NULL) {
		sg_errf(err, "out of memory");
		goto out;
	}
	json_array_foreach(hs, i, v) {
		if (!json_is_string(v) || sg_b64_decode(json_string_value(v),
		    strlen(json_string_value(v)), h[i], 32, 1) != 32) {
			sg_errf(err, "the proof's hashes are malformed");
			goto out;
		}
	}
	if (sg_merkle_verify_inclusion(r->record - 1, size, r->leaf,
	    (const unsigned char (*)[32])h, nh, root) != 0) {
		sg_errf(err, "the inclusion proof does not lead to the signed "
		    "checkpoint: the record is not in the log as this receipt "
		    "says");
		goto out;
	}
	*proved = 1;
	*tree_size = size;
	rc = 0;
out:
	free(h);
	json_decref(j);
	return rc;
}
