/*
 * sgwriter: a test writer for the store and the transfer log. It opens
 * the vault (running recovery), then seals COUNT objects of random size
 * to the storage identity, recording each; after each one is durable it
 * prints "durable SEQ ID" (flushed) so that a test that kills it knows
 * what must survive. Every fifth object deletes the oldest live one.
 *
 * usage: sgwriter --store DIR --log DIR --signing-key F --identity F
 *                 [--count N] [--max-size BYTES] [--checkpoint-every N]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seal/keys.h"
#include "store/vault.h"

struct rnd {
	uint64_t	s, left;
};

static uint64_t
next(struct rnd *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static ssize_t
rnd_src(void *arg, void *buf, size_t cap)
{
	struct rnd *r = arg;
	unsigned char *p = buf;
	size_t n = cap < r->left ? cap : (size_t)r->left, i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)next(r);
	r->left -= n;
	return (ssize_t)n;
}

static void
note(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "sgwriter: %s\n", msg);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "signing-key", required_argument, NULL, 'k' },
		{ "identity", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "checkpoint-every", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct sg_vault_opts vo;
	struct sg_age_identity *ids;
	struct sg_note_key signer;
	struct sg_put_result res;
	struct sg_vault *v;
	struct rnd r;
	char err[SG_ERR_MAX], id[SG_ID_MAX], (*live)[SG_ID_MAX];
	const char *kf = NULL, *idf = NULL;
	unsigned long count = 10, maxsize = 200000, i, nlive = 0, first = 0;
	uint64_t seq;
	long nids;
	int c;

	memset(&vo, 0, sizeof(vo));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 's': vo.store_dir = optarg; break;
		case 'l': vo.log_dir = optarg; break;
		case 'k': kf = optarg; break;
		case 'i': idf = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'm': maxsize = strtoul(optarg, NULL, 10); break;
		case 'c': vo.checkpoint_every = strtoull(optarg, NULL, 10);
			break;
		default: return 2;
		}
	if (!vo.store_dir || !vo.log_dir || !kf || !idf) {
		fprintf(stderr, "usage: sgwriter --store DIR --log DIR "
		    "--signing-key F --identity F [--count N]\n");
		return 2;
	}
	if (sg_signer_load(kf, &signer, err) != 0 ||
	    (nids = sg_identities_load(idf, &ids, err)) < 0) {
		fprintf(stderr, "sgwriter: %s\n", err);
		return 2;
	}
	vo.signer = &signer;
	vo.ids = ids;
	vo.nids = (size_t)nids;
	vo.create = 1;
	vo.note = note;
	if ((live = calloc(count + 1, sizeof(*live))) == NULL)
		return 2;
	if (sg_vault_open(&vo, &v, err) != 0) {
		fprintf(stderr, "sgwriter: %s\n", err);
		return 1;
	}
	r.s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b9;
	for (i = 0; i < count; i++) {
		r.left = next(&r) % (maxsize + 1);
		if (sg_vault_receive(v, (const unsigned char (*)[32])&ids[0].pk,
		    1, rnd_src, &r, "test-flow", id, &seq, &res, err) != 0) {
			fprintf(stderr, "sgwriter: %s\n", err);
			return 1;
		}
		printf("durable %" PRIu64 " %s\n", seq, id);
		fflush(stdout);
		memcpy(live[nlive++], id, SG_ID_MAX);
		if (i % 5 == 4 && first < nlive) {
			/* announced first: from here it may be gone */
			printf("deleting %s\n", live[first]);
			fflush(stdout);
			if (sg_vault_delete(v, live[first], "retention",
			    err) != 0) {
				fprintf(stderr, "sgwriter: %s\n", err);
				return 1;
			}
			first++;
		}
	}
	if (sg_vault_close(v, err) != 0) {
		fprintf(stderr, "sgwriter: %s\n", err);
		return 1;
	}
	sg_identities_free(ids, (size_t)nids);
	free(live);
	return 0;
}
