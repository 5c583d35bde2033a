/*
 * transfers: the index of the transfers the gateway holds, in memory,
 * folded from the transfer log (the source of truth); the sender's file
 * names and reports (meta/: read once at start, written by the pipeline,
 * renamed on the work pool, so no request reads or syncs the disk on the
 * I/O thread); and the retention timer. Who may do what with a transfer
 * is not decided here but in access.c.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/json.h"
#include "seal/keys.h"
#include "log/tlog.h"
#include "policy/vpath.h"

static char *meta_read(struct gw *, const char *id, const char *suffix,
    size_t *len);

int64_t
gw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct gw_conf *
gw_conf_load(const char *path, struct sg_diag *diag)
{
	struct gw_conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->cfg = sg_config_load(path, diag)) == NULL) {
		free(c);
		return NULL;
	}
	if ((c->secrets = sg_secrets_load(c->cfg->daemon.secrets, diag)) ==
	    NULL) {
		sg_config_free(c->cfg);
		free(c);
		return NULL;
	}
	c->refs = 1;
	return c;
}

void
gw_conf_ref(struct gw_conf *c)
{
	c->refs++;
}

void
gw_conf_unref(struct gw_conf *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	sg_secrets_free(c->secrets);
	sg_config_free(c->cfg);
	free(c);
}

struct gw_xfer *
gw_xfer_find(struct gw *g, const char *id)
{
	size_t i;

	for (i = g->nxfers; i-- > 0;)
		if (strcmp(g->xfers[i]->id, id) == 0)
			return g->xfers[i];
	return NULL;
}

struct gw_xfer *
gw_xfer_new(struct gw *g, const char *id)
{
	struct gw_xfer *x, **nv;

	if (g->nxfers == g->capxfers) {
		size_t cap = g->capxfers ? g->capxfers * 2 : 64;

		if ((nv = realloc(g->xfers, cap * sizeof(*nv))) == NULL)
			return NULL;
		g->xfers = nv;
		g->capxfers = cap;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	snprintf(x->id, sizeof(x->id), "%s", id);
	g->xfers[g->nxfers++] = x;
	return x;
}

static void
xfer_free(struct gw_xfer *x)
{
	size_t i;

	for (i = 0; i < x->nrcpt; i++) {
		free(x->rcpt[i].party);
		free(x->rcpt[i].acts);
	}
	free(x->rcpt);
	free(x->agreement);
	free(x->flow);
	free(x->sender);
	free(x->name);
	free(x);
}

void
gw_xfers_free(struct gw *g)
{
	size_t i;

	for (i = 0; i < g->nxfers; i++)
		xfer_free(g->xfers[i]);
	free(g->xfers);
	g->xfers = NULL;
	g->nxfers = g->capxfers = 0;
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

static char *
pget(const char *pl, size_t n, const char *key)
{
	char v[256];

	if (sg_payload_get(pl, n, key, v, sizeof(v)) != 0)
		return NULL;
	return strdup(v);
}

static uint64_t
pget_u64(const char *pl, size_t n, const char *key)
{
	char v[32];

	if (sg_payload_get(pl, n, key, v, sizeof(v)) != 0)
		return 0;
	return strtoull(v, NULL, 10);
}

/* A download or confirmation kept for the DPO's answers (the latest
 * GW_ACTS_KEPT; the log has them all). */
static void
act_keep(struct gw_rcpt *r, int confirm, const char *pl, size_t n, int64_t t,
    uint64_t seq)
{
	struct gw_act *a;

	if (r->acts == NULL &&
	    (r->acts = calloc(GW_ACTS_KEPT, sizeof(*r->acts))) == NULL)
		return;
	if (r->nacts == GW_ACTS_KEPT) {		/* the oldest goes */
		memmove(r->acts, r->acts + 1, (GW_ACTS_KEPT - 1) *
		    sizeof(*r->acts));
		r->nacts--;
	}
	a = &r->acts[r->nacts++];
	memset(a, 0, sizeof(*a));
	a->at = t;
	a->seq = seq;
	a->confirm = confirm;
	sg_payload_get(pl, n, "front", a->front, sizeof(a->front));
	sg_payload_get(pl, n, "addr", a->addr, sizeof(a->addr));
}

void
gw_xfer_apply(struct gw *g, int type, const char *pl, size_t n,
    int64_t t, uint64_t seq)
{
	char id[SG_ID_MAX], *s;
	struct gw_xfer *x;
	struct gw_rcpt *r, *nv;

	if (sg_payload_get(pl, n, "object", id, sizeof(id)) != 0)
		return;
	x = gw_xfer_find(g, id);
	switch (type) {
	case SG_REC_RECEIVED:
	case SG_REC_REJECTED:
		if (x == NULL && (x = gw_xfer_new(g, id)) == NULL)
			return;
		x->agreement = pget(pl, n, "agreement");
		x->flow = pget(pl, n, "flow");
		x->sender = pget(pl, n, "sender");
		x->rows = pget_u64(pl, n, "rows");
		x->received = t;
		if (type == SG_REC_RECEIVED) {
			x->state = GW_ACCEPTED;
			x->received_seq = seq;
			/* a flow that indexes its rows: INDEXED follows */
			{
				char ix[16];

				x->index_pending = sg_payload_get(pl, n,
				    "index", ix, sizeof(ix)) == 0 &&
				    strcmp(ix, "pending") == 0;
			}
			sg_payload_get(pl, n, "object_sha256", x->obj_sha256,
			    sizeof(x->obj_sha256));
			x->plain_size = pget_u64(pl, n, "plain_size");
			x->obj_size = pget_u64(pl, n, "object_size");
			sg_payload_get(pl, n, "plain_sha256", x->plain_sha256,
			    sizeof(x->plain_sha256));
			/* a correction names the transfer it replaces */
			if (sg_payload_get(pl, n, "supersedes", x->supersedes,
			    sizeof(x->supersedes)) == 0) {
				struct gw_xfer *o = gw_xfer_find(g,
				    x->supersedes);

				if (o != NULL)
					snprintf(o->superseded_by,
					    sizeof(o->superseded_by), "%s", id);
			}
		} else {
			x->state = GW_REJECTED;
			x->errors = pget_u64(pl, n, "errors");
			sg_payload_get(pl, n, "rule", x->rule,
			    sizeof(x->rule));
		}
		break;
	case SG_REC_RELEASED:
		if (x == NULL || (s = pget(pl, n, "to")) == NULL)
			return;
		if ((nv = realloc(x->rcpt, (x->nrcpt + 1) * sizeof(*nv))) ==
		    NULL) {
			free(s);
			return;
		}
		x->rcpt = nv;
		memset(&x->rcpt[x->nrcpt], 0, sizeof(*nv));
		x->rcpt[x->nrcpt++].party = s;
		x->released = 1;
		x->released_at = t;
		if ((s = pget(pl, n, "delivery")) != NULL) {
			x->sealed = strcmp(s, "sealed") == 0;
			free(s);
		}
		break;
	case SG_REC_DOWNLOADED:
	case SG_REC_CONFIRMED:
		if (x == NULL || (s = pget(pl, n, "party")) == NULL)
			return;
		if ((r = gw_xfer_rcpt(x, s)) != NULL) {
			if (type == SG_REC_CONFIRMED) {
				r->confirmed = t;
				r->confirmed_seq = seq;
			} else {
				if (r->downloaded == 0) {
					r->downloaded = t;
					r->downloaded_seq = seq;
				}
				r->downloads++;
			}
			act_keep(r, type == SG_REC_CONFIRMED, pl, n, t, seq);
		}
		free(s);
		break;
	case SG_REC_DELETED:
	case SG_REC_QUARANTINED:
		if (x == NULL)
			return;
		x->state = GW_DELETED;
		x->deleted_at = t;
		if (type == SG_REC_QUARANTINED)
			snprintf(x->delete_reason, sizeof(x->delete_reason),
			    "quarantined");
		else
			sg_payload_get(pl, n, "reason", x->delete_reason,
			    sizeof(x->delete_reason));
		break;
	case SG_REC_INDEXED:
		if (x == NULL)
			return;
		x->index_pending = 0;
		x->subjects = pget_u64(pl, n, "subjects");
		sg_payload_get(pl, n, "subjects_key", x->subjects_key,
		    sizeof(x->subjects_key));
		sg_payload_get(pl, n, "subjects_sha256", x->subjects_sha256,
		    sizeof(x->subjects_sha256));
		break;
	case SG_REC_WITHDRAWN:
		if (x == NULL)
			return;
		x->withdrawn_at = t;
		sg_payload_get(pl, n, "by", x->withdrawn_by,
		    sizeof(x->withdrawn_by));
		sg_payload_get(pl, n, "reason", x->withdrawn_reason,
		    sizeof(x->withdrawn_reason));
		break;
	}
}

static json_t *meta_json(struct gw *, const char *id);

/* meta/<id> and meta/<id>.txt removed (the sender's file name and the
 * report go with the data), durably. Absent files are not an error;
 * -1 when either is still there. */
static int
meta_remove(struct gw *g, const char *id)
{
	char fname[SG_ID_MAX + 8];
	int rc = 0;

	snprintf(fname, sizeof(fname), "%s.txt", id);
	if (unlinkat(g->meta_dir, fname, 0) != 0 && errno != ENOENT)
		rc = -1;
	if (unlinkat(g->meta_dir, id, 0) != 0 && errno != ENOENT)
		rc = -1;
	if (sg_fsync_dir(g->meta_dir) != 0)
		rc = -1;
	return rc;
}

/* Neither meta file is there (a report that expired before a restart). */
static int
meta_absent(struct gw *g, const char *id)
{
	char fname[SG_ID_MAX + 8];
	struct stat st;

	snprintf(fname, sizeof(fname), "%s.txt", id);
	return fstatat(g->meta_dir, id, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT && fstatat(g->meta_dir, fname, &st,
	    AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
}

/* At start, before any client: each transfer's name and report size,
 * so that no listing reads the disk. What a deletion left behind (a stop
 * between the object and meta/) is removed now. */
static void
load_meta(struct gw *g)
{
	char fname[SG_ID_MAX + 8];
	struct stat st;
	json_t *j;
	size_t i;

	for (i = 0; i < g->nxfers; i++) {
		struct gw_xfer *x = g->xfers[i];
		const char *n;

		if (x->state == GW_DELETED) {
			if (!meta_absent(g, x->id))
				(void)meta_remove(g, x->id);
			continue;
		}
		if (x->state == GW_REJECTED && meta_absent(g, x->id)) {
			x->report_gone = 1;	/* report-expired earlier */
			continue;
		}
		if (x->name == NULL && (j = meta_json(g, x->id)) != NULL) {
			if ((n = json_string_value(json_object_get(j,
			    "name"))) != NULL)
				x->name = strdup(n);
			json_decref(j);
		}
		snprintf(fname, sizeof(fname), "%s.txt", x->id);
		if (fstatat(g->meta_dir, fname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_size > 0)
			x->report_size = (uint64_t)st.st_size;
	}
}

int
gw_xfers_load(struct gw *g, char err[SG_ERR_MAX])
{
	struct sg_log_reader *r;
	struct sg_log_rec rec;
	int rc;

	if (sg_log_reader_open(g->vopts.log_dir, &r, err) != 0)
		return -1;
	while ((rc = sg_log_reader_next(r, &rec, err)) == 1)
		if (rec.type == SG_REC_AGREEMENT_STATUS)
			gw_agreement_fold(g, (const char *)rec.payload,
			    rec.plen);
		else
			gw_xfer_apply(g, rec.type, rec.payload, rec.plen,
			    (int64_t)rec.time_us, rec.seq);
	sg_log_reader_close(r);
	if (rc == 0)
		load_meta(g);
	return rc;
}

int
gw_finish_unreleased(struct gw *g, char err[SG_ERR_MAX])
{
	const char *f[3];
	char a[96];
	size_t i;

	for (i = 0; i < g->nxfers; i++) {
		struct gw_xfer *x = g->xfers[i];

		if (x->state != GW_ACCEPTED || x->released)
			continue;
		if (sg_vault_delete(g->vault, x->id, "unacknowledged", err) !=
		    0)
			return -1;
		x->state = GW_DELETED;
		snprintf(x->delete_reason, sizeof(x->delete_reason),
		    "unacknowledged");
		snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", x->id);
		f[0] = a;
		f[1] = "SCHOOLGATE_REASON=unacknowledged";
		f[2] = NULL;
		gw_journalf(EV_RECOVERY, LOG_WARNING, f, "transfer %s was "
		    "stored but never released (the gateway stopped before "
		    "answering the sender): deleted", x->id);
	}
	return 0;
}

/* meta/<id>: {"name":...,"report":{...}} (0600). The name is the
 * sender's and may be personal data: it stays here, never in the log
 * or the journal. */
int
gw_meta_write(struct gw *g, const char *id, const char *name,
    const struct sg_report *r, uint64_t *report_size, char err[SG_ERR_MAX])
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return sg_errf(err, "out of memory");
	fputs("{\"name\":", f);
	sg_json_str(f, name);
	fputs(",\"report\":", f);
	sg_report_json(r, f);
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return sg_errf(err, "out of memory");
	}
	*report_size = 0;
	rc = sg_durable_file(g->meta_dir, id, buf, len, 0600, err);
	free(buf);
	if (rc != 0 || !r->rejected)
		return rc;
	/* the report as a person reads it (SFTP /reports/) */
	buf = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return sg_errf(err, "out of memory");
	fprintf(f, "File: %s\nTransfer: %s\n\n", name, id);
	sg_report_print(r, f);
	if (fclose(f) != 0) {
		free(buf);
		return sg_errf(err, "out of memory");
	}
	{
		char tname[SG_ID_MAX + 8];

		snprintf(tname, sizeof(tname), "%s.txt", id);
		rc = sg_durable_file(g->meta_dir, tname, buf, len, 0600, err);
		if (rc == 0)
			*report_size = len;
	}
	free(buf);
	return rc;
}

char *
gw_xfer_report_text(struct gw *g, const char *id, size_t *len)
{
	return meta_read(g, id, ".txt", len);
}

struct rename_work {
	uv_work_t	 w;
	struct gw	*g;
	char		 id[SG_ID_MAX];
	char		*name;
	int		 ok;
	gw_done_cb	 cb;
	void		*arg;
};

/* w queued on libuv's work pool, counted in vault_work (the vault stays
 * open until the count is back to 0: after() decrements it), with
 * w->data = item, the work item holding w. */
int
gw_vault_queue(struct gw *g, uv_work_t *w, void *item, uv_work_cb run,
    uv_after_work_cb after)
{
	w->data = item;
	if (uv_queue_work(g->loop, w, run, after) != 0)
		return -1;
	g->count.vault_work++;
	return 0;
}

/* On the work pool: meta/<id> read and replaced, durably. */
static void
rename_run(uv_work_t *w)
{
	struct rename_work *r = w->data;
	char *report = gw_xfer_report(r->g, r->id), *buf = NULL;
	char err[SG_ERR_MAX];
	size_t len = 0;
	FILE *f;

	if (report == NULL || (f = open_memstream(&buf, &len)) == NULL) {
		free(report);
		return;
	}
	fputs("{\"name\":", f);
	sg_json_str(f, r->name);
	fprintf(f, ",\"report\":%s}\n", report);
	free(report);
	if (fclose(f) == 0)
		r->ok = sg_durable_replace(r->g->meta_dir, r->id, buf, len,
		    0600, err) == 0;
	free(buf);
}

static void
rename_after(uv_work_t *w, int status)
{
	struct rename_work *r = w->data;
	struct gw_xfer *x;

	if (status == 0 && r->ok && (x = gw_xfer_find(r->g, r->id)) != NULL) {
		free(x->name);
		x->name = r->name;
		r->name = NULL;
	}
	r->g->count.vault_work--;
	r->cb(r->arg, status == 0 && r->ok);
	free(r->name);
	free(r);
}

int
gw_xfer_rename(struct gw *g, const char *id, const char *name, gw_done_cb cb,
    void *arg)
{
	struct rename_work *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->name = strdup(name)) == NULL) {
		free(r);
		return -1;
	}
	r->g = g;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (gw_vault_queue(g, &r->w, r, rename_run, rename_after) != 0) {
		free(r->name);
		free(r);
		return -1;
	}
	return 0;
}

/* meta/<id><suffix>, whole (malloc'd, NUL-terminated), or NULL. */
static char *
meta_read(struct gw *g, const char *id, const char *suffix, size_t *len)
{
	char fname[SG_ID_MAX + 8], *buf;
	struct stat st;
	ssize_t n;
	int fd;

	if (!sg_transfer_id_ok(id))
		return NULL;
	snprintf(fname, sizeof(fname), "%s%s", id, suffix);
	if ((fd = openat(g->meta_dir, fname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size > 16 << 20 ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* meta/<id> parsed (jansson): an object with a string "name" and an
 * object "report", or NULL. */
static json_t *
meta_json(struct gw *g, const char *id)
{
	size_t len;
	char *m = meta_read(g, id, "", &len);
	json_t *j;

	if (m == NULL)
		return NULL;
	j = json_loadb(m, len, JSON_REJECT_DUPLICATES, NULL);
	free(m);
	if (j != NULL && (!json_is_object(j) ||
	    !json_is_string(json_object_get(j, "name")) ||
	    !json_is_object(json_object_get(j, "report")))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

const char *
gw_xfer_name(struct gw *g, struct gw_xfer *x)
{
	(void)g;
	return x->name != NULL ? x->name : "unknown";
}

char *
gw_xfer_report(struct gw *g, const char *id)
{
	json_t *j = meta_json(g, id);
	char *rep;

	if (j == NULL)
		return NULL;
	rep = json_dumps(json_object_get(j, "report"), JSON_COMPACT |
	    JSON_PRESERVE_ORDER);
	json_decref(j);
	return rep;
}

struct report_work {
	uv_work_t	 w;
	struct gw	*g;
	char		 id[SG_ID_MAX];
	char		*report;
	gw_report_cb	 cb;
	void		*arg;
};

static void
report_run(uv_work_t *w)
{
	struct report_work *r = w->data;

	r->report = gw_xfer_report(r->g, r->id);
}

static void
report_after(uv_work_t *w, int status)
{
	struct report_work *r = w->data;

	(void)status;
	r->g->count.vault_work--;
	r->cb(r->arg, r->report);
	free(r);
}

int
gw_xfer_report_read(struct gw *g, const char *id, gw_report_cb cb, void *arg)
{
	struct report_work *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->g = g;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (gw_vault_queue(g, &r->w, r, report_run, report_after) != 0) {
		free(r);
		return -1;
	}
	return 0;
}

int
gw_xfer_held_like(struct gw *g, const char *sender, const char *agreement,
    const char *flow, const char *name, char supersedes[SG_ID_MAX],
    struct gw_held **held, size_t *nheld)
{
	int64_t latest = -1;
	size_t i, j, n = 0;
	struct gw_held *h = NULL, *nh;

	supersedes[0] = '\0';
	if (held != NULL) {
		*held = NULL;
		*nheld = 0;
	}
	for (i = 0; i < g->nxfers; i++) {
		struct gw_xfer *x = g->xfers[i];
		int unconfirmed = 0;

		if (x->state != GW_ACCEPTED || x->deleted_at != 0 ||
		    x->withdrawn_at != 0 || !x->agreement || !x->flow ||
		    strcmp(x->agreement, agreement) != 0 ||
		    strcmp(x->flow, flow) != 0)
			continue;
		/* the sender's own files only: another school's content is
		 * not for it to test */
		if (held != NULL && x->plain_sha256[0] != '\0' && x->sender &&
		    strcmp(x->sender, sender) == 0) {
			if ((nh = realloc(h, (n + 1) * sizeof(*h))) == NULL) {
				free(h);
				return -1;
			}
			h = nh;
			snprintf(h[n].sha256, sizeof(h[n].sha256), "%s",
			    x->plain_sha256);
			snprintf(h[n].id, sizeof(h[n].id), "%s", x->id);
			n++;
		}
		for (j = 0; j < x->nrcpt; j++)
			if (x->rcpt[j].confirmed == 0)
				unconfirmed = 1;
		if (x->sender && strcmp(x->sender, sender) == 0 &&
		    x->superseded_by[0] == '\0' && (unconfirmed ||
		    !x->released) && x->received > latest &&
		    sg_vname_same(gw_xfer_name(g, x), name)) {
			latest = x->received;
			snprintf(supersedes, SG_ID_MAX, "%s", x->id);
		}
	}
	if (held != NULL) {
		*held = h;
		*nheld = n;
	}
	return 0;
}

/* Retention: each flow's rule, applied on a timer. The deletion (log
 * first, then the shred) runs off the I/O thread. */
struct del_work {
	uv_work_t	 w;
	struct gw	*g;
	char		 id[SG_ID_MAX];
	char		 reason[32];
	int		 report_only;	/* a rejected upload's report */
	/* a withdrawal: its WITHDRAWN record first */
	int		 withdraw, withdrawn;	/* asked, recorded */
	struct sg_payload wpl;
	void		(*cb)(void *, int);
	void		*arg;
	int		 rc;
	char		 err[SG_ERR_MAX];
};

static void
del_run(uv_work_t *w)
{
	struct del_work *d = w->data;

	if (d->withdraw)
		d->withdrawn = (d->rc = sg_vault_record(d->g->vault,
		    SG_REC_WITHDRAWN, &d->wpl, NULL, d->err)) == 0;
	if (d->rc == 0 && !d->report_only)
		d->rc = sg_vault_delete(d->g->vault, d->id, d->reason, d->err);
	if (d->rc == 0 && meta_remove(d->g, d->id) != 0 && d->report_only)
		d->rc = sg_errf(d->err, "meta/%s could not be removed",
		    d->id);
}

static void
del_done(uv_work_t *w, int status)
{
	struct del_work *d = w->data;
	struct gw_xfer *x = gw_xfer_find(d->g, d->id);
	const char *f[4];
	char a[96], b[96];

	(void)status;
	d->g->count.vault_work--;
	snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", d->id);
	snprintf(b, sizeof(b), "SCHOOLGATE_REASON=%s", d->reason);
	f[0] = a, f[1] = b, f[2] = NULL;
	if (d->withdrawn && x != NULL) {
		/* recorded: deleted now, or by the next retention check */
		gw_xfer_apply(d->g, SG_REC_WITHDRAWN, d->wpl.buf, d->wpl.len,
		    gw_now_us(), 0);
		gw_journalf(EV_DELETED, LOG_NOTICE, f, "transfer %s withdrawn "
		    "by %s (%s)", d->id, x->withdrawn_by, x->withdrawn_reason);
	}

	if (d->rc == 0 && x != NULL) {
		/* the sender's file name went with meta/ */
		free(x->name);
		x->name = NULL;
		x->report_size = 0;
		if (d->report_only) {
			x->report_gone = 1;
			gw_journalf(EV_DELETED, LOG_INFO, f, "transfer %s: the "
			    "report of the rejected upload deleted (%s)",
			    d->id, d->reason);
			free(d);
			return;
		}
		x->state = GW_DELETED;
		x->deleted_at = gw_now_us();
		snprintf(x->delete_reason, sizeof(x->delete_reason), "%s",
		    d->reason);
		d->g->count.deleted++;
		gw_journalf(EV_DELETED, LOG_INFO, f, "transfer %s deleted "
		    "(%s); its key material was overwritten and its name and "
		    "report removed", d->id, d->reason);
	} else {
		if (x != NULL)
			x->deleted_at = 0;	/* try again next time */
		gw_journalf(EV_STORE_FAILED, LOG_ERR, f, "transfer %s could "
		    "not be deleted: %s", d->id, d->err);
	}
	if (d->cb != NULL)	/* a withdrawal stands once recorded */
		d->cb(d->arg, d->withdraw ? d->withdrawn : d->rc == 0);
	free(d);
}

int
gw_xfer_withdraw(struct gw *g, struct gw_xfer *x, const char *by,
    const char *reason, void (*cb)(void *, int), void *arg)
{
	struct del_work *d;

	if (x->state != GW_ACCEPTED || x->deleted_at != 0 ||
	    !sg_withdraw_reason_ok(reason) || (d = calloc(1, sizeof(*d))) ==
	    NULL)
		return -1;
	d->g = g;
	d->withdraw = 1;
	d->cb = cb;
	d->arg = arg;
	snprintf(d->id, sizeof(d->id), "%s", x->id);
	snprintf(d->reason, sizeof(d->reason), "%s",
	    strcmp(by, "operator") == 0 ? "operator-delete" : "withdrawn");
	sg_payload_init(&d->wpl);
	sg_payload_str(&d->wpl, "by", by);
	sg_payload_str(&d->wpl, "object", x->id);
	sg_payload_str(&d->wpl, "reason", reason);
	if (sg_payload_end(&d->wpl) != 0) {
		free(d);
		return -1;
	}
	x->deleted_at = gw_now_us();	/* in progress */
	if (gw_vault_queue(g, &d->w, d, del_run, del_done) != 0) {
		x->deleted_at = 0;
		free(d);
		return -1;
	}
	return 0;
}

#define DAY_US	(86400LL * 1000000)

/* Keeps the earlier of *due and t, with the rule that set it. */
static void
earliest(int64_t *due, const char **rule, int64_t t, const char *why)
{
	if (t >= 0 && (*due < 0 || t < *due)) {
		*due = t;
		*rule = why;
	}
}

/* When x's held data goes, and the rule that says so (the log's reason),
 * against the configuration in force:
 *   agreement-removed, flow-removed: its file or flow is gone: at once;
 *   recipients-removed: no party it was released to is a recipient of
 *     the flow any more: at once;
 *   agreement-ended: the day after its end (or "expired", or ended when
 *     a suspension ran out: now), or after keep_until when on_end =
 *     "keep";
 *   delete-by: the flow's delete_by, whatever else is pending;
 *   retention-release, retention-confirmed: retention_days from the
 *     release, or from the last recipient's confirmation (none until
 *     every recipient has confirmed).
 * The earliest wins; -1: none yet. A rejected upload's report goes
 * report_days after it came (report-expired). */
static int64_t
due_us(struct gw *g, const struct gw_xfer *x, const char **rule)
{
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
	int64_t day = (int64_t)d->day_seconds * 1000000, due = -1, base;
	struct gw_agr_info in;
	const struct sg_agreement *a;
	const struct sg_flow *f;
	size_t i;

	*rule = NULL;
	if (x->state == GW_REJECTED) {
		*rule = "report-expired";
		return x->report_gone ? -1 : x->received +
		    (int64_t)d->report_days * day;
	}
	if (x->state != GW_ACCEPTED)
		return -1;
	if (x->withdrawn_at != 0) {	/* recorded, not yet deleted */
		*rule = strcmp(x->withdrawn_by, "operator") == 0 ?
		    "operator-delete" : "withdrawn";
		return 0;
	}
	if (x->agreement == NULL || (a = sg_config_agreement(g->conf->cfg,
	    x->agreement)) == NULL) {
		*rule = "agreement-removed";
		return 0;
	}
	if ((f = sg_agreement_flow(a, x->flow)) == NULL) {
		*rule = "flow-removed";
		return 0;
	}
	/* every party it was released to taken out of the flow (or out of
	 * the agreement): no one may read it any more */
	for (i = 0; i < x->nrcpt; i++)
		if (sg_flow_has_recipient(f, x->rcpt[i].party))
			break;
	if (x->released && x->nrcpt > 0 && i == x->nrcpt) {
		*rule = "recipients-removed";
		return 0;
	}
	gw_agreement_info(g, a, &in);
	if (a->keep_until >= 0)
		earliest(&due, rule, (a->keep_until + 1) * DAY_US,
		    "agreement-ended");
	else if (a->status == SG_AGR_EXPIRED ||
	    strcmp(in.state, "ended") == 0)	/* a suspension ran out */
		earliest(&due, rule, 0, "agreement-ended");
	else
		earliest(&due, rule, (a->end + 1) * DAY_US, "agreement-ended");
	if (f->delete_by >= 0)
		earliest(&due, rule, f->delete_by * DAY_US, "delete-by");
	if (!x->released)
		return due;
	base = x->released_at;
	if (f->retention_after_confirmed) {
		for (i = 0; i < x->nrcpt; i++) {
			if (x->rcpt[i].confirmed == 0)
				return due;
			if (x->rcpt[i].confirmed > base)
				base = x->rcpt[i].confirmed;
		}
	}
	earliest(&due, rule, base + (int64_t)f->retention_days * day,
	    f->retention_after_confirmed ? "retention-confirmed" :
	    "retention-release");
	return due;
}

int64_t
gw_xfer_due(struct gw *g, const struct gw_xfer *x, const char **rule)
{
	const char *r;
	int64_t due = due_us(g, x, &r);

	if (rule != NULL)
		*rule = r;
	return due;
}

static void
on_retention(uv_timer_t *t)
{
	struct gw *g = t->data;
	int64_t now = gw_now_us();
	size_t i;

	if (g->draining)
		return;		/* the next start deletes what is due */
	/* the calendar: states that change at midnight, and the daily
	 * review warning */
	if (g->agr_day != sg_today()) {
		g->agr_day = sg_today();
		gw_agreements_check(g, "calendar", 1);
	} else
		gw_agreements_check(g, "calendar", 0);	/* suspensions end */
	for (i = 0; i < g->nxfers; i++) {
		struct gw_xfer *x = g->xfers[i];
		struct del_work *d;
		const char *rule;
		int64_t due;

		if (x->deleted_at != 0 || x->report_gone)
			continue;	/* going, or gone */
		if ((due = due_us(g, x, &rule)) < 0 || due > now)
			continue;
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return;
		d->g = g;
		d->report_only = x->state == GW_REJECTED;
		snprintf(d->id, sizeof(d->id), "%s", x->id);
		snprintf(d->reason, sizeof(d->reason), "%s", rule);
		x->deleted_at = now;	/* in progress */
		if (gw_vault_queue(g, &d->w, d, del_run, del_done) != 0) {
			x->deleted_at = 0;
			free(d);
		}
	}
}

void
gw_retention_start(struct gw *g)
{
	uint64_t ms = (uint64_t)g->conf->cfg->daemon.retention_check_seconds *
	    1000;

	g->retention_timer.data = g;
	uv_timer_init(g->loop, &g->retention_timer);
	uv_timer_start(&g->retention_timer, on_retention, ms, ms);
}

/* ---- records: those a front door waits on (DOWNLOADED, CONFIRMED),
 * and those nobody waits on (CONFIG_LOADED, AGREEMENT_STATUS) ---- */

struct rec_work {
	uv_work_t	 w;
	struct gw	*g;
	int		 type;
	struct sg_payload pl;
	int		 rc;
	char		 err[SG_ERR_MAX];
	char		 id[SG_ID_MAX];
	char		 party[96];
	gw_record_cb	 cb;
	void		*arg;
	int		 note;		/* gw_log_note: cb may be NULL */
	uint64_t	 seq;
};

static void
rec_run(uv_work_t *w)
{
	struct rec_work *r = w->data;

	r->rc = sg_vault_record(r->g->vault, r->type, &r->pl, &r->seq,
	    r->err);
}

static void
rec_after(uv_work_t *w, int status)
{
	struct rec_work *r = w->data;
	struct gw *g = r->g;
	const char *fl[3];
	char a[96], b[128];

	(void)status;
	g->count.vault_work--;
	if (r->note) {		/* gw_log_note: no request waits */
		const char *e[] = { "SCHOOLGATE_REASON=log", NULL };

		if (r->rc != 0)
			gw_journalf(EV_LOG_FAILED, LOG_CRIT, e, "the transfer "
			    "log could not be written (%s): %s",
			    sg_rec_type_name(r->type), r->err);
		if (r->cb != NULL)
			r->cb(r->arg, r->rc == 0);
		free(r);
		return;
	}
	if (r->rc == 0)
		gw_xfer_apply(g, r->type, r->pl.buf, r->pl.len, gw_now_us(),
		    r->seq);
	snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", r->id);
	snprintf(b, sizeof(b), "SCHOOLGATE_PARTY=%s", r->party);
	fl[0] = a, fl[1] = b, fl[2] = NULL;
	if (r->rc != 0)
		gw_journalf(EV_LOG_FAILED, LOG_CRIT, fl, "the transfer log "
		    "could not be written: %s", r->err);
	else if (r->type == SG_REC_DOWNLOADED) {
		g->count.downloads++;
		gw_journalf(EV_DOWNLOADED, LOG_INFO, fl, "transfer %s "
		    "downloaded by %s", r->id, r->party);
	} else
		gw_journalf(EV_CONFIRMED, LOG_INFO, fl, "transfer %s: %s "
		    "confirmed receipt", r->id, r->party);
	r->cb(r->arg, r->rc == 0);
	free(r);
}

int
gw_record(struct gw *g, int type, const char *id, const char *party,
    const char *front, const char *addr, uint64_t from, uint64_t bytes,
    gw_record_cb cb, void *arg)
{
	struct rec_work *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->g = g;
	r->type = type;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->party, sizeof(r->party), "%s", party);
	sg_payload_init(&r->pl);
	if (addr != NULL && addr[0] != '\0')
		sg_payload_str(&r->pl, "addr", addr);
	if (type == SG_REC_DOWNLOADED) {
		sg_payload_u64(&r->pl, "bytes", bytes);
		sg_payload_u64(&r->pl, "from", from);
	}
	if (front != NULL)
		sg_payload_str(&r->pl, "front", front);
	sg_payload_str(&r->pl, "object", id);
	sg_payload_str(&r->pl, "party", party);
	if (sg_payload_end(&r->pl) != 0 ||
	    gw_vault_queue(g, &r->w, r, rec_run, rec_after) != 0) {
		free(r);
		return -1;
	}
	return 0;
}

int
gw_log_note(struct gw *g, int type, const struct sg_payload *pl,
    gw_record_cb cb, void *arg)
{
	struct rec_work *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->g = g;
	r->type = type;
	r->pl = *pl;
	r->note = 1;
	r->cb = cb;
	r->arg = arg;
	if (gw_vault_queue(g, &r->w, r, rec_run, rec_after) != 0) {
		free(r);
		return -1;
	}
	return 0;
}

int
gw_log_config(struct gw *g, const char *reason)
{
	const struct sg_config *cfg = g->conf->cfg;
	struct sg_payload pl;
	char set[65];

	if (sg_config_set_sha256(cfg, set) != 0)
		return -1;
	sg_payload_init(&pl);
	sg_payload_u64(&pl, "agreements", cfg->nagreements);
	sg_payload_str(&pl, "conf", cfg->conf_sha256);
	if (cfg->la_sha256[0] != '\0')
		sg_payload_str(&pl, "la_codes", cfg->la_sha256);
	sg_payload_str(&pl, "parties", cfg->parties_sha256);
	sg_payload_str(&pl, "reason", reason);
	sg_payload_str(&pl, "set", set);
	if (sg_payload_end(&pl) != 0)
		return -1;
	return gw_log_note(g, SG_REC_CONFIG_LOADED, &pl, NULL, NULL);
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
	if (strcmp(m->party, party) != 0) {	/* another sign-in */
		memset(m, 0, sizeof(*m));
		snprintf(m->party, sizeof(m->party), "%s", party);
	}
	if (!gw_dl_recorded(m, party, id)) {
		snprintf(m->id[m->next], sizeof(m->id[0]), "%s", id);
		m->next = (m->next + 1) % GW_DL_MEMO;
	}
}

