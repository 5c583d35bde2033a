/* Unit tests for common/store/blind.c, the blind index of data subjects:
 * the key file's rules (0600, 32 bytes, a stable id); normal forms
 * (a UPN in capitals, a TRN's 7 digits whatever its spelling, a ULN's
 * 10); hashes that differ by key and by kind; a set sorted and without
 * repeats, with a digest that does not depend on row order; a file
 * found by binary search, refused under another key, and refused when
 * cut short. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/blind.h"

static char root[] = "/tmp/sgblind.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(root) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void
load_key(const char *name, struct sg_blind_key *k)
{
	char path[128], err[SG_ERR_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (access(path, F_OK) != 0)
		assert_int_equal(sg_blind_key_new(path, err), 0);
	assert_int_equal(sg_blind_key_load(path, k, err), 0);
}

static void
key_rules(void **state)
{
	struct sg_blind_key a, b;
	char path[128], err[SG_ERR_MAX];

	(void)state;
	load_key("k1", &a);
	load_key("k1", &b);
	assert_int_equal(strlen(a.id), 16);
	assert_string_equal(a.id, b.id);	/* the id is the key's */
	snprintf(path, sizeof(path), "%s/k1", root);
	assert_int_equal(sg_blind_key_new(path, err), -1);	/* exists */
	chmod(path, 0644);
	assert_int_equal(sg_blind_key_load(path, &b, err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	chmod(path, 0600);
	sg_blind_key_wipe(&a);
	sg_blind_key_wipe(&b);
}

static void
normal_forms(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(sg_blind_normalise(SG_BLIND_UPN, "h801200001001",
	    13, out, sizeof(out)), 0);
	assert_string_equal(out, "H801200001001");
	assert_int_equal(sg_blind_normalise(SG_BLIND_UPN, "H80120000100",
	    12, out, sizeof(out)), -1);
	assert_int_equal(sg_blind_normalise(SG_BLIND_TRN, "RP 99/12345", 11,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "9912345");
	assert_int_equal(sg_blind_normalise(SG_BLIND_TRN, "9912345", 7, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "9912345");
	assert_int_equal(sg_blind_normalise(SG_BLIND_TRN, "99123X5", 7, out,
	    sizeof(out)), -1);
	assert_int_equal(sg_blind_normalise(SG_BLIND_ULN, "1234567890", 10,
	    out, sizeof(out)), 0);
	assert_int_equal(sg_blind_normalise(SG_BLIND_ULN, "12345678901", 11,
	    out, sizeof(out)), -1);
}

static void
hashes_by_key_and_kind(void **state)
{
	struct sg_blind_key a, b;
	unsigned char h1[SG_BLIND_LEN], h2[SG_BLIND_LEN], h3[SG_BLIND_LEN];

	(void)state;
	load_key("k1", &a);
	load_key("k2", &b);
	sg_blind_hash(&a, SG_BLIND_TRN, "1234567", h1);
	sg_blind_hash(&a, SG_BLIND_TRN, "1234567", h2);
	assert_memory_equal(h1, h2, SG_BLIND_LEN);
	sg_blind_hash(&b, SG_BLIND_TRN, "1234567", h2);
	assert_memory_not_equal(h1, h2, SG_BLIND_LEN);
	sg_blind_hash(&a, SG_BLIND_ULN, "1234567", h3);
	assert_memory_not_equal(h1, h3, SG_BLIND_LEN);
	sg_blind_key_wipe(&a);
	sg_blind_key_wipe(&b);
}

/* Codes are exact: every normal form comes back from its code, and the
 * hash made from a code is the hash of the identifier itself. */
static void
codes(void **state)
{
	static const struct { int kind; const char *in, *norm; } t[] = {
		{ SG_BLIND_UPN, "H801200001001", "H801200001001" },
		{ SG_BLIND_UPN, "z999999999999", "Z999999999999" },
		{ SG_BLIND_UPN, "A00000000000a", "A00000000000A" },
		{ SG_BLIND_UPN, "T82612345678Z", "T82612345678Z" },
		{ SG_BLIND_TRN, "RP 99/12345", "9912345" },
		{ SG_BLIND_TRN, "0000001", "0000001" },
		{ SG_BLIND_ULN, "9999999999", "9999999999" },
		{ SG_BLIND_ULN, "0000000001", "0000000001" },
	};
	struct sg_blind_key a;
	struct sg_blind_set *s;
	unsigned char h1[SG_BLIND_LEN], d[32];
	char out[16];
	uint64_t c, n;
	size_t i;

	(void)state;
	load_key("kc", &a);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = sg_blind_code(t[i].kind, t[i].in, strlen(t[i].in));
		assert_int_not_equal(c, 0);
		assert_int_equal(sg_blind_decode(c, out), t[i].kind);
		assert_string_equal(out, t[i].norm);
		/* one identifier in a set: its file holds exactly the hash
		 * sg_blind_hash gives for the normal form */
		assert_non_null(s = sg_blind_set_new());
		assert_int_equal(sg_blind_set_add(s, c), 0);
		assert_int_equal(sg_blind_set_finish(s, &a, d, &n), 0);
		assert_int_equal(n, 1);
		sg_blind_hash(&a, t[i].kind, t[i].norm, h1);
		{
			int dirfd = open(root, O_RDONLY | O_DIRECTORY);
			char err[SG_ERR_MAX];
			char id[32];

			snprintf(id, sizeof(id), "20261202-00000000000000%02zx",
			    i);

			assert_int_equal(sg_blind_set_write(s, dirfd, id, a.id,
			    err), 0);
			assert_int_equal(sg_blind_file_has(dirfd, id, a.id, h1,
			    err), 1);
			close(dirfd);
		}
		sg_blind_set_free(s);
	}
	/* not identifiers: a UPN with a letter inside, a short TRN */
	assert_int_equal(sg_blind_code(SG_BLIND_UPN, "H8012000X1001", 13), 0);
	assert_int_equal(sg_blind_code(SG_BLIND_UPN, "1801200001001", 13), 0);
	assert_int_equal(sg_blind_code(SG_BLIND_TRN, "12345", 5), 0);
	assert_int_equal(sg_blind_decode(0, out), -1);
	assert_int_equal(sg_blind_decode(UINT64_C(1) << 62 | UINT64_C(1) << 50,
	    out), -1);
	/* an empty set is a set: its digest is SHA-256 of nothing */
	assert_non_null(s = sg_blind_set_new());
	assert_int_equal(sg_blind_set_finish(s, &a, d, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(d[0], 0xe3);	/* e3b0c442... */
	sg_blind_set_free(s);
	sg_blind_key_wipe(&a);
}

/* A set larger than one chunk of codes and large enough for two threads:
 * every distinct code counted once, the file sorted, each found. */
static void
large_set(void **state)
{
	struct sg_blind_key a;
	struct sg_blind_set *s;
	struct sg_blind_file f;
	unsigned char d[32], h[SG_BLIND_LEN];
	char upn[16], err[SG_ERR_MAX];
	const char *id = "20261202-00000000000000bb";
	uint64_t n, i;
	int dirfd;

	(void)state;
	load_key("kl", &a);
	assert_non_null(s = sg_blind_set_new());
	for (i = 0; i < 400000; i++) {	/* 300,000 pupils, some twice */
		snprintf(upn, sizeof(upn), "B8%011llu", (unsigned long long)(
		    i < 300000 ? i : i - 300000));
		assert_int_equal(sg_blind_set_add(s,
		    sg_blind_code(SG_BLIND_UPN, upn, 13)), 0);
	}
	assert_int_equal(sg_blind_set_add(s, 0), 0);	/* not a code: none */
	assert_int_equal(sg_blind_set_count(s), 400000);
	assert_int_equal(sg_blind_set_finish(s, &a, d, &n), 0);
	assert_int_equal(n, 300000);
	assert_true((dirfd = open(root, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(sg_blind_set_write(s, dirfd, id, a.id, err), 0);
	assert_int_equal(sg_blind_file_open(dirfd, id, &f, err), 0);
	assert_int_equal(f.n, 300000);
	for (i = 1; i < f.n; i++)
		assert_true(memcmp(f.h + (i - 1) * SG_BLIND_LEN,
		    f.h + i * SG_BLIND_LEN, SG_BLIND_LEN) < 0);
	{
		unsigned char d2[32];

		sg_blind_file_digest(&f, d2);
		assert_memory_equal(d, d2, 32);
	}
	for (i = 0; i < 300000; i += 7919) {
		snprintf(upn, sizeof(upn), "B8%011llu", (unsigned long long)i);
		sg_blind_hash(&a, SG_BLIND_UPN, upn, h);
		assert_int_equal(sg_blind_file_find(&f, h), 1);
	}
	sg_blind_hash(&a, SG_BLIND_UPN, "B800000300000", h);
	assert_int_equal(sg_blind_file_find(&f, h), 0);
	{
		struct sg_blind_file two[2] = { f, f };

		/* the same file twice: the same distinct count */
		assert_int_equal(sg_blind_files_distinct(two, 2), 300000);
	}
	sg_blind_file_close(&f);
	close(dirfd);
	sg_blind_set_free(s);
	sg_blind_key_wipe(&a);
}

static void
set_and_file(void **state)
{
	struct sg_blind_key a, b;
	struct sg_blind_set *s1 = sg_blind_set_new(), *s2 = sg_blind_set_new();
	unsigned char h[SG_BLIND_LEN], d1[32], d2[32];
	char norm[16], err[SG_ERR_MAX], upn[16], path[160];
	const char *id = "20261202-0123456789abcdef";
	uint64_t n1, n2;
	int i, dirfd;

	(void)state;
	load_key("k1", &a);
	load_key("k2", &b);
	assert_non_null(s1);
	assert_non_null(s2);
	/* 1000 pupils, each twice, in two orders, in any spelling */
	for (i = 0; i < 2000; i++) {
		snprintf(upn, sizeof(upn), "%c34100%07d", i < 1000 ? 'A' : 'a',
		    i % 1000);
		assert_int_not_equal(sg_blind_code(SG_BLIND_UPN, upn, 13), 0);
		assert_int_equal(sg_blind_set_add(s1,
		    sg_blind_code(SG_BLIND_UPN, upn, 13)), 0);
		snprintf(upn, sizeof(upn), "A34100%07d", 999 - i % 1000);
		assert_int_equal(sg_blind_set_add(s2,
		    sg_blind_code(SG_BLIND_UPN, upn, 13)), 0);
	}
	assert_int_equal(sg_blind_set_count(s1), 2000);
	assert_int_equal(sg_blind_set_finish(s1, &a, d1, &n1), 0);
	assert_int_equal(sg_blind_set_finish(s2, &a, d2, &n2), 0);
	(void)norm;
	assert_int_equal(n1, 1000);
	assert_int_equal(n2, 1000);
	assert_memory_equal(d1, d2, 32);	/* row order does not count */
	dirfd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(dirfd >= 0);
	assert_int_equal(sg_blind_set_write(s1, dirfd, id, a.id, err), 0);
	/* a pupil held, and one not */
	sg_blind_hash(&a, SG_BLIND_UPN, "A341000000500", h);
	assert_int_equal(sg_blind_file_has(dirfd, id, a.id, h, err), 1);
	sg_blind_hash(&a, SG_BLIND_UPN, "A341000001500", h);
	assert_int_equal(sg_blind_file_has(dirfd, id, a.id, h, err), 0);
	/* the same UPN as a ULN's digits is not found: kinds differ */
	sg_blind_hash(&a, SG_BLIND_TRN, "0000500", h);
	assert_int_equal(sg_blind_file_has(dirfd, id, a.id, h, err), 0);
	/* under another key: refused, not "not held" */
	assert_int_equal(sg_blind_file_has(dirfd, id, b.id, h, err), -1);
	assert_non_null(strstr(err, "another index key"));
	/* a file cut short is refused */
	snprintf(path, sizeof(path), "%s/%s", root, id);
	assert_int_equal(truncate(path, 40), 0);
	assert_int_equal(sg_blind_file_has(dirfd, id, a.id, h, err), -1);
	/* no id that is not a transfer id reaches the file system */
	assert_int_equal(sg_blind_file_has(dirfd, "../k1", a.id, h, err), -1);
	close(dirfd);
	sg_blind_set_free(s1);
	sg_blind_set_free(s2);
	sg_blind_key_wipe(&a);
	sg_blind_key_wipe(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_rules),
		cmocka_unit_test(normal_forms),
		cmocka_unit_test(hashes_by_key_and_kind),
		cmocka_unit_test(codes),
		cmocka_unit_test(large_set),
		cmocka_unit_test(set_and_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
