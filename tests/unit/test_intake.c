/* intake: what an upload is (a ZIP, an age file, a plain CSV or an
 * opaque file), whether the flow takes that form, and that every byte the
 * checker judged is the byte the store is handed (the tap). Rejections
 * name their rule; a tap that fails stops the check as store.write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "intake/intake.h"

#define CAP	(1 << 20)

/* valid UPNs (see test_csvcheck.c) */
#define GOOD "UPN,Surname\nH801200001001,Example\nJ341000010000,Other\n"
#define BAD  "UPN,Surname\nH801200001001,Example\nJ341000010001,Other\n"

static struct sg_column cols[] = {
	{ "UPN", SG_V_UPN, 1, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN, 0, 0 },
	{ "Surname", SG_V_TEXT, 1, 0, 0, 0, 40, NULL, 0, 0, SG_LA_WARN, 0, 0 },
};
static char *txt[] = { "txt" };

static struct sg_flow csv_flow, txt_flow;

static int
setup(void **state)
{
	(void)state;
	memset(&csv_flow, 0, sizeof(csv_flow));
	csv_flow.id = "census";
	csv_flow.format = SG_FORMAT_CSV;
	csv_flow.encryptions = SG_ENC_ZIP_AES | SG_ENC_AGE;
	csv_flow.limits = (struct sg_limits){ 1 << 20, 1000, 16, 255 };
	csv_flow.manifest.columns = cols;
	csv_flow.manifest.ncolumns = 2;
	csv_flow.manifest.key = 0;
	csv_flow.manifest.key_unique = 1;
	csv_flow.manifest.max_rows = 1000;
	csv_flow.manifest.order_enforced = 1;
	csv_flow.manifest.max_field_bytes = 64;
	csv_flow.manifest.max_errors = 100;
	txt_flow = csv_flow;
	txt_flow.format = SG_FORMAT_OPAQUE;
	txt_flow.types = txt;
	txt_flow.ntypes = 1;
	return 0;
}

static size_t
zip_of(unsigned char *out, const char *csv)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	size_t used = 0;

	archive_write_set_format_zip(a);
	assert_int_equal(archive_write_set_options(a, "zip:encryption=aes256"),
	    ARCHIVE_OK);
	archive_write_set_passphrase(a, "s3cret-Pass");
	assert_int_equal(archive_write_open_memory(a, out, CAP, &used),
	    ARCHIVE_OK);
	archive_entry_set_pathname(ae, "census.csv");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)strlen(csv));
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	archive_write_data(a, csv, strlen(csv));
	archive_entry_free(ae);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return used;
}

struct buf {
	unsigned char	*p;
	size_t		 len, off;
	int		 refuse;	/* the tap fails */
};

static int
to_buf(void *arg, const void *b, size_t n)
{
	struct buf *k = arg;

	if (k->refuse || k->len + n > CAP)
		return -1;
	memcpy(k->p + k->len, b, n);
	k->len += n;
	return 0;
}

static ssize_t
from_buf(void *arg, void *b, size_t cap)
{
	struct buf *s = arg;
	size_t k = s->len - s->off;

	if (k > cap)
		k = cap;
	if (k > 777)
		k = 777;	/* as a socket gives it */
	memcpy(b, s->p + s->off, k);
	s->off += k;
	return (ssize_t)k;
}


static struct sg_age_identity gate;

/* Checks in against flow; the tap's bytes in *tap. */
static int
check(const struct sg_flow *f, const unsigned char *in, size_t len,
    int require, struct buf *tap, struct sg_report *r)
{
	struct sg_intake_opts o;
	struct buf src = { (unsigned char *)in, len, 0, 0 };

	memset(&o, 0, sizeof(o));
	o.flow = f;
	o.passphrase = "s3cret-Pass";
	o.require_encryption = require;
	o.ids = &gate;
	o.nids = 1;
	o.plain = to_buf;
	o.plain_arg = tap;
	tap->len = 0;
	sg_report_init(r, 50);
	return sg_intake_check(&o, from_buf, &src, r);
}

static void
zip_csv(void **state)
{
	unsigned char *z = malloc(CAP), *t = malloc(CAP);
	struct buf tap = { t, 0, 0, 0 };
	struct sg_report r;
	size_t zl;

	(void)state;
	zl = zip_of(z, GOOD);
	assert_int_equal(check(&csv_flow, z, zl, 1, &tap, &r), 0);
	assert_false(r.rejected);
	assert_int_equal(r.rows, 2);
	/* the store is handed exactly the CSV that was checked */
	assert_int_equal(tap.len, strlen(GOOD));
	assert_memory_equal(t, GOOD, tap.len);
	sg_report_free(&r);
	/* a wrong check letter: rejected at its row and column */
	zl = zip_of(z, BAD);
	assert_int_equal(check(&csv_flow, z, zl, 1, &tap, &r), 0);
	assert_true(r.rejected);
	assert_true(r.nerrors >= 1);
	assert_int_equal(r.errors[0].row, 3);
	assert_string_equal(r.errors[0].column, "UPN");
	sg_report_free(&r);
	/* a ZIP where the flow takes only age */
	csv_flow.encryptions = SG_ENC_AGE;
	zl = zip_of(z, GOOD);
	assert_int_equal(check(&csv_flow, z, zl, 1, &tap, &r), 0);
	assert_true(r.rejected);
	assert_true(sg_report_has(&r, "intake.container"));
	csv_flow.encryptions = SG_ENC_ZIP_AES | SG_ENC_AGE;
	sg_report_free(&r);
	/* the tap refuses (the store failed): stopped, never accepted */
	tap.refuse = 1;
	assert_int_equal(check(&csv_flow, z, zl, 1, &tap, &r), 0);
	assert_true(r.rejected);
	assert_true(sg_report_has(&r, "store.write"));
	tap.refuse = 0;
	sg_report_free(&r);
	free(z);
	free(t);
}

static int
collect(void *arg, const void *b, size_t n)
{
	return to_buf(arg, b, n);
}

static void
age_csv(void **state)
{
	unsigned char *a = malloc(CAP), *t = malloc(CAP);
	struct buf enc = { a, 0, 0, 0 }, tap = { t, 0, 0, 0 };
	struct sg_age_identity other;
	struct sg_age_enc *e;
	struct sg_report r;

	(void)state;
	assert_int_equal(sg_age_identity_generate(&gate), 0);
	assert_int_equal(sg_age_identity_generate(&other), 0);
	/* sealed to the gateway: opened, checked, tapped */
	e = sg_age_enc_new((const unsigned char (*)[32])gate.pk, 1);
	assert_non_null(e);
	assert_int_equal(sg_age_enc_write(e, GOOD, strlen(GOOD), collect,
	    &enc), 0);
	assert_int_equal(sg_age_enc_finish(e, collect, &enc), 0);
	sg_age_enc_free(e);
	assert_int_equal(check(&csv_flow, a, enc.len, 1, &tap, &r), 0);
	assert_false(r.rejected);
	assert_int_equal(tap.len, strlen(GOOD));
	assert_memory_equal(t, GOOD, tap.len);
	sg_report_free(&r);
	/* sealed to someone else: refused, nothing tapped as accepted */
	enc.len = 0;
	e = sg_age_enc_new((const unsigned char (*)[32])other.pk, 1);
	assert_int_equal(sg_age_enc_write(e, GOOD, strlen(GOOD), collect,
	    &enc), 0);
	assert_int_equal(sg_age_enc_finish(e, collect, &enc), 0);
	sg_age_enc_free(e);
	assert_int_equal(check(&csv_flow, a, enc.len, 1, &tap, &r), 0);
	assert_true(r.rejected);
	assert_true(sg_report_has(&r, "age.no-match"));
	assert_int_equal(tap.len, 0);
	sg_report_free(&r);
	/* a gateway with no storage identity cannot open one at all */
	{
		struct sg_intake_opts o;
		struct buf src = { a, enc.len, 0, 0 };

		memset(&o, 0, sizeof(o));
		o.flow = &csv_flow;
		o.require_encryption = 1;
		sg_report_init(&r, 50);
		assert_int_equal(sg_intake_check(&o, from_buf, &src, &r), 0);
		assert_true(sg_report_has(&r, "age.no-identity"));
		sg_report_free(&r);
	}
	free(a);
	free(t);
}

static void
plain_and_opaque(void **state)
{
	unsigned char *t = malloc(CAP);
	struct buf tap = { t, 0, 0, 0 };
	struct sg_report r;

	(void)state;
	/* a bare CSV: refused by the gateway, a warning for the checker */
	assert_int_equal(check(&csv_flow, (const unsigned char *)GOOD,
	    strlen(GOOD), 1, &tap, &r), 0);
	assert_true(r.rejected);
	assert_true(sg_report_has(&r, "intake.unencrypted"));
	sg_report_free(&r);
	assert_int_equal(check(&csv_flow, (const unsigned char *)GOOD,
	    strlen(GOOD), 0, &tap, &r), 0);
	assert_false(r.rejected);
	assert_true(sg_report_has(&r, "intake.unencrypted"));
	assert_int_equal(r.rows, 2);
	sg_report_free(&r);
	/* an opaque "txt" flow: UTF-8 text passes, bytes that are not
	 * text do not */
	assert_int_equal(check(&txt_flow, (const unsigned char *)"A note.\n",
	    8, 0, &tap, &r), 0);
	assert_false(r.rejected);
	assert_int_equal(tap.len, 8);
	sg_report_free(&r);
	assert_int_equal(check(&txt_flow, (const unsigned char *)
	    "bin\xff\xfe\x00ary", 9, 0, &tap, &r), 0);
	assert_true(r.rejected);
	sg_report_free(&r);
	/* nothing at all */
	assert_int_equal(check(&csv_flow, (const unsigned char *)"", 0, 0,
	    &tap, &r), 0);
	assert_true(r.rejected);
	sg_report_free(&r);
	free(t);
}

/* How the check stands before the end: a source with nothing more yet
 * asks (SG_SRC_AGAIN); everything read so far is checked before synced()
 * says so, on the intake's thread. */
struct sync_src {
	struct buf	 b;
	int		 asked, stage;	/* 0 data, 1 again, 2 end */
	int		 synced, rejected;
	uint64_t	 row;
	char		 column[140];
};

static ssize_t
sync_read(void *arg, void *buf, size_t cap)
{
	struct sync_src *s = arg;

	if (s->b.off < s->b.len)
		return from_buf(&s->b, buf, cap);
	if (s->stage == 0) {
		s->stage = 1;
		s->asked = 1;
		return SG_SRC_AGAIN;
	}
	return 0;
}

static int
sync_want(void *arg)
{
	struct sync_src *s = arg;
	int w = s->asked;

	s->asked = 0;
	return w;
}

static void
sync_done(void *arg, int rejected, const struct sg_report_entry *first)
{
	struct sync_src *s = arg;

	s->synced++;
	s->rejected = rejected;
	if (first != NULL) {
		s->row = first->row;
		snprintf(s->column, sizeof(s->column), "%s", first->column);
	}
}

static void
sync_before_end(void **state)
{
	unsigned char *z = malloc(CAP), *t = malloc(CAP);
	struct buf tap = { t, 0, 0, 0 };
	struct sg_intake_opts o;
	struct sg_report r;
	const char *csv[2] = { GOOD, BAD };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct sync_src s;

		memset(&s, 0, sizeof(s));
		s.b.p = z;
		s.b.len = zip_of(z, csv[i]);
		memset(&o, 0, sizeof(o));
		o.flow = &csv_flow;
		o.passphrase = "s3cret-Pass";
		o.require_encryption = 1;
		o.plain = to_buf;
		o.plain_arg = &tap;
		o.want_sync = sync_want;
		o.synced = sync_done;
		o.sync_arg = &s;
		tap.len = 0;
		sg_report_init(&r, 50);
		assert_int_equal(sg_intake_check(&o, sync_read, &s, &r), 0);
		assert_int_equal(s.synced, 1);
		/* the bad row was known at the sync, before the end */
		assert_int_equal(s.rejected, i);
		if (i == 1) {
			assert_int_equal(s.row, 3);
			assert_string_equal(s.column, "UPN");
		}
		assert_int_equal(r.rejected, i);
		sg_report_free(&r);
	}
	free(z);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(zip_csv, setup),
		cmocka_unit_test_setup(age_csv, setup),
		cmocka_unit_test_setup(plain_and_opaque, setup),
		cmocka_unit_test_setup(sync_before_end, setup),
	};

	return cmocka_run_group_tests_name("intake", tests, NULL, NULL);
}
