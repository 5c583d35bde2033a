/*
 * https: the HTTPS front door. TLS with OpenSSL over memory BIOs on the
 * libuv loop, HTTP/1.1 with llhttp (strict; keep-alive, chunked and
 * Content-Length bodies, Expect: 100-continue), the /v1 JSON API.
 *
 * Everything here runs on the I/O thread. Slow work goes elsewhere:
 * argon2id checks and durable log records to libuv's work pool, uploads
 * to the pipeline (gw_upload_*). A request's input is paused (the
 * parser and the socket) while such work is outstanding, so memory per
 * connection stays bounded.
 */
#include "gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <llhttp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/codec.h"
#include "base/html.h"
#include "front/https.h"
#include "policy/session.h"
#include "front/web.h"
#include "policy/vpath.h"
#include "base/json.h"
#include "seal/keys.h"
#include "log/tlog.h"

#define IN_CAP		(64 * 1024)
#define URL_MAX		2048
#define WRITE_MARK	(256 * 1024)
#define DL_CHUNK	(64 * 1024)

/* the request headers kept (others are read and dropped) */
enum { H_AUTH, H_EXPECT, H_ZIP, H_RANGE, H_CTYPE, H_COOKIE, H_CSRF,
    H_FETCHSITE, H_TE, H_NUM };

#define FORM_MAX	2048	/* a sign-in or sign-out form */
#define SESSIONS_MAX	4096
#define SESSIONS_PARTY	64	/* one party's share */
#define COOKIE_SESSION	"__Host-sg_session"
#define COOKIE_PRE	"__Host-sg_pre"

enum cstate {
	ST_HEADERS, ST_AUTH, ST_UPLOAD, ST_VERDICT, ST_WORK, ST_STREAM,
	ST_DONE
};

/* The HTTPS front door: its listener, TLS context, connections and the
 * web page's sessions. */
struct https_front {
	struct gw		*g;
	SSL_CTX			*ctx;
	uv_tcp_t		 listener;
	int			 listening;
	struct conn		*conns;
	int			 want_certs;
	struct sg_sessions	*sessions;	/* the web page's sign-ins */
};

struct conn {
	uv_tcp_t		 tcp;
	uv_timer_t		 idle;
	struct https_front	*front;
	struct conn		*next, *prev;
	SSL			*ssl;
	BIO			*rb, *wb;
	llhttp_t		 hp;
	char			 addr[48];
	int			 authed_once;
	int64_t			 accepted_at;	/* µs */
	char			 party[96];
	/* the request */
	char			 url[URL_MAX + 1];
	size_t			 urllen;
	char			 hname[32];
	size_t			 hnamelen;
	int			 hkeep;		/* index of header kept */
	char			 hv[H_NUM][512];	/* kept headers */
	size_t			 hvlen[H_NUM];
	char			 cookie[4096];	/* Cookie: other sites on
						   this host add theirs */
	size_t			 header_bytes;
	int			 header_overflow;
	int			 obs_fold;	/* a folded header line */
	const char		*exec_at;	/* what llhttp was given */
	unsigned char		 last_byte;	/* the byte before it */
	int			 msg_end;	/* llhttp saw the end */
	int			 skip_end;	/* of a request answered early */
	struct {			/* the header lines' ends */
		size_t	 pos;		/* in in[]: scanned to here */
		int	 on, prev, text, seen;
	}			 scan;
	enum cstate		 st;
	int			 paused;
	int			 reading;
	int			 close_after;
	int			 shut;		/* close_notify sent */
	int			 closing;
	int			 refs;
	int			 in_parser;
	const char		*cache;		/* Cache-Control */
	char			 form[FORM_MAX];	/* a web form's body */
	size_t			 formlen;
	unsigned char		 in[IN_CAP];
	size_t			 inoff, inlen;
	size_t			 wpending;
	/* upload */
	struct gw_upload	*up;
	uint64_t		 body_seen, body_max;
	int			 body_refused;
	int			 msg_done;	/* the whole request was read */
	int			 lingering;	/* answered early; draining */
	uint64_t		 linger_left;
	/* download */
	int			 dl_fd;
	struct sg_age_file	*af;
	uint64_t		 dl_off, dl_end;
	int			 dl_sealed;
	struct gw_dl_memo	 dl_memo;
};

static void http_close(struct conn *);
static void http_pump(struct conn *);
static void http_dispatch(struct conn *);
static void http_finish_response(struct conn *);
static void json_xfer(struct conn *, FILE *, struct gw_xfer *, int);
static void web_route(struct conn *, char *seg[], int n, const char *query);
static const struct sg_session *web_session(struct conn *);

/* ---- TLS ---- */

static int
accept_any_cert(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;	/* matched by fingerprint after the handshake */
}

SSL_CTX *
gw_tls_ctx(const struct sg_daemon_conf *d, int want_certs, char err[SG_ERR_MAX])
{
	SSL_CTX *ctx;
	char *keytext;
	BIO *b;
	EVP_PKEY *pk = NULL;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		sg_errf(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2: forward-secret AEAD suites only; 1.3 defaults are
	 * all AEAD */
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") != 1) {
		sg_errf(err, "cannot set the cipher suites");
		goto bad;
	}
	if (d->tls_cert == NULL || d->tls_key == NULL) {
		sg_errf(err, "daemon.https needs certificate and key");
		goto bad;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, d->tls_cert) != 1) {
		sg_errf(err, "%s: not a usable PEM certificate chain",
		    d->tls_cert);
		goto bad;
	}
	/* the key must be private to the service (chmod 600) */
	if ((keytext = sg_secret_file_read(d->tls_key, err)) == NULL)
		goto bad;
	b = BIO_new_mem_buf(keytext, -1);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	sg_wipe_free(keytext);
	if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(pk);
		sg_errf(err, "%s: not the private key of the certificate",
		    d->tls_key);
		goto bad;
	}
	EVP_PKEY_free(pk);
	/* a session may be resumed only by the context that made it; OpenSSL
	 * refuses every resumption, fatally, when peer verification is on
	 * and no context is set (client certificate parties) */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    "schoolgate", 10);
	if (want_certs)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_cert);
	return ctx;
bad:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
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

/* Moves TLS output to the socket. */
static void
tls_flush(struct conn *c)
{
	int n;

	while ((n = (int)BIO_ctrl_pending(c->wb)) > 0) {
		uv_write_t *w = malloc(sizeof(*w) + sizeof(size_t) + (size_t)n);
		char *buf = (char *)(w + 1) + sizeof(size_t);
		uv_buf_t ub;

		if (w == NULL) {
			http_close(c);
			return;
		}
		n = BIO_read(c->wb, buf, n);
		*(size_t *)(w + 1) = (size_t)n;
		ub = uv_buf_init(buf, (unsigned)n);
		w->data = c;
		if (uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, tls_written) !=
		    0) {
			free(w);
			http_close(c);
			return;
		}
		c->wpending += (size_t)n;
		c->refs++;
	}
}

static void
tls_send(struct conn *c, const void *buf, size_t len)
{
	if (c->closing || len == 0)
		return;
	if (SSL_write(c->ssl, buf, (int)len) <= 0) {
		c->close_after = 1;
		return;
	}
	tls_flush(c);
}

/* ---- responses ---- */

static const char *
reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Status line and headers; extra is "Name: value\r\n"... or NULL. */
static void
http_send_head(struct conn *c, int status, const char *ctype, uint64_t len,
    const char *extra)
{
	char h[2048];
	int n;

	/* the page's policy on every answer: scripts, styles, fonts and
	 * images only from here, no inline script, never in a frame */
	n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n"
	    "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
	    "Strict-Transport-Security: max-age=31536000\r\n"
	    "Content-Security-Policy: default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self'; font-src 'self'; "
	    "connect-src 'self'; manifest-src 'self'; form-action 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'\r\n"
	    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
	    "Cross-Origin-Opener-Policy: same-origin\r\n"
	    "Cross-Origin-Resource-Policy: same-origin\r\n%s%s\r\n",
	    status, reason(status), ctype, len,
	    c->cache ? c->cache : "no-store", extra ? extra : "",
	    c->close_after ? "Connection: close\r\n" : "");
	tls_send(c, h, (size_t)n);
}

static void
http_respond(struct conn *c, int status, const char *ctype, const char *body,
    size_t len, const char *extra)
{
	/* a JSON answer ends in a newline, as curl users expect */
	int nl = len > 0 && body[len - 1] != '\n' &&
	    strstr(ctype, "json") != NULL;

	http_send_head(c, status, ctype, len + (size_t)nl, extra);
	if (c->hp.method != HTTP_HEAD) {
		tls_send(c, body, len);
		if (nl)
			tls_send(c, "\n", 1);
	}
	c->st = ST_DONE;
	if (c->wpending == 0)
		http_finish_response(c);
}

static void
http_problem(struct conn *c, int status, const char *type, const char *detail,
    const char *extra)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		http_close(c);
		return;
	}
	fputs("{\"type\":", f);
	fprintf(f, "\"urn:schoolgate:problem:%s\"", type);
	fputs(",\"title\":", f);
	sg_json_str(f, reason(status));
	fprintf(f, ",\"status\":%d,\"detail\":", status);
	sg_json_str(f, detail);
	fputs("}\n", f);
	fclose(f);
	/* a refused request whose body was never read ends the connection */
	if (c->st == ST_HEADERS && (c->hp.flags & F_CONTENT_LENGTH) &&
	    c->hp.content_length > 0)
		c->close_after = 1;
	if (c->hp.flags & F_CHUNKED && c->st == ST_HEADERS)
		c->close_after = 1;
	http_respond(c, status, "application/problem+json", buf, len, extra);
	free(buf);
}

/* The access authority's answers as HTTP: the one table. */
static void
http_refuse(struct conn *c, enum gw_acc acc, const char *why)
{
	static const struct {
		int		 status;
		const char	*slug;
	} map[] = {
		[GW_ACC_OK] =		{ 500, "internal" },
		[GW_ACC_UNKNOWN] =	{ 404, "not-found" },
		[GW_ACC_REFUSED] =	{ 403, "forbidden" },
		[GW_ACC_INACTIVE] =	{ 403, "agreement-inactive" },
		[GW_ACC_BAD_NAME] =	{ 400, "bad-name" },
		[GW_ACC_DUPLICATE] =	{ 409, "duplicate" },
		[GW_ACC_BUSY] =		{ 503, "unavailable" },
	};

	http_problem(c, map[acc].status, map[acc].slug, why, acc == GW_ACC_BUSY ?
	    "Retry-After: 60\r\n" : NULL);
}

static void
http_not_found(struct conn *c)
{
	http_problem(c, 404, "not-found", "there is nothing here for you", NULL);
}

/* ---- connection life ---- */

static void
on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->refs > 0)
		return;
	free(c);
}

static void
http_close(struct conn *c)
{
	struct gw *g = c->front->g;

	if (!c->closing) {
		c->closing = 1;
		g->count.connections--;
		if (!c->authed_once)
			gw_unauth_release(g, GW_FRONT_HTTPS, c->addr);
		if (c->prev)
			c->prev->next = c->next;
		else
			c->front->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		if (c->up) {
			gw_upload_cancel(c->up);
			c->up = NULL;
		}
		if (c->af)
			sg_age_file_close(c->af);
		c->af = NULL;
		if (c->dl_fd >= 0)
			close(c->dl_fd);
		c->dl_fd = -1;
		SSL_free(c->ssl);	/* frees the BIOs */
		c->ssl = NULL;
		c->refs += 2;
		uv_close((uv_handle_t *)&c->idle, on_closed);
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
}

static void
on_idle(uv_timer_t *t)
{
	struct conn *c = t->data;

	/* waiting for our own work is not idleness */
	if (!c->lingering && (c->st == ST_VERDICT || c->st == ST_WORK || c->st == ST_AUTH ||
	    (c->st == ST_UPLOAD && c->paused)))
		return;	/* backpressure is our own slowness */
	http_close(c);
}

static void
set_reading(struct conn *c, int on);

static void
reset_request(struct conn *c)
{
	c->urllen = 0;
	c->url[0] = '\0';
	c->hnamelen = 0;
	c->hkeep = -1;
	memset(c->hvlen, 0, sizeof(c->hvlen));
	memset(c->hv, 0, sizeof(c->hv));
	c->cookie[0] = '\0';
	c->header_bytes = 0;
	c->header_overflow = 0;
	c->obs_fold = 0;
	c->body_seen = 0;
	c->body_max = 0;
	c->body_refused = 0;
	c->msg_done = 0;
	c->party[0] = '\0';
	c->cache = NULL;
	OPENSSL_cleanse(c->form, sizeof(c->form));
	c->formlen = 0;
	c->st = ST_HEADERS;
}

static void
http_finish_response(struct conn *c)
{
	int early;

	if (c->closing || c->in_parser)
		return;		/* tls_written or pump finishes it */
	if (c->close_after || !llhttp_should_keep_alive(&c->hp) ||
	    c->front->g->draining) {
		/* the answer first, then close_notify, then the socket */
		c->st = ST_DONE;
		c->close_after = 1;
		if (c->wpending > 0)
			return;		/* tls_written calls back */
		if (!c->shut) {
			c->shut = 1;
			SSL_shutdown(c->ssl);
			tls_flush(c);
			if (c->wpending > 0)
				return;
		}
		if (!c->msg_done && !c->lingering && c->st == ST_DONE) {
			/* answered before the end of the request (413 on a
			 * body outgrowing the flow): a close now would reset
			 * the connection and the client could lose the
			 * answer, so what it still sends is read and dropped
			 * for a short, bounded while (a "lingering close") */
			c->lingering = 1;
			c->linger_left = 8 << 20;
			set_reading(c, 1);
			uv_timer_start(&c->idle, on_idle, 2000, 0);
			return;
		}
		http_close(c);
		return;
	}
	/* answered before its end (a PUT refused at its headers, with no
	 * body): llhttp is still in that request, whose end is skipped */
	early = !c->msg_done;
	reset_request(c);
	c->skip_end = early;
	c->paused = 0;
	llhttp_resume(&c->hp);
	http_pump(c);
}

/* ---- reading ---- */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[64 * 1024];	/* the I/O thread's one buffer */

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n < 0) {
		http_close(c);
		return;
	}
	if (n == 0)
		return;
	if (c->lingering) {
		if ((uint64_t)n >= c->linger_left)
			http_close(c);
		else
			c->linger_left -= (uint64_t)n;
		return;
	}
	uv_timer_again(&c->idle);
	/* pre-auth work is bounded in time as well as in count: a client
	 * trickling bytes does not hold an unauthenticated slot forever */
	if (!c->authed_once && gw_now_us() - c->accepted_at >
	    (int64_t)c->front->g->conf->cfg->daemon.idle_seconds * 1000000) {
		http_close(c);
		return;
	}
	if (BIO_write(c->rb, b->base, (int)n) != (int)n) {
		http_close(c);
		return;
	}
	http_pump(c);
}

static void
set_reading(struct conn *c, int on)
{
	if (c->closing || on == c->reading)
		return;
	if (on)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = on;
}

static llhttp_settings_t settings;

/* RFC 9112 2.2: a line ends in CRLF. llhttp's strict mode refuses a bare
 * LF inside a header line, but takes one ending the request line, one
 * before it and one as the empty line that ends the headers, which a
 * proxy in front may read otherwise. This reads a request's head, from
 * its first byte to that empty line, before llhttp does. 0: a bare LF. */
static int
head_lines_ok(struct conn *c)
{
	size_t i;

	for (i = c->scan.pos; c->scan.on && i < c->inlen; i++) {
		int b = c->in[i];

		if (b == '\n') {
			if (c->scan.prev != '\r')
				return 0;
			if (!c->scan.text && c->scan.seen)
				c->scan.on = 0;	/* the body, if any, follows */
			c->scan.text = 0;
		} else if (b != '\r')
			c->scan.text = c->scan.seen = 1;
		c->scan.prev = b;
	}
	c->scan.pos = i;
	return 1;
}

/* The request does not parse: what request smuggling sends (both
 * Content-Length and Transfer-Encoding, two lengths, a bare LF, an
 * obs-fold line, a NUL, a chunk size that overflows) among the rest. A
 * 400 names the fault, then the connection ends; an upload under way is
 * cancelled first, so nothing of it is kept. */
static void
bad_request(struct conn *c, const char *why)
{
	c->close_after = 1;
	if (c->st == ST_UPLOAD) {
		gw_upload_cancel(c->up);
		c->up = NULL;
		c->st = ST_HEADERS;	/* so http_problem() answers */
	}
	if (c->st == ST_HEADERS)
		http_problem(c, 400, "bad-request", why ? why : "the request does "
		    "not parse", NULL);
	else if (c->st == ST_DONE) {
		if (c->wpending == 0)
			http_finish_response(c);	/* an answer already made */
	} else
		http_close(c);
}

/* Decrypts what has arrived and parses it, as far as the request lets
 * us; reads the socket only while there is room and nothing to wait
 * for. */
/* llhttp has read a whole request (and paused): the upload ends and
 * goes to its verdict, or the request is answered. A chunked body's
 * last line must end in CRLF too (llhttp takes a bare LF there). */
static void
message_end(struct conn *c)
{
	const char *end = (const char *)c->in + c->inoff;
	char before = end - 2 >= c->exec_at ? end[-2] : (char)c->last_byte;

	c->msg_end = 0;
	c->msg_done = 1;
	if ((c->hp.flags & F_CHUNKED) && before != '\r') {
		bad_request(c, "a line ends in a bare LF, not CRLF");
		return;
	}
	/* the next request's head starts here */
	memset(&c->scan, 0, sizeof(c->scan));
	c->scan.on = 1;
	c->scan.pos = c->inoff;
	if (c->skip_end) {	/* answered already: on to the next */
		c->skip_end = 0;
		c->msg_done = 0;
		c->paused = 0;
		llhttp_resume(&c->hp);
		return;
	}
	c->in_parser = 1;	/* an answer made now is finished by pump */
	if (c->st == ST_UPLOAD) {
		gw_upload_end(c->up);
		c->st = ST_VERDICT;
	} else if (c->st == ST_HEADERS && c->hp.method != HTTP_PUT)
		http_dispatch(c);
	c->in_parser = 0;
}

static void
http_pump(struct conn *c)
{
	int n, e, ended;

	if (c->closing)
		return;
	if (c->st == ST_STREAM) {
		/* a download: produce while the socket keeps up */
		unsigned char buf[DL_CHUNK];

		while (c->wpending < WRITE_MARK && c->dl_off < c->dl_end &&
		    !c->closing) {
			size_t want = c->dl_end - c->dl_off > DL_CHUNK ?
			    DL_CHUNK : (size_t)(c->dl_end - c->dl_off);
			ssize_t got = c->af ? sg_age_file_pread(c->af, buf,
			    want, c->dl_off) : pread(c->dl_fd, buf, want,
			    (off_t)c->dl_off);

			if (got <= 0) {
				/* mid-body: all we can do is cut it short */
				http_close(c);
				return;
			}
			tls_send(c, buf, (size_t)got);
			c->dl_off += (uint64_t)got;
		}
		if (c->dl_off >= c->dl_end && !c->closing) {
			if (c->af)
				sg_age_file_close(c->af);
			c->af = NULL;
			close(c->dl_fd);
			c->dl_fd = -1;
			c->st = ST_DONE;
			if (c->wpending == 0)
				http_finish_response(c);
		}
		return;
	}
	for (;;) {
		if (c->inoff < c->inlen && !c->paused) {
			const char *at = (const char *)c->in + c->inoff;

			if (!head_lines_ok(c)) {
				bad_request(c, "a line ends in a bare LF, not "
				    "CRLF");
				return;
			}
			c->in_parser = 1;
			c->exec_at = at;
			e = llhttp_execute(&c->hp, at, c->inlen - c->inoff);
			c->in_parser = 0;

			if (c->closing)
				return;
			/* llhttp stops where a callback paused it or where
			 * the error is; it keeps an error until re-inited,
			 * so a request it refused ends the connection */
			c->inoff = e == HPE_OK ? c->inlen : (size_t)
			    (llhttp_get_error_pos(&c->hp) -
			    (const char *)c->in);
			if (e == HPE_PAUSED)
				c->paused = 1;
			else if (e != HPE_OK) {
				bad_request(c, llhttp_get_error_reason(&c->hp));
				return;
			}
			if ((ended = c->msg_end) != 0) {
				message_end(c);
				if (c->closing)
					return;
			}
			if (c->inoff > 0)
				c->last_byte = c->in[c->inoff - 1];
			if (ended && !c->paused)
				continue;	/* parse what follows */
		}
		if (c->inoff == c->inlen)
			c->inoff = c->inlen = c->scan.pos = 0;
		if (c->paused || c->st == ST_DONE || c->closing)
			break;
		if (c->inlen == IN_CAP)
			break;
		n = SSL_read(c->ssl, c->in + c->inlen, (int)(IN_CAP - c->inlen));
		if (n > 0) {
			c->inlen += (size_t)n;
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		tls_flush(c);		/* an alert, if any */
		http_close(c);
		return;
	}
	tls_flush(c);
	if (c->closing)
		return;
	if (c->st == ST_DONE && c->wpending == 0) {
		http_finish_response(c);
		return;
	}
	set_reading(c, !c->paused && c->inlen < IN_CAP && c->st != ST_DONE);
}

/* ---- parser callbacks ---- */

static int
on_message_begin(llhttp_t *p)
{
	struct conn *c = p->data;

	reset_request(c);
	return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	c->header_bytes += len;
	if (c->urllen + len > URL_MAX) {
		c->header_overflow = 1;
		return 0;
	}
	memcpy(c->url + c->urllen, at, len);
	c->urllen += len;
	c->url[c->urllen] = '\0';
	return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	c->header_bytes += len;
	if (c->hkeep != -2) {	/* a value came before: a new name */
		c->hnamelen = 0;
		c->hkeep = -2;
	}
	if (c->hnamelen + len >= sizeof(c->hname))
		len = sizeof(c->hname) - 1 - c->hnamelen;
	memcpy(c->hname + c->hnamelen, at, len);
	c->hnamelen += len;
	c->hname[c->hnamelen] = '\0';
	return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
	static const char *const keep[H_NUM] = { "authorization", "expect",
	    "zip-password", "range", "content-type", "cookie", "x-csrf-token",
	    "sec-fetch-site", "transfer-encoding" };
	struct conn *c = p->data;
	int k, i;

	if (c->hkeep == -2) {	/* the name is complete */
		c->hkeep = -1;
		for (i = 0; i < H_NUM; i++)
			if (strcasecmp(c->hname, keep[i]) == 0)
				c->hkeep = i;
		/* a repeated header is not merged: it is refused */
		if (c->hkeep >= 0 && c->hvlen[c->hkeep] > 0)
			c->header_overflow = 1;
	}
	/* llhttp joins an obs-fold line (CRLF then a space) to the value
	 * before it; RFC 9112 5.2 lets a server refuse it, and we do: such a
	 * piece starts with a space or tab right after a line feed */
	if (len > 0 && (at[0] == ' ' || at[0] == '\t') &&
	    (at > c->exec_at ? at[-1] : (char)c->last_byte) == '\n')
		c->obs_fold = 1;
	k = c->hkeep;
	c->header_bytes += len;
	if (c->header_bytes > c->front->g->conf->cfg->daemon.header_bytes)
		c->header_overflow = 1;
	if (k >= 0) {
		char *v = k == H_COOKIE ? c->cookie : c->hv[k];
		size_t cap = k == H_COOKIE ? sizeof(c->cookie) :
		    sizeof(c->hv[k]);

		if (c->hvlen[k] + len >= cap)
			c->header_overflow = 1;
		else {
			memcpy(v + c->hvlen[k], at, len);
			c->hvlen[k] += len;
			v[c->hvlen[k]] = '\0';
		}
	}
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	if (c->header_overflow) {
		c->close_after = 1;
		http_problem(c, 431, "headers-too-large", "the request's headers "
		    "are too large", NULL);
		return HPE_PAUSED;
	}
	/* llhttp refuses a Content-Length after Transfer-Encoding but not
	 * one before it; RFC 9112 6.3 lets a server refuse either order,
	 * and a gateway has no client that needs both */
	if ((p->flags & F_CONTENT_LENGTH) && (p->flags & F_TRANSFER_ENCODING)) {
		bad_request(c, "Content-Length and Transfer-Encoding together");
		return HPE_PAUSED;
	}
	if (c->obs_fold) {
		bad_request(c, "a header line is folded (obs-fold)");
		return HPE_PAUSED;
	}
	/* chunked is the one transfer coding (llhttp takes "gzip, chunked",
	 * whose gzip nobody here would undo) */
	if ((p->flags & F_TRANSFER_ENCODING) &&
	    strcasecmp(c->hv[H_TE], "chunked") != 0) {
		bad_request(c, "the one Transfer-Encoding taken is chunked");
		return HPE_PAUSED;
	}
	/* an upload is decided now, before its body flows (100-continue,
	 * 401/403/413); everything else once its (empty) body is in */
	if (p->method != HTTP_PUT)
		return 0;
	http_dispatch(c);
	return c->st != ST_UPLOAD ? HPE_PAUSED : 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	int over;

	if (c->st != ST_UPLOAD && p->method == HTTP_POST) {
		/* a web form: kept, small */
		if (c->formlen + len > sizeof(c->form)) {
			c->close_after = 1;
			http_problem(c, 413, "too-large", "the form is too large",
			    NULL);
			return HPE_PAUSED;
		}
		memcpy(c->form + c->formlen, at, len);
		c->formlen += len;
		return 0;
	}
	if (c->st != ST_UPLOAD) {
		/* a body on a GET or DELETE: read and dropped, but bounded */
		c->body_seen += len;
		if (c->body_seen > 65536) {
			c->close_after = 1;
			http_problem(c, 413, "too-large", "this request takes no "
			    "body", NULL);
			return HPE_PAUSED;
		}
		return 0;
	}
	c->body_seen += len;
	if ((over = gw_upload_feed(c->up, at, len)) < 0) {
		gw_upload_cancel(c->up);
		c->up = NULL;
		c->close_after = 1;
		c->st = ST_HEADERS;	/* so http_problem() answers */
		http_problem(c, 413, "too-large", "the file is larger than this "
		    "flow accepts", NULL);
		return HPE_PAUSED;
	}
	return over ? HPE_PAUSED : 0;	/* backpressure */
}

static int
on_message_complete(llhttp_t *p)
{
	struct conn *c = p->data;

	c->msg_end = 1;		/* pump calls message_end() */
	return HPE_PAUSED;
}

static llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- upload callbacks (from the pipeline, on the I/O thread) ---- */

static void
up_resume(void *arg)
{
	struct conn *c = arg;

	if (c->st == ST_UPLOAD && c->paused) {
		c->paused = 0;
		llhttp_resume(&c->hp);
		http_pump(c);
	}
}

static void
up_done(void *arg, struct gw_upload *u)
{
	struct conn *c = arg;
	const struct gw_upload_result *r = gw_upload_result(u);
	char extra[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	c->up = NULL;
	if (c->st == ST_UPLOAD) {
		/* a verdict before the end of the body cannot happen: the
		 * pipeline reads to the end; but be safe */
		c->close_after = 1;
	}
	snprintf(extra, sizeof(extra), "Location: /v1/transfers/%s\r\n"
	    "Schoolgate-Transfer: %s\r\n", r->id, r->id);
	if (r->status == 201) {
		f = open_memstream(&buf, &len);
		struct gw_xfer *x = gw_xfer_find(c->front->g, r->id);

		fprintf(f, "{\"id\":\"%s\",\"verdict\":\"accepted\","
		    "\"rows\":%" PRIu64 ",\"sha256\":\"%s\"", r->id,
		    r->report.rows, r->sha256);
		if (x != NULL) {
			fputs(",\"transfer\":", f);
			json_xfer(c, f, x, 0);
		}
		fputs("}\n", f);
		fclose(f);
		c->st = ST_DONE;
		http_respond(c, 201, "application/json", buf, len, extra);
	} else if (r->status == 422) {
		f = open_memstream(&buf, &len);
		sg_report_json(&r->report, f);
		fclose(f);
		c->st = ST_DONE;
		http_respond(c, 422, "application/json", buf, len, extra);
	} else {
		c->st = ST_DONE;
		if (r->status == 408)
			http_problem(c, 408, "stalled", r->problem, NULL);
		else
			http_problem(c, r->status >= 500 ? 503 : 400,
			    "unavailable", r->problem, "Retry-After: 60\r\n");
	}
	free(buf);
	gw_upload_free(u);
}

static const struct gw_upload_cb up_cb = { up_resume, up_done, NULL };

/* ---- authentication: the credential goes to core/signin.c ---- */

static void
auth_refused(struct conn *c)
{
	c->close_after = 1;
	http_problem(c, 401, "unauthenticated", "the credentials were not "
	    "accepted", "WWW-Authenticate: Basic realm=\"schoolgate\", "
	    "charset=\"UTF-8\"\r\n");
}

static void
auth_banned(struct conn *c, unsigned retry)
{
	char ra[64];

	snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", retry);
	c->close_after = 1;
	http_problem(c, 429, "banned", "too many failed sign-ins from this address "
	    "(for this party, or for all); try again later", ra);
}

/* The connection has signed in: it leaves the pre-sign-in budget. */
static void
api_signed_in(struct conn *c)
{
	if (!c->authed_once) {
		c->authed_once = 1;
		gw_unauth_release(c->front->g, GW_FRONT_HTTPS, c->addr);
	}
}

static void
authed(struct conn *c, const char *party)
{
	snprintf(c->party, sizeof(c->party), "%s", party);
	api_signed_in(c);
}

/* 1: authenticated now; 0: answered or deferred (the caller returns). */
static int
auth_result(struct conn *c, enum gw_signin r, const struct gw_signed *s)
{
	switch (r) {
	case GW_SIGNIN_OK:
		authed(c, s->party);
		return 1;
	case GW_SIGNIN_WAIT:
		c->refs++;
		c->st = ST_AUTH;
		return 0;
	case GW_SIGNIN_BANNED:
		auth_banned(c, s->retry);
		return 0;
	case GW_SIGNIN_BUSY:
		c->close_after = 1;
		http_problem(c, 503, "busy", "too many sign-ins are being checked; "
		    "try again in a moment", "Retry-After: 1\r\n");
		return 0;
	case GW_SIGNIN_MALFORMED:
		c->close_after = 1;
		http_problem(c, 400, "bad-credentials", "use HTTP Basic or a Bearer "
		    "token", NULL);
		return 0;
	default:
		auth_refused(c);
		return 0;
	}
}

static void
auth_after(void *arg, enum gw_signin r, const struct gw_signed *s)
{
	struct conn *c = arg;

	c->refs--;
	if (c->closing) {
		if (c->refs == 0)
			free(c);
		return;
	}
	c->st = ST_HEADERS;
	if (auth_result(c, r, s)) {
		http_dispatch(c);
		if (c->st == ST_UPLOAD) {
			c->paused = 0;
			llhttp_resume(&c->hp);
		}
	}
	http_pump(c);
}

/* The client certificate's fingerprint, or "" when there is none. */
static void
cert_fingerprint(struct conn *c, char hex[65])
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	unsigned char md[32];
	unsigned int l = 32;

	hex[0] = '\0';
	if (x == NULL)
		return;
	X509_digest(x, EVP_sha256(), md, &l);
	X509_free(x);
	sg_hex(md, 32, hex);
}

/* 1: authenticated now; 0: answered or deferred (the caller returns). */
static int
api_authenticate(struct conn *c)
{
	struct gw *g = c->front->g;
	const char *hv = c->hv[H_AUTH];
	struct gw_signed out;
	char fp[65];
	unsigned ban;

	if ((ban = gw_signin_banned(g, c->addr)) > 0) {
		auth_banned(c, ban);
		return 0;
	}
	if (c->hvlen[H_AUTH] == 0) {
		const struct sg_session *s;

		cert_fingerprint(c, fp);
		if (fp[0]) {
			enum gw_signin r = gw_signin_cert(g, c->addr, fp,
			    &out);

			if (r != GW_SIGNIN_NEXT)
				return auth_result(c, r, &out);
		}
		if ((s = web_session(c)) != NULL) {
			/* the web page: the same party, the same checks; a
			 * change needs the session's CSRF token as well */
			if (c->hp.method != HTTP_GET &&
			    c->hp.method != HTTP_HEAD &&
			    !sg_session_csrf_ok(s, c->hv[H_CSRF])) {
				c->close_after = 1;
				http_problem(c, 403, "csrf", "this request did not "
				    "come from the gateway's own page (no or "
				    "wrong CSRF token)", NULL);
				return 0;
			}
			authed(c, s->party);
			return 1;
		}
		if (c->hvlen[H_COOKIE] > 0 || c->hvlen[H_CSRF] > 0) {
			/* from the page: no Basic prompt in the browser */
			http_problem(c, 401, "session-expired", "you are not signed "
			    "in, or you were signed out after a time without "
			    "activity", NULL);
			return 0;
		}
		http_problem(c, 401, "unauthenticated", "sign in with your "
		    "party's credentials", "WWW-Authenticate: Basic realm=\""
		    "schoolgate\", charset=\"UTF-8\"\r\n");
		return 0;
	}
	if (strncasecmp(hv, "Bearer ", 7) == 0)
		return auth_result(c, gw_signin_token(g, c->addr, hv + 7, &out),
		    &out);
	if (strncasecmp(hv, "Basic ", 6) != 0)
		return auth_result(c, GW_SIGNIN_MALFORMED, &out);
	return auth_result(c, gw_signin_basic(g, c->addr, hv + 6, auth_after,
	    c, &out), &out);
}

/* ---- the API ---- */

/* A URL path: percent-decoded, then split by the one resolver. */
static int
http_split_path(char *url, char *seg[SG_VPATH_MAXSEG])
{
	if (sg_vpath_unescape(url) != 0)
		return -1;
	return sg_vpath_split(url, seg, 0);
}

/* The display name of a party (its id when it has none). */
static const char *
http_party_name(const struct sg_config *cfg, const char *id)
{
	const struct sg_party *p = id ? sg_config_party(cfg, id) : NULL;

	return p && p->name ? p->name : id ? id : "";
}

static void
json_flow(FILE *f, const struct sg_config *cfg, const struct sg_agreement *a,
    const struct sg_flow *fl, const char *status)
{
	size_t i;

	fputs("{\"agreement\":", f);
	sg_json_str(f, a->id);
	fputs(",\"title\":", f);
	sg_json_str(f, a->title);
	fputs(",\"flow\":", f);
	sg_json_str(f, fl->id);
	fputs(",\"description\":", f);
	sg_json_str(f, fl->description);
	fputs(",\"status\":", f);
	sg_json_str(f, status);
	fprintf(f, ",\"format\":\"%s\",\"delivery\":\"%s\","
	    "\"retention_days\":%d,\"retention_after\":\"%s\","
	    "\"encryption\":[", fl->format ==
	    SG_FORMAT_CSV ? "csv" : "opaque", fl->delivery ==
	    SG_DELIVERY_SEALED ? "sealed" : "gateway", fl->retention_days,
	    fl->retention_after_confirmed ? "confirmed" : "release");
	i = 0;
	if (fl->encryptions & SG_ENC_ZIP_AES)
		fprintf(f, "%s\"zip-aes\"", i++ ? "," : "");
	if (fl->encryptions & SG_ENC_ZIP_LEGACY)
		fprintf(f, "%s\"zip-legacy\"", i++ ? "," : "");
	if (fl->encryptions & SG_ENC_AGE)
		fprintf(f, "%s\"age\"", i++ ? "," : "");
	/* the manifest's rules as the check applies them (csvcheck.c): a
	 * required column must be in the header and each of its cells
	 * filled in; an optional one may be left out or its cells empty */
	fprintf(f, "],\"columns_in_order\":%s,\"max_rows\":",
	    fl->manifest.order_enforced ? "true" : "false");
	if (fl->format == SG_FORMAT_CSV)
		fprintf(f, "%llu", (unsigned long long)fl->manifest.max_rows);
	else
		fputs("null", f);
	fputs(",\"key\":", f);
	if (fl->manifest.key >= 0 &&
	    (size_t)fl->manifest.key < fl->manifest.ncolumns)
		sg_json_str(f, fl->manifest.columns[fl->manifest.key].name);
	else
		fputs("null", f);
	fprintf(f, ",\"key_unique\":%s,\"columns\":[",
	    fl->manifest.key >= 0 && fl->manifest.key_unique ? "true" :
	    "false");
	for (i = 0; i < fl->manifest.ncolumns; i++) {
		const struct sg_column *col = &fl->manifest.columns[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		sg_json_str(f, col->name);
		fprintf(f, ",\"type\":\"%s\",\"required\":%s,"
		    "\"may_be_empty\":%s}", sg_validator_name(col->type),
		    col->required ? "true" : "false",
		    col->required ? "false" : "true");
	}
	fputs("],\"recipients\":[", f);
	for (i = 0; i < fl->nrecipients; i++) {
		fputs(i ? "," : "", f);
		sg_json_str(f, fl->recipients[i]);
	}
	fputs("],\"recipient_names\":[", f);
	for (i = 0; i < fl->nrecipients; i++) {
		fputs(i ? "," : "", f);
		sg_json_str(f, http_party_name(cfg, fl->recipients[i]));
	}
	fputs("]}", f);
}

static void
api_flows(struct conn *c)
{
	const struct sg_config *cfg = c->front->g->conf->cfg;
	char *buf = NULL;
	size_t len = 0, i, j;
	int first = 1;
	FILE *f = open_memstream(&buf, &len);

	fputs("{\"party\":", f);
	sg_json_str(f, c->party);
	fputs(",\"party_name\":", f);
	sg_json_str(f, http_party_name(cfg, c->party));
	fputs(",\"send\":[", f);
	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		const char *st = sg_agreement_status_name(
		    sg_agreement_status_on(a, sg_today()));

		for (j = 0; j < a->nflows; j++)
			if (sg_flow_has_sender(&a->flows[j], c->party) &&
			    (a->flows[j].methods & SG_METHOD_HTTPS)) {
				fputs(first ? "" : ",", f);
				first = 0;
				json_flow(f, cfg, a, &a->flows[j], st);
			}
	}
	fputs("],\"receive\":[", f);
	first = 1;
	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		const char *st = sg_agreement_status_name(
		    sg_agreement_status_on(a, sg_today()));

		for (j = 0; j < a->nflows; j++)
			if (sg_flow_has_recipient(&a->flows[j], c->party)) {
				fputs(first ? "" : ",", f);
				first = 0;
				json_flow(f, cfg, a, &a->flows[j], st);
			}
	}
	fputs("]}\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

static void
json_time(FILE *f, const char *key, int64_t us)
{
	char b[32];
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	fprintf(f, ",\"%s\":", key);
	if (us == 0) {
		fputs("null", f);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "\"%s\"", b);
}

static void
json_xfer(struct conn *c, FILE *f, struct gw_xfer *x, int full)
{
	struct gw *g = c->front->g;
	size_t i;

	fprintf(f, "{\"id\":\"%s\",\"agreement\":", x->id);
	sg_json_str(f, x->agreement ? x->agreement : "");
	fputs(",\"flow\":", f);
	sg_json_str(f, x->flow ? x->flow : "");
	fputs(",\"sender\":", f);
	sg_json_str(f, x->sender ? x->sender : "");
	fputs(",\"sender_name\":", f);
	sg_json_str(f, http_party_name(g->conf->cfg, x->sender));
	{
		const struct sg_agreement *a = x->agreement ?
		    sg_config_agreement(g->conf->cfg, x->agreement) : NULL;

		const struct sg_flow *fl = a ? sg_agreement_flow(a, x->flow) :
		    NULL;

		fputs(",\"agreement_title\":", f);
		sg_json_str(f, a && a->title ? a->title : x->agreement ?
		    x->agreement : "");
		if (fl != NULL)
			fprintf(f, ",\"retention_days\":%d,\"retention_after\":"
			    "\"%s\"", fl->retention_days,
			    fl->retention_after_confirmed ? "confirmed" :
			    "release");
	}
	fputs(",\"name\":", f);
	sg_json_str(f, gw_xfer_name(g, x));
	fprintf(f, ",\"verdict\":\"%s\",\"state\":\"%s\",\"rows\":%" PRIu64,
	    x->state == GW_REJECTED ? "rejected" : "accepted",
	    x->state == GW_DELETED ? "deleted" : x->state == GW_REJECTED ?
	    "rejected" : "released", x->rows);
	if (x->state != GW_REJECTED)
		fprintf(f, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\","
		    "\"delivery\":\"%s\"", x->plain_size, x->plain_sha256,
		    x->sealed ? "sealed" : "gateway");
	else
		fprintf(f, ",\"rule\":\"%s\",\"errors\":%" PRIu64, x->rule,
		    x->errors);
	json_time(f, "received", x->received);
	if (x->state == GW_ACCEPTED) {
		int64_t due = gw_xfer_due(g, x);

		json_time(f, "kept_until", due > 0 ? due : 0);
	}
	if (x->state == GW_DELETED) {
		json_time(f, "deleted", x->deleted_at);
		fprintf(f, ",\"deleted_reason\":\"%s\"", x->delete_reason);
	}
	fputs(",\"recipients\":[", f);
	for (i = 0; i < x->nrcpt; i++) {
		/* a recipient sees only its own row; the sender sees all */
		if (!(x->sender && strcmp(x->sender, c->party) == 0) &&
		    strcmp(x->rcpt[i].party, c->party) != 0)
			continue;
		fprintf(f, "%s{\"party\":", (i && (x->sender &&
		    strcmp(x->sender, c->party) == 0)) ? "," : "");
		sg_json_str(f, x->rcpt[i].party);
		fputs(",\"name\":", f);
		sg_json_str(f, http_party_name(g->conf->cfg, x->rcpt[i].party));
		json_time(f, "downloaded", x->rcpt[i].downloaded);
		json_time(f, "confirmed", x->rcpt[i].confirmed);
		fputs("}", f);
	}
	fputs("]", f);
	if (full && x->sender && strcmp(x->sender, c->party) == 0) {
		char *rep = gw_xfer_report(g, x->id);

		if (rep != NULL) {
			fprintf(f, ",\"report\":%s", rep);
			free(rep);
		}
	}
	fputs("}", f);
}

static void
api_inbox(struct conn *c, int sent)
{
	struct gw *g = c->front->g;
	char *buf = NULL;
	size_t len = 0, i;
	int first = 1;
	FILE *f = open_memstream(&buf, &len);

	fputs("{\"transfers\":[", f);
	for (i = g->nxfers; i-- > 0;) {
		struct gw_xfer *x = g->xfers[i];

		if (sent ? !gw_access_sent_by(x, c->party) :
		    !gw_access_received(g, x, c->party))
			continue;
		fputs(first ? "" : ",", f);
		first = 0;
		json_xfer(c, f, x, 0);
	}
	fputs("]}\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

static void
api_transfer(struct conn *c, struct gw_xfer *x)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_xfer(c, f, x, 1);
	fputs("\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

/* A durable record (DOWNLOADED, CONFIRMED) the answer waits for. */
struct rec_wait {
	struct conn	*c;
	int		 type;
	uint64_t	 off, end, size;	/* the range, the file */
	char		 id[SG_ID_MAX];
	char		 disposition[SG_VNAME_MAX + 8];	/* the file's name */
};

static void start_stream(struct conn *c, struct rec_wait *r);

static void
rec_after(void *arg, int ok)
{
	struct rec_wait *r = arg;
	struct conn *c = r->c;

	c->refs--;
	if (c->closing) {
		if (c->refs == 0)
			free(c);
		free(r);
		return;
	}
	if (!ok) {
		c->close_after = 1;
		c->st = ST_HEADERS;
		http_problem(c, 503, "unavailable", "the transfer log could not be "
		    "written; try again later", "Retry-After: 60\r\n");
	} else if (r->type == SG_REC_CONFIRMED) {
		c->st = ST_DONE;
		http_respond(c, 204, "application/json", "", 0, NULL);
	} else {
		gw_dl_note(&c->dl_memo, c->party, r->id);
		start_stream(c, r);
	}
	free(r);
}

/* Content-Disposition for a download's name (RFC 6266): a plain ASCII
 * filename for every client, and for a name with other letters the
 * UTF-8 one as filename* (RFC 8187) beside an ASCII stand-in. Names have
 * passed the resolver's rule: no quote, backslash or control. */
static void
disposition(const char *name, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	char plain[SG_VSEG_MAX + 8], enc[3 * (SG_VSEG_MAX + 8) + 1];
	size_t i, p = 0, e = 0;
	int ascii = 1;

	for (i = 0; name[i] && p < sizeof(plain) - 1; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch >= 0x80) {
			ascii = 0;
			/* one '_' per character, not per byte */
			if ((ch & 0xc0) != 0x80)
				plain[p++] = '_';
		} else
			plain[p++] = (char)ch;
		if (e + 3 < sizeof(enc)) {
			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' &&
			    ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			    ch == '.' || ch == '-' || ch == '_')
				enc[e++] = (char)ch;
			else {
				enc[e++] = '%';
				enc[e++] = hex[ch >> 4];
				enc[e++] = hex[ch & 15];
			}
		}
	}
	plain[p] = enc[e] = '\0';
	if (ascii)
		snprintf(out, cap, "Content-Disposition: attachment; "
		    "filename=\"%s\"\r\n", plain);
	else
		snprintf(out, cap, "Content-Disposition: attachment; "
		    "filename=\"%s\"; filename*=UTF-8''%s\r\n", plain, enc);
}

static void
start_stream(struct conn *c, struct rec_wait *r)
{
	char extra[1024];
	uint64_t total = r->size;

	extra[0] = '\0';
	if (c->hvlen[H_RANGE] > 0 && (r->off != 0 || r->end != total))
		snprintf(extra, sizeof(extra), "Content-Range: bytes %" PRIu64
		    "-%" PRIu64 "/%" PRIu64 "\r\nAccept-Ranges: bytes\r\n",
		    r->off, r->end - 1, total);
	else
		snprintf(extra, sizeof(extra), "Accept-Ranges: bytes\r\n");
	if (r->disposition[0] != '\0')
		disposition(r->disposition, extra + strlen(extra),
		    sizeof(extra) - strlen(extra));
	http_send_head(c, extra[0] == 'C' ? 206 : 200, c->dl_sealed ?
	    "application/octet-stream" : "text/csv", r->end - r->off, extra);
	c->dl_off = r->off;
	c->dl_end = r->end;
	if (c->hp.method == HTTP_HEAD)
		c->dl_end = c->dl_off;
	c->st = ST_STREAM;
	http_pump(c);
}

/* Writes r's record off the I/O thread; the request waits (ST_WORK)
 * and rec_after() answers it. */
static void
queue_record(struct conn *c, struct rec_wait *r, const char *id)
{
	r->c = c;
	snprintf(r->id, sizeof(r->id), "%s", id);
	c->st = ST_WORK;
	c->refs++;
	if (gw_record(c->front->g, r->type, id, c->party, r->off, r->end - r->off,
	    rec_after, r) != 0) {
		c->refs--;
		free(r);
		http_close(c);
	}
}

/* Range: "bytes=a-b", "bytes=a-", "bytes=-n" (one range). 0 ok, -1 bad,
 * 1 unsatisfiable. */
static int
parse_range(const char *s, uint64_t size, uint64_t *off, uint64_t *end)
{
	unsigned long long a, b;
	char *e;

	*off = 0;
	*end = size;
	if (*s == '\0')
		return 0;
	if (strncmp(s, "bytes=", 6) != 0 || strchr(s, ','))
		return -1;
	s += 6;
	if (*s == '-') {
		b = strtoull(s + 1, &e, 10);
		if (*e || b == 0)
			return -1;
		*off = b >= size ? 0 : size - b;
		return size == 0 ? 1 : 0;
	}
	a = strtoull(s, &e, 10);
	if (*e != '-')
		return -1;
	if (e[1] == '\0')
		b = size ? size - 1 : 0;
	else {
		b = strtoull(e + 1, &e, 10);
		if (*e || b < a)
			return -1;
	}
	if (a >= size)
		return 1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*end = b + 1;
	return 0;
}

static void
api_content(struct conn *c, struct gw_xfer *x)
{
	struct gw *g = c->front->g;
	struct rec_wait *r;
	char err[SG_ERR_MAX];
	const char *why;
	uint64_t size;
	int rr;

	if ((c->dl_fd = sg_vault_open_object(g->vault, x->id, err)) < 0) {
		http_problem(c, 503, "unavailable", "the object cannot be read",
		    NULL);
		return;
	}
	c->dl_sealed = x->sealed;
	if (!x->sealed) {
		if (sg_age_file_open(c->dl_fd, g->ids, g->nids, &c->af,
		    &why) != 0) {
			close(c->dl_fd);
			c->dl_fd = -1;
			http_problem(c, 503, "unavailable", "the object cannot be "
			    "opened", NULL);
			return;
		}
		size = sg_age_file_size(c->af);
	} else {
		off_t e = lseek(c->dl_fd, 0, SEEK_END);

		size = e < 0 ? 0 : (uint64_t)e;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		http_close(c);
		return;
	}
	rr = parse_range(c->hv[H_RANGE], size, &r->off, &r->end);
	if (rr != 0) {
		char extra[64];

		free(r);
		if (c->af)
			sg_age_file_close(c->af);
		c->af = NULL;
		close(c->dl_fd);
		c->dl_fd = -1;
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu64
		    "\r\n", size);
		http_problem(c, rr > 0 ? 416 : 400, "bad-range", "the range is "
		    "not one this file has", extra);
		return;
	}
	gw_access_name(g, x, r->disposition, sizeof(r->disposition));
	r->size = size;
	r->type = SG_REC_DOWNLOADED;
	if (c->hp.method == HTTP_HEAD ||
	    gw_dl_recorded(&c->dl_memo, c->party, x->id)) {
		start_stream(c, r);	/* nothing new to record */
		free(r);
	} else
		queue_record(c, r, x->id);
}

static void
api_confirm(struct conn *c, struct gw_xfer *x)
{
	struct rec_wait *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		http_close(c);
		return;
	}
	r->type = SG_REC_CONFIRMED;
	queue_record(c, r, x->id);
}

static void
api_upload(struct conn *c, char *agreement, char *flow, char *name)
{
	struct gw *g = c->front->g;
	const char *why;
	uint64_t cl = (c->hp.flags & F_CONTENT_LENGTH) ?
	    c->hp.content_length : UINT64_MAX;
	enum gw_acc acc;
	char canon[SG_VNAME_MAX + 1];

	if ((acc = gw_access_upload(g, c->party, c->addr, agreement, flow,
	    name, SG_METHOD_HTTPS, &c->body_max, canon, &why)) != GW_ACC_OK) {
		http_refuse(c, acc, why);
		return;
	}
	if (!(c->hp.flags & F_CHUNKED) && cl == UINT64_MAX) {
		http_problem(c, 411, "length-required", "send Content-Length or a "
		    "chunked body", NULL);
		return;
	}
	if (cl != UINT64_MAX && cl > c->body_max) {
		http_problem(c, 413, "too-large", "the file is larger than this "
		    "flow accepts", NULL);
		return;
	}
	if (c->hvlen[H_CTYPE] > 0 &&
	    strncasecmp(c->hv[H_CTYPE], "application/octet-stream", 24) != 0 &&
	    strncasecmp(c->hv[H_CTYPE], "application/zip", 15) != 0 &&
	    strncasecmp(c->hv[H_CTYPE], "application/x-zip-compressed", 28) != 0 &&
	    strncasecmp(c->hv[H_CTYPE], "application/age", 15) != 0 &&
	    strncasecmp(c->hv[H_CTYPE], "application/x-www-form-urlencoded", 33) != 0) {
		http_problem(c, 415, "unsupported-media-type", "send the file as "
		    "application/octet-stream, application/zip or "
		    "application/age", NULL);
		return;
	}
	c->up = gw_upload_begin(g, c->party, "https", c->addr, agreement,
	    flow, canon,
	    c->hvlen[H_ZIP] ? c->hv[H_ZIP] : NULL, c->body_max, &up_cb, c);
	OPENSSL_cleanse(c->hv[H_ZIP], sizeof(c->hv[H_ZIP]));
	if (c->up == NULL) {
		http_problem(c, 503, "unavailable", "out of resources; try again",
		    "Retry-After: 10\r\n");
		return;
	}
	c->st = ST_UPLOAD;
	if (c->hvlen[H_EXPECT] > 0) {
		if (strcasecmp(c->hv[H_EXPECT], "100-continue") != 0) {
			gw_upload_cancel(c->up);
			c->up = NULL;
			c->st = ST_HEADERS;
			c->close_after = 1;
			http_problem(c, 417, "expectation-failed", "only "
			    "100-continue is understood", NULL);
			return;
		}
		tls_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
}

/* ---- the web page for school staff ---- */

static int64_t
web_idle_us(const struct sg_daemon_conf *d)
{
	return (int64_t)d->session_idle_seconds * 1000000;
}

/* The request's signed-in session, checked against the configuration
 * as it is now: a party removed, or its password changed, ends it. */
static const struct sg_session *
web_session(struct conn *c)
{
	const struct sg_config *cfg = c->front->g->conf->cfg;
	const struct sg_session *s;
	const struct sg_party *p;
	char tok[SG_SESSION_TOKEN];
	unsigned char bind[32];

	if (!cfg->daemon.web || c->hvlen[H_COOKIE] == 0 ||
	    sg_cookie_get(c->cookie, COOKIE_SESSION, tok,
	    sizeof(tok)) < 0)
		return NULL;
	s = sg_session_find(c->front->sessions, tok, gw_now_us(),
	    web_idle_us(&cfg->daemon),
	    (int64_t)cfg->daemon.session_max_seconds * 1000000);
	if (s == NULL)
		return NULL;
	p = sg_config_party(cfg, s->party);
	if (p != NULL && p->password != NULL)
		sg_session_bind(p->password, bind);
	if (p == NULL || p->password == NULL ||
	    CRYPTO_memcmp(bind, s->bind, 32) != 0) {
		sg_session_end(c->front->sessions, tok);
		return NULL;
	}
	return s;
}

static void
web_redirect(struct conn *c, const char *to, const char *extra)
{
	char h[1024];

	snprintf(h, sizeof(h), "Location: %s\r\n%s", to, extra ? extra : "");
	http_respond(c, 303, "text/plain; charset=utf-8", "", 0, h);
}

static void
web_page(struct conn *c, int status, const char *page,
    const char *const vars[], const char *extra)
{
	size_t len;
	char *html = gw_web_render(page, vars, &len);

	if (html == NULL) {
		http_problem(c, 500, "internal", "the page could not be composed",
		    NULL);
		return;
	}
	http_respond(c, status, "text/html; charset=utf-8", html, len, extra);
	free(html);
}

static void
web_message(struct conn *c, int status, const char *title,
    const char *message, const char *link, const char *link_text)
{
	char idle[16];
	const char *vars[] = { "title", title, "page", "message", "heading",
	    title, "message", message, "link", link, "link_text", link_text,
	    "idle_minutes", idle, NULL };

	snprintf(idle, sizeof(idle), "%u",
	    c->front->g->conf->cfg->daemon.session_idle_seconds / 60);
	web_page(c, status, "message", vars, NULL);
}

/* A signed-in page: the layout with the navigation, the party's name
 * and the session's CSRF token (for the script and the sign-out form). */
static void
web_app_page(struct conn *c, const struct sg_session *s, const char *page,
    const char *title)
{
	const struct sg_config *cfg = c->front->g->conf->cfg;
	char idle[16];
	const char *vars[] = { "title", title, "page", page, "csrf", s->csrf,
	    "party", s->party, "party_name", http_party_name(cfg, s->party),
	    "idle_minutes", idle, NULL };

	snprintf(idle, sizeof(idle), "%u",
	    cfg->daemon.session_idle_seconds / 60);
	web_page(c, 200, page, vars, NULL);
}

enum signin_error { SI_NONE, SI_EMPTY_PARTY, SI_EMPTY_PASSWORD, SI_EMPTY,
    SI_WRONG, SI_EXPIRED, SI_BANNED, SI_BUSY };

/* The sign-in page, with the GOV.UK error summary linked to the fields
 * when there is something to put right. A fresh form token goes with
 * it (a cookie and the form's hidden field must match on the way back,
 * so a form posted from elsewhere cannot sign anybody in). */
static void
web_sign_in_page(struct conn *c, int status, enum signin_error e,
    const char *party, const char *query)
{
	const struct sg_daemon_conf *d = &c->front->g->conf->cfg->daemon;
	char pre[SG_SESSION_TOKEN], extra[256], idle[16];
	const char *summary = NULL, *pfield = "#party";
	int bad_party = 0, bad_pw = 0;

	if (sg_session_token(pre) != 0) {
		http_problem(c, 503, "unavailable", "try again", NULL);
		return;
	}
	snprintf(idle, sizeof(idle), "%u", d->session_idle_seconds / 60);
	switch (e) {
	case SI_EMPTY_PARTY:
		summary = "Enter your organisation ID";
		bad_party = 1;
		break;
	case SI_EMPTY_PASSWORD:
		summary = "Enter your password";
		pfield = "#password";
		bad_pw = 1;
		break;
	case SI_EMPTY:
		summary = "Enter your organisation ID";
		bad_party = bad_pw = 1;
		break;
	case SI_WRONG:
		summary = "The organisation ID or the password is not right";
		bad_party = 1;
		break;
	case SI_EXPIRED:
		summary = "The sign-in form had expired or did not come from "
		    "this page: sign in again";
		break;
	case SI_BANNED:
		summary = "There have been too many wrong passwords from your "
		    "network: wait a few minutes, then try again";
		break;
	case SI_BUSY:
		summary = "The gateway is checking many sign-ins at the "
		    "moment: try again in a few seconds";
		break;
	case SI_NONE:
		break;
	}
	{
		/* the page's parts are in sign-in.html; this says which to
		 * show and the words of the error */
		const char *vars[] = { "title", summary ? "Error: Sign in" :
		    "Sign in", "page", "sign-in", "csrf", pre, "idle_minutes",
		    idle, "summary", summary ? summary : "", "summary_href",
		    pfield, "summary_password", e == SI_EMPTY ? "1" : "",
		    "notice_timeout", summary == NULL && strcmp(query,
		    "timeout") == 0 ? "1" : "", "notice_signed_out",
		    summary == NULL && strcmp(query, "signed-out") == 0 ?
		    "1" : "", "party_value", party ? party : "",
		    "party_error", !bad_party ? "" : e == SI_WRONG ?
		    "The organisation ID or the password is not right" :
		    "Enter your organisation ID", "password_error",
		    bad_pw ? "Enter your password" : "", NULL };

		snprintf(extra, sizeof(extra), "Set-Cookie: " COOKIE_PRE
		    "=%s; Path=/; Secure; HttpOnly; SameSite=Strict\r\n", pre);
		web_page(c, status, "sign-in", vars, extra);
	}
}

/* A form post must come from our own page: the browser says so
 * (Sec-Fetch-Site, when it sends it) and the token matches. */
static int
web_form_from_us(struct conn *c, const char *expected)
{
	char given[SG_SESSION_TOKEN];

	if (c->hvlen[H_FETCHSITE] > 0 &&
	    strcmp(c->hv[H_FETCHSITE], "same-origin") != 0)
		return 0;
	if (expected == NULL || sg_form_field(c->form, c->formlen, "csrf",
	    given, sizeof(given)) != (long)SG_SESSION_TOKEN - 1)
		return 0;
	return CRYPTO_memcmp(given, expected, SG_SESSION_TOKEN - 1) == 0;
}

struct web_login {
	struct conn	*c;
	char		 typed[96];	/* the id as typed, for the form */
};

static void
web_signed_in(struct conn *c, const char *party)
{
	const struct sg_party *p = sg_config_party(c->front->g->conf->cfg, party);
	const struct sg_session *s;
	char tok[SG_SESSION_TOKEN], extra[512];
	unsigned char bind[32];

	if (p == NULL || p->password == NULL) {
		web_sign_in_page(c, 401, SI_WRONG, party, "");
		return;
	}
	sg_session_bind(p->password, bind);
	if ((s = sg_session_start(c->front->sessions, p->id, bind, gw_now_us(),
	    tok)) == NULL) {
		http_problem(c, 503, "unavailable", "try again", NULL);
		return;
	}
	api_signed_in(c);
	{
		char fp[128], fc[80];
		const char *f[] = { fp, fc, "SCHOOLGATE_WEB=signed-in", NULL };

		snprintf(fp, sizeof(fp), "SCHOOLGATE_PARTY=%s", p->id);
		snprintf(fc, sizeof(fc), "SCHOOLGATE_CLIENT=%s", c->addr);
		gw_journalf(EV_WEB_SESSION, LOG_INFO, f, "%s signed in to the "
		    "web page from %s", p->id, c->addr);
	}
	snprintf(extra, sizeof(extra), "Set-Cookie: " COOKIE_SESSION "=%s; "
	    "Path=/; Secure; HttpOnly; SameSite=Strict\r\n"
	    "Set-Cookie: " COOKIE_PRE "=; Path=/; Secure; HttpOnly; "
	    "SameSite=Strict; Max-Age=0\r\n", tok);
	OPENSSL_cleanse(tok, sizeof(tok));
	web_redirect(c, "/send", extra);
}

/* The sign-in's result as a page; the id as typed goes back into the
 * form, never into the journal unless it is a party's. */
static void
web_sign_in_result(struct conn *c, enum gw_signin r, const struct gw_signed *s,
    const char *typed)
{
	switch (r) {
	case GW_SIGNIN_OK:
		web_signed_in(c, s->party);
		break;
	case GW_SIGNIN_BANNED:
		web_sign_in_page(c, 429, SI_BANNED, NULL, "");
		break;
	case GW_SIGNIN_BUSY:
		web_sign_in_page(c, 503, SI_BUSY, typed, "");
		break;
	default:
		web_sign_in_page(c, 401, SI_WRONG, typed, "");
		break;
	}
}

static void
web_login_after(void *arg, enum gw_signin r, const struct gw_signed *s)
{
	struct web_login *a = arg;
	struct conn *c = a->c;

	c->refs--;
	if (c->closing) {
		if (c->refs == 0)
			free(c);
		free(a);
		return;
	}
	c->st = ST_HEADERS;
	web_sign_in_result(c, r, s, a->typed);
	free(a);
	http_pump(c);
}

static void
web_sign_in(struct conn *c)
{
	struct gw *g = c->front->g;
	char pre[SG_SESSION_TOKEN], party[96], pw[512];
	struct gw_signed out;
	struct web_login *a;
	long pl, pwl;
	enum gw_signin r;

	if (c->hvlen[H_COOKIE] == 0 || sg_cookie_get(c->cookie,
	    COOKIE_PRE, pre, sizeof(pre)) < 0 || !web_form_from_us(c, pre)) {
		web_sign_in_page(c, 403, SI_EXPIRED, NULL, "");
		return;
	}
	pl = sg_form_field(c->form, c->formlen, "party", party, sizeof(party));
	pwl = sg_form_field(c->form, c->formlen, "password", pw, sizeof(pw));
	if (pl < -1 || pwl < -1) {
		OPENSSL_cleanse(pw, sizeof(pw));
		web_sign_in_page(c, 400, SI_WRONG, NULL, "");
		return;
	}
	if (pl <= 0 || pwl <= 0) {
		OPENSSL_cleanse(pw, sizeof(pw));
		web_sign_in_page(c, 400, pl <= 0 && pwl <= 0 ? SI_EMPTY :
		    pl <= 0 ? SI_EMPTY_PARTY : SI_EMPTY_PASSWORD,
		    pl > 0 ? party : NULL, "");
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		OPENSSL_cleanse(pw, sizeof(pw));
		http_problem(c, 503, "unavailable", "try again", NULL);
		return;
	}
	a->c = c;
	snprintf(a->typed, sizeof(a->typed), "%s", party);
	r = gw_signin_password(g, GW_VIA_WEB, c->addr, party, pw, (size_t)pwl,
	    web_login_after, a, &out);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(c->form, sizeof(c->form));
	if (r == GW_SIGNIN_WAIT) {
		c->refs++;
		c->st = ST_AUTH;
		return;
	}
	free(a);
	web_sign_in_result(c, r, &out, party);
}

static void
web_sign_out(struct conn *c)
{
	const struct sg_session *s;
	char tok[SG_SESSION_TOKEN];

	if (c->hvlen[H_FETCHSITE] > 0 &&
	    strcmp(c->hv[H_FETCHSITE], "same-origin") != 0) {
		web_message(c, 403, "This request was refused", "The form "
		    "came from another web site, so nothing was done. You are "
		    "still signed in.", "/send", "Go to Send a file");
		return;
	}
	if ((s = web_session(c)) == NULL) {
		web_redirect(c, "/sign-in?timeout", NULL);
		return;
	}
	if (!web_form_from_us(c, s->csrf)) {
		web_message(c, 403, "This request was refused", "The form did "
		    "not come from this service's own page, so nothing was "
		    "done. Go back to the page and try again.", "/send",
		    "Go to Send a file");
		return;
	}
	{
		char fp[128], fc[80];
		const char *f[] = { fp, fc, "SCHOOLGATE_WEB=signed-out", NULL };

		snprintf(fp, sizeof(fp), "SCHOOLGATE_PARTY=%s", s->party);
		snprintf(fc, sizeof(fc), "SCHOOLGATE_CLIENT=%s", c->addr);
		gw_journalf(EV_WEB_SESSION, LOG_INFO, f, "%s signed out of the "
		    "web page", s->party);
	}
	if (sg_cookie_get(c->cookie, COOKIE_SESSION, tok,
	    sizeof(tok)) >= 0)
		sg_session_end(c->front->sessions, tok);
	web_redirect(c, "/sign-in?signed-out", "Set-Cookie: " COOKIE_SESSION
	    "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0\r\n");
}

static void
web_asset(struct conn *c, char *seg[], int n)
{
	char path[URL_MAX + 1];
	const struct gw_asset *a;
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++)
		off += (size_t)snprintf(path + off, sizeof(path) - off, "/%s",
		    seg[i]);
	if (off >= sizeof(path) || (a = gw_asset_find(path)) == NULL) {
		web_message(c, 404, "Page not found", "If you typed the web "
		    "address, check it is correct.", "/", "Go to the start");
		return;
	}
	c->cache = "public, max-age=3600";
	{
		char extra[96];

		snprintf(extra, sizeof(extra), "ETag: %s\r\n", a->etag);
		http_respond(c, 200, a->ctype, (const char *)a->data, a->len,
		    extra);
	}
}

static void
web_route(struct conn *c, char *seg[], int n, const char *query)
{
	static const struct {
		const char *path, *title;
	} pages[] = {
		{ "send", "Send a file" },
		{ "received", "Received files" },
		{ "sent", "Sent files" },
	};
	int m = c->hp.method, get = m == HTTP_GET || m == HTTP_HEAD;
	const struct sg_session *s;
	size_t i;

	if (!c->front->g->conf->cfg->daemon.web) {
		http_not_found(c);
		return;
	}
	if (n >= 2 && strcmp(seg[0], "assets") == 0) {
		if (!get)
			goto method;
		web_asset(c, seg, n);
		return;
	}
	if (n == 0) {
		if (!get)
			goto method;
		web_redirect(c, web_session(c) ? "/send" : "/sign-in", NULL);
		return;
	}
	if (n == 1 && strcmp(seg[0], "sign-in") == 0) {
		if (m == HTTP_POST) {
			web_sign_in(c);
			return;
		}
		if (!get)
			goto method;
		if (web_session(c) != NULL)
			web_redirect(c, "/send", NULL);
		else
			web_sign_in_page(c, 200, SI_NONE, NULL, query);
		return;
	}
	if (n == 1 && strcmp(seg[0], "sign-out") == 0) {
		if (m != HTTP_POST)
			goto method;
		web_sign_out(c);
		return;
	}
	for (i = 0; n == 1 && i < sizeof(pages) / sizeof(pages[0]); i++)
		if (strcmp(seg[0], pages[i].path) == 0) {
			if (!get)
				goto method;
			if ((s = web_session(c)) == NULL)
				web_redirect(c, c->hvlen[H_COOKIE] > 0 &&
				    strstr(c->cookie, COOKIE_SESSION) ?
				    "/sign-in?timeout" : "/sign-in", NULL);
			else {
				/* a signed-in browser's connection is
				 * not a pre-sign-in one */
				api_signed_in(c);
				web_app_page(c, s, pages[i].path,
				    pages[i].title);
			}
			return;
		}
	web_message(c, 404, "Page not found", "If you typed the web address, "
	    "check it is correct.", "/", "Go to the start");
	return;
method:
	http_problem(c, 405, "method-not-allowed", "that method is not used here",
	    NULL);
}

static void
http_dispatch(struct conn *c)
{
	struct gw *g = c->front->g;
	char url[URL_MAX + 1], *seg[SG_VPATH_MAXSEG], *query;
	int n, m = c->hp.method;
	enum gw_see see;
	const char *why;
	struct gw_xfer *x;

	c->st = ST_HEADERS;
	snprintf(url, sizeof(url), "%s", c->url);
	if ((query = strchr(url, '?')) != NULL)
		*query++ = '\0';
	if ((n = http_split_path(url, seg)) < 0) {
		http_not_found(c);
		return;
	}
	if (n < 1 || strcmp(seg[0], "v1") != 0) {
		web_route(c, seg, n, query ? query : "");
		return;
	}
	if (c->party[0] == '\0' && !api_authenticate(c))
		return;
	if (n == 6 && m == HTTP_PUT && strcmp(seg[1], "flows") == 0 &&
	    strcmp(seg[4], "files") == 0 && sg_vseg_ok(seg[2], strlen(seg[2]), SG_VSEG_ID) &&
	    sg_vseg_ok(seg[3], strlen(seg[3]), SG_VSEG_ID)) {
		api_upload(c, seg[2], seg[3], seg[5]);
		return;
	}
	if (n == 2 && strcmp(seg[1], "flows") == 0) {
		if (m != HTTP_GET && m != HTTP_HEAD)
			goto method;
		api_flows(c);
		return;
	}
	if (n == 2 && (strcmp(seg[1], "inbox") == 0 ||
	    strcmp(seg[1], "transfers") == 0)) {
		if (m != HTTP_GET && m != HTTP_HEAD)
			goto method;
		api_inbox(c, seg[1][0] == 't');
		return;
	}
	if ((n == 3 || n == 4) && strcmp(seg[1], "transfers") == 0) {
		x = sg_transfer_id_ok(seg[2]) ? gw_xfer_find(g, seg[2]) : NULL;
		see = gw_access_xfer(g, x, c->party, &why);
		if (see == GW_SEE_NONE) {
			http_not_found(c);	/* whether it exists is not told */
			return;
		}
		if (n == 4 && strcmp(seg[3], "content") != 0) {
			http_not_found(c);
			return;
		}
		if (n == 3 && (m == HTTP_GET || m == HTTP_HEAD)) {
			api_transfer(c, x);
			return;
		}
		if (n == 3 && m == HTTP_DELETE) {
			/* confirming again changes nothing */
			if (see == GW_SEE_META &&
			    gw_access_confirmed(x, c->party)) {
				c->st = ST_DONE;
				http_respond(c, 204, "application/json", "", 0,
				    NULL);
				return;
			}
			if (see != GW_SEE_READ) {
				http_problem(c, 403, "forbidden", why, NULL);
				return;
			}
			api_confirm(c, x);
			return;
		}
		if (n == 4 && (m == HTTP_GET || m == HTTP_HEAD)) {
			if (see != GW_SEE_READ) {
				http_problem(c, 403, "forbidden", why, NULL);
				return;
			}
			api_content(c, x);
			return;
		}
		goto method;
	}
	http_not_found(c);
	return;
method:
	http_problem(c, 405, "method-not-allowed", "that method is not used here",
	    NULL);
}

/* ---- accepting ---- */

static void
on_conn(uv_stream_t *l, int status)
{
	struct https_front *h = l->data;
	struct gw *g = h->g;
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
	struct conn *c;

	if (status < 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->front = h;
	c->dl_fd = -1;
	c->accepted_at = gw_now_us();
	uv_tcp_init(g->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
		c->refs = 1;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	{
		uv_os_fd_t fd;

		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			gw_peer_name(fd, c->addr, sizeof(c->addr));
	}
	if (g->draining || g->count.connections >= d->max_connections ||
	    gw_signin_banned(g, c->addr) > 60 ||
	    gw_unauth_admit(g, GW_FRONT_HTTPS, c->addr) != 0) {
		/* over a limit (or long banned): no TLS work at all */
		c->refs = 1;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->ssl = SSL_new(h->ctx);
	c->rb = BIO_new(BIO_s_mem());
	c->wb = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rb == NULL || c->wb == NULL) {
		SSL_free(c->ssl);
		gw_unauth_release(g, GW_FRONT_HTTPS, c->addr);
		c->refs = 1;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	BIO_set_mem_eof_return(c->rb, -1);
	SSL_set_bio(c->ssl, c->rb, c->wb);
	SSL_set_accept_state(c->ssl);
	llhttp_init(&c->hp, HTTP_REQUEST, &settings);
	c->hp.data = c;
	c->scan.on = 1;
	reset_request(c);
	uv_timer_init(g->loop, &c->idle);
	c->idle.data = c;
	uv_timer_start(&c->idle, on_idle, (uint64_t)d->idle_seconds * 1000,
	    (uint64_t)d->idle_seconds * 1000);
	g->count.connections++;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	set_reading(c, 1);
}

struct https_front *
gw_https_new(struct gw *g, int fd, char err[SG_ERR_MAX])
{
	const struct sg_config *cfg = g->conf->cfg;
	struct https_front *h;
	size_t i;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		sg_errf(err, "out of memory");
		return NULL;
	}
	h->g = g;
	if ((h->sessions = sg_sessions_new(SESSIONS_MAX, SESSIONS_PARTY)) == NULL) {
		sg_errf(err, "out of memory");
		free(h);
		return NULL;
	}
	for (i = 0; i < cfg->nparties; i++)
		if (cfg->parties[i].ncerts > 0)
			h->want_certs = 1;
	if ((h->ctx = gw_tls_ctx(&cfg->daemon, h->want_certs, err)) == NULL)
		goto bad;
	uv_tcp_init(g->loop, &h->listener);
	h->listener.data = h;
	if (fd < 0 && (fd = gw_listen_socket(cfg->daemon.https_listen,
	    "daemon.https.listen", err)) < 0)
		goto bad;
	if (uv_tcp_open(&h->listener, fd) != 0) {
		sg_errf(err, "the HTTPS listening socket is unusable");
		goto bad;
	}
	if (uv_listen((uv_stream_t *)&h->listener, 511, on_conn) != 0) {
		sg_errf(err, "cannot listen on %s", cfg->daemon.https_listen);
		goto bad;
	}
	h->listening = 1;
	return h;
bad:
	SSL_CTX_free(h->ctx);
	sg_sessions_free(h->sessions);
	free(h);
	return NULL;
}

int
gw_https_port(struct https_front *h)
{
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&h->listener, &fd) != 0)
		return -1;
	return gw_socket_port(fd);
}

/* Stops accepting; idle keep-alive connections are closed, the rest end
 * after their current response. */
void
gw_https_drain(struct https_front *h)
{
	struct conn *c, *next;

	if (h->listening) {
		uv_close((uv_handle_t *)&h->listener, NULL);
		h->listening = 0;
	}
	for (c = h->conns; c != NULL; c = next) {
		next = c->next;
		if (c->st == ST_HEADERS && c->inlen == 0 && c->urllen == 0)
			http_close(c);
	}
}

unsigned
gw_https_active(struct https_front *h)
{
	unsigned n = 0;
	struct conn *c;

	for (c = h->conns; c != NULL; c = c->next)
		n++;
	return n;
}

void
gw_https_close_all(struct https_front *h)
{
	while (h->conns != NULL)
		http_close(h->conns);
}

void
gw_https_free(struct https_front *h)
{
	if (h == NULL)
		return;
	SSL_CTX_free(h->ctx);
	sg_sessions_free(h->sessions);
	free(h);
}

/* New TLS settings on reload (certificate renewed): new connections use
 * them. */
int
gw_https_reload(struct https_front *h, char err[SG_ERR_MAX])
{
	const struct sg_config *cfg = h->g->conf->cfg;
	int want = 0;
	SSL_CTX *n;
	size_t i;

	for (i = 0; i < cfg->nparties; i++)
		if (cfg->parties[i].ncerts > 0)
			want = 1;
	if ((n = gw_tls_ctx(&cfg->daemon, want, err)) == NULL)
		return -1;
	h->want_certs = want;
	SSL_CTX_free(h->ctx);	/* live connections keep a reference */
	h->ctx = n;
	return 0;
}
