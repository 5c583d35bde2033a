/* session: signed-in web sessions, in memory; see session.h. */
#include "policy/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/codec.h"

struct sg_sessions {
	struct sg_session	*s;
	size_t			 n, max, per_party;
};

struct sg_sessions *
sg_sessions_new(size_t max, size_t per_party)
{
	struct sg_sessions *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->s = calloc(max ? max : 1, sizeof(*t->s))) == NULL) {
		free(t);
		return NULL;
	}
	t->max = max ? max : 1;
	t->per_party = per_party ? per_party : t->max;
	return t;
}

void
sg_sessions_free(struct sg_sessions *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t->s, t->max * sizeof(*t->s));
	free(t->s);
	free(t);
}

int
sg_session_token(char out[SG_SESSION_TOKEN])
{
	unsigned char r[32];
	size_t i, n;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	n = sg_b64_encode(r, sizeof(r), out, 0);
	OPENSSL_cleanse(r, sizeof(r));
	for (i = 0; i < n; i++)		/* base64url: cookie- and form-safe */
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	out[n] = '\0';
	return 0;
}

static void
sha256(const char *s, size_t n, unsigned char out[32])
{
	unsigned int l = 32;

	EVP_Digest(s, n, out, &l, EVP_sha256(), NULL);
}

void
sg_session_bind(const char *credential, unsigned char out[32])
{
	sha256(credential, strlen(credential), out);
}

static void
drop(struct sg_sessions *t, size_t i)
{
	t->s[i] = t->s[t->n - 1];
	OPENSSL_cleanse(&t->s[t->n - 1], sizeof(t->s[0]));
	t->n--;
}

const struct sg_session *
sg_session_start(struct sg_sessions *t, const char *party,
    const unsigned char bind[32], int64_t now, char token[SG_SESSION_TOKEN])
{
	struct sg_session *s;
	size_t i, mine = 0, old = 0, oldmine = 0;

	for (i = 0; i < t->n; i++) {
		if (t->s[i].seen < t->s[old].seen)
			old = i;
		if (strcmp(t->s[i].party, party) == 0 && (mine++ == 0 ||
		    t->s[i].seen < t->s[oldmine].seen))
			oldmine = i;
	}
	if (mine >= t->per_party)
		drop(t, oldmine);
	else if (t->n == t->max)
		drop(t, old);
	s = &t->s[t->n];
	memset(s, 0, sizeof(*s));
	if (sg_session_token(token) != 0 || sg_session_token(s->csrf) != 0)
		return NULL;
	sha256(token, strlen(token), s->key);
	snprintf(s->party, sizeof(s->party), "%s", party);
	memcpy(s->bind, bind, 32);
	s->created = s->seen = now;
	t->n++;
	return s;
}

static long
find(struct sg_sessions *t, const char *token)
{
	unsigned char k[32];
	size_t i;

	if (token == NULL || strlen(token) != SG_SESSION_TOKEN - 1)
		return -1;
	sha256(token, strlen(token), k);
	for (i = 0; i < t->n; i++)
		if (memcmp(t->s[i].key, k, 32) == 0)
			return (long)i;
	return -1;
}

const struct sg_session *
sg_session_find(struct sg_sessions *t, const char *token, int64_t now,
    int64_t idle_us, int64_t max_us)
{
	long i = find(t, token);
	struct sg_session *s;

	if (i < 0)
		return NULL;
	s = &t->s[i];
	if (now - s->seen > idle_us || now - s->created > max_us) {
		drop(t, (size_t)i);
		return NULL;
	}
	s->seen = now;
	return s;
}

void
sg_session_end(struct sg_sessions *t, const char *token)
{
	long i = find(t, token);

	if (i >= 0)
		drop(t, (size_t)i);
}

size_t
sg_sessions_count(const struct sg_sessions *t)
{
	return t->n;
}

int
sg_session_csrf_ok(const struct sg_session *s, const char *given)
{
	size_t n = strlen(s->csrf);

	return given != NULL && strlen(given) == n &&
	    CRYPTO_memcmp(s->csrf, given, n) == 0;
}
