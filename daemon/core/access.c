/*
 * access: the one place that decides what a party may do, for both
 * front doors: send on a flow, see a transfer, read its content, and
 * the name a download has. Every answer is taken against the
 * configuration in force now (g->conf, replaced by a reload) and today's
 * date, never against what was true when a file was released: a
 * recipient taken out of an agreement, or an agreement suspended, ends,
 * or removed, stops reading at once, on both fronts alike.
 *
 * The answers are our own codes; each front maps them to its protocol's
 * statuses in one table (front/http.c's http_refuse, front/sftp.c's
 * fx_status).
 */
#include "gw.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "policy/vpath.h"

static const char confirmed_why[] = "receipt of this transfer was "
    "confirmed; it can no longer be downloaded";
static const char withdrawn_why[] = "this transfer was withdrawn; it "
    "can no longer be downloaded";

/* Why an agreement stops uploads and releases now, or NULL when it does
 * not: its state (core/agreements.c) against the configuration in
 * force, its dates and any suspension. The text lives in *in. */
static const char *
agreement_block(struct gw *g, const struct sg_agreement *a,
    struct gw_agr_info *in)
{
	gw_agreement_info(g, a, in);
	return in->why;
}

int
gw_access_party_to(const struct sg_agreement *a, const char *party)
{
	size_t i;

	/* the parties it lists (every sender and recipient of its flows
	 * is one: the configuration refuses others) */
	for (i = 0; a != NULL && i < a->nparties; i++)
		if (strcmp(a->parties[i].party, party) == 0)
			return 1;
	return 0;
}

enum gw_acc
gw_access_agreement(struct gw *g, const char *party, const char *agreement,
    int resume, unsigned days, const char **why)
{
	const struct sg_agreement *a = sg_config_agreement(g->conf->cfg,
	    agreement);
	struct gw_agr_info in;

	if (a == NULL || (party != NULL && !gw_access_party_to(a, party))) {
		*why = "no such agreement for this party";
		return GW_ACC_UNKNOWN;
	}
	gw_agreement_info(g, a, &in);
	*why = NULL;
	if (gw_agreement_pending(g, a->id)) {
		*why = "a change to this agreement is being recorded; try "
		    "again in a moment";
		return GW_ACC_CONFLICT;
	}
	if (resume) {
		/* ended when a suspension ran out: operators may bring it
		 * back (the parties agreed to go on) */
		if (strcmp(in.state, "ended") == 0 && party == NULL)
			return GW_ACC_OK;
		if (in.until == 0 || strcmp(in.state, "suspended") != 0) {
			*why = strcmp(in.state, "suspended") == 0 ?
			    "the agreement is suspended by its configuration: "
			    "the gateway's operators resume it by loading the "
			    "agreement again" :
			    "the agreement is not suspended";
			return GW_ACC_CONFLICT;
		}
		if (party != NULL && strcmp(in.by, party) != 0) {
			*why = "another party suspended the agreement: only "
			    "that party or the gateway's operators can resume "
			    "it";
			return GW_ACC_REFUSED;
		}
		return GW_ACC_OK;
	}
	if (strcmp(in.state, "suspended") == 0) {
		*why = "the agreement is already suspended";
		return GW_ACC_CONFLICT;
	}
	if (strcmp(in.state, "active") != 0 &&
	    strcmp(in.state, "review-overdue") != 0) {
		*why = "the agreement has ended";
		return GW_ACC_CONFLICT;
	}
	if (days < 1 || days > a->max_suspension_days) {
		*why = "a suspension is for 1 day or more, up to the "
		    "agreement's max_suspension_days";
		return GW_ACC_REFUSED;
	}
	return GW_ACC_OK;
}

enum gw_acc
gw_access_send(struct gw *g, const char *party, const char *agreement,
    const char *flow, unsigned method, const struct sg_flow **out,
    const char **why)
{
	const struct sg_agreement *a = sg_config_agreement(g->conf->cfg,
	    agreement);
	const struct sg_flow *f = a ? sg_agreement_flow(a, flow) : NULL;
	struct gw_agr_info in;

	*out = NULL;
	/* a flow this party does not send on is answered as one that does
	 * not exist: which agreements and flows exist is not told */
	if (f == NULL || !sg_flow_has_sender(f, party)) {
		*why = "no such agreement and flow for this party";
		return GW_ACC_UNKNOWN;
	}
	if (agreement_block(g, a, &in) != NULL) {
		snprintf(g->why_buf, sizeof(g->why_buf), "%s", in.why);
		*why = g->why_buf;
		return GW_ACC_INACTIVE;
	}
	if (f->delete_by >= 0 && sg_today() >= f->delete_by) {
		/* what is sent now would be deleted at once */
		*why = "this flow's delete-by date has come: nothing more may "
		    "be sent on it";
		return GW_ACC_INACTIVE;
	}
	if (!(f->methods & method)) {
		*why = "this flow does not accept uploads by this method";
		return GW_ACC_REFUSED;
	}
	*out = f;
	return GW_ACC_OK;
}

unsigned
gw_access_sent_in_period(struct gw *g, const char *party,
    const char *agreement, const struct sg_flow *f, int64_t *from,
    int64_t *to)
{
	int64_t now = gw_now_us(), a, b;
	unsigned n = 0;
	size_t i;

	if ((a = sg_period_start(f->period, sg_today(), &b)) < 0)
		return 0;
	*from = a;
	*to = b;
	a *= (int64_t)86400 * 1000000;
	b *= (int64_t)86400 * 1000000;
	for (i = 0; i < g->nxfers; i++) {
		const struct gw_xfer *x = g->xfers[i];

		/* accepted files count, kept or since deleted; a withdrawn
		 * or superseded one does not */
		if (x->state == GW_REJECTED || x->withdrawn_at != 0 ||
		    x->superseded_by[0] != '\0' || x->received < a ||
		    x->received >= b || x->received > now ||
		    x->sender == NULL || strcmp(x->sender, party) != 0 ||
		    x->agreement == NULL || strcmp(x->agreement, agreement) ||
		    x->flow == NULL || strcmp(x->flow, f->id) != 0)
			continue;
		n++;
	}
	return n;
}

/* The flow a transfer was sent on, as configured now (NULL: gone). */
static const struct sg_flow *
flow_in_force(struct gw *g, const struct gw_xfer *x,
    const struct sg_agreement **a)
{
	*a = x->agreement ? sg_config_agreement(g->conf->cfg, x->agreement) :
	    NULL;
	return *a && x->flow ? sg_agreement_flow(*a, x->flow) : NULL;
}

enum gw_see
gw_access_xfer(struct gw *g, const struct gw_xfer *x, const char *party,
    const char **why)
{
	const struct sg_agreement *a;
	const struct sg_flow *f;
	const struct gw_rcpt *r;
	struct gw_agr_info in;

	*why = "no such transfer";
	/* a withdrawn transfer stays a record for the parties to it, so
	 * that a recipient learns it was taken back, and when */
	if (x == NULL || (x->state == GW_DELETED && x->withdrawn_at == 0))
		return GW_SEE_NONE;
	if (x->sender != NULL && strcmp(x->sender, party) == 0) {
		*why = x->withdrawn_at ? withdrawn_why :
		    "only the recipients may fetch the file";
		return GW_SEE_META;
	}
	if (x->state == GW_REJECTED || !x->released ||
	    (r = gw_xfer_rcpt((struct gw_xfer *)x, party)) == NULL)
		return GW_SEE_NONE;
	/* released to this party once: is it still a recipient of this
	 * flow, in this agreement, as configured now? */
	f = flow_in_force(g, x, &a);
	if (f == NULL || !sg_flow_has_recipient(f, party))
		return GW_SEE_NONE;
	if (x->withdrawn_at != 0) {
		*why = withdrawn_why;
		return GW_SEE_META;
	}
	if (agreement_block(g, a, &in) != NULL) {
		snprintf(g->why_buf, sizeof(g->why_buf), "%s", in.why);
		*why = g->why_buf;
		return GW_SEE_META;
	}
	if (r->confirmed != 0) {
		*why = confirmed_why;
		return GW_SEE_META;
	}
	*why = NULL;
	return GW_SEE_READ;
}

enum gw_acc
gw_access_withdraw(struct gw *g, const struct gw_xfer *x, const char *party,
    const char **why)
{
	/* party NULL: the gateway's operator (the control socket), who may
	 * take out any transfer the gateway still holds */
	if (x == NULL || (party != NULL && (gw_access_xfer(g, x, party,
	    why) == GW_SEE_NONE || !gw_access_sent_by(x, party)))) {
		*why = "no such transfer";
		return GW_ACC_UNKNOWN;
	}
	if (x->state != GW_ACCEPTED || x->withdrawn_at != 0 ||
	    x->deleted_at != 0) {
		*why = "the gateway no longer holds this transfer";
		return GW_ACC_REFUSED;
	}
	*why = NULL;
	return GW_ACC_OK;
}

int
gw_access_received(struct gw *g, const struct gw_xfer *x, const char *party)
{
	const char *why;

	switch (gw_access_xfer(g, x, party, &why)) {
	case GW_SEE_READ:
		return 1;
	case GW_SEE_META:
		return why == confirmed_why || why == withdrawn_why;
	default:
		return 0;
	}
}

int
gw_access_sent_by(const struct gw_xfer *x, const char *party)
{
	return x != NULL && x->sender != NULL && strcmp(x->sender, party) == 0;
}

int
gw_access_confirmed(const struct gw_xfer *x, const char *party)
{
	const struct gw_rcpt *r = x ? gw_xfer_rcpt((struct gw_xfer *)x,
	    party) : NULL;

	return r != NULL && r->confirmed != 0;
}

/* The name a download is saved under, the same on both fronts: the
 * sender's, with ".age" for a sealed file, and for a checked CSV (which
 * the gateway hands out decrypted, out of its ZIP) ".csv" in place of
 * ".zip" or ".age". Names passed the resolver's file-name rule, so they
 * are safe in a header and in a listing. */
void
gw_access_name(struct gw *g, struct gw_xfer *x, char *out, size_t cap)
{
	const char *name = gw_xfer_name(g, x);
	const struct sg_agreement *a;
	const struct sg_flow *fl = flow_in_force(g, x, &a);
	size_t n = strlen(name);
	int csv = fl != NULL && fl->format == SG_FORMAT_CSV;

	if (!sg_vseg_ok(name, n, SG_VSEG_NAME)) {
		out[0] = '\0';
		return;
	}
	if (x->sealed)
		snprintf(out, cap, "%s.age", name);
	else if (csv && n > 4 && (strcasecmp(name + n - 4, ".zip") == 0 ||
	    strcasecmp(name + n - 4, ".age") == 0))
		snprintf(out, cap, "%.*s.csv", (int)(n - 4), name);
	else if (csv && (n < 4 || strcasecmp(name + n - 4, ".csv") != 0))
		snprintf(out, cap, "%s.csv", name);
	else
		snprintf(out, cap, "%s", name);
}

/* An upload refused before it began, in the journal: who, how, which
 * flow and the rule; never the file's name (it may name a pupil). */
static enum gw_acc
refused(enum gw_acc acc, const char *party, const char *addr,
    unsigned method, const char *agreement, const char *flow)
{
	static const char *const slug[] = {
		[GW_ACC_OK] = "ok", [GW_ACC_UNKNOWN] = "unknown-flow",
		[GW_ACC_REFUSED] = "method", [GW_ACC_INACTIVE] = "inactive",
		[GW_ACC_BAD_NAME] = "bad-name", [GW_ACC_DUPLICATE] = "duplicate",
		[GW_ACC_BUSY] = "busy",
		[GW_ACC_CONFLICT] = "conflict",
		[GW_ACC_FREQUENCY] = "frequency",
	};
	const char *front = method == SG_METHOD_SFTP ? "sftp" : "https";
	char a[128], b[128], c[128], d[64], e[80], r[64];
	const char *f[] = { a, b, c, d, e, r, NULL };

	snprintf(a, sizeof(a), "SCHOOLGATE_PARTY=%s", party);
	snprintf(b, sizeof(b), "SCHOOLGATE_AGREEMENT=%.64s", agreement);
	snprintf(c, sizeof(c), "SCHOOLGATE_FLOW=%.64s", flow);
	snprintf(d, sizeof(d), "SCHOOLGATE_FRONT=%s", front);
	snprintf(e, sizeof(e), "SCHOOLGATE_CLIENT=%s", addr);
	snprintf(r, sizeof(r), "SCHOOLGATE_REASON=%s", slug[acc]);
	gw_journalf(EV_UPLOAD_FAILED, LOG_NOTICE, f, "upload from %s over %s "
	    "(%s) to %.64s/%.64s refused before it began: %s", party, front,
	    addr, agreement, flow, slug[acc]);
	return acc;
}

enum gw_acc
gw_access_upload(struct gw *g, const char *party, const char *addr,
    const char *agreement, const char *flow, const char *name,
    unsigned method, uint64_t *max_bytes, char canon[SG_VNAME_MAX + 1],
    const char **why)
{
	const struct sg_flow *f;
	enum gw_acc acc;

	if (g->draining) {
		*why = "the gateway is shutting down; try again shortly";
		return refused(GW_ACC_BUSY, party, addr, method, agreement,
		    flow);
	}
	if ((acc = gw_access_send(g, party, agreement, flow, method, &f,
	    why)) != GW_ACC_OK)
		return refused(acc, party, addr, method, agreement, flow);
	if (sg_vname_nfc(name, canon, SG_VNAME_MAX + 1) != 0 ||
	    !sg_vseg_ok(canon, strlen(canon), SG_VSEG_NAME)) {
		*why = GW_NAME_RULE;
		return refused(GW_ACC_BAD_NAME, party, addr, method,
		    agreement, flow);
	}
	if (gw_pool_queued(g) >= g->conf->cfg->daemon.queued_uploads) {
		*why = "the gateway is busy; try again in a minute";
		return refused(GW_ACC_BUSY, party, addr, method, agreement,
		    flow);
	}
	if (f->frequency_refuse) {
		int64_t from, to;
		char d[11], sup[SG_ID_MAX];

		/* a correction (it supersedes a file not yet confirmed)
		 * replaces one counted; it is not one more */
		if (gw_access_sent_in_period(g, party, agreement, f, &from,
		    &to) >= f->per_period && (gw_xfer_held_like(g, party,
		    agreement, flow, canon, sup, NULL, NULL) != 0 ||
		    sup[0] == '\0')) {
			sg_date_format(to, d);
			snprintf(g->why_buf, sizeof(g->why_buf), "this flow takes "
			    "%u file%s %s from each sender, and that many were "
			    "accepted in this period; the next may be sent from "
			    "%s (withdraw one sent in error first, or send a "
			    "correction as its replacement)", f->per_period,
			    f->per_period == 1 ? "" : "s", f->frequency == NULL ?
			    "" : strcmp(f->frequency, "termly") == 0 ?
			    "a term" : strcmp(f->frequency, "annually") == 0 ?
			    "a school year" : f->frequency, d);
			*why = g->why_buf;
			return refused(GW_ACC_FREQUENCY, party, addr, method,
			    agreement, flow);
		}
	}
	/* a name may be sent again at any time (a school's MIS exports
	 * the same name every term): the new file supersedes an earlier
	 * one not yet confirmed (gw_xfer_held_like), and only identical
	 * content is refused, once checked (pipeline/upload.c) */
	/* the encrypted file may be a little larger than what it holds */
	*max_bytes = f->limits.max_bytes + f->limits.max_bytes / 64 +
	    (1 << 20);
	return GW_ACC_OK;
}
