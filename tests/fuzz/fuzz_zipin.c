/* libFuzzer target: ZIP intake (libarchive's streaming reader plus our
 * local-header and central-directory checks), fed from memory in small
 * reads. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "intake/zipin.h"

struct mem {
	const uint8_t	*p;
	size_t		 n, off;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ssize_t
src(void *arg, void *buf, size_t cap)
{
	struct mem *m = arg;
	size_t n = m->n - m->off;

	if (n > cap)
		n = cap;
	if (n > 4099)
		n = 4099;	/* odd-sized reads */
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int
sink(void *arg, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)arg += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_limits lim = { 1 << 20, 100, 4, 64 };
	struct sg_zipin_opts o = { "password", SG_ENC_ZIP_AES |
	    SG_ENC_ZIP_LEGACY, 0, &lim, NULL, 0 };
	struct mem m = { data, size, 0 };
	struct sg_report r;
	size_t out = 0;
	int rc;

	sg_report_init(&r, 10);
	rc = sg_zipin_run(&o, NULL, 0, src, &m, sink, &out, &r);
	if (rc != 0 && !r.rejected)
		__builtin_trap();	/* refused without a reason */
	if (out > lim.max_bytes)
		__builtin_trap();	/* a limit was not enforced */
	sg_report_free(&r);
	return 0;
}
