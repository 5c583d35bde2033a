/*
 * core_stub.c: the core as a front door's fuzz target sees it (the SFTP
 * handler today). The access authority (core/access.c) and the
 * agreements' states (core/agreements.c) are the real ones, linked in;
 * what they and the front ask of the store, the log and the pipeline
 * is answered here, in memory, and asynchronously as the daemon answers
 * it: each callback is queued and runs only when the target drains the
 * queue (stub_drain), never inside the call that asked for it.
 *
 * stub_faults (set by the target from its input) makes the answers
 * fail: a log record not written, a file that cannot be read, an upload
 * rejected or failing part way.
 */
#include "core_stub.h"

#include "base/codec.h"
#include "front/https.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

unsigned stub_faults;

/* ---- the queue of callbacks ---- */

enum ev_kind { EV_DONE_CB, EV_READER, EV_UP_RESUME, EV_UP_CHECKED, EV_UP_DONE,
    EV_SIGNIN, EV_TEXT };

struct ev {
	enum ev_kind	 kind;
	void		(*cb)(void *, int);
	void		*arg;
	int		 ok;
	struct gw_reader *rd;
	struct gw_upload *up;
	gw_signin_cb	 scb;		/* EV_SIGNIN */
	struct gw_signed signed_in;
	void		(*tcb)(void *, char *);	/* EV_TEXT */
	char		*text;
};

#define EV_MAX	256
static struct ev q[EV_MAX];
static size_t nq;

static int
push(struct ev e)
{
	if (nq == EV_MAX)
		return -1;
	q[nq++] = e;
	return 0;
}

static void
forget(const struct gw_reader *rd, const struct gw_upload *up)
{
	size_t i, k = 0;

	for (i = 0; i < nq; i++)
		if ((rd == NULL || q[i].rd != rd) &&
		    (up == NULL || q[i].up != up))
			q[k++] = q[i];
	nq = k;
}

/* ---- readers ---- */

struct gw_reader {
	gw_reader_cb	 cb;
	void		*arg;
	int		 ready;		/* 0 opening, 1 open, -1 failed */
	uint64_t	 size;
	uint64_t	 filled;	/* block (64 KiB) read ahead, +1 */
	unsigned char	 buf[65536];
};

/* ---- uploads ---- */

struct gw_upload {
	struct gw_upload_cb	 cb;
	void			*arg;
	uint64_t		 fed, since, max;
	uint64_t		 watch, checked;
	int			 ended;
	struct gw_upload_result	 res;
};

static void
up_destroy(struct gw_upload *u)
{
	forget(NULL, u);
	sg_report_free(&u->res.report);
	free(u->res.receipt);
	free(u);
}

int
stub_drain(void)
{
	int ran = 0;

	while (nq > 0) {
		struct ev e = q[0];

		memmove(q, q + 1, (nq - 1) * sizeof(q[0]));
		nq--;
		ran = 1;
		switch (e.kind) {
		case EV_DONE_CB:
			e.cb(e.arg, e.ok);
			break;
		case EV_READER:
			if (e.rd->ready == 0)
				e.rd->ready = e.ok ? 1 : -1;
			else
				e.rd->filled = (uint64_t)e.ok;
			e.rd->cb(e.rd->arg);
			break;
		case EV_UP_RESUME:
			e.up->since = 0;
			e.up->cb.resume(e.up->arg);
			break;
		case EV_UP_CHECKED:
			e.up->checked = (uint64_t)e.ok;
			if (e.up->cb.checked != NULL)
				e.up->cb.checked(e.up->arg, e.up);
			break;
		case EV_UP_DONE:
			e.up->cb.done(e.up->arg, e.up);
			break;
		case EV_SIGNIN:
			e.scb(e.arg, e.ok ? GW_SIGNIN_OK : GW_SIGNIN_REFUSED,
			    &e.signed_in);
			break;
		case EV_TEXT:
			e.tcb(e.arg, e.text);	/* the callee frees it */
			break;
		}
	}
	return ran;
}

/* ---- the gateway ---- */

static struct gw_xfer *
xfer_add(struct gw *g, const struct sg_agreement *a, const struct sg_flow *f,
    const char *sender, enum gw_state st, const char *name)
{
	struct gw_xfer *x = calloc(1, sizeof(*x));
	int64_t now = gw_now_us();
	size_t i;

	if (x == NULL)
		abort();
	snprintf(x->id, sizeof(x->id), "20261201-%06zu-fz", g->nxfers);
	x->agreement = strdup(a->id);
	x->flow = strdup(f->id);
	x->sender = strdup(sender);
	x->name = strdup(name);
	x->state = st;
	x->sealed = f->delivery == SG_DELIVERY_SEALED;
	x->received = now - (int64_t)86400 * 1000000;
	if (st == GW_ACCEPTED) {
		x->released = 1;
		x->released_at = x->received + 1000;
		x->plain_size = 150000;
		x->obj_size = x->sealed ? 150000 + 2 * 16 + 200 : 150000;
		x->rows = 1200;
		x->rcpt = calloc(f->nrecipients, sizeof(*x->rcpt));
		if (x->rcpt == NULL && f->nrecipients > 0)
			abort();
		x->nrcpt = f->nrecipients;
		for (i = 0; i < f->nrecipients; i++)
			x->rcpt[i].party = strdup(f->recipients[i]);
	} else if (st == GW_REJECTED) {
		snprintf(x->rule, sizeof(x->rule), "check-letter");
		x->errors = 3;
		x->report_size = 3000;
	} else {
		x->deleted_at = now - 1000;
		snprintf(x->delete_reason, sizeof(x->delete_reason),
		    "retention-confirmed");
	}
	if (g->nxfers == g->capxfers) {
		size_t nc = g->capxfers ? 2 * g->capxfers : 64;
		struct gw_xfer **nx = realloc(g->xfers, nc * sizeof(*nx));

		if (nx == NULL)
			abort();
		g->xfers = nx;
		g->capxfers = nc;
	}
	g->xfers[g->nxfers++] = x;
	return x;
}

struct gw *
stub_gw(const char *config)
{
	static struct gw g;
	static struct gw_conf conf;
	struct sg_diag diag;
	struct gw_xfer *x;
	size_t i, j, k;

	if (g.conf != NULL)
		return &g;
	sg_diag_init(&diag);
	if ((conf.cfg = sg_config_load(config, &diag)) == NULL) {
		fprintf(stderr, "core_stub: %s: configuration refused\n",
		    config);
		abort();
	}
	sg_diag_free(&diag);
	conf.refs = 1;
	g.conf = &conf;
	g.started = gw_now_us();
	g.agr_day = sg_today();
	for (i = 0; i < conf.cfg->nagreements; i++) {
		const struct sg_agreement *a = &conf.cfg->agreements[i];

		for (j = 0; j < a->nflows; j++) {
			const struct sg_flow *f = &a->flows[j];

			for (k = 0; k < f->nsenders; k++) {
				const char *s = f->senders[k];

				(void)xfer_add(&g, a, f, s, GW_ACCEPTED,
				    "census-2026.csv");
				x = xfer_add(&g, a, f, s, GW_ACCEPTED,
				    "R\xc3\xa9sum\xc3\xa9 2026.csv");
				if (x->nrcpt > 0) {
					x->rcpt[0].downloaded = x->released_at;
					x->rcpt[0].downloads = 1;
					x->rcpt[0].confirmed = x->released_at;
				}
				(void)xfer_add(&g, a, f, s, GW_REJECTED,
				    "census-2026.csv");
				(void)xfer_add(&g, a, f, s, GW_DELETED,
				    "old.csv");
				x = xfer_add(&g, a, f, s, GW_DELETED,
				    "sent-in-error.csv");
				x->withdrawn_at = x->deleted_at;
				snprintf(x->withdrawn_by,
				    sizeof(x->withdrawn_by), "%s", s);
				snprintf(x->withdrawn_reason,
				    sizeof(x->withdrawn_reason),
				    "sent-in-error");
			}
		}
	}
	return &g;
}

/* ---- transfers.c ---- */

int64_t
gw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct gw_xfer *
gw_xfer_find(struct gw *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->nxfers; i++)
		if (strcmp(g->xfers[i]->id, id) == 0)
			return g->xfers[i];
	return NULL;
}

struct gw_rcpt *
gw_xfer_rcpt(struct gw_xfer *x, const char *party)
{
	size_t i;

	for (i = 0; i < x->nrcpt; i++)
		if (strcmp(x->rcpt[i].party, party) == 0)
			return &x->rcpt[i];
	return NULL;
}

const char *
gw_xfer_name(struct gw *g, struct gw_xfer *x)
{
	(void)g;
	return x->name ? x->name : "";
}

int64_t
gw_xfer_due(struct gw *g, const struct gw_xfer *x, const char **rule)
{
	(void)g;
	if (rule != NULL)
		*rule = x->state == GW_REJECTED ? "report-expired" :
		    "retention-release";
	if (x->state == GW_REJECTED)
		return x->received + (int64_t)30 * 86400 * 1000000;
	return x->state == GW_ACCEPTED && x->released ? x->released_at +
	    (int64_t)7 * 86400 * 1000000 : -1;
}

int
gw_xfer_held_like(struct gw *g, const char *sender, const char *agreement,
    const char *flow, const char *name, char supersedes[SG_ID_MAX],
    struct gw_held **held, size_t *nheld)
{
	(void)g, (void)sender, (void)agreement, (void)flow, (void)name;
	supersedes[0] = '\0';
	if (held != NULL) {
		*held = NULL;
		*nheld = 0;
	}
	return 0;
}

static int
later(void (*cb)(void *, int), void *arg, unsigned fault)
{
	if (stub_faults & STUB_QUEUE_FULL)
		return -1;
	if (cb == NULL)
		return 0;
	return push((struct ev){ .kind = EV_DONE_CB, .cb = cb, .arg = arg,
	    .ok = !(stub_faults & fault) });
}

int
gw_record(struct gw *g, int type, const char *id, const char *party,
    const char *front, const char *addr, uint64_t from, uint64_t bytes,
    gw_record_cb cb, void *arg)
{
	struct gw_xfer *x = gw_xfer_find(g, id);

	(void)type, (void)front, (void)addr, (void)from, (void)bytes;
	if (x == NULL || gw_xfer_rcpt(x, party) == NULL)
		__builtin_trap();	/* the front asked without access */
	return later(cb, arg, STUB_LOG_FAILS);
}

int
gw_xfer_rename(struct gw *g, const char *id, const char *name,
    gw_done_cb cb, void *arg)
{
	struct gw_xfer *x = gw_xfer_find(g, id);

	if (x == NULL || !sg_vseg_ok(name, strlen(name), SG_VSEG_NAME))
		__builtin_trap();
	return later(cb, arg, STUB_LOG_FAILS);
}

int
gw_xfer_withdraw(struct gw *g, struct gw_xfer *x, const char *by,
    const char *reason, void (*cb)(void *, int), void *arg)
{
	(void)g, (void)reason;
	if (strcmp(x->sender, by) != 0)
		__builtin_trap();
	return later(cb, arg, STUB_LOG_FAILS);
}

int
gw_log_note(struct gw *g, int type, const struct sg_payload *pl,
    void (*cb)(void *, int), void *arg)
{
	(void)g, (void)type, (void)pl;
	return later(cb, arg, STUB_LOG_FAILS);
}

int
gw_dl_recorded(struct gw_dl_memo *m, const char *party, const char *id)
{
	unsigned i;

	if (strcmp(m->party, party) != 0)
		return 0;
	for (i = 0; i < GW_DL_MEMO; i++)
		if (strcmp(m->id[i], id) == 0)
			return 1;
	return 0;
}

void
gw_dl_note(struct gw_dl_memo *m, const char *party, const char *id)
{
	if (strcmp(m->party, party) != 0) {
		memset(m, 0, sizeof(*m));
		snprintf(m->party, sizeof(m->party), "%s", party);
	}
	snprintf(m->id[m->next], sizeof(m->id[0]), "%s", id);
	m->next = (m->next + 1) % GW_DL_MEMO;
}

/* ---- reader.c ---- */

static struct gw_reader *
reader_new(uint64_t size, gw_reader_cb cb, void *arg)
{
	struct gw_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->cb = cb;
	r->arg = arg;
	r->size = size;
	if (push((struct ev){ .kind = EV_READER, .rd = r,
	    .ok = !(stub_faults & STUB_READ_FAILS) }) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

struct gw_reader *
gw_reader_open(struct gw *g, const struct gw_xfer *x, gw_reader_cb cb,
    void *arg)
{
	(void)g;
	if (x->state != GW_ACCEPTED)
		__builtin_trap();	/* nothing to read */
	return reader_new(x->obj_size, cb, arg);
}

struct gw_reader *
gw_reader_open_report(struct gw *g, const struct gw_xfer *x,
    gw_reader_cb cb, void *arg)
{
	(void)g;
	if (x->state != GW_REJECTED)
		__builtin_trap();
	return reader_new(x->report_size, cb, arg);
}

int
gw_reader_ready(const struct gw_reader *r)
{
	return r->ready;
}

uint64_t
gw_reader_size(const struct gw_reader *r)
{
	if (r->ready != 1)
		__builtin_trap();	/* asked before it was open */
	return r->size;
}

ssize_t
gw_reader_get(struct gw_reader *r, uint64_t off, size_t want,
    const unsigned char **p)
{
	uint64_t block = off / sizeof(r->buf), in;
	size_t n;

	if (r->ready != 1)
		__builtin_trap();
	if (off >= r->size)
		return -1;
	if (r->filled != block + 1) {
		/* read ahead on "the pool": the answer follows */
		forget(r, NULL);
		if (push((struct ev){ .kind = EV_READER, .rd = r,
		    .ok = (int)(block + 1) }) != 0)
			return -1;
		return 0;
	}
	in = off - block * sizeof(r->buf);
	n = sizeof(r->buf) - (size_t)in;
	if (n > want)
		n = want;
	if (n > r->size - off)
		n = (size_t)(r->size - off);
	memset(r->buf + in, (int)(block & 0xff), n);
	*p = r->buf + in;
	return (ssize_t)n;
}

void
gw_reader_close(struct gw_reader *r)
{
	if (r == NULL)
		return;
	forget(r, NULL);
	free(r);
}

/* ---- upload.c ---- */

unsigned
gw_pool_queued(struct gw *g)
{
	(void)g;
	return 0;
}

struct gw_upload *
gw_upload_begin(struct gw *g, const char *party, const char *front,
    const char *addr, const char *agreement, const char *flow,
    const char *name, const char *zip_password, uint64_t max_bytes,
    const struct gw_upload_cb *cb, void *arg)
{
	const struct sg_agreement *a = sg_config_agreement(g->conf->cfg,
	    agreement);
	const struct sg_flow *f = a ? sg_agreement_flow(a, flow) : NULL;
	struct gw_upload *u;

	(void)front, (void)addr, (void)zip_password;
	/* the access authority decided first */
	if (f == NULL || !sg_flow_has_sender(f, party) || !sg_vseg_ok(name, strlen(name), SG_VSEG_NAME))
		__builtin_trap();
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->cb = *cb;
	u->arg = arg;
	u->max = max_bytes;
	sg_report_init(&u->res.report, 4);
	return u;
}

int
gw_upload_feed(struct gw_upload *u, const void *p, size_t n)
{
	(void)p;
	if (u->ended)
		__builtin_trap();	/* bytes after the end */
	u->fed += n;
	u->since += n;
	if (u->max != 0 && u->fed > u->max)
		return -1;
	if (u->since > 256 * 1024) {
		forget(NULL, u);
		(void)push((struct ev){ .kind = EV_UP_RESUME, .up = u });
		return 1;
	}
	return 0;
}

uint64_t
gw_upload_watch(struct gw_upload *u)
{
	if (stub_faults & STUB_NO_THREAD)
		return 0;
	u->watch++;
	(void)push((struct ev){ .kind = EV_UP_CHECKED, .up = u,
	    .ok = (int)u->watch });
	return u->watch;
}

uint64_t
gw_upload_checked(struct gw_upload *u)
{
	return u->checked;
}

int
gw_upload_failing(struct gw_upload *u, char *why, size_t cap)
{
	if (!(stub_faults & STUB_REJECT) || u->fed == 0)
		return 0;
	snprintf(why, cap, "row 2, column UPN: check-letter");
	return 1;
}

void
gw_upload_end(struct gw_upload *u)
{
	struct gw_upload_result *r = &u->res;

	if (u->ended)
		__builtin_trap();	/* ended twice */
	u->ended = 1;
	snprintf(r->id, sizeof(r->id), "fuzz-%llu",
	    (unsigned long long)u->fed);
	r->bytes_in = u->fed;
	if (stub_faults & STUB_REJECT) {
		r->status = 422;
		r->report.rows = 2;
		sg_report_add(&r->report, 0, 2, "UPN", "check-letter",
		    "the check letter does not match");
	} else if (stub_faults & STUB_LOG_FAILS) {
		r->status = 503;
		snprintf(r->problem, sizeof(r->problem), "the transfer log "
		    "could not be written");
	} else {
		r->status = 201;
		r->report.rows = u->fed / 64;
		r->received_seq = 42;
	}
	(void)push((struct ev){ .kind = EV_UP_DONE, .up = u });
}

void
gw_upload_cancel(struct gw_upload *u)
{
	if (u != NULL)
		up_destroy(u);
}

void
gw_upload_refuse(struct gw_upload *u, const char *rule)
{
	if (rule == NULL)
		__builtin_trap();
	gw_upload_cancel(u);
}

const struct gw_upload_result *
gw_upload_result(const struct gw_upload *u)
{
	return &u->res;
}

void
gw_upload_free(struct gw_upload *u)
{
	if (u != NULL)
		up_destroy(u);
}

/* ---- signin.c ---- */

#define STUB_PASSWORD	"fuzz-password-1"

unsigned
gw_signin_banned(struct gw *g, const char *addr)
{
	(void)g, (void)addr;
	return stub_faults & STUB_BANNED ? 30 : 0;
}

/* the real decision (core/signin.c) but for the budget, never full */
int
gw_admit(struct gw *g, enum gw_front f, const char *addr)
{
	return g->draining || g->count.connections >=
	    g->conf->cfg->daemon.max_connections || gw_signin_banned(g, addr) >
	    (f == GW_FRONT_HTTPS ? GW_BAN_TOLD : 0) ? -1 : 0;
}

void
gw_unauth_release(struct gw *g, enum gw_front f, const char *addr)
{
	(void)g, (void)f, (void)addr;
}

enum gw_signin
gw_signin_password(struct gw *g, enum gw_via via, const char *addr,
    const char *user, const char *pw, size_t pwlen, gw_signin_cb cb,
    void *arg, struct gw_signed *out)
{
	struct ev e = { .kind = EV_SIGNIN, .scb = cb, .arg = arg };

	(void)via, (void)addr;
	memset(out, 0, sizeof(*out));
	if (stub_faults & STUB_BANNED) {
		out->retry = 30;
		return GW_SIGNIN_BANNED;
	}
	if (stub_faults & STUB_QUEUE_FULL)
		return GW_SIGNIN_BUSY;
	snprintf(e.signed_in.party, sizeof(e.signed_in.party), "%s",
	    sg_config_party(g->conf->cfg, user) ? user : "unknown");
	/* checked "on the pool": the answer follows */
	e.ok = sg_config_party(g->conf->cfg, user) != NULL &&
	    pwlen == strlen(STUB_PASSWORD) &&
	    memcmp(pw, STUB_PASSWORD, pwlen) == 0;
	if (push(e) != 0)
		return GW_SIGNIN_BUSY;
	return GW_SIGNIN_WAIT;
}

enum gw_signin
gw_signin_basic(struct gw *g, const char *addr, const char *b64,
    gw_signin_cb cb, void *arg, struct gw_signed *out)
{
	unsigned char dec[512];
	char *colon, *second;
	long n;
	enum gw_signin r;

	memset(out, 0, sizeof(*out));
	if ((n = sg_b64_decode(b64, strlen(b64), dec, sizeof(dec) - 1, 1)) <
	    0)
		return GW_SIGNIN_MALFORMED;
	dec[n] = '\0';
	if ((colon = memchr(dec, ':', (size_t)n)) != NULL &&
	    (second = strchr(colon + 1, ':')) != NULL) {
		*second = '\0';
		if (sg_config_party(g->conf->cfg, (char *)dec) != NULL)
			colon = second;
		*second = ':';
	}
	if (colon == NULL) {
		snprintf(out->party, sizeof(out->party), "unknown");
		return GW_SIGNIN_REFUSED;
	}
	*colon = '\0';
	r = gw_signin_password(g, GW_VIA_API, addr, (char *)dec, colon + 1,
	    (size_t)n - (size_t)(colon + 1 - (char *)dec), cb, arg, out);
	return r;
}

enum gw_signin
gw_signin_token(struct gw *g, const char *addr, const char *token,
    struct gw_signed *out)
{
	const struct sg_config *cfg = g->conf->cfg;
	char *end;
	unsigned long i;

	(void)addr;
	memset(out, 0, sizeof(*out));
	if (stub_faults & STUB_BANNED) {
		out->retry = 30;
		return GW_SIGNIN_BANNED;
	}
	if (strncmp(token, "fuzz-token-", 11) == 0 && token[11] >= '0' &&
	    token[11] <= '9' && (i = strtoul(token + 11, &end, 10)) <
	    cfg->nparties && *end == '\0') {
		snprintf(out->party, sizeof(out->party), "%s",
		    cfg->parties[i].id);
		return GW_SIGNIN_OK;
	}
	snprintf(out->party, sizeof(out->party), "unknown");
	return GW_SIGNIN_REFUSED;
}

enum gw_signin
gw_signin_cert(struct gw *g, const char *addr, const char *sha256_hex,
    struct gw_signed *out)
{
	(void)g, (void)addr, (void)sha256_hex;
	memset(out, 0, sizeof(*out));
	return GW_SIGNIN_NEXT;
}

/* ---- receipts and reports ---- */

static int
text_later(void (*cb)(void *, char *), void *arg, const char *text)
{
	char *t = text ? strdup(text) : NULL;

	if (push((struct ev){ .kind = EV_TEXT, .tcb = cb, .arg = arg,
	    .text = t }) != 0) {
		free(t);
		return -1;
	}
	return 0;
}

const char *
gw_receipt_get(struct gw *g, const struct gw_xfer *x, const char *party,
    const char *event, gw_receipt_cb cb, void *arg)
{
	struct gw_xfer *mx = gw_xfer_find(g, x->id);

	(void)event;
	/* the access authority decided first */
	if (mx != x || (strcmp(x->sender, party) != 0 &&
	    gw_xfer_rcpt(mx, party) == NULL))
		__builtin_trap();
	if (stub_faults & STUB_QUEUE_FULL)
		return "busy: receipts are being made; try again";
	if (text_later(cb, arg, stub_faults & STUB_LOG_FAILS ? NULL :
	    "{\"receipt\":\"fuzz\"}") != 0)
		return "busy: receipts are being made; try again";
	return NULL;
}

int
gw_xfer_report_read(struct gw *g, const char *id, gw_report_cb cb,
    void *arg)
{
	if (gw_xfer_find(g, id) == NULL)
		__builtin_trap();
	if (stub_faults & STUB_QUEUE_FULL)
		return -1;
	return text_later(cb, arg, stub_faults & STUB_READ_FAILS ? NULL :
	    "{\"rows\":2,\"errors\":[{\"row\":2,\"column\":\"UPN\","
	    "\"rule\":\"check-letter\",\"message\":\"the check letter "
	    "does not match\"}]}");
}

/* ---- journal.c ---- */

void
gw_journalf(enum gw_event ev, int priority, const char *const fields[],
    const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	(void)ev, (void)priority, (void)fields;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);	/* its arguments are read */
	va_end(ap);
}

enum gw_signin
gw_signin_ssh_key(struct gw *g, const char *addr, const char *user,
    const char *key, int proof, struct gw_signed *out)
{
	(void)addr, (void)key;
	memset(out, 0, sizeof(*out));
	if (stub_faults & STUB_BANNED) {
		out->retry = 30;
		return GW_SIGNIN_BANNED;
	}
	if (sg_config_party(g->conf->cfg, user) == NULL || proof < 0)
		return GW_SIGNIN_REFUSED;
	snprintf(out->party, sizeof(out->party), "%s", user);
	return proof == 1 ? GW_SIGNIN_OK : GW_SIGNIN_KEY_OK;
}

void
gw_signin_failed(struct gw *g, enum gw_via via, const char *addr,
    const char *party)
{
	(void)g, (void)via, (void)addr, (void)party;
}
