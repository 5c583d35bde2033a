/* Unit tests for common/base/msg.c: messages cross a socketpair whole,
 * with their descriptors; every shape the rules do not allow is refused
 * and the channel stays refused; payload fields are checked before they
 * are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/msg.h"

enum { T_HELLO = 1, T_FILE = 2, T_BIG = 3, T_MAYFD = 4 };

static const struct sg_msg_rule rules[] = {
	{ T_HELLO, 0, 64, 0 },
	{ T_FILE, 8, 8, 1 },
	{ T_BIG, 0, SG_MSG_MAX, 0 },
	{ T_MAYFD, 0, 16, 2 },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* Read until a message or a violation. */
static int
next(struct sg_msgbuf *b, struct sg_msg *m, char *err)
{
	int rc;

	while ((rc = sg_msgbuf_get(b, rules, NRULES, m, err, 200)) == 0)
		if (sg_msgbuf_fill(b) <= 0)
			return -2;
	return rc;
}

static void
message_and_descriptor_cross(void **state)
{
	int sv[2], p[2];
	struct sg_msgbuf *b;
	struct sg_msg m;
	char err[200], got[8];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(sg_msg_send(sv[0], T_HELLO, 7, -1, "hi", 2), 0);
	assert_int_equal(sg_msg_send(sv[0], T_FILE, 9, p[0], "12345678", 8),
	    0);
	close(p[0]);
	assert_non_null(b = sg_msgbuf_new(sv[1]));
	assert_int_equal(next(b, &m, err), 1);
	assert_int_equal(m.type, T_HELLO);
	assert_int_equal(m.peer, 7);
	assert_int_equal(m.len, 2);
	assert_memory_equal(m.data, "hi", 2);
	assert_int_equal(m.fd, -1);
	assert_int_equal(next(b, &m, err), 1);
	assert_int_equal(m.type, T_FILE);
	assert_true(m.fd >= 0);
	assert_true(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	/* the descriptor is the pipe: what goes in one end comes out of it */
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_int_equal(read(m.fd, got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	close(m.fd);
	close(p[1]);
	close(sv[0]);
	assert_int_equal(next(b, &m, err), -2);	/* end of stream */
	sg_msgbuf_free(b);
	close(sv[1]);
}

struct big {
	int		 sock;
	unsigned char	*data;
};

static void *
send_big(void *arg)
{
	struct big *x = arg;
	int i;

	for (i = 0; i < 4; i++)
		if (sg_msg_send(x->sock, T_BIG, (uint32_t)i, -1, x->data,
		    SG_MSG_MAX) != 0)
			return (void *)1;
	return NULL;
}

static void
largest_messages_arrive_whole(void **state)
{
	int sv[2], i;
	struct big x;
	struct sg_msgbuf *b;
	struct sg_msg m;
	pthread_t t;
	void *rv;
	char err[200];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	x.sock = sv[0];
	assert_non_null(x.data = malloc(SG_MSG_MAX));
	for (i = 0; i < SG_MSG_MAX; i++)
		x.data[i] = (unsigned char)(i * 31 + 7);
	assert_int_equal(pthread_create(&t, NULL, send_big, &x), 0);
	assert_non_null(b = sg_msgbuf_new(sv[1]));
	for (i = 0; i < 4; i++) {
		assert_int_equal(next(b, &m, err), 1);
		assert_int_equal(m.type, T_BIG);
		assert_int_equal(m.peer, (uint32_t)i);
		assert_int_equal(m.len, SG_MSG_MAX);
		assert_memory_equal(m.data, x.data, SG_MSG_MAX);
	}
	assert_int_equal(pthread_join(t, &rv), 0);
	assert_null(rv);
	/* over the bound: the sender refuses to send it */
	assert_int_equal(sg_msg_send(sv[0], T_BIG, 0, -1, x.data,
	    SG_MSG_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	sg_msgbuf_free(b);
	free(x.data);
	close(sv[0]);
	close(sv[1]);
}

/* A raw header, as a broken or hostile peer might write it. */
static void
raw(unsigned char *h, uint32_t type, uint32_t len, uint32_t flags)
{
	memset(h, 0, SG_MSG_HDR);
	h[0] = type & 0xff, h[1] = type >> 8 & 0xff;
	h[4] = len & 0xff, h[5] = len >> 8 & 0xff, h[6] = len >> 16 & 0xff;
	h[7] = len >> 24;
	h[12] = flags & 0xff, h[13] = flags >> 8 & 0xff;
}

static void
violations_are_refused(void **state)
{
	unsigned char h[SG_MSG_HDR + 64];
	struct sg_msg m;
	size_t used;
	char err[200];

	(void)state;
	memset(h, 'x', sizeof(h));
	/* unknown type */
	raw(h, 99, 0, 0);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "type 99"));
	/* too long for its type, and over the bound of any type */
	raw(h, T_HELLO, 65, 0);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	raw(h, T_BIG, SG_MSG_MAX + 1, 0);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	/* too short for its type */
	raw(h, T_FILE, 7, SG_MSG_FD);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 1, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	/* a descriptor where none may come, none where one must */
	raw(h, T_HELLO, 0, SG_MSG_FD);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 1, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	raw(h, T_FILE, 8, 0);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	/* flagged, and no descriptor came */
	raw(h, T_MAYFD, 0, SG_MSG_FD);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	/* unknown flags */
	raw(h, T_HELLO, 0, 0x100);
	assert_int_equal(sg_msg_parse(h, sizeof(h), 0, rules, NRULES, &m,
	    &used, err, sizeof(err)), -1);
	/* a whole one, and one whose payload has not all come */
	raw(h, T_HELLO, 3, 0);
	assert_int_equal(sg_msg_parse(h, SG_MSG_HDR + 3, 0, rules, NRULES,
	    &m, &used, err, sizeof(err)), 1);
	assert_int_equal(used, SG_MSG_HDR + 3);
	assert_int_equal(sg_msg_parse(h, SG_MSG_HDR + 2, 0, rules, NRULES,
	    &m, &used, err, sizeof(err)), 0);
	assert_int_equal(sg_msg_parse(h, SG_MSG_HDR - 1, 0, rules, NRULES,
	    &m, &used, err, sizeof(err)), 0);
}

static void
broken_channel_stays_broken(void **state)
{
	int sv[2];
	unsigned char h[SG_MSG_HDR];
	struct sg_msgbuf *b;
	struct sg_msg m;
	char err[200];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	raw(h, 42, 0, 0);
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(sg_msg_send(sv[0], T_HELLO, 0, -1, "ok", 2), 0);
	assert_non_null(b = sg_msgbuf_new(sv[1]));
	assert_int_equal(next(b, &m, err), -1);
	/* the well-formed message after it is not read */
	assert_int_equal(sg_msgbuf_get(b, rules, NRULES, &m, err,
	    sizeof(err)), -1);
	sg_msgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}

static void
unclaimed_descriptor_is_refused(void **state)
{
	int sv[2], p[2];
	struct sg_msgbuf *b;
	struct sg_msg m;
	char err[200];
	unsigned char h[SG_MSG_HDR];
	union {
		struct cmsghdr	c;
		char		b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { h, sizeof(h) };
	struct msghdr mh;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	/* a header that says "no descriptor", sent with one */
	raw(h, T_MAYFD, 0, 0);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	cm.c.cmsg_level = SOL_SOCKET;
	cm.c.cmsg_type = SCM_RIGHTS;
	cm.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.c), &p[0], sizeof(int));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(h));
	assert_non_null(b = sg_msgbuf_new(sv[1]));
	assert_int_equal(next(b, &m, err), 1);
	assert_int_equal(m.fd, -1);
	assert_int_equal(next(b, &m, err), -1);
	assert_non_null(strstr(err, "no message claimed"));
	sg_msgbuf_free(b);	/* closes it */
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void
fields_are_checked(void **state)
{
	struct sg_msgb b;
	char s[16];
	uint64_t v;
	const unsigned char *p;
	size_t n;

	(void)state;
	sg_msgb_init(&b);
	sg_msg_put_str(&b, 1, "flow-a");
	sg_msg_put_u64(&b, 2, 0x0102030405060708ULL);
	sg_msg_put(&b, 3, "\0x", 2);
	assert_true(b.ok);
	assert_int_equal(sg_msg_fields_ok(b.buf, b.len), 0);
	assert_int_equal(sg_msg_field_str(b.buf, b.len, 1, s, sizeof(s)), 0);
	assert_string_equal(s, "flow-a");
	assert_int_equal(sg_msg_field_u64(b.buf, b.len, 2, &v), 0);
	assert_true(v == 0x0102030405060708ULL);
	/* a NUL inside a string, a number of the wrong size, too small a
	 * buffer, an absent tag */
	assert_int_equal(sg_msg_field_str(b.buf, b.len, 3, s, sizeof(s)), -1);
	assert_int_equal(sg_msg_field_u64(b.buf, b.len, 1, &v), -1);
	assert_int_equal(sg_msg_field_str(b.buf, b.len, 1, s, 6), -1);
	assert_int_equal(sg_msg_field(b.buf, b.len, 9, &p, &n), -1);
	/* truncated, or a tag twice: not well formed */
	assert_int_equal(sg_msg_fields_ok(b.buf, b.len - 1), -1);
	sg_msg_put_str(&b, 1, "again");
	assert_int_equal(sg_msg_fields_ok(b.buf, b.len), -1);
	/* a tag beyond 63 cannot be written */
	sg_msg_put_str(&b, 64, "x");
	assert_false(b.ok);
	sg_msgb_free(&b);
}

/* The queue never blocks: what the socket does not take waits, in
 * order, with its descriptor, and arrives whole once the reader reads;
 * a reader that went away is an error, not a wait. */
static void
queue_waits_for_a_full_socket(void **state)
{
	int sv[2], p[2], one = 4096;
	struct sg_msgq *q;
	struct sg_msgbuf *b;
	struct sg_msg m;
	static unsigned char big[SG_MSG_MAX];
	char err[200];
	unsigned k, got = 0;
	int rc;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one,
	    sizeof(one)), 0);
	assert_int_equal(pipe(p), 0);
	assert_non_null(q = sg_msgq_new());
	for (k = 0; k < sizeof(big); k++)
		big[k] = (unsigned char)(k * 7);
	for (k = 0; k < 8; k++)
		assert_int_equal(sg_msgq_put(q, T_BIG, k, -1, big, sizeof(big)),
		    0);
	assert_int_equal(sg_msgq_put(q, T_FILE, 8, p[0], "12345678", 8), 0);
	assert_int_equal(sg_msgq_bytes(q), 8 * (SG_MSG_HDR + sizeof(big)) +
	    SG_MSG_HDR + 8);
	assert_int_equal(sg_msgq_fds(q), 1);	/* counted for the bound */
	/* nobody reads yet: it returns at once, with most still queued */
	assert_int_equal(sg_msgq_flush(q, sv[0]), 1);
	assert_true(sg_msgq_bytes(q) > 6 * sizeof(big));
	assert_non_null(b = sg_msgbuf_new(sv[1]));
	for (;;) {
		rc = sg_msgq_flush(q, sv[0]);
		assert_true(rc >= 0);
		while ((rc = sg_msgbuf_get(b, rules, NRULES, &m, err,
		    sizeof(err))) == 1) {
			if (got < 8) {
				assert_int_equal(m.type, T_BIG);
				assert_int_equal(m.peer, got);
				assert_int_equal(m.len, sizeof(big));
				assert_memory_equal(m.data, big, sizeof(big));
			} else {
				assert_int_equal(m.type, T_FILE);
				assert_true(m.fd >= 0);
				close(m.fd);
			}
			got++;
		}
		assert_int_equal(rc, 0);
		if (got == 9)
			break;
		assert_true(sg_msgbuf_fill(b) > 0);
	}
	assert_int_equal(sg_msgq_bytes(q), 0);
	assert_int_equal(sg_msgq_fds(q), 0);
	/* the reader is gone: an error at once */
	sg_msgbuf_free(b);
	close(sv[1]);
	assert_int_equal(sg_msgq_put(q, T_HELLO, 0, -1, "x", 1), 0);
	assert_int_equal(sg_msgq_flush(q, sv[0]), -1);
	/* freed with a message and its descriptor still queued */
	assert_int_equal(sg_msgq_put(q, T_FILE, 8, p[1], "12345678", 8), 0);
	sg_msgq_free(q);
	assert_int_equal(fcntl(p[1], F_GETFD), -1);	/* closed */
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(message_and_descriptor_cross),
		cmocka_unit_test(largest_messages_arrive_whole),
		cmocka_unit_test(violations_are_refused),
		cmocka_unit_test(broken_channel_stays_broken),
		cmocka_unit_test(unclaimed_descriptor_is_refused),
		cmocka_unit_test(fields_are_checked),
		cmocka_unit_test(queue_waits_for_a_full_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
