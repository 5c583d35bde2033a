/* Unit tests for common/check/ident.c: every validator, valid and invalid
 * values, and every failure reason. Expected check letters and digits
 * were worked by hand (see the comments), not with the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "check/ident.h"

#define S(x) x, strlen(x)

static struct sg_lacodes la;

static int
setup_la(void **state)
{
	static const int codes[] = { 201, 341, 801, 942, 943 };
	size_t i;

	(void)state;
	memset(&la, 0, sizeof(la));
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		la.known[codes[i]] = 1;
	la.count = 5;
	return 0;
}

/* Assert verdict and rule of a call that fills `why`. */
#define EXPECT(call, verdict, rulestr) do {				\
	int v_;								\
	why.rule = NULL;						\
	why.msg[0] = '\0';						\
	v_ = (call);							\
	assert_int_equal(v_, (verdict));				\
	if ((rulestr) != NULL) {					\
		assert_non_null(why.rule);				\
		assert_string_equal(why.rule, (const char *)(rulestr));	\
		assert_true(why.msg[0] != '\0');			\
	}								\
} while (0)

static void
upn_dfe_worked_example(void **state)
{
	struct sg_why why;

	(void)state;
	/* Annex A: H801200001001, sum 53, 53 mod 23 = 7 -> H */
	assert_int_equal(sg_upn_check(S("H801200001001"), 0, &la, SG_LA_WARN,
	    &why), SG_VALID);
	assert_int_equal(sg_upn_check_letter("801200001001"), 'H');
}

static void
upn_valid(void **state)
{
	struct sg_why why;
	(void)state;
	/* 3*2+4*3+1*4+1*9 = 31, 31 mod 23 = 8 -> J */
	EXPECT(sg_upn_check(S("J341000010000"), 0, &la, SG_LA_STRICT, &why),
	    SG_VALID, NULL);
	/* temporary: 8*2+1*4+2*5+1*10+A(0)*13 = 40, 40 mod 23 = 17 -> U */
	EXPECT(sg_upn_check(S("U80120000100A"), 1, &la, SG_LA_STRICT, &why),
	    SG_VALID, NULL);
}

static void
upn_invalid(void **state)
{
	struct sg_why why;

	(void)state;
	EXPECT(sg_upn_check(S("H80120000100"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.length");
	EXPECT(sg_upn_check(S("H8012000010011"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.length");
	EXPECT(sg_upn_check(S("A801200001001"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.check-letter");
	assert_int_equal(sg_upn_check(S("A801200001001"), 0, &la, SG_LA_WARN,
	    &why), SG_INVALID);
	assert_string_equal(why.msg, "the check letter should be H");
	/* I, O and S are never valid */
	EXPECT(sg_upn_check(S("I801200001001"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.character");
	EXPECT(sg_upn_check(S("h801200001001"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.character");
	/* letters never valid in positions 2-12 */
	assert_int_equal(sg_upn_check(S("H80120A001001"), 0, &la, SG_LA_WARN,
	    &why), SG_INVALID);
	assert_string_equal(why.rule, "upn.character");
	assert_string_equal(why.msg, "character 7 must be a digit");
	EXPECT(sg_upn_check(S("U80120000100O"), 1, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.character");
	/* temporary where only permanent UPNs are allowed */
	EXPECT(sg_upn_check(S("U80120000100A"), 0, &la, SG_LA_WARN, &why),
	    SG_INVALID, "upn.temporary");
}

static void
upn_la_codes(void **state)
{
	struct sg_why why;
	char upn[14] = "?999200001001";

	(void)state;
	upn[0] = sg_upn_check_letter(upn + 1);
	EXPECT(sg_upn_check(upn, 13, 0, &la, SG_LA_WARN, &why), SG_WARNING,
	    "upn.la-code");
	EXPECT(sg_upn_check(upn, 13, 0, &la, SG_LA_STRICT, &why), SG_INVALID,
	    "upn.la-code");
	EXPECT(sg_upn_check(upn, 13, 0, &la, SG_LA_OFF, &why), SG_VALID, NULL);
	EXPECT(sg_upn_check(upn, 13, 0, NULL, SG_LA_STRICT, &why), SG_VALID,
	    NULL);
}

static void
trn_strict(void **state)
{
	struct sg_why why;
	char out[8];

	(void)state;
	EXPECT(sg_trn_check(S("1234567"), 1, out, &why), SG_VALID, NULL);
	assert_string_equal(out, "1234567");
	EXPECT(sg_trn_check(S("123456"), 1, out, &why), SG_INVALID,
	    "trn.length");
	EXPECT(sg_trn_check(S("12a4567"), 1, out, &why), SG_INVALID,
	    "trn.character");
	EXPECT(sg_trn_check(S("RP99/12345"), 1, out, &why), SG_INVALID,
	    "trn.length");
}

static void
trn_normalise(void **state)
{
	struct sg_why why;
	char out[8];

	(void)state;
	EXPECT(sg_trn_check(S("RP99/12345"), 0, out, &why), SG_WARNING,
	    "trn.normalised");
	assert_string_equal(out, "9912345");
	EXPECT(sg_trn_check(S("12345"), 0, out, &why), SG_WARNING,
	    "trn.normalised");
	assert_string_equal(out, "0012345");
	EXPECT(sg_trn_check(S("1234"), 0, out, &why), SG_INVALID, "trn.length");
	EXPECT(sg_trn_check(S("12345678"), 0, out, &why), SG_INVALID,
	    "trn.length");
	EXPECT(sg_trn_check(S("RP99#12345"), 0, out, &why), SG_INVALID,
	    "trn.character");
}

static void
uln(void **state)
{
	struct sg_why why;
	(void)state;
	/* 1*10+2*9+...+9*2 = 210, 210 mod 11 = 1, check 10-1 = 9 */
	EXPECT(sg_uln_check(S("1234567899"), &why), SG_VALID, NULL);
	EXPECT(sg_uln_check(S("1234567898"), &why), SG_INVALID,
	    "uln.check-digit");
	EXPECT(sg_uln_check(S("123456789"), &why), SG_INVALID, "uln.length");
	EXPECT(sg_uln_check(S("12345678a9"), &why), SG_INVALID,
	    "uln.character");
	EXPECT(sg_uln_check(S("9999999999"), &why), SG_WARNING,
	    "uln.temporary");
	/* 2*10 + 1*2 = 22, 22 mod 11 = 0: no valid check digit */
	EXPECT(sg_uln_check(S("2000000010"), &why), SG_INVALID,
	    "uln.check-digit");
}

static void
nino(void **state)
{
	struct sg_why why;
	(void)state;
	EXPECT(sg_nino_check(S("AB123456C"), &why), SG_VALID, NULL);
	EXPECT(sg_nino_check(S("AB 12 34 56 C"), &why), SG_VALID, NULL);
	EXPECT(sg_nino_check(S("DA123456A"), &why), SG_INVALID, "nino.prefix");
	EXPECT(sg_nino_check(S("AO123456A"), &why), SG_INVALID, "nino.prefix");
	EXPECT(sg_nino_check(S("GB123456A"), &why), SG_INVALID, "nino.prefix");
	EXPECT(sg_nino_check(S("1B123456A"), &why), SG_INVALID, "nino.prefix");
	EXPECT(sg_nino_check(S("AB12345XA"), &why), SG_INVALID,
	    "nino.character");
	EXPECT(sg_nino_check(S("AB123456E"), &why), SG_INVALID, "nino.suffix");
	EXPECT(sg_nino_check(S("AB12345"), &why), SG_INVALID, "nino.length");
}

static void
postcode(void **state)
{
	struct sg_why why;
	static const char *good[] = { "SW1A 1AA", "L3 8EN", "M1 1AE",
	    "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "W1A 0AX",
	    "GIR 0AA", "l38en" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		EXPECT(sg_postcode_check(S(good[i]), &why), SG_VALID, NULL);
	EXPECT(sg_postcode_check(S("QA1 1AA"), &why), SG_INVALID,
	    "postcode.outward");
	EXPECT(sg_postcode_check(S("L3 8CN"), &why), SG_INVALID,
	    "postcode.inward");
	EXPECT(sg_postcode_check(S("SW1A 1AAA"), &why), SG_INVALID,
	    "postcode.length");
	EXPECT(sg_postcode_check(S("L3"), &why), SG_INVALID,
	    "postcode.length");
	EXPECT(sg_postcode_check(S("L3  8EN"), &why), SG_INVALID, NULL);
	EXPECT(sg_postcode_check(S("123 456"), &why), SG_INVALID, NULL);
}

static void
laestab_urn(void **state)
{
	struct sg_why why;
	(void)state;
	EXPECT(sg_laestab_check(S("3414001"), &la, SG_LA_STRICT, &why),
	    SG_VALID, NULL);
	EXPECT(sg_laestab_check(S("9994001"), &la, SG_LA_WARN, &why),
	    SG_WARNING, "laestab.la-code");
	EXPECT(sg_laestab_check(S("9994001"), &la, SG_LA_STRICT, &why),
	    SG_INVALID, "laestab.la-code");
	EXPECT(sg_laestab_check(S("341400"), &la, SG_LA_WARN, &why),
	    SG_INVALID, "laestab.length");
	EXPECT(sg_laestab_check(S("341-001"), &la, SG_LA_WARN, &why),
	    SG_INVALID, "laestab.character");
	EXPECT(sg_urn_check(S("100000"), &why), SG_VALID, NULL);
	EXPECT(sg_urn_check(S("012345"), &why), SG_INVALID, "urn.range");
	EXPECT(sg_urn_check(S("12345a"), &why), SG_INVALID, "urn.character");
	EXPECT(sg_urn_check(S("1234567"), &why), SG_INVALID, "urn.length");
}

static void
date(void **state)
{
	struct sg_why why;
	int64_t d;

	(void)state;
	EXPECT(sg_date_check(S("2024-02-29"), &why), SG_VALID, NULL);
	EXPECT(sg_date_check(S("2000-02-29"), &why), SG_VALID, NULL);
	EXPECT(sg_date_check(S("1900-02-29"), &why), SG_INVALID,
	    "date.calendar");
	EXPECT(sg_date_check(S("2023-02-29"), &why), SG_INVALID,
	    "date.calendar");
	EXPECT(sg_date_check(S("2024-13-01"), &why), SG_INVALID,
	    "date.calendar");
	EXPECT(sg_date_check(S("2024-04-31"), &why), SG_INVALID,
	    "date.calendar");
	EXPECT(sg_date_check(S("24-01-01"), &why), SG_INVALID, "date.format");
	EXPECT(sg_date_check(S("01/02/2024"), &why), SG_INVALID,
	    "date.format");
	EXPECT(sg_date_check(S("1899-12-31"), &why), SG_INVALID, "date.range");
	assert_int_equal(sg_date_parse(S("1970-01-01"), &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(sg_date_parse(S("2000-03-01"), &d), 0);
	assert_int_equal(d, 11017);
}

static void
email(void **state)
{
	struct sg_why why;
	(void)state;
	EXPECT(sg_email_check(S("head@school.org.uk"), &why), SG_VALID, NULL);
	EXPECT(sg_email_check(S("a.b+c@x-y.ac.uk"), &why), SG_VALID, NULL);
	EXPECT(sg_email_check(S("no-at.example"), &why), SG_INVALID,
	    "email.format");
	EXPECT(sg_email_check(S("a@b@c.uk"), &why), SG_INVALID,
	    "email.format");
	EXPECT(sg_email_check(S("a@localhost"), &why), SG_INVALID,
	    "email.domain");
	EXPECT(sg_email_check(S("a..b@x.uk"), &why), SG_INVALID,
	    "email.local");
	EXPECT(sg_email_check(S("a b@x.uk"), &why), SG_INVALID,
	    "email.local");
	EXPECT(sg_email_check(S("@x.uk"), &why), SG_INVALID, "email.local");
	EXPECT(sg_email_check(S("a@-x.uk"), &why), SG_INVALID,
	    "email.domain");
	EXPECT(sg_email_check(S("a@x.uk."), &why), SG_INVALID,
	    "email.domain");
	EXPECT(sg_email_check(S("a@x_y.uk"), &why), SG_INVALID,
	    "email.domain");
	{
		char longmail[300];

		memset(longmail, 'a', sizeof(longmail));
		memcpy(longmail + 280, "@school.org.uk", 14);
		EXPECT(sg_email_check(longmail, 294, &why), SG_INVALID,
		    "email.length");
	}
}

static void
ukphone(void **state)
{
	struct sg_why why;
	static const char *good[] = { "0151 233 3000", "+44 151 233 3000",
	    "07700 900123", "020 7946 0958", "+44 (0)20 7946 0958",
	    "0044 7700 900123", "0800 123 4567" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		EXPECT(sg_ukphone_check(S(good[i]), &why), SG_VALID, NULL);
	EXPECT(sg_ukphone_check(S("12345"), &why), SG_INVALID,
	    "uk-phone.format");
	EXPECT(sg_ukphone_check(S("0207946095"), &why), SG_INVALID,
	    "uk-phone.length");
	EXPECT(sg_ukphone_check(S("0600 123456"), &why), SG_INVALID,
	    "uk-phone.format");
	EXPECT(sg_ukphone_check(S("07700 9001234"), &why), SG_INVALID,
	    "uk-phone.length");
	EXPECT(sg_ukphone_check(S("+1 212 555 0100"), &why), SG_INVALID,
	    "uk-phone.format");
	EXPECT(sg_ukphone_check(S("0151 233 3000 x12"), &why), SG_INVALID,
	    "uk-phone.character");
}

static void
integer(void **state)
{
	struct sg_why why;
	(void)state;
	EXPECT(sg_integer_check(S("-5"), -10, 10, &why), SG_VALID, NULL);
	EXPECT(sg_integer_check(S("007"), 0, 10, &why), SG_VALID, NULL);
	EXPECT(sg_integer_check(S("+5"), -10, 10, &why), SG_INVALID,
	    "integer.format");
	EXPECT(sg_integer_check(S("-"), -10, 10, &why), SG_INVALID,
	    "integer.format");
	EXPECT(sg_integer_check(S("1.5"), -10, 10, &why), SG_INVALID,
	    "integer.format");
	EXPECT(sg_integer_check(S("11"), -10, 10, &why), SG_INVALID,
	    "integer.range");
	EXPECT(sg_integer_check(S("99999999999999999999"), INT64_MIN,
	    INT64_MAX, &why), SG_INVALID, "integer.range");
}

/* A report must never carry the value: no message may contain it. */
static void
messages_never_echo_value(void **state)
{
	struct sg_why why;

	(void)state;
	sg_upn_check(S("A801200001001"), 0, &la, SG_LA_WARN, &why);
	assert_null(strstr(why.msg, "801200001001"));
	sg_email_check(S("jane.doe@school"), &why);
	assert_null(strstr(why.msg, "jane"));
	sg_nino_check(S("GB123456A"), &why);
	assert_null(strstr(why.msg, "123456"));
	sg_trn_check(S("RP99/12345"), 0, NULL, &why);
	assert_null(strstr(why.msg, "12345"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(upn_dfe_worked_example),
		cmocka_unit_test(upn_valid),
		cmocka_unit_test(upn_invalid),
		cmocka_unit_test(upn_la_codes),
		cmocka_unit_test(trn_strict),
		cmocka_unit_test(trn_normalise),
		cmocka_unit_test(uln),
		cmocka_unit_test(nino),
		cmocka_unit_test(postcode),
		cmocka_unit_test(laestab_urn),
		cmocka_unit_test(date),
		cmocka_unit_test(email),
		cmocka_unit_test(ukphone),
		cmocka_unit_test(integer),
		cmocka_unit_test(messages_never_echo_value),
	};

	return cmocka_run_group_tests_name("ident", tests, setup_la, NULL);
}
