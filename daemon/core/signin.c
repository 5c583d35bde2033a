/*
 * signin: the one sign-in path of every front door. A front hands over
 * the credential it was given (a password, an HTTP Basic header, an API
 * token, a client certificate's fingerprint, an SSH key) and the
 * address; this module finds the party on the configuration in force,
 * checks the credential (argon2id on libuv's work pool, never on the I/O
 * thread, with a short keyed cache of successes), keeps the bans (per
 * address and party, per whole address at a much higher count, per
 * party from anywhere; networks in bans.exempt are never banned by
 * address), journals every failure, and counts the connections not yet
 * signed in. Fronts map the result to their protocol and decide nothing.
 */
#include "gw.h"

#include "base/codec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define CACHE_US	(300LL * 1000000)

/* A success is cached under the party, the stored hash it was checked
 * against and the password: a changed password (a new hash) misses. */
static void
cache_tag(struct gw *g, const char *party, const char *hash, const char *pw,
    size_t pwlen, unsigned char tag[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned int l = 32;

	if (!g->login.keyed) {
		RAND_bytes(g->login.key, sizeof(g->login.key));
		g->login.keyed = 1;
	}
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	EVP_DigestUpdate(m, g->login.key, 32);
	EVP_DigestUpdate(m, party, strlen(party) + 1);
	EVP_DigestUpdate(m, hash, strlen(hash) + 1);
	EVP_DigestUpdate(m, pw, pwlen);
	EVP_DigestFinal_ex(m, tag, &l);
	EVP_MD_CTX_free(m);
}

static int
cache_hit(struct gw *g, const unsigned char tag[32])
{
	int64_t now = gw_now_us();
	size_t i;

	for (i = 0; i < GW_LOGIN_CACHE; i++)
		if (g->login.cache[i].until > now &&
		    CRYPTO_memcmp(g->login.cache[i].tag, tag, 32) == 0)
			return 1;
	return 0;
}

/* a sign-in waiting on the same check as another */
struct login_wait {
	gw_login_cb		 cb;
	void			*arg;
	struct login_wait	*next;
};

struct login_work {
	uv_work_t	 w;
	struct gw	*g;
	int		 slot;		/* in g->login.busy */
	int		 dummy;		/* no such party: always fails */
	char		*hash;
	char		 party[96];
	char		 pw[512];
	size_t		 pwlen;
	int		 ok;
	gw_login_cb	 cb;
	void		*arg;
	unsigned char	 tag[32];	/* cache_tag(), for a known party */
	struct login_wait *waiting;
};

static void
login_run(uv_work_t *w)
{
	struct login_work *a = w->data;

	a->ok = sg_passwd_verify(a->hash, a->pw, a->pwlen) && !a->dummy;
}

static void
login_after(uv_work_t *w, int status)
{
	struct login_work *a = w->data;
	struct gw *g = a->g;
	struct login_wait *q;

	(void)status;
	if (a->ok) {
		struct gw_login_slot *e = &g->login.cache[g->login.next++ %
		    GW_LOGIN_CACHE];

		cache_tag(g, a->party, a->hash, a->pw, a->pwlen, e->tag);
		e->until = gw_now_us() + CACHE_US;
	}
	OPENSSL_cleanse(a->pw, sizeof(a->pw));
	g->login.busy[a->slot][0] = '\0';
	g->login.work[a->slot] = NULL;
	a->cb(a->arg, a->ok);
	while ((q = a->waiting) != NULL) {
		a->waiting = q->next;
		g->login.joined--;
		q->cb(q->arg, a->ok);
		free(q);
	}
	free(a->hash);
	free(a);
}

/* Wait on a check in flight for the same party, stored hash and password:
 * 1 if joined (cb is called with its result), 0 if there is none, -1 if
 * too many are waiting already. */
static int
join_check(struct gw *g, const unsigned char tag[32], gw_login_cb cb,
    void *arg)
{
	struct login_work *a;
	struct login_wait *q;
	int i;

	for (i = 0; i < GW_LOGIN_INFLIGHT; i++) {
		if ((a = g->login.work[i]) == NULL || a->dummy ||
		    CRYPTO_memcmp(a->tag, tag, 32) != 0)
			continue;
		if (g->login.joined >= GW_LOGIN_JOIN ||
		    (q = calloc(1, sizeof(*q))) == NULL)
			return -1;
		q->cb = cb;
		q->arg = arg;
		q->next = a->waiting;
		a->waiting = q;
		g->login.joined++;
		return 1;
	}
	return 0;
}

/* A place among the checks in flight for addr, or -1. */
static int
busy_slot(struct gw *g, const char *addr)
{
	int i, free_slot = -1, mine = 0;

	for (i = 0; i < GW_LOGIN_INFLIGHT; i++)
		if (g->login.busy[i][0] == '\0') {
			if (free_slot < 0)
				free_slot = i;
		} else if (strcmp(g->login.busy[i], addr) == 0)
			mine++;
	if (free_slot < 0 || mine >= GW_LOGIN_PER_ADDR)
		return -1;
	snprintf(g->login.busy[free_slot], sizeof(g->login.busy[0]), "%s",
	    addr[0] ? addr : "?");
	return free_slot;
}

int
gw_signin_init(struct gw *g)
{
	unsigned char r[24];
	char pw[49];
	int rc;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	sg_hex(r, sizeof(r), pw);
	rc = sg_passwd_hash(pw, strlen(pw), g->login.dummy);
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

/* 1 (matches a recent success), 0 (refused now), 2 (argon2id runs on
 * the work pool; cb(arg, ok) follows on the I/O thread) or -1 (too many
 * checks wait). p may be NULL (no such party): the check runs all the
 * same, against a hash of a random password, and fails. */
static int
check_password(struct gw *g, const char *addr, const struct sg_party *p,
    const char *pw, size_t pwlen, gw_login_cb cb, void *arg)
{
	struct login_work *a;
	unsigned char tag[32];
	/* an unknown party, or one that has no password here, costs the
	 * same argon2id check as a known one, against a hash of a random
	 * password, and fails: how long a refusal takes tells no one which
	 * party ids exist */
	int dummy = p == NULL || p->password == NULL;
	const char *hash = dummy ? g->login.dummy : p->password;

	if (!dummy) {
		cache_tag(g, p->id, p->password, pw, pwlen, tag);
		if (cache_hit(g, tag))
			return 1;
		/* a client opening many connections at once with the same
		 * password: one check answers them all */
		switch (join_check(g, tag, cb, arg)) {
		case 1:
			return 2;
		case -1:
			return -1;
		}
	}
	if ((a = calloc(1, sizeof(*a))) == NULL || pwlen >= sizeof(a->pw) ||
	    (a->hash = strdup(hash)) == NULL) {
		free(a);
		return 0;
	}
	if ((a->slot = busy_slot(g, addr)) < 0) {
		free(a->hash);
		free(a);
		return -1;
	}
	g->login.work[a->slot] = a;
	a->dummy = dummy;
	a->g = g;
	a->cb = cb;
	a->arg = arg;
	a->w.data = a;
	snprintf(a->party, sizeof(a->party), "%s", dummy ? "" : p->id);
	if (!dummy)
		memcpy(a->tag, tag, sizeof(a->tag));
	memcpy(a->pw, pw, pwlen);
	a->pwlen = pwlen;
	if (uv_queue_work(g->loop, &a->w, login_run, login_after) != 0) {
		g->login.busy[a->slot][0] = '\0';
		g->login.work[a->slot] = NULL;
		OPENSSL_cleanse(a->pw, sizeof(a->pw));
		free(a->hash);
		free(a);
		return 0;
	}
	return 2;
}

static struct gw_unauth_addr *
unauth_find(struct gw *g, const char *addr, int create)
{
	struct gw_unauth_addr *e, *empty = NULL;
	size_t i;

	if (g->unauth.addr == NULL && (!create || (g->unauth.addr = calloc(
	    GW_UNAUTH_ADDRS, sizeof(*g->unauth.addr))) == NULL))
		return NULL;
	for (i = 0; i < GW_UNAUTH_ADDRS; i++) {
		e = &g->unauth.addr[i];
		if (e->addr[0] && strcmp(e->addr, addr) == 0)
			return e;
		if (empty == NULL && e->n[0] == 0 && e->n[1] == 0)
			empty = e;
	}
	if (!create || empty == NULL)
		return NULL;
	snprintf(empty->addr, sizeof(empty->addr), "%s", addr);
	return empty;
}

int
gw_unauth_admit(struct gw *g, enum gw_front f, const char *addr)
{
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
	unsigned n = g->unauth.n[f], full = d->max_unauth, start = full / 2;
	struct gw_unauth_addr *e;
	uint32_t r;

	if (n >= full)
		return -1;
	if (n >= start && full > start) {
		/* refuse with probability (n - start + 1) / (full - start + 1) */
		if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1 ||
		    r % (full - start + 1) < n - start + 1)
			return -1;
	}
	if ((e = unauth_find(g, addr, 1)) == NULL ||
	    e->n[f] >= d->max_unauth_addr)
		return -1;
	e->n[f]++;
	g->unauth.n[f]++;
	g->count.unauthenticated++;
	return 0;
}

int
gw_admit(struct gw *g, enum gw_front f, const char *addr)
{
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;

	if (g->draining || g->count.connections >= d->max_connections ||
	    gw_signin_banned(g, addr) > (f == GW_FRONT_HTTPS ? GW_BAN_TOLD :
	    0))
		return -1;
	return gw_unauth_admit(g, f, addr);
}

void
gw_unauth_release(struct gw *g, enum gw_front f, const char *addr)
{
	struct gw_unauth_addr *e = unauth_find(g, addr, 0);

	if (e != NULL && e->n[f] > 0 && --e->n[f] == 0 && e->n[!f] == 0)
		e->addr[0] = '\0';
	if (g->unauth.n[f] > 0)
		g->unauth.n[f]--;
	if (g->count.unauthenticated > 0)
		g->count.unauthenticated--;
}


void
gw_signin_forget(struct gw *g)
{
	OPENSSL_cleanse(g->login.cache, sizeof(g->login.cache));
}

static const char *const via_names[] = { "https", "web", "sftp" };

static int
exempt(struct gw *g, const char *addr)
{
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;

	return sg_netmask_match(d->ban_exempt, d->nban_exempt, addr);
}

static int64_t
now_s(void)
{
	return gw_now_us() / 1000000;
}

unsigned
gw_signin_banned(struct gw *g, const char *addr)
{
	if (exempt(g, addr))
		return 0;
	return sg_bans_check(g->bans, addr, now_s());
}

/* Seconds addr is banned for, as a whole or for who (a party's id, or
 * the stand-in for an id that is no party's: see who_of). An exempt
 * network is never banned as a whole; its parties are, one by one. */
static unsigned
banned_for(struct gw *g, const char *addr, const char *who)
{
	char key[SG_BANS_KEY];
	unsigned a = 0, b = 0;

	if (!exempt(g, addr))
		a = sg_bans_check(g->bans, addr, now_s());
	if (who != NULL) {
		sg_bans_pair_key(addr, who, key);
		b = sg_bans_check(g->pair_bans, key, now_s());
	}
	return a > b ? a : b;
}

/* Whom failures are counted against from one address: the party, or for
 * an id that is no party's, a stand-in made from the id as typed, so
 * that a guessed id is banned after as many failures as a real one and
 * a ban tells no one which ids exist. NULL when nothing was typed. */
static const char *
who_of(const struct sg_party *p, const char *typed, char out[24])
{
	unsigned char md[32];
	unsigned int l = 32;
	char hx[65];

	if (p != NULL)
		return p->id;
	if (typed == NULL)
		return NULL;
	EVP_Digest(typed, strlen(typed), md, &l, EVP_sha256(), NULL);
	sg_hex(md, 8, hx);
	snprintf(out, 24, "?%.16s", hx);
	return out;
}

static void
ban_journal(const char *what, const char *f0, const char *f1,
    const char *front, unsigned secs)
{
	char d[64];
	const char *f[] = { f0, f1, front, d, NULL };

	snprintf(d, sizeof(d), "SCHOOLGATE_BAN_SECONDS=%u", secs);
	if (f1 == NULL)
		f[1] = front, f[2] = d, f[3] = NULL;
	gw_journalf(EV_BANNED, LOG_WARNING, f, "%s for %u s after repeated "
	    "failed sign-ins", what, secs);
}

/* A failure, journaled and counted; who as who_of() made it. */
static void
failed(struct gw *g, enum gw_via via, const char *addr, const char *party,
    const char *who)
{
	int64_t now = now_s();
	int known = strcmp(party, "unknown") != 0;
	const char *f[4];
	char a[80], b[128], c[48], key[SG_BANS_KEY], what[256];
	unsigned ban;

	snprintf(a, sizeof(a), "SCHOOLGATE_CLIENT=%s", addr);
	snprintf(b, sizeof(b), "SCHOOLGATE_PARTY=%s", party);
	snprintf(c, sizeof(c), "SCHOOLGATE_FRONT=%s", via_names[via]);
	f[0] = a, f[1] = b, f[2] = c, f[3] = NULL;
	gw_journalf(EV_AUTH_FAILED, LOG_NOTICE, f, "failed sign-in as %s "
	    "from %s over %s", party, addr, via_names[via]);
	/* the per-party throttle, whatever the address ("unknown" is no
	 * party's id) */
	if (known && (ban = sg_bans_fail(g->party_bans, party, party,
	    now)) > 0) {
		snprintf(what, sizeof(what), "password sign-ins as %s refused "
		    "from any address", party);
		ban_journal(what, b, NULL, c, ban);
	}
	/* this party (or this id) from this address: its neighbours
	 * behind the same address are not locked out; exempt networks
	 * too */
	if (who != NULL) {
		sg_bans_pair_key(addr, who, key);
		if ((ban = sg_bans_fail(g->pair_bans, key, party, now)) > 0) {
			snprintf(what, sizeof(what), "sign-ins as %s from "
			    "client %s banned", party, addr);
			ban_journal(what, a, b, c, ban);
		}
	}
	/* the whole address, at a much higher count; never an exempt one */
	if (exempt(g, addr))
		return;
	if ((ban = sg_bans_fail(g->bans, addr, party, now)) > 0) {
		snprintf(what, sizeof(what), "client %s banned (every party)",
		    addr);
		ban_journal(what, a, NULL, c, ban);
	}
}

void
gw_signin_failed(struct gw *g, enum gw_via via, const char *addr,
    const char *party)
{
	failed(g, via, addr, party, strcmp(party, "unknown") != 0 ? party :
	    NULL);
}

static void
succeeded(struct gw *g, const char *addr, const char *party)
{
	char key[SG_BANS_KEY];

	sg_bans_pair_key(addr, party, key);
	sg_bans_success(g->bans, addr, party);
	sg_bans_success(g->pair_bans, key, party);
	sg_bans_success(g->party_bans, party, party);
}

unsigned
gw_signin_unban(struct gw *g, const char *addr)
{
	int64_t now = now_s();
	unsigned n = sg_bans_lift(g->bans, addr, now) +
	    sg_bans_lift(g->pair_bans, addr, now);
	char a[80];
	const char *f[] = { a, NULL };

	snprintf(a, sizeof(a), "SCHOOLGATE_CLIENT=%s", addr);
	gw_journalf(EV_BANNED, LOG_NOTICE, f, "bans on client %s lifted by "
	    "an operator (%u active)", addr, n);
	return n;
}

/* May this party sign in by password over this front? */
static int
password_usable(const struct sg_party *p, enum gw_via via)
{
	return p != NULL && p->password != NULL &&
	    (via != GW_VIA_SFTP || p->sftp_password);
}

static enum gw_signin
signed_in(struct gw *g, const char *addr, const char *party,
    struct gw_signed *out)
{
	succeeded(g, addr, party);
	snprintf(out->party, sizeof(out->party), "%s", party);
	return GW_SIGNIN_OK;
}

static enum gw_signin
refused(struct gw *g, enum gw_via via, const char *addr, const char *party,
    const char *who, struct gw_signed *out)
{
	failed(g, via, addr, party, who);
	snprintf(out->party, sizeof(out->party), "%s", party);
	return GW_SIGNIN_REFUSED;
}

struct signin_wait {
	struct gw	*g;
	enum gw_via	 via;
	char		 addr[48];
	char		 party[96];	/* "unknown": no such party */
	char		 who[96];	/* failures count against (who_of) */
	gw_signin_cb	 cb;
	void		*arg;
};

static void
password_checked(void *arg, int ok)
{
	struct signin_wait *w = arg;
	struct gw *g = w->g;
	struct gw_signed out;
	enum gw_signin r;

	memset(&out, 0, sizeof(out));
	/* decided against the configuration in force when the check ends:
	 * a party removed (or its password withdrawn) meanwhile fails */
	if (ok && password_usable(sg_config_party(g->conf->cfg, w->party),
	    w->via))
		r = signed_in(g, w->addr, w->party, &out);
	else
		r = refused(g, w->via, w->addr, w->party, w->who[0] ? w->who :
		    NULL, &out);
	w->cb(w->arg, r, &out);
	free(w);
}

enum gw_signin
gw_signin_password(struct gw *g, enum gw_via via, const char *addr,
    const char *user, const char *pw, size_t pwlen, gw_signin_cb cb,
    void *arg, struct gw_signed *out)
{
	const struct sg_party *p = user ? sg_config_party(g->conf->cfg, user) :
	    NULL;
	const char *party = p ? p->id : "unknown";
	char stand_in[24];
	const char *who = who_of(p, user, stand_in);
	struct signin_wait *w;
	int rc, throttled;

	memset(out, 0, sizeof(*out));
	snprintf(out->party, sizeof(out->party), "%s", party);
	if ((out->retry = banned_for(g, addr, who)) > 0)
		return GW_SIGNIN_BANNED;
	if (pw == NULL)
		return refused(g, via, addr, party, who, out);
	/* a party throttled after failures from anywhere is refused even
	 * with the right password, after the same check as any other */
	throttled = p != NULL && sg_bans_check(g->party_bans, p->id,
	    now_s()) > 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return GW_SIGNIN_BUSY;
	w->g = g;
	w->via = via;
	w->cb = cb;
	w->arg = arg;
	snprintf(w->addr, sizeof(w->addr), "%s", addr);
	snprintf(w->party, sizeof(w->party), "%s", party);
	snprintf(w->who, sizeof(w->who), "%s", who ? who : "");
	/* an unknown party, or one whose password is not for this front,
	 * is checked against nothing, for as long, and fails */
	rc = check_password(g, addr, !throttled && password_usable(p, via) ?
	    p : NULL, pw, pwlen, password_checked, w);
	if (rc == 2)
		return GW_SIGNIN_WAIT;
	free(w);
	if (rc < 0)
		return GW_SIGNIN_BUSY;
	if (rc == 1)
		return signed_in(g, addr, party, out);
	return refused(g, via, addr, party, who, out);
}

enum gw_signin
gw_signin_basic(struct gw *g, const char *addr, const char *b64,
    gw_signin_cb cb, void *arg, struct gw_signed *out)
{
	const struct sg_config *cfg = g->conf->cfg;
	unsigned char dec[512];
	char *colon, *second;
	long n;
	enum gw_signin r;

	memset(out, 0, sizeof(*out));
	if ((n = sg_b64_decode(b64, strlen(b64), dec, sizeof(dec) - 1,
	    1)) < 0) {
		OPENSSL_cleanse(dec, sizeof(dec));	/* part decoded */
		return GW_SIGNIN_MALFORMED;
	}
	dec[n] = '\0';
	/* party ids are "kind:name", so the user-id itself holds a colon:
	 * the password starts after the colon that ends a known party id */
	if ((colon = memchr(dec, ':', (size_t)n)) != NULL &&
	    (second = strchr(colon + 1, ':')) != NULL) {
		*second = '\0';
		if (sg_config_party(cfg, (char *)dec) != NULL)
			colon = second;
		*second = ':';
	}
	if (colon == NULL) {
		OPENSSL_cleanse(dec, sizeof(dec));
		if ((out->retry = banned_for(g, addr, NULL)) > 0)
			return GW_SIGNIN_BANNED;
		return refused(g, GW_VIA_API, addr, "unknown", NULL, out);
	}
	*colon = '\0';
	r = gw_signin_password(g, GW_VIA_API, addr, (char *)dec, colon + 1,
	    (size_t)n - (size_t)(colon + 1 - (char *)dec), cb, arg, out);
	OPENSSL_cleanse(dec, sizeof(dec));
	return r;
}

enum gw_signin
gw_signin_token(struct gw *g, const char *addr, const char *token,
    struct gw_signed *out)
{
	const struct sg_config *cfg = g->conf->cfg;
	char th[SG_TOKEN_HASH_LEN];
	size_t i, j;

	memset(out, 0, sizeof(*out));
	sg_token_hash(token, strlen(token), th);
	for (i = 0; i < cfg->nparties; i++)
		for (j = 0; j < cfg->parties[i].ntokens; j++)
			if (sg_secret_eq(cfg->parties[i].tokens[j], th)) {
				if ((out->retry = banned_for(g, addr,
				    cfg->parties[i].id)) > 0)
					return GW_SIGNIN_BANNED;
				return signed_in(g, addr, cfg->parties[i].id,
				    out);
			}
	if ((out->retry = banned_for(g, addr, NULL)) > 0)
		return GW_SIGNIN_BANNED;
	return refused(g, GW_VIA_API, addr, "unknown", NULL, out);
}

enum gw_signin
gw_signin_cert(struct gw *g, const char *addr, const char *sha256_hex,
    struct gw_signed *out)
{
	const struct sg_config *cfg = g->conf->cfg;
	size_t i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cfg->nparties; i++)
		for (j = 0; j < cfg->parties[i].ncerts; j++)
			if (sg_secret_eq(cfg->parties[i].cert_sha256[j],
			    sha256_hex)) {
				if ((out->retry = banned_for(g, addr,
				    cfg->parties[i].id)) > 0)
					return GW_SIGNIN_BANNED;
				return signed_in(g, addr, cfg->parties[i].id,
				    out);
			}
	/* a certificate that is no party's: the other credentials may
	 * still sign the connection in */
	return GW_SIGNIN_NEXT;
}

enum gw_signin
gw_signin_ssh_key(struct gw *g, const char *addr, const char *user,
    const char *key, int proof, struct gw_signed *out)
{
	const struct sg_party *p = user ? sg_config_party(g->conf->cfg, user) :
	    NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	snprintf(out->party, sizeof(out->party), "%s", p ? p->id :
	    "unknown");
	{
		char stand_in[24];

		if ((out->retry = banned_for(g, addr, who_of(p, user,
		    stand_in))) > 0)
			return GW_SIGNIN_BANNED;
	}
	for (i = 0; p != NULL && i < p->nssh_keys; i++)
		if (strcmp(p->ssh_keys[i], key) == 0) {
			if (proof < 0)	/* a signature that does not verify */
				return refused(g, GW_VIA_SFTP, addr, p->id,
				    p->id, out);
			return proof > 0 ? signed_in(g, addr, p->id, out) :
			    GW_SIGNIN_KEY_OK;
		}
	/* clients offer their keys in turn: a key that is not one of the
	 * party's is not yet a failure */
	return GW_SIGNIN_NEXT;
}
