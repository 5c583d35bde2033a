/* libFuzzer target: HTTP request handling after TLS (front/http.c, api.c,
 * webpage.c): llhttp and the checks around it (bare LFs, folded lines,
 * lengths, smuggling), sign-in (Basic, Bearer, the web page's form and
 * cookie), Range, forms, paths, uploads and downloads, behind the real
 * access authority and a core answered in memory (core_stub.c).
 *
 * Input: byte 0 what fails (core_stub.h), byte 1 how the bytes arrive
 * (in pieces of 1 to 65,536), byte 2 the party with a live web session:
 * in the rest, PH_SESSION stands for its cookie's token and PH_CSRF for
 * its CSRF token. The rest is what a client sends, decrypted.
 *
 * Whatever the input: what the front sends parses as HTTP/1.1 responses
 * (unless a HEAD was asked, whose answers have no body); no answer holds
 * a password sent as one; a closed connection leaves nothing queued in its name
 * (leaks are found by libFuzzer). SG_FUZZ_TRACE=1 prints the answers. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_stub.h"
#include "front/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	const unsigned char	*p;
	size_t			 n, off, piece;
	int			 eof;
} feed;

static struct {
	int		 trace, head;
	int		 pw_secret;	/* the password came only as one */
	llhttp_t	 hp;
	int		 bad;
	char		 tail[32];	/* the end of what came before */
	size_t		 ntail;
} out;

static llhttp_settings_t rsettings;

/* 1 when the password occurs in the input only as a form's password
 * field (a party id typed as anything is shown again on the form) */
static int
pw_only_as_password(const unsigned char *in, size_t n)
{
	static const char pw[] = "fuzz-password-1";
	const unsigned char *q = in;

	while ((q = memmem(q, n - (size_t)(q - in), pw, sizeof(pw) - 1)) !=
	    NULL) {
		if (q - in < 9 || memcmp(q - 9, "password=", 9) != 0 ||
		    (q - in >= 10 && q[-10] != '&' && q[-10] != '\n'))
			return 0;
		q += sizeof(pw) - 1;
		if (q < in + n && *q != '&' && *q != '\r')
			return 0;
	}
	return 1;
}

/* ---- tls.c, as the fuzz target's client sees it ---- */

void
tls_send(struct conn *c, const void *buf, size_t len)
{
	static const char pw[] = "fuzz-password-1";
	char join[sizeof(out.tail) + 64];
	size_t k;

	if (c->closing || len == 0)
		return;
	if (out.trace && len > 9 && memcmp(buf, "HTTP/1.1 ", 9) == 0) {
		const char *eol = memchr(buf, '\r', len);

		fprintf(stderr, "  <- %.*s\n", (int)(eol ? eol -
		    (const char *)buf : 40), (const char *)buf);
	}
	if (out.pw_secret && memmem(buf, len, pw, sizeof(pw) - 1) != NULL)
		__builtin_trap();	/* a password echoed */
	/* ... nor across two sends */
	k = len < 64 ? len : 64;
	memcpy(join, out.tail, out.ntail);
	memcpy(join + out.ntail, buf, k);
	if (out.pw_secret && memmem(join, out.ntail + k, pw, sizeof(pw) -
	    1) != NULL)
		__builtin_trap();
	k = len < sizeof(out.tail) ? len : sizeof(out.tail);
	memcpy(out.tail, (const char *)buf + len - k, k);
	out.ntail = k;
	if (!out.head && !out.bad &&
	    llhttp_execute(&out.hp, buf, len) != HPE_OK) {
		fprintf(stderr, "fuzz_http: the front sent what does not "
		    "parse: %s\n", llhttp_get_error_reason(&out.hp));
		__builtin_trap();
	}
}

int
tls_read(struct conn *c, void *buf, size_t cap)
{
	size_t n = feed.n - feed.off;

	(void)c;
	if (n == 0)
		return feed.eof ? -1 : 0;
	if (n > feed.piece)
		n = feed.piece;
	if (n > cap)
		n = cap;
	memcpy(buf, feed.p + feed.off, n);
	feed.off += n;
	feed.piece -= n;
	return (int)n;
}

/* tls_link.c: no process, nothing accepted */
int
tls_link_start(struct https_front *h, int fd, char err[SG_ERR_MAX])
{
	(void)h, (void)fd;
	return sg_errf(err, "no TLS front door in a fuzz target");
}

void
tls_link_listen(struct https_front *h, int on)
{
	(void)h, (void)on;
}

int
tls_link_reload(struct https_front *h, char err[SG_ERR_MAX])
{
	(void)h, (void)err;
	return 0;
}

void
tls_link_close(struct https_front *h)
{
	(void)h;
}

void
tls_link_free(struct https_front *h)
{
	(void)h;
}

void
tls_peer_sha256(struct conn *c, char hex[65])
{
	(void)c;
	hex[0] = '\0';
}

/* A copy with each placeholder replaced by its token: the placeholders
 * are as long as the tokens, so a Content-Length stays true. */
#define PH_SESSION	"@SESSION@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"
#define PH_CSRF		"@CSRF@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"
_Static_assert(sizeof(PH_SESSION) == SG_SESSION_TOKEN &&
    sizeof(PH_CSRF) == SG_SESSION_TOKEN, "placeholders the tokens' length");

static unsigned char *
expand(const uint8_t *d, size_t n, const char *tok, const char *csrf)
{
	const size_t k = SG_SESSION_TOKEN - 1;
	unsigned char *b = malloc(n ? n : 1), *q;

	if (b == NULL)
		return NULL;
	memcpy(b, d, n);
	for (q = b; (q = memmem(q, n - (size_t)(q - b), PH_SESSION, k)) !=
	    NULL; q += k)
		memcpy(q, tok, k);
	for (q = b; (q = memmem(q, n - (size_t)(q - b), PH_CSRF, k)) != NULL;
	    q += k)
		memcpy(q, csrf, k);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static struct https_front front;
	const char *cfgpath = getenv("SG_FUZZ_CONFIG");
	struct gw *g;
	const struct sg_config *cfg;
	const struct sg_party *p;
	const struct sg_session *s;
	char tok[SG_SESSION_TOKEN];
	unsigned char bind[32], *in;
	struct conn *c;
	size_t n, chunk;
	int stuck = 0;

	if (front.g == NULL) {
		g = stub_gw(cfgpath ? cfgpath :
		    "tests/fuzz/conf/schoolgate.conf");
		if (uv_loop_init(&loop) != 0)
			abort();
		g->loop = &loop;
		front.g = g;
		if ((front.sessions = sg_sessions_new(SESSIONS_MAX,
		    SESSIONS_PARTY)) == NULL)
			abort();
		llhttp_settings_init(&rsettings);
	}
	g = front.g;
	cfg = g->conf->cfg;
	if (size < 3 || cfg->nparties == 0)
		return 0;
	stub_faults = data[0] & 0x3f;
	chunk = 1 + (size_t)data[1] * 257 % 65536;
	p = &cfg->parties[data[2] % cfg->nparties];
	if (p->password == NULL)
		abort();	/* the fuzz configuration gives each one */
	sg_session_bind(p->password, bind);
	if ((s = sg_session_start(front.sessions, p->id, bind, gw_now_us(),
	    tok)) == NULL)
		return 0;
	n = size - 3;
	if ((in = expand(data + 3, n, tok, s->csrf)) == NULL)
		return 0;

	memset(&out, 0, sizeof(out));
	out.trace = getenv("SG_FUZZ_TRACE") != NULL;
	out.head = memmem(in, n, "HEAD", 4) != NULL;
	out.pw_secret = pw_only_as_password(in, n);
	llhttp_init(&out.hp, HTTP_RESPONSE, &rsettings);
	memset(&feed, 0, sizeof(feed));
	feed.p = in;
	feed.n = n;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->front = &front;
	c->accepted_at = gw_now_us();
	snprintf(c->addr, sizeof(c->addr), "192.0.2.7");
	uv_pipe_init(&loop, &c->pipe, 0);	/* no socket: nothing is
						   read */
	c->pipe.data = c;
	uv_timer_init(&loop, &c->idle);
	c->idle.data = c;
	http_conn_init(c);
	g->count.connections++;
	c->next = front.conns;
	if (front.conns)
		front.conns->prev = c;
	front.conns = c;

	/* the bytes arrive piece by piece; what waits on the core is
	 * answered between pieces */
	while (!c->closing && stuck < 2) {
		size_t before = feed.off;
		int ran;

		feed.piece = chunk;
		if (feed.off == feed.n)
			feed.eof = 1;	/* the client closes */
		http_pump(c);
		ran = stub_drain();
		stuck = feed.off == before && !ran ? stuck + 1 : 0;
	}
	if (!c->closing)
		http_close(c);
	(void)stub_drain();
	if (stub_drain())
		__builtin_trap();
	uv_run(&loop, UV_RUN_NOWAIT);	/* frees the connection */
	if (front.conns != NULL)
		__builtin_trap();
	sg_session_end(front.sessions, tok);
	free(in);
	return 0;
}
