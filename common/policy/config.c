/*
 * config: load schoolgate.conf, the parties file, the LA code list and the
 * agreement files with libconfig into the model of config.h.
 *
 * Every setting is type-checked, every unknown setting is reported (a typo
 * must not silently turn a rule off), every cross-reference is resolved,
 * and all problems are gathered before the load fails as a whole.
 */
#include "policy/config.h"
#include "base/codec.h"
#include "seal/keys.h"

#include <dirent.h>
#include <errno.h>
#include <libconfig.h>
#include <libssh/libssh.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define SG_MAX_ROWS_LIMIT	50000000ULL
#define SG_MAX_COLUMNS		512

struct loader {
	struct sg_diag	*diag;
	int		 errors;
	const char	*file;		/* file being read, for settings */
};

static const char *validator_names[] = {
	[SG_V_UPN] = "upn", [SG_V_UPN_OR_TEMP] = "upn-or-temporary",
	[SG_V_TRN] = "trn", [SG_V_ULN] = "uln", [SG_V_NINO] = "nino",
	[SG_V_POSTCODE] = "postcode", [SG_V_DATE] = "date",
	[SG_V_EMAIL] = "email", [SG_V_UKPHONE] = "uk-phone",
	[SG_V_LAESTAB] = "laestab", [SG_V_URN] = "urn",
	[SG_V_INTEGER] = "integer", [SG_V_CODE] = "code", [SG_V_TEXT] = "text",
	[SG_V_TEXT + 1] = NULL,		/* get_word() needs the end */
};

const char *
sg_validator_name(enum sg_validator v)
{
	if ((size_t)v > SG_V_TEXT)
		return "?";
	return validator_names[v];
}

/* "flows[0].manifest.columns[2].type" for a setting. */
static void
setting_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *chain[32];
	size_t n = 0, i, off = 0;

	buf[0] = '\0';
	for (; s != NULL && !config_setting_is_root(s) && n < 32;
	    s = config_setting_parent(s))
		chain[n++] = s;
	for (i = n; i-- > 0 && off < len;) {
		const char *name = config_setting_name(chain[i]);
		int w;

		if (name != NULL)
			w = snprintf(buf + off, len - off, "%s%s",
			    off ? "." : "", name);
		else
			w = snprintf(buf + off, len - off, "[%d]",
			    config_setting_index(chain[i]));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void
problem(struct loader *L, const config_setting_t *s, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Report a problem at setting s (or its member `name`, which may be
 * absent: then s's own line is used). */
static void
problem(struct loader *L, const config_setting_t *s, const char *name,
    const char *fmt, ...)
{
	char path[256], msg[512];
	const char *file = L->file;
	int line = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path[0] = '\0';
	if (s != NULL) {
		const config_setting_t *m = name ?
		    config_setting_get_member(s, name) : NULL;
		const config_setting_t *at = m ? m : s;

		setting_path(at, path, sizeof(path));
		if (m == NULL && name != NULL) {
			size_t l = strlen(path);

			snprintf(path + l, sizeof(path) - l, "%s%s",
			    l ? "." : "", name);
		}
		line = config_setting_source_line(at);
		if (config_setting_source_file(at) != NULL)
			file = config_setting_source_file(at);
	}
	if (path[0] != '\0')
		sg_diag_add(L->diag, "%s:%d: %s: %s", file, line, path, msg);
	else
		sg_diag_add(L->diag, "%s:%d: %s", file, line, msg);
	L->errors++;
}

/* Report members of group g that are not in allowed[]. */
static void
check_known(struct loader *L, const config_setting_t *g,
    const char *const allowed[])
{
	int i, n = config_setting_length(g);
	size_t j;

	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);

		for (j = 0; allowed[j] != NULL; j++)
			if (name != NULL && strcmp(name, allowed[j]) == 0)
				break;
		if (allowed[j] == NULL)
			problem(L, m, NULL, "unknown setting");
	}
}

static char *
xstrdup(struct loader *L, const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		sg_diag_add(L->diag, "out of memory");
		L->errors++;
	}
	return d;
}

/* String member; 0 when present or optional-and-absent, -1 otherwise. */
static int
get_str(struct loader *L, const config_setting_t *g, const char *name,
    int required, char **out)
{
	config_setting_t *m = config_setting_get_member(g, name);

	*out = NULL;
	if (m == NULL) {
		if (required) {
			problem(L, g, name, "missing (required)");
			return -1;
		}
		return 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_STRING) {
		problem(L, m, NULL, "must be a string in double quotes");
		return -1;
	}
	if (required && config_setting_get_string(m)[0] == '\0') {
		problem(L, m, NULL, "must not be empty");
		return -1;
	}
	*out = xstrdup(L, config_setting_get_string(m));
	return *out ? 0 : -1;
}

static int
get_int(struct loader *L, const config_setting_t *g, const char *name,
    int required, long long min, long long max, long long *out)
{
	config_setting_t *m = config_setting_get_member(g, name);
	long long v;

	if (m == NULL) {
		if (required) {
			problem(L, g, name, "missing (required)");
			return -1;
		}
		return 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_INT &&
	    config_setting_type(m) != CONFIG_TYPE_INT64) {
		problem(L, m, NULL, "must be a whole number");
		return -1;
	}
	v = config_setting_get_int64(m);
	if (v < min || v > max) {
		problem(L, m, NULL, "must be between %lld and %lld", min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* An optional whole number: its value, or dflt when it is absent or
 * refused (get_int reports why). */
static long long
get_int_default(struct loader *L, const config_setting_t *g, const char *name,
    long long min, long long max, long long dflt)
{
	long long v;

	if (config_setting_get_member(g, name) == NULL ||
	    get_int(L, g, name, 0, min, max, &v) != 0)
		return dflt;
	return v;
}

static int
get_bool(struct loader *L, const config_setting_t *g, const char *name,
    int *out)
{
	config_setting_t *m = config_setting_get_member(g, name);

	if (m == NULL)
		return 0;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
		problem(L, m, NULL, "must be true or false");
		return -1;
	}
	*out = config_setting_get_bool(m);
	return 0;
}

static int
get_date(struct loader *L, const config_setting_t *g, const char *name,
    int required, int64_t *out)
{
	config_setting_t *m = config_setting_get_member(g, name);
	const char *s;

	*out = -1;
	if (m == NULL) {
		if (required) {
			problem(L, g, name, "missing (required)");
			return -1;
		}
		return 0;
	}
	s = config_setting_type(m) == CONFIG_TYPE_STRING ?
	    config_setting_get_string(m) : NULL;
	if (s == NULL || sg_date_parse(s, strlen(s), out) != 0) {
		problem(L, m, NULL, "must be a date \"YYYY-MM-DD\"");
		return -1;
	}
	return 0;
}

/* One of words[]; returns its index, or -1 (reported). */
static int
get_word(struct loader *L, const config_setting_t *g, const char *name,
    int required, int dflt, const char *const words[])
{
	config_setting_t *m = config_setting_get_member(g, name);
	const char *s;
	char list[256];
	size_t off = 0;
	int i;

	if (m == NULL) {
		if (required)
			problem(L, g, name, "missing (required)");
		return required ? -1 : dflt;
	}
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		s = config_setting_get_string(m);
		for (i = 0; words[i] != NULL; i++)
			if (strcmp(s, words[i]) == 0)
				return i;
	}
	list[0] = '\0';
	for (i = 0; words[i] != NULL && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
		    i ? ", " : "", words[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	problem(L, m, NULL, "must be one of %s", list);
	return -1;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A list or array of non-empty strings (a lone string is accepted as a
 * list of one). */
static int
get_strv(struct loader *L, const config_setting_t *g, const char *name,
    int required, char ***out, size_t *nout)
{
	config_setting_t *m = config_setting_get_member(g, name);
	char **v;
	int i, n;

	*out = NULL;
	*nout = 0;
	if (m == NULL) {
		if (required)
			problem(L, g, name, "missing (required)");
		return required ? -1 : 0;
	}
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		if ((v = calloc(1, sizeof(*v))) == NULL ||
		    (v[0] = xstrdup(L, config_setting_get_string(m))) == NULL) {
			free(v);
			return -1;
		}
		*out = v;
		*nout = 1;
		return 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(m) != CONFIG_TYPE_LIST) {
		problem(L, m, NULL, "must be a list of strings [\"a\", \"b\"]");
		return -1;
	}
	n = config_setting_length(m);
	if (n == 0 && required) {
		problem(L, m, NULL, "must not be empty");
		return -1;
	}
	if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(m, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    config_setting_get_string(e)[0] == '\0') {
			problem(L, e, NULL, "must be a non-empty string");
			strv_free(v, (size_t)i);
			return -1;
		}
		if ((v[i] = xstrdup(L, config_setting_get_string(e))) == NULL) {
			strv_free(v, (size_t)i);
			return -1;
		}
	}
	*out = v;
	*nout = (size_t)n;
	return 0;
}

/* Flags from a list of words; 0 and a report on an unknown word. */
static unsigned
get_flags(struct loader *L, const config_setting_t *g, const char *name,
    unsigned dflt, const char *const words[], const unsigned flags[])
{
	char **v;
	size_t n, i, j;
	unsigned out = 0;

	if (config_setting_get_member(g, name) == NULL)
		return dflt;
	if (get_strv(L, g, name, 1, &v, &n) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		for (j = 0; words[j] != NULL; j++)
			if (strcmp(v[i], words[j]) == 0)
				break;
		if (words[j] == NULL)
			problem(L, g, name, "unknown value \"%s\"", v[i]);
		else
			out |= flags[j];
	}
	strv_free(v, n);
	return out;
}

/* Identifiers become parts of virtual paths later: keep them plain. */
static int
valid_id(const char *s, int allow_colon)
{
	size_t i, len = strlen(s), colon = 0;

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (i > 0 && (c == '-' || c == '_' || c == '.')))
			continue;
		if (allow_colon && c == ':' && i > 0 && colon == 0 &&
		    i + 1 < len) {
			colon++;
			continue;
		}
		if (allow_colon && colon && c >= 'A' && c <= 'Z')
			continue;
		return 0;
	}
	return !allow_colon || colon == 1;
}

static int
valid_column_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 128)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ||
		    s[i] == '"' || s[i] == ',')
			return 0;
	return s[0] != ' ' && s[len - 1] != ' ';
}

#define CONF_FILE_MAX	(16 << 20)

/* Open and parse one libconfig file; NULL (reported) on failure. The
 * bytes parsed are the bytes hashed: sha256 (may be NULL) gets their
 * SHA-256 in hex, which the transfer log records (CONFIG_LOADED, and
 * each RECEIVED names its agreement's). */
static config_t *
read_file(struct loader *L, const char *path, char sha256[65])
{
	config_t *c = malloc(sizeof(*c));
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (c == NULL) {
		sg_diag_add(L->diag, "%s: out of memory", path);
		L->errors++;
		return NULL;
	}
	config_init(c);
	if ((f = fopen(path, "re")) == NULL) {
		sg_diag_add(L->diag, "%s: cannot read: %s", path,
		    strerror(errno ? errno : EIO));
		goto fail;
	}
	if ((text = malloc(CONF_FILE_MAX + 1)) != NULL)
		len = fread(text, 1, CONF_FILE_MAX + 1, f);
	rc = text == NULL || ferror(f);
	fclose(f);
	if (rc || len > CONF_FILE_MAX) {
		sg_diag_add(L->diag, "%s: cannot read: %s", path, rc ?
		    "read error" : "larger than 16 MiB");
		goto fail;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		sg_diag_add(L->diag, "%s: holds a NUL byte", path);
		goto fail;
	}
	/* what is hashed must be all that is read: no @include */
	if (strstr(text, "@include") != NULL) {
		sg_diag_add(L->diag, "%s: @include is not allowed (each "
		    "file's SHA-256 is recorded in the transfer log, so each "
		    "setting must be in the file itself)", path);
		goto fail;
	}
	EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
	if (sha256 != NULL)
		sg_hex(md, sizeof(md), sha256);
	if (config_read_string(c, text) != CONFIG_TRUE) {
		sg_diag_add(L->diag, "%s:%d: %s",
		    config_error_file(c) ? config_error_file(c) : path,
		    config_error_line(c), config_error_text(c));
		goto fail;
	}
	free(text);
	return c;
fail:
	L->errors++;
	free(text);
	config_destroy(c);
	free(c);
	return NULL;
}

static void
close_file(config_t *c)
{
	if (c != NULL) {
		config_destroy(c);
		free(c);
	}
}

/* path relative to the directory of `base` unless absolute. */
static char *
resolve(const char *base, const char *path)
{
	const char *slash;
	char *out;

	if (path[0] == '/')
		return strdup(path);
	slash = strrchr(base, '/');
	if (slash == NULL)
		return strdup(path);
	if (asprintf(&out, "%.*s/%s", (int)(slash - base), base, path) < 0)
		return NULL;
	return out;
}

static void
load_lacodes(struct loader *L, const char *path, struct sg_lacodes *la,
    char sha256[65])
{
	config_t *c;
	config_setting_t *root, *m;
	static const char *const known[] = { "la_codes", NULL };
	int i, n;

	if ((c = read_file(L, path, sha256)) == NULL)
		return;
	L->file = path;
	root = config_root_setting(c);
	check_known(L, root, known);
	m = config_setting_get_member(root, "la_codes");
	if (m == NULL || (config_setting_type(m) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(m) != CONFIG_TYPE_LIST)) {
		problem(L, m ? m : root, m ? NULL : "la_codes",
		    "must be a list of 3-digit codes [\"201\", \"202\", ...]");
		close_file(c);
		return;
	}
	n = config_setting_length(m);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		const char *s;
		int code;

		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    strlen(s = config_setting_get_string(e)) != 3 ||
		    s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
		    s[2] < '0' || s[2] > '9') {
			problem(L, e, NULL, "must be a 3-digit code in quotes");
			continue;
		}
		code = atoi(s);
		if (la->known[code])
			problem(L, e, NULL, "LA code %s is listed twice", s);
		else {
			la->known[code] = 1;
			la->count++;
		}
	}
	close_file(c);
}

static void
party_free(struct sg_party *p)
{
	free(p->id);
	free(p->name);
	free(p->age_recipient);
	free(p->password);
	strv_free(p->tokens, p->ntokens);
	strv_free(p->ssh_keys, p->nssh_keys);
	strv_free(p->cert_sha256, p->ncerts);
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return i == 64;
}

static void
get_uint(struct loader *L, const config_setting_t *g, const char *name,
    long long min, long long max, unsigned *out)
{
	long long v;

	if (config_setting_get_member(g, name) != NULL &&
	    get_int(L, g, name, 0, min, max, &v) == 0)
		*out = (unsigned)v;
}

static void
get_path(struct loader *L, const config_setting_t *g, const char *name,
    const char *base, char **out)
{
	char *v = NULL;

	if (get_str(L, g, name, 0, &v) != 0 || v == NULL)
		return;
	free(*out);
	*out = resolve(base, v);
	free(v);
}

/* bans.exempt: networks no address ban applies to (a local authority's
 * shared broadband address, a school's own network) */
static void
get_exempt(struct loader *L, const config_setting_t *g,
    struct sg_daemon_conf *d)
{
	char **v;
	size_t n, i;

	if (get_strv(L, g, "exempt", 0, &v, &n) != 0 || n == 0)
		return;
	if (n > 256)
		problem(L, g, "exempt", "at most 256 networks");
	else if ((d->ban_exempt = calloc(n, sizeof(*d->ban_exempt))) != NULL) {
		for (i = 0; i < n; i++)
			if (sg_netmask_parse(v[i], &d->ban_exempt[i]) != 0)
				problem(L, config_setting_get_member(g,
				    "exempt"), NULL, "not an address or "
				    "network (want 192.0.2.0/24 or "
				    "2001:db8::/32)");
		d->nban_exempt = n;
	}
	strv_free(v, n);
}

static void
load_daemon(struct loader *L, const config_setting_t *g,
    struct sg_config *cfg)
{
	static const char *const known[] = { "state_dir", "keys_dir",
	    "secrets", "control", "https", "sftp", "workers", "limits", "bans",
	    "retention", "checkpoint", "sandbox", NULL };
	static const char *const sftp_known[] = { "listen",
	    "login_grace_seconds", "max_auth_tries", "max_handles",
	    "idle_seconds", "keepalive_seconds", NULL };
	static const char *const https_known[] = { "listen", "certificate",
	    "key", "session_idle_seconds", "session_max_seconds", "web",
	    NULL };
	static const char *const limits_known[] = { "connections",
	    "unauthenticated", "header_bytes", "idle_seconds",
	    "drain_seconds", "upload_buffer", "queued_uploads",
	    "unauthenticated_per_address", "uploads_per_party",
	    "upload_stall_seconds", NULL };
	static const char *const bans_known[] = { "failures", "ban_seconds",
	    "max_ban_seconds", "party_failures", "address_failures", "exempt",
	    NULL };
	static const char *const ret_known[] = { "check_seconds",
	    "day_seconds", "report_days", NULL };
	static const char *const cp_known[] = { "records", "seconds", NULL };
	struct sg_daemon_conf *d = &cfg->daemon;
	config_setting_t *m;

	check_known(L, g, known);
	get_path(L, g, "state_dir", cfg->path, &d->state_dir);
	get_path(L, g, "keys_dir", cfg->path, &d->keys_dir);
	get_path(L, g, "secrets", cfg->path, &d->secrets);
	get_path(L, g, "control", cfg->path, &d->control);
	if (d->control != NULL && strlen(d->control) >= 108)
		problem(L, g, "control",
		    "the socket path is longer than 107 bytes");
	get_uint(L, g, "workers", 1, 64, &d->workers);
	{
		char *sb = NULL;

		get_str(L, g, "sandbox", 0, &sb);
		if (sb != NULL && strcmp(sb, "off") == 0)
			d->sandbox_off = 1;
		else if (sb != NULL && strcmp(sb, "on") != 0)
			problem(L, g, "sandbox", "want \"on\" (the default) "
			    "or \"off\"");
		free(sb);
	}
	if ((m = config_setting_get_member(g, "https")) != NULL) {
		check_known(L, m, https_known);
		free(d->https_listen);
		d->https_listen = NULL;
		get_str(L, m, "listen", 0, &d->https_listen);
		get_path(L, m, "certificate", cfg->path, &d->tls_cert);
		get_path(L, m, "key", cfg->path, &d->tls_key);
		get_uint(L, m, "session_idle_seconds", 1, 86400,
		    &d->session_idle_seconds);
		get_uint(L, m, "session_max_seconds", 1, 7 * 86400,
		    &d->session_max_seconds);
		get_bool(L, m, "web", &d->web);
		if (d->session_max_seconds < d->session_idle_seconds)
			problem(L, m, "session_max_seconds", "shorter than "
			    "session_idle_seconds");
	}
	if ((m = config_setting_get_member(g, "sftp")) != NULL) {
		check_known(L, m, sftp_known);
		get_str(L, m, "listen", 0, &d->sftp_listen);
		get_uint(L, m, "login_grace_seconds", 1, 600,
		    &d->sftp_grace_seconds);
		get_uint(L, m, "max_auth_tries", 1, 100, &d->sftp_auth_tries);
		get_uint(L, m, "max_handles", 1, 1024, &d->sftp_handles);
		get_uint(L, m, "idle_seconds", 1, 7 * 86400,
		    &d->sftp_idle_seconds);
		get_uint(L, m, "keepalive_seconds", 1, 3600,
		    &d->sftp_keepalive_seconds);
	}
	if ((m = config_setting_get_member(g, "limits")) != NULL) {
		check_known(L, m, limits_known);
		get_uint(L, m, "connections", 1, 100000, &d->max_connections);
		get_uint(L, m, "unauthenticated", 1, 100000, &d->max_unauth);
		get_uint(L, m, "unauthenticated_per_address", 1, 100000,
		    &d->max_unauth_addr);
		get_uint(L, m, "header_bytes", 1024, 1 << 20,
		    &d->header_bytes);
		get_uint(L, m, "idle_seconds", 1, 86400, &d->idle_seconds);
		get_uint(L, m, "drain_seconds", 0, 86400, &d->drain_seconds);
		get_uint(L, m, "upload_buffer", 65536, 64 << 20,
		    &d->upload_buffer);
		get_uint(L, m, "queued_uploads", 1, 100000,
		    &d->queued_uploads);
		get_uint(L, m, "uploads_per_party", 0, 64,
		    &d->uploads_per_party);
		get_uint(L, m, "upload_stall_seconds", 1, 86400,
		    &d->upload_stall_seconds);
	}
	if ((m = config_setting_get_member(g, "bans")) != NULL) {
		check_known(L, m, bans_known);
		get_uint(L, m, "failures", 1, 1000, &d->ban_failures);
		get_uint(L, m, "ban_seconds", 1, 86400, &d->ban_seconds);
		get_uint(L, m, "max_ban_seconds", 1, 30 * 86400,
		    &d->ban_max_seconds);
		get_uint(L, m, "party_failures", 1, 10000,
		    &d->ban_party_failures);
		get_uint(L, m, "address_failures", 1, 100000,
		    &d->ban_address_failures);
		get_exempt(L, m, d);
	}
	if ((m = config_setting_get_member(g, "retention")) != NULL) {
		check_known(L, m, ret_known);
		get_uint(L, m, "check_seconds", 1, 86400,
		    &d->retention_check_seconds);
		get_uint(L, m, "day_seconds", 1, 86400, &d->day_seconds);
		get_uint(L, m, "report_days", 1, 3660, &d->report_days);
	}
	if ((m = config_setting_get_member(g, "checkpoint")) != NULL) {
		check_known(L, m, cp_known);
		get_uint(L, m, "records", 1, 1000000, &d->checkpoint_records);
		get_uint(L, m, "seconds", 1, 86400, &d->checkpoint_seconds);
	}
}

static void
daemon_defaults(struct sg_daemon_conf *d)
{
	d->https_listen = strdup("127.0.0.1:8443");
	d->control = strdup(SG_CONTROL_DEFAULT);
	d->web = 1;
	d->session_idle_seconds = 900;
	d->session_max_seconds = 12 * 3600;
	d->sftp_grace_seconds = 30;
	d->sftp_auth_tries = 6;
	d->sftp_handles = 16;
	d->sftp_idle_seconds = 1800;
	d->sftp_keepalive_seconds = 30;
	d->workers = 4;
	d->max_connections = 512;
	d->max_unauth = 64;
	d->max_unauth_addr = 16;
	d->header_bytes = 16384;
	d->idle_seconds = 60;
	d->drain_seconds = 30;
	d->upload_buffer = 512 * 1024;
	d->queued_uploads = 256;
	d->uploads_per_party = 0;
	d->upload_stall_seconds = 60;
	d->ban_failures = 5;
	d->ban_seconds = 60;
	d->ban_max_seconds = 86400;
	d->ban_party_failures = 20;
	d->ban_address_failures = 100;
	d->retention_check_seconds = 3600;
	d->day_seconds = 86400;
	d->report_days = 30;
	d->checkpoint_records = 1000;
	d->checkpoint_seconds = 60;
}

static void
daemon_free(struct sg_daemon_conf *d)
{
	free(d->state_dir);
	free(d->keys_dir);
	free(d->secrets);
	free(d->control);
	free(d->ban_exempt);
	free(d->https_listen);
	free(d->tls_cert);
	free(d->tls_key);
	free(d->sftp_listen);
}

/* The modulus size of an "ssh-rsa" key blob (base64), or 0. */
static unsigned
rsa_bits(const char *b64)
{
	size_t cap = strlen(b64) / 4 * 3 + 3, at = 0, i, len = 0;
	unsigned char *blob = malloc(cap);
	long n = blob ? sg_b64_decode(b64, strlen(b64), blob, cap, 1) : -1;
	unsigned bits = 0;

	for (i = 0; i < 3; i++) {
		if (n < 0 || at + 4 > (size_t)n)
			goto out;
		len = (size_t)blob[at] << 24 | (size_t)blob[at + 1] << 16 |
		    (size_t)blob[at + 2] << 8 | blob[at + 3];
		at += 4;
		if (len > (size_t)n - at)
			goto out;
		if (i < 2)
			at += len;
	}
	while (len > 0 && blob[at] == 0)
		at++, len--;
	if (len > 0) {
		bits = (unsigned)len * 8;
		for (i = 0x80; i > 0 && !(blob[at] & i); i >>= 1)
			bits--;
	}
out:
	free(blob);
	return bits;
}

/* An authorised key line ("type base64 [comment]"): NULL and *norm =
 * "type base64" when it is a key we accept, else why not. */
static const char *
ssh_key_check(const char *line, char **norm)
{
	char type[64], b64[16384];
	ssh_key k = NULL;
	enum ssh_keytypes_e t;
	const char *why = NULL;

	if (sscanf(line, "%63s %16383s", type, b64) != 2)
		return "each must be an OpenSSH public key line "
		    "(\"ssh-ed25519 AAAA... comment\")";
	t = ssh_key_type_from_name(type);
	if (ssh_pki_import_pubkey_base64(b64, t, &k) != SSH_OK)
		return "a key does not parse (type and base64 must match)";
	switch (ssh_key_type(k)) {
	case SSH_KEYTYPE_ED25519:
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
		break;
	case SSH_KEYTYPE_RSA:
		if (rsa_bits(b64) < 3072)
			why = "RSA keys must have 3072 bits or more";
		break;
	default:
		why = "only ed25519, ecdsa and rsa (3072 bits or more) keys "
		    "are accepted";
	}
	ssh_key_free(k);
	if (why == NULL && asprintf(norm, "%s %s", type, b64) < 0)
		why = "out of memory";
	return why;
}

static void
load_parties(struct loader *L, const char *path, struct sg_config *cfg)
{
	static const char *const root_known[] = { "parties", NULL };
	static const char *const known[] = { "id", "name", "age_recipient",
	    "password", "tokens", "client_cert_sha256", "ssh_keys",
	    "sftp_password", NULL };
	config_t *c;
	config_setting_t *root, *list;
	int i, n;
	size_t j;

	if ((c = read_file(L, path, cfg->parties_sha256)) == NULL)
		return;
	L->file = path;
	root = config_root_setting(c);
	check_known(L, root, root_known);
	list = config_setting_get_member(root, "parties");
	if (list == NULL || config_setting_type(list) != CONFIG_TYPE_LIST) {
		problem(L, list ? list : root, list ? NULL : "parties",
		    "must be a list of groups ( { id = ...; name = ...; } )");
		close_file(c);
		return;
	}
	n = config_setting_length(list);
	cfg->parties = calloc((size_t)n + 1, sizeof(*cfg->parties));
	if (cfg->parties == NULL) {
		problem(L, list, NULL, "out of memory");
		close_file(c);
		return;
	}
	for (i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct sg_party *p = &cfg->parties[cfg->nparties];

		if (!config_setting_is_group(g)) {
			problem(L, g, NULL, "must be a group { ... }");
			continue;
		}
		check_known(L, g, known);
		get_str(L, g, "id", 1, &p->id);
		get_str(L, g, "name", 1, &p->name);
		get_str(L, g, "age_recipient", 0, &p->age_recipient);
		get_str(L, g, "password", 0, &p->password);
		get_strv(L, g, "tokens", 0, &p->tokens, &p->ntokens);
		get_strv(L, g, "client_cert_sha256", 0, &p->cert_sha256,
		    &p->ncerts);
		get_strv(L, g, "ssh_keys", 0, &p->ssh_keys, &p->nssh_keys);
		get_bool(L, g, "sftp_password", &p->sftp_password);
		for (j = 0; j < p->nssh_keys; j++) {
			char *norm = NULL;
			const char *why = ssh_key_check(p->ssh_keys[j], &norm);

			if (why != NULL)
				problem(L, g, "ssh_keys", "%s", why);
			else {
				free(p->ssh_keys[j]);
				p->ssh_keys[j] = norm;
			}
		}
		if (p->sftp_password && p->password == NULL)
			problem(L, g, "sftp_password", "needs a password "
			    "(schoolgate passwd prints the hash)");
		if (p->password != NULL &&
		    strncmp(p->password, "$argon2id$", 10) != 0)
			problem(L, g, "password", "must be an argon2id hash "
			    "($argon2id$...) as printed by schoolgate passwd, "
			    "never the password itself");
		for (j = 0; j < p->ntokens; j++)
			if (strncmp(p->tokens[j], "sha256:", 7) != 0 ||
			    !is_hex64(p->tokens[j] + 7))
				problem(L, g, "tokens", "each must be "
				    "\"sha256:\" and 64 lower-case hex digits "
				    "(schoolgate token prints one)");
		for (j = 0; j < p->ncerts; j++)
			if (!is_hex64(p->cert_sha256[j]))
				problem(L, g, "client_cert_sha256", "each "
				    "must be 64 lower-case hex digits (the "
				    "SHA-256 of the certificate, DER)");
		if (p->id != NULL && !valid_id(p->id, 1))
			problem(L, g, "id", "must look like \"school:3414001\" "
			    "or \"org:sil\" (kind:name, lower-case kind)");
		if (p->age_recipient != NULL &&
		    strncmp(p->age_recipient, "age1", 4) != 0)
			problem(L, g, "age_recipient",
			    "must be an age public key (age1...)");
		for (j = 0; p->id != NULL && j < cfg->nparties; j++)
			if (strcmp(cfg->parties[j].id, p->id) == 0)
				problem(L, g, "id", "duplicate party id \"%s\"",
				    p->id);
		if (p->id == NULL || p->name == NULL) {
			party_free(p);
			memset(p, 0, sizeof(*p));
			continue;
		}
		cfg->nparties++;
	}
	close_file(c);
}

static void
column_free(struct sg_column *col)
{
	free(col->name);
	strv_free(col->codes, col->ncodes);
}

static void
manifest_free(struct sg_manifest *m)
{
	size_t i;

	for (i = 0; i < m->ncolumns; i++)
		column_free(&m->columns[i]);
	free(m->columns);
}

static const char *const la_words[] = { "warn", "strict", "off", NULL };

static void
load_column(struct loader *L, const config_setting_t *g,
    struct sg_column *col)
{
	static const char *const known[] = { "name", "type", "required",
	    "min", "max", "max_length", "codes", "trn", "la_codes",
	    "special_category", "index", NULL };
	static const char *const trn_words[] = { "normalise", "strict", NULL };
	long long v;
	int t;

	check_known(L, g, known);
	get_str(L, g, "name", 1, &col->name);
	if (col->name != NULL && !valid_column_name(col->name))
		problem(L, g, "name", "column names are printable ASCII "
		    "without commas, quotes or surrounding spaces");
	t = get_word(L, g, "type", 1, 0, validator_names);
	col->type = t < 0 ? SG_V_TEXT : (enum sg_validator)t;
	col->required = 1;
	get_bool(L, g, "required", &col->required);
	col->min = INT64_MIN;
	col->max = INT64_MAX;
	if (get_int(L, g, "min", 0, LLONG_MIN, LLONG_MAX, &v) == 0 &&
	    config_setting_get_member(g, "min"))
		col->min = v;
	if (get_int(L, g, "max", 0, LLONG_MIN, LLONG_MAX, &v) == 0 &&
	    config_setting_get_member(g, "max"))
		col->max = v;
	if ((config_setting_get_member(g, "min") ||
	    config_setting_get_member(g, "max")) && t != SG_V_INTEGER)
		problem(L, g, config_setting_get_member(g, "min") ? "min" :
		    "max", "only an integer column has a range");
	if (t == SG_V_INTEGER && col->min > col->max)
		problem(L, g, "min", "min is greater than max");
	col->max_length = 0;
	if (get_int(L, g, "max_length", t == SG_V_TEXT, 1, 65536, &v) == 0 &&
	    config_setting_get_member(g, "max_length")) {
		col->max_length = (size_t)v;
		if (t != SG_V_TEXT)
			problem(L, g, "max_length",
			    "only a text column has max_length");
	}
	get_strv(L, g, "codes", t == SG_V_CODE, &col->codes, &col->ncodes);
	if (col->codes != NULL && t != SG_V_CODE)
		problem(L, g, "codes", "only a code column has codes");
	col->trn_strict = get_word(L, g, "trn", 0, 1, trn_words) == 1;
	if (config_setting_get_member(g, "trn") && t != SG_V_TRN)
		problem(L, g, "trn", "only a trn column has this setting");
	t = get_word(L, g, "la_codes", 0, SG_LA_WARN, la_words);
	col->la_policy = t < 0 ? SG_LA_WARN : (enum sg_la_policy)t;
	if (config_setting_get_member(g, "la_codes") &&
	    col->type != SG_V_UPN && col->type != SG_V_UPN_OR_TEMP &&
	    col->type != SG_V_LAESTAB)
		problem(L, g, "la_codes",
		    "only upn and laestab columns check LA codes");
	get_bool(L, g, "special_category", &col->special_category);
	get_bool(L, g, "index", &col->index);
	if (col->index && col->type != SG_V_UPN &&
	    col->type != SG_V_UPN_OR_TEMP && col->type != SG_V_TRN &&
	    col->type != SG_V_ULN)
		problem(L, g, "index", "only upn, upn-or-temporary, trn and "
		    "uln columns identify a data subject");
}

/* A column named by sender_school: in the manifest, required, of type
 * want (an integer or a laestab); its index, or -1. */
static int
school_column(struct loader *L, const config_setting_t *g, const char *key,
    const struct sg_manifest *m, enum sg_validator want)
{
	char *name = NULL;
	size_t j;
	int r = -1;

	if (get_str(L, g, key, 0, &name) != 0 || name == NULL)
		return -1;
	for (j = 0; j < m->ncolumns; j++)
		if (strcmp(m->columns[j].name, name) == 0)
			r = (int)j;
	if (r < 0)
		problem(L, g, key, "column \"%s\" is not in the manifest",
		    name);
	else if (m->columns[r].type != want || !m->columns[r].required)
		problem(L, g, key, "column \"%s\" must be a required %s "
		    "column", name, sg_validator_name(want));
	free(name);
	return r < 0 || m->columns[r].type != want ? -1 : r;
}

static void
load_manifest(struct loader *L, const config_setting_t *g,
    struct sg_manifest *m, const struct sg_config *cfg)
{
	static const char *const known[] = { "columns", "key", "unique",
	    "max_rows", "column_order", "csv_injection", "max_field_bytes",
	    "max_errors", "sender_school", NULL };
	static const char *const school_known[] = { "la", "estab", "laestab",
	    NULL };
	static const char *const order_words[] = { "any", "enforced", NULL };
	config_setting_t *ss;
	static const char *const inj_words[] = { "reject", "allow-numeric",
	    NULL };
	config_setting_t *cols;
	char *key = NULL;
	int i, n, t;
	size_t j;

	check_known(L, g, known);
	m->key = -1;
	m->school_la = m->school_estab = m->school_laestab = -1;
	m->la = &cfg->la;
	m->max_errors = cfg->max_errors;
	cols = config_setting_get_member(g, "columns");
	if (cols == NULL || config_setting_type(cols) != CONFIG_TYPE_LIST ||
	    config_setting_length(cols) == 0) {
		problem(L, cols ? cols : g, cols ? NULL : "columns",
		    "must be a non-empty list of columns ( { name = ...; "
		    "type = ...; }, ... )");
		return;
	}
	n = config_setting_length(cols);
	if (n > SG_MAX_COLUMNS) {
		problem(L, cols, NULL, "more than %d columns", SG_MAX_COLUMNS);
		return;
	}
	if ((m->columns = calloc((size_t)n, sizeof(*m->columns))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		config_setting_t *c = config_setting_get_elem(cols, (unsigned)i);
		struct sg_column *col = &m->columns[m->ncolumns];

		if (!config_setting_is_group(c)) {
			problem(L, c, NULL, "must be a group { ... }");
			continue;
		}
		load_column(L, c, col);
		for (j = 0; col->name && j < m->ncolumns; j++)
			if (strcasecmp(m->columns[j].name, col->name) == 0)
				problem(L, c, "name", "duplicate column \"%s\"",
				    col->name);
		if (col->name == NULL) {
			column_free(col);
			continue;
		}
		m->ncolumns++;
	}
	if (get_str(L, g, "key", 0, &key) == 0 && key != NULL) {
		for (j = 0; j < m->ncolumns; j++)
			if (strcmp(m->columns[j].name, key) == 0)
				m->key = (int)j;
		if (m->key < 0)
			problem(L, g, "key", "key column \"%s\" is not in the "
			    "manifest", key);
		else if (!m->columns[m->key].required)
			problem(L, g, "key", "the key column must be required");
		free(key);
	}
	m->key_unique = m->key >= 0;
	get_bool(L, g, "unique", &m->key_unique);
	if (m->key_unique && m->key < 0 &&
	    config_setting_get_member(g, "unique"))
		problem(L, g, "unique", "unique keys need a key column");
	m->max_rows = (uint64_t)get_int_default(L, g, "max_rows", 1,
	    (long long)SG_MAX_ROWS_LIMIT, 1000000);
	t = get_word(L, g, "column_order", 0, 1, order_words);
	m->order_enforced = t != 0;
	t = get_word(L, g, "csv_injection", 0, 0, inj_words);
	m->injection = t == 1 ? SG_INJ_ALLOW_NUMERIC : SG_INJ_REJECT;
	m->max_field_bytes = (size_t)get_int_default(L, g, "max_field_bytes",
	    16, 1 << 20, 4096);
	m->max_errors = (size_t)get_int_default(L, g, "max_errors", 1, 100000,
	    (long long)m->max_errors);
	/* the sending school's number in every row */
	if ((ss = config_setting_get_member(g, "sender_school")) != NULL) {
		if (!config_setting_is_group(ss))
			problem(L, ss, NULL, "must be a group { la = \"LEA\"; "
			    "estab = \"Estab\"; } or { laestab = \"...\"; }");
		else {
			check_known(L, ss, school_known);
			m->school_la = school_column(L, ss, "la", m,
			    SG_V_INTEGER);
			m->school_estab = school_column(L, ss, "estab", m,
			    SG_V_INTEGER);
			m->school_laestab = school_column(L, ss, "laestab", m,
			    SG_V_LAESTAB);
			if ((m->school_la >= 0) != (m->school_estab >= 0) ||
			    (m->school_la >= 0) == (m->school_laestab >= 0))
				problem(L, ss, NULL, "name either the la and "
				    "estab columns, or the laestab column");
			else
				m->school_check = m->school_la >= 0 ?
				    SG_SCHOOL_LA_ESTAB : SG_SCHOOL_LAESTAB;
		}
	}
	for (j = 0; j < m->ncolumns; j++)
		if (strlen(m->columns[j].name) > m->max_field_bytes)
			problem(L, g, "max_field_bytes", "is shorter than the "
			    "column name \"%s\"", m->columns[j].name);
	for (j = 0; j < m->ncolumns; j++)
		if (m->columns[j].type == SG_V_TEXT &&
		    m->columns[j].max_length * 4 > m->max_field_bytes &&
		    m->columns[j].max_length > m->max_field_bytes)
			problem(L, g, "max_field_bytes", "column \"%s\" allows "
			    "%zu characters, more than max_field_bytes",
			    m->columns[j].name, m->columns[j].max_length);
}

static void
flow_free(struct sg_flow *f)
{
	free(f->id);
	free(f->description);
	strv_free(f->senders, f->nsenders);
	strv_free(f->recipients, f->nrecipients);
	free(f->file_pattern);
	strv_free(f->types, f->ntypes);
	free(f->frequency);
	manifest_free(&f->manifest);
}

static const char *const opaque_types[] = { "pdf", "png", "jpeg", "txt",
    "docx", "xlsx", NULL };

static void
check_parties(struct loader *L, const config_setting_t *g, const char *name,
    char **v, size_t n, const struct sg_config *cfg,
    const struct sg_agreement *a)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (sg_config_party(cfg, v[i]) == NULL) {
			problem(L, g, name, "\"%s\" is not a party in the "
			    "parties file", v[i]);
			continue;
		}
		for (j = 0; j < a->nparties; j++)
			if (strcmp(a->parties[j].party, v[i]) == 0)
				break;
		if (j == a->nparties)
			problem(L, g, name, "\"%s\" is not a party to this "
			    "agreement", v[i]);
		for (j = 0; j < i; j++)
			if (strcmp(v[j], v[i]) == 0)
				problem(L, g, name, "\"%s\" is listed twice",
				    v[i]);
	}
}

static void
load_flow(struct loader *L, const config_setting_t *g, struct sg_flow *f,
    const struct sg_config *cfg, const struct sg_agreement *a)
{
	static const char *const known[] = { "id", "appendix", "description",
	    "senders", "recipients", "method", "format", "encryption",
	    "file_pattern", "types", "frequency", "retention_days",
	    "delete_by", "delivery", "limits", "manifest", "retention_after",
	    "per_period", "frequency_exceeded", NULL };
	static const char *const over_words[] = { "warn", "refuse", NULL };
	static const char *const after_words[] = { "release", "confirmed",
	    NULL };
	static const char *const appendix_words[] = { "A", "B", NULL };
	static const char *const method_words[] = { "sftp", "https", NULL };
	static const unsigned method_flags[] = { SG_METHOD_SFTP,
	    SG_METHOD_HTTPS };
	static const char *const format_words[] = { "csv", "opaque", NULL };
	static const char *const enc_words[] = { "zip-aes", "zip-legacy",
	    "age", NULL };
	static const unsigned enc_flags[] = { SG_ENC_ZIP_AES,
	    SG_ENC_ZIP_LEGACY, SG_ENC_AGE };
	static const char *const freq_words[] = { "ad-hoc", "daily",
	    "weekly", "monthly", "termly", "annually", NULL };
	static const char *const delivery_words[] = { "gateway", "sealed",
	    NULL };
	static const char *const limit_known[] = { "max_bytes", "max_ratio",
	    "max_entries", "max_name_length", NULL };
	config_setting_t *lim, *man;
	long long v;
	size_t i, j;
	int t;

	f->file = a->file;
	f->line = config_setting_source_line(g);
	check_known(L, g, known);
	get_str(L, g, "id", 1, &f->id);
	if (f->id != NULL && !valid_id(f->id, 0))
		problem(L, g, "id", "flow ids use a-z, 0-9, '-', '_' and '.'");
	t = get_word(L, g, "appendix", 1, 0, appendix_words);
	f->appendix = t == 1 ? 'B' : 'A';
	get_str(L, g, "description", 1, &f->description);
	get_strv(L, g, "senders", 1, &f->senders, &f->nsenders);
	get_strv(L, g, "recipients", 1, &f->recipients, &f->nrecipients);
	check_parties(L, g, "senders", f->senders, f->nsenders, cfg, a);
	check_parties(L, g, "recipients", f->recipients, f->nrecipients, cfg,
	    a);
	for (i = 0; i < f->nsenders; i++)
		for (j = 0; j < f->nrecipients; j++)
			if (strcmp(f->senders[i], f->recipients[j]) == 0)
				problem(L, g, "recipients", "\"%s\" both sends "
				    "and receives this flow", f->senders[i]);
	f->methods = get_flags(L, g, "method", SG_METHOD_SFTP |
	    SG_METHOD_HTTPS, method_words, method_flags);
	t = get_word(L, g, "format", 1, 0, format_words);
	f->format = t == 1 ? SG_FORMAT_OPAQUE : SG_FORMAT_CSV;
	if (config_setting_get_member(g, "encryption") == NULL)
		problem(L, g, "encryption", "missing (required): list the "
		    "intake encryptions, e.g. [\"zip-aes\", \"age\"]");
	f->encryptions = get_flags(L, g, "encryption", 0, enc_words,
	    enc_flags);
	get_str(L, g, "file_pattern", 0, &f->file_pattern);
	get_strv(L, g, "types", t == 1, &f->types, &f->ntypes);
	for (i = 0; i < f->ntypes; i++) {
		for (j = 0; opaque_types[j] != NULL; j++)
			if (strcmp(f->types[i], opaque_types[j]) == 0)
				break;
		if (opaque_types[j] == NULL)
			problem(L, g, "types", "unknown type \"%s\" (known: "
			    "pdf, png, jpeg, txt, docx, xlsx)", f->types[i]);
	}
	if (f->types != NULL && t != 1)
		problem(L, g, "types", "only an opaque flow lists types");
	if ((t = get_word(L, g, "frequency", 1, 0, freq_words)) >= 0) {
		get_str(L, g, "frequency", 1, &f->frequency);
		f->period = (enum sg_frequency)t;
	}
	/* how many accepted files a sender may send in one period (a file
	 * that supersedes or follows a withdrawn one is not counted) */
	f->per_period = (unsigned)get_int_default(L, g, "per_period", 1, 1000,
	    1);
	f->frequency_refuse = get_word(L, g, "frequency_exceeded", 0, 0,
	    over_words) == 1;
	if (f->period == SG_FREQ_ADHOC &&
	    (config_setting_get_member(g, "per_period") ||
	    config_setting_get_member(g, "frequency_exceeded")))
		problem(L, g, "per_period", "an ad-hoc flow has no period "
		    "to count in");
	f->retention_days = 0;
	if (get_int(L, g, "retention_days", 1, 1, 3660, &v) == 0)
		f->retention_days = (int)v;
	f->retention_after_confirmed =
	    get_word(L, g, "retention_after", 0, 0, after_words) == 1;
	get_date(L, g, "delete_by", 0, &f->delete_by);
	t = get_word(L, g, "delivery", 0, 0, delivery_words);
	f->delivery = t == 1 ? SG_DELIVERY_SEALED : SG_DELIVERY_GATEWAY;
	if (f->delivery == SG_DELIVERY_SEALED)
		for (i = 0; i < f->nrecipients; i++) {
			const struct sg_party *p =
			    sg_config_party(cfg, f->recipients[i]);

			if (p != NULL && p->age_recipient == NULL)
				problem(L, g, "delivery", "sealed delivery "
				    "needs an age_recipient for \"%s\"",
				    f->recipients[i]);
		}

	f->limits.max_bytes = 4ULL << 30;
	f->limits.max_ratio = 100;
	f->limits.max_entries = 16;
	f->limits.max_name = 255;
	lim = config_setting_get_member(g, "limits");
	if (lim != NULL) {
		if (!config_setting_is_group(lim))
			problem(L, lim, NULL, "must be a group { ... }");
		else {
			check_known(L, lim, limit_known);
			if (get_int(L, lim, "max_bytes", 0, 1, 1LL << 40,
			    &v) == 0 && config_setting_get_member(lim,
			    "max_bytes"))
				f->limits.max_bytes = (uint64_t)v;
			if (get_int(L, lim, "max_ratio", 0, 2, 100000,
			    &v) == 0 && config_setting_get_member(lim,
			    "max_ratio"))
				f->limits.max_ratio = (uint64_t)v;
			/* both bounded so the central directory fits the
			 * window zipin keeps to verify it */
			if (get_int(L, lim, "max_entries", 0, 1, 64,
			    &v) == 0 && config_setting_get_member(lim,
			    "max_entries"))
				f->limits.max_entries = (unsigned)v;
			if (get_int(L, lim, "max_name_length", 0, 1, 512,
			    &v) == 0 && config_setting_get_member(lim,
			    "max_name_length"))
				f->limits.max_name = (unsigned)v;
		}
	}

	man = config_setting_get_member(g, "manifest");
	if (f->format == SG_FORMAT_CSV) {
		if (man == NULL || !config_setting_is_group(man))
			problem(L, man ? man : g, man ? NULL : "manifest",
			    "a csv flow needs a manifest group { columns = "
			    "(...); }");
		else
			load_manifest(L, man, &f->manifest, cfg);
		for (i = 0; f->manifest.school_check != SG_SCHOOL_NONE &&
		    i < f->nsenders; i++)
			if (sg_party_laestab(f->senders[i]) == 0)
				problem(L, man, "sender_school", "\"%s\" is not "
				    "a school (school:LAESTAB), so its rows "
				    "cannot be matched to it", f->senders[i]);
	} else if (man != NULL)
		problem(L, man, NULL, "an opaque flow has no manifest");
	f->manifest.key = f->manifest.ncolumns ? f->manifest.key : -1;
}

static void
agreement_free(struct sg_agreement *a)
{
	size_t i;

	free(a->id);
	free(a->title);
	free(a->lawful_basis.gateway);
	for (i = 0; i < a->nparties; i++) {
		free(a->parties[i].party);
		free(a->parties[i].role);
	}
	free(a->parties);
	for (i = 0; i < a->nflows; i++)
		flow_free(&a->flows[i]);
	free(a->flows);
	free(a->file);
}

/* lawful_basis = { article6 = [ "c", "e" ]; article9 = [ "g" ];
 * gateway = "Education Act 1996 s.537A"; }: UK GDPR conditions from
 * the fixed lists, and the legal gateway in the agreement's words. */
static unsigned
basis_letters(struct loader *L, const config_setting_t *g, const char *key,
    char last, int required)
{
	char **v = NULL;
	size_t n = 0, i;
	unsigned bits = 0;

	if (get_strv(L, g, key, required, &v, &n) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (strlen(v[i]) != 1 || v[i][0] < 'a' || v[i][0] > last)
			problem(L, g, key, "\"%s\" is not a condition: use "
			    "the letters \"a\" to \"%c\" of Article %s", v[i],
			    last, last == 'f' ? "6(1)" : "9(2)");
		else if (bits & (1u << (v[i][0] - 'a')))
			problem(L, g, key, "\"%s\" is listed twice", v[i]);
		else
			bits |= 1u << (v[i][0] - 'a');
	}
	strv_free(v, n);
	return bits;
}

static void
load_lawful_basis(struct loader *L, const config_setting_t *a,
    struct sg_lawful_basis *b)
{
	static const char *const known[] = { "article6", "article9",
	    "gateway", NULL };
	config_setting_t *g = config_setting_get_member(a, "lawful_basis");

	if (g == NULL || !config_setting_is_group(g)) {
		problem(L, g ? g : a, g ? NULL : "lawful_basis", "must be a "
		    "group { article6 = [ \"e\" ]; gateway = \"...\"; } "
		    "naming UK GDPR Article 6(1) conditions (and article9 "
		    "for special category data) and the legal gateway");
		return;
	}
	check_known(L, g, known);
	b->article6 = basis_letters(L, g, "article6", 'f', 1);
	b->article9 = basis_letters(L, g, "article9", 'j', 0);
	get_str(L, g, "gateway", 1, &b->gateway);
	if (b->gateway != NULL && strlen(b->gateway) < 8)
		problem(L, g, "gateway", "name the law that allows the "
		    "sharing (an Act and section, or a regulation)");
}

static void
load_agreement(struct loader *L, const char *path, struct sg_agreement *a,
    const struct sg_config *cfg)
{
	static const char *const root_known[] = { "agreement", NULL };
	static const char *const known[] = { "id", "title", "lawful_basis",
	    "parties", "start", "review", "end", "status", "suspended_until",
	    "on_end", "keep_until", "review_overdue", "flows",
	    "max_suspension_days", "suspension_expiry", NULL };
	static const char *const expiry_words[] = { "resume", "end", NULL };
	static const char *const end_words[] = { "delete", "keep", NULL };
	static const char *const review_words[] = { "warn", "suspend",
	    NULL };
	static const char *const status_words[] = { "active", "suspended",
	    "expired", NULL };
	static const char *const role_words[] = { "controller", "processor",
	    "joint-controller", NULL };
	static const char *const party_known[] = { "party", "role", NULL };
	config_t *c;
	config_setting_t *root, *g, *ps, *fl;
	int i, n, t;
	size_t j, k;

	if ((c = read_file(L, path, a->sha256)) == NULL)
		return;
	L->file = path;
	a->file = strdup(path);
	a->suspended_until = -1;
	root = config_root_setting(c);
	check_known(L, root, root_known);
	g = config_setting_get_member(root, "agreement");
	if (g == NULL || !config_setting_is_group(g)) {
		problem(L, g ? g : root, g ? NULL : "agreement",
		    "each agreement file holds one group agreement = { ... };");
		goto done;
	}
	check_known(L, g, known);
	get_str(L, g, "id", 1, &a->id);
	if (a->id != NULL && !valid_id(a->id, 0))
		problem(L, g, "id",
		    "agreement ids use a-z, 0-9, '-', '_' and '.'");
	get_str(L, g, "title", 1, &a->title);
	load_lawful_basis(L, g, &a->lawful_basis);
	get_date(L, g, "start", 1, &a->start);
	get_date(L, g, "review", 1, &a->review);
	get_date(L, g, "end", 1, &a->end);
	if (a->start >= 0 && a->end >= 0 && a->end < a->start)
		problem(L, g, "end", "ends before it starts");
	if (a->start >= 0 && a->review >= 0 && a->review < a->start)
		problem(L, g, "review", "review date is before the start");
	t = get_word(L, g, "status", 1, 0, status_words);
	a->status = t < 0 ? SG_AGR_SUSPENDED : (enum sg_agreement_status)t;
	get_date(L, g, "suspended_until", a->status == SG_AGR_SUSPENDED,
	    &a->suspended_until);
	if (a->status != SG_AGR_SUSPENDED &&
	    config_setting_get_member(g, "suspended_until"))
		problem(L, g, "suspended_until",
		    "only a suspended agreement has this date");
	/* a review date passed: a warning every day, or a suspension */
	a->review_suspends = get_word(L, g, "review_overdue", 0, 0,
	    review_words) == 1;
	/* a party's suspension: at most so many days (seed 002 s.10: "for
	 * 30 days"), then resumed, or ended */
	a->max_suspension_days = (unsigned)get_int_default(L, g,
	    "max_suspension_days", 1, 365, 30);
	a->suspension_ends = get_word(L, g, "suspension_expiry", 0, 0,
	    expiry_words) == 1;
	/* what happens to held data when the agreement ends: deleted then,
	 * or kept to a stated date; never kept for ever */
	a->keep_until = -1;
	if (get_word(L, g, "on_end", 0, 0, end_words) == 1) {
		get_date(L, g, "keep_until", 1, &a->keep_until);
		if (a->keep_until >= 0 && a->end >= 0 &&
		    a->keep_until < a->end)
			problem(L, g, "keep_until", "is before the end");
	} else if (config_setting_get_member(g, "keep_until"))
		problem(L, g, "keep_until",
		    "only with on_end = \"keep\" (the default deletes held "
		    "data when the agreement ends)");

	ps = config_setting_get_member(g, "parties");
	if (ps == NULL || config_setting_type(ps) != CONFIG_TYPE_LIST ||
	    config_setting_length(ps) < 2) {
		problem(L, ps ? ps : g, ps ? NULL : "parties", "must list at "
		    "least two parties ( { party = ...; role = ...; }, ... )");
	} else {
		n = config_setting_length(ps);
		a->parties = calloc((size_t)n, sizeof(*a->parties));
		for (i = 0; a->parties && i < n; i++) {
			config_setting_t *e = config_setting_get_elem(ps,
			    (unsigned)i);
			struct sg_agreement_party *p = &a->parties[a->nparties];

			if (!config_setting_is_group(e)) {
				problem(L, e, NULL, "must be a group");
				continue;
			}
			check_known(L, e, party_known);
			get_str(L, e, "party", 1, &p->party);
			if (get_word(L, e, "role", 1, 0, role_words) >= 0)
				get_str(L, e, "role", 1, &p->role);
			if (p->party != NULL &&
			    sg_config_party(cfg, p->party) == NULL)
				problem(L, e, "party", "\"%s\" is not a party "
				    "in the parties file", p->party);
			for (j = 0; p->party && j < a->nparties; j++)
				if (strcmp(a->parties[j].party, p->party) == 0)
					problem(L, e, "party", "\"%s\" is listed "
					    "twice", p->party);
			if (p->party == NULL || p->role == NULL) {
				free(p->party);
				free(p->role);
				memset(p, 0, sizeof(*p));
				continue;
			}
			a->nparties++;
		}
	}

	fl = config_setting_get_member(g, "flows");
	if (fl == NULL || config_setting_type(fl) != CONFIG_TYPE_LIST ||
	    config_setting_length(fl) == 0) {
		problem(L, fl ? fl : g, fl ? NULL : "flows",
		    "must list the agreement's flows ( { id = ...; }, ... )");
		goto done;
	}
	n = config_setting_length(fl);
	if ((a->flows = calloc((size_t)n, sizeof(*a->flows))) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(fl, (unsigned)i);
		struct sg_flow *f = &a->flows[a->nflows];

		if (!config_setting_is_group(e)) {
			problem(L, e, NULL, "must be a group");
			continue;
		}
		load_flow(L, e, f, cfg, a);
		for (j = 0; f->id && j < a->nflows; j++)
			if (strcmp(a->flows[j].id, f->id) == 0)
				problem(L, e, "id", "duplicate flow id \"%s\"",
				    f->id);
		if (f->id == NULL) {
			flow_free(f);
			memset(f, 0, sizeof(*f));
			continue;
		}
		a->nflows++;
	}
	/* special category columns need an Article 9 condition */
	for (j = 0; j < a->nflows; j++)
		for (k = 0; k < a->flows[j].manifest.ncolumns; k++)
			if (a->flows[j].manifest.columns[k].special_category &&
			    a->lawful_basis.article9 == 0)
				problem(L, g, "lawful_basis", "flow \"%s\" "
				    "column \"%s\" is special category data: "
				    "name an Article 9 condition (article9 = "
				    "[ \"g\" ], ...)", a->flows[j].id,
				    a->flows[j].manifest.columns[k].name);
done:
	close_file(c);
}

static int
conf_name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Sorted list of *.conf files in dir; -1 (reported) on error. */
static int
list_conf(struct loader *L, const char *dir, char ***out, size_t *nout)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL) {
		sg_diag_add(L->diag, "%s: cannot open agreements directory: %s",
		    dir, strerror(errno));
		L->errors++;
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if (asprintf(&v[n], "%s/%s", dir, de->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), conf_name_cmp);
	*out = v;
	*nout = n;
	return 0;
}

void
sg_config_free(struct sg_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nparties; i++)
		party_free(&cfg->parties[i]);
	free(cfg->parties);
	for (i = 0; i < cfg->nagreements; i++)
		agreement_free(&cfg->agreements[i]);
	free(cfg->agreements);
	daemon_free(&cfg->daemon);
	free(cfg->path);
	free(cfg);
}

struct sg_config *
sg_config_load(const char *path, struct sg_diag *diag)
{
	static const char *const known[] = { "parties", "agreements",
	    "la_codes", "report", "daemon", NULL };
	static const char *const report_known[] = { "max_errors", NULL };
	struct loader L = { diag, 0, path };
	struct sg_config *cfg;
	struct stat st;
	config_t *c = NULL;
	config_setting_t *root, *rep;
	char *parties = NULL, *agdir = NULL, *la = NULL, *p;
	char **files = NULL;
	size_t nfiles = 0, i, j;
	long long v;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		sg_diag_add(diag, "out of memory");
		return NULL;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t l = strlen(path);

		while (l > 1 && path[l - 1] == '/')
			l--;
		if (asprintf(&cfg->path, "%.*s/schoolgate.conf", (int)l,
		    path) < 0)
			cfg->path = NULL;
	} else
		cfg->path = strdup(path);
	if (cfg->path == NULL)
		goto fail;
	L.file = cfg->path;
	cfg->max_errors = 100;
	daemon_defaults(&cfg->daemon);
	if ((c = read_file(&L, cfg->path, cfg->conf_sha256)) == NULL)
		goto fail;
	root = config_root_setting(c);
	check_known(&L, root, known);
	get_str(&L, root, "parties", 1, &parties);
	get_str(&L, root, "agreements", 1, &agdir);
	get_str(&L, root, "la_codes", 0, &la);
	rep = config_setting_get_member(root, "report");
	if (rep != NULL) {
		check_known(&L, rep, report_known);
		if (get_int(&L, rep, "max_errors", 0, 1, 100000, &v) == 0 &&
		    config_setting_get_member(rep, "max_errors"))
			cfg->max_errors = (size_t)v;
	}
	if ((rep = config_setting_get_member(root, "daemon")) != NULL) {
		if (config_setting_is_group(rep))
			load_daemon(&L, rep, cfg);
		else
			problem(&L, rep, NULL, "must be a group { ... }");
	}
	if (cfg->daemon.state_dir != NULL && cfg->daemon.keys_dir == NULL &&
	    asprintf(&cfg->daemon.keys_dir, "%s/keys", cfg->daemon.state_dir)
	    < 0)
		cfg->daemon.keys_dir = NULL;
	if (la != NULL && (p = resolve(cfg->path, la)) != NULL) {
		load_lacodes(&L, p, &cfg->la, cfg->la_sha256);
		free(p);
	}
	if (parties != NULL && (p = resolve(cfg->path, parties)) != NULL) {
		load_parties(&L, p, cfg);
		free(p);
	}
	if (agdir != NULL && (p = resolve(cfg->path, agdir)) != NULL) {
		list_conf(&L, p, &files, &nfiles);
		free(p);
	}
	if (nfiles > 0 &&
	    (cfg->agreements = calloc(nfiles, sizeof(*cfg->agreements))) ==
	    NULL)
		goto fail;
	for (i = 0; i < nfiles; i++) {
		struct sg_agreement *a = &cfg->agreements[cfg->nagreements];

		load_agreement(&L, files[i], a, cfg);
		for (j = 0; a->id && j < cfg->nagreements; j++)
			if (cfg->agreements[j].id != NULL &&
			    strcmp(cfg->agreements[j].id, a->id) == 0) {
				sg_diag_add(diag, "%s: duplicate agreement id "
				    "\"%s\" (also in %s)", files[i], a->id,
				    cfg->agreements[j].file);
				L.errors++;
			}
		cfg->nagreements++;
	}
	if (agdir != NULL && nfiles == 0 && L.errors == 0) {
		sg_diag_add(diag, "%s: no agreement files (*.conf) in \"%s\"",
		    cfg->path, agdir);
		L.errors++;
	}
	if (L.errors > 0 || diag->oom)
		goto fail;
	strv_free(files, nfiles);
	free(parties);
	free(agdir);
	free(la);
	close_file(c);
	return cfg;
fail:
	strv_free(files, nfiles);
	free(parties);
	free(agdir);
	free(la);
	close_file(c);
	sg_config_free(cfg);
	if (L.errors == 0)
		sg_diag_add(diag, "%s: cannot load configuration", path);
	return NULL;
}

const struct sg_party *
sg_config_party(const struct sg_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->nparties; i++)
		if (strcmp(cfg->parties[i].id, id) == 0)
			return &cfg->parties[i];
	return NULL;
}

const struct sg_agreement *
sg_config_agreement(const struct sg_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->nagreements; i++)
		if (cfg->agreements[i].id != NULL &&
		    strcmp(cfg->agreements[i].id, id) == 0)
			return &cfg->agreements[i];
	return NULL;
}

const struct sg_flow *
sg_agreement_flow(const struct sg_agreement *a, const char *id)
{
	size_t i;

	for (i = 0; i < a->nflows; i++)
		if (strcmp(a->flows[i].id, id) == 0)
			return &a->flows[i];
	return NULL;
}

static int
word_in(const char *w, const char *const list[])
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

int
sg_withdraw_reason_ok(const char *r)
{
	static const char *const ok[] = { "sent-in-error", "wrong-recipient",
	    "inaccurate", "superseded", "other", NULL };

	return word_in(r, ok);
}

int
sg_suspend_reason_ok(const char *r)
{
	static const char *const ok[] = { "security-breach",
	    "agreement-breach", "inaccurate-data", "review", "other", NULL };

	return word_in(r, ok);
}

int
sg_resume_reason_ok(const char *r)
{
	static const char *const ok[] = { "resolved", "reviewed", "other",
	    NULL };

	return word_in(r, ok);
}

void
sg_lawful_basis_format(const struct sg_lawful_basis *b, char *buf,
    size_t cap)
{
	size_t off = 0;
	int i, first;

#define PUT(...) do { int w_ = snprintf(buf + off, cap > off ? cap - off : \
	0, __VA_ARGS__); if (w_ > 0) off += (size_t)w_; } while (0)
	buf[0] = '\0';
	for (i = 0, first = 1; i < 6; i++)
		if (b->article6 & (1u << i)) {
			PUT("%s6(1)(%c)", first ? "Art. " : ", ", 'a' + i);
			first = 0;
		}
	for (i = 0, first = 1; i < 10; i++)
		if (b->article9 & (1u << i)) {
			PUT("%s9(2)(%c)", first ? "; Art. " : ", ", 'a' + i);
			first = 0;
		}
	if (b->gateway != NULL)
		PUT("; %s", b->gateway);
#undef PUT
}

/* days since epoch of year y, month m (1-12), day 1 */
static int64_t
month_start(int64_t y, unsigned m)
{
	char s[11];
	int64_t d = -1;

	snprintf(s, sizeof(s), "%04u-%02u-01", (unsigned)(y % 10000), m % 100u);
	(void)sg_date_parse(s, 10, &d);
	return d;
}

int64_t
sg_period_start(enum sg_frequency f, int64_t day, int64_t *next)
{
	char s[11];
	int64_t y, from;
	unsigned m;

	sg_date_format(day, s);
	y = strtol(s, NULL, 10);
	m = (unsigned)strtol(s + 5, NULL, 10);
	switch (f) {
	case SG_FREQ_DAILY:
		*next = day + 1;
		return day;
	case SG_FREQ_WEEKLY:	/* Monday to Sunday; 1970-01-01 a Thursday */
		from = day - ((day + 3) % 7 + 7) % 7;
		*next = from + 7;
		return from;
	case SG_FREQ_MONTHLY:
		*next = m == 12 ? month_start(y + 1, 1) : month_start(y, m + 1);
		return month_start(y, m);
	case SG_FREQ_TERMLY:
		if (m >= 9) {
			*next = month_start(y + 1, 1);
			return month_start(y, 9);
		}
		if (m <= 3) {
			*next = month_start(y, 4);
			return month_start(y, 1);
		}
		*next = month_start(y, 9);
		return month_start(y, 4);
	case SG_FREQ_ANNUALLY:
		if (m >= 9) {
			*next = month_start(y + 1, 9);
			return month_start(y, 9);
		}
		*next = month_start(y, 9);
		return month_start(y - 1, 9);
	default:
		*next = -1;
		return -1;
	}
}

int
sg_config_set_sha256(const struct sg_config *cfg, char out[65])
{
	unsigned char md[32];
	char line[256];
	EVP_MD_CTX *ctx;
	size_t i;
	int n, ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < cfg->nagreements; i++) {
		n = snprintf(line, sizeof(line), "%s %s\n",
		    cfg->agreements[i].id, cfg->agreements[i].sha256);
		ok = n > 0 && (size_t)n < sizeof(line) &&
		    EVP_DigestUpdate(ctx, line, (size_t)n) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	sg_hex(md, sizeof(md), out);
	return 0;
}

enum sg_agreement_status
sg_agreement_status_on(const struct sg_agreement *a, int64_t today)
{
	if (a->status == SG_AGR_EXPIRED || today > a->end)
		return SG_AGR_EXPIRED;
	if (today < a->start)
		return SG_AGR_SUSPENDED;
	if (a->status == SG_AGR_SUSPENDED && today <= a->suspended_until)
		return SG_AGR_SUSPENDED;
	return SG_AGR_ACTIVE;
}

const char *
sg_agreement_status_name(enum sg_agreement_status s)
{
	switch (s) {
	case SG_AGR_ACTIVE:
		return "active";
	case SG_AGR_SUSPENDED:
		return "suspended";
	case SG_AGR_EXPIRED:
		return "expired";
	}
	return "?";
}

unsigned long
sg_party_laestab(const char *party)
{
	if (strncmp(party, "school:", 7) != 0 || strlen(party + 7) != 7 ||
	    strspn(party + 7, "0123456789") != 7)
		return 0;
	return strtoul(party + 7, NULL, 10);
}

int64_t
sg_today(void)
{
	return (int64_t)(time(NULL) / 86400);
}

void
sg_date_format(int64_t days, char buf[11])
{
	int64_t z = days + 719468, era, doe, yoe, y, doy, mp, d, m;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	snprintf(buf, 11, "%04u-%02u-%02u", (unsigned)(y % 10000) % 10000u,
	    (unsigned)m % 100u, (unsigned)d % 100u);
}

static int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int
sg_flow_has_sender(const struct sg_flow *f, const char *party)
{
	return strv_has(f->senders, f->nsenders, party);
}

int
sg_flow_has_recipient(const struct sg_flow *f, const char *party)
{
	return strv_has(f->recipients, f->nrecipients, party);
}

/* The ZIP passwords file: read only when it is private (chmod 600),
 * parsed with libconfig from memory, wiped after use. */
struct sg_secrets {
	struct sg_zip_secret {
		char	*party, *agreement, *flow, *password;
	}	*v;
	size_t	 n;
};

void
sg_secrets_free(struct sg_secrets *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].party);
		free(s->v[i].agreement);
		free(s->v[i].flow);
		sg_wipe_free(s->v[i].password);
	}
	free(s->v);
	free(s);
}

struct sg_secrets *
sg_secrets_load(const char *path, struct sg_diag *diag)
{
	static const char *const root_known[] = { "zip_passwords", NULL };
	static const char *const known[] = { "party", "agreement", "flow",
	    "password", NULL };
	struct loader L = { diag, 0, path };
	struct sg_secrets *s;
	config_setting_t *root, *list;
	char err[SG_ERR_MAX], *text;
	config_t c;
	int i, n;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (path == NULL)
		return s;
	if ((text = sg_secret_file_read(path, err)) == NULL) {
		sg_diag_add(diag, "%s", err);
		free(s);
		return NULL;
	}
	config_init(&c);
	if (config_read_string(&c, text) != CONFIG_TRUE) {
		sg_diag_add(diag, "%s:%d: %s", path, config_error_line(&c),
		    config_error_text(&c));
		L.errors++;
		goto out;
	}
	root = config_root_setting(&c);
	check_known(&L, root, root_known);
	list = config_setting_get_member(root, "zip_passwords");
	if (list != NULL && config_setting_type(list) != CONFIG_TYPE_LIST) {
		problem(&L, list, NULL, "must be a list of groups");
		goto out;
	}
	n = list ? config_setting_length(list) : 0;
	if (n > 0 && (s->v = calloc((size_t)n, sizeof(*s->v))) == NULL) {
		L.errors++;
		goto out;
	}
	for (i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct sg_zip_secret *z = &s->v[s->n++];

		if (!config_setting_is_group(g)) {
			problem(&L, g, NULL, "must be a group { ... }");
			continue;
		}
		check_known(&L, g, known);
		get_str(&L, g, "party", 1, &z->party);
		get_str(&L, g, "agreement", 1, &z->agreement);
		get_str(&L, g, "flow", 1, &z->flow);
		get_str(&L, g, "password", 1, &z->password);
	}
out:
	config_destroy(&c);
	sg_wipe_free(text);
	if (L.errors > 0) {
		sg_secrets_free(s);
		return NULL;
	}
	return s;
}

const char *
sg_secrets_zip(const struct sg_secrets *s, const char *party,
    const char *agreement, const char *flow)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (s->v[i].party && s->v[i].agreement && s->v[i].flow &&
		    strcmp(s->v[i].party, party) == 0 &&
		    strcmp(s->v[i].agreement, agreement) == 0 &&
		    strcmp(s->v[i].flow, flow) == 0)
			return s->v[i].password;
	return NULL;
}
