/*
 * blind: the blind index of data subjects (see blind.h).
 */
#include "store/blind.h"

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
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/codec.h"

#define MAGIC		"SGB1"
#define HEAD_LEN	(4 + 16 + 8)	/* magic, key id, count (LE) */

struct sg_blind_set {
	unsigned char	(*h)[SG_BLIND_LEN];
	size_t		 n, cap;
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

void
sg_blind_hash(const struct sg_blind_key *k, enum sg_blind_kind kind,
    const char *norm, unsigned char out[SG_BLIND_LEN])
{
	static const char *const tag[] = { "upn:", "trn:", "uln:" };
	unsigned char msg[32], md[EVP_MAX_MD_SIZE];
	unsigned int l = 0;
	size_t t = strlen(tag[kind]), n = strlen(norm);

	if (t + n > sizeof(msg))
		n = sizeof(msg) - t;	/* normal forms are at most 13 */
	memcpy(msg, tag[kind], t);
	memcpy(msg + t, norm, n);
	HMAC(EVP_sha256(), k->k, (int)sizeof(k->k), msg, t + n, md, &l);
	memcpy(out, md, SG_BLIND_LEN);
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
}

struct sg_blind_set *
sg_blind_set_new(void)
{
	return calloc(1, sizeof(struct sg_blind_set));
}

int
sg_blind_set_add(struct sg_blind_set *s, const unsigned char h[SG_BLIND_LEN])
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		void *nv;

		if (cap > SIZE_MAX / SG_BLIND_LEN ||
		    (nv = realloc(s->h, cap * SG_BLIND_LEN)) == NULL)
			return -1;
		s->h = nv;
		s->cap = cap;
	}
	memcpy(s->h[s->n++], h, SG_BLIND_LEN);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return memcmp(a, b, SG_BLIND_LEN);
}

void
sg_blind_set_finish(struct sg_blind_set *s, unsigned char digest[32],
    uint64_t *distinct)
{
	size_t i, o = 0;
	unsigned int l = 0;

	if (s->n > 1)
		qsort(s->h, s->n, SG_BLIND_LEN, cmp);
	for (i = 0; i < s->n; i++)
		if (o == 0 || memcmp(s->h[o - 1], s->h[i], SG_BLIND_LEN) != 0)
			memmove(s->h[o++], s->h[i], SG_BLIND_LEN);
	s->n = o;
	EVP_Digest(s->h ? (const void *)s->h : (const void *)"", o *
	    SG_BLIND_LEN, digest, &l, EVP_sha256(), NULL);
	*distinct = o;
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
	free(s->h);
	free(s);
}

int
sg_blind_file_has(int dirfd, const char *id, const char keyid[SG_BLIND_KEYID],
    const unsigned char h[SG_BLIND_LEN], char err[SG_ERR_MAX])
{
	struct stat st;
	const unsigned char *p;
	uint64_t n = 0;
	int fd, i, found = 0;
	size_t lo, hi;
	void *m;

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
	if (memcmp(p + 4, keyid, 16) != 0) {
		char other[SG_BLIND_KEYID];

		for (i = 0; i < 16; i++)	/* a hex id, or a '?' */
			other[i] = strchr("0123456789abcdef", p[4 + i]) &&
			    p[4 + i] ? (char)p[4 + i] : '?';
		other[16] = '\0';
		munmap(m, (size_t)st.st_size);
		return sg_errf(err, "index/%s: made with another index key "
		    "(%s)", id, other);
	}
	lo = 0;
	hi = (size_t)n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(p + HEAD_LEN + mid * SG_BLIND_LEN, h,
		    SG_BLIND_LEN);

		if (c == 0) {
			found = 1;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	munmap(m, (size_t)st.st_size);
	return found;
}
