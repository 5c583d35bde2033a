/* intake: container recognition and the decode/check pipeline. */
#include "intake/intake.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/csvcheck.h"
#include "base/pipe.h"
#include "base/utf8.h"

#define SNIFF		64
#define CHUNK		(64 * 1024)
#define PIPE_BLOCKS	8		/* 8 x 64 KiB between the threads */

/* What an upload's bytes go to: the CSV checker or the opaque checker. */
struct consumer {
	const struct sg_flow	*flow;
	struct sg_report	 r;		/* this side's own report */
	struct sg_csvcheck	*ck;
	/* opaque */
	uint64_t		 bytes;
	unsigned char		 head[8];
	size_t			 nhead;
	unsigned char		 carry[4];	/* txt: split UTF-8 sequence */
	size_t			 ncarry;
	int			 not_text;	/* txt: not UTF-8 text */
	int			 failed;
	int			 finished;	/* consume_end() ran */
	sg_sink_fn		 plain;		/* the tap, or NULL */
	void			*plain_arg;
	int			 plain_failed;
	struct sg_pipe		*pipe;		/* to the worker, when there
						   is one (written and read on
						   the intake's thread) */
};

static int
type_matches(const char *type, const unsigned char *h, size_t n)
{
	if (strcmp(type, "pdf") == 0)
		return n >= 5 && memcmp(h, "%PDF-", 5) == 0;
	if (strcmp(type, "png") == 0)
		return n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0;
	if (strcmp(type, "jpeg") == 0)
		return n >= 3 && memcmp(h, "\xff\xd8\xff", 3) == 0;
	if (strcmp(type, "docx") == 0 || strcmp(type, "xlsx") == 0)
		return n >= 4 && memcmp(h, "PK\3\4", 4) == 0;
	return 0;	/* "txt" is judged as it streams: see txt_feed() */
}

static int
flow_has_type(const struct sg_flow *f, const char *t)
{
	size_t i;

	for (i = 0; i < f->ntypes; i++)
		if (strcmp(f->types[i], t) == 0)
			return 1;
	return 0;
}

#define TXT_CHUNK	(16 * 1024)

/* For a flow that takes "txt": the whole file must be UTF-8 without
 * control characters (TAB, CR, LF aside). A sequence split between two
 * chunks is carried over to the next. Returns -1 when the file is not
 * text (c->not_text set). */
static int
txt_feed(struct consumer *c, const unsigned char *p, size_t len)
{
	unsigned char tmp[TXT_CHUNK + 4], lead;
	size_t take, n, i, back, need, pos;

	while (len > 0 && !c->not_text) {
		take = len < TXT_CHUNK ? len : TXT_CHUNK;
		memcpy(tmp, c->carry, c->ncarry);
		memcpy(tmp + c->ncarry, p, take);
		n = c->ncarry + take;
		i = n;
		for (back = 0; i > 0 && back < 3 && (tmp[i - 1] & 0xc0) == 0x80;
		    back++)
			i--;
		if (i > 0 && (lead = tmp[i - 1]) >= 0xc0) {
			need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			i = n - (i - 1) < need ? i - 1 : n;
		} else
			i = n;
		if (sg_utf8_check(tmp, i, &pos, NULL) != SG_UTF8_OK)
			c->not_text = 1;
		c->ncarry = n - i;
		memcpy(c->carry, tmp + i, c->ncarry);
		p += take;
		len -= take;
	}
	return c->not_text ? -1 : 0;
}

static int
opaque_feed(struct consumer *c, const unsigned char *p, size_t len)
{
	const struct sg_flow *f = c->flow;
	size_t n;

	if (c->failed)
		return -1;
	c->bytes += len;
	c->r.bytes += len;
	if (c->bytes > f->limits.max_bytes) {
		sg_report_add(&c->r, 0, 0, NULL, "file.too-large",
		    "the file is larger than the %llu bytes this flow allows",
		    (unsigned long long)f->limits.max_bytes);
		c->failed = 1;
		return -1;
	}
	n = sizeof(c->head) - c->nhead < len ? sizeof(c->head) - c->nhead :
	    len;
	memcpy(c->head + c->nhead, p, n);
	c->nhead += n;
	if (flow_has_type(f, "txt") && txt_feed(c, p, len) != 0 &&
	    f->ntypes == 1) {
		/* only text is accepted: no need to read further */
		sg_report_add(&c->r, 0, 0, NULL, "file.type",
		    "the file is not UTF-8 text, or holds control characters");
		c->failed = 1;
		return -1;
	}
	return 0;
}

static void
opaque_finish(struct consumer *c)
{
	const struct sg_flow *f = c->flow;
	size_t i;

	if (c->failed)
		return;
	if (c->bytes == 0) {
		sg_report_add(&c->r, 0, 0, NULL, "file.empty", "the file is "
		    "empty");
		return;
	}
	if (c->ncarry > 0)
		c->not_text = 1;	/* ends inside a UTF-8 character */
	for (i = 0; i < f->ntypes; i++) {
		if (strcmp(f->types[i], "txt") == 0 ? !c->not_text :
		    type_matches(f->types[i], c->head, c->nhead))
			return;
	}
	sg_report_add(&c->r, 0, 0, NULL, "file.type",
	    "the file is not of a type this flow accepts");
}

static int
consume(void *arg, const void *buf, size_t len)
{
	struct consumer *c = arg;

	if (c->plain != NULL && c->plain(c->plain_arg, buf, len) != 0) {
		c->plain_failed = 1;
		return -1;
	}
	if (c->ck != NULL)
		return sg_csvcheck_feed(c->ck, buf, len);
	return opaque_feed(c, buf, len);
}

/* End of input, or the consumer stopped: let it report what it found (a
 * stopped CSV checker still has to hand over its error). */
static void
consume_end(struct consumer *c)
{
	c->finished = 1;
	if (c->ck != NULL)
		sg_csvcheck_finish(c->ck);
	else
		opaque_finish(c);
}

/* The checking thread: drain the pipe into the consumer. */
struct worker {
	struct consumer	*c;
	struct sg_pipe	*pipe;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const void *buf;
	long n;

	while ((n = sg_pipe_read(w->pipe, &buf)) > 0 || n == SG_PIPE_SYNC) {
		if (n == SG_PIPE_SYNC) {
			/* every byte before the sync is consumed: the CSV
			 * checker finishes the rows it has, then the next
			 * read tells the intake's thread */
			if (w->c->ck != NULL &&
			    sg_csvcheck_sync(w->c->ck) < 0) {
				/* stopped: the verdict is a rejection, and
				 * the intake's thread is told so by the
				 * abort, not by reading a report still
				 * being written */
				sg_pipe_abort(w->pipe);
				n = 0;
				break;
			}
			continue;
		}
		if (consume(w->c, buf, (size_t)n) != 0) {
			sg_pipe_abort(w->pipe);	/* verdict known: stop */
			n = 0;
			break;
		}
	}
	/* n < 0: the decoder failed and has said why; the partial data
	 * proves nothing more */
	if (n == 0)
		consume_end(w->c);
	return NULL;
}

static int
to_pipe(void *arg, const void *buf, size_t len)
{
	return sg_pipe_write(arg, buf, len);
}

static int
run_zip(const struct sg_intake_opts *o, struct consumer *c,
    const unsigned char *first, size_t nfirst, sg_src_fn src, void *src_arg,
    struct sg_report *r)
{
	const struct sg_flow *f = o->flow;
	struct sg_zipin_opts zo = { o->passphrase, f->encryptions,
	    o->require_encryption, &f->limits, f->file_pattern,
	    flow_has_type(f, "docx") || flow_has_type(f, "xlsx") };
	struct worker w = { c, NULL };
	pthread_t th;
	int rc;

	if ((w.pipe = sg_pipe_new(PIPE_BLOCKS, CHUNK)) == NULL)
		return -1;
	sg_pipe_relay(w.pipe);
	if (pthread_create(&th, NULL, worker_main, &w) != 0) {
		sg_pipe_free(w.pipe);
		return -1;
	}
	c->pipe = w.pipe;
	rc = sg_zipin_run(&zo, first, nfirst, src, src_arg, to_pipe, w.pipe, r);
	if (rc == 0)
		sg_pipe_close(w.pipe);
	else
		sg_pipe_abort(w.pipe);
	pthread_join(th, NULL);
	c->pipe = NULL;
	sg_pipe_free(w.pipe);
	return 0;
}

/* The sniffed bytes, then the rest of the source. */
struct replay {
	const unsigned char	*first;
	size_t			 nfirst, off;
	sg_src_fn		 src;
	void			*arg;
};

static ssize_t
replay_read(void *arg, void *buf, size_t cap)
{
	struct replay *rp = arg;
	size_t n;

	if (rp->off < rp->nfirst) {
		n = rp->nfirst - rp->off;
		if (n > cap)
			n = cap;
		memcpy(buf, rp->first + rp->off, n);
		rp->off += n;
		return (ssize_t)n;
	}
	return rp->src(rp->arg, buf, cap);
}

/* An age upload: decrypted on this thread (each chunk released only
 * once authenticated), checked on the worker. */
static int
run_age(const struct sg_intake_opts *o, struct consumer *c,
    const unsigned char *first, size_t nfirst, sg_src_fn src, void *src_arg,
    struct sg_report *r)
{
	static const char *const rules[] = {
		[SG_AGE_ARMOR] = "age.armor", [SG_AGE_HEADER] = "age.header",
		[SG_AGE_NO_MATCH] = "age.no-match", [SG_AGE_HMAC] = "age.hmac",
		[SG_AGE_PAYLOAD] = "age.payload", [SG_AGE_IO] = "intake.read",
		[SG_AGE_NOMEM] = "resource.memory",
	};
	struct replay rp = { first, nfirst, 0, src, src_arg };
	struct worker w = { c, NULL };
	const char *why = NULL;
	pthread_t th;
	int st;

	snprintf(r->container, sizeof(r->container), "age");
	if (!(o->flow->encryptions & SG_ENC_AGE)) {
		sg_report_add(r, 0, 0, NULL, "intake.container",
		    "this flow does not accept age files");
		return 0;
	}
	if (o->nids == 0) {
		sg_report_add(r, 0, 0, NULL, "age.no-identity",
		    "no storage identity was given to open age files with");
		return 0;
	}
	if ((w.pipe = sg_pipe_new(PIPE_BLOCKS, CHUNK)) == NULL)
		return -1;
	sg_pipe_relay(w.pipe);
	if (pthread_create(&th, NULL, worker_main, &w) != 0) {
		sg_pipe_free(w.pipe);
		return -1;
	}
	c->pipe = w.pipe;
	st = sg_age_decrypt(o->ids, o->nids, replay_read, &rp, to_pipe,
	    w.pipe, &why);
	if (st == SG_AGE_OK)
		sg_pipe_close(w.pipe);
	else
		sg_pipe_abort(w.pipe);
	pthread_join(th, NULL);
	c->pipe = NULL;
	sg_pipe_free(w.pipe);
	/* a sink refusal means the checker stopped: its report says why */
	if (st != SG_AGE_OK && !(st == SG_AGE_IO && c->r.rejected))
		sg_report_add(r, 0, 0, NULL, rules[st], "the age file was "
		    "not accepted (%s): %s", sg_age_status_name(st),
		    why ? why : "");
	return 0;
}

static int
run_plain(const struct sg_intake_opts *o, struct consumer *c,
    const unsigned char *first, size_t nfirst, sg_src_fn src, void *src_arg,
    struct sg_report *r)
{
	unsigned char *buf;
	ssize_t n;
	int stopped;

	snprintf(r->container, sizeof(r->container), "%s (not encrypted)",
	    c->ck ? "csv" : "file");
	sg_report_add(r, !o->require_encryption, 0, NULL, "intake.unencrypted",
	    "the file is not encrypted; send it as an AES-encrypted ZIP%s",
	    (o->flow->encryptions & SG_ENC_AGE) ? " or an age file" : "");
	if (o->require_encryption)
		return 0;
	if ((buf = malloc(CHUNK)) == NULL)
		return -1;
	stopped = consume(c, first, nfirst) != 0;
	while (!stopped && (n = src(src_arg, buf, CHUNK)) != 0) {
		if (n < 0) {
			sg_report_add(r, 0, 0, NULL, "intake.read",
			    "the upload could not be read to its end");
			free(buf);
			return 0;
		}
		stopped = consume(c, buf, (size_t)n) != 0;
	}
	consume_end(c);
	free(buf);
	return 0;
}

/* The source as the intake reads it: when the caller wants to know how
 * the check stands, everything read so far is checked first. */
struct watched {
	const struct sg_intake_opts	*o;
	struct consumer			*c;
	struct sg_report		*r;	/* the intake's own */
	sg_src_fn			 src;
	void				*arg;
};

static ssize_t
watched_read(void *arg, void *buf, size_t cap)
{
	struct watched *w = arg;
	const struct sg_report_entry *first;
	ssize_t n;
	int rejected;

	for (;;) {
		if (w->o->want_sync(w->o->sync_arg)) {
			first = NULL;
			rejected = w->r->rejected;
			if (w->c->pipe != NULL && sg_pipe_sync(w->c->pipe) != 0)
				rejected = 1;	/* the worker stopped: it has
						   its verdict */
			else if (w->c->pipe != NULL) {
				/* the worker waits for more: its report may
				 * be read */
				rejected |= w->c->r.rejected;
				if (w->c->r.nerrors > 0)
					first = &w->c->r.errors[0];
			}
			if (first == NULL && w->r->nerrors > 0)
				first = &w->r->errors[0];
			w->o->synced(w->o->sync_arg, rejected, first);
		}
		if ((n = w->src(w->arg, buf, cap)) != SG_SRC_AGAIN)
			return n;
	}
}

int
sg_intake_check(const struct sg_intake_opts *o, sg_src_fn src,
    void *src_arg, struct sg_report *r)
{
	const struct sg_flow *f = o->flow;
	unsigned char first[SNIFF];
	struct consumer c;
	size_t nfirst = 0;
	ssize_t n;
	int rc = -1;

	struct watched wsrc = { o, &c, r, src, src_arg };

	memset(&c, 0, sizeof(c));
	if (o->want_sync != NULL && o->synced != NULL) {
		src = watched_read;
		src_arg = &wsrc;
	}
	c.flow = f;
	c.plain = o->plain;
	c.plain_arg = o->plain_arg;
	sg_report_init(&c.r, r->max);
	if (f->format == SG_FORMAT_CSV &&
	    (c.ck = sg_csvcheck_new_threaded(&f->manifest, &c.r)) == NULL)
		goto nomem;
	if (c.ck != NULL) {
		sg_csvcheck_school(c.ck, o->school);
		sg_csvcheck_subjects(c.ck, o->subjects);
	}
	while (nfirst < SNIFF &&
	    (n = src(src_arg, first + nfirst, SNIFF - nfirst)) != 0) {
		if (n < 0) {
			sg_report_add(r, 0, 0, NULL, "intake.read",
			    "the upload could not be read");
			rc = 0;
			goto out;
		}
		nfirst += (size_t)n;
	}
	if (nfirst >= 4 && memcmp(first, "PK", 2) == 0 &&
	    ((first[2] == 3 && first[3] == 4) ||
	    (first[2] == 5 && first[3] == 6) ||
	    (first[2] == 7 && first[3] == 8))) {
		if (!(f->encryptions & (SG_ENC_ZIP_AES | SG_ENC_ZIP_LEGACY))) {
			sg_report_add(r, 0, 0, NULL, "intake.container",
			    "this flow does not accept ZIP files");
			rc = 0;
			goto out;
		}
		rc = run_zip(o, &c, first, nfirst, src, src_arg, r);
	} else if ((nfirst >= 21 &&
	    memcmp(first, "age-encryption.org/v1", 21) == 0) ||
	    (nfirst >= 34 &&
	    memcmp(first, "-----BEGIN AGE ENCRYPTED FILE-----", 34) == 0)) {
		rc = run_age(o, &c, first, nfirst, src, src_arg, r);
	} else
		rc = run_plain(o, &c, first, nfirst, src, src_arg, r);
	if (rc != 0)
		goto nomem;
	goto out;
nomem:
	sg_report_add(r, 0, 0, NULL, "resource.memory",
	    "not enough memory to check the file");
	rc = -1;
out:
	sg_csvcheck_free(c.ck);	/* joins its thread: c.r is complete */
	if (c.plain_failed)
		sg_report_add(r, 0, 0, NULL, "store.write",
		    "the file could not be stored (the gateway's fault, not "
		    "the file's); please send it again later");
	/* Fail closed: contents that were never checked to the end are not
	 * accepted, whatever else the reports say. */
	if (!c.finished && !r->rejected && !c.r.rejected)
		sg_report_add(r, 0, 0, NULL, "check.incomplete",
		    "the file could not be checked to its end");
	sg_report_merge(r, &c.r);
	sg_report_sort(r);
	sg_report_free(&c.r);
	return rc;
}
