/* Unit tests for common/store/vault.c: the store and the transfer log
 * agree. An object received is sealed to its recipients and recorded
 * before the call returns; an abandoned one leaves no object and no
 * record; at open, an object the log does not know (written, then a crash
 * before its record) and an object whose bytes changed are moved to
 * quarantine and recorded as such; a deleted object stays deleted. */
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

#include "log/note.h"
#include "seal/age.h"
#include "store/vault.h"

static char root[] = "/tmp/sgvault.XXXXXX";
static char store_dir[64], log_dir[64];
static struct sg_note_key signer;
static struct sg_age_identity gate, reader;

struct seen {
	char	 quarantined[8][128];
	size_t	 n;
};

static void
on_note(void *arg, const char *what)
{
	(void)arg;
	(void)what;
}

static void
on_quarantined(void *arg, const char *object, const char *what)
{
	struct seen *s = arg;

	(void)what;
	if (s->n < 8)
		snprintf(s->quarantined[s->n++], 128, "%s", object);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(log_dir, sizeof(log_dir), "%s/log", root);
	if (sg_note_key_generate("test.schoolgate", &signer) != 0 ||
	    sg_age_identity_generate(&gate) != 0 ||
	    sg_age_identity_generate(&reader) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sg_vault *
vopen(struct seen *seen)
{
	struct sg_vault_opts o;
	struct sg_vault *v = NULL;
	char err[SG_ERR_MAX];

	memset(&o, 0, sizeof(o));
	o.store_dir = store_dir;
	o.log_dir = log_dir;
	o.signer = &signer;
	o.ids = &gate;
	o.nids = 1;
	o.create = 1;
	o.checkpoint_every = 1000;
	o.note = on_note;
	o.quarantined = on_quarantined;
	o.arg = seen;
	if (sg_vault_open(&o, &v, err) != 0)
		fail_msg("open: %s", err);
	return v;
}

static void
vclose(struct sg_vault *v)
{
	char err[SG_ERR_MAX];

	assert_int_equal(sg_vault_close(v, err), 0);
}

static uint64_t
records(struct sg_vault *v)
{
	struct sg_log_info li;

	sg_vault_log_info(v, &li);
	return li.records;
}

static size_t
entries(const char *sub)
{
	char p[128];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/%s", store_dir, sub);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct mem {
	const char	*p;
	size_t		 len, off;
};

static ssize_t
mem_read(void *arg, void *buf, size_t cap)
{
	struct mem *m = arg;
	size_t k = m->len - m->off < cap ? m->len - m->off : cap;

	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

static ssize_t
fd_read(void *arg, void *buf, size_t cap)
{
	return read(*(int *)arg, buf, cap);
}

struct out {
	char	 buf[4096];
	size_t	 len;
};

static int
out_write(void *arg, const void *b, size_t n)
{
	struct out *o = arg;

	if (o->len + n > sizeof(o->buf))
		return -1;
	memcpy(o->buf + o->len, b, n);
	o->len += n;
	return 0;
}

static void
receive(struct sg_vault *v, const char *text, char id[SG_ID_MAX])
{
	struct mem m = { text, strlen(text), 0 };
	struct sg_put_result pr;
	char err[SG_ERR_MAX];
	unsigned char pks[2][32];
	uint64_t seq;

	/* as the daemon seals: to the recipient and to the gateway's
	 * storage identity (with which recovery checks objects) */
	memcpy(pks[0], reader.pk, 32);
	memcpy(pks[1], gate.pk, 32);
	if (sg_vault_receive(v, (const unsigned char (*)[32])pks, 2,
	    mem_read, &m, "census", id, &seq, &pr, err) != 0)
		fail_msg("receive: %s", err);
	assert_int_equal(pr.plain_size, strlen(text));
}

/* What the object holds, opened with the reader's key. */
static int
read_back(struct sg_vault *v, const char *id, struct out *o)
{
	char err[SG_ERR_MAX];
	int fd = sg_vault_open_object(v, id, err), st;

	if (fd < 0)
		return -1;
	o->len = 0;
	st = sg_age_decrypt(&reader, 1, fd_read, &fd, out_write, o, NULL);
	close(fd);
	return st == SG_AGE_OK ? 0 : -1;
}

static void
lifecycle(void **state)
{
	struct seen seen = { .n = 0 };
	struct sg_vault *v = vopen(&seen);
	struct sg_store_seal *seal;
	char a[SG_ID_MAX], b[SG_ID_MAX], err[SG_ERR_MAX], p1[160], p2[160];
	struct out o;
	uint64_t n0;
	int fd;

	(void)state;
	n0 = records(v);
	receive(v, "UPN,Surname\nH801200001001,Example\n", a);
	receive(v, "a second file\n", b);
	assert_int_equal(records(v), n0 + 2);
	assert_int_equal(entries("objects"), 2);
	/* sealed to the recipient: it reads back; the gateway's own key is
	 * not one it was sealed to */
	assert_int_equal(read_back(v, a, &o), 0);
	assert_int_equal(o.len, 34);
	assert_memory_equal(o.buf, "UPN,Surname\nH801200001001,Example\n", 34);
	/* an upload abandoned part way: no object, no record */
	assert_int_equal(sg_vault_put_begin(v, (const unsigned char (*)[32])
	    reader.pk, 1, &seal, err), 0);
	assert_int_equal(sg_store_seal_write(seal, "half a fi", 9), 0);
	sg_store_seal_abort(seal);
	assert_int_equal(records(v), n0 + 2);
	assert_int_equal(entries("objects"), 2);
	assert_int_equal(entries("tmp"), 0);
	/* deleted: recorded, gone, and not to be opened */
	assert_int_equal(sg_vault_delete(v, b, "retention", err), 0);
	assert_int_equal(records(v), n0 + 3);
	assert_int_equal(entries("objects"), 1);
	assert_true(sg_vault_open_object(v, b, err) < 0);
	vclose(v);

	/* a crash: an object the log never recorded, and a stored object
	 * whose bytes changed on disk */
	snprintf(p1, sizeof(p1), "%s/objects/%s", store_dir, a);
	snprintf(p2, sizeof(p2), "%s/objects/20261201-00000000000000aa",
	    store_dir);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", p1, p2);
		assert_int_equal(system(cmd), 0);
	}
	{
		struct stat sb;
		unsigned char c;

		/* one bit of the last chunk's authentication tag */
		assert_true((fd = open(p1, O_RDWR)) >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		assert_int_equal(pread(fd, &c, 1, sb.st_size - 1), 1);
		c ^= 1;
		assert_int_equal(pwrite(fd, &c, 1, sb.st_size - 1), 1);
		close(fd);
	}
	v = vopen(&seen);
	/* the changed one is reported as damaged; the unrecorded one is
	 * moved as never acknowledged */
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.quarantined[0], a);
	assert_int_equal(entries("objects"), 0);
	assert_int_equal(entries("quarantine"), 2);
	/* each recorded in the log; the changed object cannot be read */
	assert_int_equal(records(v), n0 + 5);
	assert_true(sg_vault_open_object(v, a, err) < 0);
	assert_true(sg_vault_open_object(v, b, err) < 0);
	vclose(v);
	/* opened again: nothing more to do, nothing resurrected */
	seen.n = 0;
	v = vopen(&seen);
	assert_int_equal(seen.n, 0);
	assert_int_equal(records(v), n0 + 5);
	assert_int_equal(entries("objects"), 0);
	vclose(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle),
	};

	return cmocka_run_group_tests_name("vault", tests, setup, teardown);
}
