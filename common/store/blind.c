/*
 * blind: the blind index of data subjects (see blind.h).
 */
#include "store/blind.h"

#define OPENSSL_SUPPRESS_DEPRECATED	/* SHA256_Init: see hmac_pre */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/codec.h"

#define MAGIC		"SGB1"
#define HEAD_LEN	(4 + 16 + 8)	/* magic, key id, count (LE) */

/*
 * Memory. Page faults are dear on the machines we run on (about 12 µs a
 * page on the development VM: more than hashing the 512 codes a page
 * holds), so the large arrays are mapped with their pages populated in
 * one call: the codes in chunks of CHUNK (the first one, for the many
 * small files, grown with realloc), the hashes and the index file's
 * bytes in one mapping each.
 */
#define CHUNK_BITS	17
#define CHUNK		((size_t)1 << CHUNK_BITS)	/* codes: 1 MiB */
#define BIG		((size_t)1 << 20)

struct sg_blind_set {
	uint64_t	**chunk;		/* codes, as added */
	size_t		  nchunk, cap0;		/* cap0: chunk 0's */
	unsigned char	 *buf;			/* finished: the index file */
	size_t		  buflen;
	unsigned char	(*h)[SG_BLIND_LEN];	/* in it, after its header */
	size_t		  n;
};

static void *
big_alloc(size_t len)
{
	void *p;

	if (len < BIG)
		return malloc(len ? len : 1);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void
big_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	if (len < BIG)
		free(p);
	else
		munmap(p, len);
}

static inline uint64_t
code_at(const struct sg_blind_set *s, size_t j)
{
	return s->chunk[j >> CHUNK_BITS][j & (CHUNK - 1)];
}

static void
codes_free(struct sg_blind_set *s)
{
	size_t i;

	for (i = 0; i < s->nchunk; i++)
		if (i == 0) {
			/* identifiers, in their exact codes */
			OPENSSL_cleanse(s->chunk[0], s->cap0 * sizeof(uint64_t));
			free(s->chunk[0]);
		}
		else
			big_free(s->chunk[i], CHUNK * sizeof(uint64_t));
	free(s->chunk);
	s->chunk = NULL;
	s->nchunk = s->cap0 = 0;
}

static void
key_id(struct sg_blind_key *k)
{
	unsigned char md[32];
	unsigned int l = 0;

	EVP_Digest(k->k, sizeof(k->k), md, &l, EVP_sha256(), NULL);
	sg_hex(md, 8, k->id);	/* 16 hex digits and a NUL */
}

int
sg_blind_key_new(const char *path, char err[SG_ERR_MAX])
{
	unsigned char k[32];
	int fd, rc;

	if (RAND_bytes(k, sizeof(k)) != 1)
		return sg_errf(err, "no randomness for the index key");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0) {
		OPENSSL_cleanse(k, sizeof(k));
		return sg_errf(err, "%s: %s", path, strerror(errno));
	}
	rc = sg_write_full(fd, k, sizeof(k)) != 0 || fsync(fd) != 0;
	OPENSSL_cleanse(k, sizeof(k));
	if (close(fd) != 0 || rc) {
		unlink(path);
		return sg_errf(err, "%s: could not be written", path);
	}
	return 0;
}

int
sg_blind_key_load(const char *path, struct sg_blind_key *k,
    char err[SG_ERR_MAX])
{
	struct stat st;
	ssize_t n;
	int fd;

	memset(k, 0, sizeof(*k));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return sg_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0 || st.st_size != (off_t)sizeof(k->k)) {
		close(fd);
		return sg_errf(err, "%s: the index key must be a file of %zu "
		    "bytes that only its owner can read (chmod 600)", path,
		    sizeof(k->k));
	}
	n = read(fd, k->k, sizeof(k->k));
	close(fd);
	if (n != (ssize_t)sizeof(k->k)) {
		sg_blind_key_wipe(k);
		return sg_errf(err, "%s: could not be read", path);
	}
	key_id(k);
	return 0;
}

void
sg_blind_key_wipe(struct sg_blind_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int
sg_blind_normalise(enum sg_blind_kind kind, const char *s, size_t len,
    char *out, size_t cap)
{
	size_t i, o = 0, want = kind == SG_BLIND_UPN ? 13 :
	    kind == SG_BLIND_TRN ? 7 : 10;

	if (cap <= want)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (kind == SG_BLIND_UPN) {
			/* ASCII, not the locale's classes: this runs for
			 * every row on the checking thread */
			if (c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 'a' + 'A');
			if (!((c >= 'A' && c <= 'Z') || (c >= '0' &&
			    c <= '9')) || o == want)
				return -1;
			out[o++] = (char)c;
		} else if (c >= '0' && c <= '9') {
			if (o == want)
				return -1;
			out[o++] = (char)c;
		} else if (kind == SG_BLIND_TRN && (c == ' ' || c == '/' ||
		    ((c == 'R' || c == 'P' || c == 'r' || c == 'p') && o == 0)))
			continue;	/* "RP 99/12345" is 9912345 */
		else
			return -1;
	}
	if (o != want)
		return -1;
	out[o] = '\0';
	return 0;
}

/*
 * The keyed hash. HMAC's inner and outer states are computed once per
 * key and copied for each identifier: two SHA-256 blocks a row. The
 * one-shot HMAC() redoes the key schedule every call (about 1.3 µs a
 * row on the development machine) and EVP_MAC's re-initialisation
 * costs 310 ns; the low-level SHA-256 interface (deprecated in OpenSSL
 * 3, still provided and still using SHA-NI) costs 120 ns, which is what
 * keeps the index within the census upload's budget.
 */
struct hmac_pre {
	SHA256_CTX	ip, op;
};

static void
hmac_pre(const struct sg_blind_key *k, struct hmac_pre *p)
{
	unsigned char pad[64];
	size_t i;

	memset(pad, 0x36, sizeof(pad));
	for (i = 0; i < sizeof(k->k); i++)
		pad[i] ^= k->k[i];
	SHA256_Init(&p->ip);
	SHA256_Update(&p->ip, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (i = 0; i < sizeof(k->k); i++)
		pad[i] ^= k->k[i];
	SHA256_Init(&p->op);
	SHA256_Update(&p->op, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

static const char *const tag[] = { "upn:", "trn:", "uln:" };

static void
hmac_one(const struct hmac_pre *p, enum sg_blind_kind kind, const char *norm,
    unsigned char out[SG_BLIND_LEN])
{
	unsigned char md[32];
	SHA256_CTX c;

	c = p->ip;
	SHA256_Update(&c, tag[kind], 4);
	SHA256_Update(&c, norm, strlen(norm));
	SHA256_Final(md, &c);
	c = p->op;
	SHA256_Update(&c, md, sizeof(md));
	SHA256_Final(md, &c);
	memcpy(out, md, SG_BLIND_LEN);
	OPENSSL_cleanse(&c, sizeof(c));
}

void
sg_blind_hash(const struct sg_blind_key *k, enum sg_blind_kind kind,
    const char *norm, unsigned char out[SG_BLIND_LEN])
{
	struct hmac_pre p;

	hmac_pre(k, &p);
	hmac_one(&p, kind, norm, out);
	OPENSSL_cleanse(&p, sizeof(p));
}

/*
 * Codes: the kind in the top two bits (1 UPN, 2 TRN, 3 ULN), the normal
 * form below. A UPN is a letter, eleven digits and a digit or letter:
 * (letter * 10^11 + digits) * 36 + last, under 2^47.
 */
#define CODE_KIND(c)	((unsigned)((c) >> 62))
#define CODE_VAL(c)	((c) & ((UINT64_C(1) << 62) - 1))
#define E11		UINT64_C(100000000000)

uint64_t
sg_blind_code(enum sg_blind_kind kind, const char *s, size_t len)
{
	char n[16];
	uint64_t v = 0;
	unsigned c;
	int i;

	/* the usual case first, in one pass (this runs for every row on
	 * the checking thread): a UPN of 13 characters, a letter, eleven
	 * digits, a digit or letter, in either case */
	if (kind == SG_BLIND_UPN && len == 13) {
		c = (unsigned char)s[0] & ~0x20u;
		if (c < 'A' || c > 'Z')
			return 0;
		for (i = 1; i < 12; i++) {
			if ((unsigned)(s[i] - '0') > 9)
				return 0;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		if ((unsigned)(s[12] - '0') <= 9)
			i = s[12] - '0';
		else if (((unsigned char)s[12] & ~0x20u) - 'A' < 26)
			i = (int)(((unsigned char)s[12] & ~0x20u) - 'A') + 10;
		else
			return 0;
		return (UINT64_C(1) << 62) | (((uint64_t)(c - 'A') * E11 + v) *
		    36 + (uint64_t)i);
	}
	if (sg_blind_normalise(kind, s, len, n, sizeof(n)) != 0)
		return 0;
	switch (kind) {
	case SG_BLIND_UPN:
		return 0;	/* a UPN is 13 characters: above */
	case SG_BLIND_TRN:
	case SG_BLIND_ULN:
		for (i = 0; n[i] != '\0'; i++)
			v = v * 10 + (uint64_t)(n[i] - '0');
		return ((uint64_t)(kind + 1) << 62) | v;
	}
	return 0;
}

/* Whether a code decodes (the set takes no other). */
static inline int
code_ok(uint64_t code)
{
	uint64_t v = CODE_VAL(code);

	switch (CODE_KIND(code)) {
	case 1: return v < 26 * E11 * 36;
	case 2: return v < UINT64_C(10000000);
	case 3: return v < UINT64_C(10000000000);
	}
	return 0;
}

int
sg_blind_decode(uint64_t code, char out[16])
{
	uint64_t v = CODE_VAL(code);
	int i, last;

	if (!code_ok(code))
		return -1;
	switch (CODE_KIND(code)) {
	case 1:
		last = (int)(v % 36);
		v /= 36;
		out[12] = (char)(last < 10 ? '0' + last : 'A' + last - 10);
		for (i = 11; i >= 1; i--, v /= 10)
			out[i] = (char)('0' + v % 10);
		out[0] = (char)('A' + v);
		out[13] = '\0';
		return SG_BLIND_UPN;
	case 2:
	case 3:
		for (i = CODE_KIND(code) == 2 ? 6 : 9; i >= 0; i--, v /= 10)
			out[i] = (char)('0' + v % 10);
		out[CODE_KIND(code) == 2 ? 7 : 10] = '\0';
		return CODE_KIND(code) == 2 ? SG_BLIND_TRN : SG_BLIND_ULN;
	}
	return -1;
}

struct sg_blind_set *
sg_blind_set_new(void)
{
	return calloc(1, sizeof(struct sg_blind_set));
}

int
sg_blind_set_add(struct sg_blind_set *s, uint64_t code)
{
	size_t i = s->n & (CHUNK - 1);
	void *nv;

	if (!code_ok(code))
		return 0;	/* not an identifier: nothing to index */
	if (s->buf != NULL)
		return -1;
	if (s->nchunk == 0 || (s->nchunk == 1 && i == s->cap0 && i != 0)) {
		/* chunk 0 grows to CHUNK codes */
		size_t cap = s->cap0 ? s->cap0 * 2 : 1024;

		if (s->nchunk == 0 && (s->chunk = calloc(1,
		    sizeof(*s->chunk))) == NULL)
			return -1;
		if ((nv = realloc(s->chunk[0], cap * sizeof(uint64_t))) ==
		    NULL)
			return -1;
		s->chunk[0] = nv;
		s->nchunk = 1;
		s->cap0 = cap;
	} else if (i == 0 && s->n > 0) {
		/* a full chunk: the next, mapped */
		if ((nv = realloc(s->chunk, (s->nchunk + 1) *
		    sizeof(*s->chunk))) == NULL)
			return -1;
		s->chunk = nv;
		if ((s->chunk[s->nchunk] = big_alloc(CHUNK *
		    sizeof(uint64_t))) == NULL)
			return -1;
		s->nchunk++;
	}
	s->chunk[s->nchunk - 1][i] = code;
	s->n++;
	return 0;
}

size_t
sg_blind_set_count(const struct sg_blind_set *s)
{
	return s->n;
}

size_t
sg_blind_set_span(const struct sg_blind_set *s, size_t i, const uint64_t **p)
{
	size_t off = i & (CHUNK - 1), n;

	if (s->buf != NULL || i >= s->n)
		return 0;
	n = s->n - i;
	if (n > CHUNK - off)
		n = CHUNK - off;
	*p = s->chunk[i >> CHUNK_BITS] + off;
	return n;
}

/*
 * Finishing a set: hash, sort, drop repeats. The hashes are uniform, so
 * a counting sort on their first `bits` bits (about 8 hashes a bucket)
 * leaves buckets small enough for insertion sort. Two threads share the
 * work: each hashes and counts half the codes, scatters its half, and
 * sorts half the buckets; then one pass drops repeats and makes the
 * digest. About 32 bytes a row while it runs (the hashes, and the
 * sorted copy with the index file's header in front of it).
 */
struct fin {
	const struct sg_blind_set	*s;
	const struct hmac_pre		*p;
	unsigned char			(*h)[SG_BLIND_LEN];	/* by code */
	unsigned char			(*o)[SG_BLIND_LEN];	/* sorted */
	uint32_t			*cnt[2];	/* per half, per bucket */
	size_t				 nb, lo[3];	/* buckets, halves */
	int				 bits;
};

static inline size_t
bucket(const unsigned char *h, int bits)
{
	return ((size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 |
	    h[3]) >> (32 - bits);
}

static inline uint64_t
be64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

static inline int
less(const unsigned char *a, const unsigned char *b)
{
	uint64_t x = be64(a), y = be64(b);

	return x < y || (x == y && be64(a + 8) < be64(b + 8));
}

/* half i: hash and count its codes (a code that does not decode, which
 * the checker never adds, is hashed as nothing and dropped later) */
static void
fin_hash(struct fin *f, int i)
{
	char norm[16];
	size_t j;
	int kind;

	for (j = f->lo[i]; j < f->lo[i + 1]; j++) {
		if ((kind = sg_blind_decode(code_at(f->s, j), norm)) < 0)
			continue;	/* not added: see code_ok */
		hmac_one(f->p, (enum sg_blind_kind)kind, norm, f->h[j]);
		f->cnt[i][bucket(f->h[j], f->bits)]++;
	}
	OPENSSL_cleanse(norm, sizeof(norm));
}

/* half i: scatter (cnt[i] holds its start in each bucket) */
static void
fin_scatter(struct fin *f, int i)
{
	size_t j;

	for (j = f->lo[i]; j < f->lo[i + 1]; j++)
		if (code_ok(code_at(f->s, j)))
			memcpy(f->o[f->cnt[i][bucket(f->h[j], f->bits)]++],
			    f->h[j], SG_BLIND_LEN);
}

/* buckets [b0, b1): cnt[1][b] is now the end of bucket b, and bucket b
 * starts where b - 1 ends */
static void
fin_sort(struct fin *f, size_t b0, size_t b1)
{
	unsigned char t[SG_BLIND_LEN];
	size_t b, i, j, start;

	for (b = b0; b < b1; b++) {
		start = b ? f->cnt[1][b - 1] : 0;
		for (i = start + 1; i < f->cnt[1][b]; i++) {
			if (!less(f->o[i], f->o[i - 1]))
				continue;
			memcpy(t, f->o[i], SG_BLIND_LEN);
			for (j = i; j > start && less(t, f->o[j - 1]); j--)
				memcpy(f->o[j], f->o[j - 1], SG_BLIND_LEN);
			memcpy(f->o[j], t, SG_BLIND_LEN);
		}
	}
}

struct fin_job {
	struct fin	*f;
	int		 step;
};

static void *
fin_step(void *arg)
{
	struct fin_job *j = arg;

	if (j->step == 0)
		fin_hash(j->f, 1);
	else if (j->step == 1)
		fin_scatter(j->f, 1);
	else
		fin_sort(j->f, j->f->nb / 2, j->f->nb);
	return NULL;
}

/* step on the second thread while the caller does its own half; run in
 * turn when no thread can be had */
static void
fin_both(struct fin *f, int step)
{
	struct fin_job j = { f, step };
	pthread_t th;
	int threaded = f->lo[2] > 65536 &&
	    pthread_create(&th, NULL, fin_step, &j) == 0;

	if (step == 0)
		fin_hash(f, 0);
	else if (step == 1)
		fin_scatter(f, 0);
	else
		fin_sort(f, 0, f->nb / 2);
	if (threaded)
		pthread_join(th, NULL);
	else
		fin_step(&j);
}

int
sg_blind_set_finish(struct sg_blind_set *s, const struct sg_blind_key *k,
    unsigned char digest[32], uint64_t *distinct)
{
	struct fin f;
	struct hmac_pre p;
	size_t b, i, d = 0, sum = 0, c, hlen = 0;
	unsigned int l = 0;
	int rc = -1;

	if (s->buf != NULL || s->n >= UINT32_MAX ||
	    s->n > (SIZE_MAX - HEAD_LEN) / SG_BLIND_LEN)
		return -1;	/* finished already, or too many for the counts
				   or the sizes */
	memset(&f, 0, sizeof(f));
	f.s = s;
	f.p = &p;
	for (f.bits = 8; f.bits < 24 && ((size_t)32 << f.bits) < s->n; f.bits++)
		;
	f.nb = (size_t)1 << f.bits;
	f.lo[0] = 0;
	f.lo[1] = s->n / 2;
	f.lo[2] = s->n;
	s->buflen = HEAD_LEN + s->n * SG_BLIND_LEN;
	hlen = s->n * SG_BLIND_LEN;
	if ((f.h = big_alloc(hlen)) == NULL ||
	    (s->buf = big_alloc(s->buflen)) == NULL ||
	    (f.cnt[0] = calloc(f.nb, sizeof(uint32_t))) == NULL ||
	    (f.cnt[1] = calloc(f.nb, sizeof(uint32_t))) == NULL)
		goto out;
	f.o = (unsigned char (*)[SG_BLIND_LEN])(s->buf + HEAD_LEN);
	hmac_pre(k, &p);
	fin_both(&f, 0);
	OPENSSL_cleanse(&p, sizeof(p));
	/* each half's start in each bucket: half 0's part, then half 1's */
	for (b = 0; b < f.nb; b++) {
		c = f.cnt[0][b];
		f.cnt[0][b] = (uint32_t)sum;
		sum += c;
		c = f.cnt[1][b];
		f.cnt[1][b] = (uint32_t)sum;
		sum += c;
	}
	fin_both(&f, 1);
	/* now cnt[1][b] is the end of bucket b */
	fin_both(&f, 2);
	for (i = 0; i < sum; i++)
		if (d == 0 || memcmp(f.o[d - 1], f.o[i], SG_BLIND_LEN) != 0)
			memmove(f.o[d++], f.o[i], SG_BLIND_LEN);
	codes_free(s);
	s->h = f.o;
	s->n = d;
	EVP_Digest(d ? (const void *)f.o : (const void *)"", d * SG_BLIND_LEN,
	    digest, &l, EVP_sha256(), NULL);
	*distinct = d;
	rc = 0;
out:
	if (rc != 0) {
		big_free(s->buf, s->buflen);
		s->buf = NULL;
	}
	big_free(f.h, hlen);
	free(f.cnt[0]);
	free(f.cnt[1]);
	return rc;
}

int
sg_blind_set_write(const struct sg_blind_set *s, int dirfd, const char *id,
    const char keyid[SG_BLIND_KEYID], char err[SG_ERR_MAX])
{
	uint64_t n = s->n;
	int i;

	if (!sg_transfer_id_ok(id) || strlen(keyid) != 16)
		return sg_errf(err, "index: bad transfer or key id");
	if (s->buf == NULL)
		return sg_errf(err, "index: the set is not finished");
	/* the header goes in front of the sorted hashes, in place */
	memcpy(s->buf, MAGIC, 4);
	memcpy(s->buf + 4, keyid, 16);
	for (i = 0; i < 8; i++)
		s->buf[20 + i] = (unsigned char)(n >> (8 * i));
	return sg_durable_file(dirfd, id, s->buf, HEAD_LEN + s->n *
	    SG_BLIND_LEN, 0600, err);
}

void
sg_blind_set_free(struct sg_blind_set *s)
{
	if (s == NULL)
		return;
	codes_free(s);
	big_free(s->buf, s->buflen);
	free(s);
}

int
sg_blind_file_open(int dirfd, const char *id, struct sg_blind_file *f,
    char err[SG_ERR_MAX])
{
	struct stat st;
	const unsigned char *p;
	uint64_t n = 0;
	int fd, i;
	void *m;

	memset(f, 0, sizeof(*f));
	if (!sg_transfer_id_ok(id))
		return sg_errf(err, "index: bad transfer id");
	if ((fd = openat(dirfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return sg_errf(err, "index/%s: %s", id, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < HEAD_LEN) {
		close(fd);
		return sg_errf(err, "index/%s: not an index file", id);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return sg_errf(err, "index/%s: %s", id, strerror(errno));
	p = m;
	for (i = 7; i >= 0; i--)
		n = n << 8 | p[20 + i];
	if (memcmp(p, MAGIC, 4) != 0 || n > ((uint64_t)st.st_size -
	    HEAD_LEN) / SG_BLIND_LEN || (uint64_t)st.st_size != HEAD_LEN +
	    n * SG_BLIND_LEN) {
		munmap(m, (size_t)st.st_size);
		return sg_errf(err, "index/%s: not an index file", id);
	}
	for (i = 0; i < 16; i++)	/* a hex id, or a '?' */
		f->keyid[i] = p[4 + i] && strchr("0123456789abcdef",
		    p[4 + i]) ? (char)p[4 + i] : '?';
	f->keyid[16] = '\0';
	f->h = p + HEAD_LEN;
	f->n = n;
	f->map = m;
	f->maplen = (size_t)st.st_size;
	return 0;
}

void
sg_blind_file_digest(const struct sg_blind_file *f, unsigned char digest[32])
{
	unsigned int l = 0;

	EVP_Digest(f->n ? (const void *)f->h : (const void *)"", f->n *
	    SG_BLIND_LEN, digest, &l, EVP_sha256(), NULL);
}

int
sg_blind_file_find(const struct sg_blind_file *f,
    const unsigned char h[SG_BLIND_LEN])
{
	size_t lo = 0, hi = (size_t)f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(f->h + mid * SG_BLIND_LEN, h, SG_BLIND_LEN);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void
sg_blind_file_close(struct sg_blind_file *f)
{
	if (f->map != NULL)
		munmap(f->map, f->maplen);
	memset(f, 0, sizeof(*f));
}

int
sg_blind_file_has(int dirfd, const char *id, const char keyid[SG_BLIND_KEYID],
    const unsigned char h[SG_BLIND_LEN], char err[SG_ERR_MAX])
{
	struct sg_blind_file f;
	int found;

	if (sg_blind_file_open(dirfd, id, &f, err) != 0)
		return -1;
	if (strcmp(f.keyid, keyid) != 0) {
		sg_errf(err, "index/%s: made with another index key (%s)", id,
		    f.keyid);
		sg_blind_file_close(&f);
		return -1;
	}
	found = sg_blind_file_find(&f, h);
	sg_blind_file_close(&f);
	return found;
}

/* a min-heap of the files' heads, by hash */
static int
head_less(const struct sg_blind_file *f, const size_t *at, size_t a, size_t b)
{
	return memcmp(f[a].h + at[a] * SG_BLIND_LEN, f[b].h + at[b] *
	    SG_BLIND_LEN, SG_BLIND_LEN) < 0;
}

static void
sift_down(const struct sg_blind_file *f, const size_t *at, size_t *heap,
    size_t n, size_t i)
{
	size_t c, t;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && head_less(f, at, heap[c + 1], heap[c]))
			c++;
		if (!head_less(f, at, heap[c], heap[i]))
			break;
		t = heap[c];
		heap[c] = heap[i];
		heap[i] = t;
		i = c;
	}
}

uint64_t
sg_blind_files_distinct(const struct sg_blind_file *f, size_t n)
{
	/* a k-way merge of the sorted files: O(hashes x log files) */
	size_t *at, *heap, nh = 0, i, top;
	unsigned char last[SG_BLIND_LEN];
	uint64_t d = 0;
	int have = 0;

	if (n == 0)
		return 0;
	at = calloc(n, sizeof(*at));
	heap = calloc(n, sizeof(*heap));
	if (at == NULL || heap == NULL) {
		free(at);
		free(heap);
		return UINT64_MAX;	/* unknown: never a count */
	}
	for (i = 0; i < n; i++)
		if (f[i].n > 0)
			heap[nh++] = i;
	for (i = nh; i-- > 0; )
		sift_down(f, at, heap, nh, i);
	while (nh > 0) {
		top = heap[0];
		if (!have || memcmp(last, f[top].h + at[top] * SG_BLIND_LEN,
		    SG_BLIND_LEN) != 0) {
			memcpy(last, f[top].h + at[top] * SG_BLIND_LEN,
			    SG_BLIND_LEN);
			have = 1;
			d++;
		}
		if (++at[top] == f[top].n)
			heap[0] = heap[--nh];
		sift_down(f, at, heap, nh, 0);
	}
	free(at);
	free(heap);
	return d;
}
