/*
 * login: what every front door does to sign a party in and to count the
 * failures: password checks (argon2id on libuv's work pool, never on the
 * I/O thread, with a short keyed cache of successes), failure journaling
 * and the per-address bans; and the listening socket both fronts open.
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
gw_login_init(struct gw *g)
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

int
gw_login_password(struct gw *g, const char *addr, const struct sg_party *p,
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
		if (sg_bans_check(g->party_bans, p->id, gw_now_us() /
		    1000000) > 0)
			return 0;	/* throttled: not even the right one */
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
	g->n.unauthenticated++;
	return 0;
}

void
gw_unauth_release(struct gw *g, enum gw_front f, const char *addr)
{
	struct gw_unauth_addr *e = unauth_find(g, addr, 0);

	if (e != NULL && e->n[f] > 0 && --e->n[f] == 0 && e->n[!f] == 0)
		e->addr[0] = '\0';
	if (g->unauth.n[f] > 0)
		g->unauth.n[f]--;
	if (g->n.unauthenticated > 0)
		g->n.unauthenticated--;
}

void
gw_login_flush(struct gw *g)
{
	OPENSSL_cleanse(g->login.cache, sizeof(g->login.cache));
}

unsigned
gw_login_failed(struct gw *g, const char *addr, const char *party,
    const char *front)
{
	int64_t now = gw_now_us() / 1000000;
	unsigned ban = sg_bans_fail(g->bans, addr, party, now), pban = 0;
	const char *f[4];
	char a[80], b[128], c[48];

	snprintf(a, sizeof(a), "SCHOOLGATE_CLIENT=%s", addr);
	snprintf(b, sizeof(b), "SCHOOLGATE_PARTY=%s", party);
	snprintf(c, sizeof(c), "SCHOOLGATE_FRONT=%s", front);
	f[0] = a, f[1] = b, f[2] = c, f[3] = NULL;
	gw_journalf(EV_AUTH_FAILED, LOG_NOTICE, f, "failed login from %s "
	    "over %s", addr, front);
	/* the per-party throttle, whatever the address ("unknown" is no
	 * party's id) */
	if (strcmp(party, "unknown") != 0)
		pban = sg_bans_fail(g->party_bans, party, party, now);
	if (pban > 0) {
		char d[64];
		const char *f2[] = { b, d, c, NULL };

		snprintf(d, sizeof(d), "SCHOOLGATE_BAN_SECONDS=%u", pban);
		gw_journalf(EV_BANNED, LOG_WARNING, f2, "password sign-ins as "
		    "%s refused for %u s after repeated failures from any "
		    "address", party, pban);
	}
	if (ban > 0) {
		char d[64];
		const char *f2[] = { a, d, c, NULL };

		snprintf(d, sizeof(d), "SCHOOLGATE_BAN_SECONDS=%u", ban);
		gw_journalf(EV_BANNED, LOG_WARNING, f2, "client %s banned for "
		    "%u s after repeated failed logins", addr, ban);
	}
	return ban;
}

unsigned
gw_login_banned(struct gw *g, const char *addr)
{
	return sg_bans_check(g->bans, addr, gw_now_us() / 1000000);
}

void
gw_login_ok(struct gw *g, const char *addr, const char *party)
{
	sg_bans_success(g->bans, addr, party);
	sg_bans_success(g->party_bans, party, party);
}

int
gw_listen_socket(const char *listen_on, const char *setting,
    char err[SG_ERR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64];
	const char *colon;
	int port, fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (listen_on == NULL || (colon = strrchr(listen_on, ':')) == NULL ||
	    (size_t)(colon - listen_on) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535)
		return sg_errf(err, "%s: want address:port", setting);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_on),
	    listen_on);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0)
		sl = sizeof(struct sockaddr_in);
	else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0)
		sl = sizeof(struct sockaddr_in6);
	else
		return sg_errf(err, "%s: bad address", setting);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return sg_errf(err, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    listen(fd, 511) != 0) {
		sg_errf(err, "cannot listen on %s: %s", listen_on,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
gw_socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
}

void
gw_peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	snprintf(buf, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &l) != 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    buf, (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    buf, (socklen_t)len);
}
