/*
 * schoolgated: the gateway daemon.
 *
 *   schoolgated -c FILE     run in the foreground (systemd Type=notify)
 *   schoolgated -c FILE -t  check the configuration and exit 0 or 1
 *
 * One libuv loop thread owns the sockets; pipeline threads run uploads.
 * SIGTERM drains (no new connections, in-flight uploads finish within
 * daemon.limits.drain_seconds), writes a final log checkpoint and exits
 * 0. SIGHUP reloads the configuration; a configuration that does not
 * load is refused and the running one kept.
 */
#include "gw.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "control.h"
#include "front/https.h"
#include "front/ssh.h"
#include "base/codec.h"
#include "base/sandbox.h"
#include "seal/keys.h"
#include "base/version.h"

struct daemon {
	struct gw	 g;
	struct https_front	*https;
	struct sshf	*sftp;		/* NULL when not configured */
	struct gw_ctl	*ctl;		/* schoolgate status */
	uv_signal_t	 sigterm, sigint, sighup;
	uv_timer_t	 status, watchdog, drain;
	int64_t		 drain_deadline;
	int		 exit_code;
};

static void
usage(void)
{
	fprintf(stderr, "usage: schoolgated -c FILE [-t]\n"
	    "       schoolgated -V\n");
	exit(2);
}

static void
vnote(void *arg, const char *msg)
{
	const char *f[] = { "SCHOOLGATE_REASON=recovery", NULL };

	(void)arg;
	gw_journal(EV_RECOVERY, LOG_WARNING, msg, f);
}

/* An object that failed its check when the store was opened. */
static void
vquarantined(void *arg, const char *object, const char *what)
{
	char a[96];
	const char *f[] = { a, "SCHOOLGATE_REASON=quarantine", NULL };

	(void)arg;
	snprintf(a, sizeof(a), "SCHOOLGATE_TRANSFER=%s", object);
	gw_journalf(EV_QUARANTINED, LOG_ERR, f, "stored object %s moved to "
	    "quarantine: %s", object, what);
}

static void
print_diag(const struct sg_diag *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		fprintf(stderr, "schoolgated: %s\n", d->msgs[i]);
}

/* The blind index's key. A state made before the index had none: the
 * first start makes it (0600, the daemon's own), and says so. */
static int
load_index_key(const char *dir, struct sg_blind_key *k, char err[SG_ERR_MAX])
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/index.key", dir);
	if (lstat(path, &st) != 0 && errno == ENOENT) {
		if (sg_blind_key_new(path, err) != 0)
			return sg_errf(err, "%s: there is no index key and none "
			    "could be made (schoolgate keygen makes one): %s",
			    path, err);
		gw_journalf(EV_STARTED, LOG_NOTICE, NULL, "%s: a new blind index "
		    "key was made (this state had none)", path);
	}
	return sg_blind_key_load(path, k, err);
}

/* Retired index keys, index-<id>.key (schoolgate keygen --rotate-index):
 * the files indexed under them stay searchable. */
static int
load_old_index_keys(struct gw *g, const char *dir, char err[SG_ERR_MAX])
{
	struct dirent *e;
	DIR *d;
	char path[4096];
	struct sg_blind_key k, *nv;

	if ((d = opendir(dir)) == NULL)
		return sg_errf(err, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) != 6 + 16 + 4 ||
		    strncmp(e->d_name, "index-", 6) != 0 ||
		    strcmp(e->d_name + 22, ".key") != 0 ||
		    strspn(e->d_name + 6, "0123456789abcdef") != 16)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (sg_blind_key_load(path, &k, err) != 0)
			goto bad;
		if (strncmp(k.id, e->d_name + 6, 16) != 0 ||
		    strcmp(k.id, g->index_key.id) == 0) {
			sg_errf(err, "%s: its name does not match the key it "
			    "holds (id %s)", path, k.id);
			sg_blind_key_wipe(&k);
			goto bad;
		}
		if ((nv = realloc(g->old_index_keys, (g->nold_index_keys + 1) *
		    sizeof(*nv))) == NULL) {
			sg_blind_key_wipe(&k);
			sg_errf(err, "out of memory");
			goto bad;
		}
		g->old_index_keys = nv;
		g->old_index_keys[g->nold_index_keys++] = k;
		sg_blind_key_wipe(&k);
	}
	closedir(d);
	return 0;
bad:
	closedir(d);
	return -1;
}

/* Everything -t checks: the configuration, the daemon settings, the
 * TLS certificate and key, the gateway's keys. */
static int
check_daemon_conf(const struct sg_config *cfg, char err[SG_ERR_MAX])
{
	const struct sg_daemon_conf *d = &cfg->daemon;
	char path[4096], *cert, *key;
	struct sg_age_identity *ids = NULL;
	struct sg_note_key k;
	long n;

	if (d->state_dir == NULL)
		return sg_errf(err, "%s: daemon.state_dir is not set",
		    cfg->path);
	if (gw_tls_pems(d, &cert, &key, err) != 0)
		return -1;
	sg_wipe_free(cert);
	sg_wipe_free(key);
	snprintf(path, sizeof(path), "%s/storage.key", d->keys_dir);
	if ((n = sg_identities_load(path, &ids, err)) < 0)
		return -1;
	sg_identities_free(ids, (size_t)n);
	if (n == 0)
		return sg_errf(err, "%s: no identity", path);
	snprintf(path, sizeof(path), "%s/log-signing.key", d->keys_dir);
	if (sg_signer_load(path, &k, err) != 0)
		return -1;
	OPENSSL_cleanse(&k, sizeof(k));
	if (d->sftp_listen != NULL) {
		const char *hk[] = { SG_HOSTKEY_ED25519, SG_HOSTKEY_RSA };
		struct stat st;
		size_t i;

		for (i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/%s", d->keys_dir,
			    hk[i]);
			if (stat(path, &st) != 0)
				return sg_errf(err, "%s: the SSH host key is "
				    "missing (schoolgate keygen --out %s "
				    "creates it)", path, d->keys_dir);
			if (st.st_mode & 077)
				return sg_errf(err, "%s: must not be readable "
				    "by others (chmod 600)", path);
		}
	}
	return 0;
}

static void
update_status(struct daemon *dm)
{
	struct gw *g = &dm->g;

	sd_notifyf(0, "STATUS=%s%u connection(s) (%u SFTP), %u upload(s) in "
	    "flight; "
	    "%llu accepted, %llu rejected, %llu failed, %llu download(s), "
	    "%u banned address(es)", g->draining ? "draining: " : "",
	    g->count.connections, dm->sftp ? gw_ssh_sessions(dm->sftp) : 0,
	    g->count.in_flight,
	    (unsigned long long)g->count.accepted,
	    (unsigned long long)g->count.rejected,
	    (unsigned long long)g->count.failed,
	    (unsigned long long)g->count.downloads,
	    sg_bans_active(g->bans, gw_now_us() / 1000000) +
	    sg_bans_active(g->pair_bans, gw_now_us() / 1000000));
}

static void
utc(int64_t s, char out[32])
{
	time_t t = (time_t)s;
	struct tm tm;

	if (s <= 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, 32, "-");
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What `schoolgate status` prints (json: one JSON object instead). */
static char *
status_text(struct daemon *dm, int json)
{
	struct gw *g = &dm->g;
	struct sg_log_info li;
	char started[32], cpt[32], root[48], *out = NULL;
	int64_t now = gw_now_us() / 1000000, up = now - g->started / 1000000;
	unsigned sftp = dm->sftp ? gw_ssh_sessions(dm->sftp) : 0;
	unsigned https = g->count.connections - sftp;
	/* whole addresses, and parties from an address */
	unsigned bans = sg_bans_active(g->bans, now) +
	    sg_bans_active(g->pair_bans, now);
	size_t held = 0, rejected = 0, deleted = 0, i, alen = 0;
	char *agr = NULL, date[11];
	FILE *af;
	int n;

	/* each agreement's state; those that need someone, in the text */
	if ((af = open_memstream(&agr, &alen)) == NULL)
		return NULL;
	for (i = 0; i < g->conf->cfg->nagreements; i++) {
		const struct sg_agreement *a = &g->conf->cfg->agreements[i];
		struct gw_agr_info in;
		const char *st;

		gw_agreement_info(g, a, &in);
		st = in.state;
		sg_date_format(a->review, date);
		if (json) {
			fprintf(af, "%s{\"id\":\"%s\",\"state\":\"%s\","
			    "\"review\":\"%s\"", i ? "," : "", a->id, st,
			    date);
			if (in.until != 0)
				fprintf(af, ",\"suspended_by\":\"%s\","
				    "\"reason\":\"%s\",\"until\":%lld",
				    in.by, in.reason, (long long)(in.until /
				    1000000));
			fputc('}', af);
		} else if (in.until != 0)
			fprintf(af, "  %s: %s: %s\n", a->id, st, in.why);
		else if (strcmp(st, "active") != 0)
			fprintf(af, "  %s: %s%s%s\n", a->id, st,
			    strcmp(st, "review-overdue") == 0 ? " since " : "",
			    strcmp(st, "review-overdue") == 0 ? date : "");
	}
	if (fclose(af) != 0)
		return NULL;

	for (i = 0; i < g->nxfers; i++) {
		if (g->xfers[i]->state == GW_ACCEPTED)
			held++;
		else if (g->xfers[i]->state == GW_REJECTED)
			rejected++;
		else
			deleted++;
	}
	sg_vault_log_info(g->vault, &li);
	utc(g->started / 1000000, started);
	utc(li.cp_time, cpt);
	if (li.cp_size > 0)
		sg_b64_encode(li.cp_root, 32, root, 1);
	else
		snprintf(root, sizeof(root), "-");
	if (json)
		n = asprintf(&out, "{\"version\":\"%s\",\"pid\":%ld,"
		    "\"state\":\"%s\",\"started\":\"%s\","
		    "\"uptime_seconds\":%lld,"
		    "\"https\":{\"port\":%d,\"connections\":%u},"
		    "\"sftp\":{\"port\":%d,\"sessions\":%u},"
		    "\"unauthenticated\":%u,\"uploads_in_flight\":%u,"
		    "\"since_start\":{\"accepted\":%llu,\"rejected\":%llu,"
		    "\"failed\":%llu,\"downloads\":%llu,\"deleted\":%llu},"
		    "\"transfers\":{\"held\":%zu,\"rejected\":%zu,"
		    "\"deleted\":%zu},\"banned_addresses\":%u,"
		    "\"log\":{\"records\":%llu,\"bytes\":%llu,"
		    "\"segments\":%llu},\"checkpoint\":{\"size\":%llu,"
		    "\"time\":\"%s\",\"root\":\"%s\"},\"agreements\":[%s]}\n",
		    SG_VERSION, (long)getpid(),
		    g->draining ? "draining" : "running", started,
		    (long long)up, gw_https_port(dm->https), https,
		    dm->sftp ? gw_ssh_port(dm->sftp) : 0, sftp,
		    g->count.unauthenticated, g->count.in_flight,
		    (unsigned long long)g->count.accepted,
		    (unsigned long long)g->count.rejected,
		    (unsigned long long)g->count.failed,
		    (unsigned long long)g->count.downloads,
		    (unsigned long long)g->count.deleted, held, rejected, deleted,
		    bans,
		    (unsigned long long)li.records,
		    (unsigned long long)li.bytes,
		    (unsigned long long)li.segments,
		    (unsigned long long)li.cp_size, cpt, root, agr);
	else
		n = asprintf(&out,
		    "schoolgated %s, pid %ld: %s\n"
		    "started:            %s (up %lldd %02lld:%02lld:%02lld)\n"
		    "HTTPS:              port %d, %u connection(s)\n"
		    "SFTP:               %s%d, %u session(s)\n"
		    "not signed in yet:  %u connection(s)\n"
		    "uploads in flight:  %u\n"
		    "since start:        %llu accepted, %llu rejected, "
		    "%llu failed, %llu download(s), %llu deleted\n"
		    "transfers in log:   %zu held, %zu rejected, %zu deleted\n"
		    "active bans:        %u\n"
		    "transfer log:       %llu record(s), %llu byte(s) in "
		    "%llu segment(s)\n"
		    "last checkpoint:    size %llu at %s, root %s\n"
		    "agreements:         %zu configured\n%s",
		    SG_VERSION, (long)getpid(),
		    g->draining ? "draining" : "running", started,
		    (long long)(up / 86400), (long long)(up / 3600 % 24),
		    (long long)(up / 60 % 60), (long long)(up % 60),
		    gw_https_port(dm->https), https,
		    dm->sftp ? "port " : "off, port ",
		    dm->sftp ? gw_ssh_port(dm->sftp) : 0, sftp,
		    g->count.unauthenticated, g->count.in_flight,
		    (unsigned long long)g->count.accepted,
		    (unsigned long long)g->count.rejected,
		    (unsigned long long)g->count.failed,
		    (unsigned long long)g->count.downloads,
		    (unsigned long long)g->count.deleted, held, rejected, deleted,
		    bans,
		    (unsigned long long)li.records,
		    (unsigned long long)li.bytes,
		    (unsigned long long)li.segments,
		    (unsigned long long)li.cp_size, cpt, root,
		    g->conf->cfg->nagreements, agr);
	free(agr);
	return n < 0 ? NULL : out;
}

/* "suspend ID DAYS REASON" or "resume ID REASON", from an operator:
 * the access authority decides as for a party, then the record. */
static char *
control_agreement(struct gw *g, const char *req)
{
	char id[129], reason[33], *out = NULL;
	int resume = req[0] == 'r', n = 0;
	unsigned days = 0;
	enum gw_acc acc;
	const char *why;

	if ((resume ? sscanf(req, "resume %128s %32s%n", id, reason, &n) !=
	    2 : sscanf(req, "suspend %128s %u %32s%n", id, &days, reason,
	    &n) != 3) || req[n] != '\0')
		return strdup(resume ? "error: usage: resume ID REASON\n" :
		    "error: usage: suspend ID DAYS REASON\n");
	if (resume ? !sg_resume_reason_ok(reason) :
	    !sg_suspend_reason_ok(reason))
		return strdup(resume ? "error: the reason is one of: "
		    SG_RESUME_REASONS "\n" : "error: the reason is one of: "
		    SG_SUSPEND_REASONS "\n");
	if ((acc = gw_access_agreement(g, NULL, id, resume, days, &why)) !=
	    GW_ACC_OK) {
		if (asprintf(&out, "error: %s\n", why) < 0)
			return NULL;
		return out;
	}
	if ((resume ? gw_agreement_resume(g, id, "operator", reason, NULL,
	    NULL) : gw_agreement_suspend(g, id, "operator", reason, days,
	    NULL, NULL)) != 0)
		return strdup("error: the transfer log could not take the "
		    "record; try again\n");
	if (resume)
		n = asprintf(&out, "agreement %s: resumed (%s); the journal "
		    "says when it is recorded\n", id, reason);
	else
		n = asprintf(&out, "agreement %s: suspended for %u day%s (%s); "
		    "the journal says when it is recorded\n", id, days,
		    days == 1 ? "" : "s", reason);
	return n < 0 ? NULL : out;
}

static void
dpo_answer(void *arg, char *text)
{
	gw_ctl_answer(arg, text);
}

/* "dsar KIND ID [json]" and "breach FROM TO [party P] [agreement A]
 * [json]" (FROM and TO in seconds since the epoch: schoolgate(1) reads
 * the dates people type). */
static char *
control_dpo(struct gw *g, const char *req, struct gw_ctl_req *later)
{
	char w[6][130], *out;
	int n = 0, nw = 0, json = 0, i;
	const char *p = req;

	while (nw < 6 && sscanf(p, "%129s%n", w[nw], &n) == 1) {
		if (strlen(w[nw]) >= 129)
			return strdup("error: a word is too long\n");
		p += n;
		nw++;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return strdup("error: too many words\n");
	if (nw > 0 && strcmp(w[nw - 1], "json") == 0) {
		json = 1;
		nw--;
	}
	if (strcmp(w[0], "dsar") == 0) {
		if (nw != 3)
			return strdup("error: usage: dsar upn|trn|uln ID "
			    "[json]\n");
		out = gw_dsar(g, w[1], w[2], json, dpo_answer, later);
		OPENSSL_cleanse(w, sizeof(w));
		return out == GW_DPO_LATER ? GW_CTL_LATER : out != NULL ? out :
		    strdup("error: out of memory; nothing was searched\n");
	}
	{
		const char *party = NULL, *agr = NULL;
		char *e1, *e2;
		long long from, to;

		if (nw < 3 || nw % 2 == 0)
			goto usage;
		from = strtoll(w[1], &e1, 10);
		to = strtoll(w[2], &e2, 10);
		if (*e1 != '\0' || *e2 != '\0' || from < 0 || to < from ||
		    to > (INT64_MAX - 999999) / 1000000)
			goto usage;
		for (i = 3; i + 1 < nw + 1 && i < nw; i += 2) {
			if (strcmp(w[i], "party") == 0)
				party = w[i + 1];
			else if (strcmp(w[i], "agreement") == 0)
				agr = w[i + 1];
			else
				goto usage;
		}
		out = gw_breach(g, (int64_t)from * 1000000,
		    (int64_t)to * 1000000 + 999999, party, agr, json,
		    dpo_answer, later);
		return out == GW_DPO_LATER ? GW_CTL_LATER : out != NULL ? out :
		    strdup("error: out of memory\n");
	}
usage:
	OPENSSL_cleanse(w, sizeof(w));
	return strdup("error: usage: breach FROM TO [party P] [agreement A] "
	    "[json] (seconds since the epoch)\n");
}

static char *
on_control(void *arg, const char *req, struct gw_ctl_req *later)
{
	if (strncmp(req, "dsar ", 5) == 0 || strncmp(req, "breach ", 7) == 0)
		return control_dpo(arg, req, later);
	if (strcmp(req, "status") == 0)
		return status_text(arg, 0);
	if (strcmp(req, "status json") == 0)
		return status_text(arg, 1);
	if (strncmp(req, "delete ", 7) == 0) {
		struct gw *g = arg;
		char id[SG_ID_MAX], reason[33], *out = NULL;
		const char *sp = strchr(req + 7, ' '), *why;
		struct gw_xfer *x;

		/* exactly "delete ID REASON" */
		if (sp == NULL || (size_t)(sp - (req + 7)) >= sizeof(id) ||
		    strlen(sp + 1) >= sizeof(reason))
			return strdup("error: usage: delete ID REASON\n");
		snprintf(id, sizeof(id), "%.*s", (int)(sp - (req + 7)),
		    req + 7);
		snprintf(reason, sizeof(reason), "%s", sp + 1);
		if (!sg_withdraw_reason_ok(reason))
			return strdup("error: the reason is one of: "
			    SG_WITHDRAW_REASONS "\n");
		x = sg_transfer_id_ok(id) ? gw_xfer_find(g, id) : NULL;
		if (gw_access_withdraw(g, x, NULL, &why) != GW_ACC_OK) {
			if (asprintf(&out, "error: %s\n", why) < 0)
				return NULL;
			return out;
		}
		if (gw_xfer_withdraw(g, x, "operator", reason, NULL, NULL) != 0)
			return strdup("error: out of resources; try again\n");
		if (asprintf(&out, "transfer %s: being deleted (operator-delete, "
		    "%s); the journal says when it is done\n", id, reason) < 0)
			return NULL;
		return out;
	}
	if (strncmp(req, "suspend ", 8) == 0 ||
	    strncmp(req, "resume ", 7) == 0)
		return control_agreement(arg, req);
	if (strncmp(req, "unban ", 6) == 0) {
		char canon[INET6_ADDRSTRLEN], *out = NULL;
		unsigned n;

		/* written as the daemon writes peers */
		if (gw_addr_name(req + 6, canon, sizeof(canon)) != 0)
			return strdup("error: not an IPv4 or IPv6 address\n");
		n = gw_signin_unban(arg, canon);
		if (asprintf(&out, "%s: %u active ban%s lifted\n", canon, n,
		    n == 1 ? "" : "s") < 0)
			return NULL;
		return out;
	}
	return NULL;
}

static void
on_status(uv_timer_t *t)
{
	update_status(t->data);
}

static void
on_watchdog(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

static void
finish(struct daemon *dm)
{
	struct gw *g = &dm->g;
	char err[SG_ERR_MAX];

	gw_ctl_close(dm->ctl);
	dm->ctl = NULL;
	gw_https_close_all(dm->https);
	if (dm->sftp)
		gw_ssh_close_all(dm->sftp);
	gw_pool_stop(g);
	if (sg_vault_close(g->vault, err) != 0) {
		const char *f[] = { "SCHOOLGATE_REASON=final-checkpoint", NULL };

		gw_journalf(EV_LOG_FAILED, LOG_CRIT, f, "the final checkpoint "
		    "could not be written: %s", err);
		dm->exit_code = 1;
	}
	g->vault = NULL;
	uv_close((uv_handle_t *)&g->mbox_async, NULL);
	uv_close((uv_handle_t *)&g->stall_timer, NULL);
	uv_close((uv_handle_t *)&g->retention_timer, NULL);
	uv_close((uv_handle_t *)&dm->status, NULL);
	uv_close((uv_handle_t *)&dm->watchdog, NULL);
	uv_close((uv_handle_t *)&dm->drain, NULL);
	uv_close((uv_handle_t *)&dm->sigterm, NULL);
	uv_close((uv_handle_t *)&dm->sigint, NULL);
	uv_close((uv_handle_t *)&dm->sighup, NULL);
}

static void
on_drain(uv_timer_t *t)
{
	struct daemon *dm = t->data;
	struct gw *g = &dm->g;

	update_status(dm);
	/* records and deletions on the pool use the vault: it is closed
	 * (the final checkpoint) only once they are done, deadline or not */
	if (g->count.vault_work == 0 && ((g->count.in_flight == 0 &&
	    gw_https_active(dm->https) == 0 &&
	    (dm->sftp == NULL || gw_ssh_active(dm->sftp) == 0)) ||
	    gw_now_us() >= dm->drain_deadline)) {
		uv_timer_stop(t);
		finish(dm);
	}
}

static void
on_term(uv_signal_t *s, int sig)
{
	struct daemon *dm = s->data;
	struct gw *g = &dm->g;
	const char *f[] = { NULL, NULL };
	char a[64];

	if (g->draining)
		return;
	g->draining = 1;
	sd_notify(0, "STOPPING=1");
	snprintf(a, sizeof(a), "SCHOOLGATE_IN_FLIGHT=%u", g->count.in_flight);
	f[0] = a;
	gw_journalf(EV_STOPPING, LOG_NOTICE, f, "stopping on %s: no new "
	    "connections; %u upload(s) in flight may finish",
	    strsignal(sig), g->count.in_flight);
	gw_https_drain(dm->https);
	if (dm->sftp)
		gw_ssh_drain(dm->sftp);
	dm->drain_deadline = gw_now_us() +
	    (int64_t)g->conf->cfg->daemon.drain_seconds * 1000000;
	uv_timer_start(&dm->drain, on_drain, 0, 50);
}

static int
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* The settings a reload cannot change (read once, at start: where state
 * and keys are, the sockets, the workers, the sandbox), named in out
 * ("daemon.sandbox, daemon.workers") where the new configuration differs
 * from the running one; their count. */
static int
start_only_changes(const struct sg_daemon_conf *was,
    const struct sg_daemon_conf *now, char *out, size_t cap)
{
	const struct {
		const char	*name;
		int		 differs;
	} t[] = {
		{ "daemon.state_dir", str_differs(was->state_dir,
		    now->state_dir) },
		{ "daemon.keys_dir", str_differs(was->keys_dir,
		    now->keys_dir) },
		{ "daemon.control", str_differs(was->control, now->control) },
		{ "daemon.https.listen", str_differs(was->https_listen,
		    now->https_listen) },
		{ "daemon.sftp.listen", str_differs(was->sftp_listen,
		    now->sftp_listen) },
		{ "daemon.workers", was->workers != now->workers },
		{ "daemon.sandbox", was->sandbox_off != now->sandbox_off },
	};
	size_t i, len = 0;
	int n = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i].differs)
			continue;
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0,
		    "%s%s", n ? ", " : "", t[i].name);
		if (len >= cap)
			len = cap - 1;
		n++;
	}
	return n;
}

static void
on_hup(uv_signal_t *s, int sig)
{
	struct daemon *dm = s->data;
	struct gw *g = &dm->g;
	struct sg_diag diag;
	struct gw_conf *nc;
	char err[SG_ERR_MAX], changed[200];
	const struct sg_daemon_conf *d;
	int nstart;

	(void)sig;
	sd_notify(0, "RELOADING=1");
	sg_diag_init(&diag);
	nc = gw_conf_load(g->config_path, &diag);
	if (nc != NULL && check_daemon_conf(nc->cfg, err) != 0) {
		sg_diag_add(&diag, "%s", err);
		gw_conf_unref(nc);
		nc = NULL;
	}
	if (nc == NULL) {
		const char *f[] = { "SCHOOLGATE_REASON=config", NULL };

		gw_journalf(EV_RELOAD_FAILED, LOG_ERR, f, "the new "
		    "configuration was refused (%zu problem(s); first: %s); "
		    "the running one is kept", diag.count, diag.count ? diag.msgs[0] :
		    "unknown");
		sg_diag_free(&diag);
		sd_notify(0, "READY=1");
		return;
	}
	sg_diag_free(&diag);
	nstart = start_only_changes(&g->conf->cfg->daemon, &nc->cfg->daemon,
	    changed, sizeof(changed));
	gw_conf_unref(g->conf);
	g->conf = nc;
	gw_signin_forget(g);	/* successes were against the old hashes */
	d = &nc->cfg->daemon;
	sg_bans_configure(g->pair_bans, d->ban_failures, d->ban_seconds,
	    d->ban_max_seconds);
	sg_bans_configure(g->bans, d->ban_address_failures, d->ban_seconds,
	    d->ban_max_seconds);
	sg_bans_configure(g->party_bans, d->ban_party_failures,
	    d->ban_seconds, d->ban_max_seconds);
	if (gw_https_reload(dm->https, err) != 0) {
		const char *f[] = { "SCHOOLGATE_REASON=tls", NULL };

		gw_journalf(EV_RELOAD_FAILED, LOG_ERR, f, "the TLS settings "
		    "were not reloaded: %s", err);
	}
	if (dm->sftp)
		gw_ssh_reload(dm->sftp);
	{
		char a[64], b[64], c[240];
		const char *f[] = { a, b, nstart ? c : NULL, NULL };

		snprintf(a, sizeof(a), "SCHOOLGATE_PARTIES=%zu",
		    nc->cfg->nparties);
		snprintf(b, sizeof(b), "SCHOOLGATE_AGREEMENTS=%zu",
		    nc->cfg->nagreements);
		snprintf(c, sizeof(c), "SCHOOLGATE_RESTART_NEEDED=%s",
		    changed);
		gw_journalf(EV_RELOADED, nstart ? LOG_WARNING : LOG_NOTICE, f,
		    "configuration reloaded: %zu parties, %zu agreements%s%s%s",
		    nc->cfg->nparties, nc->cfg->nagreements,
		    nstart ? "; changed but read only at start, so in force "
		    "at the next restart and not before: " : "",
		    changed, nstart ? " (the running values stay)" : "");
		if (gw_log_config(g, "reload") != 0)
			gw_journalf(EV_LOG_FAILED, LOG_CRIT, NULL, "the "
			    "configuration could not be recorded in the "
			    "transfer log");
		gw_agreements_check(g, "configuration", 1);
	}
	sd_notify(0, "READY=1");
}

/* Sockets passed by systemd: named "https" and "sftp" (a single
 * unnamed one is HTTPS). */
static void
listen_fds(int *https, int *sftp)
{
	char **names = NULL;
	int n, i;

	*https = *sftp = -1;
	n = sd_listen_fds_with_names(1, &names);
	for (i = 0; i < n; i++) {
		const char *nm = names ? names[i] : "";

		if (strcmp(nm, "sftp") == 0)
			*sftp = SD_LISTEN_FDS_START + i;
		else if (*https < 0 && (n == 1 || strcmp(nm, "https") == 0))
			*https = SD_LISTEN_FDS_START + i;
		if (names)
			free(names[i]);
	}
	free(names);
}

/* The intake processes: the sandbox the kernel can give them, the
 * identity they open age uploads with, and their maker. */
static int
start_intake(struct gw *g, const struct sg_daemon_conf *d,
    char err[SG_ERR_MAX])
{
	char path[4096], why[256];
	int abi, sc, legacy = 0;
	long n;

	if (!d->sandbox_off && sg_sandbox_probe(&abi, &sc, why,
	    sizeof(why)) != 0)
		return sg_errf(err, "the intake processes cannot be sandboxed: "
		    "%s. Set daemon.sandbox = \"off\" to run them without (the "
		    "journal then says so at every start)", why);
	snprintf(path, sizeof(path), "%s/intake.key", d->keys_dir);
	if (access(path, F_OK) == 0) {
		if ((n = sg_identities_load(path, &g->intake_ids, err)) <= 0)
			return -1;
		g->nintake_ids = (size_t)n;
	} else
		legacy = 1;
	if ((g->intake = gw_intake_start(!d->sandbox_off, legacy ? g->ids :
	    g->intake_ids, legacy ? g->nids : g->nintake_ids, err)) == NULL)
		return -1;
	if (d->sandbox_off) {
		const char *f[] = { "SCHOOLGATE_REASON=sandbox-off", NULL };

		gw_journalf(EV_SANDBOX, LOG_WARNING, f, "daemon.sandbox = "
		    "\"off\": the intake processes and the SSH front door run "
		    "without Landlock and seccomp; a flaw in the ZIP, age or "
		    "CSV parsers or in the SSH transport could reach the rest "
		    "of this machine");
	}
	if (legacy) {
		const char *f[] = { "SCHOOLGATE_REASON=intake-key-missing",
		    NULL };

		gw_journalf(EV_SANDBOX, LOG_WARNING, f, "%s/intake.key is "
		    "missing: age uploads are opened with the storage identity, "
		    "which the intake processes then hold. Run schoolgate "
		    "keygen --intake --out %s, give senders intake.pub and "
		    "restart", d->keys_dir, d->keys_dir);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct daemon dm;
	struct gw *g = &dm.g;
	struct sg_diag diag;
	const char *cpath = NULL;
	char err[SG_ERR_MAX], path[4096];
	int opt, test = 0, hfd, sfd;
	long n;
	uint64_t wd;

	/* the intake process maker (pipeline/intake_proc.c), started by a
	 * running schoolgated from its own executable */
	if (argc == 3 && strcmp(argv[1], "--intake") == 0)
		_exit(gw_intake_maker_main(strcmp(argv[2], "off") != 0));
	/* the SSH front door (front/ssh.c), likewise */
	if (argc == 4 && strcmp(argv[1], "--front-ssh") == 0)
		_exit(gw_ssh_front_main(strcmp(argv[2], "off") != 0,
		    (unsigned)strtoul(argv[3], NULL, 10)));
	/* the TLS front door (front/tls_front.c), likewise */
	if (argc == 4 && strcmp(argv[1], "--front-tls") == 0)
		_exit(gw_tls_front_main(strcmp(argv[2], "off") != 0,
		    (unsigned)strtoul(argv[3], NULL, 10)));
	while ((opt = getopt(argc, argv, "c:tV")) != -1) {
		switch (opt) {
		case 'V':
			printf("schoolgated %s\n", SG_VERSION);
			return 0;
		case 'c':
			cpath = optarg;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (cpath == NULL || optind != argc)
		usage();
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* the core holds every key: no core file, no ptrace by its user */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sg_diag_init(&diag);
	if ((g->conf = gw_conf_load(cpath, &diag)) == NULL) {
		print_diag(&diag);
		fprintf(stderr, "schoolgated: %s: configuration refused\n",
		    cpath);
		return 1;
	}
	sg_diag_free(&diag);
	if (check_daemon_conf(g->conf->cfg, err) != 0) {
		fprintf(stderr, "schoolgated: %s\n", err);
		return 1;
	}
	if (test) {
		printf("schoolgated: %s: configuration OK (%zu parties, %zu "
		    "agreements)\n", g->conf->cfg->path,
		    g->conf->cfg->nparties, g->conf->cfg->nagreements);
		gw_conf_unref(g->conf);
		return 0;
	}
	g->config_path = cpath;
	{
		const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
		static char sdir[4096], ldir[4096], idir[4096];
		int state;

		snprintf(path, sizeof(path), "%s/storage.key", d->keys_dir);
		if ((n = sg_identities_load(path, &g->ids, err)) <= 0)
			goto fatal;
		g->nids = (size_t)n;
		snprintf(path, sizeof(path), "%s/log-signing.key", d->keys_dir);
		if (sg_signer_load(path, &g->signer, err) != 0)
			goto fatal;
		if (load_index_key(d->keys_dir, &g->index_key, err) != 0 ||
		    load_old_index_keys(g, d->keys_dir, err) != 0)
			goto fatal;
		if (start_intake(g, d, err) != 0)
			goto fatal;
		if ((state = sg_open_dir(AT_FDCWD, d->state_dir, 1, 0700,
		    err)) < 0)
			goto fatal;
		if ((g->meta_dir = sg_open_dir(state, "meta", 1, 0700, err)) <
		    0)
			goto fatal;
		close(state);
		snprintf(sdir, sizeof(sdir), "%s/store", d->state_dir);
		snprintf(ldir, sizeof(ldir), "%s/log", d->state_dir);
		g->vopts.store_dir = sdir;
		g->vopts.log_dir = ldir;
		snprintf(idir, sizeof(idir), "%s/index", d->state_dir);
		g->vopts.index_dir = idir;
		g->vopts.index_key = &g->index_key;
		g->vopts.signer = &g->signer;
		g->vopts.ids = g->ids;
		g->vopts.nids = g->nids;
		g->vopts.create = 1;
		g->vopts.checkpoint_every = d->checkpoint_records;
		g->vopts.note = vnote;
		g->vopts.quarantined = vquarantined;
		if (sg_vault_open(&g->vopts, &g->vault, err) != 0)
			goto fatal;
		if (gw_xfers_load(g, err) != 0 ||
		    gw_finish_unreleased(g, err) != 0)
			goto fatal;
		if ((g->pair_bans = sg_bans_new(d->ban_failures,
		    d->ban_seconds, d->ban_max_seconds)) == NULL ||
		    (g->bans = sg_bans_new(d->ban_address_failures,
		    d->ban_seconds,
		    d->ban_max_seconds)) == NULL ||
		    (g->party_bans = sg_bans_new(d->ban_party_failures,
		    d->ban_seconds, d->ban_max_seconds)) == NULL)
			goto fatal;
	}
	g->loop = uv_default_loop();
	g->started = gw_now_us();
	if (gw_signin_init(g) != 0) {
		sg_errf(err, "cannot make the sign-in check's hash");
		goto fatal;
	}
	if (gw_pool_start(g, g->conf->cfg->daemon.workers) != 0) {
		sg_errf(err, "cannot start the pipeline threads");
		goto fatal;
	}
	listen_fds(&hfd, &sfd);
	if ((dm.https = gw_https_new(g, hfd, err)) == NULL)
		goto fatal;
	if ((sfd >= 0 || g->conf->cfg->daemon.sftp_listen != NULL) &&
	    (dm.sftp = gw_ssh_new(g, sfd, err)) == NULL)
		goto fatal;
	if ((dm.ctl = gw_ctl_new(g->loop, g->conf->cfg->daemon.control,
	    on_control, &dm, err)) == NULL)
		goto fatal;
	gw_retention_start(g);
	if (gw_log_config(g, "start") != 0)
		gw_journalf(EV_LOG_FAILED, LOG_CRIT, NULL, "the configuration "
		    "could not be recorded in the transfer log");
	g->agr_day = sg_today();
	gw_agreements_check(g, "configuration", 1);
	uv_signal_init(g->loop, &dm.sigterm);
	uv_signal_init(g->loop, &dm.sigint);
	uv_signal_init(g->loop, &dm.sighup);
	dm.sigterm.data = dm.sigint.data = dm.sighup.data = &dm;
	uv_signal_start(&dm.sigterm, on_term, SIGTERM);
	uv_signal_start(&dm.sigint, on_term, SIGINT);
	uv_signal_start(&dm.sighup, on_hup, SIGHUP);
	uv_timer_init(g->loop, &dm.status);
	uv_timer_init(g->loop, &dm.watchdog);
	uv_timer_init(g->loop, &dm.drain);
	dm.status.data = dm.watchdog.data = dm.drain.data = &dm;
	uv_timer_start(&dm.status, on_status, 2000, 2000);
	if (sd_watchdog_enabled(0, &wd) > 0 && wd >= 2000)
		uv_timer_start(&dm.watchdog, on_watchdog, 0, wd / 2000);
	{
		char a[64], b[64], c[64], e[64], sp[32] = "";
		const char *f[] = { a, b, c, e, NULL };

		snprintf(a, sizeof(a), "SCHOOLGATE_HTTPS_PORT=%d",
		    gw_https_port(dm.https));
		snprintf(b, sizeof(b), "SCHOOLGATE_TRANSFERS=%zu", g->nxfers);
		snprintf(c, sizeof(c), "SCHOOLGATE_SFTP_PORT=%d",
		    dm.sftp ? gw_ssh_port(dm.sftp) : 0);
		snprintf(e, sizeof(e), "SCHOOLGATE_VERSION=%s", SG_VERSION);
		if (dm.sftp)
			snprintf(sp, sizeof(sp), ", SFTP on port %d",
			    gw_ssh_port(dm.sftp));
		gw_journalf(EV_STARTED, LOG_NOTICE, f, "schoolgated %s "
		    "started: HTTPS on port %d%s, %zu transfer(s) in the log",
		    SG_VERSION, gw_https_port(dm.https), sp, g->nxfers);
	}
	sd_notify(0, "READY=1");
	update_status(&dm);
	uv_run(g->loop, UV_RUN_DEFAULT);
	uv_loop_close(g->loop);
	gw_https_free(dm.https);
	gw_ssh_free(dm.sftp);
	gw_xfers_free(g);
	gw_agreements_free(g);
	sg_bans_free(g->bans);
	sg_bans_free(g->pair_bans);
	sg_bans_free(g->party_bans);
	free(g->unauth.addr);
	gw_intake_stop(g->intake);
	sg_identities_free(g->ids, g->nids);
	if (g->intake_ids != NULL)
		sg_identities_free(g->intake_ids, g->nintake_ids);
	OPENSSL_cleanse(&g->signer, sizeof(g->signer));
	sg_blind_key_wipe(&g->index_key);
	for (n = 0; n < (long)g->nold_index_keys; n++)
		sg_blind_key_wipe(&g->old_index_keys[n]);
	free(g->old_index_keys);
	close(g->meta_dir);
	gw_conf_unref(g->conf);
	return dm.exit_code;
fatal:
	{
		const char *f[] = { "SCHOOLGATE_REASON=startup", NULL };

		gw_journalf(EV_START_FAILED, LOG_CRIT, f, "cannot start: %s",
		    err);
	}
	return 1;
}
