/*
 * msg: typed, length-checked messages between processes (see msg.h).
 * Numbers on the wire are little-endian, whatever the host.
 */
#include "base/msg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff, p[1] = v >> 8 & 0xff, p[2] = v >> 16 & 0xff;
	p[3] = v >> 24;
}

int
sg_msg_parse(const unsigned char *buf, size_t len, size_t nfds,
    const struct sg_msg_rule *rules, size_t nrules, struct sg_msg *m,
    size_t *used, char *err, size_t errcap)
{
	const struct sg_msg_rule *r = NULL;
	uint32_t type, plen, flags;
	size_t i;

	if (len < SG_MSG_HDR)
		return 0;
	type = get32(buf);
	plen = get32(buf + 4);
	flags = get32(buf + 12);
	for (i = 0; i < nrules; i++)
		if (rules[i].type == type) {
			r = &rules[i];
			break;
		}
	if (r == NULL) {
		snprintf(err, errcap, "message type %u is not one this "
		    "process takes", type);
		return -1;
	}
	if (flags & ~(uint32_t)SG_MSG_FD) {
		snprintf(err, errcap, "message type %u has unknown flags "
		    "0x%x", type, flags);
		return -1;
	}
	if (plen > SG_MSG_MAX || plen < r->min || plen > r->max) {
		snprintf(err, errcap, "message type %u is %u bytes long, "
		    "outside %u to %u", type, plen, r->min, r->max);
		return -1;
	}
	if ((flags & SG_MSG_FD) && r->fd == 0) {
		snprintf(err, errcap, "message type %u came with a "
		    "descriptor, which it may not", type);
		return -1;
	}
	if (!(flags & SG_MSG_FD) && r->fd == 1) {
		snprintf(err, errcap, "message type %u came without its "
		    "descriptor", type);
		return -1;
	}
	if ((flags & SG_MSG_FD) && nfds == 0) {
		snprintf(err, errcap, "message type %u says it carries a "
		    "descriptor, and none came", type);
		return -1;
	}
	if (len - SG_MSG_HDR < plen)
		return 0;
	m->type = type;
	m->peer = get32(buf + 8);
	m->data = buf + SG_MSG_HDR;
	m->len = plen;
	m->fd = (flags & SG_MSG_FD) ? 0 : -1;
	*used = SG_MSG_HDR + (size_t)plen;
	return 1;
}

void
sg_msg_header(unsigned char hdr[SG_MSG_HDR], uint32_t type, uint32_t peer,
    size_t len)
{
	put32(hdr, type);
	put32(hdr + 4, (uint32_t)len);
	put32(hdr + 8, peer);
	put32(hdr + 12, 0);
}

int
sg_msg_iov(struct iovec *iov, unsigned char hdr[SG_MSG_HDR],
    const void *data, size_t len, size_t sent)
{
	int k = 0;

	if (sent < SG_MSG_HDR) {
		iov[k].iov_base = hdr + sent;
		iov[k++].iov_len = SG_MSG_HDR - sent;
		if (len > 0) {
			iov[k].iov_base = (void *)data;
			iov[k++].iov_len = len;
		}
	} else {
		iov[k].iov_base = (char *)data + (sent - SG_MSG_HDR);
		iov[k++].iov_len = SG_MSG_HDR + len - sent;
	}
	return k;
}

/* One sendmsg of what is left of a message (the descriptor, if any,
 * goes with its first byte). */
static ssize_t
send_some(int sock, unsigned char hdr[SG_MSG_HDR], const void *data,
    size_t len, size_t sent, int fd, int flags)
{
	union {
		struct cmsghdr	c;
		char		b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov[2];
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = sg_msg_iov(iov, hdr, data, len, sent);
	if (sent == 0 && fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		cm.c.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
}

static void
header_fd(unsigned char hdr[SG_MSG_HDR], uint32_t type, uint32_t peer,
    size_t len, int fd)
{
	put32(hdr, type);
	put32(hdr + 4, (uint32_t)len);
	put32(hdr + 8, peer);
	put32(hdr + 12, fd >= 0 ? SG_MSG_FD : 0);
}

int
sg_msg_send(int sock, uint32_t type, uint32_t peer, int fd,
    const void *data, size_t len)
{
	unsigned char hdr[SG_MSG_HDR];
	size_t total, sent = 0;

	if (len > SG_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	header_fd(hdr, type, peer, len, fd);
	total = SG_MSG_HDR + len;
	while (sent < total) {
		ssize_t n = send_some(sock, hdr, data, len, sent, fd, 0);

		if (n < 0) {
			struct pollfd p = { .fd = sock, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		sent += (size_t)n;
	}
	return 0;
}

struct sg_msgq_item {
	struct sg_msgq_item	*next;
	int			 fd;
	size_t			 len, sent;	/* of the payload; sent counts
						   the header too */
	unsigned char		 hdr[SG_MSG_HDR];
	unsigned char		 data[];
};

struct sg_msgq {
	struct sg_msgq_item	*head, *tail;
	size_t			 bytes;
	size_t			 fds;	/* descriptors held */
};

struct sg_msgq *
sg_msgq_new(void)
{
	return calloc(1, sizeof(struct sg_msgq));
}

void
sg_msgq_free(struct sg_msgq *q)
{
	struct sg_msgq_item *i, *next;

	if (q == NULL)
		return;
	for (i = q->head; i != NULL; i = next) {
		next = i->next;
		if (i->fd >= 0)
			close(i->fd);
		explicit_bzero(i->data, i->len);	/* a key, a password */
		free(i);
	}
	free(q);
}

int
sg_msgq_put(struct sg_msgq *q, uint32_t type, uint32_t peer, int fd,
    const void *data, size_t len)
{
	struct sg_msgq_item *i;

	if (len > SG_MSG_MAX || (i = malloc(sizeof(*i) + len)) == NULL) {
		if (fd >= 0)
			close(fd);
		errno = len > SG_MSG_MAX ? EMSGSIZE : ENOMEM;
		return -1;
	}
	i->next = NULL;
	i->fd = fd;
	i->len = len;
	i->sent = 0;
	header_fd(i->hdr, type, peer, len, fd);
	if (len > 0)
		memcpy(i->data, data, len);
	if (q->tail)
		q->tail->next = i;
	else
		q->head = i;
	q->tail = i;
	q->bytes += SG_MSG_HDR + len;
	if (fd >= 0)
		q->fds++;
	return 0;
}

size_t
sg_msgq_bytes(const struct sg_msgq *q)
{
	return q->bytes;
}

size_t
sg_msgq_fds(const struct sg_msgq *q)
{
	return q->fds;
}

int
sg_msgq_flush(struct sg_msgq *q, int sock)
{
	struct sg_msgq_item *i;

	while ((i = q->head) != NULL) {
		ssize_t n = send_some(sock, i->hdr, i->data, i->len, i->sent,
		    i->fd, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
		}
		if (i->sent == 0 && i->fd >= 0) {
			close(i->fd);	/* it went with the first byte */
			i->fd = -1;
			q->fds--;
		}
		i->sent += (size_t)n;
		q->bytes -= (size_t)n;
		if (i->sent == SG_MSG_HDR + i->len) {
			if ((q->head = i->next) == NULL)
				q->tail = NULL;
			explicit_bzero(i->data, i->len);
			free(i);
		}
	}
	return 0;
}

struct sg_msgbuf {
	int		 sock;
	unsigned char	*buf;
	size_t		 rpos, wpos;
	int		 fds[SG_MSG_MAXFDS];
	size_t		 nfds;
	int		 broken;
};

#define BUFCAP	(SG_MSG_HDR + SG_MSG_MAX)

struct sg_msgbuf *
sg_msgbuf_new(int sock)
{
	struct sg_msgbuf *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->buf = malloc(BUFCAP)) == NULL) {
		free(b);
		return NULL;
	}
	b->sock = sock;
	return b;
}

void
sg_msgbuf_free(struct sg_msgbuf *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nfds; i++)
		close(b->fds[i]);
	free(b->buf);
	free(b);
}

ssize_t
sg_msgbuf_fill(struct sg_msgbuf *b)
{
	union {
		struct cmsghdr	c;
		char		b[CMSG_SPACE(SG_MSG_MAXFDS * sizeof(int))];
	} cm;
	struct cmsghdr *c;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;
	int bad = 0;

	if (b->rpos > 0) {
		memmove(b->buf, b->buf + b->rpos, b->wpos - b->rpos);
		b->wpos -= b->rpos;
		b->rpos = 0;
	}
	if (b->wpos == BUFCAP) {
		errno = ENOBUFS;	/* cannot happen: get takes whole ones */
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b->buf + b->wpos;
	iov.iov_len = BUFCAP - b->wpos;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	do
		n = recvmsg(b->sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t k, nf;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nf = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nf; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (b->nfds < SG_MSG_MAXFDS)
				b->fds[b->nfds++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	b->wpos += (size_t)n;
	if (bad || (mh.msg_flags & MSG_CTRUNC)) {
		b->broken = 1;
		errno = EPROTO;
		return -1;
	}
	return n;
}

int
sg_msgbuf_get(struct sg_msgbuf *b, const struct sg_msg_rule *rules,
    size_t nrules, struct sg_msg *m, char *err, size_t errcap)
{
	size_t used;
	int rc;

	if (b->broken) {
		snprintf(err, errcap, "%s", "the channel broke its protocol "
		    "earlier");
		return -1;
	}
	rc = sg_msg_parse(b->buf + b->rpos, b->wpos - b->rpos, b->nfds,
	    rules, nrules, m, &used, err, errcap);
	if (rc < 0) {
		b->broken = 1;
		return -1;
	}
	if (rc == 0) {
		if (b->wpos == b->rpos && b->nfds > 0) {
			/* a descriptor that no message claimed */
			snprintf(err, errcap, "%s", "a descriptor came that no "
			    "message claimed");
			b->broken = 1;
			return -1;
		}
		return 0;
	}
	if (m->fd == 0) {
		m->fd = b->fds[0];
		memmove(b->fds, b->fds + 1, --b->nfds * sizeof(int));
	}
	b->rpos += used;
	return 1;
}

void
sg_msgb_init(struct sg_msgb *b)
{
	memset(b, 0, sizeof(*b));
	b->ok = 1;
}

void
sg_msgb_free(struct sg_msgb *b)
{
	if (b->buf != NULL)
		explicit_bzero(b->buf, b->cap);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

void
sg_msg_put(struct sg_msgb *b, uint16_t tag, const void *p, size_t n)
{
	size_t need;

	if (!b->ok)
		return;
	if (n > SG_MSG_MAX || tag >= 64 || b->len + 6 + n > SG_MSG_MAX) {
		b->ok = 0;
		return;
	}
	need = b->len + 6 + n;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		unsigned char *nb;

		while (nc < need)
			nc *= 2;
		/* not realloc: what it holds (a key, a password) is
		 * wiped from the old block */
		if ((nb = malloc(nc)) == NULL) {
			b->ok = 0;
			return;
		}
		if (b->len > 0)
			memcpy(nb, b->buf, b->len);
		if (b->buf != NULL)
			explicit_bzero(b->buf, b->cap);
		free(b->buf);
		b->buf = nb;
		b->cap = nc;
	}
	b->buf[b->len] = tag & 0xff;
	b->buf[b->len + 1] = tag >> 8;
	put32(b->buf + b->len + 2, (uint32_t)n);
	if (n > 0)
		memcpy(b->buf + b->len + 6, p, n);
	b->len = need;
}

void
sg_msg_put_str(struct sg_msgb *b, uint16_t tag, const char *s)
{
	sg_msg_put(b, tag, s, strlen(s));
}

void
sg_msg_put_u64(struct sg_msgb *b, uint16_t tag, uint64_t v)
{
	unsigned char p[8];

	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
	sg_msg_put(b, tag, p, 8);
}

int
sg_msg_fields_ok(const unsigned char *data, size_t len)
{
	uint64_t seen = 0;
	size_t off = 0;

	while (off < len) {
		unsigned tag;
		uint32_t n;

		if (len - off < 6)
			return -1;
		tag = data[off] | (unsigned)data[off + 1] << 8;
		n = get32(data + off + 2);
		if (tag >= 64 || (seen & (1ULL << tag)))
			return -1;
		seen |= 1ULL << tag;
		off += 6;
		if (n > len - off)
			return -1;
		off += n;
	}
	return 0;
}

int
sg_msg_field(const unsigned char *data, size_t len, uint16_t tag,
    const unsigned char **p, size_t *n)
{
	size_t off = 0;

	while (off + 6 <= len) {
		unsigned t = data[off] | (unsigned)data[off + 1] << 8;
		uint32_t k = get32(data + off + 2);

		if (k > len - off - 6)
			return -1;
		if (t == tag) {
			*p = data + off + 6;
			*n = k;
			return 0;
		}
		off += 6 + (size_t)k;
	}
	return -1;
}

int
sg_msg_field_str(const unsigned char *data, size_t len, uint16_t tag,
    char *out, size_t cap)
{
	const unsigned char *p;
	size_t n;

	if (cap == 0 || sg_msg_field(data, len, tag, &p, &n) != 0 ||
	    n >= cap || memchr(p, 0, n) != NULL)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

int
sg_msg_field_u64(const unsigned char *data, size_t len, uint16_t tag,
    uint64_t *out)
{
	const unsigned char *p;
	size_t n;

	if (sg_msg_field(data, len, tag, &p, &n) != 0 || n != 8)
		return -1;
	*out = (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
	return 0;
}
