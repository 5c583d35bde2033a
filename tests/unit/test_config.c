/* Unit tests for common/policy/config.c: the shipped example loads; broken
 * configurations are refused as a whole, with every problem reported as
 * file:line: setting: message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/config.h"

static char dir[64];

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char *agreement_ok =
    "agreement = {\n"				/* 1 */
    "  id = \"a1\";\n"				/* 2 */
    "  title = \"T\";\n"			/* 3 */
    "  lawful_basis = { article6 = [ \"e\" ]; gateway = \"Education Act 1996\"; };\n"	/* 4 */
    "  parties = ( { party = \"school:1\"; role = \"controller\"; },\n"
    "              { party = \"org:x\"; role = \"processor\"; } );\n"
    "  start = \"2025-01-01\"; review = \"2026-01-01\";\n"	/* 7 */
    "  end = \"2030-01-01\"; status = \"active\";\n"	/* 8 */
    "  flows = ( {\n"				/* 9 */
    "    id = \"f1\"; appendix = \"B\"; description = \"d\";\n"
    "    senders = [\"school:1\"]; recipients = [\"org:x\"];\n"
    "    format = \"csv\"; encryption = [\"zip-aes\"];\n"
    "    frequency = \"termly\"; retention_days = 30;\n"
    "    manifest = {\n"			/* 14 */
    "      key = \"UPN\";\n"			/* 15 */
    "      columns = (\n"			/* 16 */
    "        { name = \"UPN\"; type = \"upn\"; },\n"	/* 17 */
    "        { name = \"Age\"; type = \"integer\"; min = 0; max = 20; }\n"
    "      );\n"
    "    };\n"
    "  } );\n"
    "};\n";

static int
setup(void **state)
{
	char sub[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sgtest.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/agreements", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file("schoolgate.conf", "parties = \"parties.conf\";\n"
	    "agreements = \"agreements\";\nla_codes = \"la.conf\";\n");
	write_file("parties.conf", "parties = (\n"
	    "  { id = \"school:1\"; name = \"School One\"; },\n"
	    "  { id = \"org:x\"; name = \"Service X\"; }\n);\n");
	write_file("la.conf", "la_codes = [ \"341\", \"801\" ];\n");
	write_file("agreements/a1.conf", agreement_ok);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Replace `from` with `to` in the agreement and load; returns the config
 * (or NULL) and fills d. */
static struct sg_config *
load_with(struct sg_diag *d, const char *from, const char *to)
{
	char *text = malloc(strlen(agreement_ok) + strlen(to) + 1);
	const char *at = strstr(agreement_ok, from);

	assert_non_null(text);
	assert_non_null(at);
	memcpy(text, agreement_ok, (size_t)(at - agreement_ok));
	strcpy(text + (at - agreement_ok), to);
	strcat(text, at + strlen(from));
	write_file("agreements/a1.conf", text);
	free(text);
	sg_diag_init(d);
	return sg_config_load(dir, d);
}

static int
diag_has(const struct sg_diag *d, const char *needle)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		if (strstr(d->msgs[i], needle) != NULL)
			return 1;
	for (i = 0; i < d->count; i++)
		print_message("  diag: %s\n", d->msgs[i]);
	return 0;
}

#define REFUSED(from, to, needle) do {					\
	struct sg_diag d_;						\
	struct sg_config *c_ = load_with(&d_, (from), (to));		\
	assert_null(c_);						\
	assert_true(diag_has(&d_, (needle)));				\
	sg_diag_free(&d_);						\
} while (0)

static void
shipped_example_loads(void **state)
{
	struct sg_diag d;
	struct sg_config *cfg;
	const struct sg_agreement *a;
	const struct sg_flow *f;

	(void)state;
	sg_diag_init(&d);
	cfg = sg_config_load("config", &d);
	assert_int_equal(d.count, 0);
	assert_non_null(cfg);
	assert_true(cfg->nagreements >= 3);
	assert_true(cfg->la.known[341] && cfg->la.known[943]);
	a = sg_config_agreement(cfg, "sil-pupil-data");
	assert_non_null(a);
	f = sg_agreement_flow(a, "census");
	assert_non_null(f);
	assert_int_equal(f->appendix, 'B');
	assert_string_equal(f->manifest.columns[f->manifest.key].name, "UPN");
	assert_non_null(sg_agreement_flow(a, "reports"));
	a = sg_config_agreement(cfg, "wltl-survey");
	assert_non_null(a);
	f = sg_agreement_flow(a, "staff-contacts");
	/* seed 000 lists no identifier: exactly its five items */
	assert_int_equal(f->manifest.key, -1);
	assert_int_equal(f->manifest.ncolumns, 5);
	a = sg_config_agreement(cfg, "star-ab-ect");
	assert_non_null(a);
	f = sg_agreement_flow(a, "ect-records");
	assert_string_equal(f->manifest.columns[f->manifest.key].name, "TRN");
	assert_string_equal(f->frequency, "ad-hoc");
	sg_config_free(cfg);
	sg_diag_free(&d);
}

static void
minimal_loads(void **state)
{
	struct sg_diag d;
	struct sg_config *cfg = load_with(&d, "\"T\"", "\"T\"");

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(cfg->nagreements, 1);
	assert_int_equal(cfg->agreements[0].flows[0].manifest.key, 0);
	assert_int_equal(cfg->agreements[0].flows[0].manifest.columns[1].max,
	    20);
	sg_config_free(cfg);
	sg_diag_free(&d);
}

static void
unknown_validator(void **state)
{
	(void)state;
	REFUSED("type = \"upn\"", "type = \"upnn\"",
	    "a1.conf:17: agreement.flows[0].manifest.columns[0].type: "
	    "must be one of");
}

static void
key_not_in_manifest(void **state)
{
	(void)state;
	REFUSED("key = \"UPN\"", "key = \"TRN\"",
	    "a1.conf:15: agreement.flows[0].manifest.key: key column \"TRN\" "
	    "is not in the manifest");
}

static void
recipient_not_a_party(void **state)
{
	(void)state;
	REFUSED("recipients = [\"org:x\"]", "recipients = [\"org:y\"]",
	    "\"org:y\" is not a party in the parties file");
}

static void
duplicate_flow_id(void **state)
{
	(void)state;
	REFUSED("  } );\n};", "  },\n  { id = \"f1\"; appendix = \"A\"; "
	    "description = \"x\"; senders = [\"org:x\"]; recipients = "
	    "[\"school:1\"]; format = \"opaque\"; types = [\"pdf\"]; "
	    "encryption = [\"zip-aes\"]; frequency = \"ad-hoc\"; "
	    "retention_days = 1; } );\n};",
	    "duplicate flow id \"f1\"");
}

static void
bad_date(void **state)
{
	(void)state;
	REFUSED("review = \"2026-01-01\"", "review = \"2026-02-30\"",
	    "a1.conf:7: agreement.review: must be a date");
}

static void
typo_is_reported(void **state)
{
	(void)state;
	REFUSED("retention_days = 30;", "retention_days = 30; retension = 1;",
	    "agreement.flows[0].retension: unknown setting");
}

static void
syntax_error_has_line(void **state)
{
	(void)state;
	REFUSED("  title = \"T\";\n", "  title = \"T\"\n  oops\n",
	    "a1.conf:5: syntax error");
}

static void
every_problem_reported(void **state)
{
	struct sg_diag d;
	struct sg_config *c = load_with(&d, "key = \"UPN\";",
	    "key = \"Nope\"; unique = 7;");

	(void)state;
	assert_null(c);
	assert_true(diag_has(&d, "key column \"Nope\""));
	assert_true(diag_has(&d, "unique: must be true or false"));
	sg_diag_free(&d);
}

static void
suspended_needs_until(void **state)
{
	(void)state;
	REFUSED("status = \"active\"", "status = \"suspended\"",
	    "agreement.suspended_until: missing (required)");
}

/* Held data follows a stated rule when the agreement ends: keep needs a
 * date, not before the end; a date alone is refused. */
static void
on_end_rules(void **state)
{
	struct sg_diag d;
	struct sg_config *c;

	(void)state;
	REFUSED("status = \"active\";", "status = \"active\"; "
	    "on_end = \"keep\";", "agreement.keep_until: missing (required)");
	REFUSED("status = \"active\";", "status = \"active\"; "
	    "keep_until = \"2031-01-01\";", "only with on_end = \"keep\"");
	REFUSED("status = \"active\";", "status = \"active\"; "
	    "on_end = \"keep\"; keep_until = \"2029-01-01\";",
	    "is before the end");
	REFUSED("status = \"active\";", "status = \"active\"; "
	    "on_end = \"archive\";", "on_end");
	/* the hash recorded must cover every setting: no @include */
	REFUSED("status = \"active\";", "status = \"active\";\n"
	    "@include \"more.conf\"\n", "@include is not allowed");
	c = load_with(&d, "status = \"active\";", "status = \"active\"; "
	    "on_end = \"keep\"; keep_until = \"2031-01-01\";");
	assert_non_null(c);
	assert_true(c->agreements[0].keep_until > c->agreements[0].end);
	sg_config_free(c);
	sg_diag_free(&d);
	c = load_with(&d, "status = \"active\";", "status = \"active\";");
	assert_non_null(c);
	assert_int_equal(c->agreements[0].keep_until, -1);
	/* the file's hash is of the bytes parsed */
	assert_int_equal(strlen(c->agreements[0].sha256), 64);
	assert_int_equal(strlen(c->parties_sha256), 64);
	sg_config_free(c);
	sg_diag_free(&d);
}

static void
status_on_dates(void **state)
{
	struct sg_agreement a;
	int64_t d2025, d2026, d2031;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(sg_date_parse("2025-01-01", 10, &a.start), 0);
	assert_int_equal(sg_date_parse("2030-01-01", 10, &a.end), 0);
	assert_int_equal(sg_date_parse("2025-06-01", 10, &d2025), 0);
	assert_int_equal(sg_date_parse("2026-06-01", 10, &d2026), 0);
	assert_int_equal(sg_date_parse("2031-01-01", 10, &d2031), 0);
	a.status = SG_AGR_ACTIVE;
	a.suspended_until = -1;
	assert_int_equal(sg_agreement_status_on(&a, d2025), SG_AGR_ACTIVE);
	assert_int_equal(sg_agreement_status_on(&a, d2031), SG_AGR_EXPIRED);
	a.status = SG_AGR_SUSPENDED;
	assert_int_equal(sg_date_parse("2026-01-01", 10, &a.suspended_until),
	    0);
	assert_int_equal(sg_agreement_status_on(&a, d2025), SG_AGR_SUSPENDED);
	assert_int_equal(sg_agreement_status_on(&a, d2026), SG_AGR_ACTIVE);
}

/* An empty agreement file beside a good one is refused with a message
 * (it crashed the loader: the duplicate-id check read its NULL id). */
static void
empty_agreement_file(void **state)
{
	struct sg_diag d;
	struct sg_config *c;

	(void)state;
	write_file("agreements/a0.conf", "");
	sg_diag_init(&d);
	c = sg_config_load(dir, &d);
	assert_null(c);
	assert_true(diag_has(&d, "each agreement file holds one group"));
	sg_diag_free(&d);
	{
		char p[200];

		snprintf(p, sizeof(p), "%s/agreements/a0.conf", dir);
		assert_int_equal(unlink(p), 0);
	}
}

/* lawful_basis names UK GDPR conditions from the fixed lists and the
 * legal gateway; free text alone ("because") is refused */
static void
lawful_basis_structured(void **state)
{
	(void)state;
	REFUSED("lawful_basis = { article6 = [ \"e\" ]; gateway = \"Education "
	    "Act 1996\"; };", "lawful_basis = \"because\";",
	    "lawful_basis: must be a group");
	REFUSED("article6 = [ \"e\" ]", "article6 = [ \"z\" ]",
	    "\"z\" is not a condition");
	REFUSED("gateway = \"Education Act 1996\"", "gateway = \"law\"",
	    "name the law that allows the sharing");
}

/* a special category column needs an Article 9 condition */
static void
special_category_needs_article9(void **state)
{
	struct sg_diag d;
	struct sg_config *cfg;

	(void)state;
	REFUSED("max = 20; }", "max = 20; special_category = true; }",
	    "column \"Age\" is special category data");
	cfg = load_with(&d, "article6 = [ \"e\" ];", "article6 = [ \"e\" ]; "
	    "article9 = [ \"g\" ];");
	assert_non_null(cfg);
	assert_int_equal(cfg->agreements[0].lawful_basis.article9, 1u << 6);
	sg_config_free(cfg);
	sg_diag_free(&d);
}

/* sender_school names required columns, and every sender is a school
 * whose id gives its LAESTAB */
static void
sender_school_rules(void **state)
{
	(void)state;
	REFUSED("key = \"UPN\";", "key = \"UPN\"; sender_school = { laestab = "
	    "\"Age\"; };", "must be a required laestab column");
	REFUSED("key = \"UPN\";", "key = \"UPN\"; sender_school = { la = "
	    "\"Age\"; };", "name either the la and estab columns");
	REFUSED("key = \"UPN\";", "key = \"UPN\"; sender_school = { la = "
	    "\"Age\"; estab = \"Age\"; };", "\"school:1\" is not a school");
	assert_int_equal(sg_party_laestab("school:3414001"), 3414001);
	assert_int_equal(sg_party_laestab("school:1"), 0);
	assert_int_equal(sg_party_laestab("org:sil"), 0);
}

/* periods: terms are Sep-Dec, Jan-Mar, Apr-Aug; years start in
 * September; weeks on Monday */
static void
frequency_periods(void **state)
{
	int64_t day, from, next;
	char a[11], b[11];

	(void)state;
	assert_int_equal(sg_date_parse("2026-12-02", 10, &day), 0);
	from = sg_period_start(SG_FREQ_TERMLY, day, &next);
	sg_date_format(from, a);
	sg_date_format(next, b);
	assert_string_equal(a, "2026-09-01");
	assert_string_equal(b, "2027-01-01");
	assert_int_equal(sg_date_parse("2027-05-20", 10, &day), 0);
	from = sg_period_start(SG_FREQ_TERMLY, day, &next);
	sg_date_format(from, a);
	sg_date_format(next, b);
	assert_string_equal(a, "2027-04-01");
	assert_string_equal(b, "2027-09-01");
	from = sg_period_start(SG_FREQ_ANNUALLY, day, &next);
	sg_date_format(from, a);
	assert_string_equal(a, "2026-09-01");
	assert_int_equal(sg_date_parse("2026-12-02", 10, &day), 0);
	from = sg_period_start(SG_FREQ_WEEKLY, day, &next);
	sg_date_format(from, a);		/* a Wednesday's Monday */
	assert_string_equal(a, "2026-11-30");
	assert_int_equal(next - from, 7);
	assert_true(sg_period_start(SG_FREQ_ADHOC, day, &next) < 0);
	REFUSED("frequency = \"termly\";", "frequency = \"ad-hoc\"; "
	    "per_period = 2;", "an ad-hoc flow has no period");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_example_loads),
		cmocka_unit_test(minimal_loads),
		cmocka_unit_test(unknown_validator),
		cmocka_unit_test(key_not_in_manifest),
		cmocka_unit_test(recipient_not_a_party),
		cmocka_unit_test(duplicate_flow_id),
		cmocka_unit_test(bad_date),
		cmocka_unit_test(typo_is_reported),
		cmocka_unit_test(syntax_error_has_line),
		cmocka_unit_test(every_problem_reported),
		cmocka_unit_test(suspended_needs_until),
		cmocka_unit_test(status_on_dates),
		cmocka_unit_test(on_end_rules),
		cmocka_unit_test(empty_agreement_file),
		cmocka_unit_test(lawful_basis_structured),
		cmocka_unit_test(special_category_needs_article9),
		cmocka_unit_test(sender_school_rules),
		cmocka_unit_test(frequency_periods),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
