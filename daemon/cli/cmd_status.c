/*
 * schoolgate status and unban: the commands that talk to the running
 * daemon over its local control socket (daemon.control; root or the
 * service user only). status prints the answer: uptime, sessions per
 * front, uploads in flight, counts since start, bans, the transfer log's
 * size and its last checkpoint. unban lifts the bans on one address.
 * transfer delete takes a transfer out, audited.
 */
#include "cli/cli.h"

#include <errno.h>
#include <time.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "policy/config.h"
#include "store/store.h"

#define MAX_ANSWER	(16 * 1024 * 1024)	/* a DPO's answer can be long */

static int
status_usage(void)
{
	fprintf(stderr, "usage: schoolgate status [--config DIR | --socket "
	    "PATH] [--json]\n"
	    "       schoolgate unban [--config DIR | --socket PATH] "
	    "ADDRESS\n"
	    "       schoolgate transfer delete [--config DIR | --socket PATH] "
	    "--reason CODE ID\n"
	    "       schoolgate agreement suspend [--config DIR | --socket "
	    "PATH] --days N --reason CODE ID\n"
	    "       schoolgate agreement resume [--config DIR | --socket PATH] "
	    "--reason CODE ID\n"
	    "       schoolgate dsar [--config DIR | --socket PATH] (--upn X | "
	    "--trn X | --uln X) [--json]\n"
	    "       schoolgate breach [--config DIR | --socket PATH] --from T1 "
	    "--to T2 [--party P] [--agreement A] [--json]\n"
	    "       (X may be -: read from standard input, out of the process "
	    "list; T is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)\n");
	return EXIT_TROUBLE;
}

/* Sends one request line, prints the answer; the exit status. */
static int
ask(const char *dir, const char *sock, const char *request)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (dir != NULL) {
		struct sg_config *cfg;

		if ((cfg = cli_load_config(dir)) == NULL)
			return EXIT_TROUBLE;
		snprintf(path, sizeof(path), "%s", cfg->daemon.control);
		sg_config_free(cfg);
	} else if (sock != NULL && strlen(sock) >= sizeof(path)) {
		fprintf(stderr, "schoolgate: %s: the socket path is too long\n",
		    sock);
		return EXIT_TROUBLE;
	} else
		snprintf(path, sizeof(path), "%s", sock ? sock :
		    SG_CONTROL_DEFAULT);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "schoolgate: cannot reach the daemon at %s: %s"
		    "%s\n", path, strerror(errno), errno == EACCES ?
		    " (run as root or as the service user)" :
		    " (is it running? systemctl status schoolgated)");
		if (fd >= 0)
			close(fd);
		return EXIT_TROUBLE;
	}
	/* the daemon may answer (and close) before reading: no SIGPIPE */
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0 &&
	    errno != EPIPE) {
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
		close(fd);
		return EXIT_TROUBLE;
	}
	if ((buf = malloc(MAX_ANSWER + 1)) == NULL) {
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
		close(fd);
		return EXIT_TROUBLE;
	}
	while (len < MAX_ANSWER &&
	    (n = read(fd, buf + len, MAX_ANSWER - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (len == 0 || strncmp(buf, "error: ", 7) == 0) {
		fprintf(stderr, "schoolgate: the daemon at %s answered: %s",
		    path, len ? buf + 7 : "nothing\n");
		free(buf);
		return EXIT_TROUBLE;
	}
	fwrite(buf, 1, len, stdout);
	free(buf);
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}

static const struct option ctl_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "reason", required_argument, NULL, 'r' },
	{ "days", required_argument, NULL, 'd' },
	{ "upn", required_argument, NULL, 'U' },
	{ "trn", required_argument, NULL, 'T' },
	{ "uln", required_argument, NULL, 'L' },
	{ "from", required_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 't' },
	{ "party", required_argument, NULL, 'p' },
	{ "agreement", required_argument, NULL, 'a' },
	{ NULL, 0, NULL, 0 }
};

int
cmd_status(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL;
	int ch, json = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:j", ctl_opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		default: return status_usage();
		}
	if (optind != argc || (dir != NULL && sock != NULL))
		return status_usage();
	return ask(dir, sock, json ? "status json\n" : "status\n");
}

int
cmd_unban(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL;
	char req[80];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:", ctl_opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		default: return status_usage();
		}
	if (optind != argc - 1 || (dir != NULL && sock != NULL) ||
	    strlen(argv[optind]) > 45 || strpbrk(argv[optind], " \n/")) {
		if (optind == argc - 1)
			fprintf(stderr, "schoolgate: unban: %s is not an IPv4 "
			    "or IPv6 address\n", argv[optind]);
		return status_usage();
	}
	snprintf(req, sizeof(req), "unban %s\n", argv[optind]);
	return ask(dir, sock, req);
}

/* schoolgate transfer delete --reason CODE ID: an operator takes a
 * transfer out of the gateway (audited: a WITHDRAWN record by
 * "operator", then DELETED "operator-delete"). */
int
cmd_transfer(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL, *reason = NULL;
	char req[96];
	int ch;

	if (argc < 2 || strcmp(argv[1], "delete") != 0)
		return status_usage();
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:s:r:", ctl_opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'r': reason = optarg; break;
		default: return status_usage();
		}
	if (optind != argc - 1 || reason == NULL ||
	    (dir != NULL && sock != NULL))
		return status_usage();
	/* checked here as the daemon checks them, with a clear message */
	if (!sg_transfer_id_ok(argv[optind])) {
		fprintf(stderr, "schoolgate: transfer delete: %s is not a "
		    "transfer id\n", argv[optind]);
		return EXIT_TROUBLE;
	}
	if (!sg_withdraw_reason_ok(reason)) {
		fprintf(stderr, "schoolgate: transfer delete: the reason is "
		    "one of: " SG_WITHDRAW_REASONS "\n");
		return EXIT_TROUBLE;
	}
	snprintf(req, sizeof(req), "delete %s %s\n", argv[optind], reason);
	return ask(dir, sock, req);
}

/* schoolgate agreement suspend --days N --reason CODE ID, and resume
 * --reason CODE ID: an operator suspends or resumes an agreement (an
 * AGREEMENT_STATUS record by "operator"). */
int
cmd_agreement(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL, *reason = NULL, *days = NULL;
	char req[192];
	int ch, resume;
	size_t i;

	if (argc < 2 || (strcmp(argv[1], "suspend") != 0 &&
	    strcmp(argv[1], "resume") != 0))
		return status_usage();
	resume = argv[1][0] == 'r';
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:s:r:d:", ctl_opts, NULL)) !=
	    -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'r': reason = optarg; break;
		case 'd': days = optarg; break;
		default: return status_usage();
		}
	if (optind != argc - 1 || reason == NULL || (dir != NULL &&
	    sock != NULL) || (resume ? days != NULL : days == NULL))
		return status_usage();
	for (i = 0; argv[optind][i] != '\0'; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.",
		    argv[optind][i]) || i >= 128) {
			fprintf(stderr, "schoolgate: agreement: %s is not an "
			    "agreement id\n", argv[optind]);
			return EXIT_TROUBLE;
		}
	if (resume ? !sg_resume_reason_ok(reason) :
	    !sg_suspend_reason_ok(reason)) {
		fprintf(stderr, "schoolgate: agreement %s: the reason is one "
		    "of: %s\n", argv[1], resume ? SG_RESUME_REASONS :
		    SG_SUSPEND_REASONS);
		return EXIT_TROUBLE;
	}
	if (days != NULL && (strspn(days, "0123456789") != strlen(days) ||
	    strlen(days) == 0 || strlen(days) > 3)) {
		fprintf(stderr, "schoolgate: agreement suspend: --days is a "
		    "number of days\n");
		return EXIT_TROUBLE;
	}
	if (resume)
		snprintf(req, sizeof(req), "resume %s %s\n", argv[optind],
		    reason);
	else
		snprintf(req, sizeof(req), "suspend %s %s %s\n", argv[optind],
		    days, reason);
	return ask(dir, sock, req);
}

/* schoolgate dsar --upn X | --trn X | --uln X [--json]: a subject
 * access search, answered by the daemon (the CLI never reads the index
 * key); the daemon records it (DSAR_QUERY, a keyed hash). */
int
cmd_dsar(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL, *kind = NULL, *id = NULL;
	char req[256], line[130];
	int ch, json = 0, rc;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:j", ctl_opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		case 'U': case 'T': case 'L':
			if (kind != NULL)
				return status_usage();
			kind = ch == 'U' ? "upn" : ch == 'T' ? "trn" : "uln";
			id = optarg;
			break;
		default: return status_usage();
		}
	if (optind != argc || kind == NULL || (dir != NULL && sock != NULL))
		return status_usage();
	if (strcmp(id, "-") == 0) {
		if (fgets(line, sizeof(line), stdin) == NULL) {
			fprintf(stderr, "schoolgate: dsar: nothing on standard "
			    "input\n");
			return EXIT_TROUBLE;
		}
		line[strcspn(line, "\r\n")] = '\0';
		id = line;
	}
	/* one word of letters, digits, '/' and '-' (a TRN may be written
	 * "RP 99/12345": its spaces go) */
	for (i = 0; id[i] != '\0'; i++)
		if (i >= 32 || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789/- ", id[i])) {
			fprintf(stderr, "schoolgate: dsar: that is not a %s "
			    "(letters and digits only)\n", kind);
			return EXIT_TROUBLE;
		}
	{
		char w[40];
		size_t o = 0;

		for (i = 0; id[i] != '\0'; i++)
			if (id[i] != ' ')
				w[o++] = id[i];
		w[o] = '\0';
		if (o == 0) {
			fprintf(stderr, "schoolgate: dsar: the %s is empty\n",
			    kind);
			return EXIT_TROUBLE;
		}
		snprintf(req, sizeof(req), "dsar %s %s%s\n", kind, w,
		    json ? " json" : "");
		explicit_bzero(w, sizeof(w));
	}
	explicit_bzero(line, sizeof(line));
	rc = ask(dir, sock, req);
	explicit_bzero(req, sizeof(req));
	return rc;
}

/* YYYY-MM-DD (the whole day: its start, or with end set its last
 * second) or YYYY-MM-DDTHH:MM:SSZ, in UTC; -1 when neither. */
static long long
when(const char *s, int end)
{
	struct tm tm;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL &&
	    *e == '\0')
		return (long long)timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%d", &tm)) != NULL && *e == '\0')
		return (long long)timegm(&tm) + (end ? 86399 : 0);
	return -1;
}

/* schoolgate breach --from T1 --to T2 [--party P] [--agreement A]
 * [--json]: what left the gateway in a window. */
int
cmd_breach(int argc, char **argv)
{
	const char *dir = NULL, *sock = NULL, *party = NULL, *agr = NULL;
	const char *from = NULL, *to = NULL;
	char req[512];
	long long f, t;
	int ch, json = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:j", ctl_opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'p': party = optarg; break;
		case 'a': agr = optarg; break;
		default: return status_usage();
		}
	if (optind != argc || from == NULL || to == NULL ||
	    (dir != NULL && sock != NULL))
		return status_usage();
	if ((f = when(from, 0)) < 0 || (t = when(to, 1)) < 0 || t < f) {
		fprintf(stderr, "schoolgate: breach: --from and --to are dates "
		    "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC), --from "
		    "first\n");
		return EXIT_TROUBLE;
	}
	if ((party && (strlen(party) > 128 || strpbrk(party, " \n"))) ||
	    (agr && (strlen(agr) > 128 || strpbrk(agr, " \n")))) {
		fprintf(stderr, "schoolgate: breach: not a party or agreement "
		    "id\n");
		return EXIT_TROUBLE;
	}
	snprintf(req, sizeof(req), "breach %lld %lld%s%s%s%s%s\n", f, t,
	    party ? " party " : "", party ? party : "", agr ? " agreement " :
	    "", agr ? agr : "", json ? " json" : "");
	return ask(dir, sock, req);
}
