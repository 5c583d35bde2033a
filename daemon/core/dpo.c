/*
 * dpo: the data protection officer's answers, from the transfer index
 * and the blind index (store/blind.h), without decrypting anything.
 *
 * - A subject access search: which transfers held this pupil or
 *   teacher, under which agreement, sent to whom, downloaded when and
 *   from where, deleted or withdrawn by which rule, with the manifest's
 *   columns (the categories of data). The identifier is checked (a UPN's
 *   check letter, a TRN's or ULN's digits), hashed under the index key
 *   and never written anywhere; the search itself is a DSAR_QUERY record
 *   (the keyed hash, never the value), durable before the answer goes
 *   out, so the record of requests that data protection law asks for
 *   exists.
 * - A breach scope: what left the gateway in a window (released to or
 *   downloaded by a party), with rows, distinct data subjects (across
 *   the transfers: distinct index hashes), columns and special-category
 *   columns, and each download by time, front and address.
 *
 * Both read the transfer index and the configuration in force on the I/O
 * thread; a search opens one index file per indexed transfer (mapped,
 * binary search).
 */
#include "gw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "base/codec.h"
#include "check/ident.h"
#include "store/blind.h"

static json_t *
jstamp(int64_t us)
{
	char b[32];

	if (us == 0)
		return json_null();
	sg_time_rfc3339(us, b);
	return json_string(b);
}

static const char *
party_name(const struct sg_config *cfg, const char *id)
{
	const struct sg_party *p = id ? sg_config_party(cfg, id) : NULL;

	return p != NULL && p->name != NULL ? p->name : "";
}

/* The manifest's columns (the categories of data), from the
 * configuration in force. */
static json_t *
columns_json(const struct sg_flow *f)
{
	json_t *a = json_array();
	size_t i;

	if (f == NULL || f->format != SG_FORMAT_CSV)
		return a;
	for (i = 0; i < f->manifest.ncolumns; i++) {
		const struct sg_column *c = &f->manifest.columns[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name",
		    c->name, "type", sg_validator_name(c->type),
		    "special_category", c->special_category));
	}
	return a;
}

/* One transfer as the DPO sees it. from/to (µs, 0: none) and party
 * (NULL: all) limit the downloads listed (a breach window). */
static json_t *
xfer_json(struct gw *g, const struct gw_xfer *x, int64_t from, int64_t to,
    const char *party)
{
	const struct sg_config *cfg = g->conf->cfg;
	const struct sg_agreement *a = sg_config_agreement(cfg, x->agreement);
	const struct sg_flow *f = a ? sg_agreement_flow(a, x->flow) : NULL;
	json_t *j, *rs = json_array();
	size_t i;
	unsigned k;

	for (i = 0; i < x->nrcpt; i++) {
		const struct gw_rcpt *r = &x->rcpt[i];
		json_t *acts = json_array();

		if (party != NULL && strcmp(party, r->party) != 0)
			continue;
		for (k = 0; k < r->nacts; k++) {
			const struct gw_act *t = &r->acts[k];

			if ((from != 0 && t->at < from) || (to != 0 &&
			    t->at > to))
				continue;
			json_array_append_new(acts, json_pack("{s:o, s:s, "
			    "s:s, s:s}", "at", jstamp(t->at), "event",
			    t->confirm ? "confirmed" : "downloaded", "front",
			    t->front, "address", t->addr));
		}
		json_array_append_new(rs, json_pack("{s:s, s:s, s:o, s:I, "
		    "s:o, s:o, s:b}", "party", r->party, "name",
		    party_name(cfg, r->party), "released",
		    jstamp(x->released_at), "downloads",
		    (json_int_t)r->downloads, "confirmed",
		    jstamp(r->confirmed), "events", acts, "events_complete",
		    r->downloads + (r->confirmed != 0) <= r->nacts));
	}
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s, "
	    "s:o, s:o}", "id", x->id, "agreement", x->agreement ?
	    x->agreement : "", "agreement_title", a && a->title ? a->title :
	    "", "flow", x->flow ? x->flow : "", "sender", x->sender ?
	    x->sender : "", "sender_name", party_name(cfg, x->sender),
	    "received", jstamp(x->received), "rows", (json_int_t)x->rows,
	    "delivery", x->sealed ? "sealed" : "gateway", "recipients", rs,
	    "columns", columns_json(f));
	if (x->subjects_key[0] != '\0')
		json_object_set_new(j, "subjects",
		    json_integer((json_int_t)x->subjects));
	json_object_set_new(j, "state", json_string(x->deleted_at ?
	    "deleted" : "held"));
	if (x->withdrawn_at != 0)
		json_object_set_new(j, "withdrawn", json_pack("{s:o, s:s, "
		    "s:s}", "at", jstamp(x->withdrawn_at), "by",
		    x->withdrawn_by, "reason", x->withdrawn_reason));
	if (x->deleted_at != 0)
		json_object_set_new(j, "deleted", json_pack("{s:o, s:s}", "at",
		    jstamp(x->deleted_at), "rule", x->delete_reason));
	if (a == NULL || f == NULL)
		json_object_set_new(j, "columns_note", json_string("the "
		    "agreement or flow is no longer in the configuration: its "
		    "columns are not known here (the RECEIVED record names "
		    "the agreement file's SHA-256)"));
	return j;
}

/* The text form of xfer_json, for a person at a terminal. */
static void
xfer_text(FILE *o, json_t *j)
{
	json_t *r, *e, *c;
	size_t i, k;
	const char *sep = "";

	fprintf(o, "transfer %s\n", json_string_value(json_object_get(j,
	    "id")));
	fprintf(o, "  agreement   %s (%s)\n", json_string_value(
	    json_object_get(j, "agreement")), json_string_value(
	    json_object_get(j, "agreement_title")));
	fprintf(o, "  flow        %s, sent by %s (%s)\n", json_string_value(
	    json_object_get(j, "flow")), json_string_value(json_object_get(j,
	    "sender")), json_string_value(json_object_get(j, "sender_name")));
	fprintf(o, "  received    %s, %" JSON_INTEGER_FORMAT " row(s)",
	    json_string_value(json_object_get(j, "received")),
	    json_integer_value(json_object_get(j, "rows")));
	if ((c = json_object_get(j, "subjects")) != NULL)
		fprintf(o, ", %" JSON_INTEGER_FORMAT " data subject(s) "
		    "indexed", json_integer_value(c));
	fprintf(o, "; delivery %s\n", json_string_value(json_object_get(j,
	    "delivery")));
	json_array_foreach(json_object_get(j, "recipients"), i, r) {
		fprintf(o, "  released    %s to %s (%s)\n",
		    json_is_string(json_object_get(r, "released")) ?
		    json_string_value(json_object_get(r, "released")) : "-",
		    json_string_value(json_object_get(r, "party")),
		    json_string_value(json_object_get(r, "name")));
		json_array_foreach(json_object_get(r, "events"), k, e)
			fprintf(o, "  %-11s %s by %s over %s from %s\n",
			    json_string_value(json_object_get(e, "event")),
			    json_string_value(json_object_get(e, "at")),
			    json_string_value(json_object_get(r, "party")),
			    json_string_value(json_object_get(e, "front")),
			    json_string_value(json_object_get(e, "address")));
		if (!json_is_true(json_object_get(r, "events_complete")))
			fprintf(o, "  (%" JSON_INTEGER_FORMAT " download(s) in "
			    "all: the transfer log lists every one)\n",
			    json_integer_value(json_object_get(r,
			    "downloads")));
	}
	if ((e = json_object_get(j, "withdrawn")) != NULL)
		fprintf(o, "  withdrawn   %s by %s (%s)\n", json_string_value(
		    json_object_get(e, "at")), json_string_value(
		    json_object_get(e, "by")), json_string_value(
		    json_object_get(e, "reason")));
	if ((e = json_object_get(j, "deleted")) != NULL)
		fprintf(o, "  deleted     %s (rule: %s)\n", json_string_value(
		    json_object_get(e, "at")), json_string_value(
		    json_object_get(e, "rule")));
	else
		fprintf(o, "  now         held by the gateway\n");
	fprintf(o, "  columns     ");
	json_array_foreach(json_object_get(j, "columns"), i, c) {
		fprintf(o, "%s%s%s", sep, json_string_value(json_object_get(c,
		    "name")), json_is_true(json_object_get(c,
		    "special_category")) ? " (special category)" : "");
		sep = ", ";
	}
	if ((c = json_object_get(j, "columns_note")) != NULL)
		fprintf(o, "(%s)", json_string_value(c));
	fprintf(o, "\n\n");
}

static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER), *o;

	if (s == NULL)
		return NULL;
	if (asprintf(&o, "%s\n", s) < 0)
		o = NULL;
	free(s);
	return o;
}

/* --- subject access ----------------------------------------------- */

struct dsar_wait {
	char		*text;
	gw_dpo_cb	 cb;
	void		*arg;
	int		 found;
};

static void
dsar_logged(void *arg, int ok)
{
	struct dsar_wait *w = arg;
	const char *fl[] = { "SCHOOLGATE_REASON=dsar", NULL };

	if (ok) {
		gw_journalf(EV_DPO_QUERY, LOG_NOTICE, fl, "a subject access "
		    "search was made by the operator (%d transfer(s) "
		    "found); the DSAR_QUERY record holds its keyed hash",
		    w->found);
		w->cb(w->arg, w->text);
	} else {
		free(w->text);
		w->cb(w->arg, strdup("error: the search could not be "
		    "recorded in the transfer log, so it is not answered; "
		    "try again\n"));
	}
	free(w);
}

/* The normal form of a typed identifier, or -1 with why (the rule and
 * the reason, never the value). */
static int
dsar_ident(const char *kind, const char *in, enum sg_blind_kind *k,
    char norm[16], char *why, size_t cap)
{
	struct sg_why w = { 0 };
	char trn[8];
	size_t len = strlen(in);
	int v;

	if (strcmp(kind, "upn") == 0) {
		*k = SG_BLIND_UPN;
		/* a temporary UPN is an identifier too (FormerUPN) */
		v = sg_upn_check(in, len, 1, NULL, SG_LA_OFF, &w);
		if (v == SG_INVALID && len == 13) {
			char up[14];
			size_t i;

			for (i = 0; i < 13; i++)
				up[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ?
				    in[i] - 32 : in[i]);
			up[13] = '\0';
			v = sg_upn_check(up, 13, 1, NULL, SG_LA_OFF, &w);
			OPENSSL_cleanse(up, sizeof(up));
		}
	} else if (strcmp(kind, "trn") == 0) {
		*k = SG_BLIND_TRN;
		v = sg_trn_check(in, len, 0, trn, &w);
		if (v != SG_INVALID) {
			in = trn;
			len = 7;
		}
	} else if (strcmp(kind, "uln") == 0) {
		*k = SG_BLIND_ULN;
		v = sg_uln_check(in, len, &w);
		/* every learner without a ULN has this one: it names nobody
		 * (and is not indexed) */
		if (v == SG_WARNING && w.rule != NULL &&
		    strcmp(w.rule, "uln.temporary") == 0) {
			snprintf(why, cap, "9999999999 is the temporary ULN, "
			    "shared by every learner without one: search by "
			    "their UPN instead");
			return -1;
		}
	} else {
		snprintf(why, cap, "the kind of identifier is upn, trn or uln");
		return -1;
	}
	if (v == SG_INVALID) {
		snprintf(why, cap, "not a valid %s (%s: %s)", kind, w.rule ?
		    w.rule : "format", w.msg);
		return -1;
	}
	if (sg_blind_normalise(*k, in, len, norm, 16) != 0) {
		OPENSSL_cleanse(trn, sizeof(trn));
		snprintf(why, cap, "not a valid %s", kind);
		return -1;
	}
	OPENSSL_cleanse(trn, sizeof(trn));
	return 0;
}

/* A search: the snapshot the I/O thread takes, the look-ups the work
 * pool makes (index files are opened and mapped there, never on the
 * loop), and the answer built back on the I/O thread. */
struct dsar_item {
	char		 id[SG_ID_MAX];
	char		 key[SG_BLIND_KEYID];
	int		 state;		/* 0 not held, 1 held, 2 not searchable */
};

struct dsar_job {
	uv_work_t	 w;
	struct gw	*g;
	char		 kind[4];
	int		 json;
	/* the keyed hash under each index key a file may use */
	unsigned char	 (*h)[SG_BLIND_LEN];
	char		 (*keyid)[SG_BLIND_KEYID];
	size_t		 nkeys;
	struct dsar_item *t;
	size_t		 nt, searched, unindexed;
	char		 first[32];
	int		 dirfd;
	gw_dpo_cb	 cb;
	void		*arg;
};

static void
dsar_job_free(struct dsar_job *j)
{
	if (j == NULL)
		return;
	if (j->h != NULL)
		OPENSSL_cleanse(j->h, j->nkeys * SG_BLIND_LEN);
	free(j->h);
	free(j->keyid);
	free(j->t);
	free(j);
}

static void
dsar_run(uv_work_t *w)
{
	struct dsar_job *j = w->data;
	struct sg_blind_file f;
	char err[SG_ERR_MAX];
	size_t i, k;

	for (i = 0; i < j->nt; i++) {
		struct dsar_item *t = &j->t[i];

		t->state = 2;
		for (k = 0; k < j->nkeys; k++)
			if (strcmp(j->keyid[k], t->key) == 0)
				break;
		if (k == j->nkeys || j->dirfd < 0 ||
		    sg_blind_file_open(j->dirfd, t->id, &f, err) != 0)
			continue;
		/* the file its INDEXED record names, under that key */
		if (strcmp(f.keyid, t->key) == 0) {
			t->state = sg_blind_file_find(&f, j->h[k]);
			j->searched++;
		}
		sg_blind_file_close(&f);
	}
}

static void
dsar_after(uv_work_t *w, int status)
{
	struct dsar_job *j = w->data;
	struct gw *g = j->g;
	struct sg_payload pl;
	struct dsar_wait *dw;
	json_t *hits = json_array(), *other = json_array(), *res, *t;
	char hx[2 * SG_BLIND_LEN + 1], *out = NULL, *buf = NULL;
	size_t i, blen = 0;
	FILE *o;

	(void)status;
	g->count.vault_work--;
	sg_hex(j->h[0], SG_BLIND_LEN, hx);
	for (i = 0; i < j->nt; i++) {
		const struct gw_xfer *x = gw_xfer_find(g, j->t[i].id);

		if (j->t[i].state == 2)
			json_array_append_new(other, json_string(j->t[i].id));
		else if (j->t[i].state == 1 && x != NULL)
			json_array_append_new(hits, xfer_json(g, x, 0, 0, NULL));
	}
	res = json_pack("{s:{s:s, s:s, s:s}, s:I, s:I, s:o, s:o, s:o}",
	    "query", "kind", j->kind, "subject", hx, "index_key", j->keyid[0],
	    "searched", (json_int_t)j->searched, "unindexed",
	    (json_int_t)j->unindexed, "not_searchable", other, "index_since",
	    j->first[0] ? json_string(j->first) : json_null(), "transfers",
	    hits);
	if (res == NULL)
		;
	else if (j->json)
		out = dump(res);
	else if ((o = open_memstream(&buf, &blen)) != NULL) {
		fprintf(o, "subject access search: %s (keyed hash %s, index "
		    "key %s)\n", j->kind, hx, j->keyid[0]);
		fprintf(o, "searched %zu indexed transfer(s)%s%s\n", j->searched,
		    j->first[0] ? " received since " : "", j->first);
		if (j->unindexed > 0)
			fprintf(o, "not searched: %zu transfer(s) whose index "
			    "could not be made (the journal says why)\n",
			    j->unindexed);
		if (json_array_size(other) > 0)
			fprintf(o, "not searched: %zu transfer(s) indexed under "
			    "a key the gateway no longer has, or whose index "
			    "file is missing\n", json_array_size(other));
		if (json_array_size(hits) == 0)
			fprintf(o, "\nnot held: no indexed transfer holds this "
			    "%s\n", j->kind);
		else
			fprintf(o, "\nheld in %zu transfer(s):\n\n",
			    json_array_size(hits));
		json_array_foreach(hits, i, t)
			xfer_text(o, t);
		if (fclose(o) == 0)
			out = buf;
		else
			free(buf);
	}
	/* the record of the request: the keyed hash, never the value */
	sg_payload_init(&pl);
	sg_payload_str(&pl, "by", "operator");
	sg_payload_u64(&pl, "found", json_array_size(hits));
	sg_payload_str(&pl, "kind", j->kind);
	sg_payload_u64(&pl, "searched", j->searched);
	sg_payload_str(&pl, "subject", hx);
	sg_payload_str(&pl, "subject_key", j->keyid[0]);
	dw = out != NULL ? calloc(1, sizeof(*dw)) : NULL;
	if (dw == NULL || sg_payload_end(&pl) != 0) {
		free(dw);
		free(out);
		json_decref(res);
		j->cb(j->arg, strdup("error: the search could not be "
		    "answered or recorded; try again\n"));
		dsar_job_free(j);
		return;
	}
	dw->text = out;
	dw->cb = j->cb;
	dw->arg = j->arg;
	dw->found = (int)json_array_size(hits);
	json_decref(res);
	if (gw_log_note(g, SG_REC_DSAR_QUERY, &pl, dsar_logged, dw) != 0) {
		free(dw->text);
		free(dw);
		j->cb(j->arg, strdup("error: the search could not be recorded; "
		    "nothing is answered\n"));
	}
	dsar_job_free(j);
}

char *
gw_dsar(struct gw *g, const char *kind, const char *ident, int json,
    gw_dpo_cb cb, void *arg)
{
	enum sg_blind_kind k;
	struct dsar_job *j;
	char norm[16], why[200], *out = NULL;
	size_t i, n = 0;

	if (dsar_ident(kind, ident, &k, norm, why, sizeof(why)) != 0) {
		if (asprintf(&out, "error: %s; nothing was searched\n", why) <
		    0)
			return NULL;
		return out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->h = calloc(1 + g->nold_index_keys, SG_BLIND_LEN)) == NULL ||
	    (j->keyid = calloc(1 + g->nold_index_keys, SG_BLIND_KEYID)) ==
	    NULL || (j->t = calloc(g->nxfers ? g->nxfers : 1,
	    sizeof(*j->t))) == NULL) {
		OPENSSL_cleanse(norm, sizeof(norm));
		dsar_job_free(j);
		return NULL;
	}
	/* the hash under the key in use, and under each retired key whose
	 * files are kept (schoolgate keygen --rotate-index) */
	j->nkeys = 1 + g->nold_index_keys;
	for (i = 0; i < j->nkeys; i++) {
		const struct sg_blind_key *key = i == 0 ? &g->index_key :
		    &g->old_index_keys[i - 1];

		sg_blind_hash(key, k, norm, j->h[i]);
		memcpy(j->keyid[i], key->id, SG_BLIND_KEYID);
	}
	OPENSSL_cleanse(norm, sizeof(norm));
	for (i = 0; i < g->nxfers; i++) {
		const struct gw_xfer *x = g->xfers[i];

		if (x->state == GW_REJECTED)
			continue;
		if (x->subjects_key[0] == '\0') {
			/* its RECEIVED said an index would follow, and none
			 * did: the gateway stopped first, or it failed (the
			 * journal says why) */
			if (x->index_pending)
				j->unindexed++;
			continue;
		}
		if (j->first[0] == '\0')
			sg_time_rfc3339(x->received, j->first);
		snprintf(j->t[n].id, sizeof(j->t[n].id), "%s", x->id);
		memcpy(j->t[n].key, x->subjects_key, SG_BLIND_KEYID);
		n++;
	}
	j->nt = n;
	j->g = g;
	snprintf(j->kind, sizeof(j->kind), "%s", kind);
	j->json = json;
	j->dirfd = sg_vault_index_dir(g->vault);
	j->cb = cb;
	j->arg = arg;
	if (gw_vault_queue(g, &j->w, j, dsar_run, dsar_after) != 0) {
		dsar_job_free(j);
		return strdup("error: the gateway is busy; nothing was "
		    "searched, try again\n");
	}
	return GW_DPO_LATER;
}

/* --- breach scope ------------------------------------------------- */

/* Whether x left the gateway for party (NULL: any) in [from, to]:
 * released to it, or downloaded or confirmed by it, in the window. */
static int
left_in(const struct gw_xfer *x, int64_t from, int64_t to, const char *party)
{
	size_t i;
	unsigned k;

	for (i = 0; i < x->nrcpt; i++) {
		const struct gw_rcpt *r = &x->rcpt[i];

		if (party != NULL && strcmp(party, r->party) != 0)
			continue;
		if (x->released_at >= from && x->released_at <= to)
			return 1;
		if (r->downloaded >= from && r->downloaded <= to)
			return 1;
		for (k = 0; k < r->nacts; k++)
			if (r->acts[k].at >= from && r->acts[k].at <= to)
				return 1;
		/* more than the latest kept: older ones may fall in it */
		if (r->downloads + (r->confirmed != 0) > r->nacts &&
		    r->downloaded != 0 && r->downloaded <= to &&
		    r->nacts > 0 && r->acts[r->nacts - 1].at >= from)
			return 1;
	}
	return 0;
}

/* A breach scope: the transfers and their fields on the I/O thread, the
 * index files (the distinct data subjects across them) on the work pool,
 * the answer back on the I/O thread. */
struct breach_job {
	uv_work_t	 w;
	struct gw	*g;
	json_t		*list, *cols, *special, *rcpts;
	char		 (*ids)[SG_ID_MAX];
	size_t		 nids, unindexed, noident;
	uint64_t	 rows, downloads, distinct;
	int		 keys_differ, dirfd, json;
	char		 a[32], b[32], party[130], agreement[130];
	gw_dpo_cb	 cb;
	void		*arg;
};

static void
breach_free(struct breach_job *j)
{
	json_decref(j->list);
	json_decref(j->cols);
	json_decref(j->special);
	json_decref(j->rcpts);
	free(j->ids);
	free(j);
}

static void
breach_run(uv_work_t *w)
{
	struct breach_job *j = w->data;
	struct sg_blind_file *files;
	char err[SG_ERR_MAX], keyid[SG_BLIND_KEYID] = "";
	size_t i, n = 0;

	if ((files = calloc(j->nids ? j->nids : 1, sizeof(*files))) == NULL) {
		j->unindexed += j->nids;
		return;
	}
	for (i = 0; i < j->nids; i++) {
		if (j->dirfd < 0 || sg_blind_file_open(j->dirfd, j->ids[i],
		    &files[n], err) != 0) {
			j->unindexed++;
			continue;
		}
		if (keyid[0] != '\0' && strcmp(keyid, files[n].keyid) != 0)
			j->keys_differ = 1;
		memcpy(keyid, files[n].keyid, sizeof(keyid));
		n++;
	}
	/* data subjects across the transfers: distinct hashes (under one
	 * key; under several, a pupil may count once per key) */
	if ((j->distinct = sg_blind_files_distinct(files, n)) == UINT64_MAX) {
		j->distinct = 0;	/* not known: say so */
		j->unindexed += n;
	}
	for (i = 0; i < n; i++)
		sg_blind_file_close(&files[i]);
	free(files);
}

static void
breach_after(uv_work_t *w, int status)
{
	struct breach_job *j = w->data;
	json_t *res, *cl = json_array(), *sl = json_array(), *rl = json_array();
	json_t *v, *e, *t;
	const char *kk, *sep = "";
	char *out = NULL, *buf = NULL;
	size_t i, blen = 0;
	FILE *o;

	(void)status;
	j->g->count.vault_work--;
	json_object_foreach(j->cols, kk, v)
		json_array_append_new(cl, json_string(kk));
	json_object_foreach(j->special, kk, v)
		json_array_append_new(sl, json_string(kk));
	json_object_foreach(j->rcpts, kk, v)
		json_array_append_new(rl, json_string(kk));
	res = json_pack("{s:s, s:s, s:o, s:o, s:I, s:o, s:I, s:I, s:I, s:I, "
	    "s:b, s:o, s:o, s:I, s:O}", "from", j->a, "to", j->b, "party",
	    j->party[0] ? json_string(j->party) : json_null(), "agreement",
	    j->agreement[0] ? json_string(j->agreement) : json_null(),
	    "transfers", (json_int_t)json_array_size(j->list), "recipients",
	    rl, "rows", (json_int_t)j->rows, "data_subjects",
	    (json_int_t)j->distinct, "transfers_not_indexed",
	    (json_int_t)j->unindexed, "transfers_without_identifiers",
	    (json_int_t)j->noident, "data_subjects_upper_bound",
	    j->keys_differ || j->unindexed > 0, "columns", cl,
	    "special_category_columns", sl, "downloads",
	    (json_int_t)j->downloads, "detail", j->list);
	if (res == NULL)
		;
	else if (j->json)
		out = dump(res);
	else if ((o = open_memstream(&buf, &blen)) != NULL) {
		fprintf(o, "what left the gateway from %s to %s%s%s%s%s\n", j->a,
		    j->b, j->party[0] ? " for " : "", j->party,
		    j->agreement[0] ? " under " : "", j->agreement);
		fprintf(o, "  transfers                 %zu\n",
		    json_array_size(j->list));
		fprintf(o, "  recipients                ");
		json_array_foreach(rl, i, e) {
			fprintf(o, "%s%s", sep, json_string_value(e));
			sep = ", ";
		}
		fprintf(o, "%s\n", *sep ? "" : "none");
		fprintf(o, "  rows                      %" PRIu64 "\n", j->rows);
		fprintf(o, "  data subjects (distinct)  %" PRIu64 "%s\n",
		    j->distinct, j->unindexed ? " in indexed transfers; some "
		    "transfers were not indexed: at most the rows" : "");
		if (j->noident)
			fprintf(o, "  without identifiers       %zu transfer(s) "
			    "(files, not rows of people: read them)\n",
			    j->noident);
		sep = "";
		fprintf(o, "  columns                   ");
		json_array_foreach(cl, i, e) {
			fprintf(o, "%s%s", sep, json_string_value(e));
			sep = ", ";
		}
		sep = "";
		fprintf(o, "\n  special category columns  ");
		json_array_foreach(sl, i, e) {
			fprintf(o, "%s%s", sep, json_string_value(e));
			sep = ", ";
		}
		fprintf(o, "%s\n", *sep ? "" : "none");
		fprintf(o, "  downloads                 %" PRIu64 "\n\n",
		    j->downloads);
		json_array_foreach(j->list, i, t)
			xfer_text(o, t);
		if (fclose(o) == 0)
			out = buf;
		else
			free(buf);
	}
	json_decref(res);
	if (out != NULL) {
		const char *fl[] = { "SCHOOLGATE_REASON=breach", NULL };

		gw_journalf(EV_DPO_QUERY, LOG_NOTICE, fl, "a breach scope was "
		    "asked for by the operator (%s to %s%s%s): %zu "
		    "transfer(s)", j->a, j->b, j->party[0] ? ", party " : "",
		    j->party, json_array_size(j->list));
	}
	j->cb(j->arg, out != NULL ? out : strdup("error: out of memory\n"));
	breach_free(j);
}

char *
gw_breach(struct gw *g, int64_t from, int64_t to, const char *party,
    const char *agreement, int json, gw_dpo_cb cb, void *arg)
{
	struct breach_job *j;
	json_t *t, *r, *e, *c;
	const char *name;
	size_t i, k, n;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->list = json_array();
	j->cols = json_object();
	j->special = json_object();
	j->rcpts = json_object();
	if ((j->ids = calloc(g->nxfers ? g->nxfers : 1, SG_ID_MAX)) == NULL ||
	    j->list == NULL || j->cols == NULL || j->special == NULL ||
	    j->rcpts == NULL) {
		breach_free(j);
		return NULL;
	}
	for (i = 0; i < g->nxfers; i++) {
		const struct gw_xfer *x = g->xfers[i];

		if (x->state == GW_REJECTED || !x->released ||
		    (agreement != NULL && (x->agreement == NULL ||
		    strcmp(agreement, x->agreement) != 0)) ||
		    !left_in(x, from, to, party))
			continue;
		t = xfer_json(g, x, from, to, party);
		json_array_append_new(j->list, t);
		j->rows += x->rows;
		json_array_foreach(json_object_get(t, "recipients"), k, r) {
			json_object_set_new(j->rcpts, json_string_value(
			    json_object_get(r, "party")), json_true());
			json_array_foreach(json_object_get(r, "events"), n, e)
				if (strcmp(json_string_value(json_object_get(e,
				    "event")), "downloaded") == 0)
					j->downloads++;
		}
		json_array_foreach(json_object_get(t, "columns"), k, c) {
			name = json_string_value(json_object_get(c, "name"));
			json_object_set_new(j->cols, name, json_true());
			if (json_is_true(json_object_get(c,
			    "special_category")))
				json_object_set_new(j->special, name,
				    json_true());
		}
		if (x->subjects_key[0] == '\0') {
			if (x->index_pending)
				j->unindexed++;	/* its subjects are not known */
			else
				j->noident++;	/* a flow without identifiers */
			continue;
		}
		snprintf(j->ids[j->nids++], SG_ID_MAX, "%s", x->id);
	}
	j->g = g;
	j->json = json;
	j->dirfd = sg_vault_index_dir(g->vault);
	sg_time_rfc3339(from, j->a);
	sg_time_rfc3339(to, j->b);
	snprintf(j->party, sizeof(j->party), "%s", party ? party : "");
	snprintf(j->agreement, sizeof(j->agreement), "%s", agreement ?
	    agreement : "");
	j->cb = cb;
	j->arg = arg;
	if (gw_vault_queue(g, &j->w, j, breach_run, breach_after) != 0) {
		breach_free(j);
		return strdup("error: the gateway is busy; try again\n");
	}
	return GW_DPO_LATER;
}
