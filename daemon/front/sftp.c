/*
 * sftp: the SFTP v3 subsystem and each party's virtual tree (sftp.h).
 *
 * It runs in the core and reads no packet a client wrote: the SSH front
 * door parses them and passes on records whose every field says what it
 * is (sftp_wire.h); a field that is not what the request has there ends
 * the session, as a malformed packet does. Replies are built here.
 *
 * Requests are handled one at a time, in order. A request that has to
 * wait (a WRITE whose upload buffer is over its mark, a CLOSE waiting
 * for the verdict, an OPEN or REMOVE waiting for its log record) stops
 * the processing of the rest; they stay in the input buffer and, when
 * that is full, in the SSH channel, whose window then closes: the
 * client is slowed, never buffered without bound.
 */
#include "front/sftp.h"
#include "front/sftp_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log/tlog.h"
#include "policy/vpath.h"


/* status codes */
enum {
	FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE,
	FX_BAD_MESSAGE, FX_NO_CONNECTION, FX_CONNECTION_LOST,
	FX_OP_UNSUPPORTED
};


#define PF_READ		0x01
#define PF_WRITE	0x02
#define PF_APPEND	0x04
#define PF_CREAT	0x08
#define PF_TRUNC	0x10
#define PF_EXCL		0x20

#define IN_CAP		(1024 * 1024)
#define OUT_MARK	(512 * 1024)
#define READ_MAX	32768
#define PATH_MAX_LEN	1024
#define RECENT		16
#define NAMES_PER_REPLY	64

enum hkind { H_FREE, H_DIR, H_UPLOAD, H_OBJECT };

struct attrs {
	uint32_t	flags;
	uint64_t	size;
	uint32_t	perm;
	uint32_t	atime, mtime;
};

struct dent {
	char		*name;
	struct attrs	 a;
};

struct handle {
	enum hkind	 kind;
	uint32_t	 gen;
	/* directory */
	struct dent	*ents;
	size_t		 nents, next;
	/* upload: begun at the first byte written, so that an empty
	 * create-and-close (sshfs, then it opens the file again to write)
	 * sends nothing */
	struct gw_upload *up;
	int		 begun;
	uint64_t	 max;
	char		 agreement[SG_VNAME_MAX + 1], flow[SG_VNAME_MAX + 1];
	char		 name[SG_VNAME_MAX + 1];	/* the transfer's */
	char		 as[SG_VNAME_MAX + 1];		/* the client's */
	uint64_t	 off;
	int		 ended, verdict;	/* verdict: status, 0 = none */
	char		 why[768];
	/* the answer to the last WRITE waits until the bytes it carried have
	 * been checked, so that a client that ignores CLOSE's status (curl,
	 * paramiko's close()) still hears of a rejection */
	int		 held;
	uint32_t	 held_id;
	uint64_t	 held_watch;	/* gw_upload_watch()'s number */
	char		 id[SG_ID_MAX];
	/* reading: a stored file or a report, read on the work pool */
	struct gw_reader *rd;
	int		 report;
	uint64_t	 size;
};

/* Uploads this session closed, so that STAT, SETSTAT and RENAME (the
 * WinSCP .filepart pattern) find them, under the name the transfer has
 * and under the name the client wrote (name.filepart). */
struct recent {
	char		 id[SG_ID_MAX];
	char		 agreement[SG_VNAME_MAX + 1], flow[SG_VNAME_MAX + 1];
	char		 name[SG_VNAME_MAX + 1];
	char		 as[SG_VNAME_MAX + 1];
	uint64_t	 size;
	uint32_t	 when;
};

enum wait { W_NONE, W_WRITE, W_CLOSE, W_RECORD, W_RENAME, W_OPEN, W_READ };

struct sftp {
	struct gw		*g;
	char			 party[96];
	char			 addr[48];	/* the client's, for the journal */
	const struct sftp_io	*io;
	void			*arg;
	unsigned char		*in;
	size_t			 inlen;
	int			 inited;
	struct handle		*h;
	unsigned		 nh;
	uint32_t		 gen;
	enum wait		 wait;
	uint32_t		 wait_id;	/* the request waiting */
	int			 wait_h;	/* its handle */
	char			 wait_xid[SG_ID_MAX];	/* its transfer */
	struct recent		*wait_recent;	/* W_RENAME: what it renames */
	char			 wait_name[SG_VNAME_MAX + 1];
	uint64_t		 wait_off;	/* W_READ: what it reads */
	uint32_t		 wait_len;
	struct gw_dl_memo	 dl_memo;	/* downloads recorded */
	int			 resumed;	/* a held WRITE may be answered */
	int			 refs;
	int			 dead;
	int			 in_process;
	int			 broken;	/* fatal() was called */
	unsigned		 busy;
	struct recent		 recent[RECENT];
	unsigned		 nrecent;
};

/* ---- output ---- */

struct pkt {
	unsigned char	*b;
	size_t		 len, cap;
	int		 oom;
};

static void
pk_need(struct pkt *p, size_t n)
{
	unsigned char *nb;
	size_t nc;

	if (p->oom || p->len + n <= p->cap)
		return;
	nc = p->cap ? p->cap : 256;
	while (nc < p->len + n)
		nc *= 2;
	if ((nb = realloc(p->b, nc)) == NULL) {
		p->oom = 1;
		return;
	}
	p->b = nb;
	p->cap = nc;
}

static void
pk_u8(struct pkt *p, uint8_t v)
{
	pk_need(p, 1);
	if (!p->oom)
		p->b[p->len++] = v;
}

/* v, big-endian, over the four bytes at p->b[at] (already written) */
static void
pk_set32(struct pkt *p, size_t at, uint32_t v)
{
	p->b[at] = (unsigned char)(v >> 24);
	p->b[at + 1] = (unsigned char)(v >> 16);
	p->b[at + 2] = (unsigned char)(v >> 8);
	p->b[at + 3] = (unsigned char)v;
}

static void
pk_u32(struct pkt *p, uint32_t v)
{
	pk_need(p, 4);
	if (p->oom)
		return;
	p->b[p->len++] = (unsigned char)(v >> 24);
	p->b[p->len++] = (unsigned char)(v >> 16);
	p->b[p->len++] = (unsigned char)(v >> 8);
	p->b[p->len++] = (unsigned char)v;
}

static void
pk_u64(struct pkt *p, uint64_t v)
{
	pk_u32(p, (uint32_t)(v >> 32));
	pk_u32(p, (uint32_t)v);
}

static void
pk_bytes(struct pkt *p, const void *s, size_t n)
{
	pk_u32(p, (uint32_t)n);
	pk_need(p, n);
	if (!p->oom && n > 0) {
		memcpy(p->b + p->len, s, n);
		p->len += n;
	}
}

static void
pk_str(struct pkt *p, const char *s)
{
	pk_bytes(p, s, strlen(s));
}

static void
pk_begin(struct pkt *p, uint8_t type)
{
	memset(p, 0, sizeof(*p));
	pk_u32(p, 0);
	pk_u8(p, type);
}

static void
pk_send(struct sftp *s, struct pkt *p)
{
	if (p->oom) {
		free(p->b);
		s->io->fatal(s->arg, "out of memory");
		return;
	}
	pk_set32(p, 0, (uint32_t)(p->len - 4));
	s->io->send(s->arg, p->b, p->len);
	free(p->b);
}

static void
status(struct sftp *s, uint32_t id, uint32_t code, const char *msg)
{
	static const char *const text[] = { "Success", "End of file",
	    "No such file", "Permission denied", "Failure", "Bad message",
	    "No connection", "Connection lost", "Operation unsupported" };
	struct pkt p;

	pk_begin(&p, FXP_STATUS);
	pk_u32(&p, id);
	pk_u32(&p, code);
	pk_str(&p, msg ? msg : code <= FX_OP_UNSUPPORTED ? text[code] :
	    "Failure");
	pk_str(&p, "en");
	pk_send(s, &p);
}

static void
pk_attrs(struct pkt *p, const struct attrs *a)
{
	pk_u32(p, a->flags);
	if (a->flags & ATTR_SIZE)
		pk_u64(p, a->size);
	if (a->flags & ATTR_UIDGID) {
		pk_u32(p, 0);
		pk_u32(p, 0);
	}
	if (a->flags & ATTR_PERM)
		pk_u32(p, a->perm);
	if (a->flags & ATTR_TIME) {
		pk_u32(p, a->atime);
		pk_u32(p, a->mtime);
	}
}

/* ---- input ---- */

struct rd {
	const unsigned char	*p;
	size_t			 len;
	int			 bad;
};

/*
 * The fields of a request, as the SSH front door's parser passed them on
 * (front/sftp_wire.h): each says what it is, and one that is not what
 * the request has there ends the session, as a malformed packet did.
 */
static int
rd_kind(struct rd *r, unsigned char kind, size_t need)
{
	if (r->bad || r->len < 1 + need || r->p[0] != kind) {
		r->bad = 1;
		return -1;
	}
	r->p++;
	r->len--;
	return 0;
}

static uint32_t
rd_raw32(struct rd *r)
{
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];

	r->p += 4;
	r->len -= 4;
	return v;
}

static uint32_t
rd_u32(struct rd *r)
{
	return rd_kind(r, SFC_U32, 4) != 0 ? 0 : rd_raw32(r);
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t hi;

	if (rd_kind(r, SFC_U64, 8) != 0)
		return 0;
	hi = rd_raw32(r);
	return hi << 32 | rd_raw32(r);
}

static const unsigned char *
rd_bytes(struct rd *r, uint32_t *n)
{
	const unsigned char *b;

	*n = 0;
	if (rd_kind(r, SFC_STR, 4) != 0)
		return NULL;
	*n = rd_raw32(r);
	if (*n > r->len) {
		r->bad = 1;
		*n = 0;
		return NULL;
	}
	b = r->p;
	r->p += *n;
	r->len -= *n;
	return b;
}

/* A string into buf (NUL-terminated); refused when it holds a NUL or
 * does not fit. */
static int
rd_str(struct rd *r, char *buf, size_t cap)
{
	uint32_t n;
	const unsigned char *b = rd_bytes(r, &n);

	if (b == NULL || n >= cap || memchr(b, 0, n) != NULL) {
		r->bad = 1;
		return -1;
	}
	memcpy(buf, b, n);
	buf[n] = '\0';
	return 0;
}

/* Attributes a client sets are not kept: the gateway's files have
 * none of their own. */
static void
rd_attrs(struct rd *r)
{
	if (rd_kind(r, SFC_ATTRS, SFC_ATTRS_LEN) == 0) {
		r->p += SFC_ATTRS_LEN;
		r->len -= SFC_ATTRS_LEN;
	}
}

/* ---- the virtual tree ---- */

enum nkind {
	N_NONE, N_ROOT, N_SEND, N_AGREEMENT, N_DROP, N_DROPFILE, N_RECEIVE,
	N_INFILE, N_REPORTS, N_REPORT, N_SENT, N_SENTFILE
};

/* /sent/ lists what the party sent in the last SENT_DAYS days */
#define SENT_DAYS	30

struct node {
	enum nkind		 kind;
	char			 canon[PATH_MAX_LEN];
	char			 segbuf[PATH_MAX_LEN];
	const char		*agreement, *flow, *name;
	char			 namebuf[SG_VNAME_MAX + 1];	/* NFC */
	struct gw_xfer		*x;
	const char		*why;	/* for N_NONE: why refused */
	char			 whybuf[256];	/* its text when made up */
	int			 denied;	/* refused, not missing */
};

static uint32_t
secs(int64_t us)
{
	return us > 0 ? (uint32_t)(us / 1000000) : 0;
}

/* 1 when the party sends on some flow of a over SFTP. */
static int
sends_on(const struct sg_agreement *a, const char *party,
    const struct sg_flow *only)
{
	size_t i;

	for (i = 0; i < a->nflows; i++) {
		const struct sg_flow *f = &a->flows[i];

		if ((only == NULL || only == f) &&
		    (f->methods & SG_METHOD_SFTP) &&
		    sg_flow_has_sender(f, party))
			return 1;
	}
	return 0;
}

/* The name a transfer has in /receive/. */
/* The name a transfer has in /receive/: its id, and the name it has
 * over HTTPS (the access authority's). */
static void
in_name(struct sftp *s, struct gw_xfer *x, char *buf, size_t cap)
{
	char name[SG_VNAME_MAX + 8];

	gw_access_name(s->g, x, name, sizeof(name));
	snprintf(buf, cap, "%s_%s", x->id, name);
}

static int
shows_in_receive(struct sftp *s, struct gw_xfer *x)
{
	const char *why;

	return gw_access_xfer(s->g, x, s->party, &why) == GW_SEE_READ;
}

static int
shows_in_reports(struct sftp *s, struct gw_xfer *x)
{
	/* until the report expires (retention.report_days) */
	return x->state == GW_REJECTED && x->sender != NULL &&
	    strcmp(x->sender, s->party) == 0 &&
	    gw_xfer_due(s->g, x, NULL) > gw_now_us();
}

/* In /sent/: an upload of this party's in the last SENT_DAYS days (a
 * day is retention.day_seconds), as <id>_<name>.accepted or .rejected,
 * so that a job whose client ignores CLOSE's status can read the
 * verdict; its content is the upload's report while the gateway holds
 * it. */
static int
shows_in_sent(struct sftp *s, struct gw_xfer *x)
{
	int64_t day = (int64_t)s->g->conf->cfg->daemon.day_seconds * 1000000;

	return gw_access_sent_by(x, s->party) &&
	    x->received > gw_now_us() - SENT_DAYS * day;
}

static void
sent_name(struct sftp *s, struct gw_xfer *x, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s_%s.%s", x->id, gw_xfer_name(s->g, x),
	    x->state == GW_REJECTED ? "rejected" : "accepted");
}

/* its report is still held (meta/ goes with the data, and a rejected
 * upload's report after report_days) */
static int
sent_report_held(const struct gw_xfer *x)
{
	return x->report_size > 0 && !x->report_gone && x->deleted_at == 0;
}

static struct recent *
recent_find(struct sftp *s, const char *agreement, const char *flow,
    const char *name)
{
	unsigned i;

	for (i = 0; i < s->nrecent && i < RECENT; i++) {
		struct recent *r = &s->recent[i];

		if (strcmp(r->agreement, agreement) == 0 &&
		    strcmp(r->flow, flow) == 0 && (strcmp(r->name, name) == 0 ||
		    strcmp(r->as, name) == 0))
			return r;
	}
	return NULL;
}

/* The one resolver: every path a client names goes through here. */

/* The transfer a listing's name "<id>_<name>" is about (its name is
 * checked by the caller against what the listing shows); NULL when the
 * name does not start with a known transfer's id. */
static struct gw_xfer *
listed_xfer(struct sftp *s, const char *name)
{
	char id[SG_ID_MAX];
	const char *us;
	size_t il;

	if ((us = strchr(name, '_')) == NULL ||
	    (il = (size_t)(us - name)) >= sizeof(id))
		return NULL;
	memcpy(id, name, il);
	id[il] = '\0';
	return sg_transfer_id_ok(id) ? gw_xfer_find(s->g, id) : NULL;
}

static void
resolve(struct sftp *s, const char *path, int dots, struct node *n)
{
	char *seg[SG_VPATH_MAXSEG];
	const struct sg_config *cfg = s->g->conf->cfg;
	int k, i;
	size_t at = 0;

	n->kind = N_NONE;
	n->agreement = n->flow = n->name = NULL;
	n->x = NULL;
	n->denied = 0;
	n->canon[0] = '\0';
	n->why = "no such file or folder";
	if (strlen(path) >= sizeof(n->segbuf)) {
		n->denied = 1;
		n->why = "the path is too long";
		return;
	}
	/* the names below point into segbuf, split in place */
	snprintf(n->segbuf, sizeof(n->segbuf), "%s", path);
	if ((k = sg_vpath_split(n->segbuf, seg, SG_VPATH_RELATIVE |
	    SG_VPATH_TRAILING | SG_VPATH_DOT | (dots ? SG_VPATH_DOTS : 0))) <
	    0) {
		n->denied = 1;
		n->why = "that path is not allowed here (no \"..\", control "
		    "characters or backslashes)";
		return;
	}
	for (i = 0; i < k; i++)
		at += (size_t)snprintf(n->canon + at, sizeof(n->canon) - at,
		    "/%s", seg[i]);
	if (k == 0)
		snprintf(n->canon, sizeof(n->canon), "/");
	if (dots)
		return;		/* REALPATH: the canonical form only */
	if (k == 0) {
		n->kind = N_ROOT;
		return;
	}
	if (strcmp(seg[0], "send") == 0) {
		const struct sg_agreement *a;
		const struct sg_flow *f;

		if (k == 1) {
			n->kind = N_SEND;
			return;
		}
		if (!sg_vseg_ok(seg[1], strlen(seg[1]), SG_VSEG_ID) ||
		    (a = sg_config_agreement(cfg, seg[1])) == NULL ||
		    !sends_on(a, s->party, NULL))
			return;
		n->agreement = seg[1];
		if (k == 2) {
			n->kind = N_AGREEMENT;
			return;
		}
		if (!sg_vseg_ok(seg[2], strlen(seg[2]), SG_VSEG_ID) ||
		    (f = sg_agreement_flow(a, seg[2])) == NULL ||
		    !sends_on(a, s->party, f))
			return;
		n->flow = seg[2];
		if (k == 3) {
			n->kind = N_DROP;
			return;
		}
		if (k == 4) {
			if (sg_vname_nfc(seg[3], n->namebuf,
			    sizeof(n->namebuf)) != 0 || !sg_vseg_ok(
			    n->namebuf, strlen(n->namebuf), SG_VSEG_NAME)) {
				n->denied = 1;
				n->why = GW_NAME_RULE;
				return;
			}
			n->name = n->namebuf;
			n->kind = N_DROPFILE;
		}
		return;
	}
	if (strcmp(seg[0], "sent") == 0) {
		char want[PATH_MAX_LEN];

		if (k == 1) {
			n->kind = N_SENT;
			return;
		}
		if (k != 2 || (n->x = listed_xfer(s, seg[1])) == NULL ||
		    !shows_in_sent(s, n->x)) {
			n->x = NULL;
			return;
		}
		sent_name(s, n->x, want, sizeof(want));
		if (strcmp(want, seg[1]) != 0) {
			n->x = NULL;
			return;
		}
		n->name = seg[1];
		n->kind = N_SENTFILE;
		return;
	}
	if (strcmp(seg[0], "receive") == 0 || strcmp(seg[0], "reports") ==
	    0) {
		int rep = seg[0][1] == 'e' && seg[0][2] == 'p';
		char want[PATH_MAX_LEN];

		if (k == 1) {
			n->kind = rep ? N_REPORTS : N_RECEIVE;
			return;
		}
		if (k != 2 || (n->x = listed_xfer(s, seg[1])) == NULL)
			return;
		if (rep) {
			if (!shows_in_reports(s, n->x))
				goto none;
			snprintf(want, sizeof(want), "%s_%s.txt", n->x->id,
			    gw_xfer_name(s->g, n->x));
		} else {
			const char *why;
			enum gw_see see = gw_access_xfer(s->g, n->x, s->party,
			    &why);

			if (see == GW_SEE_NONE)
				goto none;
			in_name(s, n->x, want, sizeof(want));
			if (see != GW_SEE_READ) {
				/* its record, but not its content: say why */
				if (strcmp(want, seg[1]) == 0) {
					/* copied: the authority's made-up
					 * text is overwritten by the next
					 * question (a rename asks two) */
					n->denied = 1;
					snprintf(n->whybuf, sizeof(n->whybuf),
					    "%s", why);
					n->why = n->whybuf;
				}
				goto none;
			}
		}
		if (strcmp(want, seg[1]) != 0)
			goto none;
		n->name = seg[1];
		n->kind = rep ? N_REPORT : N_INFILE;
		return;
none:
		n->x = NULL;
	}
}

static void
dir_attrs(struct sftp *s, struct attrs *a, uint32_t perm)
{
	memset(a, 0, sizeof(*a));
	a->flags = ATTR_SIZE | ATTR_UIDGID | ATTR_PERM | ATTR_TIME;
	a->perm = 040000 | perm;
	a->atime = a->mtime = secs(s->g->started);
}

static void
file_attrs(struct attrs *a, uint64_t size, uint32_t perm, uint32_t t)
{
	memset(a, 0, sizeof(*a));
	a->flags = ATTR_SIZE | ATTR_UIDGID | ATTR_PERM | ATTR_TIME;
	a->size = size;
	a->perm = 0100000 | perm;
	a->atime = a->mtime = t;
}

static uint64_t
in_size(const struct gw_xfer *x)
{
	return x->sealed ? x->obj_size : x->plain_size;
}

static uint32_t
in_time(const struct gw_xfer *x)
{
	return secs(x->released_at ? x->released_at : x->received);
}

/* Attributes of an existing node; -1 when it does not exist. */
static int
node_attrs(struct sftp *s, const struct node *n, struct attrs *a)
{
	switch (n->kind) {
	case N_ROOT:
	case N_SEND:
	case N_AGREEMENT:
		dir_attrs(s, a, 0500);
		return 0;
	case N_DROP:
		dir_attrs(s, a, 0300);	/* write-only */
		return 0;
	case N_RECEIVE:
	case N_REPORTS:
	case N_SENT:
		dir_attrs(s, a, 0500);
		return 0;
	case N_SENTFILE:
		file_attrs(a, sent_report_held(n->x) ? n->x->report_size : 0,
		    0400, secs(n->x->received));
		return 0;
	case N_DROPFILE: {
		struct recent *r = recent_find(s, n->agreement, n->flow,
		    n->name);

		if (r == NULL)
			return -1;
		file_attrs(a, r->size, 0200, r->when);
		return 0;
	}
	case N_INFILE:
		file_attrs(a, in_size(n->x), 0400, in_time(n->x));
		return 0;
	case N_REPORT:
		file_attrs(a, n->x->report_size, 0400,
		    secs(n->x->received));
		return 0;
	default:
		return -1;
	}
}

/* The access authority's answers as SFTP statuses: the one table. */
static uint32_t
fx_status(enum gw_acc acc)
{
	static const uint32_t map[] = {
		[GW_ACC_OK] =		FX_OK,
		[GW_ACC_UNKNOWN] =	FX_NO_SUCH_FILE,
		[GW_ACC_REFUSED] =	FX_PERMISSION_DENIED,
		[GW_ACC_INACTIVE] =	FX_PERMISSION_DENIED,
		[GW_ACC_BAD_NAME] =	FX_FAILURE,
		[GW_ACC_DUPLICATE] =	FX_FAILURE,
		[GW_ACC_BUSY] =		FX_FAILURE,
		[GW_ACC_CONFLICT] =	FX_FAILURE,
		[GW_ACC_FREQUENCY] =	FX_PERMISSION_DENIED,
	};

	return map[acc];
}

static void
not_there(struct sftp *s, uint32_t id, const struct node *n)
{
	status(s, id, n->denied ? FX_PERMISSION_DENIED : FX_NO_SUCH_FILE,
	    n->why);
}

/* ---- handles ---- */

static int
handle_new(struct sftp *s, enum hkind kind)
{
	unsigned i, max = s->g->conf->cfg->daemon.sftp_handles;

	if (s->h == NULL && (s->h = calloc(max, sizeof(*s->h))) == NULL)
		return -1;
	if (s->nh == 0)
		s->nh = max;
	for (i = 0; i < s->nh; i++)
		if (s->h[i].kind == H_FREE) {
			memset(&s->h[i], 0, sizeof(s->h[i]));
			s->h[i].kind = kind;
			s->h[i].gen = ++s->gen;
			return (int)i;
		}
	return -1;
}

static void
send_handle(struct sftp *s, uint32_t id, int i)
{
	struct pkt p;
	unsigned char hb[8];
	uint32_t g = s->h[i].gen;

	hb[0] = (unsigned char)(i >> 8), hb[1] = (unsigned char)i;
	hb[2] = (unsigned char)(g >> 24), hb[3] = (unsigned char)(g >> 16);
	hb[4] = (unsigned char)(g >> 8), hb[5] = (unsigned char)g;
	pk_begin(&p, FXP_HANDLE);
	pk_u32(&p, id);
	pk_bytes(&p, hb, 6);
	pk_send(s, &p);
}

static int
rd_handle(struct sftp *s, struct rd *r)
{
	uint32_t n, g;
	const unsigned char *b = rd_bytes(r, &n);
	unsigned i;

	if (b == NULL || n != 6)
		return -1;
	i = (unsigned)b[0] << 8 | b[1];
	g = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 |
	    (uint32_t)b[4] << 8 | b[5];
	if (i >= s->nh || s->h[i].kind == H_FREE || s->h[i].gen != g)
		return -1;
	return (int)i;
}

static void
handle_free(struct sftp *s, int i)
{
	struct handle *h = &s->h[i];
	size_t k;

	if (h->kind == H_FREE)
		return;
	for (k = 0; k < h->nents; k++)
		free(h->ents[k].name);
	free(h->ents);
	if (h->up != NULL) {
		gw_upload_cancel(h->up);
		s->busy--;
	}
	gw_reader_close(h->rd);	/* its callback never comes */
	memset(h, 0, sizeof(*h));
	h->kind = H_FREE;
}

/* ---- directories ---- */

static int
add_ent(struct handle *h, size_t *cap, const char *name,
    const struct attrs *a)
{
	if (h->nents == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct dent *ne = realloc(h->ents, nc * sizeof(*ne));

		if (ne == NULL)
			return -1;
		h->ents = ne;
		*cap = nc;
	}
	if ((h->ents[h->nents].name = strdup(name)) == NULL)
		return -1;
	h->ents[h->nents++].a = *a;
	return 0;
}

static int
list_dir(struct sftp *s, const struct node *n, struct handle *h)
{
	const struct sg_config *cfg = s->g->conf->cfg;
	struct attrs a, self;
	size_t cap = 0, i;
	char name[PATH_MAX_LEN];
	int rc = 0;

	node_attrs(s, n, &self);
	rc |= add_ent(h, &cap, ".", &self);
	dir_attrs(s, &a, 0500);
	rc |= add_ent(h, &cap, "..", &a);
	switch (n->kind) {
	case N_ROOT:
		rc |= add_ent(h, &cap, "send", &a);
		rc |= add_ent(h, &cap, "receive", &a);
		rc |= add_ent(h, &cap, "reports", &a);
		rc |= add_ent(h, &cap, "sent", &a);
		break;
	case N_SEND:
		for (i = 0; i < cfg->nagreements; i++)
			if (sends_on(&cfg->agreements[i], s->party, NULL))
				rc |= add_ent(h, &cap, cfg->agreements[i].id,
				    &a);
		break;
	case N_AGREEMENT: {
		const struct sg_agreement *ag = sg_config_agreement(cfg,
		    n->agreement);

		dir_attrs(s, &a, 0300);
		for (i = 0; ag != NULL && i < ag->nflows; i++)
			if (sends_on(ag, s->party, &ag->flows[i]))
				rc |= add_ent(h, &cap, ag->flows[i].id, &a);
		break;
	}
	case N_DROP:
		/* write-only: only what this session has just sent */
		for (i = 0; i < s->nrecent && i < RECENT; i++) {
			struct recent *r = &s->recent[i];

			if (strcmp(r->agreement, n->agreement) == 0 &&
			    strcmp(r->flow, n->flow) == 0) {
				file_attrs(&a, r->size, 0200, r->when);
				rc |= add_ent(h, &cap, r->name, &a);
			}
		}
		break;
	case N_RECEIVE:
		for (i = 0; i < s->g->nxfers; i++) {
			struct gw_xfer *x = s->g->xfers[i];

			if (!shows_in_receive(s, x))
				continue;
			in_name(s, x, name, sizeof(name));
			file_attrs(&a, in_size(x), 0400, in_time(x));
			rc |= add_ent(h, &cap, name, &a);
		}
		break;
	case N_SENT:
		for (i = 0; i < s->g->nxfers; i++) {
			struct gw_xfer *x = s->g->xfers[i];
			struct node rn;

			if (!shows_in_sent(s, x))
				continue;
			sent_name(s, x, name, sizeof(name));
			memset(&rn, 0, sizeof(rn));
			rn.kind = N_SENTFILE;
			rn.x = x;
			node_attrs(s, &rn, &a);
			rc |= add_ent(h, &cap, name, &a);
		}
		break;
	case N_REPORTS:
		for (i = 0; i < s->g->nxfers; i++) {
			struct gw_xfer *x = s->g->xfers[i];
			struct node rn;

			if (!shows_in_reports(s, x))
				continue;
			snprintf(name, sizeof(name), "%s_%s.txt", x->id,
			    gw_xfer_name(s->g, x));
			memset(&rn, 0, sizeof(rn));
			rn.kind = N_REPORT;
			rn.x = x;
			node_attrs(s, &rn, &a);
			rc |= add_ent(h, &cap, name, &a);
		}
		break;
	default:
		return -1;
	}
	return rc;
}

static void
longname(const char *name, const struct attrs *a, const char *owner,
    char *buf, size_t cap)
{
	char mode[11], when[32];
	time_t t = a->mtime;
	struct tm tm;
	static const char rwx[] = "rwxrwxrwx";
	int i;

	mode[0] = (a->perm & 040000) ? 'd' : '-';
	for (i = 0; i < 9; i++)
		mode[i + 1] = (a->perm & (1u << (8 - i))) ? rwx[i] : '-';
	mode[10] = '\0';
	gmtime_r(&t, &tm);
	if (t > time(NULL) - 180 * 86400)
		strftime(when, sizeof(when), "%b %e %H:%M", &tm);
	else
		strftime(when, sizeof(when), "%b %e  %Y", &tm);
	snprintf(buf, cap, "%s    1 %-14s %-10s %10" PRIu64 " %s %s", mode,
	    owner, "schoolgate", a->size, when, name);
}

/* ---- requests ---- */

static void process(struct sftp *);

static void
s_unref(struct sftp *s)
{
	if (--s->refs == 0 && s->dead)
		free(s);
}

/*
 * Requests are handled one at a time, never inside one another. A reply
 * can make libssh read the socket and hand us more input (ssh.c's data
 * callback): that input is queued, and process() takes it once the
 * reply in hand is out. The asynchronous events below (the pipeline
 * catching up, a verdict, a log record) answer inside the same fence.
 */
static int
fence_enter(struct sftp *s)
{
	if (s->dead)
		return 0;
	s->in_process++;
	return 1;
}

/* the caller holds a reference */
static void
fence_leave(struct sftp *s)
{
	s->in_process--;
	process(s);
}

static void
up_resume(void *arg)
{
	struct sftp *s = arg;

	if (s->wait == W_WRITE) {
		s->resumed = 1;
		process(s);
	}
}

static void
remember(struct sftp *s, struct handle *h)
{
	struct recent *r = &s->recent[s->nrecent++ % RECENT];

	snprintf(r->id, sizeof(r->id), "%s", h->id);
	snprintf(r->agreement, sizeof(r->agreement), "%s", h->agreement);
	snprintf(r->flow, sizeof(r->flow), "%s", h->flow);
	snprintf(r->name, sizeof(r->name), "%s", h->name);
	snprintf(r->as, sizeof(r->as), "%s", h->as);
	r->size = h->off;
	r->when = secs(gw_now_us());
}

/* Answers the WRITE held on h, if there is one. */
static void
answer_held(struct sftp *s, struct handle *h, uint32_t code, const char *why)
{
	if (!h->held)
		return;
	h->held = 0;
	status(s, h->held_id, code, code == FX_OK ? NULL : why);
}

/* 1 when what has been checked already makes h's file a rejection;
 * out (EARLY_MAX) then says so. Not kept in the handle: a session holds
 * sftp_handles of them. */
#define EARLY_MAX	480
static int
failing(struct handle *h, char out[EARLY_MAX])
{
	char why[200];

	if (h->up == NULL || !gw_upload_failing(h->up, why, sizeof(why)))
		return 0;
	snprintf(out, EARLY_MAX, "schoolgate: %s rejected: %s; the report "
	    "follows when the file is closed", h->name, why);
	return 1;
}

/* A WRITE whose bytes are in the pipeline. Once what has been checked
 * makes the file a rejection, it is answered with that (and so is the
 * one held); otherwise the one held is answered "ok" (it was not the
 * last) and this one is held until its bytes have been checked. */
static void
answer_write(struct sftp *s, struct handle *h, uint32_t id)
{
	char early[EARLY_MAX];

	if (failing(h, early)) {
		answer_held(s, h, FX_FAILURE, early);
		status(s, id, FX_FAILURE, early);
		return;
	}
	answer_held(s, h, FX_OK, NULL);
	if (h->up == NULL || (h->held_watch = gw_upload_watch(h->up)) == 0) {
		/* nothing to wait for, or nothing checked yet (the upload
		 * waits for a thread) */
		status(s, id, FX_OK, NULL);
		return;
	}
	h->held = 1;
	h->held_id = id;
}

/* The verdict, as the client will read it. */
static void
verdict_text(struct handle *h, const struct gw_upload_result *r)
{
	const struct sg_report *rep = &r->report;

	snprintf(h->id, sizeof(h->id), "%s", r->id);
	if (r->status == 201) {
		h->verdict = FX_OK;
		/* the receipt itself is JSON, too long for a status line:
		 * the HTTPS front gives it, signed, with its proof */
		snprintf(h->why, sizeof(h->why), "schoolgate: %s accepted: "
		    "transfer %s, %" PRIu64 " row(s), log record %" PRIu64
		    "; signed receipt: GET /v1/transfers/%s/receipt", h->name,
		    r->id, rep->rows, r->received_seq, r->id);
		return;
	}
	h->verdict = FX_FAILURE;
	if (r->status == 422) {
		const struct sg_report_entry *e = rep->nerrors ?
		    &rep->errors[0] : NULL;
		char where[200];

		where[0] = '\0';
		if (e != NULL && e->row > 0 && e->column[0] != '\0')
			snprintf(where, sizeof(where), " at row %" PRIu64
			    ", column %.80s", e->row, e->column);
		else if (e != NULL && e->row > 0)
			snprintf(where, sizeof(where), " at row %" PRIu64,
			    e->row);
		else if (e != NULL && e->column[0] != '\0')
			snprintf(where, sizeof(where), " (column %.80s)",
			    e->column);
		snprintf(h->why, sizeof(h->why), "schoolgate: %s rejected: "
		    "%s%s; %" PRIu64 " error(s); report: /reports/%s_%s.txt",
		    h->name, e ? e->rule : "rejected", where,
		    rep->nerrors_total, r->id, h->name);
	} else
		snprintf(h->why, sizeof(h->why), "schoolgate: %s not "
		    "accepted: %.160s", h->name, r->problem[0] ? r->problem :
		    "the gateway could not take it; try again later");
}

/* The handle is gone before anything is sent: what the client reads is
 * a copy, whatever a reply lets run meanwhile. */
static void
finish_close(struct sftp *s, int i, uint32_t id)
{
	struct handle *h = &s->h[i];
	int verdict = h->verdict;
	char why[sizeof(h->why)];

	memcpy(why, h->why, sizeof(why));
	answer_held(s, h, (uint32_t)verdict, why);
	if (verdict == FX_OK)
		remember(s, h);
	handle_free(s, i);
	s->io->notice(s->arg, why);
	status(s, id, (uint32_t)verdict, why);
}

static void
up_done(void *arg, struct gw_upload *u)
{
	struct sftp *s = arg;
	unsigned i;

	for (i = 0; i < s->nh; i++)
		if (s->h[i].kind == H_UPLOAD && s->h[i].up == u)
			break;
	if (i == s->nh) {
		gw_upload_free(u);
		return;
	}
	verdict_text(&s->h[i], gw_upload_result(u));
	gw_upload_free(u);
	s->h[i].up = NULL;
	s->busy--;
	if (s->wait == W_CLOSE && s->wait_h == (int)i && fence_enter(s)) {
		s->refs++;
		s->wait = W_NONE;
		finish_close(s, (int)i, s->wait_id);
		fence_leave(s);
		s_unref(s);
	} else if (s->h[i].held && fence_enter(s)) {
		/* decided before the client closed (a file that could not
		 * be opened): the WRITE held says so */
		s->refs++;
		answer_held(s, &s->h[i], (uint32_t)s->h[i].verdict,
		    s->h[i].why);
		fence_leave(s);
		s_unref(s);
	}
}

/* The bytes fed so far are checked: the WRITE held is answered. */
static void
up_checked(void *arg, struct gw_upload *u)
{
	struct sftp *s = arg;
	struct handle *h;
	char early[EARLY_MAX];
	unsigned i;

	for (i = 0; i < s->nh; i++)
		if (s->h[i].kind == H_UPLOAD && s->h[i].up == u)
			break;
	/* a sync for an earlier WRITE does not answer a later one */
	if (i == s->nh || !s->h[i].held ||
	    gw_upload_checked(u) < s->h[i].held_watch || !fence_enter(s))
		return;
	s->refs++;
	h = &s->h[i];
	if (failing(h, early))
		answer_held(s, h, FX_FAILURE, early);
	else
		answer_held(s, h, FX_OK, NULL);
	fence_leave(s);
	s_unref(s);
}

static const struct gw_upload_cb up_cb = { up_resume, up_done, up_checked };

/* A log record the answer waits for (DOWNLOADED before the handle of a
 * download, CONFIRMED before REMOVE's status). */
/* wait_h for a withdrawal (a removal in /sent/); -1: a confirmation */
#define WAIT_WITHDRAW	(-2)

static void
record_after(void *arg, int ok)
{
	struct sftp *s = arg;
	uint32_t id = s->wait_id;
	int i = s->wait_h;

	if (!fence_enter(s)) {
		s_unref(s);
		return;
	}
	s->wait = W_NONE;
	if (!ok) {
		if (i >= 0)
			handle_free(s, i);
		status(s, id, FX_FAILURE, "the transfer log could not be "
		    "written; try again later");
	} else if (i >= 0) {
		gw_dl_note(&s->dl_memo, s->party, s->wait_xid);
		send_handle(s, id, i);
	} else
		status(s, id, FX_OK, i == WAIT_WITHDRAW ? "withdrawn: deleted "
		    "from the gateway, and its recipients told" :
		    "receipt confirmed");
	fence_leave(s);
	s_unref(s);
}

static void
wait_record(struct sftp *s, uint32_t id, int i, int type, const char *xid,
    uint64_t bytes)
{
	s->wait = W_RECORD;
	s->wait_id = id;
	s->wait_h = i;
	snprintf(s->wait_xid, sizeof(s->wait_xid), "%s", xid);
	s->refs++;
	if (gw_record(s->g, type, xid, s->party, "sftp", s->addr, 0, bytes,
	    record_after, s) !=
	    0) {
		s->refs--;
		s->wait = W_NONE;
		if (i >= 0)
			handle_free(s, i);
		status(s, id, FX_FAILURE, "out of resources; try again later");
	}
}

static void opened(struct sftp *, uint32_t, int);
static int read_answer(struct sftp *, uint32_t, int, uint64_t, uint32_t);

/* A reader has news for the request waiting on it: its file is open,
 * or the bytes a READ asked for are in. Readers are closed with their
 * handles, so a session that has gone hears nothing. */
static void
reader_news(void *arg)
{
	struct sftp *s = arg;
	uint32_t id = s->wait_id;
	int i = s->wait_h;

	if ((s->wait != W_OPEN && s->wait != W_READ) || (s->wait == W_OPEN &&
	    gw_reader_ready(s->h[i].rd) == 0))
		return;
	if (!fence_enter(s))
		return;
	s->refs++;
	if (s->wait == W_OPEN) {
		s->wait = W_NONE;
		opened(s, id, i);
	} else if (read_answer(s, id, i, s->wait_off, s->wait_len) == 0)
		s->wait = W_NONE;
	fence_leave(s);
	s_unref(s);
}

static void
do_open(struct sftp *s, uint32_t id, struct rd *r)
{
	char path[PATH_MAX_LEN];
	uint32_t pf;
	struct node n;
	int i;

	if (rd_str(r, path, sizeof(path)) != 0)
		return;
	pf = rd_u32(r);
	rd_attrs(r);
	if (r->bad)
		return;
	resolve(s, path, 0, &n);
	if ((pf & PF_WRITE) && n.kind == N_DROPFILE) {
		const char *why;
		uint64_t max;
		struct handle *h;
		enum gw_acc acc;
		char final[SG_VNAME_MAX + 1], canon[SG_VNAME_MAX + 1];
		size_t nl = strlen(n.name);

		/* WinSCP writes "name.filepart" and renames it when done:
		 * the transfer is checked, named and released as "name", so
		 * a name already held is refused before anything is sent,
		 * and no recipient ever sees a .filepart */
		snprintf(final, sizeof(final), "%s", n.name);
		if (nl > 9 && strcmp(n.name + nl - 9, ".filepart") == 0)
			final[nl - 9] = '\0';
		if ((pf & (PF_READ | PF_APPEND)) != 0) {
			status(s, id, FX_PERMISSION_DENIED, "drop folders are "
			    "write-only: open for writing only");
			return;
		}
		if ((acc = gw_access_upload(s->g, s->party, s->addr,
		    n.agreement, n.flow, final, SG_METHOD_SFTP, &max,
		    canon, &why)) != GW_ACC_OK) {
			s->io->notice(s->arg, why);
			status(s, id, fx_status(acc), why);
			return;
		}
		if ((i = handle_new(s, H_UPLOAD)) < 0) {
			status(s, id, FX_FAILURE, "too many open files in "
			    "this session");
			return;
		}
		h = &s->h[i];
		snprintf(h->agreement, sizeof(h->agreement), "%s",
		    n.agreement);
		snprintf(h->flow, sizeof(h->flow), "%s", n.flow);
		snprintf(h->name, sizeof(h->name), "%s", canon);
		snprintf(h->as, sizeof(h->as), "%s", n.name);
		h->max = max;
		send_handle(s, id, i);
		return;
	}
	if (pf & (PF_WRITE | PF_APPEND | PF_CREAT | PF_TRUNC)) {
		status(s, id, FX_PERMISSION_DENIED, n.kind == N_NONE &&
		    n.denied ? n.why : "files can only be written into a "
		    "drop folder, /send/<agreement>/<flow>/");
		return;
	}
	if (n.kind == N_SENTFILE && !sent_report_held(n.x)) {
		/* an accepted upload has no report to read (its warnings
		 * are in the answer and on the Sent page) */
		status(s, id, FX_NO_SUCH_FILE, n.x->state != GW_REJECTED ?
		    "accepted: the verdict is in the name; nothing to read" :
		    "rejected: its report is no longer held");
		return;
	}
	if (n.kind != N_INFILE && n.kind != N_REPORT && n.kind != N_SENTFILE) {
		if (n.kind == N_NONE)
			not_there(s, id, &n);
		else
			status(s, id, FX_FAILURE, "not a file");
		return;
	}
	{
		struct handle *h;

		if ((i = handle_new(s, H_OBJECT)) < 0) {
			status(s, id, FX_FAILURE, "too many open files in "
			    "this session");
			return;
		}
		h = &s->h[i];
		h->report = n.kind == N_REPORT || n.kind == N_SENTFILE;
		snprintf(h->id, sizeof(h->id), "%s", n.x->id);
		/* opened on the work pool: the session waits (W_OPEN) and
		 * opened() answers */
		h->rd = h->report ? gw_reader_open_report(s->g, n.x,
		    reader_news, s) : gw_reader_open(s->g, n.x, reader_news, s);
		if (h->rd == NULL) {
			handle_free(s, i);
			status(s, id, FX_FAILURE, "out of resources; try "
			    "again later");
			return;
		}
		s->wait = W_OPEN;
		s->wait_id = id;
		s->wait_h = i;
	}
}

/* A file opened for reading: the handle, once DOWNLOADED is durable
 * (once a session; a report records nothing). */
static void
opened(struct sftp *s, uint32_t id, int i)
{
	struct handle *h = &s->h[i];

	if (gw_reader_ready(h->rd) != 1) {
		handle_free(s, i);
		status(s, id, FX_FAILURE, h->report ? "the report cannot be "
		    "read" : "the file cannot be opened");
		return;
	}
	h->size = gw_reader_size(h->rd);
	if (h->report || gw_dl_recorded(&s->dl_memo, s->party, h->id))
		send_handle(s, id, i);
	else
		wait_record(s, id, i, SG_REC_DOWNLOADED, h->id, h->size);
}

static void
do_close(struct sftp *s, uint32_t id, struct rd *r)
{
	int i = rd_handle(s, r);
	struct handle *h;

	if (i < 0) {
		status(s, id, FX_FAILURE, "no such handle");
		return;
	}
	h = &s->h[i];
	if (h->kind != H_UPLOAD || (!h->begun && h->verdict == 0)) {
		/* a file created and closed empty was not sent: nothing is
		 * recorded, and the name may be opened again */
		handle_free(s, i);
		status(s, id, FX_OK, NULL);
		return;
	}
	if (h->verdict != 0 || h->up == NULL) {
		/* refused already (too large, out of order), or decided */
		if (h->verdict == 0) {
			h->verdict = FX_FAILURE;
			snprintf(h->why, sizeof(h->why), "schoolgate: %s not "
			    "accepted", h->name);
		}
		finish_close(s, i, id);
		return;
	}
	/* the verdict is the answer: wait for it */
	h->ended = 1;
	gw_upload_end(h->up);
	s->wait = W_CLOSE;
	s->wait_id = id;
	s->wait_h = i;
}

/* The upload cannot continue: nothing is stored; CLOSE says why. */
static void
upload_refused(struct sftp *s, struct handle *h, const char *rule,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* rule: what the journal records (no name, no content) */
static void
upload_refused(struct sftp *s, struct handle *h, const char *rule,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(h->why, sizeof(h->why), "schoolgate: %s not accepted: ",
	    h->name);
	va_start(ap, fmt);
	vsnprintf(h->why + n, sizeof(h->why) - (size_t)n, fmt, ap);
	va_end(ap);
	h->verdict = FX_FAILURE;
	/* a WRITE held for this upload will hear nothing else */
	answer_held(s, h, FX_FAILURE, h->why);
	if (h->up != NULL) {
		gw_upload_refuse(h->up, rule);
		h->up = NULL;
		s->busy--;
	}
}

static void
do_write(struct sftp *s, uint32_t id, struct rd *r)
{
	int i = rd_handle(s, r), rc;
	uint64_t off = rd_u64(r);
	uint32_t n;
	const unsigned char *data = rd_bytes(r, &n);
	struct handle *h;

	if (r->bad)
		return;
	if (i < 0 || s->h[i].kind != H_UPLOAD) {
		status(s, id, i < 0 ? FX_FAILURE : FX_PERMISSION_DENIED,
		    i < 0 ? "no such handle" : "not open for writing");
		return;
	}
	h = &s->h[i];
	if (h->verdict != 0) {
		status(s, id, FX_FAILURE, h->why);
		return;
	}
	if (off != h->off) {
		upload_refused(s, h, "out-of-order", "writes must be "
		    "sequential (expected offset %" PRIu64 ", got %" PRIu64
		    ")", h->off, off);
		status(s, id, FX_FAILURE, h->why);
		return;
	}
	if (n > 0 && !h->begun) {
		h->up = gw_upload_begin(s->g, s->party, "sftp", s->addr,
		    h->agreement, h->flow, h->name, NULL, h->max, &up_cb, s);
		if (h->up == NULL) {
			upload_refused(s, h, "resources", "out of resources; "
			    "try again later");
			status(s, id, FX_FAILURE, h->why);
			return;
		}
		h->begun = 1;
		s->busy++;
	}
	h->off += n;
	rc = n > 0 ? gw_upload_feed(h->up, data, n) : 0;
	if (rc < 0) {
		upload_refused(s, h, "too-large", "the file is larger than "
		    "this flow accepts");
		status(s, id, FX_FAILURE, h->why);
		return;
	}
	if (rc == 1) {
		/* hold the answer until the pipeline catches up */
		s->wait = W_WRITE;
		s->wait_id = id;
		s->wait_h = i;
		s->resumed = 0;
		return;
	}
	answer_write(s, h, id);
}

/* READ's answer from what the reader holds: 0, or -1 when it holds
 * nothing yet (the session waits, W_READ, and reader_news() answers). A
 * read across two blocks is answered whole when both are in, and short
 * otherwise (SFTP allows it; clients ask again for the rest). */
static int
read_answer(struct sftp *s, uint32_t id, int i, uint64_t off, uint32_t len)
{
	struct handle *h = &s->h[i];
	const unsigned char *b;
	struct pkt p;
	ssize_t got, more = 0;
	size_t at;

	if ((got = gw_reader_get(h->rd, off, len, &b)) == 0)
		return -1;
	if (got < 0) {
		status(s, id, FX_FAILURE, "the stored file cannot be read");
		return 0;
	}
	pk_begin(&p, FXP_DATA);
	pk_u32(&p, id);
	at = p.len;
	pk_u32(&p, 0);		/* the length, once known */
	pk_need(&p, len);
	if (p.oom) {
		free(p.b);
		status(s, id, FX_FAILURE, "out of memory");
		return 0;
	}
	/* copied before asking for the rest: asking may start a fill
	 * into the block b points into */
	memcpy(p.b + p.len, b, (size_t)got);
	p.len += (size_t)got;
	if ((uint32_t)got < len && (more = gw_reader_get(h->rd,
	    off + (uint64_t)got, len - (uint32_t)got, &b)) > 0) {
		memcpy(p.b + p.len, b, (size_t)more);
		p.len += (size_t)more;
	} else
		more = 0;
	pk_set32(&p, at, (uint32_t)(got + more));
	pk_send(s, &p);
	return 0;
}

static void
do_read(struct sftp *s, uint32_t id, struct rd *r)
{
	int i = rd_handle(s, r);
	uint64_t off = rd_u64(r);
	uint32_t len = rd_u32(r);
	struct handle *h;

	if (r->bad)
		return;
	if (i < 0 || s->h[i].kind != H_OBJECT) {
		status(s, id, FX_FAILURE, i < 0 ? "no such handle" :
		    "not open for reading");
		return;
	}
	h = &s->h[i];
	if (off >= h->size) {
		status(s, id, FX_EOF, NULL);
		return;
	}
	if (len > READ_MAX)
		len = READ_MAX;
	if (len > h->size - off)
		len = (uint32_t)(h->size - off);
	if (read_answer(s, id, i, off, len) != 0) {
		s->wait = W_READ;
		s->wait_id = id;
		s->wait_h = i;
		s->wait_off = off;
		s->wait_len = len;
	}
}

static void
attrs_reply(struct sftp *s, uint32_t id, const struct attrs *a)
{
	struct pkt p;

	pk_begin(&p, FXP_ATTRS);
	pk_u32(&p, id);
	pk_attrs(&p, a);
	pk_send(s, &p);
}

static void
do_stat(struct sftp *s, uint32_t id, struct rd *r)
{
	char path[PATH_MAX_LEN];
	struct node n;
	struct attrs a;

	if (rd_str(r, path, sizeof(path)) != 0)
		return;
	resolve(s, path, 0, &n);
	if (node_attrs(s, &n, &a) != 0) {
		not_there(s, id, &n);
		return;
	}
	attrs_reply(s, id, &a);
}

static void
do_fstat(struct sftp *s, uint32_t id, struct rd *r)
{
	int i = rd_handle(s, r);
	struct attrs a;

	if (r->bad)
		return;
	if (i < 0) {
		status(s, id, FX_FAILURE, "no such handle");
		return;
	}
	if (s->h[i].kind == H_DIR)
		dir_attrs(s, &a, 0500);
	else if (s->h[i].kind == H_UPLOAD)
		file_attrs(&a, s->h[i].off, 0200, secs(gw_now_us()));
	else
		file_attrs(&a, s->h[i].size, 0400, secs(gw_now_us()));
	attrs_reply(s, id, &a);
}

/* Times and modes are accepted and ignored, so that clients that set
 * them after an upload carry on. */
static void
do_setstat(struct sftp *s, uint32_t id, struct rd *r, int fh)
{
	char path[PATH_MAX_LEN];
	struct node n;
	struct attrs a;
	int i = -1;

	if (fh)
		i = rd_handle(s, r);
	else if (rd_str(r, path, sizeof(path)) != 0)
		return;
	rd_attrs(r);
	if (r->bad)
		return;
	if (fh) {
		status(s, id, i < 0 ? FX_FAILURE : FX_OK, i < 0 ?
		    "no such handle" : NULL);
		return;
	}
	resolve(s, path, 0, &n);
	if (node_attrs(s, &n, &a) != 0) {
		not_there(s, id, &n);
		return;
	}
	status(s, id, FX_OK, NULL);
}

static void
do_opendir(struct sftp *s, uint32_t id, struct rd *r)
{
	char path[PATH_MAX_LEN];
	struct node n;
	int i;

	if (rd_str(r, path, sizeof(path)) != 0)
		return;
	resolve(s, path, 0, &n);
	switch (n.kind) {
	case N_ROOT: case N_SEND: case N_AGREEMENT: case N_DROP:
	case N_RECEIVE: case N_REPORTS: case N_SENT:
		break;
	case N_NONE:
		not_there(s, id, &n);
		return;
	default:
		status(s, id, FX_FAILURE, "not a folder");
		return;
	}
	if ((i = handle_new(s, H_DIR)) < 0) {
		status(s, id, FX_FAILURE, "too many open handles in this "
		    "session");
		return;
	}
	if (list_dir(s, &n, &s->h[i]) != 0) {
		handle_free(s, i);
		status(s, id, FX_FAILURE, "out of memory");
		return;
	}
	send_handle(s, id, i);
}

static void
do_readdir(struct sftp *s, uint32_t id, struct rd *r)
{
	int i = rd_handle(s, r);
	struct handle *h;
	struct pkt p;
	size_t k, n;
	char ln[PATH_MAX_LEN + 128];

	if (r->bad)
		return;
	if (i < 0 || s->h[i].kind != H_DIR) {
		status(s, id, FX_FAILURE, "no such handle");
		return;
	}
	h = &s->h[i];
	if (h->next >= h->nents) {
		status(s, id, FX_EOF, NULL);
		return;
	}
	n = h->nents - h->next;
	if (n > NAMES_PER_REPLY)
		n = NAMES_PER_REPLY;
	pk_begin(&p, FXP_NAME);
	pk_u32(&p, id);
	pk_u32(&p, (uint32_t)n);
	for (k = 0; k < n; k++) {
		struct dent *e = &h->ents[h->next++];

		pk_str(&p, e->name);
		longname(e->name, &e->a, s->party, ln, sizeof(ln));
		pk_str(&p, ln);
		pk_attrs(&p, &e->a);
	}
	pk_send(s, &p);
}

static void
do_remove(struct sftp *s, uint32_t id, struct rd *r)
{
	char path[PATH_MAX_LEN];
	struct node n;

	if (rd_str(r, path, sizeof(path)) != 0)
		return;
	resolve(s, path, 0, &n);
	if (n.kind == N_INFILE) {
		/* removing a received file confirms its receipt */
		wait_record(s, id, -1, SG_REC_CONFIRMED, n.x->id, 0);
		return;
	}
	if (n.kind == N_SENTFILE) {
		/* removing a sent file's entry withdraws it (sent in error):
		 * the access authority decides, as for the API */
		const char *why;
		enum gw_acc acc = gw_access_withdraw(s->g, n.x, s->party, &why);

		if (acc != GW_ACC_OK) {
			status(s, id, fx_status(acc), why);
			return;
		}
		s->wait = W_RECORD;
		s->wait_id = id;
		s->wait_h = WAIT_WITHDRAW;
		snprintf(s->wait_xid, sizeof(s->wait_xid), "%s", n.x->id);
		s->refs++;
		if (gw_xfer_withdraw(s->g, n.x, s->party, "sent-in-error",
		    record_after, s) != 0) {
			s->refs--;
			s->wait = W_NONE;
			status(s, id, FX_FAILURE, "out of resources; try again "
			    "later");
		}
		return;
	}
	if (n.kind == N_NONE && !n.denied) {
		not_there(s, id, &n);
		return;
	}
	status(s, id, FX_PERMISSION_DENIED, n.kind == N_DROPFILE ? "a file "
	    "sent is withdrawn by removing its entry in /sent/" :
	    n.kind == N_NONE ? n.why : "only files in /receive/ (to confirm "
	    "receipt) and /sent/ (to withdraw one sent in error) can be "
	    "removed");
}

static void
do_realpath(struct sftp *s, uint32_t id, struct rd *r)
{
	char path[PATH_MAX_LEN];
	struct node n;
	struct attrs a;
	struct pkt p;

	if (rd_str(r, path, sizeof(path)) != 0)
		return;
	resolve(s, path[0] ? path : ".", 1, &n);
	if (n.denied) {
		not_there(s, id, &n);
		return;
	}
	memset(&a, 0, sizeof(a));
	pk_begin(&p, FXP_NAME);
	pk_u32(&p, id);
	pk_u32(&p, 1);
	pk_str(&p, n.canon);
	pk_str(&p, n.canon);
	pk_attrs(&p, &a);
	pk_send(s, &p);
}

/* RENAME of an upload this session has just closed, within its drop
 * folder: WinSCP sends to "name.filepart" and renames when done. Only
 * the name on record changes; the file is not checked again. */
/* The rename recorded (or not): its answer. */
static void
renamed(void *arg, int ok)
{
	struct sftp *s = arg;

	if (!fence_enter(s)) {
		s_unref(s);
		return;
	}
	s->wait = W_NONE;
	if (ok) {
		snprintf(s->wait_recent->name, sizeof(s->wait_recent->name),
		    "%s", s->wait_name);
		status(s, s->wait_id, FX_OK, NULL);
	} else
		status(s, s->wait_id, FX_FAILURE, "the new name could not be "
		    "recorded");
	fence_leave(s);
	s_unref(s);
}

static void
rename_paths(struct sftp *s, uint32_t id, const char *from, const char *to)
{
	struct node a, b;
	struct recent *rc;
	struct gw_xfer *x;

	resolve(s, from, 0, &a);
	resolve(s, to, 0, &b);
	if (a.kind != N_DROPFILE || (rc = recent_find(s, a.agreement, a.flow,
	    a.name)) == NULL) {
		if (a.kind == N_NONE || a.kind == N_DROPFILE)
			not_there(s, id, &a);
		else
			status(s, id, FX_PERMISSION_DENIED, "only a file just "
			    "sent can be renamed");
		return;
	}
	if (b.kind != N_DROPFILE || strcmp(a.agreement, b.agreement) != 0 ||
	    strcmp(a.flow, b.flow) != 0) {
		status(s, id, FX_PERMISSION_DENIED, b.kind == N_NONE &&
		    b.denied ? b.why : "a file sent can only be renamed within "
		    "its drop folder");
		return;
	}
	if (strcmp(a.name, b.name) == 0 || strcmp(rc->name, b.name) == 0) {
		/* name.filepart to name: it has had that name all along */
		snprintf(rc->as, sizeof(rc->as), "%s", b.name);
		status(s, id, FX_OK, NULL);
		return;
	}
	if ((x = gw_xfer_find(s->g, rc->id)) == NULL ||
	    x->state != GW_ACCEPTED) {
		not_there(s, id, &a);
		return;
	}
	/* the new name is written and synced off the I/O thread; the
	 * session's requests wait for it */
	if (gw_xfer_rename(s->g, x->id, b.name, renamed, s) != 0) {
		status(s, id, FX_FAILURE, "the new name could not be "
		    "recorded");
		return;
	}
	s->refs++;
	s->wait = W_RENAME;
	s->wait_id = id;
	s->wait_recent = rc;
	snprintf(s->wait_name, sizeof(s->wait_name), "%s", b.name);
}

static void
do_rename(struct sftp *s, uint32_t id, struct rd *r)
{
	char from[PATH_MAX_LEN], to[PATH_MAX_LEN];

	if (rd_str(r, from, sizeof(from)) != 0 ||
	    rd_str(r, to, sizeof(to)) != 0)
		return;
	rename_paths(s, id, from, to);
}

static void
do_extended(struct sftp *s, uint32_t id, struct rd *r)
{
	char name[64];

	if (rd_str(r, name, sizeof(name)) != 0)
		return;
	if (strcmp(name, "posix-rename@openssh.com") == 0) {
		do_rename(s, id, r);
		return;
	}
	status(s, id, FX_OP_UNSUPPORTED, "that extension is not offered");
}

static void
do_init(struct sftp *s, struct rd *r)
{
	struct pkt p;

	(void)rd_u32(r);	/* the client's version; we speak 3 */
	pk_begin(&p, FXP_VERSION);
	pk_u32(&p, 3);
	pk_str(&p, "posix-rename@openssh.com");
	pk_str(&p, "1");
	pk_send(s, &p);
	s->inited = 1;
}

/* One request; 0, or -1 when the packet does not parse (the session
 * ends: a client that sends what it says it does not is not one to
 * guess about). */
static int
request(struct sftp *s, const unsigned char *b, size_t len)
{
	struct rd r = { b + 1, len - 1, 0 };
	uint8_t type = b[0];
	uint32_t id;

	if (type == SFC_BROKEN) {
		/* what the front's parser said of the client's packet */
		s->broken = 1;
		s->io->fatal(s->arg, rd_u32(&r) == SFC_WHY_SIZE ? "an SFTP "
		    "packet larger than the limit, or empty" : "a malformed "
		    "SFTP request");
		return 0;
	}
	if (type == FXP_INIT) {
		if (s->inited)
			return -1;
		do_init(s, &r);
		return r.bad ? -1 : 0;
	}
	if (!s->inited)
		return -1;
	id = rd_u32(&r);
	if (r.bad)
		return -1;
	switch (type) {
	case FXP_OPEN:		do_open(s, id, &r); break;
	case FXP_CLOSE:		do_close(s, id, &r); break;
	case FXP_READ:		do_read(s, id, &r); break;
	case FXP_WRITE:		do_write(s, id, &r); break;
	case FXP_LSTAT:
	case FXP_STAT:		do_stat(s, id, &r); break;
	case FXP_FSTAT:		do_fstat(s, id, &r); break;
	case FXP_SETSTAT:	do_setstat(s, id, &r, 0); break;
	case FXP_FSETSTAT:	do_setstat(s, id, &r, 1); break;
	case FXP_OPENDIR:	do_opendir(s, id, &r); break;
	case FXP_READDIR:	do_readdir(s, id, &r); break;
	case FXP_REMOVE:	do_remove(s, id, &r); break;
	case FXP_REALPATH:	do_realpath(s, id, &r); break;
	case FXP_RENAME:	do_rename(s, id, &r); break;
	case FXP_EXTENDED:	do_extended(s, id, &r); break;
	case FXP_MKDIR:
	case FXP_RMDIR:
	case FXP_SYMLINK:
	case FXP_READLINK:
		status(s, id, FX_PERMISSION_DENIED, "folders and links are "
		    "fixed here: /send/, /receive/, /reports/ and /sent/");
		return 0;
	default:
		status(s, id, FX_OP_UNSUPPORTED, NULL);
		return 0;
	}
	return r.bad ? -1 : 0;
}

/* Handles buffered requests until one has to wait. */
static void
process(struct sftp *s)
{
	size_t at = 0;

	if (s->in_process > 0 || s->dead)
		return;
	s->in_process = 1;
	s->refs++;
	if (s->wait == W_WRITE && s->resumed) {
		s->wait = W_NONE;
		if (s->h[s->wait_h].kind == H_UPLOAD)
			answer_write(s, &s->h[s->wait_h], s->wait_id);
		else
			status(s, s->wait_id, FX_OK, NULL);
	}
	while (!s->dead && !s->broken && s->wait == W_NONE &&
	    s->io->pending(s->arg) < OUT_MARK && s->inlen - at >= 4) {
		const unsigned char *p = s->in + at;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];

		if (len == 0 || len > SFC_MAX) {
			s->broken = 1;
			s->io->fatal(s->arg, "an SFTP record larger than the "
			    "limit, or empty");
			break;
		}
		if (s->inlen - at < 4 + len)
			break;
		at += 4 + len;
		if (request(s, p + 4, len) != 0) {
			s->broken = 1;
			s->io->fatal(s->arg, "a malformed SFTP request");
			break;
		}
	}
	if (at > 0 && !s->dead) {
		memmove(s->in, s->in + at, s->inlen - at);
		s->inlen -= at;
		if (s->inlen == 0) {
			/* an idle session keeps no buffer */
			free(s->in);
			s->in = NULL;
		}
	}
	s->in_process = 0;
	s_unref(s);
}

struct sftp *
sftp_new(struct gw *g, const char *party, const char *addr,
    const struct sftp_io *io, void *arg)
{
	struct sftp *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->g = g;
	s->io = io;
	s->arg = arg;
	s->refs = 1;
	s->wait_h = -1;
	snprintf(s->party, sizeof(s->party), "%s", party);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return s;
}

size_t
sftp_room(const struct sftp *s)
{
	return s->dead ? 0 : IN_CAP - s->inlen;
}

int
sftp_ready(const struct sftp *s)
{
	size_t len;

	if (s->dead || s->broken || s->inlen < 4 || !(s->wait == W_NONE ||
	    (s->wait == W_WRITE && s->resumed)))
		return 0;
	len = (size_t)s->in[0] << 24 | (size_t)s->in[1] << 16 |
	    (size_t)s->in[2] << 8 | s->in[3];
	/* a length out of bounds is handled (the session ends) too */
	return len == 0 || len > SFC_MAX || s->inlen >= 4 + len;
}

size_t
sftp_input(struct sftp *s, const void *buf, size_t len)
{
	size_t take;

	if (s->dead)
		return len;
	take = IN_CAP - s->inlen;
	if (take > len)
		take = len;
	if (take > 0) {
		if (s->in == NULL && (s->in = malloc(IN_CAP)) == NULL) {
			s->io->fatal(s->arg, "out of memory");
			return len;
		}
		memcpy(s->in + s->inlen, buf, take);
		s->inlen += take;
	}
	process(s);
	return take;
}

void
sftp_kick(struct sftp *s)
{
	process(s);
}

unsigned
sftp_busy(const struct sftp *s)
{
	return s->busy;
}

void
sftp_free(struct sftp *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nh; i++)
		if (s->h[i].kind != H_FREE)
			handle_free(s, (int)i);
	free(s->h);
	s->h = NULL;
	s->nh = 0;
	free(s->in);
	s->in = NULL;
	s->inlen = 0;
	s->dead = 1;
	s_unref(s);
}
