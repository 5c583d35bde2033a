/* Unit tests for common/intake/wire.c: every flow of the shipped
 * agreements crosses to an intake process and back unchanged, a report
 * is rebuilt as it was made, and a payload cut short or altered is
 * refused whole or read as a well-formed flow, never half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "intake/wire.h"

static struct sg_config *cfg;

static void
flows_round_trip(void **state)
{
	size_t a, k, nflows = 0;
	char err[200];

	(void)state;
	for (a = 0; a < cfg->nagreements; a++)
		for (k = 0; k < cfg->agreements[a].nflows; k++) {
			const struct sg_flow *f = &cfg->agreements[a].flows[k];
			struct sg_msgb b1, b2;
			struct sg_flow *g;

			sg_msgb_init(&b1);
			sg_msgb_init(&b2);
			assert_int_equal(sg_wire_flow_put(&b1, f), 0);
			g = sg_wire_flow_get(b1.buf, b1.len, err, sizeof(err));
			if (g == NULL)
				fail_msg("%s/%s: %s", cfg->agreements[a].id,
				    f->id, err);
			assert_string_equal(g->id, f->id);
			assert_int_equal(g->manifest.ncolumns,
			    f->manifest.ncolumns);
			assert_int_equal(g->manifest.key, f->manifest.key);
			assert_int_equal(g->encryptions, f->encryptions);
			assert_true((g->manifest.la == NULL) ==
			    (f->manifest.la == NULL));
			assert_int_equal(sg_wire_flow_put(&b2, g), 0);
			assert_int_equal(b1.len, b2.len);
			assert_memory_equal(b1.buf, b2.buf, b1.len);
			sg_wire_flow_free(g);
			sg_msgb_free(&b1);
			sg_msgb_free(&b2);
			nflows++;
		}
	assert_true(nflows >= 4);
}

static void
damaged_flows_are_refused(void **state)
{
	const struct sg_flow *f = &cfg->agreements[0].flows[0];
	struct sg_msgb b;
	struct sg_flow *g;
	char err[200];
	size_t n, refused = 0;

	(void)state;
	sg_msgb_init(&b);
	assert_int_equal(sg_wire_flow_put(&b, f), 0);
	/* every cut is refused (the inner length no longer matches) */
	for (n = 0; n < b.len; n++) {
		err[0] = 0;
		assert_null(sg_wire_flow_get(b.buf, n, err, sizeof(err)));
		assert_true(err[0] != 0);
	}
	/* every single-byte change: refused, or a well-formed flow */
	for (n = 0; n < b.len; n++) {
		b.buf[n] ^= 0x80;
		g = sg_wire_flow_get(b.buf, b.len, err, sizeof(err));
		if (g == NULL)
			refused++;
		else {
			assert_true(g->manifest.key < (int)g->manifest.ncolumns);
			sg_wire_flow_free(g);
		}
		b.buf[n] ^= 0x80;
	}
	assert_true(refused > 0);
	sg_msgb_free(&b);
}

static void
reports_round_trip(void **state)
{
	struct sg_report r, s;
	struct sg_wire_rules t;
	struct sg_msgb b;
	size_t k;

	(void)state;
	sg_wire_rules_init(&t);
	sg_report_init(&r, 3);
	sg_report_add(&r, 0, 8, "UPN", "upn.check", "the check letter is "
	    "wrong");
	sg_report_add(&r, 1, 9, "TRN", "trn.normalised", "normalised");
	for (k = 0; k < 5; k++)
		sg_report_add(&r, 0, 10 + k, "", "row.width", "too wide");
	r.rows = 42;
	snprintf(r.container, sizeof(r.container), "zip (AES-256)");
	sg_report_init(&s, 3);
	sg_msgb_init(&b);
	assert_int_equal(sg_wire_report_head_put(&b, &r), 0);
	assert_int_equal(sg_wire_report_head_get(&s, &t, b.buf, b.len), 0);
	sg_msgb_free(&b);
	for (k = 0; k < r.nerrors; k++) {
		sg_msgb_init(&b);
		assert_int_equal(sg_wire_entry_put(&b, 0, &r.errors[k]), 0);
		assert_int_equal(sg_wire_entry_get(&s, &t, b.buf, b.len), 0);
		sg_msgb_free(&b);
	}
	for (k = 0; k < r.nwarnings; k++) {
		sg_msgb_init(&b);
		assert_int_equal(sg_wire_entry_put(&b, 1, &r.warnings[k]), 0);
		assert_int_equal(sg_wire_entry_get(&s, &t, b.buf, b.len), 0);
		sg_msgb_free(&b);
	}
	assert_int_equal(s.rejected, 1);
	assert_int_equal(s.rows, 42);
	assert_int_equal(s.nerrors_total, 6);
	assert_int_equal(s.nwarnings_total, 1);
	assert_int_equal(s.nerrors, 3);
	assert_int_equal(s.nwarnings, 1);
	assert_string_equal(s.container, "zip (AES-256)");
	assert_string_equal(s.errors[0].rule, "upn.check");
	assert_int_equal(s.errors[0].row, 8);
	assert_string_equal(s.errors[0].column, "UPN");
	assert_int_equal(s.ncounts, r.ncounts);
	assert_true(sg_report_has(&s, "row.width"));
	/* one rule, one string, however often it is sent */
	assert_ptr_equal(s.errors[1].rule, s.errors[2].rule);
	/* no more entries than the report keeps */
	sg_msgb_init(&b);
	assert_int_equal(sg_wire_entry_put(&b, 0, &r.errors[0]), 0);
	assert_int_equal(sg_wire_entry_get(&s, &t, b.buf, b.len), -1);
	sg_msgb_free(&b);
	sg_report_free(&r);
	sg_report_free(&s);
	sg_wire_rules_free(&t);
}

static void
rule_names_are_checked(void **state)
{
	struct sg_wire_rules t;

	(void)state;
	sg_wire_rules_init(&t);
	assert_non_null(sg_wire_rule(&t, "upn.check", 9));
	assert_ptr_equal(sg_wire_rule(&t, "upn.check", 9),
	    sg_wire_rule(&t, "upn.checkX", 9));
	assert_null(sg_wire_rule(&t, "", 0));
	assert_null(sg_wire_rule(&t, "Upn", 3));
	assert_null(sg_wire_rule(&t, "a b", 3));
	assert_null(sg_wire_rule(&t, "a\nb", 3));
	sg_wire_rules_free(&t);
}

static int
setup(void **state)
{
	struct sg_diag d;

	(void)state;
	sg_diag_init(&d);
	cfg = sg_config_load("config", &d);
	sg_diag_free(&d);
	return cfg == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	sg_config_free(cfg);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flows_round_trip),
		cmocka_unit_test(damaged_flows_are_refused),
		cmocka_unit_test(reports_round_trip),
		cmocka_unit_test(rule_names_are_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
