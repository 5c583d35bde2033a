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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_arrive_in_order),
		cmocka_unit_test(consumer_abort_releases_producer),
		cmocka_unit_test(zero_copy_blocks),
	};

	return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
