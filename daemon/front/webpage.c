/*
 * webpage: the staff web page's routes: the sign-in and sign-out forms
 * (CSRF tokens, the same sign-in path as the API), sessions, the pages
 * (from the templates in daemon/web/, filled by web.c) and the assets.
 * The pages hold no data of their own: their script uses /v1.
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

/* ---- the web page for school staff ---- */

static int64_t
web_idle_us(const struct sg_daemon_conf *d)
{
	return (int64_t)d->session_idle_seconds * 1000000;
}

/* The request's signed-in session, checked against the configuration
 * as it is now: a party removed, or its password changed, ends it. */
const struct sg_session *
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

	if (http_work_back(c)) {
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

void
web_route(struct conn *c, char *seg[], int n, const char *query)
{
	static const struct {
		const char *path, *title;
	} pages[] = {
		{ "send", "Send a file" },
		{ "received", "Received files" },
		{ "sent", "Sent files" },
		{ "agreements", "Agreements" },
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
