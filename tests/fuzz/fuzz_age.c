/* libFuzzer target: the age reader (binary and armored header, stanzas,
 * the header MAC, the payload's chunks), fed from memory in odd-sized
 * reads, with a fixed test identity (made for this target, never used
 * elsewhere) so that well-formed seeds reach the payload. Whatever the
 * input: a failure names its reason, and nothing is passed on that did
 * not authenticate (the sink sees whole chunks, at most 64 KiB each). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "seal/age.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *key = "AGE-SECRET-KEY-1KTC3FN5LJRF74YC0LT3FSKCTPK9GZUFE4"
    "KNJC6XKFEH7ZCVAG4SQNXKJQ4";

struct mem {
	const uint8_t	*p;
	size_t		 n, off;
};

static ssize_t
src(void *arg, void *buf, size_t cap)
{
	struct mem *m = arg;
	size_t n = m->n - m->off;

	if (n > cap)
		n = cap;
	if (n > 1021)
		n = 1021;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int
sink(void *arg, const void *buf, size_t len)
{
	(void)buf;
	if (len > 65536)
		__builtin_trap();
	*(size_t *)arg += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_age_identity id;
	static int ready;
	struct mem m = { data, size, 0 };
	const char *why = NULL;
	size_t out = 0, hlen;
	int rc;

	if (!ready) {
		if (sg_age_identity_parse(key, &id) != 0)
			__builtin_trap();
		ready = 1;
	}
	rc = sg_age_decrypt(&id, 1, src, &m, sink, &out, &why);
	if (rc != SG_AGE_OK && why == NULL)
		__builtin_trap();	/* refused without a reason */
	if (out > size)
		__builtin_trap();	/* more out than came in */
	why = NULL;
	if (sg_age_header_len(data, size, &hlen, &why) == SG_AGE_OK) {
		if (hlen > size)
			__builtin_trap();
	} else if (why == NULL)
		__builtin_trap();
	return 0;
}
