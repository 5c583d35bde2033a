/*
 * agreements: each agreement's state over time, in the signed log and
 * in the journal. Its effective state today (active, suspended,
 * review-overdue, expired, or removed from the configuration) is
 * compared with the last AGREEMENT_STATUS record the log holds for it;
 * a change is a new record, saying what changed it (the configuration an
 * operator loaded, or the calendar). Looked at on start, on each reload
 * and on the retention timer (the calendar changes states at midnight).
 * A review date that has passed is a journal warning once a day, and
 * suspends the agreement where it says review_overdue = "suspend" (the
 * access authority, access.c, asks gw_agreement_state).
 *
 * The last recorded states are folded from the log at start, so a
 * restart records nothing new.
 */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log/tlog.h"

struct gw_agr_seen {
	char	*id;
	char	 state[24];
};

const char *
gw_agreement_state(const struct sg_agreement *a, int64_t today)
{
	if (a == NULL)
		return "removed";
	switch (sg_agreement_status_on(a, today)) {
	case SG_AGR_EXPIRED:
		return "expired";
	case SG_AGR_SUSPENDED:
		return "suspended";
	default:
		break;
	}
	return today > a->review ? "review-overdue" : "active";
}

static struct gw_agr_seen *
seen_find(struct gw *g, const char *id)
{
	size_t i;

	for (i = 0; i < g->nagr_seen; i++)
		if (strcmp(g->agr_seen[i].id, id) == 0)
			return &g->agr_seen[i];
	return NULL;
}

static struct gw_agr_seen *
seen_set(struct gw *g, const char *id, const char *state)
{
	struct gw_agr_seen *s = seen_find(g, id), *nv;

	if (s == NULL) {
		if ((nv = realloc(g->agr_seen, (g->nagr_seen + 1) *
		    sizeof(*nv))) == NULL)
			return NULL;
		g->agr_seen = nv;
		s = &g->agr_seen[g->nagr_seen];
		if ((s->id = strdup(id)) == NULL)
			return NULL;
		g->nagr_seen++;
	}
	snprintf(s->state, sizeof(s->state), "%s", state);
	return s;
}

void
gw_agreement_fold(struct gw *g, const char *pl, size_t n)
{
	char id[128], state[24];

	if (sg_payload_get(pl, n, "agreement", id, sizeof(id)) == 0 &&
	    sg_payload_get(pl, n, "status", state, sizeof(state)) == 0)
		(void)seen_set(g, id, state);
}

void
gw_agreements_free(struct gw *g)
{
	size_t i;

	for (i = 0; i < g->nagr_seen; i++)
		free(g->agr_seen[i].id);
	free(g->agr_seen);
	g->agr_seen = NULL;
	g->nagr_seen = 0;
}

struct recorded {
	struct gw	*g;
	char		 id[128], state[24];
};

/* The record is in the log: only now is the state known as recorded,
 * so that a failed write is tried again at the next check. */
static void
on_recorded(void *arg, int ok)
{
	struct recorded *r = arg;

	if (ok)
		(void)seen_set(r->g, r->id, r->state);
	free(r);
}

/* One AGREEMENT_STATUS record, and its journal line. */
static void
record(struct gw *g, const char *id, const char *state, const char *by)
{
	struct sg_payload pl;
	struct recorded *r;
	char a[160], b[64], c[64];
	const char *f[] = { a, b, c, NULL };

	sg_payload_init(&pl);
	sg_payload_str(&pl, "agreement", id);
	sg_payload_str(&pl, "by", by);
	sg_payload_str(&pl, "status", state);
	if ((r = calloc(1, sizeof(*r))) != NULL) {
		r->g = g;
		snprintf(r->id, sizeof(r->id), "%s", id);
		snprintf(r->state, sizeof(r->state), "%s", state);
	}
	if (r == NULL || sg_payload_end(&pl) != 0 || gw_log_note(g,
	    SG_REC_AGREEMENT_STATUS, &pl, on_recorded, r) != 0) {
		const char *e[] = { "SCHOOLGATE_REASON=log", NULL };

		free(r);
		gw_journalf(EV_LOG_FAILED, LOG_CRIT, e, "agreement %s is now "
		    "%s, which could not be recorded in the transfer log",
		    id, state);
		return;
	}
	snprintf(a, sizeof(a), "SCHOOLGATE_AGREEMENT=%s", id);
	snprintf(b, sizeof(b), "SCHOOLGATE_STATUS=%s", state);
	snprintf(c, sizeof(c), "SCHOOLGATE_REASON=%s", by);
	gw_journalf(EV_AGREEMENT_STATUS, LOG_NOTICE, f, "agreement %s is "
	    "now %s (%s)", id, state, strcmp(by, "configuration") == 0 ?
	    "the configuration loaded says so" : "its dates say so");
}

void
gw_agreements_check(struct gw *g, const char *by, int warn)
{
	const struct sg_config *cfg = g->conf->cfg;
	int64_t today = sg_today();
	char date[11];
	size_t i;

	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		const char *st = gw_agreement_state(a, today);
		const struct gw_agr_seen *s = seen_find(g, a->id);

		if (s == NULL || strcmp(s->state, st) != 0)
			record(g, a->id, st, by);
		if (warn && strcmp(st, "review-overdue") == 0) {
			char f1[160], f2[64];
			const char *f[] = { f1, f2, NULL };

			sg_date_format(a->review, date);
			snprintf(f1, sizeof(f1), "SCHOOLGATE_AGREEMENT=%s",
			    a->id);
			snprintf(f2, sizeof(f2), "SCHOOLGATE_REVIEW=%s", date);
			gw_journalf(EV_REVIEW_OVERDUE, LOG_WARNING, f,
			    "agreement %s was due for review on %s%s", a->id,
			    date, a->review_suspends ? "; it is suspended "
			    "until a reviewed agreement is loaded" : "");
		}
	}
	/* agreements the log knows that the configuration no longer has */
	for (i = 0; i < g->nagr_seen; i++)
		if (sg_config_agreement(cfg, g->agr_seen[i].id) == NULL &&
		    strcmp(g->agr_seen[i].state, "removed") != 0)
			record(g, g->agr_seen[i].id, "removed", by);
}
