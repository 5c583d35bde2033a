/*
 * reader: a stored file opened for a download, read on libuv's work
 * pool so that the I/O thread never waits on the disk or decrypts.
 *
 * It owns the open object (the vault's descriptor and, for a file kept
 * under the storage identity, its age stream) or a rejection report's
 * text, and a few blocks of plaintext: the one a front asks for and the
 * ones after it, read ahead one at a time while the front sends. A front
 * copies from memory (gw_reader_get) and, when the bytes are not there
 * yet, is called back once they are. Closing cancels the callback; the
 * memory goes when the work in flight ends.
 */
#include "gw.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define RD_CHUNK	SG_AGE_CHUNK	/* fills are whole age chunks */
#define RD_MAX		8		/* chunks in one fill, at most */
#define RD_SLOTS	2		/* the fill being read, one ahead */

enum rd_state { RD_OPENING, RD_OPEN, RD_FAILED };

/* One fill: plaintext [start, start + len), chunk-aligned. */
struct rd_slot {
	uint64_t	 start;
	size_t		 len;		/* asked for (and read, once full) */
	size_t		 cap;
	int		 used;		/* holds (or is filling) it */
	int		 full;		/* read */
	unsigned char	*buf;
};

struct gw_reader {
	struct gw		*g;
	uv_work_t		 w;
	enum rd_state		 state;
	int			 busy;		/* work in flight */
	int			 closed;	/* freed when it ends */
	int			 waiting;	/* cb owed */
	int			 failed_io;	/* the work's verdict */
	/* what is read */
	char			 id[SG_ID_MAX];
	int			 report;	/* meta/<id>.txt */
	int			 raw;		/* sealed: the bytes as kept */
	int			 fd;
	struct sg_age_file	*af;
	char			*text;
	uint64_t		 size;
	/* fills: read ahead as Linux's page cache does, a chunk after a
	 * seek and twice as much each time the reading goes on in order,
	 * up to RD_MAX chunks, so that a client reading at random pays for
	 * one chunk and a stream is handed over in large pieces */
	struct rd_slot		 slot[RD_SLOTS];
	int			 filling;	/* slot index, or -1 */
	uint64_t		 pos;		/* the offset asked for last */
	unsigned		 ramp;		/* chunks in the next fill */
	gw_reader_cb		 cb;
	void			*arg;
};

static void
rd_free(struct gw_reader *r)
{
	int i;

	for (i = 0; i < RD_SLOTS; i++) {
		if (r->slot[i].buf != NULL)
			OPENSSL_cleanse(r->slot[i].buf, r->slot[i].cap);
		free(r->slot[i].buf);
	}
	if (r->text != NULL)
		OPENSSL_cleanse(r->text, (size_t)r->size);
	free(r->text);
	sg_age_file_close(r->af);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

/* On the pool: open, or fill the slot being filled. */
static void
rd_run(uv_work_t *w)
{
	struct gw_reader *r = w->data;
	struct gw *g = r->g;
	char err[SG_ERR_MAX];
	const char *why;

	r->failed_io = 0;
	if (r->state == RD_OPENING) {
		if (r->report) {
			size_t len = 0;

			r->text = gw_xfer_report_text(g, r->id, &len);
			r->size = len;
			r->failed_io = r->text == NULL;
			return;
		}
		if ((r->fd = sg_vault_open_object(g->vault, r->id, err)) < 0) {
			r->failed_io = 1;
			return;
		}
		if (r->raw) {
			off_t e = lseek(r->fd, 0, SEEK_END);

			r->failed_io = e < 0;
			r->size = e < 0 ? 0 : (uint64_t)e;
		} else if (sg_age_file_open(r->fd, g->ids, g->nids, &r->af,
		    &why) != 0)
			r->failed_io = 1;
		else
			r->size = sg_age_file_size(r->af);
		return;
	}
	{
		struct rd_slot *s = &r->slot[r->filling];
		ssize_t got = r->af != NULL ? sg_age_file_pread(r->af, s->buf,
		    s->len, s->start) : pread(r->fd, s->buf, s->len,
		    (off_t)s->start);

		r->failed_io = got != (ssize_t)s->len;
	}
}

static void rd_ahead(struct gw_reader *);

static void
rd_after(uv_work_t *w, int status)
{
	struct gw_reader *r = w->data;

	r->busy = 0;
	r->g->count.vault_work--;
	if (r->closed) {
		rd_free(r);
		return;
	}
	if (status != 0 || r->failed_io)
		r->state = RD_FAILED;
	else if (r->state == RD_OPENING)
		r->state = RD_OPEN;
	else
		r->slot[r->filling].full = 1;
	r->filling = -1;
	rd_ahead(r);
	if (r->waiting) {
		r->waiting = 0;
		r->cb(r->arg);	/* may close r: not touched after */
	}
}

static int
rd_queue(struct gw_reader *r)
{
	if (gw_vault_queue(r->g, &r->w, r, rd_run, rd_after) != 0)
		return -1;
	r->busy = 1;
	return 0;
}

/* The slot holding (or filling) off, or -1. */
static int
rd_slot_of(const struct gw_reader *r, uint64_t off)
{
	int i;

	for (i = 0; i < RD_SLOTS; i++)
		if (r->slot[i].used && off >= r->slot[i].start &&
		    off - r->slot[i].start < r->slot[i].len)
			return i;
	return -1;
}

/* Starts the next fill, if one is due: the chunks at pos when no slot
 * has them (a seek), else those after pos's slot when no slot has them
 * yet (reading on). One at a time. */
static void
rd_ahead(struct gw_reader *r)
{
	uint64_t start;
	size_t len;
	int cur, victim, i;

	if (r->busy || r->state != RD_OPEN || r->report || r->pos >= r->size)
		return;
	if ((cur = rd_slot_of(r, r->pos)) < 0) {
		start = r->pos - r->pos % RD_CHUNK;
		r->ramp = 1;
	} else {
		start = r->slot[cur].start + r->slot[cur].len;
		if (start >= r->size || rd_slot_of(r, start) >= 0)
			return;
		r->ramp = r->ramp * 2 > RD_MAX ? RD_MAX : r->ramp * 2;
	}
	len = (size_t)RD_CHUNK * r->ramp;
	if (r->size - start < len)
		len = (size_t)(r->size - start);
	victim = -1;
	for (i = 0; i < RD_SLOTS && victim < 0; i++)
		if (i != cur)
			victim = i;
	if (r->slot[victim].cap < len) {
		unsigned char *b = malloc(len);

		if (b == NULL) {
			r->state = RD_FAILED;
			return;
		}
		if (r->slot[victim].buf != NULL)
			OPENSSL_cleanse(r->slot[victim].buf,
			    r->slot[victim].cap);
		free(r->slot[victim].buf);
		r->slot[victim].buf = b;
		r->slot[victim].cap = len;
	}
	r->slot[victim].used = 1;
	r->slot[victim].full = 0;
	r->slot[victim].start = start;
	r->slot[victim].len = len;
	r->filling = victim;
	if (rd_queue(r) != 0) {
		r->slot[victim].used = 0;
		r->filling = -1;
		r->state = RD_FAILED;
	}
}

static struct gw_reader *
rd_new(struct gw *g, const char *id, int report, int raw, gw_reader_cb cb,
    void *arg)
{
	struct gw_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->g = g;
	r->fd = -1;
	r->filling = -1;
	r->report = report;
	r->raw = raw;
	r->cb = cb;
	r->arg = arg;
	r->waiting = 1;		/* the open is announced */
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (rd_queue(r) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

struct gw_reader *
gw_reader_open(struct gw *g, const struct gw_xfer *x, gw_reader_cb cb,
    void *arg)
{
	return rd_new(g, x->id, 0, x->sealed, cb, arg);
}

struct gw_reader *
gw_reader_open_report(struct gw *g, const struct gw_xfer *x,
    gw_reader_cb cb, void *arg)
{
	return rd_new(g, x->id, 1, 0, cb, arg);
}

int
gw_reader_ready(const struct gw_reader *r)
{
	return r->state == RD_OPEN ? 1 : r->state == RD_FAILED ? -1 : 0;
}

uint64_t
gw_reader_size(const struct gw_reader *r)
{
	return r->size;
}

ssize_t
gw_reader_get(struct gw_reader *r, uint64_t off, size_t want,
    const unsigned char **p)
{
	size_t n;
	int i;

	if (r->state == RD_FAILED || off >= r->size || want == 0)
		return -1;
	if (r->state == RD_OPENING) {
		r->waiting = 1;
		return 0;
	}
	if (r->report) {
		n = (size_t)(r->size - off);
		*p = (const unsigned char *)r->text + off;
		return (ssize_t)(n < want ? n : want);
	}
	r->pos = off;
	i = rd_slot_of(r, off);
	rd_ahead(r);
	if (i >= 0 && r->slot[i].full) {
		struct rd_slot *s = &r->slot[i];

		n = s->len - (size_t)(off - s->start);
		*p = s->buf + (off - s->start);
		return (ssize_t)(n < want ? n : want);
	}
	if (r->state == RD_FAILED)
		return -1;
	r->waiting = 1;
	return 0;
}

void
gw_reader_close(struct gw_reader *r)
{
	if (r == NULL)
		return;
	r->cb = NULL;
	r->waiting = 0;
	if (r->busy)
		r->closed = 1;
	else
		rd_free(r);
}
