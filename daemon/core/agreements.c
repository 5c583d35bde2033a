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
 * access authority, access.c, asks gw_agreement_info).
 *
 * A party to an agreement, or an operator, may suspend it for a number
 * of days up to its max_suspension_days (seed 002 s.10: "Either party
 * can suspend this Agreement for 30 days"), with a reason from a fixed
 * list; it is resumed by that party or an operator, or runs out, and
 * then resumes or, with suspension_expiry = "end", ends. Each step is an
 * AGREEMENT_STATUS record saying who and why.
 *
 * The last recorded states are folded from the log at start, so a
 * restart records nothing new.
 */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "base/codec.h"
#include "log/tlog.h"

struct gw_agr_seen {
	char	*id;
	char	 state[24];	/* as last recorded */
	int	 pending;	/* records of it being written */
	/* a suspension by a party or an operator (us; until 0: none) */
	int64_t	 since, until;
	char	 by[96], reason[32];
	int64_t	 ended;		/* a suspension ran out into its end */
};

/* RFC 3339 UTC, to the second (sg_time_rfc3339), and back (microseconds) */
static int64_t
unstamp(const char *s)
{
	int64_t day;
	unsigned h, m, sec;

	if (strlen(s) != 20 || s[10] != 'T' || s[19] != 'Z' ||
	    sg_date_parse(s, 10, &day) != 0 ||
	    sscanf(s + 11, "%2u:%2u:%2u", &h, &m, &sec) != 3 || h > 23 ||
	    m > 59 || sec > 60)
		return 0;
	return ((day * 86400) + h * 3600 + m * 60 + sec) * 1000000;
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
seen_get(struct gw *g, const char *id)
{
	struct gw_agr_seen *s = seen_find(g, id), *nv;

	if (s == NULL) {
		if ((nv = realloc(g->agr_seen, (g->nagr_seen + 1) *
		    sizeof(*nv))) == NULL)
			return NULL;
		g->agr_seen = nv;
		s = &g->agr_seen[g->nagr_seen];
		memset(s, 0, sizeof(*s));
		if ((s->id = strdup(id)) == NULL)
			return NULL;
		g->nagr_seen++;
	}
	return s;
}

void
gw_agreement_info(struct gw *g, const struct sg_agreement *a,
    struct gw_agr_info *i)
{
	const struct gw_agr_seen *s = a ? seen_find(g, a->id) : NULL;
	int64_t now = gw_now_us(), today = sg_today();
	char d[32];

	memset(i, 0, sizeof(*i));
	if (a == NULL) {
		i->state = "removed";
		i->why = "the agreement is no longer configured";
		return;
	}
	/* the configuration first: ended or suspended by it, there is no
	 * party's suspension to show */
	switch (sg_agreement_status_on(a, today)) {
	case SG_AGR_EXPIRED:
		i->state = "expired";
		i->why = "the agreement has ended";
		return;
	case SG_AGR_SUSPENDED:
		i->state = "suspended";
		i->why = "the agreement is suspended";
		return;
	default:
		break;
	}
	if (s != NULL && (s->until != 0 || s->ended != 0)) {
		i->by = s->by;
		i->reason = s->reason;
		i->since = s->since;
		i->until = s->until ? s->until : s->ended;
	}
	if (s != NULL && (s->ended != 0 || (s->until != 0 &&
	    s->until <= now && a->suspension_ends))) {
		i->state = "ended";
		i->why = "the agreement has ended: a suspension ran out and it "
		    "was not resumed";
		return;
	}
	if (s != NULL && s->until > now) {
		sg_time_rfc3339(s->until, d);
		snprintf(i->why_buf, sizeof(i->why_buf), "the agreement is "
		    "suspended by %s until %s (%s)", strcmp(s->by,
		    "operator") == 0 ? "the gateway's operators" : s->by, d,
		    s->reason);
		i->state = "suspended";
		i->why = i->why_buf;
		return;
	}
	i->by = i->reason = NULL;
	i->since = i->until = 0;
	if (today > a->review) {
		i->state = "review-overdue";
		if (a->review_suspends)
			i->why = "the agreement is suspended: its review is "
			    "overdue";
		return;
	}
	i->state = "active";
}

/* AGREEMENT_STATUS payloads: agreement, by, status; for a party's or an
 * operator's act, event ("suspend", "resume", "suspension-ran-out"),
 * reason, and for a suspension from and until. */
void
gw_agreement_fold(struct gw *g, const char *pl, size_t n)
{
	char id[128], state[24], ev[32], t[32];
	struct gw_agr_seen *s;

	if (sg_payload_get(pl, n, "agreement", id, sizeof(id)) != 0 ||
	    sg_payload_get(pl, n, "status", state, sizeof(state)) != 0 ||
	    (s = seen_get(g, id)) == NULL)
		return;
	snprintf(s->state, sizeof(s->state), "%s", state);
	if (sg_payload_get(pl, n, "event", ev, sizeof(ev)) != 0)
		return;
	if (strcmp(ev, "suspend") == 0) {
		sg_payload_get(pl, n, "by", s->by, sizeof(s->by));
		sg_payload_get(pl, n, "reason", s->reason, sizeof(s->reason));
		s->since = sg_payload_get(pl, n, "from", t, sizeof(t)) == 0 ?
		    unstamp(t) : 0;
		s->until = sg_payload_get(pl, n, "until", t, sizeof(t)) == 0 ?
		    unstamp(t) : 0;
		s->ended = 0;
	} else {
		/* resumed, or ran out (into its end, or not) */
		s->ended = strcmp(state, "ended") == 0 ? (s->until ? s->until :
		    1) : 0;
		s->until = 0;
	}
}

int
gw_agreement_pending(struct gw *g, const char *id)
{
	const struct gw_agr_seen *s = seen_find(g, id);

	return s != NULL && s->pending > 0;
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
	struct sg_payload pl;
	char		 id[128], state[24], by[96], event[32], reason[33];
	char		 until[32];
	void		(*cb)(void *, int);
	void		*arg;
};

static const char *
said_by(const char *by)
{
	if (strcmp(by, "configuration") == 0)
		return "the configuration loaded says so";
	if (strcmp(by, "calendar") == 0)
		return "its dates say so";
	if (strcmp(by, "operator") == 0)
		return "by the gateway's operators";
	return by;
}

/* The journal line, once the record is in the log. */
static void
journal(const struct recorded *r)
{
	char a[160], b[64], c[128], e[128];
	const char *f[] = { a, b, c, e, NULL };

	snprintf(a, sizeof(a), "SCHOOLGATE_AGREEMENT=%s", r->id);
	snprintf(b, sizeof(b), "SCHOOLGATE_STATUS=%s", r->state);
	snprintf(c, sizeof(c), "SCHOOLGATE_BY=%s", r->by);
	snprintf(e, sizeof(e), "SCHOOLGATE_REASON=%s", r->event[0] ?
	    r->reason : r->by);
	if (strcmp(r->event, "suspend") == 0)
		gw_journalf(EV_AGREEMENT_STATUS, LOG_WARNING, f, "agreement "
		    "%s suspended %s%s until %s (%s)", r->id,
		    strcmp(r->by, "operator") == 0 ? "" : "by ",
		    said_by(r->by), r->until, r->reason);
	else if (r->event[0] != '\0')
		gw_journalf(EV_AGREEMENT_STATUS, LOG_NOTICE, f, "agreement "
		    "%s is now %s: %s (%s)", r->id, r->state,
		    strcmp(r->event, "resume") == 0 ? "suspension lifted" :
		    "its suspension ran out", strcmp(r->event, "resume") ==
		    0 ? said_by(r->by) : r->reason);
	else
		gw_journalf(EV_AGREEMENT_STATUS, LOG_NOTICE, f, "agreement "
		    "%s is now %s (%s)", r->id, r->state, said_by(r->by));
}

static void
log_failed(const char *id, const char *state)
{
	const char *x[] = { "SCHOOLGATE_REASON=log", NULL };

	gw_journalf(EV_LOG_FAILED, LOG_CRIT, x, "agreement %s is now %s, "
	    "which could not be recorded in the transfer log", id, state);
}

/* The record is in the log: only now does the state change (a party is
 * answered once it has), and is known as recorded, so that a failed
 * write is tried again at the next check. */
static void
on_recorded(void *arg, int ok)
{
	struct recorded *r = arg;
	struct gw_agr_seen *s = seen_find(r->g, r->id);

	if (s != NULL && s->pending > 0)
		s->pending--;
	if (ok) {
		gw_agreement_fold(r->g, r->pl.buf, r->pl.len);
		journal(r);
	} else
		log_failed(r->id, r->state);
	if (r->cb != NULL)
		r->cb(r->arg, ok);
	free(r);
}

/* One AGREEMENT_STATUS record; its journal line follows it. */
static int
record(struct gw *g, const char *id, const char *state, const char *by,
    const char *event, const char *reason, int64_t from, int64_t until,
    void (*cb)(void *, int), void *arg)
{
	struct gw_agr_seen *s = seen_get(g, id);
	struct recorded *r;
	char t1[32];

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_failed(id, state);
		return -1;
	}
	r->g = g;
	r->cb = cb;
	r->arg = arg;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->state, sizeof(r->state), "%s", state);
	snprintf(r->by, sizeof(r->by), "%s", by);
	snprintf(r->event, sizeof(r->event), "%s", event ? event : "");
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	/* the keys in order, as the log wants them */
	sg_time_rfc3339(from, t1);
	sg_time_rfc3339(until, r->until);
	sg_payload_init(&r->pl);
	sg_payload_str(&r->pl, "agreement", id);
	sg_payload_str(&r->pl, "by", by);
	if (event != NULL)
		sg_payload_str(&r->pl, "event", event);
	if (until != 0)
		sg_payload_str(&r->pl, "from", t1);
	if (event != NULL)
		sg_payload_str(&r->pl, "reason", reason);
	sg_payload_str(&r->pl, "status", state);
	if (until != 0)
		sg_payload_str(&r->pl, "until", r->until);
	/* before: on_recorded counts it down */
	if (s != NULL)
		s->pending++;
	if (sg_payload_end(&r->pl) != 0 || gw_log_note(g,
	    SG_REC_AGREEMENT_STATUS, &r->pl, on_recorded, r) != 0) {
		if ((s = seen_find(g, id)) != NULL && s->pending > 0)
			s->pending--;
		free(r);
		log_failed(id, state);
		return -1;
	}
	return 0;
}

int
gw_agreement_suspend(struct gw *g, const char *id, const char *by,
    const char *reason, unsigned days, void (*cb)(void *, int), void *arg)
{
	int64_t now = gw_now_us();

	return record(g, id, "suspended", by, "suspend", reason, now, now +
	    (int64_t)days * g->conf->cfg->daemon.day_seconds * 1000000, cb,
	    arg);
}

/* The state an agreement returns to when its suspension ends. */
static const char *
after_suspension(struct gw *g, const struct sg_agreement *a)
{
	struct gw_agr_seen *s = seen_find(g, a->id);
	struct gw_agr_info i;
	int64_t until = s ? s->until : 0, ended = s ? s->ended : 0;

	if (s != NULL)
		s->until = s->ended = 0;	/* look past it */
	gw_agreement_info(g, a, &i);
	if (s != NULL) {
		s->until = until;
		s->ended = ended;
	}
	return i.state;
}

int
gw_agreement_resume(struct gw *g, const char *id, const char *by,
    const char *reason, void (*cb)(void *, int), void *arg)
{
	const struct sg_agreement *a = sg_config_agreement(g->conf->cfg, id);

	if (a == NULL)
		return -1;
	return record(g, id, after_suspension(g, a), by, "resume", reason, 0,
	    0, cb, arg);
}

void
gw_agreements_check(struct gw *g, const char *by, int warn)
{
	const struct sg_config *cfg = g->conf->cfg;
	int64_t now = gw_now_us();
	char date[11];
	size_t i;

	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		const struct gw_agr_seen *s = seen_find(g, a->id);
		struct gw_agr_info in;

		gw_agreement_info(g, a, &in);
		if (s != NULL && s->pending)
			;	/* a record of it is on its way; look again */
		else if (s != NULL && s->until != 0 && s->until <= now)
			/* a suspension ran out: resumed, or ended */
			(void)record(g, a->id, a->suspension_ends ? "ended" :
			    after_suspension(g, a), "calendar",
			    "suspension-ran-out", a->suspension_ends ?
			    "ended-by-configuration" : "resumed", 0, 0, NULL,
			    NULL);
		else if (s == NULL || strcmp(s->state, in.state) != 0)
			(void)record(g, a->id, in.state, by, NULL, NULL, 0, 0,
			    NULL, NULL);
		if (warn && strcmp(in.state, "review-overdue") == 0) {
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
		    !g->agr_seen[i].pending &&
		    strcmp(g->agr_seen[i].state, "removed") != 0)
			(void)record(g, g->agr_seen[i].id, "removed", by, NULL,
			    NULL, 0, 0, NULL, NULL);
}
