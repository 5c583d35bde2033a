/* Unit tests for daemon/front/sftp_wire.c, the SFTP packet parser the SSH
 * front door runs: each request becomes a record of typed fields, what
 * the core does not use is dropped, a packet that does not parse or
 * whose length is out of bounds becomes one SFC_BROKEN record after
 * which nothing is parsed, and a packet not yet whole waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "front/sftp_wire.h"

struct b {
	unsigned char	d[SFC_MAX + 64];
	size_t		n;
};

static void
u8(struct b *b, unsigned v)
{
	b->d[b->n++] = (unsigned char)v;
}

static void
u32(struct b *b, uint32_t v)
{
	u8(b, v >> 24);
	u8(b, (v >> 16) & 0xff);
	u8(b, (v >> 8) & 0xff);
	u8(b, v & 0xff);
}

static void
u64(struct b *b, uint64_t v)
{
	u32(b, (uint32_t)(v >> 32));
	u32(b, (uint32_t)v);
}

static void
str(struct b *b, const char *s)
{
	u32(b, (uint32_t)strlen(s));
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}

/* typed fields, as the core expects them */
static void
fu32(struct b *b, uint32_t v)
{
	u8(b, SFC_U32);
	u32(b, v);
}

static void
fstr(struct b *b, const char *s)
{
	u8(b, SFC_STR);
	str(b, s);
}

/* the record for packet p (no length prefix) must be want (no prefix) */
static void
expect(const struct b *p, const struct b *want)
{
	unsigned char out[SFC_MAX + 4];
	size_t n = sftp_canon(p->d, p->n, out, sizeof(out));

	assert_int_equal(n, want->n + 4);
	assert_int_equal(((size_t)out[0] << 24 | (size_t)out[1] << 16 |
	    (size_t)out[2] << 8 | out[3]), want->n);
	assert_memory_equal(out + 4, want->d, want->n);
}

static void
expect_broken(const struct b *p, uint32_t why)
{
	struct b w = { .n = 0 };

	u8(&w, SFC_BROKEN);
	fu32(&w, why);
	expect(p, &w);
}

static void
open_with_attrs(void **state)
{
	struct b p = { .n = 0 }, w = { .n = 0 };

	(void)state;
	u8(&p, 3);
	u32(&p, 7);
	str(&p, "/send/a/census.zip");
	u32(&p, 0x1a);
	u32(&p, 0x80000005u);		/* size, permissions, extended */
	u64(&p, 1234);
	u32(&p, 0600);
	u32(&p, 1);			/* one extended pair, dropped */
	str(&p, "name@example");
	str(&p, "value");
	u8(&w, 3);
	fu32(&w, 7);
	fstr(&w, "/send/a/census.zip");
	fu32(&w, 0x1a);
	u8(&w, SFC_ATTRS);
	u32(&w, 0x5);			/* the extended flag cleared */
	u64(&w, 1234);
	u32(&w, 0);
	u32(&w, 0);
	u32(&w, 0600);
	u32(&w, 0);
	u32(&w, 0);
	assert_int_equal(SFC_ATTRS_LEN, 32);
	expect(&p, &w);
}

static void
write_read_and_trailing_bytes(void **state)
{
	struct b p = { .n = 0 }, w = { .n = 0 };

	(void)state;
	u8(&p, 6);
	u32(&p, 9);
	str(&p, "h1");
	u64(&p, 65536);
	str(&p, "URN,UPN\r\n");
	u8(&w, 6);
	fu32(&w, 9);
	fstr(&w, "h1");
	u8(&w, SFC_U64);
	u64(&w, 65536);
	fstr(&w, "URN,UPN\r\n");
	expect(&p, &w);
	/* bytes after what a request has are not passed on */
	u32(&p, 0xdeadbeef);
	expect(&p, &w);

	p.n = w.n = 0;
	u8(&p, 5);
	u32(&p, 10);
	str(&p, "h1");
	u64(&p, 0);
	u32(&p, 32768);
	u8(&w, 5);
	fu32(&w, 10);
	fstr(&w, "h1");
	u8(&w, SFC_U64);
	u64(&w, 0);
	fu32(&w, 32768);
	expect(&p, &w);
}

static void
what_the_core_refuses_by_id(void **state)
{
	struct b p = { .n = 0 }, w = { .n = 0 };

	(void)state;
	/* MKDIR: the core answers by its id alone */
	u8(&p, 14);
	u32(&p, 11);
	str(&p, "/send/new");
	u32(&p, 0);
	u8(&w, 14);
	fu32(&w, 11);
	expect(&p, &w);
	/* an unknown type likewise */
	p.n = w.n = 0;
	u8(&p, 99);
	u32(&p, 12);
	str(&p, "anything");
	u8(&w, 99);
	fu32(&w, 12);
	expect(&p, &w);
	/* an extension not offered: its name, nothing of its data */
	p.n = w.n = 0;
	u8(&p, 200);
	u32(&p, 13);
	str(&p, "statvfs@openssh.com");
	str(&p, "/");
	u8(&w, 200);
	fu32(&w, 13);
	fstr(&w, "statvfs@openssh.com");
	expect(&p, &w);
	/* the one offered: its two paths */
	p.n = w.n = 0;
	u8(&p, 200);
	u32(&p, 14);
	str(&p, "posix-rename@openssh.com");
	str(&p, "/send/a/x");
	str(&p, "/send/a/y");
	u8(&w, 200);
	fu32(&w, 14);
	fstr(&w, "posix-rename@openssh.com");
	fstr(&w, "/send/a/x");
	fstr(&w, "/send/a/y");
	expect(&p, &w);
}

static void
malformed_packets_are_broken(void **state)
{
	struct b p = { .n = 0 };

	(void)state;
	/* a string longer than the packet */
	u8(&p, 17);
	u32(&p, 1);
	u32(&p, 100);
	str(&p, "ab");
	expect_broken(&p, SFC_WHY_MALFORMED);
	/* no id */
	p.n = 0;
	u8(&p, 4);
	u8(&p, 0);
	expect_broken(&p, SFC_WHY_MALFORMED);
	/* attributes cut short */
	p.n = 0;
	u8(&p, 9);
	u32(&p, 2);
	str(&p, "/receive/x");
	u32(&p, 0x8);			/* times, absent */
	expect_broken(&p, SFC_WHY_MALFORMED);
	/* extended pairs counted beyond the packet */
	p.n = 0;
	u8(&p, 9);
	u32(&p, 2);
	str(&p, "/receive/x");
	u32(&p, 0x80000000u);
	u32(&p, 0xffffffffu);
	expect_broken(&p, SFC_WHY_MALFORMED);
	/* type 0 is no SFTP type: a client cannot send what the front
	 * would, nor choose the reason journalled */
	p.n = 0;
	u8(&p, SFC_BROKEN);
	u32(&p, SFC_WHY_SIZE);
	expect_broken(&p, SFC_WHY_MALFORMED);
	/* a packet over the limit */
	p.n = 0;
	u8(&p, 6);
	memset(p.d + 1, 0, SFTP_MAX_PACKET);
	p.n = SFTP_MAX_PACKET + 1;
	expect_broken(&p, SFC_WHY_SIZE);
}

/* The largest growth: an OPEN of the largest size whose attributes are
 * flags alone; its record fits SFC_MAX, and the capacity the header
 * names is enough, one byte less is not. */
static void
largest_record(void **state)
{
	struct b p = { .n = 0 };
	unsigned char out[SFC_MAX + 4];
	size_t n, pathlen = SFTP_MAX_PACKET - 1 - 4 - 4 - 4 - 4;

	(void)state;
	u8(&p, 3);
	u32(&p, 1);
	u32(&p, (uint32_t)pathlen);
	memset(p.d + p.n, 'a', pathlen);
	p.n += pathlen;
	u32(&p, 0x1a);
	u32(&p, 0);
	assert_int_equal(p.n, SFTP_MAX_PACKET);
	n = sftp_canon(p.d, p.n, out, p.n + 4 + SFC_GROWTH);
	assert_false(sftp_canon_broken(out, n));
	assert_true(n - 4 <= SFC_MAX);
	n = sftp_canon(p.d, p.n, out, p.n + 4 + SFC_GROWTH - 1);
	assert_true(sftp_canon_broken(out, n));
	assert_int_equal(out[8], 0);
	assert_int_equal(out[9], SFC_WHY_SIZE);
}

static void
a_stream_of_packets(void **state)
{
	struct b s = { .n = 0 };
	unsigned char out[4 * (SFC_MAX + 4)];
	size_t used, n, third;
	int broken;

	(void)state;
	/* two whole STATs, then the start of a third */
	u32(&s, 1 + 4 + 4 + 3);
	u8(&s, 17);
	u32(&s, 1);
	str(&s, "/a1");
	u32(&s, 1 + 4 + 4 + 3);
	u8(&s, 17);
	u32(&s, 2);
	str(&s, "/a2");
	third = s.n;
	u32(&s, 1 + 4 + 4 + 3);
	u8(&s, 17);
	n = sftp_canon_stream(s.d, s.n, &used, out, sizeof(out), &broken);
	assert_int_equal(broken, 0);
	assert_int_equal(used, third);
	assert_int_equal(n, 2 * (4 + 1 + 5 + 5 + 3));
	assert_int_equal(out[4], 17);
	assert_int_equal(out[18 + 4], 17);
	/* no room for the largest record: nothing is parsed */
	n = sftp_canon_stream(s.d, s.n, &used, out, SFC_MAX + 3, &broken);
	assert_int_equal(n, 0);
	assert_int_equal(used, 0);
	/* a length out of bounds: one SFC_BROKEN record, all is used */
	s.n = 0;
	u32(&s, 0);
	u32(&s, 9);
	n = sftp_canon_stream(s.d, s.n, &used, out, sizeof(out), &broken);
	assert_int_equal(broken, 1);
	assert_int_equal(used, s.n);
	assert_int_equal(n, 10);
	assert_int_equal(out[4], SFC_BROKEN);
	assert_true(sftp_canon_broken(out, n));
	/* a malformed packet after a good one: the good one, then the
	 * broken one, and nothing after it */
	s.n = 0;
	u32(&s, 1 + 4 + 4 + 3);
	u8(&s, 17);
	u32(&s, 1);
	str(&s, "/a1");
	u32(&s, 2);
	u8(&s, 4);
	u8(&s, 0);
	u32(&s, 1 + 4 + 4 + 3);
	u8(&s, 17);
	u32(&s, 3);
	str(&s, "/a3");
	n = sftp_canon_stream(s.d, s.n, &used, out, sizeof(out), &broken);
	assert_int_equal(broken, 1);
	assert_int_equal(used, s.n);
	assert_int_equal(n, 18 + 10);
	assert_false(sftp_canon_broken(out, 18));
	assert_true(sftp_canon_broken(out + 18, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_with_attrs),
		cmocka_unit_test(write_read_and_trailing_bytes),
		cmocka_unit_test(what_the_core_refuses_by_id),
		cmocka_unit_test(malformed_packets_are_broken),
		cmocka_unit_test(largest_record),
		cmocka_unit_test(a_stream_of_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
