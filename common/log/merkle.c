/* merkle: RFC 9162 trees, proofs and their verification. */
#include "log/merkle.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

void
sg_merkle_leaf(const void *data, size_t n, unsigned char out[32])
{
	unsigned char z = 0x00, b[4096];
	EVP_MD_CTX *c;

	if (n < sizeof(b)) {
		b[0] = 0x00;
		memcpy(b + 1, data, n);
		SHA256(b, n + 1, out);
		return;
	}
	c = EVP_MD_CTX_new();

	/* an allocation failure here cannot be reported; abort rather than
	 * produce a wrong hash */
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) <= 0 ||
	    EVP_DigestUpdate(c, &z, 1) <= 0 ||
	    EVP_DigestUpdate(c, data, n) <= 0 ||
	    EVP_DigestFinal_ex(c, out, NULL) <= 0)
		abort();
	EVP_MD_CTX_free(c);
}

void
sg_merkle_node(const unsigned char l[32], const unsigned char r[32],
    unsigned char out[32])
{
	unsigned char b[65];

	b[0] = 0x01;
	memcpy(b + 1, l, 32);
	memcpy(b + 33, r, 32);
	SHA256(b, sizeof(b), out);
}

void
sg_merkle_frontier_add(struct sg_merkle_frontier *f,
    const unsigned char leaf[32])
{
	unsigned char carry[32];
	unsigned i = 0;

	memcpy(carry, leaf, 32);
	while (f->size & ((uint64_t)1 << i)) {
		sg_merkle_node(f->h[i], carry, carry);
		i++;
	}
	memcpy(f->h[i], carry, 32);
	f->size++;
}

void
sg_merkle_frontier_root(const struct sg_merkle_frontier *f,
    unsigned char out[32])
{
	unsigned char acc[32];
	unsigned i;
	int have = 0;

	if (f->size == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return;
	}
	for (i = 0; i < 64; i++) {
		if (!(f->size & ((uint64_t)1 << i)))
			continue;
		if (!have) {
			memcpy(acc, f->h[i], 32);
			have = 1;
		} else
			sg_merkle_node(f->h[i], acc, acc);
	}
	memcpy(out, acc, 32);
}

int
sg_merkle_tree_build(struct sg_merkle_tree *t,
    const unsigned char (*leaves)[32], uint64_t n)
{
	uint64_t i, m;
	unsigned j;

	memset(t, 0, sizeof(*t));
	t->n = n;
	for (t->nlv = 1, m = n; m > 1; m /= 2)
		t->nlv++;
	if ((t->lv = calloc(t->nlv, sizeof(*t->lv))) == NULL ||
	    (t->len = calloc(t->nlv, sizeof(*t->len))) == NULL)
		goto fail;
	for (j = 0, m = n; j < t->nlv; j++, m /= 2) {
		t->len[j] = m;
		if ((t->lv[j] = malloc((m ? m : 1) * 32)) == NULL)
			goto fail;
		for (i = 0; i < m; i++) {
			if (j == 0)
				memcpy(t->lv[0][i], leaves[i], 32);
			else
				sg_merkle_node(t->lv[j - 1][2 * i],
				    t->lv[j - 1][2 * i + 1], t->lv[j][i]);
		}
	}
	return 0;
fail:
	sg_merkle_tree_free(t);
	return -1;
}

void
sg_merkle_tree_free(struct sg_merkle_tree *t)
{
	unsigned j;

	if (t->lv)
		for (j = 0; j < t->nlv; j++)
			free(t->lv[j]);
	free(t->lv);
	free(t->len);
	memset(t, 0, sizeof(*t));
}

static uint64_t
split(uint64_t n)	/* the largest power of two below n (n >= 2) */
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* MTH(D[a : a+n]) for n >= 1. */
static void
mth(const struct sg_merkle_tree *t, uint64_t a, uint64_t n,
    unsigned char out[32])
{
	unsigned char l[32], r[32];
	uint64_t k;
	unsigned j;

	if ((n & (n - 1)) == 0 && a % n == 0) {
		for (j = 0; ((uint64_t)1 << j) < n; j++)
			;
		memcpy(out, t->lv[j][a >> j], 32);
		return;
	}
	k = split(n);
	mth(t, a, k, l);
	mth(t, a + k, n - k, r);
	sg_merkle_node(l, r, out);
}

void
sg_merkle_tree_root(const struct sg_merkle_tree *t, uint64_t size,
    unsigned char out[32])
{
	if (size == 0)
		SHA256((const unsigned char *)"", 0, out);
	else
		mth(t, 0, size, out);
}

/* PATH(m, D[a : a+n]) */
static int
path(const struct sg_merkle_tree *t, uint64_t m, uint64_t a, uint64_t n,
    unsigned char (*out)[32], size_t *len)
{
	uint64_t k;

	if (n == 1)
		return 0;
	k = split(n);
	if (m < k) {
		if (path(t, m, a, k, out, len) != 0)
			return -1;
		if (*len >= SG_MERKLE_MAX_PROOF)
			return -1;
		mth(t, a + k, n - k, out[(*len)++]);
	} else {
		if (path(t, m - k, a + k, n - k, out, len) != 0)
			return -1;
		if (*len >= SG_MERKLE_MAX_PROOF)
			return -1;
		mth(t, a, k, out[(*len)++]);
	}
	return 0;
}

int
sg_merkle_inclusion_proof(const struct sg_merkle_tree *t, uint64_t index,
    uint64_t size, unsigned char (*out)[32], size_t *len)
{
	*len = 0;
	if (size > t->n || index >= size)
		return -1;
	return path(t, index, 0, size, out, len);
}

/* SUBPROOF(m, D[a : a+n], b) */
static int
subproof(const struct sg_merkle_tree *t, uint64_t m, uint64_t a, uint64_t n,
    int b, unsigned char (*out)[32], size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b) {
			if (*len >= SG_MERKLE_MAX_PROOF)
				return -1;
			mth(t, a, n, out[(*len)++]);
		}
		return 0;
	}
	k = split(n);
	if (m <= k) {
		if (subproof(t, m, a, k, b, out, len) != 0 ||
		    *len >= SG_MERKLE_MAX_PROOF)
			return -1;
		mth(t, a + k, n - k, out[(*len)++]);
	} else {
		if (subproof(t, m - k, a + k, n - k, 0, out, len) != 0 ||
		    *len >= SG_MERKLE_MAX_PROOF)
			return -1;
		mth(t, a, k, out[(*len)++]);
	}
	return 0;
}

int
sg_merkle_consistency_proof(const struct sg_merkle_tree *t, uint64_t m,
    uint64_t size, unsigned char (*out)[32], size_t *len)
{
	*len = 0;
	if (size > t->n || m == 0 || m > size)
		return -1;
	return subproof(t, m, 0, size, 1, out, len);
}

int
sg_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const unsigned char leaf[32], const unsigned char (*proof)[32],
    size_t len, const unsigned char root[32])
{
	unsigned char r[32];
	uint64_t fn = index, sn;
	size_t i;

	if (index >= size)
		return -1;
	sn = size - 1;
	memcpy(r, leaf, 32);
	for (i = 0; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			sg_merkle_node(proof[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			sg_merkle_node(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(r, root, 32) == 0 ? 0 : -1;
}

int
sg_merkle_verify_consistency(uint64_t m, uint64_t size,
    const unsigned char r1[32], const unsigned char r2[32],
    const unsigned char (*proof)[32], size_t len)
{
	unsigned char fr[32], sr[32];
	const unsigned char *c;
	uint64_t fn, sn;
	size_t i = 0;

	if (m == 0 || m > size)
		return -1;
	if (m == size)
		return len == 0 && CRYPTO_memcmp(r1, r2, 32) == 0 ? 0 : -1;
	if ((m & (m - 1)) == 0)
		c = r1;			/* prepend the first root */
	else {
		if (len == 0)
			return -1;
		c = proof[i++];
	}
	fn = m - 1;
	sn = size - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, c, 32);
	memcpy(sr, c, 32);
	for (; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			sg_merkle_node(proof[i], fr, fr);
			sg_merkle_node(proof[i], sr, sr);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			sg_merkle_node(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(fr, r1, 32) == 0 &&
	    CRYPTO_memcmp(sr, r2, 32) == 0 ? 0 : -1;
}
