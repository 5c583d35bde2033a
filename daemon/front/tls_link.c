/*
 * tls_link: the core's side of the HTTPS front door's TLS. TLS runs in a
 * process of its own (tls_front.c, schoolgated --front-tls), which
 * fproc.c starts and starts again; HTTP runs here, in the core (http.c),
 * over one socketpair per connection whose other end the front holds.
 *
 * The core accepts each client itself and decides whether it may
 * connect (draining, max_connections, long bans, the budget of
 * connections not signed in) before the front sees a byte of it. It
 * reads the TLS certificate and key and sends them to the front, at
 * start and at each reload; the front opens no file.
 *
 * What the front writes on a connection's socket is input like any
 * client's: its preamble (which client certificate was shown) is
 * checked before anything of it is parsed, and HTTP is parsed as before.
 * The front cannot name an address no client connected from: the core
 * took each at accept. It can claim a client certificate's fingerprint,
 * as it is the one that sees the certificate, and send requests on any
 * connection it holds (README, "The TLS front door").
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "base/codec.h"
#include "front/fproc.h"
#include "front/http.h"
#include "front/tls_wire.h"
#include "seal/keys.h"

/* ---- the front's process ---- */

static void
tell_conf(struct https_front *h)
{
	const struct sg_daemon_conf *d = &h->g->conf->cfg->daemon;
	struct sg_msgb b;

	if (h->p == NULL)
		return;
	sg_msgb_init(&b);
	sg_msg_put_str(&b, TWF_CERT, h->cert_pem);
	sg_msg_put_str(&b, TWF_KEY, h->key_pem);
	sg_msg_put_u64(&b, TWF_WANT_CERTS, (uint64_t)h->want_certs);
	sg_msg_put_u64(&b, TWF_LINGER, d->idle_seconds);
	/* those the core holds, and as many it has closed whose client
	 * has yet to take the end of what it wrote */
	sg_msg_put_u64(&b, TWF_MAX, 2 * (uint64_t)d->max_connections);
	if (b.ok)
		(void)gw_fproc_tell(h->p, TW_CONF, 0, -1, &b);
	OPENSSL_cleanse(b.buf, b.len);
	sg_msgb_free(&b);
}

/* After READY the front has nothing to say on the channel. */
static int
from_front(void *arg, struct sg_msg *m)
{
	(void)arg;
	(void)m;
	return -1;
}

static void
front_started(void *arg, struct gw_fproc *p)
{
	struct https_front *h = arg;

	h->p = p;
	tell_conf(h);
	tls_link_listen(h, 1);
}

/* Ended: new clients wait in the backlog; its connections end here
 * (their uploads in flight were never acknowledged: nothing is kept). */
static unsigned
front_ended(void *arg)
{
	struct https_front *h = arg;
	unsigned n = 0;

	tls_link_listen(h, 0);
	while (h->conns != NULL) {
		http_close(h->conns);
		n++;
	}
	return n;
}

static const struct gw_fproc_def tls_front = {
	.title = "the TLS front door", .process = "tls-front",
	.argv0 = "schoolgated-tls", .flag = "--front-tls", .down = "HTTPS",
	.rules = tw_to_core, .nrules = TW_NRULES(tw_to_core),
	.ready = TW_READY, .ready_ok = TWF_OK, .ready_why = TWF_WHY,
	.message = from_front, .started = front_started, .lost = front_ended,
};

/* ---- accepting ---- */

static void
on_client(void *arg, int fd, const char *addr)
{
	struct https_front *h = arg;
	struct gw *g = h->g;
	int one = 1, sv[2];

	if (!gw_fproc_up(h->p) || gw_admit(g, GW_FRONT_HTTPS, addr) != 0) {
		/* over a limit (or long banned): no TLS work at all */
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		gw_unauth_release(g, GW_FRONT_HTTPS, addr);
		close(fd);
		return;
	}
	if (++h->next_id == 0)
		h->next_id = 1;
	/* the descriptors are the queue's from here */
	(void)gw_fproc_tell(h->p, TW_CONN, h->next_id, fd, NULL);
	(void)gw_fproc_tell(h->p, TW_PLAIN, h->next_id, sv[1], NULL);
	if (http_conn_new(h, sv[0], addr) == NULL) {
		gw_unauth_release(g, GW_FRONT_HTTPS, addr);
		close(sv[0]);
	}
}

void
tls_link_listen(struct https_front *h, int on)
{
	gw_acceptor_on(h->acc, on && h->listening);
}

static int
want_certs(const struct sg_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nparties; i++)
		if (cfg->parties[i].ncerts > 0)
			return 1;
	return 0;
}

int
tls_link_start(struct https_front *h, int fd, char err[SG_ERR_MAX])
{
	const struct sg_config *cfg = h->g->conf->cfg;

	h->lfd = -1;
	h->want_certs = want_certs(cfg);
	if (gw_tls_pems(&cfg->daemon, &h->cert_pem, &h->key_pem, err) != 0)
		goto bad;
	if (fd < 0 && (fd = gw_listen_socket(cfg->daemon.https_listen,
	    "daemon.https.listen", err)) < 0)
		goto bad;
	h->lfd = fd;
	fd = -1;
	fcntl(h->lfd, F_SETFL, fcntl(h->lfd, F_GETFL) | O_NONBLOCK);
	if ((h->acc = gw_acceptor_new(h->g->loop, h->lfd, on_client, h)) ==
	    NULL) {
		sg_errf(err, "cannot watch daemon.https.listen");
		goto bad;
	}
	h->listening = 1;
	if (gw_fproc_new(h->g, &tls_front, h, err) == NULL)
		goto bad;
	return 0;
bad:
	if (fd >= 0)
		close(fd);
	h->p = NULL;
	h->listening = 0;
	tls_link_close(h);
	return -1;
}

/* New TLS settings (a certificate renewed, a party with a client
 * certificate): checked here, then sent; new connections use them. */
int
tls_link_reload(struct https_front *h, char err[SG_ERR_MAX])
{
	char *cert, *key;

	if (gw_tls_pems(&h->g->conf->cfg->daemon, &cert, &key, err) != 0)
		return -1;
	sg_wipe_free(h->cert_pem);
	sg_wipe_free(h->key_pem);
	h->cert_pem = cert;
	h->key_pem = key;
	h->want_certs = want_certs(h->g->conf->cfg);
	tell_conf(h);
	return 0;
}

void
tls_link_close(struct https_front *h)
{
	h->listening = 0;
	gw_acceptor_free(h->acc);
	h->acc = NULL;
	gw_fproc_close(h->p);
}

void
tls_link_free(struct https_front *h)
{
	gw_fproc_free(h->p);	/* the front sees the end, and exits */
	h->p = NULL;
	if (h->lfd >= 0)
		close(h->lfd);
	h->lfd = -1;
	sg_wipe_free(h->cert_pem);
	sg_wipe_free(h->key_pem);
	h->cert_pem = h->key_pem = NULL;
}

int
gw_https_port(struct https_front *h)
{
	return gw_socket_port(h->lfd);
}

pid_t
gw_https_pid(struct https_front *h)
{
	return h->p ? gw_fproc_pid(h->p) : 0;
}

/* ---- a connection's bytes (front/http.h's tls_*) ---- */

void
tls_written(uv_write_t *w, int status)
{
	struct conn *c = w->data;
	size_t len = *(size_t *)(w + 1);

	free(w);
	c->wpending -= len;
	c->refs--;
	if (c->closing) {
		http_close(c);
		return;
	}
	if (status < 0) {
		http_close(c);
		return;
	}
	uv_timer_again(&c->idle);
	if (c->st == ST_STREAM)
		http_pump(c);
	else if (c->st == ST_DONE && c->wpending == 0)
		http_finish_response(c);
}

/* To the front, which encrypts it for the client. */
void
tls_send(struct conn *c, const void *buf, size_t len)
{
	uv_write_t *w;
	uv_buf_t ub;
	char *p;

	if (c->closing || len == 0)
		return;
	if ((w = malloc(sizeof(*w) + sizeof(size_t) + len)) == NULL) {
		c->close_after = 1;
		return;
	}
	p = (char *)(w + 1) + sizeof(size_t);
	memcpy(p, buf, len);
	*(size_t *)(w + 1) = len;
	ub = uv_buf_init(p, (unsigned)len);
	w->data = c;
	if (uv_write(w, (uv_stream_t *)&c->pipe, &ub, 1, tls_written) != 0) {
		free(w);
		c->close_after = 1;
		return;
	}
	c->wpending += len;
	c->refs++;
}


/* What the front has passed on, decrypted: n > 0 bytes, 0 when nothing
 * is waiting, -1 when the preamble is not one (the connection ends). */
int
tls_read(struct conn *c, void *buf, size_t cap)
{
	static const unsigned char zero[32];
	int n;

	if (!c->pre_done) {
		n = BIO_read(c->rb, c->pre + c->prelen, (int)(TW_PREAMBLE -
		    c->prelen));
		if (n <= 0)
			return 0;
		c->prelen += (size_t)n;
		if (c->prelen < TW_PREAMBLE)
			return 0;
		if (memcmp(c->pre, TW_MAGIC, 4) != 0 || c->pre[4] > 1 ||
		    (c->pre[4] == 0 && memcmp(c->pre + 5, zero, 32) != 0)) {
			/* the front broke the protocol: it is started
			 * again (and this connection ends) */
			if (c->front->p != NULL)
				gw_fproc_lost_later(c->front->p, "it broke the "
				    "protocol (a connection's preamble)");
			return -1;
		}
		if (c->pre[4] == 1)
			sg_hex(c->pre + 5, 32, c->peer_sha256);
		else
			c->peer_sha256[0] = '\0';
		c->pre_done = 1;
	}
	n = BIO_read(c->rb, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	return n > 0 ? n : 0;
}


void
tls_peer_sha256(struct conn *c, char hex[65])
{
	memcpy(hex, c->peer_sha256, 65);
}
