/* keys: loading and creating the gateway's key files. */
#include "seal/keys.h"

#include <libssh/libssh.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

static char *
read_file(const char *path, int secret, char err[SG_ERR_MAX])
{
	struct stat sb;
	size_t len = 0;
	ssize_t k;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		sg_errf(err, "%s: %s", path, errno == ELOOP ?
		    "is a symbolic link (refused)" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		sg_errf(err, "%s: not a regular file", path);
		return NULL;
	}
	if (secret && (sb.st_mode & 077) != 0) {
		close(fd);
		sg_errf(err, "%s: key file is accessible by group or others "
		    "(mode %04o); refusing to use it: run chmod 600 %s",
		    path, (unsigned)(sb.st_mode & 07777), path);
		return NULL;
	}
	if (sb.st_size > SG_KEY_FILE_MAX ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		sg_errf(err, "%s: too large for a key file", path);
		return NULL;
	}
	while (len < (size_t)sb.st_size && (k = read(fd, buf + len,
	    (size_t)sb.st_size - len)) > 0)
		len += (size_t)k;
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
		sg_errf(err, "%s: not a text key file", path);
		return NULL;
	}
	return buf;
}

char *
sg_secret_file_read(const char *path, char err[SG_ERR_MAX])
{
	return read_file(path, 1, err);
}

void
sg_wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Next meaningful line (comments and blanks skipped, whitespace at the
 * ends trimmed), or NULL. */
static char *
next_line(char **cur)
{
	char *l, *e;

	while (**cur != '\0') {
		l = *cur;
		if ((e = strchr(l, '\n')) != NULL) {
			*e = '\0';
			*cur = e + 1;
		} else
			*cur = l + strlen(l);
		while (*l == ' ' || *l == '\t')
			l++;
		for (e = l + strlen(l); e > l && (e[-1] == ' ' ||
		    e[-1] == '\t' || e[-1] == '\r'); e--)
			e[-1] = '\0';
		if (*l != '\0' && *l != '#')
			return l;
	}
	return NULL;
}

long
sg_identities_load(const char *path, struct sg_age_identity **out,
    char err[SG_ERR_MAX])
{
	struct sg_age_identity *v = NULL, *nv;
	char *buf, *cur, *l;
	size_t n = 0, lineno = 0;

	*out = NULL;
	if ((buf = read_file(path, 1, err)) == NULL)
		return -1;
	cur = buf;
	while ((l = next_line(&cur)) != NULL) {
		lineno++;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			sg_errf(err, "out of memory");
			goto bad;
		}
		v = nv;
		if (sg_age_identity_parse(l, &v[n]) != 0) {
			sg_errf(err, "%s: identity %zu is not an age X25519 "
			    "identity (AGE-SECRET-KEY-1...)", path, lineno);
			goto bad;
		}
		n++;
	}
	if (n == 0) {
		sg_errf(err, "%s: no identity in the file", path);
		goto bad;
	}
	sg_wipe_free(buf);
	*out = v;
	return (long)n;
bad:
	sg_wipe_free(buf);
	sg_identities_free(v, n);
	return -1;
}

void
sg_identities_free(struct sg_age_identity *v, size_t n)
{
	if (v != NULL) {
		OPENSSL_cleanse(v, n * sizeof(*v));
		free(v);
	}
}

long
sg_recipients_load(const char *path, unsigned char (**out)[32],
    char err[SG_ERR_MAX])
{
	unsigned char (*v)[32] = NULL, (*nv)[32];
	char *buf, *cur, *l;
	size_t n = 0;

	*out = NULL;
	if ((buf = read_file(path, 0, err)) == NULL)
		return -1;
	cur = buf;
	while ((l = next_line(&cur)) != NULL) {
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL ||
		    sg_age_recipient_parse(l, (v = nv)[n]) != 0) {
			sg_errf(err, "%s: line %zu is not an age1... recipient",
			    path, n + 1);
			free(buf);
			free(v);
			return -1;
		}
		n++;
	}
	free(buf);
	if (n == 0) {
		free(v);
		return sg_errf(err, "%s: no recipient in the file", path);
	}
	*out = v;
	return (long)n;
}

static int
load_note_key(const char *path, int secret, struct sg_note_key *k,
    char err[SG_ERR_MAX])
{
	char *buf, *cur, *l;
	int rc;

	if ((buf = read_file(path, secret, err)) == NULL)
		return -1;
	cur = buf;
	l = next_line(&cur);
	rc = l == NULL ? -1 : secret ? sg_note_signer_parse(l, k) :
	    sg_note_verifier_parse(l, k);
	sg_wipe_free(buf);
	if (rc != 0)
		return sg_errf(err, "%s: not a %s key", path, secret ?
		    "log signing (PRIVATE+KEY+...)" : "log verifier");
	return 0;
}

int
sg_signer_load(const char *path, struct sg_note_key *k, char err[SG_ERR_MAX])
{
	return load_note_key(path, 1, k, err);
}

int
sg_verifier_load(const char *path, struct sg_note_key *k,
    char err[SG_ERR_MAX])
{
	return load_note_key(path, 0, k, err);
}

/* One SSH host key and its .pub, unless the key exists already. */
static int
host_key(int dfd, const char *name, enum ssh_keytypes_e type, int bits,
    char err[SG_ERR_MAX])
{
	ssh_key k = NULL;
	char *b64 = NULL, *pub = NULL, pubname[64], *line = NULL;
	struct stat st;
	int n, rc = -1;

	if (fstatat(dfd, name, &st, 0) == 0)
		return 0;
	if (ssh_pki_generate(type, bits, &k) != SSH_OK ||
	    ssh_pki_export_privkey_base64(k, NULL, NULL, NULL, &b64) !=
	    SSH_OK || ssh_pki_export_pubkey_base64(k, &pub) != SSH_OK) {
		sg_errf(err, "%s: key generation failed", name);
		goto out;
	}
	if (sg_durable_file(dfd, name, b64, strlen(b64), 0600, err) != 0)
		goto out;
	n = asprintf(&line, "%s %s schoolgate-host\n", ssh_key_type_to_char(
	    ssh_key_type(k)), pub);
	snprintf(pubname, sizeof(pubname), "%s.pub", name);
	if (n < 0 || sg_durable_file(dfd, pubname, line, (size_t)n, 0644,
	    err) != 0)
		goto out;
	rc = 0;
out:
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		ssh_string_free_char(b64);
	}
	ssh_string_free_char(pub);
	free(line);
	ssh_key_free(k);
	return rc;
}

int
sg_keygen_host(const char *dir, char err[SG_ERR_MAX])
{
	int dfd, rc = -1;

	if ((dfd = sg_open_dir(AT_FDCWD, dir, 1, 0700, err)) < 0)
		return -1;
	if (host_key(dfd, SG_HOSTKEY_ED25519, SSH_KEYTYPE_ED25519, 0,
	    err) == 0 && host_key(dfd, SG_HOSTKEY_RSA, SSH_KEYTYPE_RSA, 3072,
	    err) == 0)
		rc = 0;
	close(dfd);
	return rc;
}

/* NAME.key (0600) and NAME.pub for a new age identity, in dfd; never
 * over existing files. */
static int
write_identity(int dfd, const char *name, char recipient[SG_AGE_RECIPIENT_LEN],
    char err[SG_ERR_MAX])
{
	struct sg_age_identity id;
	char ident[SG_AGE_IDENTITY_LEN], buf[512], fn[64], when[32];
	struct tm tm;
	time_t t = time(NULL);
	int n, rc = -1;

	if (sg_age_identity_generate(&id) != 0) {
		sg_errf(err, "key generation failed");
		goto out;
	}
	sg_age_identity_format(&id, ident);
	sg_age_recipient_format(id.pk, recipient);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf), "# created: %s\n# public key: %s\n"
	    "%s\n", when, recipient, ident);
	snprintf(fn, sizeof(fn), "%s.key", name);
	if (sg_durable_file(dfd, fn, buf, (size_t)n, 0600, err) != 0)
		goto out;
	n = snprintf(buf, sizeof(buf), "%s\n", recipient);
	snprintf(fn, sizeof(fn), "%s.pub", name);
	if (sg_durable_file(dfd, fn, buf, (size_t)n, 0644, err) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(&id, sizeof(id));
	OPENSSL_cleanse(ident, sizeof(ident));
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
sg_keygen_intake(const char *dir, char recipient[SG_AGE_RECIPIENT_LEN],
    char err[SG_ERR_MAX])
{
	int dfd, rc;

	if ((dfd = sg_open_dir(AT_FDCWD, dir, 1, 0700, err)) < 0)
		return -1;
	rc = write_identity(dfd, "intake", recipient, err);
	close(dfd);
	return rc;
}

int
sg_keygen(const char *dir, const char *log_name,
    char recipient[SG_AGE_RECIPIENT_LEN], char verifier[SG_NOTE_KEY_MAX],
    char err[SG_ERR_MAX])
{
	struct sg_note_key nk;
	char sk[SG_NOTE_KEY_MAX], buf[512], intake[SG_AGE_RECIPIENT_LEN];
	int dfd, n, rc = -1;

	if (!sg_note_name_ok(log_name))
		return sg_errf(err, "invalid log name (printable, no spaces or "
		    "'+')");
	if ((dfd = sg_open_dir(AT_FDCWD, dir, 1, 0700, err)) < 0)
		return -1;
	if (sg_note_key_generate(log_name, &nk) != 0) {
		sg_errf(err, "key generation failed");
		goto out;
	}
	sg_note_signer_format(&nk, sk);
	sg_note_verifier_format(&nk, verifier);
	/* the storage identity (the core's) and the intake identity (what
	 * senders seal age files to, held by the intake processes) */
	if (write_identity(dfd, "storage", recipient, err) != 0 ||
	    write_identity(dfd, "intake", intake, err) != 0)
		goto out;
	n = snprintf(buf, sizeof(buf), "%s\n", sk);
	if (sg_durable_file(dfd, "log-signing.key", buf, (size_t)n, 0600,
	    err) != 0)
		goto out;
	n = snprintf(buf, sizeof(buf), "%s\n", verifier);
	if (sg_durable_file(dfd, "log-signing.pub", buf, (size_t)n, 0644,
	    err) != 0)
		goto out;
	if (sg_keygen_host(dir, err) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(&nk, sizeof(nk));
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(buf, sizeof(buf));
	close(dfd);
	return rc;
}
