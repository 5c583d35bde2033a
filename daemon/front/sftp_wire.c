/*
 * sftp_wire: the SFTP v3 packet parser, run in the SSH front door's
 * process; it turns each packet into a record of typed fields for the
 * core (sftp_wire.h).
 */
#include "front/sftp_wire.h"

#include <string.h>

struct cin {
	const unsigned char	*p;
	size_t			 len;
	int			 bad;
};

struct cout {
	unsigned char		*b;
	size_t			 len;
};

static uint32_t
in_u32(struct cin *r)
{
	uint32_t v;

	if (r->bad || r->len < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->len -= 4;
	return v;
}

static uint64_t
in_u64(struct cin *r)
{
	uint64_t hi = in_u32(r);

	return hi << 32 | in_u32(r);
}

static const unsigned char *
in_bytes(struct cin *r, uint32_t *n)
{
	const unsigned char *b;

	*n = in_u32(r);
	if (r->bad || *n > r->len) {
		r->bad = 1;
		*n = 0;
		return NULL;
	}
	b = r->p;
	r->p += *n;
	r->len -= *n;
	return b;
}

static void
put_raw32(struct cout *o, uint32_t v)
{
	o->b[o->len++] = (unsigned char)(v >> 24);
	o->b[o->len++] = (unsigned char)(v >> 16);
	o->b[o->len++] = (unsigned char)(v >> 8);
	o->b[o->len++] = (unsigned char)v;
}

static void
put_u32(struct cout *o, uint32_t v)
{
	o->b[o->len++] = SFC_U32;
	put_raw32(o, v);
}

static void
put_u64(struct cout *o, uint64_t v)
{
	o->b[o->len++] = SFC_U64;
	put_raw32(o, (uint32_t)(v >> 32));
	put_raw32(o, (uint32_t)v);
}

static void
put_str(struct cout *o, const unsigned char *s, uint32_t n)
{
	o->b[o->len++] = SFC_STR;
	put_raw32(o, n);
	memcpy(o->b + o->len, s, n);
	o->len += n;
}

/* Copies the fields one at a time: u32, u64, a string. */
static void
cp_u32(struct cin *r, struct cout *o)
{
	uint32_t v = in_u32(r);

	if (!r->bad)
		put_u32(o, v);
}

static void
cp_u64(struct cin *r, struct cout *o)
{
	uint64_t v = in_u64(r);

	if (!r->bad)
		put_u64(o, v);
}

static const unsigned char *
cp_str(struct cin *r, struct cout *o, uint32_t *np)
{
	uint32_t n;
	const unsigned char *b = in_bytes(r, &n);

	if (b != NULL)
		put_str(o, b, n);
	if (np != NULL)
		*np = n;
	return b;
}

/* ATTRS: as many fields as its flags say, the extended pairs read and
 * dropped; passed on whole, absent fields as 0. */
static void
cp_attrs(struct cin *r, struct cout *o)
{
	uint32_t f = in_u32(r), uid = 0, gid = 0, perm = 0, at = 0, mt = 0;
	uint32_t n, i, l;
	uint64_t size = 0;

	if (f & ATTR_SIZE)
		size = in_u64(r);
	if (f & ATTR_UIDGID) {
		uid = in_u32(r);
		gid = in_u32(r);
	}
	if (f & ATTR_PERM)
		perm = in_u32(r);
	if (f & ATTR_TIME) {
		at = in_u32(r);
		mt = in_u32(r);
	}
	if (f & ATTR_EXT) {
		n = in_u32(r);
		for (i = 0; i < n && !r->bad; i++) {
			(void)in_bytes(r, &l);
			(void)in_bytes(r, &l);
		}
	}
	if (r->bad)
		return;
	o->b[o->len++] = SFC_ATTRS;
	put_raw32(o, f & ~ATTR_EXT);
	put_raw32(o, (uint32_t)(size >> 32));
	put_raw32(o, (uint32_t)size);
	put_raw32(o, uid);
	put_raw32(o, gid);
	put_raw32(o, perm);
	put_raw32(o, at);
	put_raw32(o, mt);
}

/* The length prefix of a record o.len bytes long: its size. */
static size_t
finish(struct cout *o)
{
	struct cout h = { o->b, 0 };

	put_raw32(&h, (uint32_t)(o->len - 4));
	return o->len;
}

static size_t
broken(unsigned char *out, uint32_t why)
{
	struct cout o = { out, 4 };

	o.b[o.len++] = SFC_BROKEN;
	put_u32(&o, why);
	return finish(&o);
}

size_t
sftp_canon_size(unsigned char *out, size_t cap)
{
	return cap < 10 ? 0 : broken(out, SFC_WHY_SIZE);
}

int
sftp_canon_broken(const unsigned char *rec, size_t len)
{
	return len > 4 && rec[4] == SFC_BROKEN;
}

size_t
sftp_canon(const unsigned char *pkt, size_t len, unsigned char *out,
    size_t cap)
{
	struct cin r = { pkt + 1, len - 1, 0 };
	struct cout o = { out, 4 };
	uint8_t type;
	uint32_t n;
	const unsigned char *name;

	if (len == 0 || len > SFTP_MAX_PACKET || cap < len + 4 + SFC_GROWTH)
		return sftp_canon_size(out, cap);
	type = pkt[0];
	if (type == SFC_BROKEN)
		return broken(out, SFC_WHY_MALFORMED);	/* no SFTP type */
	o.b[o.len++] = type;
	cp_u32(&r, &o);		/* INIT: the version; else the id */
	switch (type) {
	case FXP_INIT:
		break;		/* its extensions: none are taken */
	case FXP_OPEN:
		cp_str(&r, &o, NULL);
		cp_u32(&r, &o);
		cp_attrs(&r, &o);
		break;
	case FXP_CLOSE:
	case FXP_LSTAT:
	case FXP_FSTAT:
	case FXP_OPENDIR:
	case FXP_READDIR:
	case FXP_REMOVE:
	case FXP_REALPATH:
	case FXP_STAT:
		cp_str(&r, &o, NULL);
		break;
	case FXP_READ:
		cp_str(&r, &o, NULL);
		cp_u64(&r, &o);
		cp_u32(&r, &o);
		break;
	case FXP_WRITE:
		cp_str(&r, &o, NULL);
		cp_u64(&r, &o);
		cp_str(&r, &o, NULL);
		break;
	case FXP_SETSTAT:
	case FXP_FSETSTAT:
		cp_str(&r, &o, NULL);
		cp_attrs(&r, &o);
		break;
	case FXP_RENAME:
		cp_str(&r, &o, NULL);
		cp_str(&r, &o, NULL);
		break;
	case FXP_EXTENDED:
		name = cp_str(&r, &o, &n);
		if (name != NULL && n == sizeof("posix-rename@openssh.com") -
		    1 && memcmp(name, "posix-rename@openssh.com", n) == 0) {
			cp_str(&r, &o, NULL);
			cp_str(&r, &o, NULL);
		}
		break;
	default:
		break;		/* refused by the core, by its id */
	}
	if (r.bad)
		return broken(out, SFC_WHY_MALFORMED);
	return finish(&o);
}

size_t
sftp_canon_stream(const unsigned char *in, size_t inlen, size_t *used,
    unsigned char *out, size_t cap, int *broken)
{
	size_t at = 0, w = 0, len, k;

	*broken = 0;
	while (!*broken && inlen - at >= 4 && cap - w >= SFC_MAX + 4) {
		const unsigned char *p = in + at;

		len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		    (size_t)p[2] << 8 | p[3];
		if (len == 0 || len > SFTP_MAX_PACKET)
			k = sftp_canon_size(out + w, cap - w);
		else if (inlen - at < 4 + len)
			break;
		else {
			k = sftp_canon(p + 4, len, out + w, cap - w);
			at += 4 + len;
		}
		*broken = sftp_canon_broken(out + w, k);
		w += k;
	}
	/* after a packet that does not parse, the stream is not one */
	*used = *broken ? inlen : at;
	return w;
}
