/* store: durable writes and the object store (see store.h). */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/codec.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif

struct sg_store {
	int	root, tmp, objects, quarantine;
};

int
sg_errf(char err[SG_ERR_MAX], const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err, SG_ERR_MAX, fmt, ap);
		va_end(ap);
	}
	errno = e;
	return -1;
}

int
sg_write_full(int fd, const void *p, size_t n)
{
	const unsigned char *s = p;
	ssize_t k;

	while (n > 0) {
		k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

int
sg_fsync_dir(int dirfd)
{
	return fsync(dirfd);
}

int
sg_open_dir(int atfd, const char *path, int create, mode_t mode,
    char err[SG_ERR_MAX])
{
	int fd;

	if (create && mkdirat(atfd, path, mode) != 0 && errno != EEXIST)
		return sg_errf(err, "cannot create directory %s: %s", path,
		    strerror(errno));
	if ((fd = openat(atfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return sg_errf(err, "cannot open directory %s: %s", path,
		    strerror(errno));
	return fd;
}

static void
random_name(char *out, size_t cap, const char *prefix)
{
	unsigned char r[12];
	char hx[25];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));	/* O_EXCL still protects */
	sg_hex(r, sizeof(r), hx);
	snprintf(out, cap, "%s%s", prefix, hx);
}

static int
durable(int dirfd, const char *name, const void *p, size_t n, mode_t mode,
    unsigned flags, char err[SG_ERR_MAX])
{
	char tmp[64];
	int fd;

	random_name(tmp, sizeof(tmp), ".tmp-");
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		return sg_errf(err, "cannot create a file beside %s: %s", name,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || sg_write_full(fd, p, n) != 0 ||
	    fsync(fd) != 0) {
		sg_errf(err, "cannot write %s: %s", name, strerror(errno));
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (close(fd) != 0) {
		sg_errf(err, "cannot write %s: %s", name, strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (renameat2(dirfd, tmp, dirfd, name, flags) != 0) {
		sg_errf(err, errno == EEXIST ? "%s already exists; not "
		    "replaced" : "cannot create %s: %s", name,
		    strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (sg_fsync_dir(dirfd) != 0)
		return sg_errf(err, "cannot sync the directory of %s: %s", name,
		    strerror(errno));
	return 0;
}

int
sg_durable_file(int dirfd, const char *name, const void *p, size_t n,
    mode_t mode, char err[SG_ERR_MAX])
{
	return durable(dirfd, name, p, n, mode, RENAME_NOREPLACE, err);
}

int
sg_durable_replace(int dirfd, const char *name, const void *p, size_t n,
    mode_t mode, char err[SG_ERR_MAX])
{
	return durable(dirfd, name, p, n, mode, 0, err);
}

void
sg_transfer_id(char out[SG_ID_MAX])
{
	unsigned char r[8];
	char hx[17];
	struct tm tm;
	time_t t = time(NULL);

	if (RAND_bytes(r, sizeof(r)) != 1)
		abort();	/* no randomness: nothing safe to do */
	sg_hex(r, sizeof(r), hx);
	gmtime_r(&t, &tm);
	snprintf(out, SG_ID_MAX, "%04u%02u%02u-%s",
	    (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, hx);
}

int
sg_transfer_id_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= SG_ID_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return 0;
	return 1;
}

int
sg_store_open(const char *root, int create, struct sg_store **out,
    char err[SG_ERR_MAX])
{
	struct sg_store *st;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return sg_errf(err, "out of memory");
	st->tmp = st->objects = st->quarantine = -1;
	if ((st->root = sg_open_dir(AT_FDCWD, root, create, 0700, err)) < 0 ||
	    (st->tmp = sg_open_dir(st->root, "tmp", create, 0700, err)) < 0 ||
	    (st->objects = sg_open_dir(st->root, "objects", create, 0700,
	    err)) < 0 ||
	    (st->quarantine = sg_open_dir(st->root, "quarantine", create,
	    0700, err)) < 0) {
		sg_store_close(st);
		return -1;
	}
	if (create && sg_fsync_dir(st->root) != 0) {
		sg_store_close(st);
		return sg_errf(err, "cannot sync the store directory: %s",
		    strerror(errno));
	}
	*out = st;
	return 0;
}

void
sg_store_close(struct sg_store *st)
{
	if (st == NULL)
		return;
	if (st->root >= 0)
		close(st->root);
	if (st->tmp >= 0)
		close(st->tmp);
	if (st->objects >= 0)
		close(st->objects);
	if (st->quarantine >= 0)
		close(st->quarantine);
	free(st);
}


int
sg_store_tmp_begin(struct sg_store *st, struct sg_store_tmp *t,
    char err[SG_ERR_MAX])
{
	memset(t, 0, sizeof(*t));
	t->st = st;
	random_name(t->name, sizeof(t->name), "t-");
	if ((t->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(t->sha, EVP_sha256(), NULL) <= 0) {
		EVP_MD_CTX_free(t->sha);
		return sg_errf(err, "out of memory");
	}
	if ((t->fd = openat(st->tmp, t->name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		EVP_MD_CTX_free(t->sha);
		return sg_errf(err, "cannot create a temporary file: %s",
		    strerror(errno));
	}
	return 0;
}

#define WRITEBACK	(8 * 1024 * 1024)

int
sg_store_tmp_write(void *arg, const void *p, size_t n)
{
	struct sg_store_tmp *t = arg;

	if (t->failed)
		return -1;
	if (sg_write_full(t->fd, p, n) != 0 ||
	    EVP_DigestUpdate(t->sha, p, n) <= 0) {
		t->failed = errno ? errno : EIO;
		return -1;
	}
	/* start writing back each 8 MiB as it completes, so that the
	 * fsync at commit has little left to do (durability still comes
	 * only from that fsync) */
	if ((t->size + n) / WRITEBACK > t->size / WRITEBACK) {
		off_t end = (off_t)((t->size + n) / WRITEBACK * WRITEBACK);

		(void)sync_file_range(t->fd, end - WRITEBACK, WRITEBACK,
		    SYNC_FILE_RANGE_WRITE);
	}
	t->size += n;
	return 0;
}

void
sg_store_tmp_abort(struct sg_store_tmp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->st != NULL)	/* NULL: a writer in another process */
		unlinkat(t->st->tmp, t->name, 0);
	EVP_MD_CTX_free(t->sha);
	t->sha = NULL;
}

int
sg_store_tmp_commit(struct sg_store_tmp *t, const char *id,
    unsigned char sha256[32], char err[SG_ERR_MAX])
{
	unsigned int l = 32;
	int fd = t->fd;

	if (!sg_transfer_id_ok(id)) {
		sg_store_tmp_abort(t);
		return sg_errf(err, "invalid object id");
	}
	if (t->failed) {
		errno = t->failed;
		sg_errf(err, "writing the object failed: %s", strerror(errno));
		sg_store_tmp_abort(t);
		return -1;
	}
	if (fsync(fd) != 0) {
		/* never retried: the data may already be lost */
		sg_errf(err, "fsync of the object failed: %s", strerror(errno));
		sg_store_tmp_abort(t);
		return -1;
	}
	t->fd = -1;
	if (close(fd) != 0) {
		sg_errf(err, "close of the object failed: %s", strerror(errno));
		sg_store_tmp_abort(t);
		return -1;
	}
	if (renameat2(t->st->tmp, t->name, t->st->objects, id,
	    RENAME_NOREPLACE) != 0) {
		sg_errf(err, "cannot move the object into place: %s",
		    strerror(errno));
		sg_store_tmp_abort(t);
		return -1;
	}
	if (sg_fsync_dir(t->st->objects) != 0) {
		/* The rename may or may not survive a crash; the object is
		 * not acknowledged, so take it back out. */
		sg_errf(err, "fsync of the objects directory failed: %s",
		    strerror(errno));
		if (renameat2(t->st->objects, id, t->st->tmp, t->name,
		    RENAME_NOREPLACE) == 0)
			unlinkat(t->st->tmp, t->name, 0);
		EVP_MD_CTX_free(t->sha);
		t->sha = NULL;
		return -1;
	}
	EVP_DigestFinal_ex(t->sha, sha256, &l);
	EVP_MD_CTX_free(t->sha);
	t->sha = NULL;
	return 0;
}

#define PUT_BUF	(1024 * 1024)

struct sg_store_seal {
	struct sg_store_tmp	 t;
	struct sg_age_enc	*e;
	EVP_MD_CTX		*ph;
	uint64_t		 plain_size;
	int			 failed;
	int			 remote;	/* written by another process */
	int			 adopted;	/* ... and its result taken */
	struct sg_put_result	 res;		/* the result adopted */
};

static void
seal_free(struct sg_store_seal *s)
{
	EVP_MD_CTX_free(s->ph);
	sg_age_enc_free(s->e);
	free(s);
}

int
sg_store_seal_begin_remote(struct sg_store *st, struct sg_store_seal **out,
    char err[SG_ERR_MAX])
{
	struct sg_store_seal *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return sg_errf(err, "out of memory");
	if (sg_store_tmp_begin(st, &s->t, err) != 0) {
		free(s);
		return -1;
	}
	s->remote = 1;
	*out = s;
	return 0;
}

int
sg_store_seal_fd(const struct sg_store_seal *s)
{
	return s->t.fd;
}

int
sg_store_seal_adopt(struct sg_store_seal *s, const struct sg_put_result *r)
{
	struct stat sb;

	if (!s->remote || s->adopted || fstat(s->t.fd, &sb) != 0 ||
	    (uint64_t)sb.st_size != r->obj_size)
		return -1;
	s->res = *r;
	s->t.size = r->obj_size;
	s->plain_size = r->plain_size;
	s->adopted = 1;
	return 0;
}

int
sg_store_seal_fd_begin(int fd, const unsigned char (*pks)[32], size_t npks,
    struct sg_store_seal **out)
{
	struct sg_store_seal *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->t.fd = fd;
	if ((s->t.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->t.sha, EVP_sha256(), NULL) <= 0 ||
	    (s->e = sg_age_enc_new(pks, npks)) == NULL ||
	    (s->ph = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->ph, EVP_sha256(), NULL) <= 0) {
		EVP_MD_CTX_free(s->t.sha);
		seal_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
sg_store_seal_fd_finish(struct sg_store_seal *s, struct sg_put_result *res)
{
	unsigned int l = 32;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (!s->failed && sg_age_enc_finish(s->e, sg_store_tmp_write,
	    &s->t) == 0 && !s->t.failed) {
		EVP_DigestFinal_ex(s->ph, res->plain_sha256, &l);
		EVP_DigestFinal_ex(s->t.sha, res->obj_sha256, &l);
		res->plain_size = s->plain_size;
		res->obj_size = s->t.size;
		rc = 0;
	}
	EVP_MD_CTX_free(s->t.sha);
	seal_free(s);
	return rc;
}

int
sg_store_seal_begin(struct sg_store *st, const unsigned char (*pks)[32],
    size_t npks, struct sg_store_seal **out, char err[SG_ERR_MAX])
{
	struct sg_store_seal *s;

	if (sg_store_seal_begin_remote(st, &s, err) != 0)
		return -1;
	s->remote = 0;	/* it seals here */
	if ((s->e = sg_age_enc_new(pks, npks)) == NULL ||
	    (s->ph = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->ph, EVP_sha256(), NULL) <= 0) {
		sg_store_tmp_abort(&s->t);
		seal_free(s);
		*out = NULL;
		return sg_errf(err, "cannot start sealing (out of memory or "
		    "no recipients)");
	}
	*out = s;
	return 0;
}

int
sg_store_seal_write(void *arg, const void *buf, size_t len)
{
	struct sg_store_seal *s = arg;

	if (s->failed || s->remote)
		return -1;
	s->plain_size += len;
	if (EVP_DigestUpdate(s->ph, buf, len) <= 0 ||
	    sg_age_enc_write(s->e, buf, len, sg_store_tmp_write, &s->t) != 0) {
		s->failed = 1;
		return -1;
	}
	return 0;
}

void
sg_store_seal_abort(struct sg_store_seal *s)
{
	if (s == NULL)
		return;
	sg_store_tmp_abort(&s->t);
	seal_free(s);
}

int
sg_store_seal_plain_sha256(const struct sg_store_seal *s,
    unsigned char out[32])
{
	EVP_MD_CTX *c;
	unsigned int l = 32;
	int rc = -1;

	if (s->remote) {
		if (!s->adopted)
			return -1;
		memcpy(out, s->res.plain_sha256, 32);
		return 0;
	}
	c = EVP_MD_CTX_new();
	if (c != NULL && EVP_MD_CTX_copy_ex(c, s->ph) == 1 &&
	    EVP_DigestFinal_ex(c, out, &l) == 1)
		rc = 0;
	EVP_MD_CTX_free(c);
	return rc;
}

int
sg_store_seal_commit(struct sg_store_seal *s, const char *id,
    struct sg_put_result *res, char err[SG_ERR_MAX])
{
	unsigned int l = 32;
	int rc;

	memset(res, 0, sizeof(*res));
	if (s->remote) {
		unsigned char ignored[32];

		if (!s->adopted) {
			sg_errf(err, "the object was not sealed");
			sg_store_seal_abort(s);
			return -1;
		}
		/* the digest is the writer's, which wrote every byte */
		*res = s->res;
		rc = sg_store_tmp_commit(&s->t, id, ignored, err);
		seal_free(s);
		return rc;
	}
	if (s->failed || sg_age_enc_finish(s->e, sg_store_tmp_write, &s->t) !=
	    0) {
		sg_errf(err, "writing the object failed: %s",
		    strerror(s->t.failed ? s->t.failed : EIO));
		sg_store_seal_abort(s);
		return -1;
	}
	EVP_DigestFinal_ex(s->ph, res->plain_sha256, &l);
	res->plain_size = s->plain_size;
	res->obj_size = s->t.size;
	rc = sg_store_tmp_commit(&s->t, id, res->obj_sha256, err);
	seal_free(s);
	return rc;
}

int
sg_store_put(struct sg_store *st, const char *id,
    const unsigned char (*pks)[32], size_t npks, sg_src_fn src,
    void *src_arg, struct sg_put_result *res, char err[SG_ERR_MAX])
{
	struct sg_store_seal *s;
	unsigned char *buf;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	if ((buf = malloc(PUT_BUF)) == NULL)
		return sg_errf(err, "out of memory");
	if (sg_store_seal_begin(st, pks, npks, &s, err) != 0) {
		free(buf);
		return -1;
	}
	while ((n = src(src_arg, buf, PUT_BUF)) > 0)
		if (sg_store_seal_write(s, buf, (size_t)n) != 0) {
			sg_errf(err, "writing the object failed: %s",
			    strerror(s->t.failed ? s->t.failed : EIO));
			goto bad;
		}
	free(buf);
	buf = NULL;
	if (n < 0) {
		sg_errf(err, "the input could not be read");
		goto bad;
	}
	return sg_store_seal_commit(s, id, res, err);
bad:
	free(buf);
	sg_store_seal_abort(s);
	return -1;
}

static int
open_object(struct sg_store *st, const char *id, int flags,
    char err[SG_ERR_MAX])
{
	int fd;

	if (!sg_transfer_id_ok(id))
		return sg_errf(err, "invalid object id");
	if ((fd = openat(st->objects, id, flags | O_NOFOLLOW | O_CLOEXEC)) <
	    0)
		return sg_errf(err, "object %s: %s", id, strerror(errno));
	return fd;
}

int
sg_store_open_object(struct sg_store *st, const char *id,
    char err[SG_ERR_MAX])
{
	return open_object(st, id, O_RDONLY, err);
}

/* Reads the header region (up to the maximum header plus nonce). */
static ssize_t
read_head(int fd, unsigned char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t k;

	while (got < cap) {
		k = pread(fd, buf + got, cap - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

#define HEAD_CAP	(SG_AGE_MAX_HEADER + SG_AGE_NONCE)

int
sg_store_add_recipients(struct sg_store *st, const char *id,
    const struct sg_age_identity *ids, size_t nids,
    const unsigned char (*add)[32], size_t nadd, unsigned char new_sha[32],
    char err[SG_ERR_MAX])
{
	unsigned char *head = NULL, *nh = NULL, *buf = NULL;
	struct sg_store_tmp t;
	const char *why = NULL;
	size_t hlen = 0, nhl = 0;
	unsigned int l = 32;
	ssize_t got, k;
	off_t off;
	int fd, rc = -1;

	if ((fd = open_object(st, id, O_RDONLY, err)) < 0)
		return -1;
	if ((head = malloc(HEAD_CAP)) == NULL ||
	    (buf = malloc(PUT_BUF)) == NULL) {
		sg_errf(err, "out of memory");
		goto out;
	}
	if ((got = read_head(fd, head, HEAD_CAP)) < 0 ||
	    sg_age_header_len(head, (size_t)got, &hlen, &why) != SG_AGE_OK ||
	    sg_age_rewrap(head, hlen, ids, nids, add, nadd, &nh, &nhl,
	    &why) != SG_AGE_OK) {
		sg_errf(err, "object %s: cannot re-wrap its key: %s", id,
		    why ? why : strerror(errno));
		goto out;
	}
	if (sg_store_tmp_begin(st, &t, err) != 0)
		goto out;
	if (sg_store_tmp_write(&t, nh, nhl) != 0) {
		sg_errf(err, "writing the new header failed");
		sg_store_tmp_abort(&t);
		goto out;
	}
	/* the nonce and the payload, byte for byte */
	for (off = (off_t)hlen; (k = pread(fd, buf, PUT_BUF, off)) > 0;
	    off += k)
		if (sg_store_tmp_write(&t, buf, (size_t)k) != 0)
			break;
	if (k != 0 || t.failed || fsync(t.fd) != 0 ||
	    close(t.fd) != 0) {
		sg_errf(err, "copying the payload failed: %s", strerror(errno));
		sg_store_tmp_abort(&t);
		goto out;
	}
	t.fd = -1;
	/* replace atomically: the old header or the new, never neither */
	if (renameat(st->tmp, t.name, st->objects, id) != 0 ||
	    sg_fsync_dir(st->objects) != 0) {
		sg_errf(err, "cannot replace the object: %s", strerror(errno));
		sg_store_tmp_abort(&t);
		goto out;
	}
	EVP_DigestFinal_ex(t.sha, new_sha, &l);
	EVP_MD_CTX_free(t.sha);
	rc = 0;
out:
	close(fd);
	free(head);
	free(nh);
	free(buf);
	return rc;
}

int
sg_store_delete(struct sg_store *st, const char *id, int *shredded,
    char err[SG_ERR_MAX])
{
	unsigned char *head;
	const char *why;
	size_t hlen = 0, n;
	ssize_t got;
	int fd;

	*shredded = 0;
	if ((fd = open_object(st, id, O_RDWR, err)) < 0)
		return -1;
	if ((head = malloc(HEAD_CAP)) == NULL) {
		close(fd);
		return sg_errf(err, "out of memory");
	}
	got = read_head(fd, head, HEAD_CAP);
	if (got > 0) {
		/* the header and nonce, or what there is of a damaged one */
		n = sg_age_header_len(head, (size_t)got, &hlen, &why) ==
		    SG_AGE_OK ? hlen + SG_AGE_NONCE : (size_t)got;
		if (n > (size_t)got)
			n = (size_t)got;
		memset(head, 0, n);
		if (pwrite(fd, head, n, 0) != (ssize_t)n || fsync(fd) != 0) {
			free(head);
			close(fd);
			return sg_errf(err, "object %s: cannot overwrite its "
			    "header: %s", id, strerror(errno));
		}
		*shredded = 1;
	}
	free(head);
	if (close(fd) != 0)
		return sg_errf(err, "object %s: %s", id, strerror(errno));
	if (unlinkat(st->objects, id, 0) != 0 ||
	    sg_fsync_dir(st->objects) != 0)
		return sg_errf(err, "object %s: cannot remove it: %s", id,
		    strerror(errno));
	return 0;
}

int
sg_store_hash(struct sg_store *st, const char *id, unsigned char sha[32],
    uint64_t *size, char err[SG_ERR_MAX])
{
	unsigned char *buf;
	EVP_MD_CTX *h;
	unsigned int l = 32;
	ssize_t k;
	int fd, rc = 0;

	if ((fd = open_object(st, id, O_RDONLY, err)) < 0)
		return -1;
	*size = 0;
	if ((buf = malloc(PUT_BUF)) == NULL || (h = EVP_MD_CTX_new()) ==
	    NULL) {
		free(buf);
		close(fd);
		return sg_errf(err, "out of memory");
	}
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	while ((k = read(fd, buf, PUT_BUF)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = sg_errf(err, "object %s: %s", id, strerror(errno));
			break;
		}
		EVP_DigestUpdate(h, buf, (size_t)k);
		*size += (uint64_t)k;
	}
	EVP_DigestFinal_ex(h, sha, &l);
	EVP_MD_CTX_free(h);
	free(buf);
	close(fd);
	return rc;
}

int
sg_store_quarantine(struct sg_store *st, const char *name,
    char err[SG_ERR_MAX])
{
	char dst[300];
	unsigned i;

	snprintf(dst, sizeof(dst), "%s", name);
	for (i = 1; i < 1000; i++) {
		if (renameat2(st->objects, name, st->quarantine, dst,
		    RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST)
			return sg_errf(err, "cannot quarantine an object: %s",
			    strerror(errno));
		snprintf(dst, sizeof(dst), "%.200s.%u", name, i);
	}
	if (i == 1000)
		return sg_errf(err, "cannot quarantine an object: too many "
		    "copies");
	if (sg_fsync_dir(st->quarantine) != 0 ||
	    sg_fsync_dir(st->objects) != 0)
		return sg_errf(err, "cannot sync after quarantine: %s",
		    strerror(errno));
	return 0;
}

static int
each_in(int dirfd, int (*fn)(void *, const char *), void *arg,
    char err[SG_ERR_MAX])
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return sg_errf(err, "cannot list a store directory: %s",
		    strerror(errno));
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		rc = fn(arg, de->d_name);
	}
	closedir(d);
	return rc;
}

int
sg_store_each(struct sg_store *st, int (*fn)(void *, const char *),
    void *arg, char err[SG_ERR_MAX])
{
	return each_in(st->objects, fn, arg, err);
}

struct names {
	char	**v;
	size_t	  n, cap;
};

static int
collect(void *arg, const char *name)
{
	struct names *ns = arg;
	char **nv;

	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		if ((nv = realloc(ns->v, ns->cap * sizeof(*nv))) == NULL)
			return -1;
		ns->v = nv;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static void
names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

/* Why an object is damaged, or NULL when it checks out. */
static const char *
check_object(struct sg_store *st, const char *name,
    const struct sg_age_identity *ids, size_t nids, unsigned char *head)
{
	struct sg_age_file *f;
	const char *why = NULL;
	unsigned char last;
	struct stat sb;
	size_t hlen;
	ssize_t got;
	int fd, rc;

	if (!sg_transfer_id_ok(name))
		return "not a transfer id";
	if ((fd = openat(st->objects, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return "cannot be opened";
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	if ((got = read_head(fd, head, HEAD_CAP)) < 0 ||
	    sg_age_header_len(head, (size_t)got, &hlen, &why) != SG_AGE_OK) {
		close(fd);
		return "its header is damaged";
	}
	if ((uint64_t)sb.st_size < hlen + SG_AGE_NONCE ||
	    sg_age_plain_size((uint64_t)sb.st_size - hlen - SG_AGE_NONCE) <
	    0) {
		close(fd);
		return "it is truncated (not a whole number of chunks)";
	}
	if (nids > 0) {
		rc = sg_age_file_open(fd, ids, nids, &f, &why);
		if (rc == SG_AGE_OK) {
			if (sg_age_file_size(f) > 0 && sg_age_file_pread(f,
			    &last, 1, sg_age_file_size(f) - 1) != 1)
				why = "its last chunk does not authenticate";
			else
				why = NULL;
			sg_age_file_close(f);
		} else if (rc == SG_AGE_NO_MATCH)
			why = NULL;	/* sealed to recipients only */
		else
			why = "its header does not authenticate";
	} else
		why = NULL;
	close(fd);
	return why;
}

int
sg_store_recover(struct sg_store *st, const struct sg_age_identity *ids,
    size_t nids, void (*note)(void *, const char *, const char *),
    void *arg, struct sg_recovery *rec, char err[SG_ERR_MAX])
{
	struct names tmp = { NULL, 0, 0 }, obj = { NULL, 0, 0 };
	unsigned char *head;
	const char *why;
	size_t i;
	int rc = -1;

	memset(rec, 0, sizeof(*rec));
	if ((head = malloc(HEAD_CAP)) == NULL)
		return sg_errf(err, "out of memory");
	if (each_in(st->tmp, collect, &tmp, err) != 0)
		goto out;
	for (i = 0; i < tmp.n; i++) {
		if (unlinkat(st->tmp, tmp.v[i], 0) != 0) {
			sg_errf(err, "cannot remove a temporary file: %s",
			    strerror(errno));
			goto out;
		}
		rec->tmp_removed++;
	}
	if (tmp.n > 0 && sg_fsync_dir(st->tmp) != 0) {
		sg_errf(err, "cannot sync tmp/: %s", strerror(errno));
		goto out;
	}
	if (tmp.n > 0 && note)
		note(arg, "tmp", "unfinished temporary files removed");
	if (each_in(st->objects, collect, &obj, err) != 0)
		goto out;
	for (i = 0; i < obj.n; i++) {
		rec->checked++;
		if ((why = check_object(st, obj.v[i], ids, nids, head)) ==
		    NULL)
			continue;
		if (sg_store_quarantine(st, obj.v[i], err) != 0)
			goto out;
		rec->quarantined++;
		if (note)
			note(arg, sg_transfer_id_ok(obj.v[i]) ? obj.v[i] :
			    "(stray name)", why);
	}
	rc = 0;
out:
	free(head);
	names_free(&tmp);
	names_free(&obj);
	return rc;
}
