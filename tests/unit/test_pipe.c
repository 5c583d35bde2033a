/* Unit tests for common/base/pipe.c: bytes cross intact and in order between
 * two threads; an abort on either side releases the other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "base/pipe.h"

#define TOTAL	(3u << 20)

static unsigned char
byte_at(uint64_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

static void *
producer(void *arg)
{
	struct sg_pipe *p = arg;
	unsigned char buf[7919];
	uint64_t off = 0;
	size_t n, i;

	while (off < TOTAL) {
		n = sizeof(buf) - (off % 97);
		if (off + n > TOTAL)
			n = TOTAL - off;
		for (i = 0; i < n; i++)
			buf[i] = byte_at(off + i);
		if (sg_pipe_write(p, buf, n) != 0)
			return NULL;
		off += n;
	}
	sg_pipe_close(p);
	return NULL;
}

static void
bytes_arrive_in_order(void **state)
{
	struct sg_pipe *p = sg_pipe_new(4, 4096);
	pthread_t th;
	const void *blk;
	uint64_t off = 0;
	long n, i;

	(void)state;
	assert_non_null(p);
	assert_int_equal(pthread_create(&th, NULL, producer, p), 0);
	while ((n = sg_pipe_read(p, &blk)) > 0) {
		for (i = 0; i < n; i++)
			assert_int_equal(((const unsigned char *)blk)[i],
			    byte_at(off + (uint64_t)i));
		off += (uint64_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(off, TOTAL);
	pthread_join(th, NULL);
	sg_pipe_free(p);
}

static void
consumer_abort_releases_producer(void **state)
{
	struct sg_pipe *p = sg_pipe_new(2, 1024);
	pthread_t th;
	const void *blk;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, producer, p), 0);
	assert_true(sg_pipe_read(p, &blk) > 0);
	sg_pipe_abort(p);
	/* the producer's next write fails and it returns: join completes */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sg_pipe_read(p, &blk), -1);
	sg_pipe_free(p);
}

static void
zero_copy_blocks(void **state)
{
	struct sg_pipe *p = sg_pipe_new(2, 64);
	const void *blk;
	char *w;

	(void)state;
	w = sg_pipe_acquire(p);
	assert_non_null(w);
	memcpy(w, "hello", 5);
	assert_int_equal(sg_pipe_commit(p, 5), 0);
	sg_pipe_close(p);
	assert_int_equal(sg_pipe_read(p, &blk), 5);
	assert_memory_equal(blk, "hello", 5);
	assert_int_equal(sg_pipe_read(p, &blk), 0);
	sg_pipe_free(p);
}

/* A consumer that counts what it has dealt with, and relays syncs (it
 * has nothing downstream; it notes that it was asked). */
struct counter {
	struct sg_pipe	*p;
	size_t		 seen;		/* bytes dealt with */
	int		 syncs;		/* SG_PIPE_SYNC received */
};

static void *
counting_consumer(void *arg)
{
	struct counter *c = arg;
	const void *b;
	long n;

	while ((n = sg_pipe_read(c->p, &b)) > 0 || n == SG_PIPE_SYNC) {
		if (n == SG_PIPE_SYNC)
			c->syncs++;
		else
			c->seen += (size_t)n;
	}
	return NULL;
}

/* A sync returns only once the consumer has dealt with every byte
 * written before it, the partly filled block included; a relaying
 * consumer is told. */
static void
sync_waits_for_consumer(void **state)
{
	unsigned char buf[1000];
	struct counter c = { NULL, 0, 0 };
	pthread_t th;
	int relay, k;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	for (relay = 0; relay < 2; relay++) {
		c.seen = 0;
		c.syncs = 0;
		assert_non_null(c.p = sg_pipe_new(4, 4096));
		if (relay)
			sg_pipe_relay(c.p);
		assert_int_equal(pthread_create(&th, NULL, counting_consumer,
		    &c), 0);
		for (k = 1; k <= 20; k++) {
			/* 1000 bytes: never a whole block of 4096 */
			assert_int_equal(sg_pipe_write(c.p, buf, sizeof(buf)),
			    0);
			assert_int_equal(sg_pipe_sync(c.p), 0);
			assert_int_equal(c.seen, (size_t)k * sizeof(buf));
			assert_int_equal(c.syncs, relay ? k : 0);
		}
		/* nothing written since: a sync still returns */
		assert_int_equal(sg_pipe_sync(c.p), 0);
		sg_pipe_close(c.p);
		pthread_join(th, NULL);
		assert_int_equal(c.seen, 20 * sizeof(buf));
		sg_pipe_free(c.p);
	}
	/* an aborted pipe: the sync does not wait */
	assert_non_null(c.p = sg_pipe_new(4, 4096));
	sg_pipe_abort(c.p);
	assert_int_equal(sg_pipe_sync(c.p), -1);
	sg_pipe_free(c.p);
}

/* A reader that keeps up gets its blocks back to the writer at once: the
 * most recently freed is reused, so a stream of any length goes through
 * two blocks of eight (a new process touches those pages only). Both
 * ways of writing. */
static void
freed_blocks_are_reused_first(void **state)
{
	struct sg_pipe *p = sg_pipe_new(8, 64);
	const void *seen[3] = { NULL, NULL, NULL }, *blk;
	unsigned char buf[64];
	size_t nseen = 0, i, k;
	int round;

	(void)state;
	assert_non_null(p);
	memset(buf, 7, sizeof(buf));
	for (round = 0; round < 40; round++) {
		if (round < 20) {
			void *w = sg_pipe_acquire(p);

			assert_non_null(w);
			memcpy(w, buf, sizeof(buf));
			assert_int_equal(sg_pipe_commit(p, sizeof(buf)), 0);
		} else
			assert_int_equal(sg_pipe_write(p, buf, sizeof(buf)), 0);
		assert_int_equal(sg_pipe_read(p, &blk), 64);
		assert_memory_equal(blk, buf, sizeof(buf));
		for (k = 0; k < nseen && seen[k] != blk; k++)
			;
		if (k == nseen) {
			assert_true(nseen < 2);
			seen[nseen++] = blk;
		}
	}
	assert_int_equal(nseen, 2);
	/* and a full pipe still takes all eight, in order */
	for (i = 0; i < 7; i++) {
		memset(buf, (int)i, sizeof(buf));
		assert_int_equal(sg_pipe_write(p, buf, sizeof(buf)), 0);
	}
	sg_pipe_close(p);
	for (i = 0; i < 7; i++) {
		memset(buf, (int)i, sizeof(buf));
		assert_int_equal(sg_pipe_read(p, &blk), 64);
		assert_memory_equal(blk, buf, sizeof(buf));
	}
	assert_int_equal(sg_pipe_read(p, &blk), 0);
	sg_pipe_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_arrive_in_order),
		cmocka_unit_test(consumer_abort_releases_producer),
		cmocka_unit_test(zero_copy_blocks),
		cmocka_unit_test(sync_waits_for_consumer),
		cmocka_unit_test(freed_blocks_are_reused_first),
	};

	return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
