/* keyset: duplicate-key detection; see keyset.h. */
#include "keyset.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define IDX_BITS	26
#define FP_MASK		((1u << (32 - IDX_BITS)) - 1)

struct sg_keyset {
	uint64_t	*codes;		/* codes[idx], 0: row has no key */
	size_t		 ncodes, capcodes;
	uint32_t	*slots;		/* (idx + 1) << 6 | fingerprint */
	size_t		 cap, used;
	uint64_t	 seed, sip[2];
};

static uint64_t
mix(uint64_t x)
{
	/* murmur3 finaliser: a bijection, so distinct codes stay distinct */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

struct sg_keyset *
sg_keyset_new(void)
{
	struct sg_keyset *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	if (RAND_bytes((unsigned char *)&k->seed, sizeof(k->seed)) != 1 ||
	    RAND_bytes((unsigned char *)k->sip, sizeof(k->sip)) != 1) {
		free(k);
		return NULL;
	}
	k->cap = 1024;
	if ((k->slots = calloc(k->cap, sizeof(*k->slots))) == NULL) {
		free(k);
		return NULL;
	}
	return k;
}

void
sg_keyset_free(struct sg_keyset *k)
{
	if (k == NULL)
		return;
	free(k->codes);
	free(k->slots);
	free(k);
}

size_t
sg_keyset_bytes(const struct sg_keyset *k)
{
	return k->capcodes * sizeof(*k->codes) + k->cap * sizeof(*k->slots);
}

/* Insert idx into the slot table; 1 and *first on a duplicate. */
static int
place(struct sg_keyset *k, uint64_t code, uint32_t idx, uint32_t *first)
{
	uint64_t h = mix(code ^ k->seed);
	uint32_t fp = (uint32_t)(h >> 58) & FP_MASK;
	size_t mask = k->cap - 1, pos = (size_t)h & mask;

	for (;; pos = (pos + 1) & mask) {
		uint32_t s = k->slots[pos];

		if (s == 0) {
			k->slots[pos] = ((idx + 1) << (32 - IDX_BITS)) | fp;
			k->used++;
			return 0;
		}
		if ((s & FP_MASK) == fp &&
		    k->codes[(s >> (32 - IDX_BITS)) - 1] == code) {
			*first = (s >> (32 - IDX_BITS)) - 1;
			return 1;
		}
	}
}

static int
grow(struct sg_keyset *k)
{
	uint32_t *old = k->slots, dummy;
	size_t i;

	k->slots = calloc(k->cap * 2, sizeof(*k->slots));
	if (k->slots == NULL) {
		k->slots = old;
		return -1;
	}
	free(old);
	k->cap *= 2;
	k->used = 0;
	/* Rebuild from the codes in row order: the earliest row stays the
	 * one a later duplicate is reported against. */
	for (i = 0; i < k->ncodes; i++)
		if (k->codes[i] != 0)
			place(k, k->codes[i], (uint32_t)i, &dummy);
	return 0;
}

int
sg_keyset_add(struct sg_keyset *k, uint64_t code, uint32_t idx,
    uint32_t *first)
{
	int dup;

	if (code == 0 || idx >= SG_KEYSET_MAX_ROWS || idx < k->ncodes)
		return -1;
	if (idx >= k->capcodes) {
		size_t cap = k->capcodes ? k->capcodes * 2 : 4096;
		uint64_t *n;

		while (cap <= idx)
			cap *= 2;
		if ((n = realloc(k->codes, cap * sizeof(*n))) == NULL)
			return -1;
		k->codes = n;
		k->capcodes = cap;
	}
	/* rows without a key in between */
	memset(k->codes + k->ncodes, 0, (idx - k->ncodes) * sizeof(*k->codes));
	k->ncodes = idx;
	if ((k->used + 1) * 4 > k->cap * 3 && grow(k) != 0)
		return -1;
	dup = place(k, code, idx, first);
	/* a duplicate is not indexed again, but its row keeps its code */
	k->codes[k->ncodes++] = code;
	return dup;
}

uint64_t
sg_keyset_code_upn(const char *u)
{
	uint64_t v = 0;
	int i;

	/* characters 2-12 are digits; 13 is a digit or a letter; the check
	 * letter follows from them, so it adds nothing */
	for (i = 1; i < 12; i++)
		v = v * 10 + (uint64_t)(u[i] - '0');
	v = v * 64 + (uint64_t)(unsigned char)u[12];
	return v + 1;
}

uint64_t
sg_keyset_code_trn(const char t[7])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 7; i++)
		v = v * 10 + (uint64_t)(t[i] - '0');
	return v + 1;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

uint64_t
sg_keyset_code_bytes(const struct sg_keyset *k, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k->sip[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ k->sip[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k->sip[0];
	uint64_t v3 = 0x7465646279746573ULL ^ k->sip[1];
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);	/* little-endian host (x86-64) */
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (m = 0; left > 0; left--)
		m |= (uint64_t)p[i + left - 1] << (8 * (left - 1));
	b |= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	b = v0 ^ v1 ^ v2 ^ v3;
	return b ? b : 1;
}
