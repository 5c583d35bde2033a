/*
 * http: the HTTPS front door's connections. HTTP/1.1 with llhttp (strict;
 * keep-alive, chunked and Content-Length bodies, Expect: 100-continue),
 * reading with backpressure, responses and problem details, routing a
 * request to the API (api.c) or the web page (webpage.c), and accepting.
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
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/codec.h"
#include "base/html.h"
#include "base/json.h"
#include "front/http.h"
#include "front/web.h"
#include "log/tlog.h"
#include "policy/session.h"
#include "policy/vpath.h"
#include "seal/keys.h"

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
void
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

void
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

void
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
void
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
		[GW_ACC_CONFLICT] =	{ 409, "conflict" },
		[GW_ACC_FREQUENCY] =	{ 409, "frequency" },
	};

	http_problem(c, map[acc].status, map[acc].slug, why, acc == GW_ACC_BUSY ?
	    "Retry-After: 60\r\n" : NULL);
}

void
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

void
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
		gw_reader_close(c->rd);	/* no callback after this */
		c->rd = NULL;
		BIO_free(c->rb);
		c->rb = NULL;
		c->refs += 2;
		uv_close((uv_handle_t *)&c->idle, on_closed);
		uv_close((uv_handle_t *)&c->pipe, on_closed);
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

void
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
			return;		/* tls_written calls back; the front
					   sends close_notify once all the
					   core wrote has gone */
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

/* the I/O thread's one buffer, for what cannot be read in place */
static char rdbuf[64 * 1024];

/* Once the preamble is read and nothing waits before them, the front's
 * bytes are read straight into the request buffer, where the parser
 * takes them: no copy through the BIO. */
static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	if (c->pre_done && !c->lingering && c->inlen < IN_CAP &&
	    BIO_ctrl_pending(c->rb) == 0)
		*b = uv_buf_init((char *)c->in + c->inlen, (unsigned)(IN_CAP -
		    c->inlen));
	else
		*b = uv_buf_init(rdbuf, sizeof(rdbuf));
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
	if (b->base != rdbuf)
		c->inlen += (size_t)n;		/* read in place */
	else if (BIO_write(c->rb, b->base, (int)n) != (int)n) {
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
		uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	else
		uv_read_stop((uv_stream_t *)&c->pipe);
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

int
http_work_back(struct conn *c)
{
	c->refs--;
	if (!c->closing)
		return 0;
	if (c->refs == 0)
		free(c);
	return 1;
}

void
http_pump(struct conn *c)
{
	int n, e, ended;

	/* answered and closing, or reading what follows only to drop it
	 * (a lingering close): nothing more is parsed, nothing answered */
	if (c->closing || c->lingering)
		return;
	if (c->st == ST_STREAM) {
		/* a download: send what the reader holds while the socket
		 * keeps up; when it holds nothing yet, http_read_ahead()
		 * pumps again once it does */
		while (c->wpending < WRITE_MARK && c->dl_off < c->dl_end &&
		    !c->closing) {
			const unsigned char *p;
			size_t want = c->dl_end - c->dl_off > DL_CHUNK ?
			    DL_CHUNK : (size_t)(c->dl_end - c->dl_off);
			ssize_t got = gw_reader_get(c->rd, c->dl_off, want, &p);

			if (got == 0)
				return;
			if (got < 0) {
				/* mid-body: all we can do is cut it short */
				http_close(c);
				return;
			}
			tls_send(c, p, (size_t)got);
			c->dl_off += (uint64_t)got;
		}
		if (c->dl_off >= c->dl_end && !c->closing) {
			gw_reader_close(c->rd);
			c->rd = NULL;
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
		n = tls_read(c, c->in + c->inlen, IN_CAP - c->inlen);
		if (n > 0) {
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		http_close(c);
		return;
	}
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


/* A request whose headers are in: to the API or to the web page. */
void
http_dispatch(struct conn *c)
{
	char url[URL_MAX + 1], *seg[SG_VPATH_MAXSEG], *query;
	int n;

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
	api_route(c, seg, n, query ? query : "");
}

/* ---- accepting ---- */

void
http_conn_init(struct conn *c)
{
	llhttp_init(&c->hp, HTTP_REQUEST, &settings);
	c->hp.data = c;
	c->scan.on = 1;
	reset_request(c);
}

struct conn *
http_conn_new(struct https_front *h, int fd, const char *addr)
{
	struct gw *g = h->g;
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->rb = BIO_new(BIO_s_mem())) == NULL ||
	    uv_pipe_init(g->loop, &c->pipe, 0) != 0) {
		BIO_free(c->rb);
		free(c);
		return NULL;
	}
	c->pipe.data = c;
	if (uv_pipe_open(&c->pipe, fd) != 0) {
		/* the handle is closed, fd not: the caller's */
		BIO_free(c->rb);
		c->rb = NULL;
		c->refs = 1;
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return NULL;
	}
	c->front = h;
	c->accepted_at = gw_now_us();
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	BIO_set_mem_eof_return(c->rb, -1);
	http_conn_init(c);
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
	return c;
}

struct https_front *
gw_https_new(struct gw *g, int fd, char err[SG_ERR_MAX])
{
	struct https_front *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		sg_errf(err, "out of memory");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	h->g = g;
	if ((h->sessions = sg_sessions_new(SESSIONS_MAX, SESSIONS_PARTY)) ==
	    NULL) {
		sg_errf(err, "out of memory");
		free(h);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (tls_link_start(h, fd, err) != 0) {
		gw_https_free(h);
		return NULL;
	}
	return h;
}

/* Stops accepting; idle keep-alive connections are closed, the rest end
 * after their current response. */
void
gw_https_drain(struct https_front *h)
{
	struct conn *c, *next;

	h->listening = 0;
	tls_link_listen(h, 0);
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
	tls_link_close(h);
}

void
gw_https_free(struct https_front *h)
{
	if (h == NULL)
		return;
	tls_link_free(h);
	sg_sessions_free(h->sessions);
	free(h);
}

/* New TLS settings on reload (certificate renewed): new connections use
 * them. */
int
gw_https_reload(struct https_front *h, char err[SG_ERR_MAX])
{
	return tls_link_reload(h, err);
}

/* ---- helpers the API and the web page share ---- */

/* A URL path: percent-decoded, then split by the one resolver. */
int
http_split_path(char *url, char *seg[SG_VPATH_MAXSEG])
{
	if (sg_vpath_unescape(url) != 0)
		return -1;
	return sg_vpath_split(url, seg, 0);
}

/* The display name of a party (its id when it has none). */
const char *
http_party_name(const struct sg_config *cfg, const char *id)
{
	const struct sg_party *p = id ? sg_config_party(cfg, id) : NULL;

	return p && p->name ? p->name : id ? id : "";
}
