/*
 * intake processes: each upload is unpacked (ZIP, age), checked (CSV)
 * and sealed in a process of its own, which holds that upload's bytes,
 * its ZIP password or the intake identity, the recipients' public keys
 * and a descriptor for the one file it writes, and nothing else: no
 * storage identity, no log key, no index key, no other upload. A bug in
 * libarchive, the age reader or the CSV checker reaches one upload that
 * its sender sent anyway.
 *
 *   core (schoolgated)  --SPAWN(fd)-->  maker (schoolgated --intake)
 *        |                                   | fork, per upload
 *        +-------- START(fd), DATA, SYNC, END ---->  intake process
 *        <------ SYNCED, CODES, HEAD, ENTRY, DONE ---
 *
 * The maker is started from schoolgated's own executable (a new image,
 * so it inherits no memory of the core's: no key was ever in it), enters
 * the sandbox (base/sandbox.h) with fork allowed, and forks one process
 * per upload when the core sends it the upload's end of a socketpair.
 * That process enters the sandbox again without fork, reads START (the
 * flow, the password or identity, the recipients, the temporary file's
 * descriptor from the store), then the upload's bytes, and answers with
 * the report and what it sealed. The store adopts the file, fsyncs and
 * renames it and writes the records, as before: acknowledged still means
 * durable. A process that dies, or breaks the protocol, fails its one
 * upload (nothing is kept) and is journalled; a maker that dies is
 * started again at the next upload.
 *
 * Every message either way is parsed by base/msg.c against the rules
 * below and its payload by intake/wire.c: each side treats the other's
 * messages as input.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/msg.h"
#include "base/sandbox.h"
#include "intake/intake.h"
#include "intake/wire.h"
#include "store/blind.h"

enum {
	/* core -> intake process */
	IM_START = 1, IM_DATA, IM_SYNC, IM_END,
	/* intake process -> core */
	IM_SYNCED = 16, IM_CODES, IM_HEAD, IM_ENTRY, IM_DONE,
	/* core <-> maker */
	IM_SPAWN = 32, IM_READY, IM_SPAWNED, IM_EXITED
};

/* START's fields */
enum { S_FLOW = 1, S_PASS, S_SCHOOL, S_SUBJECTS, S_PKS, S_IDS, S_MAX };
/* SYNCED's, DONE's, READY's, SPAWNED's and EXITED's */
enum { Y_REJECTED = 1, Y_ROW, Y_COLUMN, Y_RULE };
enum { D_RC = 1, D_SEALED, D_PLAIN_SHA, D_OBJ_SHA, D_PLAIN_SIZE,
	D_OBJ_SIZE };
enum { READY_OK = 1, READY_WHY };
enum { PROC_PID = 1, PROC_STATUS };

#define MAX_PKS		64
#define MAX_IDS		16
#define PASS_MAX	1024

static const struct sg_msg_rule to_intake[] = {
	{ IM_START, 1, SG_MSG_MAX, 1 },
	{ IM_DATA, 1, SG_MSG_MAX, 0 },
	{ IM_SYNC, 0, 0, 0 },
	{ IM_END, 0, 0, 0 },
};
static const struct sg_msg_rule from_intake[] = {
	{ IM_SYNCED, 6, 512, 0 },
	{ IM_CODES, 8, SG_MSG_MAX, 0 },
	{ IM_HEAD, 6, 64 * 1024, 0 },
	{ IM_ENTRY, 6, 1024, 0 },
	{ IM_DONE, 6, 512, 0 },
};
static const struct sg_msg_rule to_maker[] = {
	{ IM_SPAWN, 0, 0, 1 },
};
static const struct sg_msg_rule from_maker[] = {
	{ IM_READY, 6, 512, 0 },
	{ IM_SPAWNED, 6, 64, 0 },
	{ IM_EXITED, 6, 64, 0 },
};
#define NRULES(r)	(sizeof(r) / sizeof((r)[0]))

/* ------------------------------------------------------------------ */
/* The intake process (a child of the maker)                          */

struct child {
	int			 chan;
	struct sg_msgbuf	*mb;
	const unsigned char	*data;	/* the DATA being read */
	size_t			 len, off;
	int			 want, eof, broken;
};

/* The next message for the intake process: 1, or 0 at the end of the
 * stream or on a violation (then the process is done). */
static int
child_next(struct child *c, struct sg_msg *m)
{
	char err[200];
	int rc;

	while ((rc = sg_msgbuf_get(c->mb, to_intake, NRULES(to_intake), m, err,
	    sizeof(err))) == 0)
		if (sg_msgbuf_fill(c->mb) <= 0)
			return 0;
	if (rc < 0) {
		fprintf(stderr, "schoolgated-intake[%d]: %s\n", (int)getpid(),
		    err);
		c->broken = 1;
		return 0;
	}
	return 1;
}

static ssize_t
child_read(void *arg, void *buf, size_t cap)
{
	struct child *c = arg;
	struct sg_msg m;
	size_t n;

	while (c->off == c->len) {
		if (c->eof)
			return 0;
		if (c->broken || !child_next(c, &m))
			return -1;
		switch (m.type) {
		case IM_DATA:
			c->data = m.data;
			c->len = m.len;
			c->off = 0;
			break;
		case IM_SYNC:
			c->want = 1;
			return SG_SRC_AGAIN;
		case IM_END:
			c->eof = 1;
			return 0;
		default:	/* a second START */
			if (m.fd >= 0)
				close(m.fd);
			c->broken = 1;
			return -1;
		}
	}
	n = c->len - c->off;
	if (n > cap)
		n = cap;
	memcpy(buf, c->data + c->off, n);
	c->off += n;
	return (ssize_t)n;
}

static int
child_want_sync(void *arg)
{
	struct child *c = arg;
	int w = c->want;

	c->want = 0;
	return w;
}

static void
child_synced(void *arg, int rejected, const struct sg_report_entry *first)
{
	struct child *c = arg;
	struct sg_msgb b;

	sg_msgb_init(&b);
	sg_msg_put_u64(&b, Y_REJECTED, rejected != 0);
	if (first != NULL) {
		sg_msg_put_u64(&b, Y_ROW, first->row);
		sg_msg_put_str(&b, Y_COLUMN, first->column);
		sg_msg_put_str(&b, Y_RULE, first->rule ? first->rule :
		    "unknown");
	}
	if (b.ok)
		(void)sg_msg_send(c->chan, IM_SYNCED, 0, -1, b.buf, b.len);
	sg_msgb_free(&b);
}

static void
child_send_report(struct child *c, const struct sg_report *r)
{
	struct sg_msgb b;
	size_t k;

	sg_msgb_init(&b);
	if (sg_wire_report_head_put(&b, r) == 0)
		(void)sg_msg_send(c->chan, IM_HEAD, 0, -1, b.buf, b.len);
	sg_msgb_free(&b);
	for (k = 0; k < r->nerrors + r->nwarnings; k++) {
		int w = k >= r->nerrors;

		sg_msgb_init(&b);
		if (sg_wire_entry_put(&b, w, w ? &r->warnings[k - r->nerrors] :
		    &r->errors[k]) == 0)
			(void)sg_msg_send(c->chan, IM_ENTRY, 0, -1, b.buf,
			    b.len);
		sg_msgb_free(&b);
	}
}

/* Runs one upload; the process's exit status. */
static int
child_main(int chan, pid_t core, unsigned ord, int sandbox)
{
	struct sg_sandbox_opts so = { .keep = &chan, .nkeep = 1,
	    .keep_stdio = 1 };
	struct child c = { .chan = chan };
	struct sg_intake_opts io;
	struct sg_store_seal *seal = NULL;
	struct sg_blind_set *set = NULL;
	struct sg_age_identity *ids = NULL;
	struct sg_put_result res;
	struct sg_report r;
	struct sg_flow *flow;
	struct sg_msg m;
	struct sg_msgb b;
	const unsigned char *p;
	char err[256], pass[PASS_MAX];
	uint64_t school = 0, subjects = 0, max = 0;
	size_t n, npks, nids = 0, k;
	int rc, sealed = 0, havepass;

	(void)core;
	(void)ord;
	prctl(PR_SET_NAME, "sg-intake", 0, 0, 0);
	if (sandbox && sg_sandbox_enter(&so, err, sizeof(err)) != 0) {
		fprintf(stderr, "schoolgated-intake[%d]: %s\n", (int)getpid(),
		    err);
		return 70;
	}
#ifdef SG_ATTACK_HOOK
	gw_attack("intake", core, ord);
#endif
	if ((c.mb = sg_msgbuf_new(chan)) == NULL || !child_next(&c, &m))
		return 1;
	if (m.type != IM_START || sg_msg_fields_ok(m.data, m.len) != 0 ||
	    sg_msg_field(m.data, m.len, S_FLOW, &p, &n) != 0 ||
	    (flow = sg_wire_flow_get(p, n, err, sizeof(err))) == NULL ||
	    sg_msg_field_u64(m.data, m.len, S_SCHOOL, &school) != 0 ||
	    sg_msg_field_u64(m.data, m.len, S_SUBJECTS, &subjects) != 0 ||
	    sg_msg_field_u64(m.data, m.len, S_MAX, &max) != 0 ||
	    max == 0 || max > 100000 ||
	    sg_msg_field(m.data, m.len, S_PKS, &p, &n) != 0 || n == 0 ||
	    n % 32 != 0 || n / 32 > MAX_PKS) {
		fprintf(stderr, "schoolgated-intake[%d]: a malformed START\n",
		    (int)getpid());
		return 1;
	}
	npks = n / 32;
	if (sg_store_seal_fd_begin(m.fd, (const unsigned char (*)[32])p, npks,
	    &seal) != 0)
		return 1;
	havepass = sg_msg_field_str(m.data, m.len, S_PASS, pass,
	    sizeof(pass)) == 0;
	if (sg_msg_field(m.data, m.len, S_IDS, &p, &n) == 0) {
		if (n % 64 != 0 || n / 64 > MAX_IDS || (n > 0 &&
		    (ids = calloc(n / 64, sizeof(*ids))) == NULL))
			return 1;
		nids = n / 64;
		for (k = 0; k < nids; k++) {
			memcpy(ids[k].sk, p + 64 * k, 32);
			memcpy(ids[k].pk, p + 64 * k + 32, 32);
		}
	}
	if (subjects && (set = sg_blind_set_new()) == NULL)
		return 1;
	sg_report_init(&r, (size_t)max);
	memset(&io, 0, sizeof(io));
	io.flow = flow;
	io.passphrase = havepass ? pass : NULL;
	io.require_encryption = 1;
	io.school = (unsigned long)school;
	io.subjects = set;
	io.ids = ids;
	io.nids = nids;
	io.plain = sg_store_seal_write;
	io.plain_arg = seal;
	io.want_sync = child_want_sync;
	io.synced = child_synced;
	io.sync_arg = &c;
	rc = sg_intake_check(&io, child_read, &c, &r);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (ids != NULL)
		OPENSSL_cleanse(ids, nids * sizeof(*ids));
	if (rc == 0 && !r.rejected)
		sealed = sg_store_seal_fd_finish(seal, &res) == 0;
	else
		sg_store_seal_abort(seal);
	if (sealed && set != NULL) {
		const uint64_t *codes;
		size_t at = 0, span;

		while ((span = sg_blind_set_span(set, at, &codes)) > 0) {
			if (span > SG_MSG_MAX / 8)
				span = SG_MSG_MAX / 8;
			if (sg_msg_send(chan, IM_CODES, 0, -1, codes, span * 8) !=
			    0)
				return 1;
			at += span;
		}
	}
	child_send_report(&c, &r);
	sg_msgb_init(&b);
	sg_msg_put_u64(&b, D_RC, (uint64_t)(rc == 0 ? 0 : 1));
	sg_msg_put_u64(&b, D_SEALED, (uint64_t)sealed);
	if (sealed) {
		sg_msg_put(&b, D_PLAIN_SHA, res.plain_sha256, 32);
		sg_msg_put(&b, D_OBJ_SHA, res.obj_sha256, 32);
		sg_msg_put_u64(&b, D_PLAIN_SIZE, res.plain_size);
		sg_msg_put_u64(&b, D_OBJ_SIZE, res.obj_size);
	}
	if (b.ok)
		(void)sg_msg_send(chan, IM_DONE, 0, -1, b.buf, b.len);
	sg_msgb_free(&b);
	/* the process ends here: what it held goes with it */
	return 0;
}

/* ------------------------------------------------------------------ */
/* The maker (schoolgated --intake)                                    */

static volatile sig_atomic_t got_chld;

static void
on_chld(int sig)
{
	(void)sig;
	got_chld = 1;
}

static void
maker_send(int chan, int type, uint64_t a, uint64_t b2)
{
	struct sg_msgb b;

	sg_msgb_init(&b);
	sg_msg_put_u64(&b, PROC_PID, a);
	sg_msg_put_u64(&b, PROC_STATUS, b2);
	if (b.ok)
		(void)sg_msg_send(chan, (uint32_t)type, 0, -1, b.buf, b.len);
	sg_msgb_free(&b);
}

static int
warm_discard(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

/*
 * What every intake process would otherwise do for itself, once, in the
 * maker, so that each inherits it: OpenSSL's algorithms fetched and its
 * tables built (an age file sealed to a throwaway recipient: X25519,
 * HKDF, HMAC, ChaCha20-Poly1305, SHA-256, all that opening one uses
 * too), and the time zone read (an intake process cannot open
 * /etc/localtime, and would fall back to UTC). Each process did this for
 * itself, writing tables into fresh pages: with LD_BIND_NOW
 * (maker_start), about a tenth of a small upload's time. Nothing here is
 * kept: the identity is random and wiped.
 */
static int
warm_up(void)
{
	struct sg_age_identity id;
	struct sg_age_enc *e;
	unsigned char one = 0;
	int ok;

	tzset();
	if (sg_age_identity_generate(&id) != 0)
		return -1;
	e = sg_age_enc_new((const unsigned char (*)[32])id.pk, 1);
	OPENSSL_cleanse(&id, sizeof(id));
	if (e == NULL)
		return -1;
	ok = sg_age_enc_write(e, &one, 1, warm_discard, NULL) == 0 &&
	    sg_age_enc_finish(e, warm_discard, NULL) == 0;
	sg_age_enc_free(e);
	return ok ? 0 : -1;
}

int
gw_intake_maker_main(int sandbox)
{
	struct sg_sandbox_opts so = { .keep = (int[]){ 3 }, .nkeep = 1,
	    .keep_stdio = 1, .allow_fork = 1 };
	struct sigaction sa;
	struct sg_msgbuf *mb;
	struct sg_msg m;
	char err[256] = "";
	pid_t core = getppid();
	unsigned ord = 0;
	int rc;

	/* the maker ends with the core, and is no one's to inspect */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != core)
		return 1;
	prctl(PR_SET_NAME, "sg-intake-maker", 0, 0, 0);
	/* OpenSSL reads its configuration and seeds its generator now,
	 * while files can still be opened; every intake process inherits
	 * that */
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	{
		unsigned char r[16];

		if (RAND_bytes(r, sizeof(r)) != 1 || warm_up() != 0)
			return 1;
	}
	if (gw_child_ready(sandbox, &so, IM_READY, READY_OK, READY_WHY) != 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;	/* no SA_RESTART: poll wakes */
	sigaction(SIGCHLD, &sa, NULL);
	if ((mb = sg_msgbuf_new(3)) == NULL)
		return 1;
	for (;;) {
		struct pollfd pf = { .fd = 3, .events = POLLIN };
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			maker_send(3, IM_EXITED, (uint64_t)pid,
			    (uint64_t)(unsigned)status);
		got_chld = 0;
		rc = sg_msgbuf_get(mb, to_maker, NRULES(to_maker), &m, err,
		    sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "schoolgated-intake: %s\n", err);
			return 1;
		}
		if (rc == 1) {
			if ((pid = fork()) == 0) {
				sg_msgbuf_free(mb);	/* closes nothing kept */
				close(3);
				_exit(child_main(m.fd, core, ord, sandbox));
			}
			ord++;
			close(m.fd);
			maker_send(3, IM_SPAWNED, (uint64_t)(pid > 0 ? pid : 0),
			    (uint64_t)(pid > 0 ? 0 : errno));
			continue;
		}
		if (got_chld)
			continue;
		if (poll(&pf, 1, -1) < 0)
			continue;	/* EINTR: a child ended */
		if (sg_msgbuf_fill(mb) == 0)
			return 0;	/* the core is gone */
	}
}

/* ------------------------------------------------------------------ */
/* The core's side                                                     */

#define EXITED_KEEP	64

struct gw_intake {
	pthread_mutex_t		 mu;
	int			 sandbox;
	char			 exe[4096];
	int			 sock;		/* to the maker, -1: none */
	pid_t			 pid;
	struct sg_msgbuf	*mb;
	struct {
		pid_t	pid;
		int	status;
	}			 exited[EXITED_KEEP];
	unsigned		 nexited;
	struct sg_age_identity	*ids;		/* for START */
	size_t			 nids;
	struct sg_wire_rules	 rules;
};

/* Starts the maker; under in->mu (or before any thread). */
static int
maker_start(struct gw_intake *in, char *err, size_t cap)
{
	char *argv[] = { "schoolgated-intake", "--intake",
	    in->sandbox ? "on" : "off", NULL };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, cap, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid = gw_spawn_self(in->exe, argv, &sv[1], 1, 1, err, cap);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	in->sock = sv[0];
	in->pid = pid;
	if ((in->mb = sg_msgbuf_new(sv[0])) == NULL) {
		snprintf(err, cap, "out of memory");
		goto bad;
	}
	/* its first word: whether it is sandboxed */
	if (gw_child_await_ready(in->mb, in->sock, from_maker,
	    NRULES(from_maker), IM_READY, READY_OK, READY_WHY,
	    "the intake process maker", err, cap) != 0)
		goto bad;
	return 0;
bad:
	sg_msgbuf_free(in->mb);
	in->mb = NULL;
	close(in->sock);
	in->sock = -1;
	kill(in->pid, SIGKILL);
	waitpid(in->pid, NULL, 0);
	in->pid = 0;
	return -1;
}

struct gw_intake *
gw_intake_start(int sandbox, const struct sg_age_identity *ids, size_t nids,
    char err[SG_ERR_MAX])
{
	struct gw_intake *in = calloc(1, sizeof(*in));

	if (in == NULL) {
		sg_errf(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&in->mu, NULL);
	sg_wire_rules_init(&in->rules);
	in->sandbox = sandbox;
	in->sock = -1;
	if (nids > MAX_IDS)
		nids = MAX_IDS;
	if (nids > 0 && (in->ids = calloc(nids, sizeof(*ids))) == NULL) {
		sg_errf(err, "out of memory");
		goto bad;
	}
	if (nids > 0)
		memcpy(in->ids, ids, nids * sizeof(*ids));
	in->nids = nids;
	/* the maker is this very executable, named now: a path looked up
	 * at each restart could have been replaced */
	if (gw_self_exe(in->exe, sizeof(in->exe)) != 0) {
		sg_errf(err, "cannot find schoolgated's own executable: %s",
		    strerror(errno));
		goto bad;
	}
	if (maker_start(in, err, SG_ERR_MAX) != 0)
		goto bad;
	return in;
bad:
	gw_intake_stop(in);
	return NULL;
}

void
gw_intake_stop(struct gw_intake *in)
{
	if (in == NULL)
		return;
	if (in->sock >= 0) {
		close(in->sock);	/* the maker sees the end and exits */
		waitpid(in->pid, NULL, 0);
	}
	sg_msgbuf_free(in->mb);
	if (in->ids != NULL)
		OPENSSL_cleanse(in->ids, in->nids * sizeof(*in->ids));
	free(in->ids);
	sg_wire_rules_free(&in->rules);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

/* A message from the maker (under in->mu): EXITED ones are kept for
 * whoever asks; 1 and m for the others, -1 when the maker is gone or
 * broke the protocol. timeout_ms < 0: wait. */
static int
maker_read(struct gw_intake *in, struct sg_msg *m, int timeout_ms)
{
	char err[200];
	int rc;

	for (;;) {
		uint64_t pid, st;

		rc = sg_msgbuf_get(in->mb, from_maker, NRULES(from_maker), m,
		    err, sizeof(err));
		if (rc < 0)
			return -1;
		if (rc == 1 && m->type == IM_EXITED) {
			if (sg_msg_fields_ok(m->data, m->len) != 0 ||
			    sg_msg_field_u64(m->data, m->len, PROC_PID, &pid) !=
			    0 || sg_msg_field_u64(m->data, m->len, PROC_STATUS,
			    &st) != 0)
				return -1;
			in->exited[in->nexited % EXITED_KEEP].pid = (pid_t)pid;
			in->exited[in->nexited % EXITED_KEEP].status = (int)st;
			in->nexited++;
			continue;
		}
		if (rc == 1)
			return 1;
		if (timeout_ms >= 0) {
			struct pollfd pf = { .fd = in->sock, .events = POLLIN };

			if (poll(&pf, 1, timeout_ms) <= 0)
				return 0;
		}
		if (sg_msgbuf_fill(in->mb) <= 0)
			return -1;
	}
}

/* The maker is gone (under in->mu): reaped, journalled, started again. */
static int
maker_restart(struct gw_intake *in, char *err, size_t cap)
{
	char how[64] = "had stopped", a[48], b[48];
	const char *f[] = { a, b, NULL };
	pid_t old = in->pid;
	int status;

	sg_msgbuf_free(in->mb);
	in->mb = NULL;
	if (in->sock >= 0)
		close(in->sock);
	in->sock = -1;
	if (old > 0 && waitpid(old, &status, 0) == old)
		gw_status_text(status, how, sizeof(how));
	if (maker_start(in, err, cap) != 0)
		return -1;
	snprintf(a, sizeof(a), "SCHOOLGATE_PID=%d", (int)in->pid);
	snprintf(b, sizeof(b), "SCHOOLGATE_PROCESS=intake-maker");
	gw_journalf(EV_PROCESS, LOG_WARNING, f, "the intake process maker "
	    "(pid %d) %s; started again as pid %d", (int)old, how,
	    (int)in->pid);
	return 0;
}

/* A new intake process with chan as its end: its pid, or -1. */
static pid_t
spawn(struct gw_intake *in, int chan, char *why, size_t cap)
{
	struct sg_msg m;
	uint64_t pid, e;
	int tries;

	pthread_mutex_lock(&in->mu);
	for (tries = 0; tries < 2; tries++) {
		if (in->sock < 0 && maker_restart(in, why, cap) != 0)
			break;
		if (sg_msg_send(in->sock, IM_SPAWN, 0, chan, NULL, 0) == 0 &&
		    maker_read(in, &m, -1) == 1 && m.type == IM_SPAWNED &&
		    sg_msg_fields_ok(m.data, m.len) == 0 &&
		    sg_msg_field_u64(m.data, m.len, PROC_PID, &pid) == 0 &&
		    sg_msg_field_u64(m.data, m.len, PROC_STATUS, &e) == 0) {
			pthread_mutex_unlock(&in->mu);
			if (pid == 0) {
				snprintf(why, cap, "the intake process could "
				    "not be made: %s", strerror((int)e));
				return -1;
			}
			return (pid_t)pid;
		}
		/* the maker is gone (or broke the protocol): again */
		if (in->pid > 0)
			kill(in->pid, SIGKILL);
		if (maker_restart(in, why, cap) != 0)
			break;
	}
	pthread_mutex_unlock(&in->mu);
	if (why[0] == 0)
		snprintf(why, cap, "the intake process maker is not running");
	return -1;
}

/* How pid ended, as the maker saw it (waiting up to 5 s for word). */
static void
exit_status(struct gw_intake *in, pid_t pid, char *out, size_t cap)
{
	struct sg_msg m;
	unsigned k, tries;

	snprintf(out, cap, "stopped");
	pthread_mutex_lock(&in->mu);
	for (tries = 0; tries < 50; tries++) {
		for (k = 0; k < EXITED_KEEP && k < in->nexited; k++)
			if (in->exited[k].pid == pid) {
				gw_status_text(in->exited[k].status, out, cap);
				in->exited[k].pid = 0;
				pthread_mutex_unlock(&in->mu);
				return;
			}
		if (in->sock < 0 || maker_read(in, &m, 100) < 0)
			break;
	}
	pthread_mutex_unlock(&in->mu);
}

/* The core's end of one intake process. */
struct run {
	struct gw_intake		*in;
	const struct gw_intake_job	*j;
	int				 chan;
	struct sg_msgbuf		*mb;
	struct sg_report		*r;
	int				 done, synced, broken, have_res;
	int				 rejected_sync;
	struct sg_report_entry		 first;
	int				 has_first;
	struct sg_put_result		 res;
	uint64_t			 rc, sealed;
	char				 err[200];
};

/* One message from the intake process, whenever it comes. */
static int
handle(struct run *x, const struct sg_msg *m)
{
	const unsigned char *p;
	size_t n, k;
	uint64_t v;

	switch (m->type) {
	case IM_SYNCED:
		memset(&x->first, 0, sizeof(x->first));
		if (sg_msg_fields_ok(m->data, m->len) != 0 ||
		    sg_msg_field_u64(m->data, m->len, Y_REJECTED, &v) != 0 ||
		    v > 1)
			return -1;
		x->rejected_sync = (int)v;
		x->has_first = sg_msg_field(m->data, m->len, Y_RULE, &p, &n) ==
		    0;
		if (x->has_first && ((x->first.rule = sg_wire_rule(
		    &x->in->rules, (const char *)p, n)) == NULL ||
		    sg_msg_field_u64(m->data, m->len, Y_ROW, &x->first.row) !=
		    0 || sg_msg_field_str(m->data, m->len, Y_COLUMN,
		    x->first.column, sizeof(x->first.column)) != 0))
			return -1;
		x->synced = 1;
		return 0;
	case IM_CODES:
		if (x->j->subjects == NULL || m->len % 8 != 0)
			return -1;
		for (k = 0; k < m->len; k += 8) {
			memcpy(&v, m->data + k, 8);
			if (sg_blind_set_add(x->j->subjects, v) != 0)
				return -1;
		}
		return 0;
	case IM_HEAD:
		return sg_wire_report_head_get(x->r, &x->in->rules, m->data,
		    m->len);
	case IM_ENTRY:
		return sg_wire_entry_get(x->r, &x->in->rules, m->data, m->len);
	case IM_DONE:
		if (sg_msg_fields_ok(m->data, m->len) != 0 ||
		    sg_msg_field_u64(m->data, m->len, D_RC, &x->rc) != 0 ||
		    sg_msg_field_u64(m->data, m->len, D_SEALED, &x->sealed) !=
		    0 || x->sealed > 1)
			return -1;
		if (x->sealed) {
			if (sg_msg_field(m->data, m->len, D_PLAIN_SHA, &p, &n) !=
			    0 || n != 32)
				return -1;
			memcpy(x->res.plain_sha256, p, 32);
			if (sg_msg_field(m->data, m->len, D_OBJ_SHA, &p, &n) !=
			    0 || n != 32 ||
			    sg_msg_field_u64(m->data, m->len, D_PLAIN_SIZE,
			    &x->res.plain_size) != 0 ||
			    sg_msg_field_u64(m->data, m->len, D_OBJ_SIZE,
			    &x->res.obj_size) != 0)
				return -1;
			memcpy(x->res.obj_sha256, p, 32);
		}
		x->done = 1;
		return 0;
	}
	return -1;
}

/* Reads and handles what has come (wait: block until one message or
 * the end). 0, or -1 at the end of the stream or on a violation. */
static int
pump(struct run *x, int wait)
{
	struct sg_msg m;
	int rc;

	for (;;) {
		rc = sg_msgbuf_get(x->mb, from_intake, NRULES(from_intake), &m,
		    x->err, sizeof(x->err));
		if (rc < 0) {
			x->broken = 1;
			return -1;
		}
		if (rc == 1) {
			if (handle(x, &m) != 0) {
				snprintf(x->err, sizeof(x->err), "a malformed "
				    "message of type %u", m.type);
				x->broken = 1;
				return -1;
			}
			if (wait)
				return 0;
			continue;
		}
		if (wait) {
			struct pollfd pf = { .fd = x->chan, .events = POLLIN };

			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				return -1;
		}
		{
			ssize_t n = sg_msgbuf_fill(x->mb);

			if (n < 0 && errno == EAGAIN && !wait)
				return 0;
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				return -1;
		}
	}
}

/* Writes one message on the non-blocking channel, taking in what the
 * intake process sends meanwhile (so that neither waits on the other). */
static int
chan_send(struct run *x, uint32_t type, const void *data, size_t len)
{
	unsigned char hdr[SG_MSG_HDR];
	struct iovec iov[2];
	size_t total = SG_MSG_HDR + len, sent = 0;

	sg_msg_header(hdr, type, 0, len);
	while (sent < total) {
		struct pollfd pf = { .fd = x->chan, .events = POLLOUT |
		    POLLIN };
		ssize_t n;

		n = writev(x->chan, iov, sg_msg_iov(iov, hdr, data, len, sent));
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			return -1;
		if ((pf.revents & (POLLIN | POLLHUP)) && pump(x, 0) != 0)
			return -1;
		if (x->done)
			return -1;	/* it stopped reading: it has its
					   verdict */
	}
	return 0;
}

int
gw_intake_run(struct gw *g, const struct gw_intake_job *j, sg_src_fn src,
    void *src_arg, struct sg_report *r, struct sg_store_seal *seal,
    char *why, size_t cap)
{
	struct gw_intake *in = g->intake;
	struct run x;
	struct sg_msgb b;
	unsigned char *buf = NULL;
	int sv[2], rc = -1;
	pid_t pid;

	memset(&x, 0, sizeof(x));
	x.in = in;
	x.j = j;
	x.r = r;
	why[0] = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(why, cap, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid = spawn(in, sv[1], why, cap);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	x.chan = sv[0];
	if ((x.mb = sg_msgbuf_new(x.chan)) == NULL ||
	    (buf = malloc(SG_MSG_MAX)) == NULL) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	sg_msgb_init(&b);
	{
		struct sg_msgb fb;

		sg_msgb_init(&fb);
		if (sg_wire_flow_put(&fb, j->flow) == 0)
			sg_msg_put(&b, S_FLOW, fb.buf, fb.len);
		else
			b.ok = 0;
		sg_msgb_free(&fb);
	}
	if (j->passphrase != NULL)
		sg_msg_put_str(&b, S_PASS, j->passphrase);
	sg_msg_put_u64(&b, S_SCHOOL, j->school);
	sg_msg_put_u64(&b, S_SUBJECTS, j->subjects != NULL);
	sg_msg_put(&b, S_PKS, j->pks, j->npks * 32);
	if (in->nids > 0) {
		unsigned char ib[MAX_IDS * 64];
		size_t k;

		for (k = 0; k < in->nids; k++) {
			memcpy(ib + 64 * k, in->ids[k].sk, 32);
			memcpy(ib + 64 * k + 32, in->ids[k].pk, 32);
		}
		sg_msg_put(&b, S_IDS, ib, 64 * in->nids);
		OPENSSL_cleanse(ib, sizeof(ib));
	}
	sg_msg_put_u64(&b, S_MAX, r->max ? r->max : 1);
	if (!b.ok || sg_msg_send(x.chan, IM_START, 0, sg_store_seal_fd(seal),
	    b.buf, b.len) != 0) {
		if (b.buf != NULL)
			OPENSSL_cleanse(b.buf, b.cap);
		sg_msgb_free(&b);
		snprintf(why, cap, "the intake process did not take the "
		    "upload");
		goto died;
	}
	OPENSSL_cleanse(b.buf, b.cap);
	sg_msgb_free(&b);
	fcntl(x.chan, F_SETFL, fcntl(x.chan, F_GETFL) | O_NONBLOCK);
	/* the bytes, and the syncs the front asks for */
	for (;;) {
		ssize_t n;

		if (x.done)
			break;	/* a verdict before the end: the caller
				   reads the rest */
		if (j->want_sync != NULL && j->want_sync(j->sync_arg)) {
			x.synced = 0;
			if (chan_send(&x, IM_SYNC, NULL, 0) != 0)
				break;
			while (!x.synced && !x.done)
				if (pump(&x, 1) != 0)
					break;
			if (!x.synced)
				break;
			j->synced(j->sync_arg, x.rejected_sync, x.has_first ?
			    &x.first : NULL);
		}
		n = src(src_arg, buf, SG_MSG_MAX);
		if (n == SG_SRC_AGAIN)
			continue;
		if (n < 0) {
			/* cancelled: the caller sees it; the process goes */
			kill(pid, SIGKILL);
			snprintf(why, cap, "the upload was abandoned");
			goto out;
		}
		if (n == 0) {
			if (chan_send(&x, IM_END, NULL, 0) != 0 && !x.done)
				break;
			break;
		}
		if (chan_send(&x, IM_DATA, buf, (size_t)n) != 0)
			break;
	}
	/* the report and what was sealed */
	while (!x.done && !x.broken)
		if (pump(&x, 1) != 0)
			break;
	if (x.broken) {
		kill(pid, SIGKILL);
		snprintf(why, cap, "intake process %d broke the protocol: %s",
		    (int)pid, x.err);
		goto journal;
	}
	if (!x.done)
		goto died;
	if (x.sealed && sg_store_seal_adopt(seal, &x.res) != 0) {
		snprintf(why, cap, "intake process %d's account of the sealed "
		    "file does not match the file", (int)pid);
		goto journal;
	}
	if (!x.sealed && x.rc == 0 && !r->rejected) {
		snprintf(why, cap, "intake process %d accepted the file and "
		    "sealed nothing", (int)pid);
		goto journal;
	}
	rc = x.rc == 0 ? 0 : -1;
	if (rc != 0)
		snprintf(why, cap, "the intake could not run");
	goto out;
died:
	{
		char how[64];
		size_t l = strlen(why);

		exit_status(in, pid, how, sizeof(how));
		snprintf(why + l, cap - l, "%sintake process %d %s", l ? ": " :
		    "", (int)pid, how);
	}
journal:
	{
		char a[48], c[64], d[48];
		const char *f[] = { a, c, d, NULL };

		snprintf(a, sizeof(a), "SCHOOLGATE_PID=%d", (int)pid);
		snprintf(c, sizeof(c), "SCHOOLGATE_TRANSFER=%s", j->transfer);
		snprintf(d, sizeof(d), "SCHOOLGATE_PROCESS=intake");
		gw_journalf(EV_PROCESS, LOG_ERR, f, "upload %s: %s; the "
			    "upload failed and nothing was kept; other uploads "
			    "carry on", j->transfer, why);
	}
out:
	sg_msgbuf_free(x.mb);
	close(x.chan);
	free(buf);
	return rc;
}
