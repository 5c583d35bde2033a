/* age: round trips, random access, tampering, re-wrapping, key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/rand.h>

#include "seal/age.h"
#include "seal/keys.h"
#include "store/store.h"

struct mbuf {
	unsigned char	*p;
	size_t		 len, cap, off;
};

static int
msink(void *arg, const void *p, size_t n)
{
	struct mbuf *m = arg;

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2 + 1024;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

static ssize_t
msrc(void *arg, void *buf, size_t cap)
{
	struct mbuf *m = arg;
	size_t n = m->len - m->off;

	if (n > cap)
		n = cap;
	/* odd read sizes exercise the buffering */
	if (n > 7777)
		n = 7777;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static struct sg_age_identity id1, id2;

static void
seal(const unsigned char *p, size_t n, struct mbuf *out)
{
	struct sg_age_enc *e = sg_age_enc_new(
	    (const unsigned char (*)[32])&id1.pk, 1);

	assert_non_null(e);
	memset(out, 0, sizeof(*out));
	/* in uneven pieces */
	while (n > 0) {
		size_t k = n < 30000 ? n : 30000;
		assert_int_equal(sg_age_enc_write(e, p, k, msink, out), 0);
		p += k;
		n -= k;
	}
	assert_int_equal(sg_age_enc_finish(e, msink, out), 0);
	sg_age_enc_free(e);
}

static int
unseal(struct mbuf *c, const struct sg_age_identity *id, struct mbuf *out)
{
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	c->off = 0;
	return sg_age_decrypt(id, 1, msrc, c, msink, out, &why);
}

static void
round_trips(void **state)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537,
	    10 * 1024 * 1024 };
	struct mbuf c, d;
	unsigned char *p;
	size_t i;

	(void)state;
	p = malloc(sizes[5]);
	assert_non_null(p);
	RAND_bytes(p, (int)sizes[5]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		seal(p, sizes[i], &c);
		assert_int_equal(unseal(&c, &id1, &d), SG_AGE_OK);
		assert_int_equal(d.len, sizes[i]);
		assert_true(sizes[i] == 0 || memcmp(d.p, p, sizes[i]) == 0);
		free(d.p);
		/* another identity: no match, nothing released */
		assert_int_equal(unseal(&c, &id2, &d), SG_AGE_NO_MATCH);
		assert_int_equal(d.len, 0);
		free(d.p);
		free(c.p);
	}
	free(p);
}

static size_t
header_len(const struct mbuf *c)
{
	size_t h = 0;

	assert_int_equal(sg_age_header_len(c->p, c->len, &h, NULL), SG_AGE_OK);
	return h;
}

static void
tampering_fails(void **state)
{
	size_t n = 3 * 65536 + 100, h, ck = SG_AGE_CCHUNK;
	unsigned char *p = malloc(n), *t = malloc(ck);
	struct mbuf c, d;

	(void)state;
	RAND_bytes(p, (int)n);
	seal(p, n, &c);
	h = header_len(&c) + SG_AGE_NONCE;
	/* a flipped byte in the second chunk */
	c.p[h + ck + 5] ^= 1;
	assert_int_equal(unseal(&c, &id1, &d), SG_AGE_PAYLOAD);
	assert_int_equal(d.len, 65536);		/* only the first chunk */
	free(d.p);
	c.p[h + ck + 5] ^= 1;
	/* two chunks swapped */
	memcpy(t, c.p + h, ck);
	memcpy(c.p + h, c.p + h + ck, ck);
	memcpy(c.p + h + ck, t, ck);
	assert_int_equal(unseal(&c, &id1, &d), SG_AGE_PAYLOAD);
	assert_int_equal(d.len, 0);
	free(d.p);
	memcpy(c.p + h + ck, c.p + h, ck);
	memcpy(c.p + h, t, ck);
	assert_int_equal(unseal(&c, &id1, &d), SG_AGE_OK);
	free(d.p);
	/* truncated: inside the last chunk, and at a chunk boundary */
	c.len -= 10;
	assert_int_equal(unseal(&c, &id1, &d), SG_AGE_PAYLOAD);
	free(d.p);
	c.len = h + 3 * ck;
	assert_int_equal(unseal(&c, &id1, &d), SG_AGE_PAYLOAD);
	free(d.p);
	/* a changed header byte: the MAC */
	c.len = h + 3 * ck + 100 + 16;
	c.p[25] ^= 0x20;	/* "X25519" -> "x25519": no match */
	assert_int_not_equal(unseal(&c, &id1, &d), SG_AGE_OK);
	free(d.p);
	free(c.p);
	free(p);
	free(t);
}

static char tmpdir[] = "/tmp/sg-age-XXXXXX";

static int
write_tmp(const char *name, const void *p, size_t n, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
	chmod(path, mode);
	return 0;
}

static void
random_access(void **state)
{
	size_t n = 5 * 65536 + 1234, i;
	static const uint64_t offs[] = { 0, 1, 65535, 65536, 65537,
	    2 * 65536 - 1, 2 * 65536, 5 * 65536, 5 * 65536 + 1233 };
	unsigned char *p = malloc(n), buf[70000];
	struct sg_age_file *f;
	struct mbuf c;
	char path[256];
	ssize_t got;
	FILE *fp;
	int fd;

	(void)state;
	RAND_bytes(p, (int)n);
	seal(p, n, &c);
	write_tmp("ra.age", c.p, c.len, 0600);
	snprintf(path, sizeof(path), "%s/ra.age", tmpdir);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(sg_age_file_open(fd, &id1, 1, &f, NULL), SG_AGE_OK);
	assert_int_equal(sg_age_file_size(f), n);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		got = sg_age_file_pread(f, buf, sizeof(buf), offs[i]);
		assert_true(got > 0);
		assert_int_equal((size_t)got, n - offs[i] < sizeof(buf) ?
		    n - offs[i] : sizeof(buf));
		assert_memory_equal(buf, p + offs[i], (size_t)got);
	}
	assert_int_equal(sg_age_file_pread(f, buf, 10, n), 0);
	sg_age_file_close(f);
	close(fd);
	/* a damaged last chunk is found by a read there */
	c.p[c.len - 3] ^= 1;
	assert_non_null(fp = fopen(path, "w"));
	fwrite(c.p, 1, c.len, fp);
	fclose(fp);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(sg_age_file_open(fd, &id1, 1, &f, NULL), SG_AGE_OK);
	assert_int_equal(sg_age_file_pread(f, buf, 10, 0), 10);
	assert_int_equal(sg_age_file_pread(f, buf, 10, n - 5), -1);
	sg_age_file_close(f);
	close(fd);
	free(c.p);
	free(p);
}

static void
rewrap_keeps_payload(void **state)
{
	size_t n = 100000, h, nh;
	unsigned char *p = malloc(n), *hdr = NULL;
	struct mbuf c, c2, d;

	(void)state;
	RAND_bytes(p, (int)n);
	seal(p, n, &c);
	h = header_len(&c);
	assert_int_equal(sg_age_rewrap(c.p, h, &id1, 1,
	    (const unsigned char (*)[32])&id2.pk, 1, &hdr, &nh, NULL),
	    SG_AGE_OK);
	memset(&c2, 0, sizeof(c2));
	msink(&c2, hdr, nh);
	msink(&c2, c.p + h, c.len - h);	/* payload copied, not re-sealed */
	assert_int_equal(unseal(&c2, &id2, &d), SG_AGE_OK);
	assert_int_equal(d.len, n);
	assert_memory_equal(d.p, p, n);
	free(d.p);
	assert_int_equal(unseal(&c2, &id1, &d), SG_AGE_OK);
	free(d.p);
	/* the wrong identity cannot add anyone */
	free(hdr);
	assert_int_equal(sg_age_rewrap(c.p, h, &id2, 1,
	    (const unsigned char (*)[32])&id2.pk, 1, &hdr, &nh, NULL),
	    SG_AGE_NO_MATCH);
	free(c.p);
	free(c2.p);
	free(p);
}

static void
key_files(void **state)
{
	char ident[SG_AGE_IDENTITY_LEN], line[128], path[256], err[SG_ERR_MAX];
	char rc[SG_AGE_RECIPIENT_LEN], back[SG_AGE_RECIPIENT_LEN];
	struct sg_age_identity *ids;
	unsigned char pk[32];

	(void)state;
	sg_age_identity_format(&id1, ident);
	snprintf(line, sizeof(line), "# comment\n\n%s\n", ident);
	write_tmp("id.key", line, strlen(line), 0600);
	snprintf(path, sizeof(path), "%s/id.key", tmpdir);
	assert_int_equal(sg_identities_load(path, &ids, err), 1);
	assert_memory_equal(ids[0].pk, id1.pk, 32);
	sg_identities_free(ids, 1);
	chmod(path, 0640);
	assert_int_equal(sg_identities_load(path, &ids, err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, "AGE-SECRET"));
	chmod(path, 0604);
	assert_int_equal(sg_identities_load(path, &ids, err), -1);
	/* recipients round-trip through Bech32; a flipped char fails */
	sg_age_recipient_format(id1.pk, rc);
	assert_int_equal(sg_age_recipient_parse(rc, pk), 0);
	assert_memory_equal(pk, id1.pk, 32);
	sg_age_recipient_format(pk, back);
	assert_string_equal(back, rc);
	rc[10] = rc[10] == 'q' ? 'p' : 'q';
	assert_int_equal(sg_age_recipient_parse(rc, pk), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips),
		cmocka_unit_test(tampering_fails),
		cmocka_unit_test(random_access),
		cmocka_unit_test(rewrap_keeps_payload),
		cmocka_unit_test(key_files),
	};
	int rc;

	if (sg_age_identity_generate(&id1) != 0 ||
	    sg_age_identity_generate(&id2) != 0 || mkdtemp(tmpdir) == NULL)
		return 1;
	rc = cmocka_run_group_tests_name("age", tests, NULL, NULL);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
