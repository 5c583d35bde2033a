/*
 * schoolgate log verify | show | prove, and schoolgate store recover.
 *
 * verify exits 0 when everything checks, 1 at the first divergence
 * (named by segment and offset, or by checkpoint offset), 2 on usage or
 * I/O trouble.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/codec.h"
#include "cli/cli.h"
#include "base/json.h"
#include "seal/keys.h"
#include "log/merkle.h"
#include "log/receipt.h"
#include "log/tlog.h"
#include "store/vault.h"

static void
iso_time(uint64_t us, char out[40])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char b[24];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%06uZ", b, (unsigned)(us % 1000000));
}

/* Every record's leaf hash, plus the object index. */
struct scan {
	unsigned char		(*leaves)[32];
	uint64_t		 n, cap;
	struct sg_objindex	*ix;
	size_t			 segments;
	char			 lastseg[32];
};

static int
scan_log(const char *dir, struct scan *s, int *diverged)
{
	struct sg_log_reader *r;
	struct sg_log_rec rec;
	char err[SG_ERR_MAX];
	void *nv;
	int rc;

	memset(s, 0, sizeof(*s));
	*diverged = 0;
	if ((s->ix = sg_objindex_new()) == NULL ||
	    sg_log_reader_open(dir, &r, err) != 0) {
		fprintf(stderr, "schoolgate: log: %s\n", s->ix ? err :
		    "out of memory");
		return -1;
	}
	while ((rc = sg_log_reader_next(r, &rec, err)) == 1) {
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 4096;
			if ((nv = realloc(s->leaves, s->cap * 32)) == NULL) {
				rc = -1;
				snprintf(err, sizeof(err), "out of memory");
				break;
			}
			s->leaves = nv;
		}
		memcpy(s->leaves[s->n++], rec.leaf, 32);
		if (strcmp(rec.segment, s->lastseg) != 0) {
			s->segments++;
			memcpy(s->lastseg, rec.segment, sizeof(s->lastseg));
		}
		if (sg_objindex_apply(s->ix, &rec) != 0) {
			snprintf(err, sizeof(err), "segment %s offset %"
			    PRIu64 ": record %" PRIu64 " names an object "
			    "without its hash", rec.segment, rec.offset,
			    rec.seq);
			rc = -1;
			break;
		}
	}
	sg_log_reader_close(r);
	if (rc < 0) {
		printf("log verify: FAILED: %s\n", err);
		*diverged = 1;
		return -1;
	}
	return 0;
}

static void
scan_free(struct scan *s)
{
	free(s->leaves);
	sg_objindex_free(s->ix);
}

struct storecheck {
	struct sg_store		*st;
	struct sg_objindex	*ix;
	size_t			 seen;
	int			 bad;
};

static int
check_present(void *arg, const char *id, const unsigned char *sha)
{
	struct storecheck *c = arg;
	unsigned char got[32];
	char err[SG_ERR_MAX];
	uint64_t size;

	if (sg_store_hash(c->st, id, got, &size, err) != 0) {
		printf("log verify: FAILED: object %s is in the log but not "
		    "in the store (%s)\n", id, err);
		c->bad = 1;
		return 1;
	}
	if (memcmp(got, sha, 32) != 0) {
		printf("log verify: FAILED: object %s does not have the "
		    "SHA-256 the log recorded\n", id);
		c->bad = 1;
		return 1;
	}
	c->seen++;
	return 0;
}

static int
check_logged(void *arg, const char *name)
{
	struct storecheck *c = arg;

	if (!sg_transfer_id_ok(name) || !sg_objindex_get(c->ix, name, NULL)) {
		printf("log verify: FAILED: the store holds an object the "
		    "log does not account for (%s)\n",
		    sg_transfer_id_ok(name) ? name : "a stray file name");
		c->bad = 1;
		return 1;
	}
	return 0;
}

static int
verify(const char *dir, const char *keyfile, const char *storedir)
{
	struct sg_checkpoint *cps = NULL;
	struct sg_merkle_tree t;
	unsigned char root[32], proof[SG_MERKLE_MAX_PROOF][32];
	struct sg_note_key key;
	struct storecheck sc;
	struct scan s;
	char err[SG_ERR_MAX], b64[48];
	uint64_t tail;
	size_t plen;
	long n, i;
	int diverged, rc = 1;

	if (sg_verifier_load(keyfile, &key, err) != 0) {
		fprintf(stderr, "schoolgate: log verify: %s\n", err);
		return EXIT_TROUBLE;
	}
	if ((n = sg_checkpoints_read(dir, &key, &cps, &tail, err)) < 0) {
		printf("log verify: FAILED: %s\n", err);
		return 1;
	}
	if (tail > 0) {
		char path[4200];
		struct stat sb;
		snprintf(path, sizeof(path), "%s/checkpoints", dir);
		printf("log verify: FAILED: checkpoints offset %" PRIu64 ": an "
		    "incomplete or malformed checkpoint at the end of the file "
		    "(%" PRIu64 " bytes)\n", stat(path, &sb) == 0 ?
		    (uint64_t)sb.st_size - tail : 0, tail);
		free(cps);
		return 1;
	}
	if (scan_log(dir, &s, &diverged) != 0) {
		free(cps);
		scan_free(&s);
		return diverged ? 1 : EXIT_TROUBLE;
	}
	if (sg_merkle_tree_build(&t, (const unsigned char (*)[32])s.leaves,
	    s.n) != 0) {
		fprintf(stderr, "schoolgate: log verify: out of memory\n");
		free(cps);
		scan_free(&s);
		return EXIT_TROUBLE;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(cps[i].origin, key.name) != 0) {
			printf("log verify: FAILED: checkpoints offset %" PRIu64
			    ": origin is not the pinned key's log\n",
			    cps[i].offset);
			goto out;
		}
		if (cps[i].size > s.n) {
			printf("log verify: FAILED: checkpoints offset %" PRIu64
			    ": covers %" PRIu64 " records but the log has %"
			    PRIu64 " (records removed)\n", cps[i].offset,
			    cps[i].size, s.n);
			goto out;
		}
		sg_merkle_tree_root(&t, cps[i].size, root);
		if (memcmp(root, cps[i].root, 32) != 0) {
			printf("log verify: FAILED: checkpoints offset %" PRIu64
			    ": the root for %" PRIu64 " records does not match "
			    "the log\n", cps[i].offset, cps[i].size);
			goto out;
		}
		if (i == 0 || cps[i - 1].size == 0)
			continue;
		if (cps[i].size < cps[i - 1].size) {
			printf("log verify: FAILED: checkpoints offset %" PRIu64
			    ": the tree shrank\n", cps[i].offset);
			goto out;
		}
		if (sg_merkle_consistency_proof(&t, cps[i - 1].size,
		    cps[i].size, proof, &plen) != 0 ||
		    sg_merkle_verify_consistency(cps[i - 1].size, cps[i].size,
		    cps[i - 1].root, cps[i].root,
		    (const unsigned char (*)[32])proof, plen) != 0) {
			printf("log verify: FAILED: checkpoints offset %" PRIu64
			    ": not consistent with the checkpoint before it\n",
			    cps[i].offset);
			goto out;
		}
	}
	if (storedir != NULL) {
		memset(&sc, 0, sizeof(sc));
		sc.ix = s.ix;
		if (sg_store_open(storedir, 0, &sc.st, err) != 0) {
			fprintf(stderr, "schoolgate: log verify: %s\n", err);
			rc = EXIT_TROUBLE;
			goto out;
		}
		sg_objindex_each(s.ix, check_present, &sc);
		if (!sc.bad)
			sg_store_each(sc.st, check_logged, &sc, err);
		sg_store_close(sc.st);
		if (sc.bad)
			goto out;
	}
	printf("log verify: OK: %" PRIu64 " records in %zu segments, %ld "
	    "signed checkpoints", s.n, s.segments, n);
	if (n > 0) {
		sg_b64_encode(cps[n - 1].root, 32, b64, 1);
		printf(", latest covers %" PRIu64 " (root %s)",
		    cps[n - 1].size, b64);
		if (s.n > cps[n - 1].size)
			printf(", %" PRIu64 " records after it not yet signed",
			    s.n - cps[n - 1].size);
	}
	if (storedir != NULL)
		printf("; store: %zu objects match the log", sc.seen);
	printf("\n");
	rc = 0;
out:
	sg_merkle_tree_free(&t);
	free(cps);
	scan_free(&s);
	return rc;
}

static int
show(const char *dir, int json)
{
	struct sg_log_reader *r;
	struct sg_log_rec rec;
	char err[SG_ERR_MAX], when[40], hx[65];
	int rc;

	if (sg_log_reader_open(dir, &r, err) != 0) {
		fprintf(stderr, "schoolgate: log show: %s\n", err);
		return EXIT_TROUBLE;
	}
	while ((rc = sg_log_reader_next(r, &rec, err)) == 1) {
		iso_time(rec.time_us, when);
		if (json) {
			sg_hex(rec.leaf, 32, hx);
			printf("{\"seq\":%" PRIu64 ",\"time\":\"%s\","
			    "\"type\":\"%s\",\"leaf\":\"%s\",\"payload\":%.*s}"
			    "\n", rec.seq, when, sg_rec_type_name(rec.type),
			    hx, (int)rec.plen, rec.payload);
		} else
			printf("%8" PRIu64 "  %s  %-16s %.*s\n", rec.seq, when,
			    sg_rec_type_name(rec.type), (int)rec.plen,
			    rec.payload);
	}
	sg_log_reader_close(r);
	if (rc < 0) {
		fprintf(stderr, "schoolgate: log show: %s\n", err);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}

static int
prove(const char *dir, const char *keyfile, uint64_t seq, int json)
{
	struct sg_checkpoint *cps = NULL, *cp;
	unsigned char proof[SG_MERKLE_MAX_PROOF][32], root[32];
	struct sg_merkle_tree t;
	struct sg_note_key key;
	struct scan s;
	char err[SG_ERR_MAX], b[48];
	uint64_t tail;
	size_t plen, i;
	long n;
	int diverged, rc = 1;

	if (sg_verifier_load(keyfile, &key, err) != 0) {
		fprintf(stderr, "schoolgate: log prove: %s\n", err);
		return EXIT_TROUBLE;
	}
	if ((n = sg_checkpoints_read(dir, &key, &cps, &tail, err)) <= 0) {
		fprintf(stderr, "schoolgate: log prove: %s\n", n < 0 ? err :
		    "no signed checkpoint yet");
		return 1;
	}
	cp = &cps[n - 1];
	if (seq == 0 || seq > cp->size) {
		fprintf(stderr, "schoolgate: log prove: record %" PRIu64
		    " is not covered by the latest checkpoint (size %" PRIu64
		    ")\n", seq, cp->size);
		free(cps);
		return 1;
	}
	if (scan_log(dir, &s, &diverged) != 0 || sg_merkle_tree_build(&t,
	    (const unsigned char (*)[32])s.leaves, s.n) != 0) {
		free(cps);
		scan_free(&s);
		return 1;
	}
	sg_merkle_tree_root(&t, cp->size, root);
	if (cp->size > s.n || memcmp(root, cp->root, 32) != 0 ||
	    sg_merkle_inclusion_proof(&t, seq - 1, cp->size, proof,
	    &plen) != 0 || sg_merkle_verify_inclusion(seq - 1, cp->size,
	    s.leaves[seq - 1], (const unsigned char (*)[32])proof, plen,
	    cp->root) != 0) {
		fprintf(stderr, "schoolgate: log prove: the log does not "
		    "match its checkpoint (run log verify)\n");
		goto out;
	}
	if (json) {
		printf("{\"seq\":%" PRIu64 ",\"leaf_index\":%" PRIu64
		    ",\"tree_size\":%" PRIu64, seq, seq - 1, cp->size);
		sg_b64_encode(s.leaves[seq - 1], 32, b, 1);
		printf(",\"leaf_hash\":\"%s\"", b);
		sg_b64_encode(cp->root, 32, b, 1);
		printf(",\"root\":\"%s\",\"proof\":[", b);
		for (i = 0; i < plen; i++) {
			sg_b64_encode(proof[i], 32, b, 1);
			printf("%s\"%s\"", i ? "," : "", b);
		}
		printf("]}\n");
	} else {
		printf("record:     %" PRIu64 " (leaf index %" PRIu64 ")\n",
		    seq, seq - 1);
		sg_b64_encode(s.leaves[seq - 1], 32, b, 1);
		printf("leaf hash:  %s\n", b);
		printf("checkpoint: %s, tree size %" PRIu64 "\n", cp->origin,
		    cp->size);
		sg_b64_encode(cp->root, 32, b, 1);
		printf("root:       %s\n", b);
		for (i = 0; i < plen; i++) {
			sg_b64_encode(proof[i], 32, b, 1);
			printf("proof[%zu]:   %s\n", i, b);
		}
		printf("verified:   the proof leads to the signed root "
		    "(RFC 9162 2.1.3.2)\n");
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
out:
	sg_merkle_tree_free(&t);
	free(cps);
	scan_free(&s);
	return rc;
}

static void
log_usage(void)
{
	fprintf(stderr,
	    "usage: schoolgate log verify --log DIR --key PUB [--store DIR]\n"
	    "       schoolgate log show --log DIR [--json]\n"
	    "       schoolgate log prove --log DIR --key PUB [--json] SEQ\n");
}

int
cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *key = NULL, *store = NULL, *sub;
	char *end;
	uint64_t seq;
	int c, json = 0;

	if (argc < 2) {
		log_usage();
		return EXIT_TROUBLE;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 'l': dir = optarg; break;
		case 'k': key = optarg; break;
		case 's': store = optarg; break;
		case 'j': json = 1; break;
		default: log_usage(); return EXIT_TROUBLE;
		}
	if (dir == NULL)
		goto usage;
	if (strcmp(sub, "verify") == 0 && key && optind == argc)
		return verify(dir, key, store);
	if (strcmp(sub, "show") == 0 && optind == argc)
		return show(dir, json);
	if (strcmp(sub, "prove") == 0 && key && optind + 1 == argc) {
		errno = 0;
		seq = strtoull(argv[optind], &end, 10);
		if (errno || *end || end == argv[optind])
			goto usage;
		return prove(dir, key, seq, json);
	}
usage:
	log_usage();
	return EXIT_TROUBLE;
}

static void
print_note(void *arg, const char *msg)
{
	(void)arg;
	printf("recover: %s\n", msg);
}

int
cmd_store(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "signing-key", required_argument, NULL, 'k' },
		{ "identity", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	struct sg_vault_opts vo;
	struct sg_age_identity *ids = NULL;
	struct sg_note_key signer;
	struct sg_vault *v;
	const char *store = NULL, *log = NULL, *kf = NULL, *idf = NULL;
	char err[SG_ERR_MAX];
	long nids = 0;
	int c, rc = EXIT_TROUBLE;

	if (argc < 2 || strcmp(argv[1], "recover") != 0)
		goto usage;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 's': store = optarg; break;
		case 'l': log = optarg; break;
		case 'k': kf = optarg; break;
		case 'i': idf = optarg; break;
		default: goto usage;
		}
	if (!store || !log || !kf || optind != argc)
		goto usage;
	if (sg_signer_load(kf, &signer, err) != 0 || (idf && (nids =
	    sg_identities_load(idf, &ids, err)) < 0)) {
		fprintf(stderr, "schoolgate: store recover: %s\n", err);
		return EXIT_TROUBLE;
	}
	memset(&vo, 0, sizeof(vo));
	vo.store_dir = store;
	vo.log_dir = log;
	vo.signer = &signer;
	vo.ids = ids;
	vo.nids = (size_t)nids;
	vo.note = print_note;
	if (sg_vault_open(&vo, &v, err) != 0) {
		fprintf(stderr, "schoolgate: store recover: %s\n", err);
		rc = 1;
	} else if (sg_vault_close(v, err) != 0) {
		fprintf(stderr, "schoolgate: store recover: %s\n", err);
		rc = 1;
	} else {
		printf("recover: store and log agree\n");
		rc = 0;
	}
	sg_identities_free(ids, (size_t)nids);
	return rc;
usage:
	fprintf(stderr, "usage: schoolgate store recover --store DIR --log DIR "
	    "--signing-key FILE [--identity FILE]\n");
	return EXIT_TROUBLE;
}

/* schoolgate receipt verify --key log-signing.pub FILE: checks a receipt
 * offline (common/log/receipt.h): the log key's signature on it, and
 * its inclusion proof against the log's signed checkpoint. Exit 0: it
 * holds (proved, or a signed promise whose proof is not out yet, unless
 * --require-proof); 1: it does not; 2: trouble. */
int
cmd_receipt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "require-proof", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	const char *key = NULL;
	int need_proof = 0;
	struct sg_note_key vk;
	struct sg_receipt r;
	char err[SG_ERR_MAX], *buf;
	uint64_t size;
	size_t len = 0;
	ssize_t n;
	int c, fd, proved;

	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		goto usage;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		switch (c) {
		case 'k': key = optarg; break;
		case 'p': need_proof = 1; break;
		default: goto usage;
		}
	if (key == NULL || optind != argc - 1)
		goto usage;
	if (sg_verifier_load(key, &vk, err) != 0) {
		fprintf(stderr, "schoolgate: receipt verify: %s\n", err);
		return EXIT_TROUBLE;
	}
	if (strcmp(argv[optind], "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "schoolgate: receipt verify: %s: %s\n",
		    argv[optind], strerror(errno));
		return EXIT_TROUBLE;
	}
	/* a receipt is a few KiB; more is not one */
	if ((buf = malloc(256 * 1024)) == NULL)
		return EXIT_TROUBLE;
	while (len < 256 * 1024 && (n = read(fd, buf + len, 256 * 1024 -
	    len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "schoolgate: receipt verify: %s: %s\n",
			    argv[optind], strerror(errno));
			free(buf);
			if (fd != STDIN_FILENO)
				close(fd);
			return EXIT_TROUBLE;
		}
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (sg_receipt_verify(buf, len, &vk, &r, &proved, &size, err) != 0) {
		free(buf);
		printf("receipt NOT verified: %s\n", err);
		return 1;
	}
	free(buf);
	printf("receipt signed by the transfer log's key (%s)\n", vk.name);
	if (r.has_received)
		printf("transfer %s: received %s from %s under %s, flow %s\n"
		    "  %" PRIu64 " row(s); plaintext SHA-256 %s\n"
		    "  stored SHA-256 %s; for %s\n", r.transfer, r.time, r.by,
		    r.agreement, r.flow, r.rows, r.plain_sha256,
		    r.stored_sha256, r.recipients);
	else
		printf("transfer %s: %s by %s at %s\n", r.transfer, r.event,
		    r.by, r.time);
	if (proved)
		printf("record %" PRIu64 " is in the log: its inclusion proof "
		    "leads to the signed checkpoint of %" PRIu64 " records "
		    "(RFC 9162)\n", r.record, size);
	else
		printf("record %" PRIu64 ": not yet proved (no checkpoint "
		    "covered it when the receipt was made); fetch it again: "
		    "GET /v1/transfers/%s/receipt\n", r.record, r.transfer);
	if (fflush(stdout) != 0)
		return EXIT_TROUBLE;
	return need_proof && !proved ? 1 : 0;
usage:
	fprintf(stderr, "usage: schoolgate receipt verify --key "
	    "log-signing.pub [--require-proof] FILE\n");
	return EXIT_TROUBLE;
}
