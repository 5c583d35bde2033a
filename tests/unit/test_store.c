/* Unit tests for common/store/store.c: transfer ids; durable small files
 * (create refuses an existing name, replace replaces it whole); objects
 * written through a temp file are in objects/ only once committed, with
 * the SHA-256 of their bytes, and an abort leaves nothing behind; an id
 * that is not a transfer id is refused, so no client name reaches the
 * file system; a deleted object is gone. */
#include <dirent.h>
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
#include <openssl/evp.h>

#include "store/store.h"

static char root[] = "/tmp/sgstore.XXXXXX";

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
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
entries(const char *sub)
{
	char p[128];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/%s", root, sub);
	assert_non_null(d = opendir(p));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
transfer_ids(void **state)
{
	char id[SG_ID_MAX], other[SG_ID_MAX];

	(void)state;
	sg_transfer_id(id);
	sg_transfer_id(other);
	assert_true(sg_transfer_id_ok(id));
	assert_string_not_equal(id, other);
	assert_int_equal(strlen(id), 25);
	/* what reaches the file system as a name: never a path, a hidden
	 * or option-like name, capitals or an overlong one */
	assert_false(sg_transfer_id_ok(""));
	assert_false(sg_transfer_id_ok("../../etc/passwd"));
	assert_false(sg_transfer_id_ok("a/b"));
	assert_false(sg_transfer_id_ok(".hidden"));
	assert_false(sg_transfer_id_ok("-rf"));
	assert_false(sg_transfer_id_ok("20261201-0123456789ABCDEF"));
	assert_false(sg_transfer_id_ok("20261201-0123456789abcdef "));
	assert_false(sg_transfer_id_ok(
	    "20261201-0123456789abcdef0123456789abcdef"));
	assert_true(sg_transfer_id_ok("20261201-0123456789abcdef"));
}

static void
durable_files(void **state)
{
	char err[SG_ERR_MAX], buf[32];
	int dfd, fd;
	ssize_t n;
	struct stat st;

	(void)state;
	assert_true((dfd = open(root, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(sg_durable_file(dfd, "a", "first", 5, 0600, err), 0);
	/* create refuses a name that exists, and leaves it as it was */
	assert_int_not_equal(sg_durable_file(dfd, "a", "second", 6, 0600,
	    err), 0);
	assert_true((fd = openat(dfd, "a", O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "first", 5);
	/* replace replaces it whole, with the mode asked for */
	assert_int_equal(sg_durable_replace(dfd, "a", "second", 6, 0640,
	    err), 0);
	assert_true((fd = openat(dfd, "a", O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf));
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "second", 6);
	assert_int_equal(st.st_mode & 0777, 0640);
	close(dfd);
}

static void
objects_commit_and_abort(void **state)
{
	struct sg_store *st;
	struct sg_store_tmp t;
	char err[SG_ERR_MAX], id[SG_ID_MAX], p[160];
	unsigned char sha[32], want[32];
	unsigned int l = 32;
	int shredded = 0;
	struct stat sb;

	(void)state;
	assert_int_equal(sg_store_open(root, 1, &st, err), 0);
	/* aborted: nothing in objects/ or tmp/ */
	assert_int_equal(sg_store_tmp_begin(st, &t, err), 0);
	assert_int_equal(sg_store_tmp_write(&t, "half a file", 11), 0);
	sg_store_tmp_abort(&t);
	assert_int_equal(entries("objects"), 0);
	assert_int_equal(entries("tmp"), 0);
	/* not a transfer id: refused, nothing kept */
	assert_int_equal(sg_store_tmp_begin(st, &t, err), 0);
	assert_int_equal(sg_store_tmp_write(&t, "x", 1), 0);
	assert_int_not_equal(sg_store_tmp_commit(&t, "../escape", sha, err),
	    0);
	assert_int_equal(entries("objects"), 0);
	assert_int_equal(entries("tmp"), 0);
	/* committed: in objects/ under its id, with the bytes' SHA-256 */
	sg_transfer_id(id);
	assert_int_equal(sg_store_tmp_begin(st, &t, err), 0);
	assert_int_equal(sg_store_tmp_write(&t, "hello, ", 7), 0);
	assert_int_equal(sg_store_tmp_write(&t, "store", 5), 0);
	assert_int_equal(sg_store_tmp_commit(&t, id, sha, err), 0);
	EVP_Digest("hello, store", 12, want, &l, EVP_sha256(), NULL);
	assert_memory_equal(sha, want, 32);
	assert_int_equal(entries("objects"), 1);
	assert_int_equal(entries("tmp"), 0);
	snprintf(p, sizeof(p), "%s/objects/%s", root, id);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 12);
	/* the same id again is refused: an object is never replaced */
	assert_int_equal(sg_store_tmp_begin(st, &t, err), 0);
	assert_int_equal(sg_store_tmp_write(&t, "other", 5), 0);
	assert_int_not_equal(sg_store_tmp_commit(&t, id, sha, err), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 12);
	/* deleted: gone */
	assert_int_equal(sg_store_delete(st, id, &shredded, err), 0);
	assert_int_equal(entries("objects"), 0);
	sg_store_close(st);
}

/* Sealed by another process into a descriptor the store gave it: the
 * same object, the same digests, as the store's own seal would make;
 * a result whose size is not the file's is refused. */
static void
remote_seal(void **state)
{
	struct sg_store *st;
	struct sg_store_seal *s, *w;
	struct sg_age_identity id;
	struct sg_put_result r, done;
	char err[SG_ERR_MAX], tid[SG_ID_MAX], p[160];
	unsigned char want[32], buf[256];
	unsigned int l = 32;
	struct stat sb;
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(sg_age_identity_generate(&id), 0);
	assert_int_equal(sg_store_open(root, 1, &st, err), 0);
	assert_int_equal(sg_store_seal_begin_remote(st, &s, err), 0);
	/* the store's side writes nothing itself */
	assert_int_equal(sg_store_seal_write(s, "x", 1), -1);
	assert_int_equal(sg_store_seal_fd_begin(sg_store_seal_fd(s),
	    (const unsigned char (*)[32])&id.pk, 1, &w), 0);
	assert_int_equal(sg_store_seal_write(w, "pupil ", 6), 0);
	assert_int_equal(sg_store_seal_write(w, "data", 4), 0);
	assert_int_equal(sg_store_seal_fd_finish(w, &r), 0);
	EVP_Digest("pupil data", 10, want, &l, EVP_sha256(), NULL);
	assert_memory_equal(r.plain_sha256, want, 32);
	assert_int_equal(r.plain_size, 10);
	/* a size that is not the file's */
	r.obj_size++;
	assert_int_equal(sg_store_seal_adopt(s, &r), -1);
	r.obj_size--;
	assert_int_equal(sg_store_seal_adopt(s, &r), 0);
	assert_int_equal(sg_store_seal_adopt(s, &r), -1);	/* once */
	assert_int_equal(sg_store_seal_plain_sha256(s, buf), 0);
	assert_memory_equal(buf, want, 32);
	sg_transfer_id(tid);
	assert_int_equal(sg_store_seal_commit(s, tid, &done, err), 0);
	assert_memory_equal(done.obj_sha256, r.obj_sha256, 32);
	assert_int_equal(entries("tmp"), 0);
	/* the object is the age file the writer made: its digest matches */
	snprintf(p, sizeof(p), "%s/objects/%s", root, tid);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, r.obj_size);
	{
		EVP_MD_CTX *c = EVP_MD_CTX_new();

		assert_non_null(f = fopen(p, "rb"));
		EVP_DigestInit_ex(c, EVP_sha256(), NULL);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			EVP_DigestUpdate(c, buf, n);
		fclose(f);
		EVP_DigestFinal_ex(c, want, &l);
		EVP_MD_CTX_free(c);
		assert_memory_equal(want, r.obj_sha256, 32);
	}
	/* never adopted: the commit refuses and nothing is kept */
	assert_int_equal(sg_store_seal_begin_remote(st, &s, err), 0);
	sg_transfer_id(tid);
	assert_int_not_equal(sg_store_seal_commit(s, tid, &done, err), 0);
	assert_int_equal(entries("tmp"), 0);
	assert_int_equal(entries("objects"), 1);
	sg_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transfer_ids),
		cmocka_unit_test(durable_files),
		cmocka_unit_test(objects_commit_and_abort),
		cmocka_unit_test(remote_seal),
	};

	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
