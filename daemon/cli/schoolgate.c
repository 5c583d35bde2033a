/*
 * schoolgate: the command-line tool.
 *
 *   schoolgate check --config DIR --agreement ID --flow ID
 *       [--password-file F] [--json] FILE
 *   schoolgate config check --config DIR
 *   schoolgate flows --config DIR [--party ID] [--json]
 *
 * Exit status of check: 0 accepted, 1 rejected, 2 usage, configuration or
 * I/O error. A ZIP password comes from --password-file or the
 * SCHOOLGATE_ZIP_PASSWORD environment variable, never from argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/auth.h"
#include "cli/cli.h"
#include "policy/config.h"
#include "base/diag.h"
#include "intake/intake.h"
#include "base/json.h"
#include "seal/keys.h"
#include "check/report.h"
#include "base/version.h"

#define MAX_PASSWORD	1024

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: schoolgate check --config DIR --agreement ID --flow ID\n"
	    "                        [--password-file FILE] [--identity FILE]\n"
	    "                        [--json] FILE\n"
	    "       schoolgate config check --config DIR [--hashes]\n"
	    "       schoolgate flows --config DIR [--party ID] [--json]\n"
	    "       schoolgate keygen --out DIR\n"
	    "       schoolgate passwd      (hash a password read from stdin)\n"
	    "       schoolgate token       (a new API token and its hash)\n"
	    "       schoolgate status [--config DIR | --socket PATH] [--json]\n"
	    "       schoolgate unban [--config DIR | --socket PATH] ADDRESS\n"
	    "       schoolgate transfer delete [--config DIR | --socket PATH]\n"
	    "                        --reason CODE ID\n"
	    "       schoolgate agreement suspend [--config DIR | --socket PATH]\n"
	    "                        --days N --reason CODE ID\n"
	    "       schoolgate agreement resume [--config DIR | --socket PATH]\n"
	    "                        --reason CODE ID\n"
	    "       schoolgate dsar [--config DIR | --socket PATH]\n"
	    "                        (--upn X | --trn X | --uln X) [--json]\n"
	    "       schoolgate breach [--config DIR | --socket PATH]\n"
	    "                        --from T1 --to T2 [--party P]\n"
	    "                        [--agreement A] [--json]\n"
	    "       schoolgate receipt verify --key LOG.PUB FILE\n"
	    "       schoolgate seal | open | log | store ...\n"
	    "       schoolgate --version\n"
	    "\n"
	    "check    check an extract (CSV, or an encrypted ZIP holding one)\n"
	    "         against a flow of a data sharing agreement, before you\n"
	    "         upload it. The ZIP password is read from --password-file\n"
	    "         or from $SCHOOLGATE_ZIP_PASSWORD.\n"
	    "         Exit status: 0 accepted, 1 rejected, 2 error.\n"
	    "config check\n"
	    "         load the configuration and report every problem.\n"
	    "flows    list agreements, flows and the columns to export.\n"
	    "status   ask the running gateway how it is (root or the service\n"
	    "         user; see schoolgate(1)).\n"
	    "unban    lift the sign-in bans on one client address.\n"
	    "transfer delete\n"
	    "         take a transfer out of the gateway, logged and shredded;\n"
	    "         CODE: " SG_WITHDRAW_REASONS ".\n"
	    "agreement suspend, resume\n"
	    "         suspend an agreement for N days (up to its\n"
	    "         max_suspension_days), or lift a suspension, logged;\n"
	    "         CODE: " SG_SUSPEND_REASONS "\n"
	    "         (resume: " SG_RESUME_REASONS ").\n"
	    "dsar     a subject access search: every transfer that held this\n"
	    "         pupil or teacher, its recipients, downloads, deletion\n"
	    "         and columns, from the blind index (recorded in the log;\n"
	    "         X may be - to read it from standard input).\n"
	    "breach   what left the gateway between two dates: transfers,\n"
	    "         recipients, rows, data subjects, columns, downloads.\n"
	    "receipt verify\n"
	    "         check a transfer's receipt offline with the log's\n"
	    "         verifier key: its signature and inclusion proof.\n");
}

struct sg_config *
cli_load_config(const char *dir)
{
	struct sg_diag d;
	struct sg_config *cfg;
	size_t i;

	sg_diag_init(&d);
	cfg = sg_config_load(dir, &d);
	for (i = 0; i < d.count; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	if (d.oom)
		fprintf(stderr, "schoolgate: out of memory (more problems "
		    "may exist)\n");
	sg_diag_free(&d);
	return cfg;
}

/* Read the password from a file: first line, at most MAX_PASSWORD bytes.
 * The file must not be readable by others. */
static char *
read_password_file(const char *path)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "schoolgate: %s: not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & S_IROTH)
		fprintf(stderr, "schoolgate: warning: %s is readable by every "
		    "user on this machine; chmod 600 it\n", path);
	if ((buf = calloc(1, MAX_PASSWORD + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, MAX_PASSWORD);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", path, strerror(errno));
		free(buf);
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* The file being checked, with progress on a terminal. */
struct input {
	int		 fd;
	uint64_t	 size;		/* 0 when unknown */
	uint64_t	 done;
	int		 progress;
	time_t		 last;
	int		 failed;
};

static ssize_t
input_read(void *arg, void *buf, size_t cap)
{
	struct input *in = arg;
	ssize_t n;
	time_t now;

	do
		n = read(in->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		in->failed = errno;
		return -1;
	}
	in->done += (uint64_t)n;
	if (in->progress && (now = time(NULL)) != in->last) {
		in->last = now;
		fprintf(stderr, "\rchecking: %3d%% (%llu MiB)",
		    in->size ? (int)(in->done * 100 / in->size) : 0,
		    (unsigned long long)(in->done >> 20));
	}
	return n;
}

static int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "agreement", required_argument, NULL, 'a' },
		{ "flow", required_argument, NULL, 'f' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "identity", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *agr = NULL, *flow = NULL, *pwfile = NULL;
	const char *idfile = NULL;
	struct sg_age_identity *ids = NULL;
	char kerr[SG_ERR_MAX];
	long nids = 0;
	const struct sg_agreement *a;
	const struct sg_flow *f;
	struct sg_config *cfg = NULL;
	struct sg_intake_opts io;
	struct sg_report r;
	struct input in = { -1, 0, 0, 0, 0, 0 };
	struct stat st;
	enum sg_agreement_status status;
	char *password = NULL;
	const char *env;
	int ch, json = 0, rc = EXIT_TROUBLE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:a:f:p:i:jh", opts, NULL)) != -1)
		switch (ch) {
		case 'i': idfile = optarg; break;
		case 'c': dir = optarg; break;
		case 'a': agr = optarg; break;
		case 'f': flow = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_TROUBLE;
		}
	if (dir == NULL || agr == NULL || flow == NULL || optind != argc - 1) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if ((cfg = cli_load_config(dir)) == NULL)
		return EXIT_TROUBLE;
	if ((a = sg_config_agreement(cfg, agr)) == NULL) {
		fprintf(stderr, "schoolgate: no agreement \"%s\" (see "
		    "schoolgate flows --config %s)\n", agr, dir);
		goto out;
	}
	if ((f = sg_agreement_flow(a, flow)) == NULL) {
		fprintf(stderr, "schoolgate: agreement \"%s\" has no flow "
		    "\"%s\"\n", agr, flow);
		goto out;
	}
	if (pwfile != NULL) {
		if ((password = read_password_file(pwfile)) == NULL)
			goto out;
	} else if ((env = getenv("SCHOOLGATE_ZIP_PASSWORD")) != NULL &&
	    (password = strdup(env)) == NULL)
		goto out;
	if (idfile != NULL && (nids = sg_identities_load(idfile, &ids,
	    kerr)) < 0) {
		fprintf(stderr, "schoolgate: %s\n", kerr);
		nids = 0;
		goto out;
	}
	if (strcmp(argv[optind], "-") == 0)
		in.fd = STDIN_FILENO;
	else if ((in.fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "schoolgate: %s: %s\n", argv[optind],
		    strerror(errno));
		goto out;
	}
	if (fstat(in.fd, &st) == 0 && S_ISREG(st.st_mode))
		in.size = (uint64_t)st.st_size;
	in.progress = isatty(STDERR_FILENO) && in.size > (64u << 20);
	in.last = time(NULL);

	sg_report_init(&r, f->format == SG_FORMAT_CSV ?
	    f->manifest.max_errors : cfg->max_errors);
	status = sg_agreement_status_on(a, sg_today());
	if (status != SG_AGR_ACTIVE)
		sg_report_add(&r, 0, 0, NULL, "agreement.status",
		    "the agreement is %s: it accepts no files",
		    sg_agreement_status_name(status));
	memset(&io, 0, sizeof(io));
	io.flow = f;
	io.passphrase = password;
	io.require_encryption = 0;
	io.ids = ids;
	io.nids = (size_t)nids;
	sg_intake_check(&io, input_read, &in, &r);
	if (in.progress)
		fprintf(stderr, "\r%40s\r", "");
	if (in.failed) {
		fprintf(stderr, "schoolgate: %s: %s\n", argv[optind],
		    strerror(in.failed));
		sg_report_free(&r);
		goto out;
	}
	if (json)
		sg_report_json(&r, stdout);
	else {
		printf("Agreement: %s (%s)\nFlow: %s (Appendix %c): %s\n",
		    a->id, a->title, f->id, f->appendix, f->description);
		sg_report_print(&r, stdout);
	}
	rc = r.rejected ? EXIT_REJECTED : EXIT_ACCEPTED;
	sg_report_free(&r);
	if (fflush(stdout) != 0)
		rc = EXIT_TROUBLE;
out:
	if (in.fd > STDIN_FILENO)
		close(in.fd);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	sg_identities_free(ids, (size_t)nids);
	sg_config_free(cfg);
	return rc;
}

static int
cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "hashes", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct sg_config *cfg;
	const char *dir = NULL;
	size_t i, flows = 0;
	int ch, hashes = 0;
	char set[65];

	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1)
		if (ch == 'c')
			dir = optarg;
		else if (ch == 'H')
			hashes = 1;
		else {
			usage(stderr);
			return EXIT_TROUBLE;
		}
	if (dir == NULL || optind != argc) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if ((cfg = cli_load_config(dir)) == NULL) {
		fprintf(stderr, "schoolgate: configuration %s is NOT valid\n",
		    dir);
		return EXIT_REJECTED;
	}
	for (i = 0; i < cfg->nagreements; i++)
		flows += cfg->agreements[i].nflows;
	for (i = 0; i < cfg->nparties; i++)
		if (cfg->parties[i].password != NULL &&
		    sg_passwd_weak(cfg->parties[i].password))
			fprintf(stderr, "schoolgate: warning: party %s: its "
			    "password hash uses less memory or time than new "
			    "hashes (argon2id m=65536, t=3): it still works; "
			    "make a new one with schoolgate passwd\n",
			    cfg->parties[i].id);
	printf("configuration %s is valid: %zu parties, %zu agreements, "
	    "%zu flows, %d LA codes\n", cfg->path, cfg->nparties,
	    cfg->nagreements, flows, cfg->la.count);
	if (hashes) {
		/* as the transfer log's CONFIG_LOADED and RECEIVED records
		 * name them */
		printf("conf %s\nparties %s\n", cfg->conf_sha256,
		    cfg->parties_sha256);
		if (cfg->la_sha256[0] != '\0')
			printf("la_codes %s\n", cfg->la_sha256);
		for (i = 0; i < cfg->nagreements; i++)
			printf("agreement %s %s %s\n", cfg->agreements[i].id,
			    cfg->agreements[i].sha256,
			    cfg->agreements[i].file);
		if (sg_config_set_sha256(cfg, set) == 0)
			printf("set %s\n", set);
	}
	sg_config_free(cfg);
	return 0;
}

static const char *
flags_text(unsigned v, const char *const names[], const unsigned bits[],
    size_t n, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if ((v & bits[i]) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off ? ", " : "", names[i]);
	return buf;
}

static const char *const method_names[] = { "sftp", "https" };
static const unsigned method_bits[] = { SG_METHOD_SFTP, SG_METHOD_HTTPS };
static const char *const enc_names[] = { "zip-aes", "zip-legacy", "age" };
static const unsigned enc_bits[] = { SG_ENC_ZIP_AES, SG_ENC_ZIP_LEGACY,
    SG_ENC_AGE };

static void
strv_json(FILE *o, char *const *v, size_t n)
{
	size_t i;

	fputc('[', o);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', o);
		sg_json_str(o, v[i]);
	}
	fputc(']', o);
}

static void
flagv_json(FILE *o, unsigned v, const char *const names[],
    const unsigned bits[], size_t n)
{
	size_t i;
	int first = 1;

	fputc('[', o);
	for (i = 0; i < n; i++)
		if (v & bits[i]) {
			if (!first)
				fputc(',', o);
			sg_json_str(o, names[i]);
			first = 0;
		}
	fputc(']', o);
}

static void
column_json(FILE *o, const struct sg_column *c)
{
	fputc('{', o);
	sg_json_key(o, 1, "name");
	sg_json_str(o, c->name);
	sg_json_key(o, 0, "validator");
	sg_json_str(o, sg_validator_name(c->type));
	fprintf(o, ",\"required\":%s", c->required ? "true" : "false");
	if (c->type == SG_V_INTEGER) {
		if (c->min != INT64_MIN)
			fprintf(o, ",\"min\":%lld", (long long)c->min);
		if (c->max != INT64_MAX)
			fprintf(o, ",\"max\":%lld", (long long)c->max);
	}
	if (c->type == SG_V_TEXT)
		fprintf(o, ",\"max_length\":%zu", c->max_length);
	if (c->type == SG_V_CODE) {
		sg_json_key(o, 0, "codes");
		strv_json(o, c->codes, c->ncodes);
	}
	if (c->type == SG_V_TRN) {
		sg_json_key(o, 0, "trn");
		sg_json_str(o, c->trn_strict ? "strict" : "normalise");
	}
	if (c->type == SG_V_UPN || c->type == SG_V_UPN_OR_TEMP ||
	    c->type == SG_V_LAESTAB) {
		static const char *const la[] = { "warn", "strict", "off" };

		sg_json_key(o, 0, "la_codes");
		sg_json_str(o, la[c->la_policy]);
	}
	fputc('}', o);
}

static void
flow_json(FILE *o, const struct sg_flow *f)
{
	const struct sg_manifest *m = &f->manifest;
	char app[2] = { f->appendix, '\0' };
	size_t i;

	fputc('{', o);
	sg_json_key(o, 1, "id");
	sg_json_str(o, f->id);
	sg_json_key(o, 0, "appendix");
	sg_json_str(o, app);
	sg_json_key(o, 0, "description");
	sg_json_str(o, f->description);
	sg_json_key(o, 0, "senders");
	strv_json(o, f->senders, f->nsenders);
	sg_json_key(o, 0, "recipients");
	strv_json(o, f->recipients, f->nrecipients);
	sg_json_key(o, 0, "method");
	flagv_json(o, f->methods, method_names, method_bits, 2);
	sg_json_key(o, 0, "encryption");
	flagv_json(o, f->encryptions, enc_names, enc_bits, 3);
	sg_json_key(o, 0, "format");
	sg_json_str(o, f->format == SG_FORMAT_CSV ? "csv" : "opaque");
	sg_json_key(o, 0, "frequency");
	sg_json_str(o, f->frequency);
	fprintf(o, ",\"retention_days\":%d", f->retention_days);
	sg_json_key(o, 0, "delivery");
	sg_json_str(o, f->delivery == SG_DELIVERY_SEALED ? "sealed" :
	    "gateway");
	if (f->format == SG_FORMAT_OPAQUE) {
		sg_json_key(o, 0, "types");
		strv_json(o, f->types, f->ntypes);
	} else {
		sg_json_key(o, 0, "key");
		if (m->key >= 0)
			sg_json_str(o, m->columns[m->key].name);
		else
			fputs("null", o);
		fprintf(o, ",\"unique\":%s,\"max_rows\":%llu,"
		    "\"column_order\":\"%s\",\"csv_injection\":\"%s\"",
		    m->key_unique ? "true" : "false",
		    (unsigned long long)m->max_rows,
		    m->order_enforced ? "enforced" : "any",
		    m->injection == SG_INJ_REJECT ? "reject" :
		    "allow-numeric");
		sg_json_key(o, 0, "columns");
		fputc('[', o);
		for (i = 0; i < m->ncolumns; i++) {
			if (i)
				fputc(',', o);
			column_json(o, &m->columns[i]);
		}
		fputc(']', o);
	}
	fputc('}', o);
}

static void
column_text(FILE *o, const struct sg_column *c)
{
	size_t i;

	printf("      %-24s %-17s %s", c->name, sg_validator_name(c->type),
	    c->required ? "required" : "optional");
	if (c->type == SG_V_INTEGER) {
		if (c->min != INT64_MIN || c->max != INT64_MAX)
			fprintf(o, ", %lld to %lld", (long long)c->min,
			    (long long)c->max);
	} else if (c->type == SG_V_TEXT)
		fprintf(o, ", at most %zu characters", c->max_length);
	else if (c->type == SG_V_CODE) {
		fprintf(o, ", one of:");
		for (i = 0; i < c->ncodes; i++)
			fprintf(o, " %s", c->codes[i]);
	} else if (c->type == SG_V_UPN_OR_TEMP)
		fprintf(o, ", temporary UPNs accepted");
	else if (c->type == SG_V_TRN && !c->trn_strict)
		fprintf(o, ", older forms (RP99/12345) normalised");
	fputc('\n', o);
}

static void
flow_text(FILE *o, const struct sg_flow *f)
{
	const struct sg_manifest *m = &f->manifest;
	char b1[64], b2[64];
	size_t i;

	fprintf(o, "  flow %s (Appendix %c): %s\n", f->id, f->appendix,
	    f->description);
	fprintf(o, "    from:");
	for (i = 0; i < f->nsenders; i++)
		fprintf(o, " %s", f->senders[i]);
	fprintf(o, "\n    to:  ");
	for (i = 0; i < f->nrecipients; i++)
		fprintf(o, " %s", f->recipients[i]);
	fprintf(o, "\n    by %s; encrypted as %s; %s; kept %d days; "
	    "delivery %s\n",
	    flags_text(f->methods, method_names, method_bits, 2, b1,
	    sizeof(b1)),
	    flags_text(f->encryptions, enc_names, enc_bits, 3, b2, sizeof(b2)),
	    f->frequency, f->retention_days,
	    f->delivery == SG_DELIVERY_SEALED ? "sealed" : "gateway");
	if (f->format == SG_FORMAT_OPAQUE) {
		fprintf(o, "    documents of type:");
		for (i = 0; i < f->ntypes; i++)
			fprintf(o, " %s", f->types[i]);
		fputc('\n', o);
		return;
	}
	fprintf(o, "    CSV, key %s%s, at most %llu rows, columns %s\n",
	    m->key >= 0 ? m->columns[m->key].name : "(none)",
	    m->key >= 0 && m->key_unique ? " (unique)" : "",
	    (unsigned long long)m->max_rows,
	    m->order_enforced ? "in this order" : "in any order");
	fprintf(o, "    header row to export:\n      ");
	for (i = 0; i < m->ncolumns; i++)
		fprintf(o, "%s%s", i ? "," : "", m->columns[i].name);
	fprintf(o, "\n    columns:\n");
	for (i = 0; i < m->ncolumns; i++)
		column_text(o, &m->columns[i]);
}

static int
flow_involves(const struct sg_flow *f, const char *party)
{
	return party == NULL || sg_flow_has_sender(f, party) ||
	    sg_flow_has_recipient(f, party);
}

static int
cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "party", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *party = NULL;
	struct sg_config *cfg;
	int64_t today = sg_today();
	char d1[11], d2[11], d3[11];
	size_t i, j;
	int ch, json = 0, firsta = 1, firstf;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:p:j", opts, NULL)) != -1)
		switch (ch) {
		case 'c': dir = optarg; break;
		case 'p': party = optarg; break;
		case 'j': json = 1; break;
		default: usage(stderr); return EXIT_TROUBLE;
		}
	if (dir == NULL || optind != argc) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if ((cfg = cli_load_config(dir)) == NULL)
		return EXIT_TROUBLE;
	if (party != NULL && sg_config_party(cfg, party) == NULL) {
		fprintf(stderr, "schoolgate: no party \"%s\"\n", party);
		sg_config_free(cfg);
		return EXIT_TROUBLE;
	}
	if (json)
		printf("{\"agreements\":[");
	for (i = 0; i < cfg->nagreements; i++) {
		const struct sg_agreement *a = &cfg->agreements[i];
		const char *st = sg_agreement_status_name(
		    sg_agreement_status_on(a, today));

		for (j = 0; j < a->nflows; j++)
			if (flow_involves(&a->flows[j], party))
				break;
		if (j == a->nflows)
			continue;
		sg_date_format(a->start, d1);
		sg_date_format(a->review, d2);
		sg_date_format(a->end, d3);
		if (json) {
			printf("%s{", firsta ? "" : ",");
			sg_json_key(stdout, 1, "id");
			sg_json_str(stdout, a->id);
			sg_json_key(stdout, 0, "title");
			sg_json_str(stdout, a->title);
			sg_json_key(stdout, 0, "status");
			sg_json_str(stdout, st);
			printf(",\"start\":\"%s\",\"review\":\"%s\","
			    "\"end\":\"%s\",\"flows\":[", d1, d2, d3);
		} else
		{
			char lb[1024];

			sg_lawful_basis_format(&a->lawful_basis, lb,
			    sizeof(lb));
			printf("%sagreement %s: %s\n  status %s; from %s, "
			    "review %s, ends %s\n  lawful basis: %s\n",
			    firsta ? "" : "\n", a->id, a->title, st, d1, d2,
			    d3, lb);
		}
		firsta = 0;
		firstf = 1;
		for (j = 0; j < a->nflows; j++) {
			if (!flow_involves(&a->flows[j], party))
				continue;
			if (json) {
				if (!firstf)
					putchar(',');
				flow_json(stdout, &a->flows[j]);
			} else
				flow_text(stdout, &a->flows[j]);
			firstf = 0;
		}
		if (json)
			printf("]}");
	}
	if (json)
		printf("]}\n");
	sg_config_free(cfg);
	return fflush(stdout) == 0 ? 0 : EXIT_TROUBLE;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "flows") == 0)
		return cmd_flows(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "seal") == 0)
		return cmd_seal(argc - 1, argv + 1);
	if (strcmp(argv[1], "open") == 0)
		return cmd_open(argc - 1, argv + 1);
	if (strcmp(argv[1], "log") == 0)
		return cmd_log(argc - 1, argv + 1);
	if (strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(argv[1], "store") == 0)
		return cmd_store(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "unban") == 0)
		return cmd_unban(argc - 1, argv + 1);
	if (strcmp(argv[1], "transfer") == 0)
		return cmd_transfer(argc - 1, argv + 1);
	if (strcmp(argv[1], "agreement") == 0)
		return cmd_agreement(argc - 1, argv + 1);
	if (strcmp(argv[1], "dsar") == 0)
		return cmd_dsar(argc - 1, argv + 1);
	if (strcmp(argv[1], "breach") == 0)
		return cmd_breach(argc - 1, argv + 1);
	if (strcmp(argv[1], "receipt") == 0)
		return cmd_receipt(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("schoolgate %s\n", SG_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "schoolgate: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_TROUBLE;
}
