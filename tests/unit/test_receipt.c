/* Unit tests for common/log/receipt.c and the log's proofs
 * (sg_log_prove): a receipt made from a real log verifies offline with
 * the verifier key, for every record and every log size (odd trees
 * included); a pending receipt verifies as a promise; any change to the
 * note, the proof, the checkpoint or the key is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log/receipt.h"

static char dir[] = "/tmp/sgreceipt.XXXXXX";
static struct sg_note_key key, other;

static void
fill(struct sg_receipt *r, uint64_t seq, const unsigned char leaf[32])
{
	memset(r, 0, sizeof(*r));
	snprintf(r->transfer, sizeof(r->transfer), "20261202-0123456789abcdef");
	snprintf(r->event, sizeof(r->event), "received");
	snprintf(r->by, sizeof(r->by), "school:3414001");
	snprintf(r->agreement, sizeof(r->agreement), "sil-pupil-data");
	snprintf(r->flow, sizeof(r->flow), "census");
	memset(r->plain_sha256, 'a', 64);
	memset(r->stored_sha256, 'b', 64);
	snprintf(r->recipients, sizeof(r->recipients), "org:sil");
	snprintf(r->time, sizeof(r->time), "2026-12-02T10:00:00Z");
	r->rows = 1200;
	r->record = seq;
	memcpy(r->leaf, leaf, 32);
	r->has_received = 1;
}

/* the receipt with one string replaced (which must occur) */
static char *
tamper(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *o;

	assert_non_null(p);
	o = malloc(strlen(s) + strlen(to) + 1);
	memcpy(o, s, (size_t)(p - s));
	strcpy(o + (p - s), to);
	strcat(o, p + strlen(from));
	return o;
}

static void
receipts(void **state)
{
	struct sg_log_opts o;
	struct sg_log *log;
	struct sg_payload p;
	struct sg_log_proof pr;
	struct sg_receipt r, got;
	char err[SG_ERR_MAX], *json, *bad;
	uint64_t seq, i, size;
	int proved;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sg_note_key_generate("test.schoolgate", &key), 0);
	assert_int_equal(sg_note_key_generate("test.schoolgate", &other), 0);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.signer = &key;
	o.checkpoint_every = 1000000;
	o.checkpoint_ms = 3600000;
	o.segment_bytes = 1 << 20;
	o.create = 1;
	assert_int_equal(sg_log_open(&o, &log, err), 0);
	for (i = 1; i <= 13; i++) {
		sg_payload_init(&p);
		sg_payload_u64(&p, "n", i);
		sg_payload_str(&p, "object", "20261202-0123456789abcdef");
		assert_int_equal(sg_payload_end(&p), 0);
		assert_int_equal(sg_log_append(log, SG_REC_RECEIVED, &p, &seq,
		    err), 0);
	}
	/* no checkpoint yet: a promise, signed */
	assert_int_equal(sg_log_prove(log, 5, &pr, err), 1);
	fill(&r, 5, pr.leaf);
	assert_non_null(json = sg_receipt_make(&key, &r, &pr));
	assert_non_null(strstr(json, "\"pending\""));
	assert_int_equal(sg_receipt_verify(json, strlen(json), &key, &got,
	    &proved, &size, err), 0);
	assert_int_equal(proved, 0);
	assert_string_equal(got.transfer, r.transfer);
	free(json);
	/* every record of a 13-record log, then of a 14-record one */
	assert_int_equal(sg_log_checkpoint(log, err), 0);
	for (i = 1; i <= 13; i++) {
		assert_int_equal(sg_log_prove(log, i, &pr, err), 0);
		assert_int_equal(pr.size, 13);
		fill(&r, i, pr.leaf);
		assert_non_null(json = sg_receipt_make(&key, &r, &pr));
		free(pr.checkpoint);
		assert_int_equal(sg_receipt_verify(json, strlen(json), &key,
		    &got, &proved, &size, err), 0);
		assert_int_equal(proved, 1);
		assert_int_equal(size, 13);
		assert_int_equal(got.record, i);
		assert_int_equal(got.rows, 1200);
		assert_string_equal(got.plain_sha256, r.plain_sha256);
		if (i != 7) {
			free(json);
			continue;
		}
		/* tampered: the rows, the record, a proof hash, the
		 * checkpoint's size; and another key */
		bad = tamper(json, "rows 1200", "rows 1201");
		assert_int_equal(sg_receipt_verify(bad, strlen(bad), &key, &got,
		    &proved, &size, err), -1);
		assert_non_null(strstr(err, "signature"));
		free(bad);
		bad = tamper(json, "\"leaf_index\": 6", "\"leaf_index\": 5");
		assert_int_equal(sg_receipt_verify(bad, strlen(bad), &key, &got,
		    &proved, &size, err), -1);
		free(bad);
		{
			/* the first proof hash, one character changed */
			const char *h = strstr(json, "\"hashes\": [") ;
			char *q;

			assert_non_null(h);
			bad = strdup(json);
			q = bad + (h - json) + strlen("\"hashes\": [") + 1;
			while (*q == ' ' || *q == '\n' || *q == '"')
				q++;
			*q = *q == 'A' ? 'B' : 'A';
			assert_int_equal(sg_receipt_verify(bad, strlen(bad),
			    &key, &got, &proved, &size, err), -1);
			free(bad);
		}
		bad = tamper(json, "\\n13\\n", "\\n14\\n");
		assert_int_equal(sg_receipt_verify(bad, strlen(bad), &key, &got,
		    &proved, &size, err), -1);
		assert_non_null(strstr(err, "checkpoint"));
		free(bad);
		assert_int_equal(sg_receipt_verify(json, strlen(json), &other,
		    &got, &proved, &size, err), -1);
		assert_int_equal(sg_receipt_verify("{}", 2, &key, &got, &proved,
		    &size, err), -1);
		free(json);
	}
	sg_payload_init(&p);
	sg_payload_u64(&p, "n", 14);
	assert_int_equal(sg_payload_end(&p), 0);
	assert_int_equal(sg_log_append(log, SG_REC_DOWNLOADED, &p, &seq, err),
	    0);
	assert_int_equal(sg_log_checkpoint(log, err), 0);
	for (i = 1; i <= 14; i++) {
		assert_int_equal(sg_log_prove(log, i, &pr, err), 0);
		fill(&r, i, pr.leaf);
		if (i == 14) {	/* a download's receipt names no hashes */
			r.has_received = 0;
			snprintf(r.event, sizeof(r.event), "downloaded");
			snprintf(r.by, sizeof(r.by), "org:sil");
		}
		assert_non_null(json = sg_receipt_make(&key, &r, &pr));
		free(pr.checkpoint);
		assert_int_equal(sg_receipt_verify(json, strlen(json), &key,
		    &got, &proved, &size, err), 0);
		assert_int_equal(proved, 1);
		assert_int_equal(size, 14);
		free(json);
	}
	/* a record the log does not have */
	assert_int_equal(sg_log_prove(log, 15, &pr, err), -1);
	assert_int_equal(sg_log_close(log, err), 0);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(receipts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
