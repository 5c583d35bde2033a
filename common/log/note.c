/* note: Ed25519 keys and C2SP signed notes. */
#include "log/note.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/codec.h"

#define SIG_PREFIX	"\xe2\x80\x94 "	/* U+2014 EM DASH, space */

int
sg_note_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > SG_NOTE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127 ||
		    s[i] == '+')
			return 0;
	return 1;
}

static uint32_t
key_hash(const char *name, const unsigned char pub[32])
{
	unsigned char d[32], m[SG_NOTE_NAME_MAX + 2 + 32];
	size_t n = strlen(name);

	memcpy(m, name, n);
	m[n] = '\n';
	m[n + 1] = 0x01;
	memcpy(m + n + 2, pub, 32);
	SHA256(m, n + 2 + 32, d);
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
	    (uint32_t)d[2] << 8 | d[3];
}

static int
pub_of(const unsigned char seed[32], unsigned char pub[32])
{
	EVP_PKEY *k;
	size_t n = 32;
	int ok;

	if ((k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    32)) == NULL)
		return -1;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &n) > 0 && n == 32;
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

int
sg_note_key_generate(const char *name, struct sg_note_key *k)
{
	memset(k, 0, sizeof(*k));
	if (!sg_note_name_ok(name) || RAND_priv_bytes(k->seed, 32) != 1 ||
	    pub_of(k->seed, k->pub) != 0)
		return -1;
	strcpy(k->name, name);
	k->has_seed = 1;
	k->hash = key_hash(k->name, k->pub);
	return 0;
}

/* "<name>+<hash>+<base64(0x01 || 32 bytes)>" into k; key to pub or seed. */
static int
parse_tail(const char *s, struct sg_note_key *k, unsigned char *key32)
{
	const char *p1, *p2;
	unsigned char raw[40];
	char hx[9];
	size_t nl;

	if ((p1 = strchr(s, '+')) == NULL || (p2 = strchr(p1 + 1, '+')) ==
	    NULL || (nl = (size_t)(p1 - s)) == 0 || nl > SG_NOTE_NAME_MAX ||
	    p2 - p1 - 1 != 8)
		return -1;
	memcpy(k->name, s, nl);
	k->name[nl] = '\0';
	memcpy(hx, p1 + 1, 8);
	hx[8] = '\0';
	if (!sg_note_name_ok(k->name) || sg_unhex(hx, raw, 4) != 0)
		return -1;
	k->hash = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
	    (uint32_t)raw[2] << 8 | raw[3];
	if (sg_b64_decode(p2 + 1, strlen(p2 + 1), raw, sizeof(raw), 1) != 33 ||
	    raw[0] != 0x01)
		return -1;
	memcpy(key32, raw + 1, 32);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int
sg_note_signer_parse(const char *s, struct sg_note_key *k)
{
	memset(k, 0, sizeof(*k));
	if (strncmp(s, "PRIVATE+KEY+", 12) != 0 ||
	    parse_tail(s + 12, k, k->seed) != 0 || pub_of(k->seed,
	    k->pub) != 0 || key_hash(k->name, k->pub) != k->hash) {
		OPENSSL_cleanse(k, sizeof(*k));
		return -1;
	}
	k->has_seed = 1;
	return 0;
}

int
sg_note_verifier_parse(const char *s, struct sg_note_key *k)
{
	memset(k, 0, sizeof(*k));
	if (parse_tail(s, k, k->pub) != 0 ||
	    key_hash(k->name, k->pub) != k->hash)
		return -1;
	return 0;
}

static void
format_key(const struct sg_note_key *k, const unsigned char *key32,
    const char *prefix, char out[SG_NOTE_KEY_MAX])
{
	unsigned char raw[33];
	char b[64];

	raw[0] = 0x01;
	memcpy(raw + 1, key32, 32);
	sg_b64_encode(raw, 33, b, 1);
	snprintf(out, SG_NOTE_KEY_MAX, "%s%s+%08x+%s", prefix, k->name,
	    (unsigned)k->hash, b);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b, sizeof(b));
}

void
sg_note_signer_format(const struct sg_note_key *k, char out[SG_NOTE_KEY_MAX])
{
	format_key(k, k->seed, "PRIVATE+KEY+", out);
}

void
sg_note_verifier_format(const struct sg_note_key *k,
    char out[SG_NOTE_KEY_MAX])
{
	format_key(k, k->pub, "", out);
}

char *
sg_note_sign(const char *text, size_t len, const struct sg_note_key *k)
{
	unsigned char sig[4 + 64];
	EVP_MD_CTX *m = NULL;
	EVP_PKEY *pk = NULL;
	size_t sl = 64, cap;
	char *out = NULL, b[128];
	int ok;

	if (!k->has_seed || len == 0 || text[len - 1] != '\n')
		return NULL;
	sig[0] = (unsigned char)(k->hash >> 24);
	sig[1] = (unsigned char)(k->hash >> 16);
	sig[2] = (unsigned char)(k->hash >> 8);
	sig[3] = (unsigned char)k->hash;
	ok = (pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    k->seed, 32)) != NULL && (m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(m, NULL, NULL, NULL, pk) > 0 &&
	    EVP_DigestSign(m, sig + 4, &sl, (const unsigned char *)text,
	    len) > 0 && sl == 64;
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
	if (!ok)
		return NULL;
	sg_b64_encode(sig, sizeof(sig), b, 1);
	cap = len + 1 + 4 + strlen(k->name) + 1 + strlen(b) + 2;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	snprintf(out, cap, "%.*s\n" SIG_PREFIX "%s %s\n", (int)len, text,
	    k->name, b);
	return out;
}

static int
ed25519_ok(const unsigned char pub[32], const unsigned char sig[64],
    const char *msg, size_t n)
{
	EVP_MD_CTX *m = NULL;
	EVP_PKEY *pk;
	int ok;

	if ((pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    32)) == NULL)
		return 0;
	ok = (m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) > 0 &&
	    EVP_DigestVerify(m, sig, 64, (const unsigned char *)msg, n) == 1;
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pk);
	return ok;
}

#define NOPE(msg)	do { if (why) *why = (msg); return -1; } while (0)

int
sg_note_verify(const char *note, size_t n, const struct sg_note_key *k,
    size_t *textlen, const char **why)
{
	const char *p, *end = note + n, *sep = NULL, *nl, *sp;
	unsigned char sig[4 + 64 + 8];
	size_t nlen;
	uint32_t h;
	int good = 0, ours = 0;
	long sl;

	if (n == 0 || note[n - 1] != '\n')
		NOPE("the note does not end with a newline");
	for (p = note; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == p) {
			sep = p;
			break;
		}
	}
	if (sep == NULL || sep == note)
		NOPE("the note has no signature block");
	for (p = sep + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(nl - p) < 4 || memcmp(p, SIG_PREFIX, 4) != 0)
			NOPE("a signature line is malformed");
		p += 4;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
			NOPE("a signature line is malformed");
		nlen = (size_t)(sp - p);
		sl = sg_b64_decode(sp + 1, (size_t)(nl - sp - 1), sig,
		    sizeof(sig), 1);
		if (sl < 5)
			NOPE("a signature is not valid base64");
		h = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
		    (uint32_t)sig[2] << 8 | sig[3];
		if (nlen != strlen(k->name) || memcmp(p, k->name, nlen) != 0 ||
		    h != k->hash)
			continue;	/* another key's signature */
		ours = 1;
		if (sl != 68 || !ed25519_ok(k->pub, sig + 4, note,
		    (size_t)(sep - note)))
			NOPE("the signature does not verify with the pinned "
			    "key");
		good = 1;
	}
	if (!ours)
		NOPE("no signature by the pinned key (signed by another "
		    "key?)");
	*textlen = (size_t)(sep - note);
	return good ? 0 : -1;
}
