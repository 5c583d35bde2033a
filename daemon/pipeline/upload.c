/*
 * pipeline: the upload jobs and the pool of threads that run them.
 *
 * Each upload has a bounded buffer (a list of 64 KiB blocks) between the
 * I/O thread, which feeds it, and the pipeline thread, which pulls from
 * it through the intake's source callback. Over the mark, the front door
 * stops reading its socket (backpressure); when the thread has drained
 * it to half, a RESUME message tells the I/O thread to read again. An
 * upload still waiting for a thread gets a small mark, so that waiting
 * uploads cost little memory.
 *
 * The verdict is reached on the pipeline thread: the object sealed while
 * it was checked is committed and its RECEIVED and RELEASED records made
 * durable (accepted), or the object is discarded and a REJECTED record
 * written (rejected). Only then does DONE reach the I/O thread, and only
 * then does the client hear anything.
 */
#include "gw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/crypto.h>

#include "base/codec.h"
#include "intake/intake.h"
#include "log/tlog.h"

#define BLK		(64 * 1024)
#define WAIT_MARK	(64 * 1024)

struct blk {
	struct blk	*next;
	size_t		 len, off;
	unsigned char	 data[BLK];
};

struct rec {
	int		 type;
	uint64_t	 seq;
	struct sg_payload pl;
};

struct gw_upload {
	struct gw		*g;
	struct gw_conf		*conf;
	const struct sg_agreement *agr;
	const struct sg_flow	*flow;
	char			*party, *agreement, *flowid, *name, *pass;
	/* what the same flow holds (gw_xfer_held_like): the transfer this
	 * upload supersedes, and the content it must not repeat */
	char			 supersedes[SG_ID_MAX];
	struct gw_held		*held;
	size_t			 nheld;
	char			 front[8], addr[48];	/* how, from where */
	const char		*refused;	/* a front's refusal (rule) */
	uint64_t		 max_bytes;
	struct gw_upload_cb	 cb;
	void			*arg;
	/* the buffer, under mu */
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct blk		*head, *tail;
	size_t			 bytes, mark, full_mark;
	int			 eof, cancelled, paused, started;
	uint64_t		 total;
	/* results (the thread writes them before DONE) */
	struct gw_upload_result	 res;
	struct rec		*recs;		/* written, for the index */
	size_t			 nrecs, caprecs;
	int			 done, owner_gone;
	/* accepted, on a flow that indexes: the rows' identifiers, for
	 * the worker to index after DONE */
	struct sg_blind_set	*subjects;
	struct gw_upload	*qnext;		/* pool queue */
	unsigned		 party_cap;	/* threads its party may hold */
	/* how the check stands before the verdict (under mu) */
	/* syncs asked for by the front (watch), the one a sync under way
	 * covers, and the last one done: a front answers a WRITE held
	 * under watch n only once checked >= n */
	uint64_t		 watch, covering, checked;
	int			 failing;	/* an error found already */
	char			 fail_why[200];
	/* the stall check (I/O thread, under mu) */
	int			 stalled;
	unsigned		 stall_seconds;
	uint64_t		 seen;		/* total at since */
	int64_t			 since;
};

struct msg {
	struct msg		*next;
	struct gw_upload	*u;
	int			 kind;		/* 0 resume, 1 done, 2 checked,
						   3 indexed (rec) */
	struct rec		*rec;
};

struct gw_pool {
	pthread_t		*th;
	unsigned		 nth;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct gw_upload	*qhead, *qtail;
	unsigned		 queued;
	struct gw_upload	**cur;		/* running, one per thread */
	int			 stop;
	pthread_mutex_t		 mbmu;
	struct msg		*mbhead, *mbtail;
};

/* m to the I/O thread's mailbox (any thread). */
static void
mbox_put(struct gw *g, struct msg *m)
{
	struct gw_pool *p = g->pool;

	pthread_mutex_lock(&p->mbmu);
	if (p->mbtail)
		p->mbtail->next = m;
	else
		p->mbhead = m;
	p->mbtail = m;
	pthread_mutex_unlock(&p->mbmu);
	uv_async_send(&g->mbox_async);
}

static void
post(struct gw *g, struct gw_upload *u, int kind)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		abort();	/* cannot lose a verdict */
	m->u = u;
	m->kind = kind;
	mbox_put(g, m);
}

static void
upload_destroy(struct gw_upload *u)
{
	struct blk *b;

	while ((b = u->head) != NULL) {
		u->head = b->next;
		free(b);
	}
	sg_report_free(&u->res.report);
	free(u->res.receipt);
	free(u->recs);
	gw_conf_unref(u->conf);
	free(u->party);
	free(u->agreement);
	free(u->flowid);
	free(u->name);
	free(u->held);
	if (u->pass) {
		OPENSSL_cleanse(u->pass, strlen(u->pass));
		free(u->pass);
	}
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	free(u);
}

/* I/O thread: an accepted file beyond what its flow's frequency allows
 * in this period is a warning (where the flow refuses instead, it was
 * refused before it began: core/access.c). */
static void
frequency_check(struct gw *g, struct gw_upload *u)
{
	int64_t from, to;
	unsigned n;
	char d1[11], d2[11], a[160], b[128], c[128], e[64], h[64];
	const char *f[] = { a, b, c, e, h, NULL };

	if (u->flow->period == SG_FREQ_ADHOC || (n = gw_access_sent_in_period(
	    g, u->party, u->agreement, u->flow, &from, &to)) <=
	    u->flow->per_period)
		return;
	sg_date_format(from, d1);
	sg_date_format(to - 1, d2);
	snprintf(a, sizeof(a), "SCHOOLGATE_AGREEMENT=%s", u->agreement);
	snprintf(b, sizeof(b), "SCHOOLGATE_FLOW=%s", u->flowid);
	snprintf(c, sizeof(c), "SCHOOLGATE_PARTY=%s", u->party);
	snprintf(e, sizeof(e), "SCHOOLGATE_TRANSFER=%s", u->res.id);
	snprintf(h, sizeof(h), "SCHOOLGATE_COUNT=%u", n);
	gw_journalf(EV_FREQUENCY, LOG_WARNING, f, "%s sent %u files on "
	    "%s/%s between %s and %s; the agreement allows %u (%s): "
	    "transfer %s is over", u->party, n, u->agreement, u->flowid, d1,
	    d2, u->flow->per_period, u->flow->frequency, u->res.id);
}

/* I/O thread: the mailbox. */
static void
on_mbox(uv_async_t *a)
{
	struct gw *g = a->data;
	struct gw_pool *p = g->pool;
	struct msg *m, *next;
	size_t i;

	pthread_mutex_lock(&p->mbmu);
	m = p->mbhead;
	p->mbhead = p->mbtail = NULL;
	pthread_mutex_unlock(&p->mbmu);
	for (; m != NULL; m = next) {
		struct gw_upload *u = m->u;

		int kind = m->kind;

		next = m->next;
		if (kind == 3) {	/* an INDEXED record, for the index */
			gw_xfer_apply(g, m->rec->type, m->rec->pl.buf,
			    m->rec->pl.len, gw_now_us(), m->rec->seq);
			free(m->rec);
			free(m);
			continue;
		}
		free(m);
		if (kind == 0) {
			if (!u->owner_gone && !u->done && u->cb.resume)
				u->cb.resume(u->arg);
			continue;
		}
		if (kind == 2) {
			if (!u->owner_gone && !u->done && u->cb.checked)
				u->cb.checked(u->arg, u);
			continue;
		}
		u->done = 1;
		g->count.in_flight--;
		for (i = 0; i < u->nrecs; i++)
			gw_xfer_apply(g, u->recs[i].type, u->recs[i].pl.buf,
			    u->recs[i].pl.len, gw_now_us(), u->recs[i].seq);
		if (u->res.status == 201 || u->res.status == 422) {
			/* names and report sizes live in memory */
			struct gw_xfer *x = gw_xfer_find(g, u->res.id);

			if (x != NULL && x->name == NULL)
				x->name = strdup(u->name);
			if (x != NULL)
				x->report_size = u->res.report_size;
		}
		if (u->res.status == 201) {
			g->count.accepted++;
			frequency_check(g, u);
		}
		else if (u->res.status == 422)
			g->count.rejected++;
		else
			g->count.failed++;
		if (u->owner_gone)
			upload_destroy(u);
		else
			u->cb.done(u->arg, u);
	}
}

/* Pipeline thread: the intake's source. */
static ssize_t
upload_read(void *arg, void *buf, size_t cap)
{
	struct gw_upload *u = arg;
	size_t n = 0;
	int resume = 0;

	pthread_mutex_lock(&u->mu);
	while (u->bytes == 0 && !u->eof && !u->cancelled &&
	    u->watch <= u->checked)
		pthread_cond_wait(&u->cv, &u->mu);
	if (u->cancelled) {
		pthread_mutex_unlock(&u->mu);
		return -1;
	}
	if (u->bytes == 0 && !u->eof) {
		/* a front waits to hear how the check stands */
		pthread_mutex_unlock(&u->mu);
		return SG_SRC_AGAIN;
	}
	while (n < cap && u->head != NULL) {
		struct blk *b = u->head;
		size_t k = b->len - b->off;

		if (k > cap - n)
			k = cap - n;
		memcpy((char *)buf + n, b->data + b->off, k);
		b->off += k;
		n += k;
		if (b->off == b->len) {
			u->head = b->next;
			if (u->head == NULL)
				u->tail = NULL;
			free(b);
		}
	}
	u->bytes -= n;
	if (u->paused && u->bytes <= u->mark / 2) {
		u->paused = 0;
		resume = 1;
	}
	pthread_mutex_unlock(&u->mu);
	if (resume)
		post(u->g, u, 0);
	return (ssize_t)n;
}

int
gw_upload_feed(struct gw_upload *u, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int over;

	pthread_mutex_lock(&u->mu);
	u->total += len;
	if (u->total > u->max_bytes) {
		/* larger than the flow allows: abandoned, the front door
		 * answers */
		u->cancelled = 1;
		u->refused = "too-large";
		pthread_cond_signal(&u->cv);
		pthread_mutex_unlock(&u->mu);
		return -1;
	}
	while (len > 0) {
		struct blk *b = u->tail;
		size_t k;

		if (b == NULL || b->len == BLK) {
			if ((b = malloc(sizeof(*b))) == NULL) {
				u->cancelled = 1;
				break;
			}
			b->next = NULL;
			b->len = b->off = 0;
			if (u->tail)
				u->tail->next = b;
			else
				u->head = b;
			u->tail = b;
		}
		k = BLK - b->len;
		if (k > len)
			k = len;
		memcpy(b->data + b->len, p, k);
		b->len += k;
		u->bytes += k;
		p += k;
		len -= k;
	}
	over = u->bytes >= u->mark;
	if (over)
		u->paused = 1;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return over;
}

/* I/O thread: will a thread take u now (one is idle, and its party is
 * under its share)? */
static int
starts_soon(struct gw_pool *p, struct gw_upload *u)
{
	unsigned i, idle = 0, mine = 0;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nth; i++)
		if (p->cur[i] == NULL)
			idle++;
		else if (strcmp(p->cur[i]->party, u->party) == 0)
			mine++;
	pthread_mutex_unlock(&p->mu);
	return idle > 0 && mine < u->party_cap;
}

/* Pipeline thread, before the intake reads: a front waits to answer
 * and there is nothing more to read now. */
static int
want_sync(void *arg)
{
	struct gw_upload *u = arg;
	int want;

	pthread_mutex_lock(&u->mu);
	/* every byte fed before the latest request has been read */
	want = u->watch > u->checked && u->bytes == 0 && !u->eof &&
	    !u->cancelled;
	if (want)
		u->covering = u->watch;
	pthread_mutex_unlock(&u->mu);
	return want;
}

/* Pipeline thread: everything fed before the sync has been checked. */
static void
synced(void *arg, int rejected, const struct sg_report_entry *first)
{
	struct gw_upload *u = arg;

	pthread_mutex_lock(&u->mu);
	u->checked = u->covering;
	if (rejected && !u->failing) {
		u->failing = 1;
		if (first != NULL && first->row > 0 && first->column[0])
			snprintf(u->fail_why, sizeof(u->fail_why), "%s at row "
			    "%" PRIu64 ", column %.80s", first->rule,
			    first->row, first->column);
		else if (first != NULL && first->row > 0)
			snprintf(u->fail_why, sizeof(u->fail_why), "%s at row "
			    "%" PRIu64, first->rule, first->row);
		else
			snprintf(u->fail_why, sizeof(u->fail_why), "%s",
			    first != NULL ? first->rule : "rejected");
	}
	pthread_mutex_unlock(&u->mu);
	post(u->g, u, 2);
}

uint64_t
gw_upload_watch(struct gw_upload *u)
{
	uint64_t n;
	int started;

	pthread_mutex_lock(&u->mu);
	started = u->started;
	pthread_mutex_unlock(&u->mu);
	/* an upload waiting for a thread is checked only once one is free
	 * for it; its sender may be the one holding the threads, so it is
	 * not made to wait for that */
	if (!started && !starts_soon(u->g->pool, u))
		return 0;
	pthread_mutex_lock(&u->mu);
	n = ++u->watch;
	/* the intake may be waiting for bytes: wake it to look */
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return n;
}

uint64_t
gw_upload_checked(struct gw_upload *u)
{
	uint64_t n;

	pthread_mutex_lock(&u->mu);
	n = u->checked;
	pthread_mutex_unlock(&u->mu);
	return n;
}

int
gw_upload_failing(struct gw_upload *u, char *why, size_t cap)
{
	int failing;

	pthread_mutex_lock(&u->mu);
	if ((failing = u->failing) != 0)
		snprintf(why, cap, "%s", u->fail_why);
	pthread_mutex_unlock(&u->mu);
	return failing;
}

void
gw_upload_end(struct gw_upload *u)
{
	pthread_mutex_lock(&u->mu);
	u->eof = 1;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

void
gw_upload_refuse(struct gw_upload *u, const char *rule)
{
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->mu);
	if (u->refused == NULL)
		u->refused = rule;
	pthread_mutex_unlock(&u->mu);
	gw_upload_cancel(u);
}

void
gw_upload_cancel(struct gw_upload *u)
{
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->mu);
	u->cancelled = 1;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	u->owner_gone = 1;
	if (u->done)
		upload_destroy(u);
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
		upload_destroy(u);
}

/* A record now durable in the log, for the index once the verdict is
 * back on the I/O thread: one per recipient, however many. */
static void
add_rec(struct gw_upload *u, int type, const struct sg_payload *pl,
    uint64_t seq)
{
	if (u->nrecs == u->caprecs) {
		size_t nc = u->caprecs ? 2 * u->caprecs : 8;
		struct rec *nr = realloc(u->recs, nc * sizeof(*nr));

		if (nr == NULL)
			abort();	/* the index cannot lose a record */
		u->recs = nr;
		u->caprecs = nc;
	}
	u->recs[u->nrecs].type = type;
	u->recs[u->nrecs].seq = seq;
	u->recs[u->nrecs++].pl = *pl;
}

static void
fail(struct gw_upload *u, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct gw_upload *u, int status, const char *fmt, ...)
{
	const char *f[] = { NULL, NULL, NULL, NULL, NULL };
	char a[96], b[96], c[96], d[320], err[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	u->res.status = status;
	snprintf(u->res.problem, sizeof(u->res.problem), "%s", err);
	snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", u->res.id);
	snprintf(b, sizeof(b), "SCHOOLGATE_AGREEMENT=%s", u->agreement);
	snprintf(c, sizeof(c), "SCHOOLGATE_FLOW=%s", u->flowid);
	snprintf(d, sizeof(d), "SCHOOLGATE_REASON=%s", err);
	f[0] = a, f[1] = b, f[2] = c, f[3] = d;
	gw_journalf(EV_UPLOAD_FAILED, LOG_ERR, f, "upload %s failed on the "
	    "gateway's side: %s", u->res.id, err);
}

static int
recipient_keys(struct gw_upload *u, unsigned char (**pks)[32], size_t *n)
{
	const struct sg_flow *f = u->flow;
	size_t i;

	*n = 0;
	if (f->delivery == SG_DELIVERY_GATEWAY) {
		if ((*pks = calloc(1, 32)) == NULL)
			return -1;
		memcpy((*pks)[0], u->g->ids[0].pk, 32);
		*n = 1;
		return 0;
	}
	if ((*pks = calloc(f->nrecipients ? f->nrecipients : 1, 32)) == NULL)
		return -1;
	for (i = 0; i < f->nrecipients; i++) {
		const struct sg_party *p = sg_config_party(u->conf->cfg,
		    f->recipients[i]);

		if (p == NULL || p->age_recipient == NULL ||
		    sg_age_recipient_parse(p->age_recipient, (*pks)[*n]) != 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static const char *
first_rule(const struct sg_report *r)
{
	size_t i;

	if (r->nerrors > 0)
		return r->errors[0].rule;
	for (i = 0; i < r->ncounts; i++)
		if (!r->counts[i].warning)
			return r->counts[i].rule;
	return "unknown";
}

/* The fields every upload line carries: the transfer, agreement, flow,
 * party, front door and client address (never the file's name or
 * content). Returns how many it put in f; the caller's f has room for
 * its own after them and the NULL. */
struct up_fields {
	char	 s[6][160];
};

static size_t
up_fields(const struct gw_upload *u, struct up_fields *b, const char **f)
{
	snprintf(b->s[0], sizeof(b->s[0]), "SCHOOLGATE_TRANSFER=%s", u->res.id);
	snprintf(b->s[1], sizeof(b->s[1]), "SCHOOLGATE_AGREEMENT=%s",
	    u->agreement);
	snprintf(b->s[2], sizeof(b->s[2]), "SCHOOLGATE_FLOW=%s", u->flowid);
	snprintf(b->s[3], sizeof(b->s[3]), "SCHOOLGATE_PARTY=%s", u->party);
	snprintf(b->s[4], sizeof(b->s[4]), "SCHOOLGATE_FRONT=%s", u->front);
	snprintf(b->s[5], sizeof(b->s[5]), "SCHOOLGATE_CLIENT=%s", u->addr);
	f[0] = b->s[0], f[1] = b->s[1], f[2] = b->s[2], f[3] = b->s[3];
	f[4] = b->s[4], f[5] = b->s[5];
	return 6;
}

static void
journal_verdict(struct gw_upload *u, int accepted)
{
	const char *f[12];
	struct up_fields uf;
	char e[96], h[96], i[96], j[96];
	size_t n;
	const struct sg_report *r = &u->res.report;

	n = up_fields(u, &uf, f);
	snprintf(e, sizeof(e), "SCHOOLGATE_VERDICT=%s", accepted ?
	    "accepted" : "rejected");
	snprintf(h, sizeof(h), "SCHOOLGATE_BYTES=%llu",
	    (unsigned long long)u->total);
	snprintf(i, sizeof(i), "SCHOOLGATE_ROWS=%llu",
	    (unsigned long long)r->rows);
	snprintf(j, sizeof(j), "SCHOOLGATE_REASON=%s", accepted ? "ok" :
	    first_rule(r));
	f[n++] = e, f[n++] = h, f[n++] = i, f[n++] = j, f[n] = NULL;
	if (accepted)
		gw_journalf(EV_ACCEPTED, LOG_INFO, f, "upload %s accepted: %s/%s "
		    "from %s over %s (%s), %llu rows, released to %zu "
		    "recipient(s)", u->res.id, u->agreement, u->flowid,
		    u->party, u->front, u->addr, (unsigned long long)r->rows,
		    u->flow->nrecipients);
	else
		gw_journalf(EV_REJECTED, LOG_NOTICE, f, "upload %s rejected: "
		    "%s/%s from %s over %s (%s): %s (%llu error(s))",
		    u->res.id, u->agreement, u->flowid, u->party, u->front,
		    u->addr, first_rule(r),
		    (unsigned long long)r->nerrors_total);
}


/* Whether the flow's manifest marks a column for the blind index. */
static int
flow_indexes(const struct sg_flow *f)
{
	size_t i;

	if (f->format != SG_FORMAT_CSV)
		return 0;
	for (i = 0; i < f->manifest.ncolumns; i++)
		if (f->manifest.columns[i].index)
			return 1;
	return 0;
}

static void
run_upload(struct gw_upload *u)
{
	struct gw *g = u->g;
	struct gw_intake_job job;
	struct sg_store_seal *seal = NULL;
	struct sg_blind_set *subjects = NULL;	/* kept in u when accepted */
	struct sg_put_result pr;
	struct sg_payload pl;
	unsigned char (*pks)[32] = NULL;
	char err[SG_ERR_MAX], why[256];
	size_t npks = 0, i;
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&u->mu);
	u->started = 1;
	u->mark = u->full_mark;
	if (u->paused && u->bytes < u->mark / 2) {
		u->paused = 0;
		post(g, u, 0);
	}
	pthread_mutex_unlock(&u->mu);

	sg_transfer_id(u->res.id);
	if (recipient_keys(u, &pks, &npks) != 0) {
		fail(u, 500, "%s", "a recipient has no usable age key");
		goto drain;
	}
	/* sealed by the intake process, into a file the store makes */
	if (sg_vault_put_begin_remote(g->vault, &seal, err) != 0) {
		fail(u, 503, "the store is unavailable: %s", err);
		goto drain;
	}
	if (flow_indexes(u->flow) && (subjects = sg_blind_set_new()) == NULL) {
		sg_store_seal_abort(seal);
		fail(u, 503, "%s", "out of memory");
		goto drain;
	}
	memset(&job, 0, sizeof(job));
	job.flow = u->flow;
	job.subjects = subjects;
	job.passphrase = u->pass;
	job.school = sg_party_laestab(u->party);
	job.pks = (const unsigned char (*)[32])pks;
	job.npks = npks;
	job.transfer = u->res.id;
	job.want_sync = want_sync;
	job.synced = synced;
	job.sync_arg = u;
	rc = gw_intake_run(g, &job, upload_read, u, &u->res.report, seal, why,
	    sizeof(why));
	pthread_mutex_lock(&u->mu);
	if (u->cancelled)
		rc = -2;
	pthread_mutex_unlock(&u->mu);
	if (rc == -1) {
		/* the intake process failed (journalled): nothing is kept */
		sg_store_seal_abort(seal);
		fail(u, 503, "the upload could not be checked: %s", why);
		goto drain;
	}
	if (rc == -2) {
		/* stopped part way: stalled, refused by the front door, or
		 * the client went away; nothing is kept */
		const char *f[12];
		struct up_fields uf;
		char reason[96];
		size_t n = up_fields(u, &uf, f);
		const char *refused;

		sg_store_seal_abort(seal);
		pthread_mutex_lock(&u->mu);
		refused = u->refused;
		pthread_mutex_unlock(&u->mu);
		snprintf(reason, sizeof(reason), "SCHOOLGATE_REASON=%s",
		    u->stalled ? "stalled" : refused ? refused :
		    "client-gone");
		f[n++] = reason;
		f[n] = NULL;
		if (u->stalled) {
			u->res.status = 408;
			snprintf(u->res.problem, sizeof(u->res.problem),
			    "under %u bytes of the file arrived in %u "
			    "seconds; nothing was kept: send it again",
			    SG_UPLOAD_STALL_BYTES, u->stall_seconds);
			gw_journalf(EV_UPLOAD_FAILED, LOG_NOTICE, f, "upload %s "
			    "from %s over %s (%s) to %s/%s ended: it stalled "
			    "(under %u bytes in %u seconds); nothing was kept",
			    u->res.id, u->party, u->front, u->addr,
			    u->agreement, u->flowid, SG_UPLOAD_STALL_BYTES,
			    u->stall_seconds);
		} else if (refused != NULL) {
			u->res.status = 400;
			snprintf(u->res.problem, sizeof(u->res.problem),
			    "refused: %s", refused);
			gw_journalf(EV_UPLOAD_FAILED, LOG_NOTICE, f, "upload %s "
			    "from %s over %s (%s) to %s/%s refused part way: "
			    "%s; nothing was kept", u->res.id, u->party,
			    u->front, u->addr, u->agreement, u->flowid,
			    refused);
		} else {
			u->res.status = 499;
			snprintf(u->res.problem, sizeof(u->res.problem), "the "
			    "client closed the connection before the end of "
			    "the file");
			gw_journalf(EV_UPLOAD_FAILED, LOG_NOTICE, f, "upload %s "
			    "from %s over %s (%s) to %s/%s abandoned: the "
			    "client went away part way; nothing was kept",
			    u->res.id, u->party, u->front, u->addr,
			    u->agreement, u->flowid);
		}
		goto out;
	}
	if (rc == 0 && !u->res.report.rejected && u->nheld > 0) {
		/* the same content as a file the flow still holds: nothing
		 * new to send (a correction differs) */
		unsigned char md[32];
		char hex[65];

		if (sg_store_seal_plain_sha256(seal, md) == 0) {
			sg_hex(md, 32, hex);
			for (i = 0; i < u->nheld; i++)
				if (strcmp(u->held[i].sha256, hex) == 0) {
					sg_report_add(&u->res.report, 0, 0,
					    NULL, "duplicate.content", "is "
					    "identical to transfer %s, which "
					    "the gateway still holds for this "
					    "flow: nothing new was sent",
					    u->held[i].id);
					break;
				}
		}
	}
	if (rc != 0 || u->res.report.rejected) {
		sg_store_seal_abort(seal);
		if (sg_report_has(&u->res.report, "store.write")) {
			fail(u, 503, "%s", "the store could not be written");
			goto drain;
		}
		if (gw_meta_write(g, u->res.id, u->name, &u->res.report,
		    &u->res.report_size, err) != 0) {
			fail(u, 503, "the store could not be written: %s", err);
			goto drain;
		}
		sg_payload_init(&pl);
		sg_payload_str(&pl, "agreement", u->agreement);
		sg_payload_str(&pl, "agreement_sha256", u->agr->sha256);
		sg_payload_u64(&pl, "errors", u->res.report.nerrors_total);
		sg_payload_str(&pl, "flow", u->flowid);
		sg_payload_str(&pl, "object", u->res.id);
		sg_payload_str(&pl, "rule", first_rule(&u->res.report));
		sg_payload_str(&pl, "sender", u->party);
		if (sg_payload_end(&pl) != 0 || sg_vault_record(g->vault,
		    SG_REC_REJECTED, &pl, &seq, err) != 0) {
			fail(u, 503, "the transfer log could not be written: %s",
			    err);
			goto drain;
		}
		add_rec(u, SG_REC_REJECTED, &pl, seq);
		u->res.status = 422;
		journal_verdict(u, 0);
		goto drain;
	}
	if (gw_meta_write(g, u->res.id, u->name, &u->res.report,
	    &u->res.report_size, err) != 0) {
		sg_store_seal_abort(seal);
		fail(u, 503, "the store could not be written: %s", err);
		goto drain;
	}
	{
		struct sg_vault_meta m = { .agreement = u->agreement,
		    .flow = u->flowid, .sender = u->party,
		    .agreement_sha256 = u->agr->sha256,
		    .rows = u->res.report.rows, .npks = npks, .record = &pl,
		    .supersedes = u->supersedes,
		    .index_pending = subjects != NULL };

		/* frees seal whatever happens */
		if (sg_vault_put_commit(g->vault, seal, &m, u->res.id, &seq,
		    &pr, err) != 0) {
			fail(u, 503, "the upload could not be stored: %s", err);
			goto drain;
		}
		add_rec(u, SG_REC_RECEIVED, &pl, seq);
		u->res.received_seq = seq;
	}
	for (i = 0; i < u->flow->nrecipients; i++) {
		sg_payload_init(&pl);
		sg_payload_str(&pl, "delivery", u->flow->delivery ==
		    SG_DELIVERY_SEALED ? "sealed" : "gateway");
		sg_payload_str(&pl, "object", u->res.id);
		sg_payload_str(&pl, "to", u->flow->recipients[i]);
		if (sg_payload_end(&pl) != 0 || sg_vault_record(g->vault,
		    SG_REC_RELEASED, &pl, &seq, err) != 0) {
			/* never acknowledged: take it back, in the log and
			 * in the index (which the releases before this one
			 * would otherwise show as released) */
			if (sg_vault_delete(g->vault, u->res.id, "unreleased",
			    NULL) == 0) {
				sg_payload_init(&pl);
				sg_payload_str(&pl, "object", u->res.id);
				sg_payload_str(&pl, "reason", "unreleased");
				if (sg_payload_end(&pl) == 0)
					add_rec(u, SG_REC_DELETED, &pl, 0);
			}
			fail(u, 503, "the transfer log could not be written: %s",
			    err);
			goto drain;
		}
		add_rec(u, SG_REC_RELEASED, &pl, seq);
	}
	sg_hex(pr.plain_sha256, 32, u->res.sha256);
	{
		char oh[65];

		/* the sender's receipt, signed by the log key (pending its
		 * proof until the next checkpoint); the acknowledgement does
		 * not depend on it */
		sg_hex(pr.obj_sha256, 32, oh);
		u->res.receipt = gw_receipt_received(g, u->res.id, u->party,
		    u->agreement, u->flow, u->res.sha256, oh,
		    u->res.report.rows, u->res.received_seq);
	}
	u->res.status = 201;
	journal_verdict(u, 1);
	/* indexed once the sender has its answer (worker) */
	u->subjects = subjects;
	subjects = NULL;
	goto out;
drain:
	/* a verdict reached before the end of the body: read the rest so
	 * the connection can carry the answer (the front door bounds it) */
	{
		unsigned char sink[16384];

		while (upload_read(u, sink, sizeof(sink)) > 0)
			;
	}
out:
	sg_blind_set_free(subjects);
	free(pks);
}

/* The first queued upload whose party holds fewer threads than it may
 * (all but one, by default): a party whose uploads stall holds its own
 * threads, never every one. Under p->mu. */
static struct gw_upload *
next_upload(struct gw_pool *p)
{
	struct gw_upload *u, *prev = NULL;
	unsigned i, mine;

	for (u = p->qhead; u != NULL; prev = u, u = u->qnext) {
		for (i = 0, mine = 0; i < p->nth; i++)
			if (p->cur[i] != NULL &&
			    strcmp(p->cur[i]->party, u->party) == 0)
				mine++;
		if (mine >= u->party_cap)
			continue;
		if (prev != NULL)
			prev->qnext = u->qnext;
		else
			p->qhead = u->qnext;
		if (p->qtail == u)
			p->qtail = prev;
		u->qnext = NULL;
		p->queued--;
		return u;
	}
	return NULL;
}

/* After the acknowledgement: the transfer's blind index and its INDEXED
 * record, then the record to the I/O thread for the transfer index. */
static void
index_upload(struct gw *g, const char *id, struct sg_blind_set *set)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct msg *m = calloc(1, sizeof(*m));
	char err[SG_ERR_MAX], a[64], b[48];
	const char *f[3];
	uint64_t seq;

	snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", id);
	f[0] = a, f[1] = NULL;
	if (r == NULL || m == NULL || sg_vault_index(g->vault, id, set, &r->pl,
	    &seq, err) != 0) {
		gw_journalf(EV_STORE_FAILED, LOG_ERR, f, "transfer %s could not "
		    "be indexed (a subject access search will say so): %s",
		    id, r && m ? err : "out of memory");
		free(r);
		free(m);
		sg_blind_set_free(set);
		return;
	}
	{
		char n[24] = "?";

		sg_payload_get(r->pl.buf, r->pl.len, "subjects", n, sizeof(n));
		snprintf(b, sizeof(b), "SCHOOLGATE_SUBJECTS=%s", n);
		f[1] = b, f[2] = NULL;
		gw_journalf(EV_INDEXED, LOG_INFO, f, "transfer %s indexed: %s "
		    "data subject(s)", id, n);
	}
	sg_blind_set_free(set);
	r->type = SG_REC_INDEXED;
	r->seq = seq;
	m->kind = 3;
	m->rec = r;
	mbox_put(g, m);
}

static void *
worker(void *arg)
{
	struct gw *g = arg;
	struct gw_pool *p = g->pool;
	struct gw_upload *u;
	struct sg_blind_set *set;
	char id[SG_ID_MAX];
	unsigned slot;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while ((u = next_upload(p)) == NULL &&
		    !(p->stop && p->qhead == NULL))
			pthread_cond_wait(&p->cv, &p->mu);
		if (u == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		for (slot = 0; p->cur[slot] != NULL; slot++)
			;
		p->cur[slot] = u;
		pthread_mutex_unlock(&p->mu);
		run_upload(u);
		set = u->subjects;	/* u is the I/O thread's after DONE */
		u->subjects = NULL;
		snprintf(id, sizeof(id), "%s", u->res.id);
		pthread_mutex_lock(&p->mu);
		p->cur[slot] = NULL;
		/* a party's upload that waited for this thread may go */
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		post(g, u, 1);
		if (set != NULL)
			index_upload(g, id, set);
	}
}

/* I/O thread: an upload that is running and not held back by us must
 * bring SG_UPLOAD_STALL_BYTES in each upload_stall_seconds, or it ends
 * (a client trickling bytes, or gone without a FIN, keeps no thread). */
static void
on_stall_check(uv_timer_t *t)
{
	struct gw *g = t->data;
	struct gw_pool *p = g->pool;
	int64_t now = gw_now_us();
	unsigned i;

	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nth; i++) {
		struct gw_upload *u = p->cur[i];

		if (u == NULL)
			continue;
		pthread_mutex_lock(&u->mu);
		if (u->eof || u->cancelled || u->paused || u->since == 0) {
			u->seen = u->total;
			u->since = now;
		} else if (now - u->since >= (int64_t)u->stall_seconds *
		    1000000) {
			if (u->total - u->seen < SG_UPLOAD_STALL_BYTES) {
				u->stalled = 1;
				u->cancelled = 1;
				pthread_cond_signal(&u->cv);
			}
			u->seen = u->total;
			u->since = now;
		}
		pthread_mutex_unlock(&u->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

int
gw_pool_start(struct gw *g, unsigned n)
{
	struct gw_pool *p;
	unsigned i;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->th = calloc(n, sizeof(*p->th))) == NULL) {
		free(p);
		return -1;
	}
	if ((p->cur = calloc(n, sizeof(*p->cur))) == NULL) {
		free(p->th);
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->mbmu, NULL);
	g->pool = p;
	g->mbox_async.data = g;
	if (uv_async_init(g->loop, &g->mbox_async, on_mbox) != 0)
		return -1;
	g->stall_timer.data = g;
	uv_timer_init(g->loop, &g->stall_timer);
	uv_timer_start(&g->stall_timer, on_stall_check, 1000, 1000);
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->th[i], NULL, worker, g) != 0)
			break;
		p->nth++;
	}
	return p->nth == n ? 0 : -1;
}

void
gw_pool_stop(struct gw *g)
{
	struct gw_pool *p = g->pool;
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	on_mbox(&g->mbox_async);
	uv_timer_stop(&g->stall_timer);
	free(p->cur);
	free(p->th);
	free(p);
	g->pool = NULL;
}

unsigned
gw_pool_queued(struct gw *g)
{
	unsigned n;

	pthread_mutex_lock(&g->pool->mu);
	n = g->pool->queued;
	pthread_mutex_unlock(&g->pool->mu);
	return n;
}

struct gw_upload *
gw_upload_begin(struct gw *g, const char *party, const char *front,
    const char *addr, const char *agreement, const char *flow,
    const char *name, const char *zip_password, uint64_t max_bytes,
    const struct gw_upload_cb *cb, void *arg)
{
	struct gw_pool *p = g->pool;
	struct gw_upload *u;
	const char *pass;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->g = g;
	u->conf = g->conf;
	gw_conf_ref(u->conf);
	u->agr = sg_config_agreement(u->conf->cfg, agreement);
	u->flow = u->agr ? sg_agreement_flow(u->agr, flow) : NULL;
	pass = zip_password ? zip_password : sg_secrets_zip(u->conf->secrets,
	    party, agreement, flow);
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	u->party = strdup(party);
	u->agreement = strdup(agreement);
	u->flowid = strdup(flow);
	u->name = strdup(name);
	u->pass = pass ? strdup(pass) : NULL;
	if (gw_xfer_held_like(g, party, agreement, flow, name, u->supersedes,
	    &u->held, &u->nheld) != 0) {
		upload_destroy(u);
		return NULL;
	}
	u->max_bytes = max_bytes;
	snprintf(u->front, sizeof(u->front), "%s", front);
	snprintf(u->addr, sizeof(u->addr), "%s", addr);
	u->cb = *cb;
	u->arg = arg;
	u->full_mark = g->conf->cfg->daemon.upload_buffer;
	u->mark = WAIT_MARK;
	u->stall_seconds = g->conf->cfg->daemon.upload_stall_seconds;
	u->party_cap = g->conf->cfg->daemon.uploads_per_party;
	if (u->party_cap == 0 || u->party_cap > p->nth)
		u->party_cap = p->nth > 1 ? p->nth - 1 : 1;
	sg_report_init(&u->res.report, u->conf->cfg->max_errors);
	if (u->flow == NULL || !u->party || !u->agreement || !u->flowid ||
	    !u->name || (pass && !u->pass)) {
		upload_destroy(u);
		return NULL;
	}
	g->count.in_flight++;
	pthread_mutex_lock(&p->mu);
	if (p->qtail)
		p->qtail->qnext = u;
	else
		p->qhead = u;
	p->qtail = u;
	p->queued++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return u;
}
