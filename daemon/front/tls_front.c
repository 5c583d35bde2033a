/*
 * tls_front: the HTTPS front door's TLS, in a process of its own
 * (schoolgated --front-tls, started by the core from its own executable;
 * tls_link.c is the core's side).
 *
 * The core accepts each client, decides whether it may connect (bans,
 * budgets, draining), and hands over its TCP connection with one end of
 * a socketpair. This process does the handshake, tells the core on that
 * socket which client certificate was shown (tls_wire.h's preamble), and
 * then moves bytes: what the client sends, decrypted, to the core; what
 * the core writes, encrypted, to the client. HTTP is the core's.
 *
 * It holds the TLS certificate and key (sent by the core at start and at
 * each reload, never read from a file) and the clients' connections, and
 * nothing else: no password or token hash, no key of the store or the
 * log, no stored file. Once started it is sandboxed (base/sandbox.h): no
 * path can be opened, no socket made, no process made, no program run.
 * A crash here ends the HTTPS connections (the core abandons their
 * uploads in flight, which were never acknowledged) and the core starts
 * the process again.
 *
 * The core is this process's only master; what it says is checked all
 * the same (a message off its rules ends the process). Each connection's
 * work per wake-up is bounded, and its buffers are fixed: a client that
 * stops reading stops the core's writes to it, and the reverse.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/msg.h"
#include "front/https.h"
#include "front/tls_wire.h"

/* up to four TLS records of the client's to the core at a time (fewer
 * writes for an upload); one of the core's to the client */
#define UP_CAP		(64 * 1024)
#define DOWN_CAP	(16 * 1024)
/* rounds of work per wake-up for one connection */
#define DRIVE_ROUNDS	16

struct tlsfront;

struct rel {
	struct rel	*next, *prev;
	struct tlsfront	*f;
	int		 tfd, pfd;	/* the client's TCP; the core's */
	SSL		*ssl;
	uv_poll_t	 tpoll, ppoll;
	uv_timer_t	 tm;		/* more work; the end of the wait
					   for a client to take the rest */
	int		 tev, pev, handles;
	int		 hs;		/* the handshake is over */
	int		 want;		/* what TLS waits for on tfd */
	int		 again;		/* work left at the bound */
	int		 client_eof, core_eof, up_shut, closing;
	int		 core_hup;	/* the core closed its end ... */
	uint64_t	 hup_at;	/* ... then (ms) */
	int		 core_wgone;	/* nothing more can go to it */
	unsigned char	 up[UP_CAP];	/* the client's plaintext */
	size_t		 upoff, uplen;
	unsigned char	 down[DOWN_CAP];	/* the core's */
	size_t		 downoff, downlen;
};

struct tlsfront {
	uv_loop_t	*loop;
	uv_poll_t	 cpoll;
	struct sg_msgbuf *mb;
	SSL_CTX		*ctx;
	int		 conn_fd;	/* CONN's, until its PLAIN */
	uint32_t	 conn_id;
	struct rel	*list;
	unsigned	 n, max;	/* connections held; the bound */
	uint64_t	 linger_ms;
	int		 ending;	/* the core closed the channel */
};

static void drive(struct rel *);

/* ---- connections ---- */

static void
on_rel_closed(uv_handle_t *h)
{
	struct rel *r = h->data;

	if (--r->handles == 0)
		free(r);
}

static void
rel_close(struct rel *r)
{
	struct tlsfront *f = r->f;

	if (r->closing)
		return;
	r->closing = 1;
	if (r->prev)
		r->prev->next = r->next;
	else
		f->list = r->next;
	if (r->next)
		r->next->prev = r->prev;
	f->n--;
	SSL_free(r->ssl);
	r->ssl = NULL;
	OPENSSL_cleanse(r->up, sizeof(r->up));
	OPENSSL_cleanse(r->down, sizeof(r->down));
	uv_close((uv_handle_t *)&r->tpoll, on_rel_closed);
	uv_close((uv_handle_t *)&r->ppoll, on_rel_closed);
	uv_close((uv_handle_t *)&r->tm, on_rel_closed);
	close(r->tfd);
	close(r->pfd);
	if (f->ending && f->list == NULL)
		_exit(0);
}

static void
on_io(uv_poll_t *p, int status, int events)
{
	struct rel *r = p->data;

	if (status < 0) {
		rel_close(r);
		return;
	}
	if (p == &r->ppoll && (events & UV_DISCONNECT) && !r->core_hup) {
		r->core_hup = 1;
		r->hup_at = uv_now(r->f->loop);
	}
	drive(r);
}

static void
on_tm(uv_timer_t *t)
{
	struct rel *r = t->data;

	r->again = 0;
	if (r->core_hup && uv_now(r->f->loop) - r->hup_at >=
	    r->f->linger_ms) {
		/* the client did not take what the core wrote in time */
		rel_close(r);
		return;
	}
	drive(r);
}

static void
set_events(struct rel *r)
{
	int tev = 0, pev = 0;

	if (r->closing)
		return;
	if (r->want & UV_WRITABLE)
		tev |= UV_WRITABLE;
	if ((r->want & UV_READABLE) || (!r->hs && r->want == 0) ||
	    (r->hs && !r->client_eof && r->uplen < UP_CAP))
		tev |= UV_READABLE;
	if (r->upoff < r->uplen && !r->core_wgone)
		pev |= UV_WRITABLE;
	/* the core's end is watched even during the handshake, and while
	 * what it wrote waits for the client: when the core gives up on
	 * the connection, the wait is bounded */
	if (!r->core_eof && r->downoff == r->downlen)
		pev |= UV_READABLE;
	if (!r->core_hup)
		pev |= UV_DISCONNECT;
	if (tev != r->tev) {
		r->tev = tev;
		if (tev)
			uv_poll_start(&r->tpoll, tev, on_io);
		else
			uv_poll_stop(&r->tpoll);
	}
	if (pev != r->pev) {
		r->pev = pev;
		if (pev)
			uv_poll_start(&r->ppoll, pev, on_io);
		else
			uv_poll_stop(&r->ppoll);
	}
	if (r->again)
		uv_timer_start(&r->tm, on_tm, 0, 0);
	else if (r->core_hup) {
		uint64_t gone = uv_now(r->f->loop) - r->hup_at;

		uv_timer_start(&r->tm, on_tm, gone >= r->f->linger_ms ? 0 :
		    r->f->linger_ms - gone, 0);
	} else
		uv_timer_stop(&r->tm);
}

/* TLS's wish after an operation that did not finish: 0, or -1 (over). */
static int
tls_wants(struct rel *r, int rc)
{
	switch (SSL_get_error(r->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		r->want |= UV_READABLE;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		r->want |= UV_WRITABLE;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* The handshake is over: the preamble, first of what the core reads. */
static void
preamble(struct rel *r)
{
	X509 *x = SSL_get1_peer_certificate(r->ssl);
	unsigned int l = 32;

	memcpy(r->up, TW_MAGIC, 4);
	memset(r->up + 4, 0, TW_PREAMBLE - 4);
	if (x != NULL && X509_digest(x, EVP_sha256(), r->up + 5, &l) == 1 &&
	    l == 32)
		r->up[4] = 1;
	else
		memset(r->up + 5, 0, 32);
	X509_free(x);
#ifdef SG_ATTACK_HOOK
	/* a front taken over, lying to the core (tests/daemon/privsep) */
	if (getenv("SG_ATTACK_PREAMBLE") != NULL)
		r->up[4] = 7;
#endif
	r->upoff = 0;
	r->uplen = TW_PREAMBLE;
}

/* 1: progress was made; 0: none; -1: the connection is over. */
static int
round_once(struct rel *r)
{
	int progress = 0, n;
	ssize_t k;

	if (!r->hs) {
		ERR_clear_error();	/* another connection's */
		n = SSL_do_handshake(r->ssl);
		if (n == 1) {
			r->hs = 1;
			preamble(r);
			progress = 1;
		} else if (tls_wants(r, n) != 0)
			return -1;
	}
	/* the client's, to the core */
	if (r->hs && !r->client_eof && r->uplen < UP_CAP) {
		ERR_clear_error();
		n = SSL_read(r->ssl, r->up + r->uplen, (int)(UP_CAP -
		    r->uplen));
		if (n > 0) {
			r->uplen += (size_t)n;
			progress = 1;
		} else if (tls_wants(r, n) != 0) {
			/* close_notify, or the connection's end */
			r->client_eof = 1;
			progress = 1;
		}
	}
	if (r->upoff < r->uplen && !r->core_wgone) {
		k = write(r->pfd, r->up + r->upoff, r->uplen - r->upoff);
		if (k > 0) {
			r->upoff += (size_t)k;
			if (r->upoff == r->uplen)
				r->upoff = r->uplen = 0;
			progress = 1;
		} else if (k < 0 && errno != EAGAIN && errno != EINTR) {
			/* the core closed its end: what the client sends
			 * is dropped, what the core wrote still goes */
			r->core_wgone = 1;
			r->client_eof = 1;
			r->upoff = r->uplen = 0;
			progress = 1;
		}
	}
	if (r->client_eof && r->uplen == 0 && !r->up_shut) {
		/* the core reads the end, answers what it has, closes */
		shutdown(r->pfd, SHUT_WR);
		r->up_shut = 1;
	}
	/* the core's, to the client */
	if (!r->core_eof && r->downoff == r->downlen) {
		k = read(r->pfd, r->down, DOWN_CAP);
		if (k > 0) {
			r->downoff = 0;
			r->downlen = (size_t)k;
			progress = 1;
		} else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->core_eof = 1;
			if (!r->core_hup) {
				r->core_hup = 1;
				r->hup_at = uv_now(r->f->loop);
			}
			progress = 1;
		}
	}
	if (r->hs && r->downoff < r->downlen) {
		ERR_clear_error();
		n = SSL_write(r->ssl, r->down + r->downoff, (int)(r->downlen -
		    r->downoff));
		if (n > 0) {
			r->downoff += (size_t)n;
			progress = 1;
		} else if (tls_wants(r, n) != 0)
			return -1;
	}
	if (r->core_eof && r->downoff == r->downlen) {
		/* all the core wrote has gone: close_notify, and the end */
		if (r->hs) {
			ERR_clear_error();
			(void)SSL_shutdown(r->ssl);
			ERR_clear_error();
		}
		return -1;
	}
	return progress;
}

static void
drive(struct rel *r)
{
	int k, rc;

	r->again = 0;
	for (k = 0; k < DRIVE_ROUNDS && !r->closing; k++) {
		r->want = 0;
		if ((rc = round_once(r)) < 0) {
			rel_close(r);
			return;
		}
		if (rc == 0)
			break;
	}
	if (k == DRIVE_ROUNDS)
		r->again = 1;	/* more to do: on the loop's next turn, after
				   the others */
	set_events(r);
}

static void
rel_new(struct tlsfront *f, int tfd, int pfd)
{
	struct rel *r;

	if (f->ctx == NULL || f->n >= f->max ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		goto bad;
	r->f = f;
	r->tfd = tfd;
	r->pfd = pfd;
	if ((r->ssl = SSL_new(f->ctx)) == NULL ||
	    SSL_set_fd(r->ssl, tfd) != 1) {
		SSL_free(r->ssl);
		free(r);
		goto bad;
	}
	SSL_set_mode(r->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_accept_state(r->ssl);
	fcntl(tfd, F_SETFL, fcntl(tfd, F_GETFL) | O_NONBLOCK);
	fcntl(pfd, F_SETFL, fcntl(pfd, F_GETFL) | O_NONBLOCK);
	uv_poll_init(f->loop, &r->tpoll, tfd);
	uv_poll_init(f->loop, &r->ppoll, pfd);
	uv_timer_init(f->loop, &r->tm);
	r->tpoll.data = r->ppoll.data = r->tm.data = r;
	r->handles = 3;
	f->n++;
	r->next = f->list;
	if (f->list)
		f->list->prev = r;
	f->list = r;
	drive(r);
	return;
bad:
	close(tfd);	/* that client is refused; the front carries on */
	close(pfd);
}

/* ---- the core ---- */

static int
conf(struct tlsfront *f, const struct sg_msg *m)
{
	static char cert[TLS_PEM_MAX + 1], key[TLS_PEM_MAX + 1];
	char err[SG_ERR_MAX];
	uint64_t want, linger, max;
	SSL_CTX *ctx;

	if (sg_msg_field_str(m->data, m->len, TWF_CERT, cert,
	    sizeof(cert)) != 0 || sg_msg_field_str(m->data, m->len, TWF_KEY,
	    key, sizeof(key)) != 0 || sg_msg_field_u64(m->data, m->len,
	    TWF_WANT_CERTS, &want) != 0 || want > 1 ||
	    sg_msg_field_u64(m->data, m->len, TWF_LINGER, &linger) != 0 ||
	    linger == 0 || linger > 86400 ||
	    sg_msg_field_u64(m->data, m->len, TWF_MAX, &max) != 0 ||
	    max == 0 || max > 1000000) {
		OPENSSL_cleanse((void *)m->data, m->len);
		return -1;
	}
	ctx = gw_tls_ctx(cert, key, (int)want, err);
	/* the key's text, here and in the channel's buffer */
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse((void *)m->data, m->len);
	f->linger_ms = linger * 1000;
	f->max = (unsigned)max;
	if (ctx == NULL) {
		fprintf(stderr, "schoolgated: the TLS front door: %s\n", err);
		return -1;
	}
	/* the connections under way keep the old one (counted) */
	SSL_CTX_free(f->ctx);
	f->ctx = ctx;
	return 0;
}

/* 0, or -1: the core broke the protocol (the process ends). */
static int
from_core(struct tlsfront *f, struct sg_msg *m)
{
	if (m->len > 0 && sg_msg_fields_ok(m->data, m->len) != 0)
		return -1;
	switch (m->type) {
	case TW_CONF:
		return conf(f, m);
	case TW_CONN:
		if (f->conn_fd >= 0)
			return -1;
		f->conn_fd = m->fd;
		f->conn_id = m->peer;
		m->fd = -1;
		return 0;
	case TW_PLAIN: {
		int tfd = f->conn_fd;

		if (tfd < 0 || m->peer != f->conn_id)
			return -1;
		f->conn_fd = -1;
		rel_new(f, tfd, m->fd);		/* takes both */
		m->fd = -1;
		return 0;
	}
	}
	return -1;
}

/* The core closed the channel (it is ending): what it wrote to each
 * connection is passed on, then the process ends (the core waits a
 * little for it). */
static void
ending(struct tlsfront *f)
{
	uv_poll_stop(&f->cpoll);
	f->ending = 1;
	if (f->list == NULL)
		_exit(0);
}

static void
on_core(uv_poll_t *p, int status, int events)
{
	struct tlsfront *f = p->data;
	char err[256];

	(void)events;
	if (status < 0)
		_exit(1);	/* the channel failed */
	for (;;) {
		struct sg_msg m;
		ssize_t n;
		int rc;

		while ((rc = sg_msgbuf_get(f->mb, tw_to_front,
		    TW_NRULES(tw_to_front), &m, err, sizeof(err))) == 1) {
			int bad = from_core(f, &m);

			if (m.fd >= 0)
				close(m.fd);
			if (bad)
				_exit(1);
		}
		if (rc < 0) {
			fprintf(stderr, "schoolgated: the TLS front door: %s\n",
			    err);
			_exit(1);
		}
		if ((n = sg_msgbuf_fill(f->mb)) == 0) {
			ending(f);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				_exit(1);	/* only its end is an end */
			return;
		}
	}
}

int
gw_tls_front_main(int sandbox, unsigned ord)
{
	static struct tlsfront front;
	struct tlsfront *f = &front;
	pid_t core;

	if ((core = gw_front_begin("sg-tls-front")) < 0)
		return 1;
	f->conn_fd = -1;
	/* what OpenSSL loads and seeds, while files can still be opened */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_LOAD_CONFIG,
	    NULL) != 1)
		return 1;
	{
		SSL_CTX *c = SSL_CTX_new(TLS_server_method());
		unsigned char b[16];

		/* the algorithms' tables and the random generator: made
		 * now, not in the sandbox */
		SSL_CTX_free(c);
		EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "X25519"));
		EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
		if (RAND_bytes(b, sizeof(b)) != 1)
			return 1;
	}
	if ((f->mb = sg_msgbuf_new(3)) == NULL)
		return 1;
	if (gw_front_ready(sandbox, core, ord, "tls-front", TW_READY, TWF_OK,
	    TWF_WHY) != 0 || (f->loop = uv_default_loop()) == NULL)
		return 1;
	uv_poll_init(f->loop, &f->cpoll, 3);
	f->cpoll.data = f;
	uv_poll_start(&f->cpoll, UV_READABLE | UV_DISCONNECT, on_core);
	uv_run(f->loop, UV_RUN_DEFAULT);
	return 0;
}
