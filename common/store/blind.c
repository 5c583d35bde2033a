/*
 * blind: the blind index of data subjects (see blind.h).
 */
#include "store/blind.h"

#define OPENSSL_SUPPRESS_DEPRECATED	/* SHA256_Init: see hmac_pre */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct sg_blind_set {
	uint64_t	 *code;			/* as added */
	unsigned char	(*h)[SG_BLIND_LEN];	/* finished */
	size_t		  n, cap;
};

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
			if (!isalnum(c) || o == want)
				return -1;
			out[o++] = (char)toupper(c);
		} else if (isdigit(c)) {
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
	int i, last;

	if (sg_blind_normalise(kind, s, len, n, sizeof(n)) != 0)
		return 0;
	switch (kind) {
	case SG_BLIND_UPN:
		if (n[0] < 'A' || n[0] > 'Z')
			return 0;
		for (i = 1; i < 12; i++) {
			if (n[i] < '0' || n[i] > '9')
				return 0;
			v = v * 10 + (uint64_t)(n[i] - '0');
		}
		last = n[12] >= '0' && n[12] <= '9' ? n[12] - '0' :
		    n[12] - 'A' + 10;
		v = ((uint64_t)(n[0] - 'A') * E11 + v) * 36 + (uint64_t)last;
		return (UINT64_C(1) << 62) | v;
	case SG_BLIND_TRN:
	case SG_BLIND_ULN:
		for (i = 0; n[i] != '\0'; i++)
			v = v * 10 + (uint64_t)(n[i] - '0');
		return ((uint64_t)(kind + 1) << 62) | v;
	}
	return 0;
}

int
sg_blind_decode(uint64_t code, char out[16])
{
	uint64_t v = CODE_VAL(code);
	int i, last;

	switch (CODE_KIND(code)) {
	case 1:
		if (v >= 26 * E11 * 36)
			return -1;
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
		if (v >= (CODE_KIND(code) == 2 ? UINT64_C(10000000) :
		    UINT64_C(10000000000)))
			return -1;
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
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		void *nv;

		if (s->h != NULL || cap > SIZE_MAX / SG_BLIND_LEN ||
		    (nv = realloc(s->code, cap * sizeof(uint64_t))) == NULL)
			return -1;
		s->code = nv;
		s->cap = cap;
	}
	s->code[s->n++] = code;
	return 0;
}

size_t
sg_blind_set_count(const struct sg_blind_set *s)
{
	return s->n;
}

static int
cmp(const void *a, const void *b)
{
	return memcmp(a, b, SG_BLIND_LEN);
}

int
sg_blind_set_finish(struct sg_blind_set *s, const struct sg_blind_key *k,
    unsigned char digest[32], uint64_t *distinct)
{
	/* the hashes are uniform: a counting sort on the first two bytes,
	 * then each bucket (about n / 65536 hashes) sorted on its own */
	enum { B = 65536 };
	unsigned char (*h)[SG_BLIND_LEN] = NULL, (*o)[SG_BLIND_LEN] = NULL;
	size_t *at = NULL, i, n = 0, d = 0, b;
	struct hmac_pre p;
	char norm[16];
	unsigned int l = 0;
	int kind;

	if (s->h != NULL)
		return -1;	/* finished already */
	if (s->n > 0 && ((h = malloc(s->n * SG_BLIND_LEN)) == NULL ||
	    (at = calloc(B + 1, sizeof(*at))) == NULL)) {
		free(h);
		return -1;
	}
	hmac_pre(k, &p);
	for (i = 0; i < s->n; i++) {
		if ((kind = sg_blind_decode(s->code[i], norm)) < 0)
			continue;
		hmac_one(&p, (enum sg_blind_kind)kind, norm, h[n]);
		at[(size_t)h[n][0] << 8 | h[n][1]]++;
		n++;
	}
	OPENSSL_cleanse(&p, sizeof(p));
	OPENSSL_cleanse(norm, sizeof(norm));
	free(s->code);
	s->code = NULL;
	if (n > 0) {
		size_t sum = 0, c;

		if ((o = malloc(n * SG_BLIND_LEN)) == NULL) {
			free(h);
			free(at);
			s->n = s->cap = 0;
			return -1;
		}
		for (b = 0; b < B; b++) {
			c = at[b];
			at[b] = sum;
			sum += c;
		}
		at[B] = sum;
		for (i = 0; i < n; i++) {
			b = (size_t)h[i][0] << 8 | h[i][1];
			memcpy(o[at[b]++], h[i], SG_BLIND_LEN);
		}
		free(h);
		/* at[b] is now the end of bucket b */
		for (b = 0, i = 0; b < B; i = at[b++])
			if (at[b] - i > 1)
				qsort(o[i], at[b] - i, SG_BLIND_LEN, cmp);
		for (i = 0; i < n; i++)
			if (d == 0 || memcmp(o[d - 1], o[i], SG_BLIND_LEN) != 0)
				memmove(o[d++], o[i], SG_BLIND_LEN);
	}
	free(at);
	s->h = o;
	s->n = d;
	s->cap = 0;
	EVP_Digest(o ? (const void *)o : (const void *)"", d * SG_BLIND_LEN,
	    digest, &l, EVP_sha256(), NULL);
	*distinct = d;
	return 0;
}

int
sg_blind_set_write(const struct sg_blind_set *s, int dirfd, const char *id,
    const char keyid[SG_BLIND_KEYID], char err[SG_ERR_MAX])
{
	size_t len = HEAD_LEN + s->n * SG_BLIND_LEN;
	unsigned char *buf;
	uint64_t n = s->n;
	int i, rc;

	if (!sg_transfer_id_ok(id) || strlen(keyid) != 16)
		return sg_errf(err, "index: bad transfer or key id");
	if ((buf = malloc(len)) == NULL)
		return sg_errf(err, "index: out of memory");
	memcpy(buf, MAGIC, 4);
	memcpy(buf + 4, keyid, 16);
	for (i = 0; i < 8; i++)
		buf[20 + i] = (unsigned char)(n >> (8 * i));
	if (s->n)
		memcpy(buf + HEAD_LEN, s->h, s->n * SG_BLIND_LEN);
	rc = sg_durable_file(dirfd, id, buf, len, 0600, err);
	free(buf);
	return rc;
}

void
sg_blind_set_free(struct sg_blind_set *s)
{
	if (s == NULL)
		return;
	free(s->code);
	free(s->h);
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

uint64_t
sg_blind_files_distinct(const struct sg_blind_file *f, size_t n)
{
	/* a merge of the sorted files: the least head each time (n is the
	 * transfers of a window, a few dozen at most in practice) */
	size_t *at, i, best;
	uint64_t d = 0;
	unsigned char last[SG_BLIND_LEN];
	int have = 0;

	if (n == 0 || (at = calloc(n, sizeof(*at))) == NULL)
		return 0;
	for (;;) {
		best = n;
		for (i = 0; i < n; i++)
			if (at[i] < f[i].n && (best == n ||
			    memcmp(f[i].h + at[i] * SG_BLIND_LEN,
			    f[best].h + at[best] * SG_BLIND_LEN,
			    SG_BLIND_LEN) < 0))
				best = i;
		if (best == n)
			break;
		if (!have || memcmp(last, f[best].h + at[best] * SG_BLIND_LEN,
		    SG_BLIND_LEN) != 0) {
			memcpy(last, f[best].h + at[best] * SG_BLIND_LEN,
			    SG_BLIND_LEN);
			have = 1;
			d++;
		}
		at[best]++;
	}
	free(at);
	return d;
}
