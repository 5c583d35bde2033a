/* vault: store + log, kept in agreement (see vault.h). */
#include "store/vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/codec.h"

/* --- object index: open addressing on the id -------------------------- */

struct ent {
	char		id[SG_ID_MAX];
	unsigned char	sha[32];
	int		state;		/* 0 empty, 1 exists, 2 deleted, 3 gone */
};

struct sg_objindex {
	struct ent	*v;
	size_t		 cap, used;
};

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

struct sg_objindex *
sg_objindex_new(void)
{
	struct sg_objindex *ix = calloc(1, sizeof(*ix));

	if (ix == NULL || (ix->v = calloc(1024, sizeof(*ix->v))) == NULL) {
		free(ix);
		return NULL;
	}
	ix->cap = 1024;
	return ix;
}

void
sg_objindex_free(struct sg_objindex *ix)
{
	if (ix) {
		free(ix->v);
		free(ix);
	}
}

static struct ent *
slot(struct sg_objindex *ix, const char *id, int insert)
{
	struct ent *nv, *e;
	size_t i, j, ncap;

	if (insert && (ix->used + 1) * 2 > ix->cap) {
		ncap = ix->cap * 2;
		if ((nv = calloc(ncap, sizeof(*nv))) == NULL)
			return NULL;
		for (i = 0; i < ix->cap; i++) {
			if (!ix->v[i].state)
				continue;
			for (j = fnv(ix->v[i].id) & (ncap - 1); nv[j].state;
			    j = (j + 1) & (ncap - 1))
				;
			nv[j] = ix->v[i];
		}
		free(ix->v);
		ix->v = nv;
		ix->cap = ncap;
	}
	for (i = fnv(id) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		e = &ix->v[i];
		if (!e->state) {
			if (!insert)
				return NULL;
			snprintf(e->id, sizeof(e->id), "%s", id);
			ix->used++;
			return e;
		}
		if (strcmp(e->id, id) == 0)
			return e;
	}
}

int
sg_objindex_apply(struct sg_objindex *ix, const struct sg_log_rec *r)
{
	char id[SG_ID_MAX], hx[65];
	struct ent *e;

	if (r->type != SG_REC_RECEIVED && r->type != SG_REC_KEY_ADDED &&
	    r->type != SG_REC_DELETED && r->type != SG_REC_QUARANTINED)
		return 0;
	if (sg_payload_get(r->payload, r->plen, "object", id, sizeof(id)) !=
	    0)
		return 0;	/* e.g. a key added to the gateway itself */
	if ((e = slot(ix, id, 1)) == NULL)
		return -1;
	switch (r->type) {
	case SG_REC_RECEIVED:
	case SG_REC_KEY_ADDED:
		if (sg_payload_get(r->payload, r->plen, "object_sha256", hx,
		    sizeof(hx)) != 0 || sg_unhex(hx, e->sha, 32) != 0)
			return -1;
		e->state = 1;
		break;
	case SG_REC_DELETED:
		e->state = 2;
		break;
	default:
		e->state = 3;
		break;
	}
	return 0;
}

int
sg_objindex_get(const struct sg_objindex *ix, const char *id,
    unsigned char sha[32])
{
	struct ent *e = slot((struct sg_objindex *)ix, id, 0);

	if (e == NULL || e->state != 1)
		return 0;
	if (sha)
		memcpy(sha, e->sha, 32);
	return 1;
}

int
sg_objindex_deleted(const struct sg_objindex *ix, const char *id)
{
	struct ent *e = slot((struct sg_objindex *)ix, id, 0);

	return e != NULL && e->state == 2;
}

/* 1 when the log knows id at all (held, deleted or quarantined): its
 * index file is kept. */
static int
objindex_known(const struct sg_objindex *ix, const char *id)
{
	struct ent *e = slot((struct sg_objindex *)ix, id, 0);

	return e != NULL && e->state != 0;
}

int
sg_objindex_each(const struct sg_objindex *ix,
    int (*fn)(void *, const char *, const unsigned char *), void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < ix->cap; i++)
		if (ix->v[i].state == 1 &&
		    (rc = fn(arg, ix->v[i].id, ix->v[i].sha)) != 0)
			return rc;
	return 0;
}

/* --- the vault -------------------------------------------------------- */

struct sg_vault {
	pthread_mutex_t		 mu;	/* ix: appends come from many threads */
	struct sg_store		*st;
	struct sg_log		*log;
	struct sg_objindex	*ix;
	const struct sg_vault_opts *o;
	int			 index;	/* index/, or -1 */
	char			 err[SG_ERR_MAX];
	int			 failed;
};

static void
on_record(void *arg, const struct sg_log_rec *r)
{
	struct sg_vault *v = arg;

	if (sg_objindex_apply(v->ix, r) != 0)
		v->failed = 1;
}

static void
vnote(struct sg_vault *v, const char *fmt, ...)
{
	char msg[SG_ERR_MAX];
	va_list ap;

	if (v->o->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->o->note(v->o->arg, msg);
}

static void
log_note(void *arg, const char *msg)
{
	vnote(arg, "log: %s", msg);
}

/* Appends a record and applies it to the index. */
static int
vault_append(struct sg_vault *v, int type, const struct sg_payload *pl,
    uint64_t *seq, char err[SG_ERR_MAX])
{
	struct sg_log_rec rec;

	int rc;

	if (sg_log_append(v->log, type, pl, seq, err) != 0)
		return -1;
	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	rec.seq = *seq;
	rec.payload = pl->buf;
	rec.plen = pl->len;
	pthread_mutex_lock(&v->mu);
	rc = sg_objindex_apply(v->ix, &rec);
	pthread_mutex_unlock(&v->mu);
	if (rc != 0)
		return sg_errf(err, "out of memory");
	return 0;
}

static int
record_quarantine(struct sg_vault *v, const char *id, const char *reason,
    char err[SG_ERR_MAX])
{
	struct sg_payload pl;
	uint64_t seq;

	sg_payload_init(&pl);
	sg_payload_str(&pl, "object", id);
	sg_payload_str(&pl, "reason", reason);
	if (sg_payload_end(&pl) != 0)
		return sg_errf(err, "bad quarantine record");
	if (vault_append(v, SG_REC_QUARANTINED, &pl, &seq, err) != 0)
		return -1;
	return 0;
}

struct recover_ctx {
	struct sg_vault	*v;
	char		 quarantined[64][SG_ID_MAX];
	size_t		 nq;
};

static void
store_note(void *arg, const char *name, const char *what)
{
	struct recover_ctx *rc = arg;

	vnote(rc->v, "store: object %s moved to quarantine: %s", name, what);
	if (rc->v->o->quarantined != NULL)
		rc->v->o->quarantined(rc->v->o->arg, name, what);
	if (rc->nq < 64 && sg_transfer_id_ok(name))
		snprintf(rc->quarantined[rc->nq++], SG_ID_MAX, "%s", name);
}

struct names {
	char	(*v)[SG_ID_MAX];
	size_t	  n, cap;
	int	  stray;
};

static int
collect(void *arg, const char *name)
{
	struct names *ns = arg;
	void *nv;

	if (!sg_transfer_id_ok(name)) {
		ns->stray = 1;	/* store recovery has quarantined these */
		return 0;
	}
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		if ((nv = realloc(ns->v, ns->cap * sizeof(*ns->v))) == NULL)
			return -1;
		ns->v = nv;
	}
	snprintf(ns->v[ns->n++], SG_ID_MAX, "%s", name);
	return 0;
}

static int
reconcile(struct sg_vault *v, char err[SG_ERR_MAX])
{
	struct names ns = { NULL, 0, 0, 0 };
	size_t i;
	int shred, rc = -1;

	if (sg_store_each(v->st, collect, &ns, err) != 0)
		goto out;
	for (i = 0; i < ns.n; i++) {
		if (sg_objindex_get(v->ix, ns.v[i], NULL))
			continue;
		if (sg_objindex_deleted(v->ix, ns.v[i])) {
			if (sg_store_delete(v->st, ns.v[i], &shred, err) != 0)
				goto out;
			vnote(v, "store: finished the recorded deletion of "
			    "%s", ns.v[i]);
			continue;
		}
		/* written, but its RECEIVED record never became durable:
		 * the sender was never told it arrived */
		if (sg_store_quarantine(v->st, ns.v[i], err) != 0 ||
		    record_quarantine(v, ns.v[i], "unacknowledged", err) != 0)
			goto out;
		vnote(v, "store: object %s had no RECEIVED record (never "
		    "acknowledged); moved to quarantine", ns.v[i]);
	}
	rc = 0;
out:
	free(ns.v);
	return rc;
}

/* An index file whose transfer the log never received (a crash between
 * the two) is removed; a deleted transfer's file stays: that is the
 * point of the index. Temporary files of an interrupted write go too. */
static void
sweep_index(struct sg_vault *v)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if ((fd = dup(v->index)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    (e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		if (sg_transfer_id_ok(e->d_name) &&
		    objindex_known(v->ix, e->d_name))
			continue;
		if (unlinkat(v->index, e->d_name, 0) == 0)
			vnote(v, "index/%s: removed (no transfer of that id "
			    "was received)", e->d_name);
	}
	closedir(d);
}

int
sg_vault_open(const struct sg_vault_opts *o, struct sg_vault **out,
    char err[SG_ERR_MAX])
{
	struct sg_log_opts lo;
	struct recover_ctx *rc = NULL;
	struct sg_recovery rec;
	struct sg_vault *v;
	size_t i;

	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->ix = sg_objindex_new()) == NULL ||
	    (rc = calloc(1, sizeof(*rc))) == NULL) {
		if (v)
			sg_objindex_free(v->ix);
		free(v);
		return sg_errf(err, "out of memory");
	}
	v->o = o;
	v->index = -1;
	pthread_mutex_init(&v->mu, NULL);
	memset(&lo, 0, sizeof(lo));
	lo.dir = o->log_dir;
	lo.signer = o->signer;
	lo.create = o->create;
	lo.checkpoint_every = o->checkpoint_every;
	lo.on_record = on_record;
	lo.note = log_note;
	lo.arg = v;
	if (sg_log_open(&lo, &v->log, err) != 0)
		goto bad;
	if (v->failed) {
		sg_errf(err, "the log's object records are malformed");
		goto bad;
	}
	if (sg_store_open(o->store_dir, o->create, &v->st, err) != 0)
		goto bad;
	rc->v = v;
	if (sg_store_recover(v->st, o->ids, o->nids, store_note, rc, &rec,
	    err) != 0)
		goto bad;
	for (i = 0; i < rc->nq; i++)
		if (sg_objindex_get(v->ix, rc->quarantined[i], NULL) &&
		    record_quarantine(v, rc->quarantined[i], "damaged",
		    err) != 0)
			goto bad;
	if (reconcile(v, err) != 0)
		goto bad;
	if (o->index_dir != NULL && o->index_key != NULL) {
		if ((v->index = sg_open_dir(AT_FDCWD, o->index_dir, o->create,
		    0700, err)) < 0)
			goto bad;
		sweep_index(v);
	}
	free(rc);
	*out = v;
	return 0;
bad:
	if (v->index >= 0)
		close(v->index);
	free(rc);
	if (v->log)
		sg_log_close(v->log, NULL);
	sg_store_close(v->st);
	sg_objindex_free(v->ix);
	free(v);
	return -1;
}

void
sg_vault_log_info(struct sg_vault *v, struct sg_log_info *in)
{
	sg_log_info(v->log, in);
}

int
sg_vault_close(struct sg_vault *v, char err[SG_ERR_MAX])
{
	int rc;

	if (v == NULL)
		return 0;
	rc = sg_log_close(v->log, err);
	if (v->index >= 0)
		close(v->index);
	sg_store_close(v->st);
	sg_objindex_free(v->ix);
	pthread_mutex_destroy(&v->mu);
	free(v);
	return rc;
}



int
sg_vault_leaf(struct sg_vault *v, uint64_t seq, unsigned char leaf[32],
    uint64_t *time_us)
{
	return sg_log_leaf(v->log, seq, leaf, time_us);
}

int
sg_vault_prove(struct sg_vault *v, uint64_t seq, struct sg_log_proof *pr,
    char err[SG_ERR_MAX])
{
	return sg_log_prove(v->log, seq, pr, err);
}

int
sg_vault_index_dir(const struct sg_vault *v)
{
	return v->index;
}

int
sg_vault_index(struct sg_vault *v, const char *id, struct sg_blind_set *set,
    struct sg_payload *pl, uint64_t *seq, char err[SG_ERR_MAX])
{
	unsigned char digest[32];
	uint64_t n;

	if (v->index < 0 || v->o->index_key == NULL)
		return sg_errf(err, "no index is kept");
	if (sg_blind_set_finish(set, v->o->index_key, digest, &n) != 0)
		return sg_errf(err, "not enough memory to index the file's "
		    "data subjects");
	if (sg_blind_set_write(set, v->index, id, v->o->index_key->id,
	    err) != 0)
		return -1;
	sg_payload_init(pl);
	sg_payload_str(pl, "object", id);
	sg_payload_u64(pl, "subjects", n);
	sg_payload_str(pl, "subjects_key", v->o->index_key->id);
	sg_payload_hex(pl, "subjects_sha256", digest, 32);
	if (sg_payload_end(pl) != 0) {
		unlinkat(v->index, id, 0);
		return sg_errf(err, "bad INDEXED record");
	}
	/* the file stays if the record cannot be written: the log is the
	 * truth, and a file no record names is never searched */
	return vault_append(v, SG_REC_INDEXED, pl, seq, err);
}

int
sg_vault_put_begin(struct sg_vault *v, const unsigned char (*pks)[32],
    size_t npks, struct sg_store_seal **out, char err[SG_ERR_MAX])
{
	return sg_store_seal_begin(v->st, pks, npks, out, err);
}

int
sg_vault_put_begin_remote(struct sg_vault *v, struct sg_store_seal **out,
    char err[SG_ERR_MAX])
{
	return sg_store_seal_begin_remote(v->st, out, err);
}

int
sg_vault_put_commit(struct sg_vault *v, struct sg_store_seal *s,
    const struct sg_vault_meta *m, const char *id, uint64_t *seq,
    struct sg_put_result *res, char err[SG_ERR_MAX])
{
	struct sg_payload pl;

	if (sg_store_seal_commit(s, id, res, err) != 0)
		return -1;
	sg_payload_init(&pl);
	if (m->agreement)
		sg_payload_str(&pl, "agreement", m->agreement);
	if (m->agreement_sha256)
		sg_payload_str(&pl, "agreement_sha256", m->agreement_sha256);
	sg_payload_str(&pl, "flow", m->flow);
	if (m->index_pending)
		sg_payload_str(&pl, "index", "pending");
	sg_payload_str(&pl, "object", id);
	sg_payload_hex(&pl, "object_sha256", res->obj_sha256, 32);
	sg_payload_u64(&pl, "object_size", res->obj_size);
	sg_payload_hex(&pl, "plain_sha256", res->plain_sha256, 32);
	sg_payload_u64(&pl, "plain_size", res->plain_size);
	sg_payload_u64(&pl, "recipients", m->npks);
	if (m->sender) {
		sg_payload_u64(&pl, "rows", m->rows);
		sg_payload_str(&pl, "sender", m->sender);
	}
	if (m->supersedes != NULL && m->supersedes[0] != '\0')
		sg_payload_str(&pl, "supersedes", m->supersedes);
	if (sg_payload_end(&pl) != 0) {
		/* the object must not outlive a record that cannot be
		 * written */
		int shred;

		sg_store_delete(v->st, id, &shred, NULL);
		return sg_errf(err, "bad RECEIVED record (ids?)");
	}
	if (m->record != NULL)
		*m->record = pl;
	/* the object is durable; now its record, then the caller may
	 * acknowledge */
	return vault_append(v, SG_REC_RECEIVED, &pl, seq, err);
}

int
sg_vault_receive(struct sg_vault *v, const unsigned char (*pks)[32],
    size_t npks, sg_src_fn src, void *arg, const char *flow,
    char id[SG_ID_MAX], uint64_t *seq, struct sg_put_result *res,
    char err[SG_ERR_MAX])
{
	struct sg_vault_meta m = { .flow = flow, .npks = npks };
	struct sg_store_seal *s;
	unsigned char buf[64 * 1024];
	ssize_t n;

	sg_transfer_id(id);
	if (sg_vault_put_begin(v, pks, npks, &s, err) != 0)
		return -1;
	while ((n = src(arg, buf, sizeof(buf))) > 0)
		if (sg_store_seal_write(s, buf, (size_t)n) != 0)
			break;
	if (n != 0) {
		sg_store_seal_abort(s);
		return sg_errf(err, n < 0 ? "the input could not be read" :
		    "writing the object failed");
	}
	return sg_vault_put_commit(v, s, &m, id, seq, res, err);
}

int
sg_vault_record(struct sg_vault *v, int type, const struct sg_payload *pl,
    uint64_t *seq, char err[SG_ERR_MAX])
{
	uint64_t dummy;

	return vault_append(v, type, pl, seq ? seq : &dummy, err);
}

int
sg_vault_delete(struct sg_vault *v, const char *id, const char *reason,
    char err[SG_ERR_MAX])
{
	struct sg_payload pl;
	uint64_t seq;
	int shred;

	int have;

	pthread_mutex_lock(&v->mu);
	have = sg_objindex_get(v->ix, id, NULL);
	pthread_mutex_unlock(&v->mu);
	if (!have)
		return sg_errf(err, "no object %s", id);
	sg_payload_init(&pl);
	sg_payload_str(&pl, "object", id);
	sg_payload_str(&pl, "reason", reason);
	sg_payload_str(&pl, "shred", "header-overwritten");
	if (sg_payload_end(&pl) != 0 || vault_append(v, SG_REC_DELETED, &pl,
	    &seq, err) != 0)
		return -1;
	if (sg_store_delete(v->st, id, &shred, err) != 0)
		return -1;	/* recovery finishes it */
	return 0;
}

int
sg_vault_open_object(struct sg_vault *v, const char *id, char err[SG_ERR_MAX])
{
	return sg_store_open_object(v->st, id, err);
}
