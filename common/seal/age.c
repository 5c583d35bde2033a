/* age: age-encryption.org/v1 with OpenSSL (see age.h). */
#include "seal/age.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "base/codec.h"

#define VERSION_LINE	"age-encryption.org/v1"
#define X25519_INFO	"age-encryption.org/v1/X25519"
#define ARMOR_BEGIN	"-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END	"-----END AGE ENCRYPTED FILE-----"
#define FILE_KEY	16
#define MAX_LINE	1024	/* a header line; stanza bodies are 64 */
#define MAX_ARGS	8
#define MAX_BODY	1024
#define MAX_SPACE	1024	/* whitespace around an armored file */

const char *
sg_age_status_name(int s)
{
	switch (s) {
	case SG_AGE_OK:		return "success";
	case SG_AGE_ARMOR:	return "armor failure";
	case SG_AGE_HEADER:	return "header failure";
	case SG_AGE_NO_MATCH:	return "no match";
	case SG_AGE_HMAC:	return "HMAC failure";
	case SG_AGE_PAYLOAD:	return "payload failure";
	case SG_AGE_IO:		return "read or write failure";
	case SG_AGE_NOMEM:	return "out of memory";
	}
	return "failure";
}

#define FAIL(code, msg)	do { if (why) *why = (msg); return (code); } while (0)

/* --- primitives ------------------------------------------------------ */

static int
hkdf(const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
    const char *info, unsigned char *out, size_t outlen)
{
	EVP_PKEY_CTX *c;
	int ok;

	if ((c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_derive_init(c) > 0 &&
	    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	    (saltlen == 0 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(c, salt, (int)saltlen) > 0) &&
	    EVP_PKEY_CTX_set1_hkdf_key(c, ikm, (int)ikmlen) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)info,
	    (int)strlen(info)) > 0 &&
	    EVP_PKEY_derive(c, out, &outlen) > 0;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

static int
x25519_public(const unsigned char sk[32], unsigned char pk[32])
{
	EVP_PKEY *k;
	size_t n = 32;
	int ok;

	if ((k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk,
	    32)) == NULL)
		return -1;
	ok = EVP_PKEY_get_raw_public_key(k, pk, &n) > 0 && n == 32;
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

/* Returns 0, or -1 (including when the shared secret is all zeros, i.e.
 * the peer sent a low-order point). */
static int
x25519(const unsigned char sk[32], const unsigned char pk[32],
    unsigned char out[32])
{
	static const unsigned char zero[32];
	EVP_PKEY *a = NULL, *b = NULL;
	EVP_PKEY_CTX *c = NULL;
	size_t n = 32;
	int ok = 0;

	if ((a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk,
	    32)) != NULL &&
	    (b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk,
	    32)) != NULL &&
	    (c = EVP_PKEY_CTX_new(a, NULL)) != NULL)
		ok = EVP_PKEY_derive_init(c) > 0 &&
		    EVP_PKEY_derive_set_peer(c, b) > 0 &&
		    EVP_PKEY_derive(c, out, &n) > 0 && n == 32 &&
		    CRYPTO_memcmp(out, zero, 32) != 0;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(b);
	EVP_PKEY_free(a);
	return ok ? 0 : -1;
}

/* One ChaCha20-Poly1305 operation with a context whose key is set. */
static int
aead_seal(EVP_CIPHER_CTX *c, const unsigned char nonce[12],
    const unsigned char *in, size_t n, unsigned char *out)
{
	int l1 = 0, l2 = 0;

	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) <= 0 ||
	    EVP_EncryptUpdate(c, out, &l1, in, (int)n) <= 0 ||
	    EVP_EncryptFinal_ex(c, out + l1, &l2) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SG_AGE_TAG,
	    out + n) <= 0)
		return -1;
	return 0;
}

static int
aead_open(EVP_CIPHER_CTX *c, const unsigned char nonce[12],
    const unsigned char *in, size_t n, unsigned char *out)
{
	int l1 = 0, l2 = 0;

	if (n < SG_AGE_TAG)
		return -1;
	n -= SG_AGE_TAG;
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SG_AGE_TAG,
	    (void *)(in + n)) <= 0 ||
	    EVP_DecryptUpdate(c, out, &l1, in, (int)n) <= 0 ||
	    EVP_DecryptFinal_ex(c, out + l1, &l2) <= 0)
		return -1;
	return 0;
}

static EVP_CIPHER_CTX *
aead_new(const unsigned char key[32], int enc)
{
	EVP_CIPHER_CTX *c;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, NULL,
	    enc) <= 0) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

/* One-shot with a fresh key (stanza bodies, zero nonce). */
static int
aead_once(const unsigned char key[32], int enc, const unsigned char *in,
    size_t n, unsigned char *out)
{
	static const unsigned char zero[12];
	EVP_CIPHER_CTX *c;
	int rc;

	if ((c = aead_new(key, enc)) == NULL)
		return -1;
	rc = enc ? aead_seal(c, zero, in, n, out) :
	    aead_open(c, zero, in, n, out);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static void
chunk_nonce(unsigned char nonce[12], uint64_t i, int last)
{
	int k;

	memset(nonce, 0, 12);
	for (k = 0; k < 8; k++)
		nonce[10 - k] = (unsigned char)(i >> (8 * k));
	nonce[11] = last ? 1 : 0;
}

static int
header_mac(const unsigned char fk[FILE_KEY], const void *hdr, size_t n,
    unsigned char mac[32])
{
	unsigned char k[32];
	unsigned int ml = 32;
	int ok;

	if (hkdf(fk, FILE_KEY, NULL, 0, "header", k, 32) != 0)
		return -1;
	ok = HMAC(EVP_sha256(), k, 32, hdr, n, mac, &ml) != NULL && ml == 32;
	OPENSSL_cleanse(k, sizeof(k));
	return ok ? 0 : -1;
}

static int
payload_key(const unsigned char fk[FILE_KEY],
    const unsigned char nonce[SG_AGE_NONCE], unsigned char k[32])
{
	return hkdf(fk, FILE_KEY, nonce, SG_AGE_NONCE, "payload", k, 32);
}

/* --- keys ------------------------------------------------------------ */

int
sg_age_identity_generate(struct sg_age_identity *id)
{
	if (RAND_priv_bytes(id->sk, 32) != 1)
		return -1;
	return x25519_public(id->sk, id->pk);
}

int
sg_age_identity_parse(const char *s, struct sg_age_identity *id)
{
	char hrp[32];

	if (strncmp(s, "AGE-SECRET-KEY-1", 16) != 0 ||
	    sg_bech32_decode(s, hrp, sizeof(hrp), id->sk, 32) != 32 ||
	    strcmp(hrp, "age-secret-key-") != 0 ||
	    x25519_public(id->sk, id->pk) != 0) {
		OPENSSL_cleanse(id, sizeof(*id));
		return -1;
	}
	return 0;
}

void
sg_age_identity_format(const struct sg_age_identity *id,
    char out[SG_AGE_IDENTITY_LEN])
{
	size_t i;

	(void)sg_bech32_encode("age-secret-key-", id->sk, 32, out,
	    SG_AGE_IDENTITY_LEN);
	for (i = 0; out[i]; i++)
		if (out[i] >= 'a' && out[i] <= 'z')
			out[i] = (char)(out[i] - 'a' + 'A');
}

int
sg_age_recipient_parse(const char *s, unsigned char pk[32])
{
	char hrp[8];

	if (strncmp(s, "age1", 4) != 0 ||
	    sg_bech32_decode(s, hrp, sizeof(hrp), pk, 32) != 32 ||
	    strcmp(hrp, "age") != 0)
		return -1;
	return 0;
}

void
sg_age_recipient_format(const unsigned char pk[32],
    char out[SG_AGE_RECIPIENT_LEN])
{
	(void)sg_bech32_encode("age", pk, 32, out, SG_AGE_RECIPIENT_LEN);
}

/* --- header writing --------------------------------------------------- */

struct buf {
	unsigned char	*p;
	size_t		 len, cap;
};

static int
buf_add(struct buf *b, const void *p, size_t n)
{
	unsigned char *np;
	size_t nc;

	if (b->len + n > SG_AGE_MAX_HEADER)
		return -1;
	if (b->len + n > b->cap) {
		nc = b->cap ? b->cap * 2 : 1024;
		while (nc < b->len + n)
			nc *= 2;
		if ((np = realloc(b->p, nc)) == NULL)
			return -1;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* "-> X25519 <share>\n<body>\n" wrapping fk to pk. */
static int
add_x25519_stanza(struct buf *b, const unsigned char fk[FILE_KEY],
    const unsigned char pk[32])
{
	unsigned char esk[32], share[32], shared[32], salt[64], wk[32];
	unsigned char body[FILE_KEY + SG_AGE_TAG];
	char t[64];
	int rc = -1;

	if (RAND_priv_bytes(esk, 32) != 1 || x25519_public(esk, share) != 0 ||
	    x25519(esk, pk, shared) != 0)
		goto out;
	memcpy(salt, share, 32);
	memcpy(salt + 32, pk, 32);
	if (hkdf(shared, 32, salt, 64, X25519_INFO, wk, 32) != 0 ||
	    aead_once(wk, 1, fk, FILE_KEY, body) != 0)
		goto out;
	if (buf_str(b, "-> X25519 ") != 0)
		goto out;
	sg_b64_encode(share, 32, t, 0);
	if (buf_str(b, t) != 0 || buf_str(b, "\n") != 0)
		goto out;
	sg_b64_encode(body, sizeof(body), t, 0);
	if (buf_str(b, t) != 0 || buf_str(b, "\n") != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(esk, sizeof(esk));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wk, sizeof(wk));
	return rc;
}

/* Appends "---", computes the MAC over everything so far, and ends the
 * line with " <mac>\n". */
static int
add_mac(struct buf *b, const unsigned char fk[FILE_KEY])
{
	unsigned char mac[32];
	char t[48];

	if (buf_str(b, "---") != 0 || header_mac(fk, b->p, b->len, mac) != 0)
		return -1;
	t[0] = ' ';
	sg_b64_encode(mac, 32, t + 1, 0);
	return buf_str(b, t) == 0 && buf_str(b, "\n") == 0 ? 0 : -1;
}

/* --- encryption ------------------------------------------------------- */

struct sg_age_enc {
	unsigned char	 fk[FILE_KEY];
	unsigned char	 nonce[SG_AGE_NONCE];
	struct buf	 hdr;
	int		 started;	/* header emitted */
	EVP_CIPHER_CTX	*c;
	uint64_t	 index;
	size_t		 fill;
	unsigned char	 plain[SG_AGE_CHUNK];
	unsigned char	 out[SG_AGE_CCHUNK];
};

struct sg_age_enc *
sg_age_enc_new(const unsigned char (*pks)[32], size_t n)
{
	struct sg_age_enc *e;
	unsigned char k[32];
	size_t i;

	if (n == 0 || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if (RAND_priv_bytes(e->fk, FILE_KEY) != 1 ||
	    RAND_bytes(e->nonce, SG_AGE_NONCE) != 1 ||
	    buf_str(&e->hdr, VERSION_LINE "\n") != 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (add_x25519_stanza(&e->hdr, e->fk, pks[i]) != 0)
			goto fail;
	if (add_mac(&e->hdr, e->fk) != 0 ||
	    payload_key(e->fk, e->nonce, k) != 0 ||
	    (e->c = aead_new(k, 1)) == NULL)
		goto fail;
	OPENSSL_cleanse(k, sizeof(k));
	return e;
fail:
	OPENSSL_cleanse(k, sizeof(k));
	sg_age_enc_free(e);
	return NULL;
}

static int
enc_start(struct sg_age_enc *e, sg_sink_fn sink, void *arg)
{
	if (e->started)
		return 0;
	e->started = 1;
	if (sink(arg, e->hdr.p, e->hdr.len) != 0 ||
	    sink(arg, e->nonce, SG_AGE_NONCE) != 0)
		return -1;
	return 0;
}

static int
enc_chunk_from(struct sg_age_enc *e, const unsigned char *p, size_t n,
    int last, sg_sink_fn sink, void *arg)
{
	unsigned char nonce[12];

	chunk_nonce(nonce, e->index++, last);
	if (aead_seal(e->c, nonce, p, n, e->out) != 0)
		return -1;
	return sink(arg, e->out, n + SG_AGE_TAG);
}

static int
enc_chunk(struct sg_age_enc *e, int last, sg_sink_fn sink, void *arg)
{
	if (enc_chunk_from(e, e->plain, e->fill, last, sink, arg) != 0)
		return -1;
	e->fill = 0;
	return 0;
}

int
sg_age_enc_write(struct sg_age_enc *e, const void *p, size_t n,
    sg_sink_fn sink, void *arg)
{
	const unsigned char *s = p;
	size_t take;

	if (enc_start(e, sink, arg) != 0)
		return -1;
	while (n > 0) {
		/* A full chunk is sealed only once more data follows: the
		 * last chunk carries the final flag. */
		if (e->fill == SG_AGE_CHUNK && enc_chunk(e, 0, sink, arg) != 0)
			return -1;
		/* whole chunks with more data after them: straight from
		 * the caller's buffer, no copy */
		if (e->fill == 0 && n > SG_AGE_CHUNK) {
			if (enc_chunk_from(e, s, SG_AGE_CHUNK, 0, sink,
			    arg) != 0)
				return -1;
			s += SG_AGE_CHUNK;
			n -= SG_AGE_CHUNK;
			continue;
		}
		take = SG_AGE_CHUNK - e->fill;
		if (take > n)
			take = n;
		memcpy(e->plain + e->fill, s, take);
		e->fill += take;
		s += take;
		n -= take;
	}
	return 0;
}

int
sg_age_enc_finish(struct sg_age_enc *e, sg_sink_fn sink, void *arg)
{
	if (enc_start(e, sink, arg) != 0)
		return -1;
	return enc_chunk(e, 1, sink, arg);
}

void
sg_age_enc_free(struct sg_age_enc *e)
{
	if (e == NULL)
		return;
	EVP_CIPHER_CTX_free(e->c);
	free(e->hdr.p);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

/* --- reading: sources, armor ----------------------------------------- */

/* A buffered reader over a source. */
struct rd {
	sg_src_fn	 fn;
	void		*arg;
	unsigned char	 buf[16384];
	size_t		 pos, len;
	int		 eof, err;
};

static int
rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	if (r->eof || r->err)
		return 0;
	r->pos = r->len = 0;
	do
		n = r->fn(r->arg, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->err = 1;
		return 0;
	}
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	r->len = (size_t)n;
	return 1;
}

/* Reads up to n bytes (fewer only at the end or on error). */
static size_t
rd_read(struct rd *r, void *dst, size_t n)
{
	unsigned char *d = dst;
	size_t got = 0, take;

	while (got < n && rd_fill(r)) {
		take = r->len - r->pos;
		if (take > n - got)
			take = n - got;
		memcpy(d + got, r->buf + r->pos, take);
		r->pos += take;
		got += take;
	}
	return got;
}

/* A line including its '\n' (or what is left at the end of input).
 * Returns its length, 0 at the end, -1 when longer than cap. */
static long
rd_line(struct rd *r, char *line, size_t cap)
{
	size_t n = 0;
	int c;

	while (rd_fill(r)) {
		c = r->buf[r->pos++];
		if (n >= cap)
			return -1;
		line[n++] = (char)c;
		if (c == '\n')
			break;
	}
	return (long)n;
}

static int
rd_peek(struct rd *r)
{
	return rd_fill(r) ? r->buf[r->pos] : -1;
}

/* Armor: decodes lines of strict padded base64 between the BEGIN and
 * END lines; whitespace is allowed only around the whole. */
struct armor {
	struct rd	 in;
	unsigned char	 out[48];
	size_t		 opos, olen;
	int		 state;		/* 0 begin, 1 body, 2 done */
	int		 bad;		/* armor failure */
};

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next armor line without its "\n" or "\r\n", NUL-terminated (the
 * END line may lack its EOL at the end of input). -1 when too long or at
 * the end. */
static long
armor_line(struct rd *r, char *line, size_t cap)
{
	long n = rd_line(r, line, cap - 1);

	if (n <= 0)
		return -1;
	if (line[n - 1] == '\n') {
		n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
	}
	line[n] = '\0';
	return n;
}

/* Only whitespace (a bounded amount) may follow the END line. */
static int
trailing_space_only(struct rd *r)
{
	int c, k;

	for (k = 0; (c = rd_peek(r)) >= 0; k++) {
		if (!is_space(c) || k >= MAX_SPACE)
			return -1;
		r->pos++;
	}
	return r->err ? -1 : 0;
}

static ssize_t
armor_src(void *arg, void *dst, size_t cap)
{
	struct armor *a = arg;
	char line[80];
	long n, len;
	int c, k;

	if (a->opos < a->olen) {
		len = (long)(a->olen - a->opos);
		if ((size_t)len > cap)
			len = (long)cap;
		memcpy(dst, a->out + a->opos, (size_t)len);
		a->opos += (size_t)len;
		return len;
	}
	if (a->bad)
		return -1;
	if (a->state == 2)
		return 0;
	if (a->state == 0) {
		for (k = 0; (c = rd_peek(&a->in)) >= 0 && is_space(c); k++) {
			if (k >= MAX_SPACE)
				goto bad;
			a->in.pos++;
		}
		if (armor_line(&a->in, line, sizeof(line)) < 0 ||
		    strcmp(line, ARMOR_BEGIN) != 0)
			goto bad;
		a->state = 1;
	}
	if ((len = armor_line(&a->in, line, sizeof(line))) < 0)
		goto bad;
	if (strcmp(line, ARMOR_END) == 0)
		goto end;
	if (len == 0 || len > 64 || len % 4 != 0 ||
	    (n = sg_b64_decode(line, (size_t)len, a->out, sizeof(a->out),
	    1)) < 0)
		goto bad;
	a->olen = (size_t)n;
	a->opos = 0;
	if (len < 64 || line[len - 1] == '=') {
		/* the last line: END must follow */
		if (armor_line(&a->in, line, sizeof(line)) < 0 ||
		    strcmp(line, ARMOR_END) != 0 ||
		    trailing_space_only(&a->in) != 0)
			goto bad;
		a->state = 2;
	}
	return armor_src(a, dst, cap);
end:
	if (trailing_space_only(&a->in) != 0)
		goto bad;
	a->state = 2;
	return 0;
bad:
	a->bad = 1;
	return -1;
}

/* Makes at least n bytes readable at r->buf + r->pos unless the input
 * ends first; returns how many are. */
static size_t
rd_ensure(struct rd *r, size_t n)
{
	ssize_t got;

	if (r->len - r->pos >= n)
		return n;
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < n && !r->eof && !r->err) {
		got = r->fn(r->arg, r->buf + r->len, sizeof(r->buf) - r->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r->err = 1;
		else if (got == 0)
			r->eof = 1;
		else
			r->len += (size_t)got;
	}
	return r->len - r->pos < n ? r->len - r->pos : n;
}

/* --- header parsing --------------------------------------------------- */

#define MAX_X25519	256

struct xst {
	unsigned char	share[32];
	unsigned char	body[FILE_KEY + SG_AGE_TAG];
};

struct header {
	struct buf	 raw;		/* the header's bytes */
	size_t		 stanzas_end;	/* offset of the "---" line */
	size_t		 mac_len;	/* bytes the MAC covers */
	unsigned char	 mac[32];
	struct xst	*x;
	size_t		 nx;
	size_t		 nstanzas, nscrypt;
};

static void
header_free(struct header *h)
{
	free(h->raw.p);
	free(h->x);
	memset(h, 0, sizeof(*h));
}

static int
arg_ok(const char *a, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] < 33 || (unsigned char)a[i] > 126)
			return 0;
	return 1;
}

/* Reads one whole line ending in '\n' into line (NUL-terminated, '\n'
 * kept) and appends it to the raw header. Returns its length or -1. */
static long
header_line(struct rd *r, struct header *h, char *line, size_t cap)
{
	long n = rd_line(r, line, cap - 1);

	if (n <= 0 || line[n - 1] != '\n' || buf_add(&h->raw, line,
	    (size_t)n) != 0)
		return -1;
	line[n] = '\0';
	return n;
}

static int
parse_stanza(struct rd *r, struct header *h, char *line, long n,
    const char **why)
{
	char *args[MAX_ARGS], *p, *sp;
	unsigned char body[MAX_BODY + 48], share[32];
	size_t nargs = 0, blen = 0;
	int is_x;
	long len, got;

	line[n - 1] = '\0';		/* the '\n' */
	for (p = line + 3; nargs < MAX_ARGS; p = sp + 1) {
		sp = strchr(p, ' ');
		len = sp ? (long)(sp - p) : (long)strlen(p);
		if (!arg_ok(p, (size_t)len))
			FAIL(SG_AGE_HEADER, "a recipient stanza has an empty "
			    "or invalid argument");
		args[nargs++] = p;
		if (sp == NULL)
			break;
		*sp = '\0';
	}
	if (nargs == MAX_ARGS && sp != NULL)
		FAIL(SG_AGE_HEADER, "a recipient stanza has too many arguments");
	/* the arguments live in line, which the body lines overwrite */
	is_x = strcmp(args[0], "X25519") == 0;
	h->nscrypt += strcmp(args[0], "scrypt") == 0;
	if (is_x && nargs != 2)
		FAIL(SG_AGE_HEADER, "an X25519 stanza must have exactly one "
		    "argument");
	if (is_x && (strlen(args[1]) != 43 || sg_b64_decode(args[1], 43,
	    share, 32, 0) != 32))
		FAIL(SG_AGE_HEADER, "an X25519 share is not 32 bytes of "
		    "canonical base64");
	for (;;) {
		if ((n = header_line(r, h, line, MAX_LINE)) < 0)
			FAIL(SG_AGE_HEADER, "the header ends inside a stanza");
		len = n - 1;
		if (len > 64)
			FAIL(SG_AGE_HEADER, "a stanza body line is longer "
			    "than 64 columns");
		if (blen + 48 > MAX_BODY)
			FAIL(SG_AGE_HEADER, "a stanza body is too long");
		if ((got = sg_b64_decode(line, (size_t)len, body + blen, 48,
		    0)) < 0)
			FAIL(SG_AGE_HEADER, "a stanza body is not canonical "
			    "unpadded base64");
		blen += (size_t)got;
		if (len < 64)
			break;
	}
	h->nstanzas++;
	if (!is_x)
		return SG_AGE_OK;	/* other types are skipped */
	if (h->nx == MAX_X25519)
		FAIL(SG_AGE_HEADER, "too many X25519 stanzas");
	if (h->x == NULL && (h->x = calloc(MAX_X25519, sizeof(*h->x))) ==
	    NULL)
		FAIL(SG_AGE_NOMEM, "out of memory");
	memcpy(h->x[h->nx].share, share, 32);
	if (blen != FILE_KEY + SG_AGE_TAG)
		FAIL(SG_AGE_HEADER, "an X25519 stanza body is not 32 bytes");
	memcpy(h->x[h->nx].body, body, blen);
	h->nx++;
	return SG_AGE_OK;
}

static int
parse_header(struct rd *r, struct header *h, const char **why)
{
	char line[MAX_LINE + 1];
	long n;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((n = header_line(r, h, line, sizeof(line))) < 0) {
		if (r->err)
			FAIL(SG_AGE_IO, "the file could not be read");
		FAIL(SG_AGE_HEADER, "the file is empty or has no age "
		    "version line");
	}
	if (strcmp(line, VERSION_LINE "\n") != 0)
		FAIL(SG_AGE_HEADER, "not an age-encryption.org/v1 file");
	for (;;) {
		if ((n = header_line(r, h, line, sizeof(line))) < 0) {
			if (r->err)
				FAIL(SG_AGE_IO, "the file could not be read");
			FAIL(SG_AGE_HEADER, h->raw.len >= SG_AGE_MAX_HEADER ?
			    "the header is too long" :
			    "the header is cut short or a line is too long");
		}
		if (strncmp(line, "-> ", 3) == 0) {
			if ((rc = parse_stanza(r, h, line, n, why)) != 0)
				return rc;
			continue;
		}
		if (strncmp(line, "---", 3) != 0)
			FAIL(SG_AGE_HEADER, "a header line is neither a stanza "
			    "nor the MAC line");
		h->stanzas_end = h->raw.len - (size_t)n;
		h->mac_len = h->stanzas_end + 3;
		if (n != 3 + 1 + 43 + 1 || line[3] != ' ' ||
		    sg_b64_decode(line + 4, 43, h->mac, 32, 0) != 32)
			FAIL(SG_AGE_HEADER, "the header MAC line is malformed");
		break;
	}
	if (h->nstanzas == 0)
		FAIL(SG_AGE_HEADER, "the header has no recipient stanzas");
	if (h->nscrypt > 0 && h->nstanzas > 1)
		FAIL(SG_AGE_HEADER, "an scrypt stanza must be alone");
	return SG_AGE_OK;
}

/* Finds the file key and checks the MAC. */
static int
open_header(const struct header *h, const struct sg_age_identity *ids,
    size_t nids, unsigned char fk[FILE_KEY], const char **why)
{
	unsigned char shared[32], salt[64], wk[32], mac[32];
	size_t i, j;
	int found = 0, rc;

	for (i = 0; i < h->nx && !found; i++)
		for (j = 0; j < nids && !found; j++) {
			if (x25519(ids[j].sk, h->x[i].share, shared) != 0) {
				OPENSSL_cleanse(shared, sizeof(shared));
				FAIL(SG_AGE_HEADER, "an X25519 share is a "
				    "low-order point");
			}
			memcpy(salt, h->x[i].share, 32);
			memcpy(salt + 32, ids[j].pk, 32);
			rc = hkdf(shared, 32, salt, 64, X25519_INFO, wk, 32);
			OPENSSL_cleanse(shared, sizeof(shared));
			if (rc != 0)
				FAIL(SG_AGE_NOMEM, "key derivation failed");
			found = aead_once(wk, 0, h->x[i].body,
			    sizeof(h->x[i].body), fk) == 0;
			OPENSSL_cleanse(wk, sizeof(wk));
		}
	if (!found)
		FAIL(SG_AGE_NO_MATCH, "no identity given opens this file");
	if (header_mac(fk, h->raw.p, h->mac_len, mac) != 0)
		FAIL(SG_AGE_NOMEM, "key derivation failed");
	if (CRYPTO_memcmp(mac, h->mac, 32) != 0) {
		OPENSSL_cleanse(fk, FILE_KEY);
		FAIL(SG_AGE_HMAC, "the header MAC is wrong (the header was "
		    "altered)");
	}
	return SG_AGE_OK;
}

/* --- stream decryption ------------------------------------------------ */

struct dec {
	struct rd	 raw;
	struct armor	 armor;
	struct rd	 in;		/* over raw or over armor */
	unsigned char	 c[SG_AGE_CCHUNK];
	unsigned char	 p[SG_AGE_CHUNK];
};

static int
decrypt_payload(struct rd *r, const unsigned char fk[FILE_KEY],
    unsigned char *cb, unsigned char *pb, sg_sink_fn sink, void *arg,
    const char **why)
{
	unsigned char nonce[SG_AGE_NONCE], k[32], cn[12];
	EVP_CIPHER_CTX *c;
	uint64_t idx = 0;
	size_t n;
	int last, ok, rc = SG_AGE_OK;

	if (rd_read(r, nonce, SG_AGE_NONCE) != SG_AGE_NONCE)
		FAIL(r->err ? SG_AGE_IO : SG_AGE_HEADER,
		    "the file ends before the payload nonce");
	if (payload_key(fk, nonce, k) != 0 || (c = aead_new(k, 0)) == NULL) {
		OPENSSL_cleanse(k, sizeof(k));
		FAIL(SG_AGE_NOMEM, "out of memory");
	}
	OPENSSL_cleanse(k, sizeof(k));
	/* As the reference implementation does: a chunk is released as
	 * soon as it authenticates; a full chunk that fails as a middle
	 * chunk may be the final one; nothing may follow the final chunk. */
	for (;;) {
		n = rd_read(r, cb, SG_AGE_CCHUNK);
		if (r->err) {
			rc = SG_AGE_IO;
			if (why)
				*why = "the file could not be read";
			break;
		}
		if (n == 0) {
			rc = SG_AGE_PAYLOAD;
			if (why)
				*why = idx == 0 ? "the payload has no chunks" :
				    "the payload ends without its final chunk "
				    "(truncated)";
			break;
		}
		last = n < SG_AGE_CCHUNK;
		if (last && (n < SG_AGE_TAG || (n == SG_AGE_TAG && idx > 0))) {
			rc = SG_AGE_PAYLOAD;
			if (why)
				*why = n < SG_AGE_TAG ? "the last chunk is "
				    "too short" : "the final chunk is empty";
			break;
		}
		chunk_nonce(cn, idx, last);
		ok = aead_open(c, cn, cb, n, pb) == 0;
		if (!ok && !last) {
			last = 1;
			chunk_nonce(cn, idx, 1);
			ok = aead_open(c, cn, cb, n, pb) == 0;
		}
		if (!ok) {
			rc = SG_AGE_PAYLOAD;
			if (why)
				*why = "a chunk does not authenticate (damaged, "
				    "truncated, reordered or extended)";
			break;
		}
		if (n > SG_AGE_TAG && sink(arg, pb, n - SG_AGE_TAG) != 0) {
			rc = SG_AGE_IO;
			if (why)
				*why = "the output could not be written";
			break;
		}
		if (last) {
			if (rd_peek(r) >= 0) {
				rc = SG_AGE_PAYLOAD;
				if (why)
					*why = "data follows the final chunk";
			} else if (r->err) {
				rc = SG_AGE_IO;
				if (why)
					*why = "the file could not be read";
			}
			break;
		}
		idx++;
	}
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(pb, SG_AGE_CHUNK);
	return rc;
}

int
sg_age_decrypt(const struct sg_age_identity *ids, size_t nids,
    sg_src_fn src, void *src_arg, sg_sink_fn sink, void *sink_arg,
    const char **why)
{
	static const char magic[] = "age-encryption.org/";
	unsigned char fk[FILE_KEY];
	struct header h;
	struct dec *d;
	size_t have;
	int rc;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		FAIL(SG_AGE_NOMEM, "out of memory");
	d->raw.fn = src;
	d->raw.arg = src_arg;
	/* Binary if it starts as an age header does (or is a prefix of
	 * one, e.g. empty); anything else must be armor. */
	have = rd_ensure(&d->raw, sizeof(magic) - 1);
	if (d->raw.err) {
		free(d);
		FAIL(SG_AGE_IO, "the file could not be read");
	}
	if (memcmp(d->raw.buf + d->raw.pos, magic, have) == 0) {
		d->in = d->raw;		/* take over the buffered bytes */
	} else {
		d->armor.in = d->raw;
		d->in.fn = armor_src;
		d->in.arg = &d->armor;
	}
	rc = parse_header(&d->in, &h, why);
	if (d->armor.bad) {
		rc = SG_AGE_ARMOR;
		if (why)
			*why = "the ASCII armor is malformed";
	}
	if (rc == SG_AGE_OK && (rc = open_header(&h, ids, nids, fk,
	    why)) == SG_AGE_OK) {
		rc = decrypt_payload(&d->in, fk, d->c, d->p, sink, sink_arg,
		    why);
		if (rc != SG_AGE_OK && d->armor.bad) {
			rc = SG_AGE_ARMOR;
			if (why)
				*why = "the ASCII armor is malformed";
		}
	}
	OPENSSL_cleanse(fk, sizeof(fk));
	header_free(&h);
	free(d);
	return rc;
}

/* --- headers in memory ------------------------------------------------ */

struct mem {
	const unsigned char	*p;
	size_t			 n, off;
};

static ssize_t
mem_src(void *arg, void *buf, size_t cap)
{
	struct mem *m = arg;
	size_t take = m->n - m->off;

	if (take > cap)
		take = cap;
	memcpy(buf, m->p + m->off, take);
	m->off += take;
	return (ssize_t)take;
}

static int
parse_mem(const void *buf, size_t n, struct header *h, const char **why)
{
	struct mem m = { buf, n, 0 };
	struct rd *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		FAIL(SG_AGE_NOMEM, "out of memory");
	r->fn = mem_src;
	r->arg = &m;
	rc = parse_header(r, h, why);
	free(r);
	return rc;
}

int
sg_age_header_len(const void *buf, size_t n, size_t *hlen, const char **why)
{
	struct header h;
	int rc;

	if ((rc = parse_mem(buf, n, &h, why)) == SG_AGE_OK)
		*hlen = h.raw.len;
	header_free(&h);
	return rc;
}

int
sg_age_rewrap(const void *hdr, size_t hlen,
    const struct sg_age_identity *ids, size_t nids,
    const unsigned char (*add)[32], size_t nadd, unsigned char **out,
    size_t *outlen, const char **why)
{
	unsigned char fk[FILE_KEY];
	struct header h;
	struct buf b = { NULL, 0, 0 };
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = parse_mem(hdr, hlen, &h, why)) == SG_AGE_OK &&
	    (rc = open_header(&h, ids, nids, fk, why)) == SG_AGE_OK) {
		rc = buf_add(&b, h.raw.p, h.stanzas_end);
		for (i = 0; rc == 0 && i < nadd; i++)
			rc = add_x25519_stanza(&b, fk, add[i]);
		if (rc == 0)
			rc = add_mac(&b, fk);
		if (rc != 0) {
			free(b.p);
			rc = SG_AGE_NOMEM;
			if (why)
				*why = "the new header is too large";
		} else {
			*out = b.p;
			*outlen = b.len;
		}
	}
	OPENSSL_cleanse(fk, sizeof(fk));
	header_free(&h);
	return rc;
}

/* --- random access ---------------------------------------------------- */

int64_t
sg_age_plain_size(uint64_t clen)
{
	uint64_t full = clen / SG_AGE_CCHUNK, rem = clen % SG_AGE_CCHUNK;

	if (clen == 0)
		return -1;
	if (rem == 0)
		return (int64_t)(full * SG_AGE_CHUNK);
	if (rem < SG_AGE_TAG || (rem == SG_AGE_TAG && full > 0))
		return -1;
	return (int64_t)(full * SG_AGE_CHUNK + rem - SG_AGE_TAG);
}

struct sg_age_file {
	int		 fd;
	uint64_t	 hlen, pstart, csize, psize, nchunks;
	EVP_CIPHER_CTX	*c;
	uint64_t	 cached;	/* chunk index in p, or UINT64_MAX */
	size_t		 plen;
	unsigned char	 cb[SG_AGE_CCHUNK];
	unsigned char	 p[SG_AGE_CHUNK];
};

struct fdsrc {
	int	fd;
	off_t	off;
};

static ssize_t
fd_src(void *arg, void *buf, size_t cap)
{
	struct fdsrc *s = arg;
	ssize_t n = pread(s->fd, buf, cap, s->off);

	if (n > 0)
		s->off += n;
	return n;
}

int
sg_age_file_open(int fd, const struct sg_age_identity *ids, size_t nids,
    struct sg_age_file **out, const char **why)
{
	unsigned char fk[FILE_KEY], nonce[SG_AGE_NONCE], k[32];
	struct fdsrc s = { fd, 0 };
	struct sg_age_file *f;
	struct header h;
	struct rd *r;
	struct stat st;
	uint64_t end = 0;
	int64_t ps;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		FAIL(SG_AGE_NOMEM, "out of memory");
	r->fn = fd_src;
	r->arg = &s;
	rc = parse_header(r, &h, why);
	free(r);
	if (rc == SG_AGE_OK)
		rc = open_header(&h, ids, nids, fk, why);
	if (rc != SG_AGE_OK) {
		header_free(&h);
		return rc;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		header_free(&h);
		OPENSSL_cleanse(fk, sizeof(fk));
		FAIL(SG_AGE_NOMEM, "out of memory");
	}
	f->fd = fd;
	f->hlen = h.raw.len;
	f->pstart = f->hlen + SG_AGE_NONCE;
	f->cached = UINT64_MAX;
	header_free(&h);
	rc = SG_AGE_OK;
	if (pread(fd, nonce, SG_AGE_NONCE, (off_t)f->hlen) != SG_AGE_NONCE) {
		rc = SG_AGE_HEADER;
		if (why)
			*why = "the file ends before the payload nonce";
	} else if (fstat(fd, &st) != 0) {
		rc = SG_AGE_IO;
		if (why)
			*why = "the file size could not be read";
	} else if ((end = (uint64_t)st.st_size) < f->pstart ||
	    (ps = sg_age_plain_size(end - f->pstart)) < 0) {
		rc = SG_AGE_PAYLOAD;
		if (why)
			*why = "the payload's length is not a whole number "
			    "of chunks (truncated?)";
	} else if (payload_key(fk, nonce, k) != 0 ||
	    (f->c = aead_new(k, 0)) == NULL) {
		rc = SG_AGE_NOMEM;
		if (why)
			*why = "out of memory";
	} else {
		f->csize = end - f->pstart;
		f->psize = (uint64_t)ps;
		f->nchunks = (f->csize + SG_AGE_CCHUNK - 1) / SG_AGE_CCHUNK;
	}
	OPENSSL_cleanse(fk, sizeof(fk));
	OPENSSL_cleanse(k, sizeof(k));
	if (rc != SG_AGE_OK) {
		sg_age_file_close(f);
		return rc;
	}
	*out = f;
	return SG_AGE_OK;
}

uint64_t
sg_age_file_size(const struct sg_age_file *f)
{
	return f->psize;
}

uint64_t
sg_age_file_header_len(const struct sg_age_file *f)
{
	return f->hlen;
}

static int
load_chunk(struct sg_age_file *f, uint64_t i)
{
	unsigned char cn[12];
	uint64_t off = i * SG_AGE_CCHUNK;
	size_t n = SG_AGE_CCHUNK, got = 0;
	ssize_t k;

	if (f->cached == i)
		return 0;
	f->cached = UINT64_MAX;
	if (f->csize - off < n)
		n = (size_t)(f->csize - off);
	while (got < n) {
		k = pread(f->fd, f->cb + got, n - got,
		    (off_t)(f->pstart + off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	chunk_nonce(cn, i, i == f->nchunks - 1);
	if (aead_open(f->c, cn, f->cb, n, f->p) != 0)
		return -1;
	f->plen = n - SG_AGE_TAG;
	f->cached = i;
	return 0;
}

ssize_t
sg_age_file_pread(struct sg_age_file *f, void *buf, size_t len,
    uint64_t off)
{
	unsigned char *d = buf;
	size_t done = 0, at, take;
	uint64_t i;

	while (done < len && off + done < f->psize) {
		i = (off + done) / SG_AGE_CHUNK;
		if (load_chunk(f, i) != 0)
			return -1;
		at = (size_t)((off + done) % SG_AGE_CHUNK);
		take = f->plen - at;
		if (take > len - done)
			take = len - done;
		memcpy(d + done, f->p + at, take);
		done += take;
	}
	return (ssize_t)done;
}

void
sg_age_file_close(struct sg_age_file *f)
{
	if (f == NULL)
		return;
	EVP_CIPHER_CTX_free(f->c);
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
}
