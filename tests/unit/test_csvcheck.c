/* Unit tests for common/check/csvcheck.c. Every case runs three ways, which
 * must agree: synchronous in one piece, threaded in one piece, and
 * synchronous fed one byte at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check/csvcheck.h"
#include "store/blind.h"

static char *sex_codes[] = { "M", "F" };

static struct sg_column cols[] = {
	{ "UPN", SG_V_UPN, 1, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN, 0, 0 },
	{ "Surname", SG_V_TEXT, 1, 0, 0, 0, 10, NULL, 0, 0, SG_LA_WARN, 0, 0 },
	{ "Middlenames", SG_V_TEXT, 0, 0, 0, 0, 20, NULL, 0, 0, SG_LA_WARN, 0, 0 },
	{ "Sex", SG_V_CODE, 1, 0, 0, 0, 0, sex_codes, 2, 0, SG_LA_WARN, 0, 0 },
	{ "Sessions", SG_V_INTEGER, 1, 0, -5, 500, 0, NULL, 0, 0, SG_LA_WARN, 0, 0 },
};

static struct sg_manifest man;

static void
reset_manifest(void)
{
	memset(&man, 0, sizeof(man));
	man.columns = cols;
	man.ncolumns = 5;
	man.key = 0;
	man.key_unique = 1;
	man.max_rows = 1000;
	man.order_enforced = 1;
	man.injection = SG_INJ_REJECT;
	man.max_field_bytes = 64;
	man.max_errors = 100;
	man.la = NULL;
}

static int
setup(void **state)
{
	(void)state;
	reset_manifest();
	return 0;
}

/* valid UPNs (check letters worked by hand: H801200001001 is the DfE's
 * example; for 80120000100x the sum is 40 + 13x, so x = 2..5 give X, L,
 * A, P) */
#define U1 "H801200001001"
#define U2 "J341000010000"
#define HDR "UPN,Surname,Middlenames,Sex,Sessions\n"

static void
run_mode(struct sg_report *r, const char *in, size_t len, int mode)
{
	struct sg_csvcheck *ck;
	size_t i;

	sg_report_init(r, 100);
	ck = mode == 1 ? sg_csvcheck_new_threaded(&man, r) :
	    sg_csvcheck_new(&man, r);
	assert_non_null(ck);
	if (mode == 2)
		for (i = 0; i < len; i++)
			sg_csvcheck_feed(ck, in + i, 1);
	else
		sg_csvcheck_feed(ck, in, len);
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
}

/* Run all three ways; check they agree; leave mode 0's report in *r. */
static void
run(struct sg_report *r, const char *in, size_t len)
{
	struct sg_report o;
	size_t i;
	int mode;

	for (mode = 1; mode <= 2; mode++) {
		run_mode(&o, in, len, mode);
		run_mode(r, in, len, 0);
		assert_int_equal(o.rejected, r->rejected);
		assert_int_equal(o.rows, r->rows);
		assert_int_equal(o.nerrors_total, r->nerrors_total);
		assert_int_equal(o.nwarnings_total, r->nwarnings_total);
		assert_int_equal(o.nerrors, r->nerrors);
		for (i = 0; i < o.nerrors; i++) {
			assert_int_equal(o.errors[i].row, r->errors[i].row);
			assert_string_equal(o.errors[i].rule,
			    r->errors[i].rule);
		}
		sg_report_free(&o);
		sg_report_free(r);
	}
	run_mode(r, in, len, 0);
}

#define RUN(r, s) run((r), (s), sizeof(s) - 1)

/* Assert that error i has this row and rule. */
static void
has_error(const struct sg_report *r, size_t i, uint64_t row,
    const char *rule)
{
	if (i >= r->nerrors) {
		print_message("only %zu errors\n", r->nerrors);
		fail();
	}
	assert_int_equal(r->errors[i].row, row);
	assert_string_equal(r->errors[i].rule, rule);
}

static void
valid_file(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, HDR U1 ",Smith,,M,300\n" U2 ",Jones,Ann Marie,F,2\n");
	assert_false(r.rejected);
	assert_int_equal(r.rows, 2);
	assert_int_equal(r.nerrors_total, 0);
	sg_report_free(&r);
}

static void
crlf_bom_and_blank_lines(void **state)
{
	struct sg_report r;

	(void)state;
	/* BOM, CRLF, a blank line (row 3), a bad check letter at row 4 */
	RUN(&r, "\xef\xbb\xbfUPN,Surname,Middlenames,Sex,Sessions\r\n"
	    U1 ",Smith,,M,300\r\n\r\nA801200001001,Jones,,F,1\r\n");
	assert_true(r.rejected);
	assert_int_equal(r.rows, 2);
	has_error(&r, 0, 4, "upn.check-letter");
	assert_string_equal(r.errors[0].msg, "the check letter should be H");
	assert_string_equal(r.errors[0].column, "UPN");
	sg_report_free(&r);
}

static void
header_problems(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, "UPN,Surname,Sex,Sessions,Extra,UPN\n" U1 ",S,M,1,x,y\n");
	assert_true(r.rejected);
	has_error(&r, 0, 1, "header.unknown-column");
	assert_null(strstr(r.errors[0].msg, "Extra"));	/* never echoed */
	has_error(&r, 1, 1, "header.duplicate-column");
	sg_report_free(&r);

	RUN(&r, "UPN,Surname,Middlenames,Sessions\n" U1 ",S,,1\n");
	has_error(&r, 0, 1, "header.missing-column");
	assert_string_equal(r.errors[0].column, "Sex");
	sg_report_free(&r);

	RUN(&r, "Surname,UPN,Middlenames,Sex,Sessions\n" "S," U1 ",,M,1\n");
	has_error(&r, 0, 1, "header.order");
	sg_report_free(&r);

	/* order not enforced, optional column absent, any case */
	man.order_enforced = 0;
	RUN(&r, "surname,upn,SEX,Sessions\n" "S," U1 ",M,1\n");
	assert_false(r.rejected);
	sg_report_free(&r);
	reset_manifest();
}

static void
cell_rules(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, HDR
	    U1 ",,,M,1\n"			/* 2: required empty */
	    U2 ",Smith,,X,1\n"			/* 3: code */
	    "H801200001002,Smith,,M,501\n"	/* 4: check letter; range */
	    "L801200001003,Abcdefghijk,,M,1\n"	/* 5: text length */
	    "A801200001004,=SUM(A1),,M,1\n"	/* 6: injection */
	    "P801200001005,Sm\xffth,,M,1\n"	/* 7: utf8 */
	    );
	assert_true(r.rejected);
	has_error(&r, 0, 2, "required");
	has_error(&r, 1, 3, "code.unknown");
	has_error(&r, 2, 4, "upn.check-letter");
	has_error(&r, 3, 4, "integer.range");
	has_error(&r, 4, 5, "text.length");
	has_error(&r, 5, 6, "csv-injection");
	has_error(&r, 6, 7, "encoding.utf8");
	sg_report_free(&r);
}

static void
nul_and_control(void **state)
{
	static const char in[] = HDR U1 ",Sm\0th,,M,1\n" U2 ",Sm\x01th,,M,1\n";
	struct sg_report r;

	(void)state;
	run(&r, in, sizeof(in) - 1);
	has_error(&r, 0, 2, "encoding.nul");
	has_error(&r, 1, 3, "encoding.control");
	sg_report_free(&r);
}

static void
injection_policy(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, HDR U1 ",Smith,,M,-2\n");
	has_error(&r, 0, 2, "csv-injection");
	sg_report_free(&r);
	man.injection = SG_INJ_ALLOW_NUMERIC;
	RUN(&r, HDR U1 ",Smith,,M,-2\n" U2 ",-Smith,,M,1\n");
	assert_int_equal(r.nerrors_total, 1);
	has_error(&r, 0, 3, "csv-injection");
	sg_report_free(&r);
	reset_manifest();
}

static void
duplicate_keys_report_both_rows(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, HDR U1 ",A,,M,1\n" U2 ",B,,M,1\n" U1 ",C,,M,1\n");
	assert_int_equal(r.nerrors_total, 1);
	has_error(&r, 0, 4, "key.duplicate");
	assert_non_null(strstr(r.errors[0].msg, "row 2"));
	sg_report_free(&r);
}

static void
ragged_rows(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, HDR U1 ",A,,M\n" U2 ",B,,M,1,extra\n");
	has_error(&r, 0, 2, "row.field-count");
	has_error(&r, 1, 3, "row.field-count");
	sg_report_free(&r);
}

static void
quoting(void **state)
{
	struct sg_report r;

	(void)state;
	/* a quoted cell with comma and newline is fine */
	RUN(&r, HDR U1 ",\"O,Neil\",\"a\nb\",M,1\n");
	assert_false(r.rejected);
	sg_report_free(&r);
	RUN(&r, HDR U1 ",Sm\"ith,,M,1\n");
	has_error(&r, 0, 2, "csv.quote");
	assert_true(r.stopped);
	sg_report_free(&r);
	RUN(&r, HDR U1 ",\"Smith,,M,1\n");
	has_error(&r, 0, 2, "csv.unterminated-quote");
	sg_report_free(&r);
}

static void
field_too_long_stops(void **state)
{
	char *in;
	struct sg_report r;
	size_t n = 200000, hl = strlen(HDR);

	(void)state;
	in = malloc(hl + n + 2);
	assert_non_null(in);
	memcpy(in, HDR, hl);
	memset(in + hl, 'x', n);
	memcpy(in + hl + n, "\n", 2);
	run(&r, in, hl + n + 1);
	assert_true(r.rejected);
	has_error(&r, 0, 2, "field.too-long");
	assert_true(r.stopped);
	sg_report_free(&r);
	free(in);
}

static void
utf16_is_named(void **state)
{
	struct sg_report r;

	(void)state;
	RUN(&r, "\xff\xfeU\0P\0N\0");
	has_error(&r, 0, 0, "encoding.utf16");
	sg_report_free(&r);
	/* a lone 0xff is just invalid data, not UTF-16 */
	RUN(&r, "\xff");
	assert_true(r.rejected);
	sg_report_free(&r);
}

static void
empty_and_header_only(void **state)
{
	struct sg_report r;

	(void)state;
	run(&r, "", 0);
	has_error(&r, 0, 0, "file.empty");
	sg_report_free(&r);
	RUN(&r, HDR);
	has_error(&r, 0, 0, "rows.none");
	sg_report_free(&r);
	RUN(&r, "UPN,Surname,Middlenames,Sex,Sessions");
	has_error(&r, 0, 0, "rows.none");
	sg_report_free(&r);
}

static void
too_many_rows(void **state)
{
	struct sg_report r;

	(void)state;
	man.max_rows = 1;
	RUN(&r, HDR U1 ",A,,M,1\n" U2 ",B,,M,1\n");
	has_error(&r, 0, 3, "rows.too-many");
	sg_report_free(&r);
	/* exactly the limit, with trailing blank lines, is fine */
	RUN(&r, HDR U1 ",A,,M,1\n\n\n");
	assert_false(r.rejected);
	assert_int_equal(r.rows, 1);
	sg_report_free(&r);
	reset_manifest();
}

static void
errors_capped_and_counted(void **state)
{
	struct sg_report r;
	struct sg_csvcheck *ck;
	int i;

	(void)state;
	sg_report_init(&r, 3);
	ck = sg_csvcheck_new_threaded(&man, &r);
	sg_csvcheck_feed(ck, HDR, strlen(HDR));
	for (i = 0; i < 10; i++)
		sg_csvcheck_feed(ck, U1 ",S,,M,999\n", 23);
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
	assert_int_equal(r.nerrors, 3);
	/* 10 out of range, and rows 3-11 repeat row 2's key */
	assert_int_equal(r.nerrors_total, 19);
	assert_int_equal(r.ncounts, 2);
	sg_report_free(&r);
}

/* sender_school: each row's LEA and Estab are the sending school's; the
 * message names the school's number, never the cell's */
static void
school_must_match(void **state)
{
	static struct sg_column sc[] = {
		{ "LEA", SG_V_INTEGER, 1, 0, 1, 999, 0, NULL, 0, 0, SG_LA_WARN,
		    0, 0 },
		{ "Estab", SG_V_INTEGER, 1, 0, 1000, 7999, 0, NULL, 0, 0,
		    SG_LA_WARN, 0, 0 },
	};
	static const char in[] = "LEA,Estab\n341,4001\n341,4987\n801,4001\n";
	struct sg_report r;
	struct sg_csvcheck *ck;

	(void)state;
	man.columns = sc;
	man.ncolumns = 2;
	man.key = -1;
	man.key_unique = 0;
	man.school_check = SG_SCHOOL_LA_ESTAB;
	man.school_la = 0;
	man.school_estab = 1;
	sg_report_init(&r, 100);
	ck = sg_csvcheck_new(&man, &r);
	assert_non_null(ck);
	sg_csvcheck_school(ck, 3414001);
	sg_csvcheck_feed(ck, in, sizeof(in) - 1);
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
	assert_int_equal(r.nerrors, 2);
	assert_string_equal(r.errors[0].rule, "school.mismatch");
	assert_int_equal(r.errors[0].row, 3);
	assert_string_equal(r.errors[0].column, "Estab");
	assert_non_null(strstr(r.errors[0].msg, "4001"));
	assert_null(strstr(r.errors[0].msg, "4987"));
	assert_int_equal(r.errors[1].row, 4);
	assert_string_equal(r.errors[1].column, "LEA");
	assert_null(strstr(r.errors[1].msg, "801"));
	sg_report_free(&r);
	/* no school given (the offline checker): not checked */
	sg_report_init(&r, 100);
	ck = sg_csvcheck_new(&man, &r);
	sg_csvcheck_feed(ck, in, sizeof(in) - 1);
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
	assert_int_equal(r.nerrors, 0);
	sg_report_free(&r);
}

/* The index takes each identifier in the form a search gives: a TRN
 * written the old way as its 7 digits; the temporary ULN, which every
 * learner without one shares, not at all. */
static void
index_codes(void **state)
{
	static struct sg_column ic[] = {
		{ "TRN", SG_V_TRN, 1, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN, 0, 1 },
		{ "ULN", SG_V_ULN, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN, 0, 1 },
	};
	static const char in[] = "TRN,ULN\nRP 99/12345,9999999999\n"
	    "1234567,\n";
	struct sg_blind_set *set, *want;
	struct sg_blind_key key;
	struct sg_csvcheck *ck;
	struct sg_report r;
	unsigned char d1[32], d2[32];
	uint64_t n1, n2;

	(void)state;
	man.columns = ic;
	man.ncolumns = 2;
	man.key = -1;
	man.key_unique = 0;
	sg_report_init(&r, 100);
	assert_non_null(set = sg_blind_set_new());
	assert_non_null(ck = sg_csvcheck_new(&man, &r));
	sg_csvcheck_subjects(ck, set);
	sg_csvcheck_feed(ck, in, sizeof(in) - 1);
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
	assert_false(r.rejected);
	assert_int_equal(sg_blind_set_count(set), 2);	/* two TRNs only */
	/* the same hashes as the normal forms' */
	assert_non_null(want = sg_blind_set_new());
	assert_int_equal(sg_blind_set_add(want, sg_blind_code(SG_BLIND_TRN,
	    "9912345", 7)), 0);
	assert_int_equal(sg_blind_set_add(want, sg_blind_code(SG_BLIND_TRN,
	    "1234567", 7)), 0);
	memset(&key, 7, sizeof(key));
	assert_int_equal(sg_blind_set_finish(set, &key, d1, &n1), 0);
	assert_int_equal(sg_blind_set_finish(want, &key, d2, &n2), 0);
	assert_int_equal(n1, 2);
	assert_memory_equal(d1, d2, 32);
	sg_blind_set_free(set);
	sg_blind_set_free(want);
	sg_report_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(valid_file, setup),
		cmocka_unit_test_setup(crlf_bom_and_blank_lines, setup),
		cmocka_unit_test_setup(header_problems, setup),
		cmocka_unit_test_setup(cell_rules, setup),
		cmocka_unit_test_setup(nul_and_control, setup),
		cmocka_unit_test_setup(injection_policy, setup),
		cmocka_unit_test_setup(duplicate_keys_report_both_rows, setup),
		cmocka_unit_test_setup(ragged_rows, setup),
		cmocka_unit_test_setup(quoting, setup),
		cmocka_unit_test_setup(field_too_long_stops, setup),
		cmocka_unit_test_setup(empty_and_header_only, setup),
		cmocka_unit_test_setup(utf16_is_named, setup),
		cmocka_unit_test_setup(too_many_rows, setup),
		cmocka_unit_test_setup(errors_capped_and_counted, setup),
		cmocka_unit_test_setup(school_must_match, setup),
		cmocka_unit_test_setup(index_codes, setup),
	};

	return cmocka_run_group_tests_name("csvcheck", tests, NULL, NULL);
}
