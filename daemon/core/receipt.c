/*
 * receipt: signed receipts for the sender of an accepted file and for
 * its recipients' downloads and confirmations (common/log/receipt.h),
 * signed by the transfer log's key, with their inclusion proof once a
 * checkpoint covers the record.
 *
 * The sender's first receipt is made on the pipeline thread, with the
 * acknowledgement; any receipt is made again on request
 * (GET /v1/transfers/{id}/receipt), on the vault's work pool, since the
 * proof hashes the log's leaves again.
 */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/codec.h"
#include "log/receipt.h"

/* Leaf and time from the log, the proof when asked for (or pending),
 * the signature. Any thread. */
static char *
make(struct gw *g, struct sg_receipt *r, int prove)
{
	struct sg_log_proof pr;
	char err[SG_ERR_MAX], *out;
	uint64_t t;
	int rc = 1;

	if (sg_vault_leaf(g->vault, r->record, r->leaf, &t) != 0)
		return NULL;
	/* the record's own time: the one its leaf commits to */
	sg_time_rfc3339((int64_t)t, r->time);
	memset(&pr, 0, sizeof(pr));
	if (prove)
		rc = sg_vault_prove(g->vault, r->record, &pr, err);
	/* a proof that cannot be made now leaves a signed promise */
	out = sg_receipt_make(&g->signer, r, rc == 0 ? &pr : NULL);
	free(pr.checkpoint);
	return out;
}

/* The recipients, comma-separated; -1 when they do not fit (a receipt
 * never names a list cut short). */
static int
join(char *out, size_t cap, const char *const *p, size_t n)
{
	size_t i, o = 0;
	int w;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(out + o, cap - o, "%s%s", i ? "," : "", p[i]);
		if (w < 0 || (size_t)w >= cap - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

char *
gw_receipt_received(struct gw *g, const char *id, const char *sender,
    const char *agreement, const struct sg_flow *f, const char *plain_hex,
    const char *obj_hex, uint64_t rows, uint64_t seq)
{
	struct sg_receipt r;

	memset(&r, 0, sizeof(r));
	snprintf(r.transfer, sizeof(r.transfer), "%s", id);
	snprintf(r.event, sizeof(r.event), "received");
	snprintf(r.by, sizeof(r.by), "%s", sender);
	snprintf(r.agreement, sizeof(r.agreement), "%s", agreement);
	snprintf(r.flow, sizeof(r.flow), "%s", f->id);
	snprintf(r.plain_sha256, sizeof(r.plain_sha256), "%s", plain_hex);
	snprintf(r.stored_sha256, sizeof(r.stored_sha256), "%s", obj_hex);
	if (join(r.recipients, sizeof(r.recipients),
	    (const char *const *)f->recipients, f->nrecipients) != 0)
		return NULL;
	r.rows = rows;
	r.record = seq;
	r.has_received = 1;
	/* no proof here: it hashes the whole log, and the sender is
	 * waiting; GET .../receipt gives it */
	return make(g, &r, 0);
}

struct rcpt_work {
	uv_work_t	 w;
	struct gw	*g;
	struct sg_receipt r;
	char		*json;
	gw_receipt_cb	 cb;
	void		*arg;
};

static void
rw_run(uv_work_t *w)
{
	struct rcpt_work *rw = w->data;

	rw->json = make(rw->g, &rw->r, 1);
}

static void
rw_after(uv_work_t *w, int status)
{
	struct rcpt_work *rw = w->data;

	(void)status;
	rw->g->count.vault_work--;
	rw->g->receipts_running--;
	rw->cb(rw->arg, rw->json);	/* the callee owns json */
	free(rw);
}

const char *
gw_receipt_get(struct gw *g, const struct gw_xfer *x, const char *party,
    const char *event, gw_receipt_cb cb, void *arg)
{
	struct rcpt_work *rw;
	struct sg_receipt *r;
	const struct gw_rcpt *rc = NULL;
	const char **names;
	size_t i;

	/* each proof hashes the log again: a few at a time */
	if (g->receipts_running >= GW_RECEIPTS_AT_ONCE)
		return "busy: other receipts are being made; try again in a "
		    "moment";
	if ((rw = calloc(1, sizeof(*rw))) == NULL)
		return "out of memory";
	r = &rw->r;
	snprintf(r->transfer, sizeof(r->transfer), "%s", x->id);
	if (x->sender != NULL && strcmp(party, x->sender) == 0) {
		if (event != NULL && strcmp(event, "received") != 0) {
			free(rw);
			return "a sender's receipt is for event=received";
		}
		if (x->state == GW_REJECTED || x->received_seq == 0) {
			free(rw);
			return "this transfer was not accepted: there is no "
			    "receipt, only its report";
		}
		snprintf(r->event, sizeof(r->event), "received");
		snprintf(r->by, sizeof(r->by), "%s", x->sender);
		snprintf(r->agreement, sizeof(r->agreement), "%s",
		    x->agreement ? x->agreement : "");
		snprintf(r->flow, sizeof(r->flow), "%s", x->flow ? x->flow :
		    "");
		snprintf(r->plain_sha256, sizeof(r->plain_sha256), "%s",
		    x->plain_sha256);
		snprintf(r->stored_sha256, sizeof(r->stored_sha256), "%s",
		    x->obj_sha256);
		if ((names = calloc(x->nrcpt + 1, sizeof(*names))) == NULL) {
			free(rw);
			return "out of memory";
		}
		for (i = 0; i < x->nrcpt; i++)
			names[i] = x->rcpt[i].party;
		if (join(r->recipients, sizeof(r->recipients), names,
		    x->nrcpt) != 0) {
			free(names);
			free(rw);
			return "too many recipients to name in a receipt";
		}
		free(names);
		r->rows = x->rows;
		r->record = x->received_seq;
		r->has_received = 1;
	} else {
		/* a recipient: its confirmation, or its first download, or
		 * the event it names */
		int want = event == NULL ? -1 : strcmp(event, "confirmed") == 0 ?
		    1 : strcmp(event, "downloaded") == 0 ? 0 : -2;
		uint64_t seq = 0;

		if (want == -2) {
			free(rw);
			return "event is downloaded or confirmed";
		}
		for (i = 0; i < x->nrcpt; i++)
			if (strcmp(x->rcpt[i].party, party) == 0)
				rc = &x->rcpt[i];
		if (rc != NULL && want != 0 && rc->confirmed_seq != 0) {
			seq = rc->confirmed_seq;
			snprintf(r->event, sizeof(r->event), "confirmed");
		} else if (rc != NULL && want != 1 &&
		    rc->downloaded_seq != 0) {
			seq = rc->downloaded_seq;
			snprintf(r->event, sizeof(r->event), "downloaded");
		}
		if (seq == 0) {
			free(rw);
			return "no download or confirmation of this transfer "
			    "by you is on record yet";
		}
		snprintf(r->by, sizeof(r->by), "%s", party);
		r->record = seq;
	}
	rw->g = g;
	rw->cb = cb;
	rw->arg = arg;
	if (gw_vault_queue(g, &rw->w, rw, rw_run, rw_after) != 0) {
		free(rw);
		return "the gateway is busy; try again";
	}
	g->receipts_running++;
	return NULL;
}
