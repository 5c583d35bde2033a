/* keyset: duplicate-key detection; see keyset.h. */
#include "check/keyset.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define IDX_BITS	26
#define FP_MASK		((1u << (32 - IDX_BITS)) - 1)
#define QUEUE		16		/* inserts in flight (power of 2) */
#define BIG		(2u << 20)	/* tables this large use mmap */

struct pending {
	uint64_t	 code;
	uint64_t	 hash;
	uint32_t	 idx;
};

struct sg_keyset {
	uint64_t	*codes;		/* codes[idx], 0: row has no key */
	size_t		 ncodes, capcodes;
	uint32_t	*slots;		/* (idx + 1) << 6 | fingerprint */
	size_t		 cap, used;
	uint64_t	 seed, sip[2];
	struct pending	 q[QUEUE];
	size_t		 qhead, qlen;
	sg_keyset_dup_fn dup;
	void		*dup_arg;
};

/* Zeroed slot table; large ones come straight from mmap, backed by huge
 * pages where the kernel allows (fewer TLB misses on random probes). */
static uint32_t *
table_alloc(size_t n)
{
	size_t bytes = n * sizeof(uint32_t);
	void *p;

	if (bytes < BIG)
		return calloc(n, sizeof(uint32_t));
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);	/* advice only */
	return p;
}

static void
table_free(uint32_t *t, size_t n)
{
	if (t == NULL)
		return;
	if (n * sizeof(uint32_t) < BIG)
		free(t);
	else
		munmap(t, n * sizeof(uint32_t));
}

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
sg_keyset_new(sg_keyset_dup_fn dup, void *arg)
{
	struct sg_keyset *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->dup = dup;
	k->dup_arg = arg;
	if (RAND_bytes((unsigned char *)&k->seed, sizeof(k->seed)) != 1 ||
	    RAND_bytes((unsigned char *)k->sip, sizeof(k->sip)) != 1) {
		free(k);
		return NULL;
	}
	k->cap = 1024;
	if ((k->slots = table_alloc(k->cap)) == NULL) {
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
	table_free(k->slots, k->cap);
	free(k);
}

size_t
sg_keyset_bytes(const struct sg_keyset *k)
{
	return k->capcodes * sizeof(*k->codes) + k->cap * sizeof(*k->slots);
}

/* Insert idx into the slot table; 1 and *first on a duplicate. */
static int
place(struct sg_keyset *k, uint64_t code, uint64_t h, uint32_t idx,
    uint32_t *first)
{
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
	size_t i, n, ahead = 8;

	if ((k->slots = table_alloc(k->cap * 2)) == NULL) {
		k->slots = old;
		return -1;
	}
	table_free(old, k->cap);
	k->cap *= 2;
	k->used = 0;
	/* Rebuild from the codes in row order, so the earliest row stays the
	 * one a later duplicate is reported against. Rows still queued are
	 * left to the queue. */
	n = k->qlen ? k->q[k->qhead].idx : k->ncodes;
	for (i = 0; i < n; i++) {
		if (i + ahead < n && k->codes[i + ahead] != 0)
			__builtin_prefetch(&k->slots[mix(k->codes[i + ahead] ^
			    k->seed) & (k->cap - 1)], 1);
		if (k->codes[i] != 0)
			place(k, k->codes[i], mix(k->codes[i] ^ k->seed),
			    (uint32_t)i, &dummy);
	}
	return 0;
}

/* Insert the oldest queued key. */
static int
drain_one(struct sg_keyset *k)
{
	struct pending *p = &k->q[k->qhead];
	uint32_t first;

	if ((k->used + 1) * 4 > k->cap * 3 && grow(k) != 0)
		return -1;
	k->qhead = (k->qhead + 1) % QUEUE;
	k->qlen--;
	if (place(k, p->code, p->hash, p->idx, &first) == 1 && k->dup != NULL)
		k->dup(k->dup_arg, p->idx, first);
	return 0;
}

int
sg_keyset_add(struct sg_keyset *k, uint64_t code, uint32_t idx)
{
	struct pending *p;

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
	k->codes[k->ncodes++] = code;
	if (k->qlen == QUEUE && drain_one(k) != 0)
		return -1;
	p = &k->q[(k->qhead + k->qlen) % QUEUE];
	p->code = code;
	p->idx = idx;
	p->hash = mix(code ^ k->seed);
	__builtin_prefetch(&k->slots[p->hash & (k->cap - 1)], 1);
	k->qlen++;
	return 0;
}

int
sg_keyset_flush(struct sg_keyset *k)
{
	while (k->qlen > 0)
		if (drain_one(k) != 0)
			return -1;
	return 0;
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
