/*
 * msg: typed, length-checked messages between the gateway's processes,
 * over a connected AF_UNIX stream socket (socketpair), in the manner of
 * OpenBSD's imsg.
 *
 * A message is a fixed 16-byte header (type, payload length, peer id,
 * flags), then the payload. A message may carry one file descriptor,
 * sent with SCM_RIGHTS alongside its header's first byte, so that a
 * process can be handed a file it may not open itself.
 *
 * There is one parser, sg_msg_parse(). The receiver gives it the rules
 * for the types it accepts (the payload's least and greatest length,
 * whether a descriptor comes with it): a type it does not list, a length
 * outside its rule, a descriptor where none is allowed or none where one
 * is required, is a violation. After a violation the channel is not
 * read again: the sender is not trusted any more, and the receiver says
 * so and closes it.
 *
 * A payload is a sequence of fields (a 16-bit tag, a 32-bit length, the
 * bytes), written with sg_msg_put_*() and read with sg_msg_field(),
 * which checks the whole payload's shape before it answers.
 *
 * Contract: nothing here keeps global state; a struct sg_msgbuf belongs
 * to one thread at a time. Descriptors received are close-on-exec.
 */
#ifndef SG_MSG_H
#define SG_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SG_MSG_HDR	16
#define SG_MSG_MAX	(256 * 1024)	/* a payload's bound, any type */
#define SG_MSG_FD	0x1		/* flags: a descriptor comes with it */
#define SG_MSG_MAXFDS	8		/* descriptors queued, unclaimed */

struct sg_msg_rule {
	uint32_t	type;
	uint32_t	min, max;	/* payload bytes */
	int		fd;		/* 0: none, 1: required, 2: may */
};

struct sg_msg {
	uint32_t		 type, peer;
	const unsigned char	*data;	/* valid until the next get */
	size_t			 len;
	int			 fd;	/* -1: none; the caller owns it */
};

/* Pure: the first message in buf[0..len), checked against rules. With
 * nfds descriptors available for it (0 or more), returns 1 and fills m
 * (m->fd = 0 when one is claimed: the caller takes it) and *used; 0 when
 * more bytes are needed; -1 on a violation, with err saying what. */
int	sg_msg_parse(const unsigned char *buf, size_t len, size_t nfds,
	    const struct sg_msg_rule *rules, size_t nrules, struct sg_msg *m,
	    size_t *used, char *err, size_t errcap);

/* Write one message, whole, on a blocking or non-blocking socket (it
 * waits with poll(2) when the socket is full). fd < 0: none. 0, or -1
 * with errno set. */
int	sg_msg_send(int sock, uint32_t type, uint32_t peer, int fd,
	    const void *data, size_t len);

/* The header of a message, for a caller that writes it itself (on a
 * non-blocking socket, say); no descriptor can go with it then. */
void	sg_msg_header(unsigned char hdr[SG_MSG_HDR], uint32_t type,
	    uint32_t peer, size_t len);
/* What of a message (hdr, then len bytes of data) is left to write once
 * sent bytes have gone, as at most two iovecs: their count. */

int	sg_msg_iov(struct iovec *iov, unsigned char hdr[SG_MSG_HDR],
	    const void *data, size_t len, size_t sent);

/* A queue of messages for a non-blocking socket, for a process that
 * must never wait on its peer (the core, on a front it does not trust):
 * sg_msgq_put() copies the message (and takes fd, which is closed once
 * sent, or with the queue); sg_msgq_flush() writes what the socket
 * takes: 0 (all sent), 1 (wait until it is writable), -1 (errno: the
 * peer is gone). sg_msgq_bytes() is what waits, for the caller to
 * bound. */
struct sg_msgq;

struct sg_msgq *sg_msgq_new(void);
void	sg_msgq_free(struct sg_msgq *);
int	sg_msgq_put(struct sg_msgq *, uint32_t type, uint32_t peer, int fd,
	    const void *data, size_t len);
int	sg_msgq_flush(struct sg_msgq *, int sock);
size_t	sg_msgq_bytes(const struct sg_msgq *);
/* the descriptors it holds (each open until its message is sent): the
 * caller bounds them too */
size_t	sg_msgq_fds(const struct sg_msgq *);

struct sg_msgbuf;

struct sg_msgbuf *sg_msgbuf_new(int sock);
/* Closes the descriptors received and not claimed, not the socket. */
void	sg_msgbuf_free(struct sg_msgbuf *);
/* Read what the socket has (one recvmsg). Returns the bytes read, 0 at
 * the end of the stream, -1 with errno (EAGAIN on a non-blocking socket
 * with nothing to read; EPROTO when descriptors were cut short). */
ssize_t	sg_msgbuf_fill(struct sg_msgbuf *);
/* The next whole message: 1 (m filled; its data lasts until the next
 * call), 0 (fill again), -1 (a violation: err says what; the buffer
 * answers -1 from then on). */
int	sg_msgbuf_get(struct sg_msgbuf *, const struct sg_msg_rule *rules,
	    size_t nrules, struct sg_msg *m, char *err, size_t errcap);

/* Payload fields. A builder grows as needed; an error sticks (ok = 0). */
struct sg_msgb {
	unsigned char	*buf;
	size_t		 len, cap;
	int		 ok;
};

void	sg_msgb_init(struct sg_msgb *);
void	sg_msgb_free(struct sg_msgb *);
void	sg_msg_put(struct sg_msgb *, uint16_t tag, const void *, size_t);
void	sg_msg_put_str(struct sg_msgb *, uint16_t tag, const char *);
void	sg_msg_put_u64(struct sg_msgb *, uint16_t tag, uint64_t);

/* Whether data[0..len) is a well-formed sequence of fields, each tag at
 * most once (tags < 64). 0 or -1. */
int	sg_msg_fields_ok(const unsigned char *data, size_t len);
/* The field tag in a payload sg_msg_fields_ok() accepted: 0 and *p, *n,
 * or -1 when absent. */
int	sg_msg_field(const unsigned char *data, size_t len, uint16_t tag,
	    const unsigned char **p, size_t *n);
/* A field as a string (no NUL inside, at most cap - 1 bytes) or as a
 * 64-bit number (exactly 8 bytes): 0, or -1 when absent or malformed. */
int	sg_msg_field_str(const unsigned char *data, size_t len, uint16_t tag,
	    char *out, size_t cap);
int	sg_msg_field_u64(const unsigned char *data, size_t len, uint16_t tag,
	    uint64_t *out);

#endif
