/*
 * wire: the flow, the report and what was sealed, between the core and
 * an intake process (see wire.h). Numbers are little-endian.
 */
#include "intake/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_VERSION	1
#define MAX_STR		4096
#define MAX_COLUMNS	1024
#define MAX_CODES	4096
#define MAX_TYPES	64
#define NO_STR		0xffffffffu

enum { T_FLOW = 1 };
enum { H_REJECTED = 1, H_ROWS, H_BYTES, H_NERR, H_NWARN, H_STOPPED,
	H_CONTAINER, H_COUNTS };
enum { E_WARNING = 1, E_ROW, E_COLUMN, E_RULE, E_MSG };

/* An appender that remembers a failure. */
struct out {
	unsigned char	*p;
	size_t		 n, cap;
	int		 ok;
};

static void
o_raw(struct out *o, const void *p, size_t n)
{
	if (!o->ok)
		return;
	if (o->n + n > o->cap) {
		size_t nc = o->cap ? o->cap : 1024;
		unsigned char *np;

		while (nc < o->n + n)
			nc *= 2;
		if (nc > SG_MSG_MAX || (np = realloc(o->p, nc)) == NULL) {
			o->ok = 0;
			return;
		}
		o->p = np;
		o->cap = nc;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static void
o_u64(struct out *o, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	o_raw(o, b, 8);
}

static void
o_u32(struct out *o, uint32_t v)
{
	unsigned char b[4] = { v & 0xff, v >> 8 & 0xff, v >> 16 & 0xff,
	    v >> 24 };

	o_raw(o, b, 4);
}

static void
o_u8(struct out *o, unsigned v)
{
	unsigned char b = (unsigned char)v;

	o_raw(o, &b, 1);
}

static void
o_str(struct out *o, const char *s)
{
	size_t n;

	if (s == NULL) {
		o_u32(o, NO_STR);
		return;
	}
	if ((n = strlen(s)) > MAX_STR) {
		o->ok = 0;
		return;
	}
	o_u32(o, (uint32_t)n);
	o_raw(o, s, n);
}

/* A reader that refuses on the first value out of bounds. */
struct in {
	const unsigned char	*p;
	size_t			 n, off;
	int			 ok;
};

static int
i_need(struct in *i, size_t k)
{
	if (!i->ok || i->n - i->off < k) {
		i->ok = 0;
		return 0;
	}
	return 1;
}

static uint64_t
i_u64(struct in *i)
{
	uint64_t v = 0;
	int k;

	if (!i_need(i, 8))
		return 0;
	for (k = 0; k < 8; k++)
		v |= (uint64_t)i->p[i->off + k] << (8 * k);
	i->off += 8;
	return v;
}

static uint32_t
i_u32(struct in *i)
{
	const unsigned char *b;

	if (!i_need(i, 4))
		return 0;
	b = i->p + i->off;
	i->off += 4;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static unsigned
i_u8(struct in *i)
{
	if (!i_need(i, 1))
		return 0;
	return i->p[i->off++];
}

/* A malloc'd string (NULL for "none", allowed only when nullable). */
static char *
i_str(struct in *i, int nullable)
{
	uint32_t n = i_u32(i);
	char *s;

	if (!i->ok)
		return NULL;
	if (n == NO_STR) {
		if (!nullable)
			i->ok = 0;
		return NULL;
	}
	if (n > MAX_STR || !i_need(i, n) ||
	    memchr(i->p + i->off, 0, n) != NULL) {
		i->ok = 0;
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		i->ok = 0;
		return NULL;
	}
	memcpy(s, i->p + i->off, n);
	s[n] = 0;
	i->off += n;
	return s;
}

/* A signed index in [-1, n). */
static int
i_index(struct in *i, size_t n)
{
	uint32_t v = i_u32(i);

	if (v == 0xffffffffu)
		return -1;
	if (v >= n) {
		i->ok = 0;
		return -1;
	}
	return (int)v;
}

/* An index into n columns, or -1 for none (an opaque flow's manifest
 * is all zeroes: index 0 of no columns is none). */
static void
o_index(struct out *o, int v, size_t n)
{
	o_u32(o, v >= 0 && (size_t)v < n ? (uint32_t)v : 0xffffffffu);
}

static void
o_strs(struct out *o, char *const *v, size_t n)
{
	size_t k;

	o_u32(o, (uint32_t)n);
	for (k = 0; k < n; k++)
		o_str(o, v[k]);
}

static char **
i_strs(struct in *i, size_t *n, size_t max)
{
	uint32_t c = i_u32(i), k;
	char **v;

	*n = 0;
	if (!i->ok || c > max) {
		i->ok = 0;
		return NULL;
	}
	if (c == 0)
		return NULL;
	if ((v = calloc(c, sizeof(*v))) == NULL) {
		i->ok = 0;
		return NULL;
	}
	for (k = 0; k < c && i->ok; k++)
		v[k] = i_str(i, 0);
	*n = c;
	return v;
}

static void
free_strs(char **v, size_t n)
{
	size_t k;

	if (v == NULL)
		return;
	for (k = 0; k < n; k++)
		free(v[k]);
	free(v);
}

int
sg_wire_flow_put(struct sg_msgb *b, const struct sg_flow *f)
{
	const struct sg_manifest *m = &f->manifest;
	struct out o = { NULL, 0, 0, 1 };
	size_t k;

	o_u32(&o, WIRE_VERSION);
	o_str(&o, f->id);
	o_u8(&o, (unsigned)f->format);
	o_u32(&o, f->encryptions);
	o_str(&o, f->file_pattern);
	o_strs(&o, f->types, f->ntypes);
	o_u64(&o, f->limits.max_bytes);
	o_u64(&o, f->limits.max_ratio);
	o_u32(&o, f->limits.max_entries);
	o_u32(&o, f->limits.max_name);
	o_u32(&o, (uint32_t)m->ncolumns);
	for (k = 0; k < m->ncolumns; k++) {
		const struct sg_column *c = &m->columns[k];

		o_str(&o, c->name);
		o_u8(&o, (unsigned)c->type);
		o_u8(&o, c->required != 0);
		o_u8(&o, c->allow_empty != 0);
		o_u64(&o, (uint64_t)c->min);
		o_u64(&o, (uint64_t)c->max);
		o_u64(&o, c->max_length);
		o_strs(&o, c->codes, c->ncodes);
		o_u8(&o, c->trn_strict != 0);
		o_u8(&o, (unsigned)c->la_policy);
		o_u8(&o, c->special_category != 0);
		o_u8(&o, c->index != 0);
	}
	o_index(&o, m->key, m->ncolumns);
	o_u8(&o, m->key_unique != 0);
	o_u64(&o, m->max_rows);
	o_u8(&o, m->order_enforced != 0);
	o_u8(&o, (unsigned)m->injection);
	o_u64(&o, m->max_field_bytes);
	o_u64(&o, m->max_errors);
	o_u8(&o, m->la != NULL);
	if (m->la != NULL) {
		o_raw(&o, m->la->known, sizeof(m->la->known));
		o_u32(&o, (uint32_t)m->la->count);
	}
	o_u8(&o, (unsigned)m->school_check);
	o_index(&o, m->school_la, m->ncolumns);
	o_index(&o, m->school_estab, m->ncolumns);
	o_index(&o, m->school_laestab, m->ncolumns);
	if (o.ok)
		sg_msg_put(b, T_FLOW, o.p, o.n);
	free(o.p);
	return o.ok && b->ok ? 0 : -1;
}

/* A decoded flow and what it owns. */
struct wflow {
	struct sg_flow		f;
	struct sg_lacodes	la;
};

void
sg_wire_flow_free(struct sg_flow *f)
{
	size_t k;

	if (f == NULL)
		return;
	free(f->id);
	free(f->file_pattern);
	free_strs(f->types, f->ntypes);
	for (k = 0; k < f->manifest.ncolumns; k++) {
		free(f->manifest.columns[k].name);
		free_strs(f->manifest.columns[k].codes,
		    f->manifest.columns[k].ncodes);
	}
	free(f->manifest.columns);
	free(f);	/* the struct wflow it heads */
}

struct sg_flow *
sg_wire_flow_get(const unsigned char *data, size_t len, char *err,
    size_t cap)
{
	const unsigned char *p;
	size_t n, k;
	struct wflow *w;
	struct sg_flow *f;
	struct sg_manifest *m;
	struct in i;
	uint32_t nc;

	if (sg_msg_fields_ok(data, len) != 0 ||
	    sg_msg_field(data, len, T_FLOW, &p, &n) != 0) {
		snprintf(err, cap, "the flow message is not well formed");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	f = &w->f;
	m = &f->manifest;
	i.p = p, i.n = n, i.off = 0, i.ok = 1;
	if (i_u32(&i) != WIRE_VERSION)
		i.ok = 0;
	f->id = i_str(&i, 0);
	f->format = (enum sg_format)i_u8(&i);
	if (f->format != SG_FORMAT_CSV && f->format != SG_FORMAT_OPAQUE)
		i.ok = 0;
	f->encryptions = i_u32(&i);
	if (f->encryptions & ~(unsigned)(SG_ENC_ZIP_AES | SG_ENC_ZIP_LEGACY |
	    SG_ENC_AGE))
		i.ok = 0;
	f->file_pattern = i_str(&i, 1);
	f->types = i_strs(&i, &f->ntypes, MAX_TYPES);
	f->limits.max_bytes = i_u64(&i);
	f->limits.max_ratio = i_u64(&i);
	f->limits.max_entries = i_u32(&i);
	f->limits.max_name = i_u32(&i);
	nc = i_u32(&i);
	if (nc > MAX_COLUMNS)
		i.ok = 0;
	if (i.ok && nc > 0 &&
	    (m->columns = calloc(nc, sizeof(*m->columns))) == NULL)
		i.ok = 0;
	for (k = 0; i.ok && k < nc; k++) {
		struct sg_column *c = &m->columns[k];

		m->ncolumns = k + 1;
		c->name = i_str(&i, 0);
		c->type = (enum sg_validator)i_u8(&i);
		if (c->type > SG_V_TEXT)
			i.ok = 0;
		c->required = (int)i_u8(&i);
		c->allow_empty = (int)i_u8(&i);
		c->min = (int64_t)i_u64(&i);
		c->max = (int64_t)i_u64(&i);
		c->max_length = i_u64(&i);
		c->codes = i_strs(&i, &c->ncodes, MAX_CODES);
		c->trn_strict = (int)i_u8(&i);
		c->la_policy = (enum sg_la_policy)i_u8(&i);
		if (c->la_policy > SG_LA_OFF)
			i.ok = 0;
		c->special_category = (int)i_u8(&i);
		c->index = (int)i_u8(&i);
		if (c->required > 1 || c->allow_empty > 1 || c->trn_strict > 1 ||
		    c->special_category > 1 || c->index > 1)
			i.ok = 0;
	}
	m->key = i_index(&i, m->ncolumns);
	m->key_unique = (int)i_u8(&i);
	m->max_rows = i_u64(&i);
	m->order_enforced = (int)i_u8(&i);
	m->injection = (enum sg_injection)i_u8(&i);
	if (m->injection != SG_INJ_REJECT && m->injection !=
	    SG_INJ_ALLOW_NUMERIC)
		i.ok = 0;
	m->max_field_bytes = i_u64(&i);
	m->max_errors = i_u64(&i);
	if (m->max_field_bytes > SG_MSG_MAX * 64ULL || m->max_errors > 100000 ||
	    (f->format == SG_FORMAT_CSV && m->max_field_bytes == 0))
		i.ok = 0;
	if (i_u8(&i) == 1) {
		if (i_need(&i, sizeof(w->la.known))) {
			memcpy(w->la.known, i.p + i.off, sizeof(w->la.known));
			i.off += sizeof(w->la.known);
		}
		w->la.count = (int)i_u32(&i);
		if (w->la.count < 0 || w->la.count > 1000)
			i.ok = 0;
		m->la = &w->la;
	}
	switch (i_u8(&i)) {
	case 0:
		m->school_check = SG_SCHOOL_NONE;
		break;
	case 1:
		m->school_check = SG_SCHOOL_LA_ESTAB;
		break;
	case 2:
		m->school_check = SG_SCHOOL_LAESTAB;
		break;
	default:
		i.ok = 0;
	}
	m->school_la = i_index(&i, m->ncolumns);
	m->school_estab = i_index(&i, m->ncolumns);
	m->school_laestab = i_index(&i, m->ncolumns);
	if (m->school_check == SG_SCHOOL_LA_ESTAB && (m->school_la < 0 ||
	    m->school_estab < 0))
		i.ok = 0;
	if (m->school_check == SG_SCHOOL_LAESTAB && m->school_laestab < 0)
		i.ok = 0;
	if (f->format == SG_FORMAT_CSV && m->ncolumns == 0)
		i.ok = 0;
	if (!i.ok || i.off != i.n) {
		snprintf(err, cap, "the flow message is malformed at byte %zu",
		    i.off);
		sg_wire_flow_free(f);
		return NULL;
	}
	return f;
}

void
sg_wire_rules_init(struct sg_wire_rules *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
}

void
sg_wire_rules_free(struct sg_wire_rules *t)
{
	size_t k;

	for (k = 0; k < t->n; k++)
		free(t->name[k]);
	pthread_mutex_destroy(&t->mu);
}

const char *
sg_wire_rule(struct sg_wire_rules *t, const char *name, size_t n)
{
	const char *r = NULL;
	size_t k;

	if (n == 0 || n > 63)
		return NULL;
	for (k = 0; k < n; k++)
		if (!((name[k] >= 'a' && name[k] <= 'z') ||
		    (name[k] >= '0' && name[k] <= '9') || name[k] == '.' ||
		    name[k] == '_' || name[k] == '-'))
			return NULL;
	pthread_mutex_lock(&t->mu);
	for (k = 0; k < t->n; k++)
		if (strlen(t->name[k]) == n && memcmp(t->name[k], name, n) ==
		    0) {
			r = t->name[k];
			break;
		}
	if (r == NULL && t->n < SG_WIRE_RULES_MAX &&
	    (t->name[t->n] = strndup(name, n)) != NULL)
		r = t->name[t->n++];
	pthread_mutex_unlock(&t->mu);
	return r;
}

int
sg_wire_report_head_put(struct sg_msgb *b, const struct sg_report *r)
{
	struct out o = { NULL, 0, 0, 1 };
	size_t k;

	sg_msg_put_u64(b, H_REJECTED, (uint64_t)r->rejected);
	sg_msg_put_u64(b, H_ROWS, r->rows);
	sg_msg_put_u64(b, H_BYTES, r->bytes);
	sg_msg_put_u64(b, H_NERR, r->nerrors_total);
	sg_msg_put_u64(b, H_NWARN, r->nwarnings_total);
	sg_msg_put_u64(b, H_STOPPED, (uint64_t)r->stopped);
	sg_msg_put_str(b, H_CONTAINER, r->container);
	o_u32(&o, (uint32_t)r->ncounts);
	for (k = 0; k < r->ncounts; k++) {
		o_str(&o, r->counts[k].rule);
		o_u64(&o, r->counts[k].count);
		o_u8(&o, r->counts[k].warning != 0);
	}
	if (o.ok)
		sg_msg_put(b, H_COUNTS, o.p, o.n);
	free(o.p);
	return o.ok && b->ok ? 0 : -1;
}

int
sg_wire_report_head_get(struct sg_report *r, struct sg_wire_rules *t,
    const unsigned char *data, size_t len)
{
	uint64_t rej, stopped, nc, k;
	const unsigned char *p;
	size_t n;
	struct in i;

	if (sg_msg_fields_ok(data, len) != 0 ||
	    sg_msg_field_u64(data, len, H_REJECTED, &rej) != 0 ||
	    sg_msg_field_u64(data, len, H_ROWS, &r->rows) != 0 ||
	    sg_msg_field_u64(data, len, H_BYTES, &r->bytes) != 0 ||
	    sg_msg_field_u64(data, len, H_NERR, &r->nerrors_total) != 0 ||
	    sg_msg_field_u64(data, len, H_NWARN, &r->nwarnings_total) != 0 ||
	    sg_msg_field_u64(data, len, H_STOPPED, &stopped) != 0 ||
	    sg_msg_field_str(data, len, H_CONTAINER, r->container,
	    sizeof(r->container)) != 0 ||
	    sg_msg_field(data, len, H_COUNTS, &p, &n) != 0 || rej > 1 ||
	    stopped > 1)
		return -1;
	/* a report with errors is a rejection, whatever it says */
	r->rejected = (int)rej || r->nerrors_total > 0;
	r->stopped = (int)stopped;
	i.p = p, i.n = n, i.off = 0, i.ok = 1;
	nc = i_u32(&i);
	if (nc > SG_REPORT_MAX_RULES)
		return -1;
	for (k = 0; k < nc && i.ok; k++) {
		uint32_t sl = i_u32(&i);
		const char *rule;

		if (!i.ok || sl > 63 || !i_need(&i, sl))
			return -1;
		rule = sg_wire_rule(t, (const char *)i.p + i.off, sl);
		i.off += sl;
		if (rule == NULL)
			return -1;
		r->counts[k].rule = rule;
		r->counts[k].count = i_u64(&i);
		r->counts[k].warning = (int)i_u8(&i);
		if (r->counts[k].warning > 1)
			return -1;
	}
	if (!i.ok || i.off != i.n)
		return -1;
	r->ncounts = (size_t)nc;
	return 0;
}

int
sg_wire_entry_put(struct sg_msgb *b, int warning,
    const struct sg_report_entry *e)
{
	sg_msg_put_u64(b, E_WARNING, warning != 0);
	sg_msg_put_u64(b, E_ROW, e->row);
	sg_msg_put_str(b, E_COLUMN, e->column);
	sg_msg_put_str(b, E_RULE, e->rule ? e->rule : "unknown");
	sg_msg_put_str(b, E_MSG, e->msg);
	return b->ok ? 0 : -1;
}

int
sg_wire_entry_get(struct sg_report *r, struct sg_wire_rules *t,
    const unsigned char *data, size_t len)
{
	struct sg_report_entry e, **list;
	const unsigned char *p;
	size_t n, *cnt;
	uint64_t warning;

	memset(&e, 0, sizeof(e));
	if (sg_msg_fields_ok(data, len) != 0 ||
	    sg_msg_field_u64(data, len, E_WARNING, &warning) != 0 ||
	    warning > 1 ||
	    sg_msg_field_u64(data, len, E_ROW, &e.row) != 0 ||
	    sg_msg_field_str(data, len, E_COLUMN, e.column,
	    sizeof(e.column)) != 0 ||
	    sg_msg_field_str(data, len, E_MSG, e.msg, sizeof(e.msg)) != 0 ||
	    sg_msg_field(data, len, E_RULE, &p, &n) != 0 ||
	    (e.rule = sg_wire_rule(t, (const char *)p, n)) == NULL)
		return -1;
	list = warning ? &r->warnings : &r->errors;
	cnt = warning ? &r->nwarnings : &r->nerrors;
	if (*cnt >= r->max)
		return -1;	/* more than the sender may keep */
	if (*list == NULL && (*list = calloc(r->max, sizeof(**list))) == NULL)
		return -1;
	(*list)[(*cnt)++] = e;
	if (!warning)
		r->rejected = 1;
	return 0;
}
