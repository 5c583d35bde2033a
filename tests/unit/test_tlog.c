/* Unit tests for common/log/tlog.c: canonical payloads (keys ascending,
 * only safe characters, so no personal data can be written), record type
 * names, and records appended, closed with a signed checkpoint and read
 * back in order with their leaf hashes; a changed byte is found. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/merkle.h"
#include "log/note.h"
#include "log/tlog.h"

static void
payload_is_canonical(void **state)
{
	struct sg_payload p;
	char v[64];

	(void)state;
	sg_payload_init(&p);
	sg_payload_str(&p, "agreement", "sil-pupil-data");
	sg_payload_u64(&p, "rows", 1200);
	sg_payload_str(&p, "sender", "school:3414001");
	assert_int_equal(sg_payload_end(&p), 0);
	assert_int_equal(sg_payload_check(p.buf, p.len), 0);
	assert_int_equal(sg_payload_get(p.buf, p.len, "sender", v, sizeof(v)),
	    0);
	assert_string_equal(v, "school:3414001");
	assert_int_equal(sg_payload_get(p.buf, p.len, "rows", v, sizeof(v)), 0);
	assert_string_equal(v, "1200");
	assert_int_not_equal(sg_payload_get(p.buf, p.len, "name", v,
	    sizeof(v)), 0);
}

static void
payload_refuses_what_is_not_safe(void **state)
{
	struct sg_payload p;

	(void)state;
	/* keys out of order */
	sg_payload_init(&p);
	sg_payload_str(&p, "sender", "a");
	sg_payload_str(&p, "agreement", "b");
	assert_int_not_equal(sg_payload_end(&p), 0);
	/* a space, a quote, a name: nothing a person could be named in */
	sg_payload_init(&p);
	sg_payload_str(&p, "name", "Jane Smith");
	assert_int_not_equal(sg_payload_end(&p), 0);
	sg_payload_init(&p);
	sg_payload_str(&p, "x", "a\"b");
	assert_int_not_equal(sg_payload_end(&p), 0);
	/* a payload that is not canonical is not accepted when read */
	assert_int_not_equal(sg_payload_check("{\"b\":1,\"a\":2}", 13), 0);
	assert_int_not_equal(sg_payload_check("{\"a\": 1}", 8), 0);
}

static void
type_names_round_trip(void **state)
{
	int t;

	(void)state;
	for (t = 1; t <= SG_REC_TYPE_MAX; t++)
		assert_int_equal(sg_rec_type_parse(sg_rec_type_name(t)), t);
	assert_true(sg_rec_type_parse("NO-SUCH-TYPE") <= 0);
}

static void
append_close_read(void **state)
{
	char dir[] = "/tmp/sgtlog.XXXXXX", err[SG_ERR_MAX], path[128];
	struct sg_note_key key;
	struct sg_log_opts o;
	struct sg_log *log;
	struct sg_log_reader *rd;
	struct sg_log_rec r;
	struct sg_payload p;
	struct sg_merkle_frontier fr;
	struct sg_checkpoint *cps = NULL;
	unsigned char root[32];
	uint64_t seq, i, tail;
	long ncp;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(sg_note_key_generate("test.schoolgate", &key), 0);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.signer = &key;
	o.checkpoint_every = 1000;
	o.checkpoint_ms = 60000;
	o.segment_bytes = 1 << 20;
	o.create = 1;
	assert_int_equal(sg_log_open(&o, &log, err), 0);
	for (i = 1; i <= 25; i++) {
		sg_payload_init(&p);
		sg_payload_u64(&p, "n", i);
		sg_payload_str(&p, "object", "20261201-0123456789abcdef");
		assert_int_equal(sg_payload_end(&p), 0);
		assert_int_equal(sg_log_append(log, SG_REC_RECEIVED, &p, &seq,
		    err), 0);
		assert_int_equal(seq, i);
	}
	assert_int_equal(sg_log_close(log, err), 0);

	/* read back: in order, contiguous, leaves that make the root the
	 * final checkpoint signs */
	memset(&fr, 0, sizeof(fr));
	assert_int_equal(sg_log_reader_open(dir, &rd, err), 0);
	for (i = 1; sg_log_reader_next(rd, &r, err) == 1; i++) {
		char v[32];

		assert_int_equal(r.seq, i);
		assert_int_equal(r.type, SG_REC_RECEIVED);
		assert_int_equal(sg_payload_get(r.payload, r.plen, "n", v,
		    sizeof(v)), 0);
		assert_int_equal(strtoull(v, NULL, 10), i);
		sg_merkle_frontier_add(&fr, r.leaf);
	}
	assert_int_equal(i, 26);
	sg_log_reader_close(rd);
	sg_merkle_frontier_root(&fr, root);
	ncp = sg_checkpoints_read(dir, &key, &cps, &tail, err);
	assert_true(ncp >= 1);
	assert_int_equal(cps[ncp - 1].size, 25);
	assert_memory_equal(cps[ncp - 1].root, root, 32);
	free(cps);

	/* one byte of a payload changed: the reader says where */
	snprintf(path, sizeof(path), "%s/%016d.seg", dir, 1);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pwrite(fd, "X", 1, SG_REC_HDR + 3), 1);
	close(fd);
	assert_int_equal(sg_log_reader_open(dir, &rd, err), 0);
	assert_int_equal(sg_log_reader_next(rd, &r, err), -1);
	assert_non_null(strstr(err, ".seg"));
	sg_log_reader_close(rd);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(payload_is_canonical),
		cmocka_unit_test(payload_refuses_what_is_not_safe),
		cmocka_unit_test(type_names_round_trip),
		cmocka_unit_test(append_close_read),
	};

	return cmocka_run_group_tests_name("tlog", tests, NULL, NULL);
}
