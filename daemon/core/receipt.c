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

/* Leaf, proof (or pending), signature. Any thread. */
static char *
make(struct gw *g, struct sg_receipt *r)
{
	struct sg_log_proof pr;
	char err[SG_ERR_MAX], *out;
	int rc;

	if (sg_vault_leaf(g->vault, r->record, r->leaf) != 0)
		return NULL;
	rc = sg_vault_prove(g->vault, r->record, &pr, err);
	if (rc < 0)
		return NULL;
	out = sg_receipt_make(&g->signer, r, rc == 0 ? &pr : NULL);
	free(pr.checkpoint);
	return out;
}

char *
gw_receipt_received(struct gw *g, const char *id, const char *sender,
    const char *agreement, const struct sg_flow *f, const char *plain_hex,
    const char *obj_hex, uint64_t rows, uint64_t seq, int64_t at)
{
	struct sg_receipt r;
	size_t i, o = 0;

	memset(&r, 0, sizeof(r));
	snprintf(r.transfer, sizeof(r.transfer), "%s", id);
	snprintf(r.event, sizeof(r.event), "received");
	snprintf(r.by, sizeof(r.by), "%s", sender);
	snprintf(r.agreement, sizeof(r.agreement), "%s", agreement);
	snprintf(r.flow, sizeof(r.flow), "%s", f->id);
	snprintf(r.plain_sha256, sizeof(r.plain_sha256), "%s", plain_hex);
	snprintf(r.stored_sha256, sizeof(r.stored_sha256), "%s", obj_hex);
	for (i = 0; i < f->nrecipients; i++)
		o += (size_t)snprintf(r.recipients + o, o < sizeof(r.recipients)
		    ? sizeof(r.recipients) - o : 0, "%s%s", i ? "," : "",
		    f->recipients[i]);
	if (o >= sizeof(r.recipients))
		return NULL;
	r.rows = rows;
	r.record = seq;
	r.has_received = 1;
	sg_time_rfc3339(at, r.time);
	return make(g, &r);
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

	rw->json = make(rw->g, &rw->r);
}

static void
rw_after(uv_work_t *w, int status)
{
	struct rcpt_work *rw = w->data;

	(void)status;
	rw->g->count.vault_work--;
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
	const struct gw_act *act = NULL;
	size_t i, o = 0;
	unsigned k;

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
		for (i = 0; i < x->nrcpt && o < sizeof(r->recipients); i++)
			o += (size_t)snprintf(r->recipients + o,
			    sizeof(r->recipients) - o, "%s%s", i ? "," : "",
			    x->rcpt[i].party);
		r->rows = x->rows;
		r->record = x->received_seq;
		r->has_received = 1;
		sg_time_rfc3339(x->received, r->time);
	} else {
		/* a recipient: its confirmation, or its first download, or
		 * the event it names */
		int want = event == NULL ? -1 : strcmp(event, "confirmed") == 0 ?
		    1 : strcmp(event, "downloaded") == 0 ? 0 : -2;

		if (want == -2) {
			free(rw);
			return "event is downloaded or confirmed";
		}
		for (i = 0; i < x->nrcpt; i++)
			if (strcmp(x->rcpt[i].party, party) == 0)
				rc = &x->rcpt[i];
		for (k = 0; rc != NULL && k < rc->nacts; k++) {
			const struct gw_act *t = &rc->acts[k];

			if (t->seq == 0 || (want >= 0 && t->confirm != want))
				continue;
			/* the confirmation when there is one, else the
			 * first download */
			if (act == NULL || (t->confirm && !act->confirm))
				act = t;
		}
		if (act == NULL) {
			free(rw);
			return "no download or confirmation of this transfer "
			    "by you is on record yet";
		}
		snprintf(r->event, sizeof(r->event), "%s", act->confirm ?
		    "confirmed" : "downloaded");
		snprintf(r->by, sizeof(r->by), "%s", party);
		r->record = act->seq;
		sg_time_rfc3339(act->at, r->time);
	}
	rw->g = g;
	rw->cb = cb;
	rw->arg = arg;
	if (gw_vault_queue(g, &rw->w, rw, rw_run, rw_after) != 0) {
		free(rw);
		return "the gateway is busy; try again";
	}
	return NULL;
}
