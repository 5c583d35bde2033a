/*
 * schoolgate keygen | seal | open: the gateway's keys and the age format
 * from the command line, compatible with age -r / age -d -i for X25519.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "seal/age.h"
#include "base/codec.h"
#include <openssl/crypto.h>

#include "policy/auth.h"
#include "cli/cli.h"
#include "seal/keys.h"
#include "store/blind.h"

ssize_t
cli_fd_src(void *arg, void *buf, size_t cap)
{
	ssize_t n;

	do
		n = read(*(int *)arg, buf, cap);
	while (n < 0 && errno == EINTR);
	return n;
}

#define OUT_BUF	(1024 * 1024)

int
cli_out_flush(struct cli_out *o)
{
	if (o->len > 0 && sg_write_full(o->fd, o->buf, o->len) != 0)
		return -1;
	o->len = 0;
	return 0;
}

int
cli_out_sink(void *arg, const void *p, size_t n)
{
	struct cli_out *o = arg;

	if (o->len + n > OUT_BUF && cli_out_flush(o) != 0)
		return -1;
	if (n >= OUT_BUF)
		return sg_write_full(o->fd, p, n);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

int
cli_out_open(struct cli_out *o, const char *path)
{
	unsigned char r[6];
	char hx[13];
	size_t n;

	memset(o, 0, sizeof(*o));
	if ((o->buf = malloc(OUT_BUF)) == NULL)
		return -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		return 0;
	}
	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	sg_hex(r, sizeof(r), hx);
	n = strlen(path) + 32;
	if ((o->path = strdup(path)) == NULL || (o->tmp = malloc(n)) ==
	    NULL)
		return -1;
	snprintf(o->tmp, n, "%s.part-%s", path, hx);
	if ((o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
		free(o->path);
		free(o->tmp);
		return -1;
	}
	return 0;
}

int
cli_out_commit(struct cli_out *o)
{
	int rc = 0;

	if (cli_out_flush(o) != 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", o->path ? o->path :
		    "output", strerror(errno));
		cli_out_abort(o);
		return -1;
	}
	free(o->buf);
	o->buf = NULL;
	if (o->tmp == NULL)
		return 0;
	if (fsync(o->fd) != 0 || close(o->fd) != 0 ||
	    rename(o->tmp, o->path) != 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", o->path,
		    strerror(errno));
		unlink(o->tmp);
		rc = -1;
	}
	free(o->path);
	free(o->tmp);
	return rc;
}

void
cli_out_abort(struct cli_out *o)
{
	free(o->buf);
	o->buf = NULL;
	if (o->tmp == NULL)
		return;
	close(o->fd);
	unlink(o->tmp);
	free(o->path);
	free(o->tmp);
}

/* Run as root into a directory the service user owns (or into a new
 * one under such a directory), the new key files go to that user, so
 * the service can read them: it runs as its own user, not as root. */
static void
give_keys_to_owner(const char *dir)
{
	static const char *const names[] = { "storage.key", "storage.pub",
	    "log-signing.key", "log-signing.pub", SG_HOSTKEY_ED25519,
	    SG_HOSTKEY_ED25519 ".pub", SG_HOSTKEY_RSA, SG_HOSTKEY_RSA ".pub",
	    "index.key", "intake.key", "intake.pub", NULL };
	struct dirent *de;
	DIR *dd;
	char parent[4096];
	struct stat st, fst;
	size_t i;
	int dfd;

	if (geteuid() != 0 || stat(dir, &st) != 0)
		return;
	if (st.st_uid == 0) {
		snprintf(parent, sizeof(parent), "%s/..", dir);
		if (stat(parent, &st) != 0 || st.st_uid == 0)
			return;
		if (chown(dir, st.st_uid, st.st_gid) != 0)
			return;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	for (i = 0; names[i] != NULL; i++)
		if (fstatat(dfd, names[i], &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(fst.st_mode) && fst.st_uid == 0 &&
		    fchownat(dfd, names[i], st.st_uid, st.st_gid,
		    AT_SYMLINK_NOFOLLOW) != 0)
			fprintf(stderr, "schoolgate: keygen: cannot give %s/%s "
			    "to uid %u: %s\n", dir, names[i],
			    (unsigned)st.st_uid, strerror(errno));
	/* retired index keys, index-<id>.key */
	if ((dd = opendir(dir)) != NULL) {
		while ((de = readdir(dd)) != NULL)
			if (strncmp(de->d_name, "index-", 6) == 0 &&
			    fstatat(dfd, de->d_name, &fst,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(fst.st_mode) && fst.st_uid == 0 &&
			    fchownat(dfd, de->d_name, st.st_uid, st.st_gid,
			    AT_SYMLINK_NOFOLLOW) != 0)
				fprintf(stderr, "schoolgate: keygen: cannot "
				    "give %s/%s to uid %u: %s\n", dir,
				    de->d_name, (unsigned)st.st_uid,
				    strerror(errno));
		closedir(dd);
	}
	close(dfd);
}

/* keygen --rotate-index: index.key becomes index-<id>.key (kept, so the
 * files indexed under it stay searchable) and a new index.key is made.
 * The gateway takes both at its next start. */
static int
rotate_index(const char *dir)
{
	struct sg_blind_key k;
	char cur[4096], old[4096], err[SG_ERR_MAX];

	snprintf(cur, sizeof(cur), "%s/index.key", dir);
	if (sg_blind_key_load(cur, &k, err) != 0) {
		fprintf(stderr, "schoolgate: keygen --rotate-index: %s\n", err);
		return EXIT_TROUBLE;
	}
	snprintf(old, sizeof(old), "%s/index-%s.key", dir, k.id);
	sg_blind_key_wipe(&k);
	/* never over an existing file; then the new key in its place */
	if (renameat2(AT_FDCWD, cur, AT_FDCWD, old, RENAME_NOREPLACE) != 0) {
		fprintf(stderr, "schoolgate: keygen --rotate-index: %s: %s\n",
		    old, strerror(errno));
		return EXIT_TROUBLE;
	}
	if (sg_blind_key_new(cur, err) != 0) {
		fprintf(stderr, "schoolgate: keygen --rotate-index: %s (the old "
		    "key is %s: rename it back to index.key)\n", err, old);
		return EXIT_TROUBLE;
	}
	give_keys_to_owner(dir);
	printf("retired: %s (kept: the transfers indexed under it stay "
	    "searchable)\nnew:     %s\nrestart the gateway to use it "
	    "(systemctl restart schoolgated)\n", old, cur);
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "log-name", required_argument, NULL, 'n' },
		{ "rotate-index", no_argument, NULL, 'r' },
		{ "intake", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *name = "schoolgate/transfer-log";
	char rcpt[SG_AGE_RECIPIENT_LEN], vk[SG_NOTE_KEY_MAX], err[SG_ERR_MAX];
	char irc[SG_AGE_RECIPIENT_LEN];
	int c, rotate = 0, intake = 0;

	while ((c = getopt_long(argc, argv, "o:n:", opts, NULL)) != -1)
		switch (c) {
		case 'o': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'r': rotate = 1; break;
		case 'i': intake = 1; break;
		default: goto usage;
		}
	if (dir == NULL || optind != argc || (rotate && intake))
		goto usage;
	if (rotate)
		return rotate_index(dir);
	if (intake) {
		/* a keys directory from before the intake identity */
		if (sg_keygen_intake(dir, irc, err) != 0) {
			fprintf(stderr, "schoolgate: keygen --intake: %s\n", err);
			return EXIT_TROUBLE;
		}
		give_keys_to_owner(dir);
		printf("intake recipient (age): %s\nwritten: %s/intake.key "
		    "%s/intake.pub\ngive senders the new recipient, then "
		    "restart the gateway (systemctl restart schoolgated): age "
		    "files sealed to storage.pub are refused from then on\n",
		    irc, dir, dir);
		return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
	}
	if (sg_keygen(dir, name, rcpt, vk, err) != 0) {
		fprintf(stderr, "schoolgate: keygen: %s\n", err);
		return EXIT_TROUBLE;
	}
	/* the blind index's key: a secret of its own (store/blind.h) */
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/index.key", dir);
		if (sg_blind_key_new(path, err) != 0) {
			fprintf(stderr, "schoolgate: keygen: %s\n", err);
			return EXIT_TROUBLE;
		}
	}
	give_keys_to_owner(dir);
	{
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/intake.pub", dir);
		if ((f = fopen(path, "r")) == NULL ||
		    fgets(irc, sizeof(irc), f) == NULL)
			snprintf(irc, sizeof(irc), "?");
		irc[strcspn(irc, "\n")] = 0;
		if (f != NULL)
			fclose(f);
	}
	printf("intake recipient (age):   %s (senders seal age files to "
	    "this)\n", irc);
	printf("storage recipient (age):  %s\n", rcpt);
	printf("log verifier key:         %s\n", vk);
	printf("written: %s/intake.key %s/intake.pub %s/storage.key "
	    "%s/storage.pub %s/log-signing.key %s/log-signing.pub\n", dir, dir,
	    dir, dir, dir, dir);
	printf("SSH host keys (SFTP): %s/%s %s/%s (and .pub)\n", dir,
	    SG_HOSTKEY_ED25519, dir, SG_HOSTKEY_RSA);
	printf("blind index key: %s/index.key\n", dir);
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
usage:
	fprintf(stderr, "usage: schoolgate keygen --out DIR [--log-name NAME]\n"
	    "       schoolgate keygen --out DIR --rotate-index\n"
	    "       schoolgate keygen --out DIR --intake\n");
	return EXIT_TROUBLE;
}

static int
open_input(const char *path)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
	return fd;
}

#define IO_BUF	(1024 * 1024)

int
cmd_seal(int argc, char **argv)
{
	unsigned char (*pks)[32] = NULL, (*more)[32], (*np)[32];
	const char *out = NULL;
	char err[SG_ERR_MAX];
	struct sg_age_enc *e = NULL;
	struct cli_out o;
	unsigned char *buf = NULL;
	size_t n = 0;
	long k;
	ssize_t got;
	int c, fd, rc = EXIT_TROUBLE;

	while ((c = getopt(argc, argv, "r:R:o:")) != -1)
		switch (c) {
		case 'r':
			if ((np = realloc(pks, (n + 1) * 32)) == NULL)
				goto out;
			pks = np;
			if (sg_age_recipient_parse(optarg, pks[n]) != 0) {
				fprintf(stderr, "schoolgate: seal: recipient "
				    "%zu is not an age1... X25519 recipient\n",
				    n + 1);
				goto out;
			}
			n++;
			break;
		case 'R':
			if ((k = sg_recipients_load(optarg, &more, err)) < 0) {
				fprintf(stderr, "schoolgate: seal: %s\n", err);
				goto out;
			}
			if ((np = realloc(pks, (n + (size_t)k) * 32)) == NULL) {
				free(more);
				goto out;
			}
			pks = np;
			memcpy(pks[n], more, (size_t)k * 32);
			n += (size_t)k;
			free(more);
			break;
		case 'o': out = optarg; break;
		default: goto usage;
		}
	if (n == 0 || argc - optind > 1)
		goto usage;
	if ((fd = open_input(optind < argc ? argv[optind] : NULL)) < 0)
		goto out;
	if ((buf = malloc(IO_BUF)) == NULL || (e = sg_age_enc_new(
	    (const unsigned char (*)[32])pks, n)) == NULL ||
	    cli_out_open(&o, out) != 0)
		goto out;
	while ((got = cli_fd_src(&fd, buf, IO_BUF)) > 0)
		if (sg_age_enc_write(e, buf, (size_t)got, cli_out_sink,
		    &o) != 0)
			break;
	if (got != 0 || sg_age_enc_finish(e, cli_out_sink, &o) != 0) {
		fprintf(stderr, "schoolgate: seal: %s\n", got < 0 ?
		    "the input could not be read" :
		    "the output could not be written");
		cli_out_abort(&o);
		goto out;
	}
	rc = cli_out_commit(&o) == 0 ? 0 : EXIT_TROUBLE;
	goto out;
usage:
	fprintf(stderr, "usage: schoolgate seal -r RECIPIENT [-r ...] "
	    "[-R FILE] [-o OUT] [FILE]\n");
out:
	sg_age_enc_free(e);
	free(buf);
	free(pks);
	return rc;
}

int
cmd_open(int argc, char **argv)
{
	struct sg_age_identity *ids = NULL, *more, *nv;
	const char *out = NULL, *why = NULL;
	char err[SG_ERR_MAX];
	struct cli_out o;
	size_t n = 0;
	long k;
	int c, fd, st, rc = EXIT_TROUBLE;

	while ((c = getopt(argc, argv, "di:o:")) != -1)
		switch (c) {
		case 'd': break;	/* as with age -d */
		case 'i':
			if ((k = sg_identities_load(optarg, &more, err)) < 0) {
				fprintf(stderr, "schoolgate: open: %s\n", err);
				goto out;
			}
			if ((nv = realloc(ids, (n + (size_t)k) *
			    sizeof(*ids))) == NULL) {
				sg_identities_free(more, (size_t)k);
				goto out;
			}
			ids = nv;
			memcpy(ids + n, more, (size_t)k * sizeof(*ids));
			n += (size_t)k;
			sg_identities_free(more, (size_t)k);
			break;
		case 'o': out = optarg; break;
		default: goto usage;
		}
	if (n == 0 || argc - optind > 1)
		goto usage;
	if ((fd = open_input(optind < argc ? argv[optind] : NULL)) < 0 ||
	    cli_out_open(&o, out) != 0)
		goto out;
	st = sg_age_decrypt(ids, n, cli_fd_src, &fd, cli_out_sink, &o,
	    &why);
	if (st == SG_AGE_OK && cli_out_flush(&o) != 0)
		st = SG_AGE_IO;
	if (st != SG_AGE_OK) {
		fprintf(stderr, "schoolgate: open: %s: %s\n",
		    sg_age_status_name(st), why ? why : "");
		/* on stdout, what authenticated has been released (as age
		 * does); a file is removed whole */
		if (o.tmp == NULL)
			(void)cli_out_flush(&o);
		cli_out_abort(&o);
		rc = st == SG_AGE_IO || st == SG_AGE_NOMEM ? EXIT_TROUBLE :
		    EXIT_REJECTED;
		goto out;
	}
	rc = cli_out_commit(&o) == 0 ? 0 : EXIT_TROUBLE;
	goto out;
usage:
	fprintf(stderr, "usage: schoolgate open -i IDENTITY_FILE [-i ...] "
	    "[-o OUT] [FILE]\n");
out:
	sg_identities_free(ids, n);
	return rc;
}

/* schoolgate passwd: reads a password (one line on stdin; no echo on a
 * terminal) and prints its argon2id hash for the parties file. */
int
cmd_passwd(int argc, char **argv)
{
	char pw[1026], hash[SG_PASSWD_HASH_MAX];
	struct termios t, quiet;
	int tty = isatty(STDIN_FILENO);
	size_t n;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: schoolgate passwd   (the password is "
		    "read from standard input)\n");
		return EXIT_TROUBLE;
	}
	if (tty) {
		fprintf(stderr, "password: ");
		tcgetattr(STDIN_FILENO, &t);
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(pw, sizeof(pw), stdin) == NULL)
		pw[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		fputc('\n', stderr);
	}
	n = strcspn(pw, "\r\n");
	if (n == 0 || n > 1024 || (pw[n] == '\0' && strlen(pw) ==
	    sizeof(pw) - 1)) {
		OPENSSL_cleanse(pw, sizeof(pw));
		fprintf(stderr, "schoolgate: passwd: give a password of 1 to "
		    "1024 bytes on one line\n");
		return EXIT_TROUBLE;
	}
	if (sg_passwd_hash(pw, n, hash) != 0) {
		OPENSSL_cleanse(pw, sizeof(pw));
		fprintf(stderr, "schoolgate: passwd: hashing failed\n");
		return EXIT_TROUBLE;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	printf("%s\n", hash);
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}

/* schoolgate token: a new API token (give it to the party once) and the
 * hash to put in the parties file. */
int
cmd_token(int argc, char **argv)
{
	char tok[64], hash[SG_TOKEN_HASH_LEN];

	(void)argv;
	if (argc != 1 || sg_token_new(tok, hash) != 0) {
		fprintf(stderr, "usage: schoolgate token\n");
		return EXIT_TROUBLE;
	}
	printf("token (give to the party, shown once): %s\n", tok);
	printf("for parties.conf:  tokens = [ \"%s\" ];\n", hash);
	OPENSSL_cleanse(tok, sizeof(tok));
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}
