/*
 * logbench: transfer-log append rates for scripts/bench-seal.
 *
 *   logbench DIR SIGNING_KEY per-record N   durable appends, one writer
 *   logbench DIR SIGNING_KEY bare N         write+fdatasync of the same
 *                                           record size, no log at all
 *   logbench DIR SIGNING_KEY group N T      N appends from T threads
 *
 * Prints "<records/s> <record bytes>".
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seal/keys.h"
#include "log/tlog.h"

static struct sg_log *lg;
static unsigned long per_thread;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
payload(struct sg_payload *p, unsigned long i)
{
	unsigned char h[32];

	memset(h, (int)(i & 0xff), sizeof(h));
	sg_payload_init(p);
	sg_payload_str(p, "flow", "census");
	sg_payload_str(p, "object", "20261122-0123456789abcdef");
	sg_payload_hex(p, "object_sha256", h, 32);
	sg_payload_u64(p, "object_size", 1048576 + i);
	sg_payload_hex(p, "plain_sha256", h, 32);
	sg_payload_u64(p, "plain_size", 1048000 + i);
	sg_payload_u64(p, "recipients", 2);
	sg_payload_u64(p, "rows", 1234);
	if (sg_payload_end(p) != 0)
		abort();
}

static void *
writer(void *arg)
{
	struct sg_payload p;
	char err[SG_ERR_MAX];
	unsigned long i;
	uint64_t seq;

	(void)arg;
	for (i = 0; i < per_thread; i++) {
		payload(&p, i);
		if (sg_log_append(lg, SG_REC_RECEIVED, &p, &seq, err) != 0) {
			fprintf(stderr, "logbench: %s\n", err);
			exit(1);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sg_log_opts o;
	struct sg_note_key k;
	struct sg_payload p;
	char err[SG_ERR_MAX], path[4200];
	unsigned long n, t = 1, i;
	pthread_t *th;
	double t0, dt;
	size_t rec;
	int fd;

	if (argc < 5)
		return 2;
	n = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		t = strtoul(argv[5], NULL, 10);
	payload(&p, 0);
	rec = SG_REC_HDR + p.len + SG_REC_SUM;
	if (strcmp(argv[3], "bare") == 0) {
		unsigned char *buf = calloc(1, rec);
		snprintf(path, sizeof(path), "%s/bare", argv[1]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
		    0600)) < 0)
			return 1;
		t0 = now();
		for (i = 0; i < n; i++)
			if (write(fd, buf, rec) != (ssize_t)rec ||
			    fdatasync(fd) != 0)
				return 1;
		dt = now() - t0;
		close(fd);
		free(buf);
		printf("%.0f %zu\n", (double)n / dt, rec);
		return 0;
	}
	if (sg_signer_load(argv[2], &k, err) != 0) {
		fprintf(stderr, "logbench: %s\n", err);
		return 1;
	}
	memset(&o, 0, sizeof(o));
	o.dir = argv[1];
	o.signer = &k;
	o.create = 1;
	o.checkpoint_every = 1000;
	if (sg_log_open(&o, &lg, err) != 0) {
		fprintf(stderr, "logbench: %s\n", err);
		return 1;
	}
	if (strcmp(argv[3], "group") != 0)
		t = 1;
	per_thread = n / t;
	th = calloc(t, sizeof(*th));
	t0 = now();
	for (i = 0; i < t; i++)
		pthread_create(&th[i], NULL, writer, NULL);
	for (i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	dt = now() - t0;
	printf("%.0f %zu\n", (double)(per_thread * t) / dt, rec);
	free(th);
	return sg_log_close(lg, err) == 0 ? 0 : 1;
}
