/* auth: password hashes, token hashes, failure scoring. */
#include "policy/auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/codec.h"

/* RFC 9106 section 4, the second recommended option (for when memory is
 * not plentiful): t=3, 64 MiB, 4 lanes. Hashes made with other
 * parameters carry them and still verify; sg_passwd_weak() tells which
 * fall below these. */
#define T_COST	3
#define M_COST	65536	/* KiB */
#define PARALLEL 4
#define SALT	16
#define HASHLEN	32
#define PW_MAX	1024

int
sg_passwd_hash(const char *pw, size_t len, char out[SG_PASSWD_HASH_MAX])
{
	unsigned char salt[SALT];

	if (len == 0 || len > PW_MAX || RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	if (argon2_encodedlen(T_COST, M_COST, PARALLEL, SALT, HASHLEN,
	    Argon2_id) > SG_PASSWD_HASH_MAX)
		return -1;
	return argon2id_hash_encoded(T_COST, M_COST, PARALLEL, pw, len, salt,
	    SALT, HASHLEN, out, SG_PASSWD_HASH_MAX) == ARGON2_OK ? 0 : -1;
}

int
sg_passwd_verify(const char *hash, const char *pw, size_t len)
{
	if (hash == NULL || strncmp(hash, "$argon2id$", 10) != 0 ||
	    len > PW_MAX)
		return 0;
	return argon2id_verify(hash, pw, len) == ARGON2_OK;
}

int
sg_passwd_weak(const char *hash)
{
	unsigned long m, t, p;
	int v;

	if (hash == NULL || sscanf(hash, "$argon2id$v=%d$m=%lu,t=%lu,p=%lu$",
	    &v, &m, &t, &p) != 4)
		return 1;
	/* memory and time together: the work an attacker must repeat */
	return m < M_COST || t < T_COST;
}

void
sg_token_hash(const char *token, size_t len, char out[SG_TOKEN_HASH_LEN])
{
	unsigned char d[32];
	unsigned int l = 32;

	EVP_Digest(token, len, d, &l, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	sg_hex(d, 32, out + 7);
	OPENSSL_cleanse(d, sizeof(d));
}

int
sg_token_new(char token[64], char hash[SG_TOKEN_HASH_LEN])
{
	static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	unsigned char r[43];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		token[i] = b64u[r[i] & 63];
	token[i] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	sg_token_hash(token, i, hash);
	return 0;
}

int
sg_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

#define BAN_SLOTS	4096
#define WINDOW		900	/* failures older than this are forgotten */

struct ban {
	char	 addr[SG_BANS_KEY];	/* the key */
	char	 party[96];	/* whom the failures in the window named */
	int	 mixed;		/* ... more than one party */
	unsigned failures;
	unsigned level;		/* bans so far */
	int64_t	 last;		/* last failure */
	int64_t	 until;
};

struct sg_bans {
	struct ban	 slot[BAN_SLOTS];
	unsigned	 failures, ban_s, max_s;
};

struct sg_bans *
sg_bans_new(unsigned failures, unsigned ban_seconds, unsigned max_seconds)
{
	struct sg_bans *b = calloc(1, sizeof(*b));

	if (b != NULL)
		sg_bans_configure(b, failures, ban_seconds, max_seconds);
	return b;
}

void
sg_bans_configure(struct sg_bans *b, unsigned failures, unsigned ban_s,
    unsigned max_s)
{
	b->failures = failures ? failures : 5;
	b->ban_s = ban_s ? ban_s : 60;
	b->max_s = max_s < b->ban_s ? b->ban_s : max_s;
}

void
sg_bans_free(struct sg_bans *b)
{
	free(b);
}

static struct ban *
find(struct sg_bans *b, const char *addr, int create, int64_t now)
{
	struct ban *victim = NULL;
	size_t i;

	for (i = 0; i < BAN_SLOTS; i++) {
		struct ban *s = &b->slot[i];

		if (s->addr[0] && strcmp(s->addr, addr) == 0)
			return s;
		/* reuse an empty or forgotten slot, else the oldest */
		if (create && (victim == NULL || (victim->addr[0] &&
		    (!s->addr[0] || (s->until <= now && s->last < victim->last)))))
			victim = s;
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
	return victim;
}

unsigned
sg_bans_check(struct sg_bans *b, const char *addr, int64_t now)
{
	struct ban *s = find(b, addr, 0, now);

	return s != NULL && s->until > now ? (unsigned)(s->until - now) : 0;
}

unsigned
sg_bans_fail(struct sg_bans *b, const char *addr, const char *party,
    int64_t now)
{
	struct ban *s = find(b, addr, 1, now);
	uint64_t len;

	if (s == NULL)
		return 0;
	if (now - s->last > WINDOW || s->failures == 0) {
		s->failures = 0;
		s->mixed = 0;
		snprintf(s->party, sizeof(s->party), "%s", party);
	} else if (strcmp(s->party, party) != 0)
		s->mixed = 1;
	s->last = now;
	if (++s->failures < b->failures)
		return 0;
	s->failures = 0;
	len = (uint64_t)b->ban_s << (s->level < 20 ? s->level : 20);
	if (len > b->max_s)
		len = b->max_s;
	s->level++;
	s->until = now + (int64_t)len;
	return (unsigned)len;
}

void
sg_bans_success(struct sg_bans *b, const char *addr, const char *party)
{
	struct ban *s = find(b, addr, 0, 0);

	/* only the party that failed, and only it, clears the count: a
	 * success of one's own does not excuse guesses at another's */
	if (s != NULL && !s->mixed && strcmp(s->party, party) == 0)
		s->failures = 0;
}

unsigned
sg_bans_active(const struct sg_bans *b, int64_t now)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < BAN_SLOTS; i++)
		if (b->slot[i].addr[0] && b->slot[i].until > now)
			n++;
	return n;
}

void
sg_bans_pair_key(const char *addr, const char *party, char key[SG_BANS_KEY])
{
	/* neither holds a space: addresses are printed by inet_ntop, party
	 * ids are kind:name words */
	snprintf(key, SG_BANS_KEY, "%s %s", addr, party);
}

unsigned
sg_bans_lift(struct sg_bans *b, const char *addr, int64_t now)
{
	size_t i, l = strlen(addr);
	unsigned n = 0;

	for (i = 0; i < BAN_SLOTS; i++) {
		struct ban *s = &b->slot[i];

		if (s->addr[0] && strncmp(s->addr, addr, l) == 0 &&
		    (s->addr[l] == '\0' || s->addr[l] == ' ')) {
			if (s->until > now)
				n++;
			memset(s, 0, sizeof(*s));
		}
	}
	return n;
}

int
sg_netmask_parse(const char *text, struct sg_netmask *m)
{
	char a[64], *slash, *end;
	unsigned long bits;

	memset(m, 0, sizeof(*m));
	if (strlen(text) >= sizeof(a))
		return -1;
	snprintf(a, sizeof(a), "%s", text);
	if ((slash = strchr(a, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, a, m->net) == 1) {
		m->family = AF_INET;
		m->bits = 32;
	} else if (inet_pton(AF_INET6, a, m->net) == 1) {
		m->family = AF_INET6;
		m->bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -1;
		bits = strtoul(slash, &end, 10);
		if (*end != '\0' || bits > m->bits)
			return -1;
		m->bits = (unsigned)bits;
	}
	return 0;
}

static int
prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ b[full]) & (0xff00u >> rest) & 0xff)
	    == 0;
}

int
sg_netmask_match(const struct sg_netmask *m, size_t n, const char *addr)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	unsigned char a4[4], a6[16];
	int have4 = inet_pton(AF_INET, addr, a4) == 1;
	int have6 = !have4 && inet_pton(AF_INET6, addr, a6) == 1;
	size_t i;

	if (have6 && memcmp(a6, mapped, 12) == 0) {
		memcpy(a4, a6 + 12, 4);
		have4 = 1;
	}
	for (i = 0; i < n; i++) {
		if (m[i].family == AF_INET && have4 &&
		    prefix_eq(m[i].net, a4, m[i].bits))
			return 1;
		if (m[i].family == AF_INET6 && have6 &&
		    prefix_eq(m[i].net, a6, m[i].bits))
			return 1;
	}
	return 0;
}
