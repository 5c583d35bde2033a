/* Unit tests for common/log/merkle.c: RFC 9162 trees. Roots are checked
 * against the RFC's definition computed here, independently (SHA-256 of
 * 0x00 || data for a leaf, of 0x01 || left || right for a node, split at
 * the largest power of two below n); every inclusion and consistency
 * proof for trees up to 40 leaves verifies, and a proof with one bit
 * changed, or for another index or size, does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "log/merkle.h"

#define N	40

static unsigned char leaves[N + 30][32];

static void
sha(const unsigned char *a, size_t an, const unsigned char *b, size_t bn,
    const unsigned char *c, size_t cn, unsigned char out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned int l = 32;

	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	EVP_DigestUpdate(m, a, an);
	EVP_DigestUpdate(m, b, bn);
	EVP_DigestUpdate(m, c, cn);
	EVP_DigestFinal_ex(m, out, &l);
	EVP_MD_CTX_free(m);
}

/* MTH(D[lo:lo+n]) as RFC 9162 section 2.1.1 defines it, n >= 1 */
static void
mth(uint64_t lo, uint64_t n, unsigned char out[32])
{
	unsigned char l[32], r[32];
	const unsigned char one = 1;
	uint64_t k = 1;

	if (n == 1) {
		memcpy(out, leaves[lo], 32);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	mth(lo, k, l);
	mth(lo + k, n - k, r);
	sha(&one, 1, l, 32, r, 32, out);
}

static int
setup(void **state)
{
	unsigned char d[8];
	const unsigned char zero = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(leaves) / 32; i++) {
		memset(d, (int)i, sizeof(d));
		sha(&zero, 1, d, i % 9, NULL, 0, leaves[i]);
	}
	return 0;
}

static void
leaf_and_node_hashes(void **state)
{
	/* RFC 9162's leaf of the empty string: SHA-256(0x00) */
	static const unsigned char empty_leaf[32] = {
		0x6e, 0x34, 0x0b, 0x9c, 0xff, 0xb3, 0x7a, 0x98, 0x9c, 0xa5,
		0x44, 0xe6, 0xbb, 0x78, 0x0a, 0x2c, 0x78, 0x90, 0x1d, 0x3f,
		0xb3, 0x37, 0x38, 0x76, 0x85, 0x11, 0xa3, 0x06, 0x17, 0xaf,
		0xa0, 0x1d };
	unsigned char got[32], want[32];
	const unsigned char one = 1, zero = 0;

	(void)state;
	sg_merkle_leaf("", 0, got);
	assert_memory_equal(got, empty_leaf, 32);
	sg_merkle_leaf("abc", 3, got);
	sha(&zero, 1, (const unsigned char *)"abc", 3, NULL, 0, want);
	assert_memory_equal(got, want, 32);
	sg_merkle_node(leaves[1], leaves[2], got);
	sha(&one, 1, leaves[1], 32, leaves[2], 32, want);
	assert_memory_equal(got, want, 32);
}

static void
roots_match_the_definition(void **state)
{
	struct sg_merkle_frontier fr;
	struct sg_merkle_tree t;
	unsigned char a[32], b[32], want[32];
	uint64_t n;

	(void)state;
	memset(&fr, 0, sizeof(fr));
	assert_int_equal(sg_merkle_tree_build(&t,
	    (const unsigned char (*)[32])leaves, N + 30), 0);
	for (n = 1; n <= N + 30; n++) {
		sg_merkle_frontier_add(&fr, leaves[n - 1]);
		mth(0, n, want);
		sg_merkle_frontier_root(&fr, a);
		sg_merkle_tree_root(&t, n, b);
		assert_memory_equal(a, want, 32);
		assert_memory_equal(b, want, 32);
	}
	sg_merkle_tree_free(&t);
}

static void
inclusion_proofs(void **state)
{
	struct sg_merkle_tree t;
	unsigned char p[SG_MERKLE_MAX_PROOF][32], root[32];
	uint64_t size, i;
	size_t len;

	(void)state;
	assert_int_equal(sg_merkle_tree_build(&t,
	    (const unsigned char (*)[32])leaves, N), 0);
	for (size = 1; size <= N; size++) {
		sg_merkle_tree_root(&t, size, root);
		for (i = 0; i < size; i++) {
			assert_int_equal(sg_merkle_inclusion_proof(&t, i, size,
			    p, &len), 0);
			assert_int_equal(sg_merkle_verify_inclusion(i, size,
			    leaves[i], (const unsigned char (*)[32])p, len,
			    root), 0);
			/* another leaf, another index: refused */
			assert_int_not_equal(sg_merkle_verify_inclusion(i, size,
			    leaves[(i + 1) % N], (const unsigned char (*)[32])p,
			    len, root), 0);
			if (size > 1)
				assert_int_not_equal(sg_merkle_verify_inclusion(
				    (i + 1) % size, size, leaves[i],
				    (const unsigned char (*)[32])p, len, root),
				    0);
			if (len > 0) {
				p[len / 2][7] ^= 0x10;
				assert_int_not_equal(sg_merkle_verify_inclusion(
				    i, size, leaves[i],
				    (const unsigned char (*)[32])p, len, root),
				    0);
			}
		}
	}
	/* no proof for a leaf beyond the size */
	assert_int_not_equal(sg_merkle_inclusion_proof(&t, 5, 5, p, &len), 0);
	sg_merkle_tree_free(&t);
}

static void
consistency_proofs(void **state)
{
	struct sg_merkle_tree t;
	unsigned char p[SG_MERKLE_MAX_PROOF][32], r1[32], r2[32];
	uint64_t m, size;
	size_t len;

	(void)state;
	assert_int_equal(sg_merkle_tree_build(&t,
	    (const unsigned char (*)[32])leaves, N), 0);
	for (size = 1; size <= N; size++) {
		sg_merkle_tree_root(&t, size, r2);
		for (m = 1; m <= size; m++) {
			sg_merkle_tree_root(&t, m, r1);
			assert_int_equal(sg_merkle_consistency_proof(&t, m, size,
			    p, &len), 0);
			assert_int_equal(sg_merkle_verify_consistency(m, size,
			    r1, r2, (const unsigned char (*)[32])p, len), 0);
			if (m < size) {
				/* the old root of another size does not hold */
				unsigned char other[32];

				sg_merkle_tree_root(&t, m == 1 ? 2 : m - 1,
				    other);
				assert_int_not_equal(
				    sg_merkle_verify_consistency(m, size, other,
				    r2, (const unsigned char (*)[32])p, len), 0);
			}
			if (len > 0) {
				p[len - 1][0] ^= 1;
				assert_int_not_equal(
				    sg_merkle_verify_consistency(m, size, r1, r2,
				    (const unsigned char (*)[32])p, len), 0);
			}
		}
	}
	sg_merkle_tree_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leaf_and_node_hashes),
		cmocka_unit_test(roots_match_the_definition),
		cmocka_unit_test(inclusion_proofs),
		cmocka_unit_test(consistency_proofs),
	};

	return cmocka_run_group_tests_name("merkle", tests, setup, NULL);
}
