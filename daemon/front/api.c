/*
 * api: the /v1 JSON API. Signing in hands the credential to
 * core/signin.c; every answer about access comes from core/access.c,
 * mapped to HTTP statuses in one table (http.c's http_refuse); uploads
 * go to the pipeline, downloads stream the stored object, and the
 * records they need are written on the work pool before the answer.
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

static void json_xfer(struct conn *, FILE *, struct gw_xfer *,
    const char *);

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
			json_xfer(c, f, x, NULL);
		}
		/* signed by the log key (JSON made by the core) */
		if (r->receipt != NULL)
			fprintf(f, ",\"receipt\":%s", r->receipt);
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
void
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

	if (http_work_back(c))
		return;
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

/* 1: authenticated now; 0: answered or deferred (the caller returns). */
int
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

		tls_peer_sha256(c, fp);
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

static void json_time(FILE *, const char *, int64_t);

/* An agreement's state as every party to it sees it: "status", and
 * while a party or an operator suspends it, "suspension" (who, their
 * name, why, from, until), else null. */
static void
json_agr_state(FILE *f, const struct sg_config *cfg,
    const struct gw_agr_info *in)
{
	fputs(",\"status\":", f);
	sg_json_str(f, in->state);
	fputs(",\"status_why\":", f);
	if (in->why != NULL)
		sg_json_str(f, in->why);
	else
		fputs("null", f);
	fputs(",\"suspension\":", f);
	if (in->until == 0 || in->by == NULL) {
		fputs("null", f);
		return;
	}
	fputs("{\"by\":", f);
	sg_json_str(f, in->by);
	fputs(",\"by_name\":", f);
	sg_json_str(f, strcmp(in->by, "operator") == 0 ? "the gateway's "
	    "operators" : http_party_name(cfg, in->by));
	fputs(",\"reason\":", f);
	sg_json_str(f, in->reason ? in->reason : "");
	json_time(f, "from", in->since);
	json_time(f, "until", in->until);
	fputs("}", f);
}

static void
json_flow(FILE *f, const struct sg_config *cfg, const struct sg_agreement *a,
    const struct sg_flow *fl, const struct gw_agr_info *in)
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
	json_agr_state(f, cfg, in);
	fputs(",\"frequency\":", f);
	sg_json_str(f, fl->frequency);
	fprintf(f, ",\"per_period\":%u", fl->per_period);
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
		    "\"may_be_empty\":%s,\"special_category\":%s}",
		    sg_validator_name(col->type),
		    col->required ? "true" : "false",
		    col->required ? "false" : "true",
		    col->special_category ? "true" : "false");
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
		struct gw_agr_info in;

		gw_agreement_info(c->front->g, a, &in);
		for (j = 0; j < a->nflows; j++)
			if (sg_flow_has_sender(&a->flows[j], c->party) &&
			    (a->flows[j].methods & SG_METHOD_HTTPS)) {
				fputs(first ? "" : ",", f);
				first = 0;
				json_flow(f, cfg, a, &a->flows[j], &in);
			}
	}
	fputs("],\"receive\":[", f);
	first = 1;
	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		struct gw_agr_info in;

		gw_agreement_info(c->front->g, a, &in);
		for (j = 0; j < a->nflows; j++)
			if (sg_flow_has_recipient(&a->flows[j], c->party)) {
				fputs(first ? "" : ",", f);
				first = 0;
				json_flow(f, cfg, a, &a->flows[j], &in);
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

	fprintf(f, ",\"%s\":", key);
	if (us == 0) {
		fputs("null", f);
		return;
	}
	sg_time_rfc3339(us, b);
	fprintf(f, "\"%s\"", b);
}

static void
json_xfer(struct conn *c, FILE *f, struct gw_xfer *x, const char *report)
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
	    x->withdrawn_at ? "withdrawn" : x->state == GW_DELETED ?
	    "deleted" : x->state == GW_REJECTED ? "rejected" : "released",
	    x->rows);
	if (x->state != GW_REJECTED)
		fprintf(f, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\","
		    "\"delivery\":\"%s\"", x->plain_size, x->plain_sha256,
		    x->sealed ? "sealed" : "gateway");
	else
		fprintf(f, ",\"rule\":\"%s\",\"errors\":%" PRIu64, x->rule,
		    x->errors);
	json_time(f, "received", x->received);
	/* a correction and what it replaced, linked both ways (ids only:
	 * a transfer this party may not see is still only an id) */
	fputs(",\"supersedes\":", f);
	if (x->supersedes[0] != '\0')
		sg_json_str(f, x->supersedes);
	else
		fputs("null", f);
	fputs(",\"superseded_by\":", f);
	if (x->superseded_by[0] != '\0')
		sg_json_str(f, x->superseded_by);
	else
		fputs("null", f);
	if (x->state == GW_ACCEPTED) {
		const char *rule;
		int64_t due = gw_xfer_due(g, x, &rule);

		json_time(f, "kept_until", due > 0 ? due : 0);
		if (rule != NULL)
			fprintf(f, ",\"delete_rule\":\"%s\"", rule);
	}
	if (x->withdrawn_at != 0) {
		/* by its sender (a party id) or "operator"; reason a code */
		json_time(f, "withdrawn", x->withdrawn_at);
		fputs(",\"withdrawn_by\":", f);
		sg_json_str(f, x->withdrawn_by);
		fputs(",\"withdrawn_reason\":", f);
		sg_json_str(f, x->withdrawn_reason);
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
	if (report != NULL)
		fprintf(f, ",\"report\":%s", report);
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
		json_xfer(c, f, x, NULL);
	}
	fputs("]}\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

static void
transfer_answer(struct conn *c, struct gw_xfer *x, const char *report)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		http_close(c);
		return;
	}
	json_xfer(c, f, x, report);
	fputs("\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

/* The sender's report, read on the work pool. */
static void
transfer_report(void *arg, char *report)
{
	struct conn *c = arg;
	struct gw_xfer *x;

	if (http_work_back(c)) {
		free(report);
		return;
	}
	c->st = ST_HEADERS;
	if ((x = gw_xfer_find(c->front->g, c->dl_id)) == NULL)
		http_problem(c, 404, "not-found", "no such transfer", NULL);
	else
		transfer_answer(c, x, report);
	free(report);
}

/* GET /v1/transfers/{id}: its record; to its sender, with the report
 * (meta/, read off the I/O thread). */
static void
api_transfer(struct conn *c, struct gw_xfer *x)
{
	if (!gw_access_sent_by(x, c->party)) {
		transfer_answer(c, x, NULL);
		return;
	}
	snprintf(c->dl_id, sizeof(c->dl_id), "%s", x->id);
	c->refs++;
	c->st = ST_WORK;
	if (gw_xfer_report_read(c->front->g, x->id, transfer_report, c) !=
	    0) {
		c->refs--;
		c->st = ST_HEADERS;
		transfer_answer(c, x, NULL);
	}
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

	if (http_work_back(c)) {
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
	} else if (r->type == SG_REC_WITHDRAWN) {
		struct gw_xfer *x = gw_xfer_find(c->front->g, r->id);

		c->st = ST_DONE;
		if (x != NULL)
			transfer_answer(c, x, NULL);
		else
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
	if (gw_record(c->front->g, r->type, id, c->party, "https", c->addr,
	    r->off, r->end - r->off,
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

/* The object is open (or not), on the work pool: the range is checked
 * against its size, DOWNLOADED recorded once per connection, then the
 * bytes stream as the reader brings them. */
static void
content_opened(struct conn *c)
{
	struct gw *g = c->front->g;
	struct gw_xfer *x = gw_xfer_find(g, c->dl_id);
	struct rec_wait *r;
	uint64_t size;
	int rr;

	c->st = ST_HEADERS;
	if (x == NULL || gw_reader_ready(c->rd) != 1) {
		gw_reader_close(c->rd);
		c->rd = NULL;
		http_problem(c, 503, "unavailable", "the object cannot be "
		    "opened", NULL);
		return;
	}
	size = gw_reader_size(c->rd);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		http_close(c);
		return;
	}
	rr = parse_range(c->hv[H_RANGE], size, &r->off, &r->end);
	if (rr != 0) {
		char extra[64];

		free(r);
		gw_reader_close(c->rd);
		c->rd = NULL;
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

/* The reader's news: open, or the bytes the stream waits for. */
static void
content_read(void *arg)
{
	struct conn *c = arg;

	if (c->st == ST_STREAM)
		http_pump(c);
	else
		content_opened(c);
}

static void
api_content(struct conn *c, struct gw_xfer *x)
{
	struct gw *g = c->front->g;

	c->dl_sealed = x->sealed;
	snprintf(c->dl_id, sizeof(c->dl_id), "%s", x->id);
	if ((c->rd = gw_reader_open(g, x, content_read, c)) == NULL) {
		http_problem(c, 503, "unavailable", "the object cannot be read",
		    NULL);
		return;
	}
	c->st = ST_WORK;	/* content_opened() answers */
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

/* the value of key in a query string (k=v&...), or "" */
static void
query_get(const char *query, const char *key, char *out, size_t cap)
{
	size_t n, k = strlen(key);
	const char *p;

	out[0] = '\0';
	for (p = query; *p != '\0'; p += n + (p[n] == '&')) {
		n = strcspn(p, "&");
		if (n > k && strncmp(p, key, k) == 0 && p[k] == '=' &&
		    n - k - 1 < cap)
			snprintf(out, cap, "%.*s", (int)(n - k - 1), p + k + 1);
	}
}

static void
receipt_done(void *arg, char *json)
{
	struct conn *c = arg;

	if (http_work_back(c)) {
		free(json);
		return;
	}
	c->st = ST_HEADERS;
	if (json == NULL)
		http_problem(c, 503, "unavailable", "the receipt could not be "
		    "made; try again", "Retry-After: 5\r\n");
	else {
		char *body = NULL;

		if (asprintf(&body, "%s\n", json) < 0)
			body = NULL;
		if (body != NULL)
			http_respond(c, 200, "application/json", body,
			    strlen(body), NULL);
		else
			http_problem(c, 503, "unavailable", "out of memory",
			    NULL);
		free(body);
	}
	free(json);
}

/* GET /v1/transfers/{id}/receipt[?event=received|downloaded|confirmed]:
 * the caller's signed receipt (its sender's acceptance, or its own
 * download or confirmation), with its inclusion proof once the log's
 * checkpoint covers it. */
static void
api_receipt(struct conn *c, struct gw_xfer *x, const char *query)
{
	char event[16] = "";
	const char *why;

	if (query != NULL && query[0] != '\0' &&
	    (strncmp(query, "event=", 6) != 0 || strlen(query + 6) >=
	    sizeof(event) || strchr(query + 6, '&') != NULL)) {
		http_problem(c, 400, "bad-request", "the query is "
		    "event=received, downloaded or confirmed", NULL);
		return;
	}
	if (query != NULL && query[0] != '\0')
		snprintf(event, sizeof(event), "%s", query + 6);
	/* the answer comes from the work pool, never before this returns */
	if ((why = gw_receipt_get(c->front->g, x, c->party, event[0] ? event :
	    NULL, receipt_done, c)) != NULL) {
		if (strncmp(why, "busy", 4) == 0)
			http_problem(c, 503, "busy", why, "Retry-After: 2\r\n");
		else
			http_problem(c, 404, "no-receipt", why, NULL);
		return;
	}
	c->st = ST_WORK;
	c->refs++;
}

/* POST /v1/transfers/{id}/withdraw?reason=CODE by its sender: the
 * WITHDRAWN record and the deletion are durable before the answer. */
static void
api_withdraw(struct conn *c, struct gw_xfer *x, const char *query)
{
	struct gw *g = c->front->g;
	const char *why;
	char reason[32];
	enum gw_acc acc;
	struct rec_wait *r;

	if ((acc = gw_access_withdraw(g, x, c->party, &why)) != GW_ACC_OK) {
		http_refuse(c, acc, why);
		return;
	}
	query_get(query, "reason", reason, sizeof(reason));
	if (!sg_withdraw_reason_ok(reason)) {
		http_problem(c, 400, "bad-reason", "say why with ?reason=, one "
		    "of: " SG_WITHDRAW_REASONS, NULL);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		http_close(c);
		return;
	}
	r->c = c;
	r->type = SG_REC_WITHDRAWN;
	snprintf(r->id, sizeof(r->id), "%s", x->id);
	c->st = ST_WORK;
	c->refs++;
	if (gw_xfer_withdraw(g, x, c->party, reason, rec_after, r) != 0) {
		c->refs--;
		free(r);
		c->st = ST_HEADERS;
		http_problem(c, 503, "unavailable", "try again", NULL);
	}
}

/* One agreement as its parties see it: its dates, its lawful basis,
 * its parties, its state and any suspension, and what this party may do
 * about a suspension. */
static void
json_agreement(struct conn *c, FILE *f, const struct sg_agreement *a)
{
	struct gw *g = c->front->g;
	const struct sg_config *cfg = g->conf->cfg;
	struct gw_agr_info in;
	const char *why;
	char d[11], lb[1024];
	size_t i;

	gw_agreement_info(g, a, &in);
	fputs("{\"id\":", f);
	sg_json_str(f, a->id);
	fputs(",\"title\":", f);
	sg_json_str(f, a->title);
	json_agr_state(f, cfg, &in);
	sg_date_format(a->start, d);
	fprintf(f, ",\"start\":\"%s\"", d);
	sg_date_format(a->review, d);
	fprintf(f, ",\"review\":\"%s\"", d);
	sg_date_format(a->end, d);
	fprintf(f, ",\"end\":\"%s\",\"max_suspension_days\":%u,"
	    "\"suspension_expiry\":\"%s\"", d, a->max_suspension_days,
	    a->suspension_ends ? "end" : "resume");
	sg_lawful_basis_format(&a->lawful_basis, lb, sizeof(lb));
	fputs(",\"lawful_basis\":", f);
	sg_json_str(f, lb);
	fprintf(f, ",\"may_suspend\":%s,\"may_resume\":%s,\"parties\":[",
	    gw_access_agreement(g, c->party, a->id, 0, 1, &why) ==
	    GW_ACC_OK ? "true" : "false",
	    gw_access_agreement(g, c->party, a->id, 1, 0, &why) ==
	    GW_ACC_OK ? "true" : "false");
	for (i = 0; i < a->nparties; i++) {
		fputs(i ? ",{\"party\":" : "{\"party\":", f);
		sg_json_str(f, a->parties[i].party);
		fputs(",\"name\":", f);
		sg_json_str(f, http_party_name(cfg, a->parties[i].party));
		fputs(",\"role\":", f);
		sg_json_str(f, a->parties[i].role);
		fputs("}", f);
	}
	fputs("]}", f);
}

/* GET /v1/agreements: those this party is a party to. */
static void
api_agreements(struct conn *c)
{
	const struct sg_config *cfg = c->front->g->conf->cfg;
	char *buf = NULL;
	size_t len = 0, i;
	int first = 1;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		http_close(c);
		return;
	}
	fputs("{\"agreements\":[", f);
	for (i = 0; i < cfg->nagreements; i++)
		if (gw_access_party_to(&cfg->agreements[i], c->party)) {
			fputs(first ? "" : ",", f);
			first = 0;
			json_agreement(c, f, &cfg->agreements[i]);
		}
	fputs("]}\n", f);
	fclose(f);
	http_respond(c, 200, "application/json", buf, len, NULL);
	free(buf);
}

struct agr_wait {
	struct conn	*c;
	char		 id[129];
};

static void
agr_after(void *arg, int ok)
{
	struct agr_wait *w = arg;
	struct conn *c = w->c;
	const struct sg_agreement *a;

	if (http_work_back(c)) {
		free(w);
		return;
	}
	c->st = ST_HEADERS;
	a = sg_config_agreement(c->front->g->conf->cfg, w->id);
	if (ok && a == NULL) {
		/* recorded, and then a reload took the agreement out */
		c->st = ST_DONE;
		http_respond(c, 204, "application/json", "", 0, NULL);
	} else if (!ok) {
		c->close_after = 1;
		http_problem(c, 503, "unavailable", "the transfer log could not "
		    "be written; nothing changed; try again later",
		    "Retry-After: 60\r\n");
	} else {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		c->st = ST_DONE;
		if (f == NULL) {
			http_close(c);
			free(w);
			return;
		}
		json_agreement(c, f, a);
		fputs("\n", f);
		fclose(f);
		http_respond(c, 200, "application/json", buf, len, NULL);
		free(buf);
	}
	free(w);
}

/* POST /v1/agreements/{id}/suspend?reason=CODE&days=N and
 * .../resume?reason=CODE by a party to it: answered once the
 * AGREEMENT_STATUS record is durable. */
static void
api_suspend(struct conn *c, const char *id, int resume, const char *query)
{
	struct gw *g = c->front->g;
	char reason[33], days_s[8];
	unsigned days = 0;
	const char *why;
	enum gw_acc acc;
	struct agr_wait *w;

	query_get(query, "reason", reason, sizeof(reason));
	query_get(query, "days", days_s, sizeof(days_s));
	if (!resume) {
		if (days_s[0] == '\0' || strspn(days_s, "0123456789") !=
		    strlen(days_s) || strlen(days_s) > 3) {
			http_problem(c, 400, "bad-days", "say for how many days "
			    "with ?days=N", NULL);
			return;
		}
		days = (unsigned)atoi(days_s);
	}
	if ((acc = gw_access_agreement(g, c->party, id, resume, days,
	    &why)) != GW_ACC_OK) {
		http_refuse(c, acc, why);
		return;
	}
	if (resume ? !sg_resume_reason_ok(reason) :
	    !sg_suspend_reason_ok(reason)) {
		http_problem(c, 400, "bad-reason", resume ? "say why with "
		    "?reason=, one of: " SG_RESUME_REASONS : "say why with "
		    "?reason=, one of: " SG_SUSPEND_REASONS, NULL);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		http_close(c);
		return;
	}
	w->c = c;
	snprintf(w->id, sizeof(w->id), "%s", id);
	c->st = ST_WORK;
	c->refs++;
	if ((resume ? gw_agreement_resume(g, id, c->party, reason, agr_after,
	    w) : gw_agreement_suspend(g, id, c->party, reason, days, agr_after,
	    w)) != 0) {
		c->refs--;
		free(w);
		c->st = ST_HEADERS;
		http_problem(c, 503, "unavailable", "try again", NULL);
	}
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

/* /v1/...: the API, for a signed-in party (the route's first segment is
 * "v1"). */
void
api_route(struct conn *c, char *seg[], int n, const char *query)
{
	struct gw *g = c->front->g;
	int m = c->hp.method;
	enum gw_see see;
	const char *why;
	struct gw_xfer *x;

	/* a change asked by another site's page (a form can POST with the
	 * browser's Basic credentials or client certificate): browsers say
	 * where a request comes from; scripts and curl send no such header */
	if (m != HTTP_GET && m != HTTP_HEAD && c->hvlen[H_FETCHSITE] > 0 &&
	    strcmp(c->hv[H_FETCHSITE], "same-origin") != 0 &&
	    strcmp(c->hv[H_FETCHSITE], "none") != 0) {
		c->close_after = 1;
		http_problem(c, 403, "csrf", "this request came from another "
		    "site's page", NULL);
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
	if (n == 2 && strcmp(seg[1], "agreements") == 0) {
		if (m != HTTP_GET && m != HTTP_HEAD)
			goto method;
		api_agreements(c);
		return;
	}
	if (n == 4 && strcmp(seg[1], "agreements") == 0 &&
	    (strcmp(seg[3], "suspend") == 0 || strcmp(seg[3], "resume") == 0)) {
		if (m != HTTP_POST)
			goto method;
		if (!sg_vseg_ok(seg[2], strlen(seg[2]), SG_VSEG_ID) ||
		    strlen(seg[2]) > 128) {
			http_not_found(c);
			return;
		}
		api_suspend(c, seg[2], seg[3][0] == 'r', query);
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
		if (n == 4 && strcmp(seg[3], "withdraw") == 0) {
			if (m != HTTP_POST)
				goto method;
			api_withdraw(c, x, query);
			return;
		}
		if (n == 4 && strcmp(seg[3], "receipt") == 0) {
			if (m != HTTP_GET)	/* (HEAD would cost a proof) */
				goto method;
			api_receipt(c, x, query);
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
