/* zipin: streamed intake of an encrypted ZIP. The archives are written
 * here with libarchive's own writer (AES-256, ZipCrypto, none), so each
 * case is made for what it tests; every refusal names its rule and
 * delivers nothing counted as accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "intake/zipin.h"

#define CAP	(4 << 20)

struct entry {
	const char	*name;
	const void	*data;
	size_t		 len;
	int		 type;		/* AE_IFREG, AE_IFLNK, AE_IFDIR */
};

/* A ZIP in memory: encryption "aes256", "zipcrypt" or NULL. */
static size_t
make_zip(unsigned char *out, size_t cap, const char *encryption,
    const char *pass, const struct entry *e, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t used = 0, i;
	char opt[64];

	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	if (encryption != NULL) {
		snprintf(opt, sizeof(opt), "zip:encryption=%s", encryption);
		assert_int_equal(archive_write_set_options(a, opt), ARCHIVE_OK);
		assert_int_equal(archive_write_set_passphrase(a, pass),
		    ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_memory(a, out, cap, &used),
	    ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, (unsigned)e[i].type);
		archive_entry_set_perm(ae, 0644);
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, "/etc/passwd");
		archive_entry_set_size(ae, e[i].type == AE_IFREG ?
		    (la_int64_t)e[i].len : 0);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].type == AE_IFREG && e[i].len > 0)
			assert_int_equal(archive_write_data(a, e[i].data,
			    e[i].len), (la_ssize_t)e[i].len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return used;
}

/* The source: the bytes in small pieces, as a socket gives them. */
struct src {
	const unsigned char	*p;
	size_t			 len, off;
};

static ssize_t
src_read(void *arg, void *buf, size_t cap)
{
	struct src *s = arg;
	size_t k = s->len - s->off;

	if (k > cap)
		k = cap;
	if (k > 1000)
		k = 1000;
	memcpy(buf, s->p + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

struct sink {
	unsigned char	*buf;
	size_t		 len;
};

static int
sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *k = arg;

	if (k->len + len > CAP)
		return -1;
	memcpy(k->buf + k->len, buf, len);
	k->len += len;
	return 0;
}


static struct sg_limits lim = { 1 << 20, 1000, 16, 255 };

/* Runs zipin over z with the flow's encryptions and the password;
 * returns its result, the delivered bytes in *k. */
static int
run(const unsigned char *z, size_t zl, unsigned encs, const char *pass,
    struct sink *k, struct sg_report *r)
{
	struct sg_zipin_opts o;
	struct src s = { z, zl, 0 };

	memset(&o, 0, sizeof(o));
	o.passphrase = pass;
	o.encryptions = encs;
	o.require_encryption = 1;
	o.limits = &lim;
	k->len = 0;
	sg_report_init(r, 50);
	/* the first bytes come as the intake's sniffing read them */
	return sg_zipin_run(&o, z, 64, src_read, (s.off = 64, &s), sink_write,
	    k, r);
}

static const char CSV[] = "UPN,Surname\nA123456789012,Example\n";

static void
aes_whole(void **state)
{
	unsigned char *z = malloc(CAP), *out = malloc(CAP);
	struct entry e = { "census.csv", CSV, sizeof(CSV) - 1, AE_IFREG };
	struct sink k = { out, 0 };
	struct sg_report r;
	size_t zl;

	(void)state;
	zl = make_zip(z, CAP, "aes256", "s3cret-Pass", &e, 1);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r), 0);
	assert_int_equal(r.nerrors, 0);
	assert_int_equal(k.len, sizeof(CSV) - 1);
	assert_memory_equal(out, CSV, k.len);
	assert_string_equal(r.container, "zip (AES-256)");
	sg_report_free(&r);
	/* a larger entry, in many pieces, still byte for byte */
	{
		size_t n = 300000, i;
		char *big = malloc(n);

		for (i = 0; i < n; i++)
			big[i] = (char)('a' + (i * 7919) % 26);
		e.data = big;
		e.len = n;
		zl = make_zip(z, CAP, "aes256", "s3cret-Pass", &e, 1);
		assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k,
		    &r), 0);
		assert_int_equal(k.len, n);
		assert_memory_equal(out, big, n);
		sg_report_free(&r);
		free(big);
	}
	free(z);
	free(out);
}

static void
refusals(void **state)
{
	unsigned char *z = malloc(CAP), *out = malloc(CAP);
	struct entry e = { "census.csv", CSV, sizeof(CSV) - 1, AE_IFREG };
	struct entry two[2] = { e, { "other.csv", CSV, 4, AE_IFREG } };
	struct entry link = { "census.csv", NULL, 0, AE_IFLNK };
	struct entry up = { "../census.csv", CSV, 4, AE_IFREG };
	struct sink k = { out, 0 };
	struct sg_report r;
	size_t zl;

	(void)state;
	zl = make_zip(z, CAP, "aes256", "s3cret-Pass", &e, 1);
	/* the wrong password, and none */
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "wrong", &k, &r), -1);
	assert_true(sg_report_has(&r, "zip.password"));
	sg_report_free(&r);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, NULL, &k, &r), -1);
	assert_true(r.nerrors > 0);
	sg_report_free(&r);
	/* cut short: never accepted, whatever was delivered */
	assert_int_equal(run(z, zl - 30, SG_ENC_ZIP_AES, "s3cret-Pass", &k,
	    &r), -1);
	assert_true(r.nerrors > 0);
	sg_report_free(&r);
	/* AES where the flow takes only age */
	assert_int_equal(run(z, zl, SG_ENC_AGE, "s3cret-Pass", &k, &r), -1);
	assert_true(sg_report_has(&r, "zip.encryption"));
	sg_report_free(&r);
	/* no encryption at all */
	zl = make_zip(z, CAP, NULL, NULL, &e, 1);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, NULL, &k, &r), -1);
	assert_true(sg_report_has(&r, "zip.unencrypted"));
	sg_report_free(&r);
	/* ZipCrypto: refused unless the flow opts in, then with a warning */
	zl = make_zip(z, CAP, "zipcrypt", "s3cret-Pass", &e, 1);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r),
	    -1);
	assert_true(sg_report_has(&r, "zip.encryption-weak"));
	sg_report_free(&r);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES | SG_ENC_ZIP_LEGACY,
	    "s3cret-Pass", &k, &r), 0);
	assert_int_equal(r.nerrors, 0);
	assert_true(sg_report_has(&r, "zip.encryption-weak"));
	assert_memory_equal(out, CSV, k.len);
	sg_report_free(&r);
	/* two files */
	zl = make_zip(z, CAP, "aes256", "s3cret-Pass", two, 2);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r),
	    -1);
	assert_true(sg_report_has(&r, "zip.entries"));
	sg_report_free(&r);
	/* a link, and a name that climbs out */
	zl = make_zip(z, CAP, NULL, NULL, &link, 1);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, NULL, &k, &r), -1);
	assert_true(sg_report_has(&r, "zip.link") || sg_report_has(&r,
	    "zip.unencrypted"));
	sg_report_free(&r);
	zl = make_zip(z, CAP, "aes256", "s3cret-Pass", &up, 1);
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r),
	    -1);
	assert_true(sg_report_has(&r, "zip.path"));
	sg_report_free(&r);
	free(z);
	free(out);
}

static void
limits(void **state)
{
	unsigned char *z = malloc(CAP), *out = malloc(CAP);
	size_t n = 3 << 20, zl;
	char *zeros = calloc(1, n);
	struct entry e = { "census.csv", zeros, n, AE_IFREG };
	struct sink k = { out, 0 };
	struct sg_report r;
	struct sg_limits saved = lim;

	(void)state;
	zl = make_zip(z, CAP, "aes256", "s3cret-Pass", &e, 1);
	/* larger than the flow allows: refused as it expands */
	lim.max_bytes = 100000;
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r),
	    -1);
	assert_true(sg_report_has(&r, "zip.too-large"));
	assert_true(k.len <= 100000 + 65536);
	sg_report_free(&r);
	/* zeros compress a thousandfold: a bomb at a ratio of 100, judged
	 * once a MiB has come out */
	lim = saved;
	lim.max_bytes = 10 << 20;
	lim.max_ratio = 100;
	assert_int_equal(run(z, zl, SG_ENC_ZIP_AES, "s3cret-Pass", &k, &r),
	    -1);
	assert_true(sg_report_has(&r, "zip.bomb"));
	assert_true(k.len <= (2 << 20));
	sg_report_free(&r);
	lim = saved;
	free(zeros);
	free(z);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aes_whole),
		cmocka_unit_test(refusals),
		cmocka_unit_test(limits),
	};

	return cmocka_run_group_tests_name("zipin", tests, NULL, NULL);
}
