/* Unit tests for common/check/keyset.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "check/keyset.h"

struct dups {
	uint32_t	idx[64], first[64];
	size_t		n;
};

static void
on_dup(void *arg, uint32_t idx, uint32_t first)
{
	struct dups *d = arg;

	if (d->n < 64) {
		d->idx[d->n] = idx;
		d->first[d->n] = first;
	}
	d->n++;
}

static void
finds_duplicates_across_growth(void **state)
{
	struct dups d = { { 0 }, { 0 }, 0 };
	struct sg_keyset *k = sg_keyset_new(on_dup, &d);
	uint32_t i;

	(void)state;
	assert_non_null(k);
	/* 300000 distinct codes force many table doublings */
	for (i = 0; i < 300000; i++)
		assert_int_equal(sg_keyset_add(k, 1000 + (uint64_t)i * 7919, i),
		    0);
	/* repeats of the first rows, and one repeated twice */
	assert_int_equal(sg_keyset_add(k, 1000, 300000), 0);
	assert_int_equal(sg_keyset_add(k, 1000 + 7919ULL * 5, 300001), 0);
	assert_int_equal(sg_keyset_add(k, 1000, 300003), 0);
	assert_int_equal(sg_keyset_flush(k), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.idx[0], 300000);
	assert_int_equal(d.first[0], 0);
	assert_int_equal(d.idx[1], 300001);
	assert_int_equal(d.first[1], 5);
	assert_int_equal(d.idx[2], 300003);
	assert_int_equal(d.first[2], 0);	/* always the earliest */
	sg_keyset_free(k);
}

static void
rejects_bad_input(void **state)
{
	struct sg_keyset *k = sg_keyset_new(NULL, NULL);

	(void)state;
	assert_int_equal(sg_keyset_add(k, 0, 0), -1);		/* no code */
	assert_int_equal(sg_keyset_add(k, 5, 3), 0);
	assert_int_equal(sg_keyset_add(k, 6, 3), -1);		/* not increasing */
	assert_int_equal(sg_keyset_add(k, 6, SG_KEYSET_MAX_ROWS), -1);
	sg_keyset_free(k);
}

static void
codes(void **state)
{
	struct sg_keyset *k = sg_keyset_new(NULL, NULL);

	(void)state;
	/* distinct UPNs, distinct codes; the check letter adds nothing */
	assert_true(sg_keyset_code_upn("H801200001001") !=
	    sg_keyset_code_upn("X801200001002"));
	assert_true(sg_keyset_code_upn("U80120000100A") !=
	    sg_keyset_code_upn("H801200001001"));
	assert_true(sg_keyset_code_trn("0012345") ==
	    sg_keyset_code_trn("0012345"));
	assert_true(sg_keyset_code_trn("0012345") != 0);
	assert_true(sg_keyset_code_bytes(k, "abc", 3) ==
	    sg_keyset_code_bytes(k, "abc", 3));
	assert_true(sg_keyset_code_bytes(k, "abc", 3) !=
	    sg_keyset_code_bytes(k, "abd", 3));
	assert_true(sg_keyset_code_bytes(k, "", 0) != 0);
	sg_keyset_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_duplicates_across_growth),
		cmocka_unit_test(rejects_bad_input),
		cmocka_unit_test(codes),
	};

	return cmocka_run_group_tests_name("keyset", tests, NULL, NULL);
}
