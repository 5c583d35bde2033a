/*
 * ssh_link: the core's side of the SFTP front door. The SSH transport
 * runs in a process of its own (ssh.c, schoolgated --front-ssh), which
 * this file answers, and fproc.c starts and starts again; the SFTP
 * requests are served here (sftp.c), in the core, over one socketpair
 * per session whose other end the front holds: the front parses the
 * client's packets and passes on records of typed fields (sftp_wire.h).
 *
 * What the front says is input like any client's: every message is
 * checked against its rules (front/ssh_wire.h, base/msg.c) and each
 * field as it is read; a connection id the front never announced, or
 * one that has ended, is ignored. A front that breaks the protocol is
 * killed and started again (fproc.c), and the core never waits on it.
 *
 * Decisions stay here, against the configuration in force: whether a
 * client may connect (draining, max_connections, bans, the budget of
 * connections not signed in), whether a credential is a party's (the one
 * sign-in path, core/signin.c), whether an idle session may be ended
 * (not while an upload of its waits for its verdict), and everything the
 * SFTP subsystem does.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/msg.h"
#include "seal/keys.h"
#include "front/sftp.h"
#include "front/ssh.h"
#include "front/ssh_wire.h"
#include "front/fproc.h"

/* the SFTP module's replies not yet taken by the session's socket */
#define OUT_MARK	(256 * 1024)
#define READ_CHUNK	(64 * 1024)
/* work per wake-up for one session before the loop's other work */
#define PUMP_READS	16

struct link {
	struct link	*next, *prev;
	struct sshf	*f;
	uint32_t	 id;
	char		 addr[48];
	char		 party[96];
	int		 authed;
	int		 tried;		/* offered a credential */
	unsigned	 refused;	/* credentials refused */
	int		 signing;	/* a password check runs */
	int		 gone;		/* removed while it ran */
	struct sftp	*sftp;
	int		 dfd;
	uv_poll_t	 dpoll;
	int		 devents, eof, in_pump, want_close, want_pump;
	int		 poll_dead;	/* libuv stopped it (an error) */
	unsigned char	*out;
	size_t		 outlen, outoff, outcap;
};

struct sshf {
	struct gw	*g;
	int		 lfd;
	struct gw_acceptor *acc;
	uint32_t	 next_id;
	char		*keys[2];
	struct gw_fproc	*p;		/* the running front */
	int		 draining, closed;
	struct link	*list;
	unsigned	 n;
};

/* ---- to the front ---- */

static void
tell(struct sshf *f, uint32_t type, uint32_t peer, int fd,
    const struct sg_msgb *b)
{
	if (f->p == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	(void)gw_fproc_tell(f->p, type, peer, fd, b);
}

static void
tell_conf(struct sshf *f)
{
	const struct sg_daemon_conf *d = &f->g->conf->cfg->daemon;
	struct sg_msgb b;

	sg_msgb_init(&b);
	sg_msg_put_u64(&b, SWF_GRACE, d->sftp_grace_seconds);
	sg_msg_put_u64(&b, SWF_TRIES, d->sftp_auth_tries);
	sg_msg_put_u64(&b, SWF_IDLE, d->sftp_idle_seconds);
	sg_msg_put_u64(&b, SWF_KEEPALIVE, d->sftp_keepalive_seconds);
	if (b.ok)
		tell(f, SW_CONF, 0, -1, &b);
	sg_msgb_free(&b);
}

/* ---- connections ---- */

static struct link *
link_find(struct sshf *f, uint32_t id)
{
	struct link *l;

	for (l = f->list; l != NULL; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

static void
on_dpoll_closed(uv_handle_t *h)
{
	struct link *l = h->data;

	free(l->out);	/* a reply queued after it ended */
	free(l);
}

/* Ends a connection here: its uploads in flight are abandoned (nothing
 * stored), its counts given back; told: the front is told to close it.
 * failed: it ended without signing in after trying (journaled and
 * counted as a failed sign-in). */
static void
link_end(struct link *l, int told, int failed)
{
	struct sshf *f = l->f;
	struct gw *g = f->g;

	if (l->prev)
		l->prev->next = l->next;
	else
		f->list = l->next;
	if (l->next)
		l->next->prev = l->prev;
	f->n--;
	g->count.connections--;
	if (!l->authed) {
		gw_unauth_release(g, GW_FRONT_SFTP, l->addr);
		if (failed)
			gw_signin_failed(g, GW_VIA_SFTP, l->addr, "unknown");
	}
	if (told)
		tell(f, SW_CLOSE, l->id, -1, NULL);
	if (l->sftp != NULL) {
		sftp_free(l->sftp);
		l->sftp = NULL;
	}
	free(l->out);
	l->out = NULL;
	l->outlen = l->outoff = l->outcap = 0;
	l->want_close = 0;
	/* a password check runs only before sign-in, the subsystem's
	 * socket exists only after it: never both */
	if (l->signing) {
		l->gone = 1;	/* freed when the check answers */
		return;
	}
	if (l->dfd >= 0) {
		uv_close((uv_handle_t *)&l->dpoll, on_dpoll_closed);
		close(l->dfd);
		l->dfd = -1;
		return;
	}
	free(l);
}

/* ---- the SFTP subsystem's socket ---- */

static void pump(struct link *);

static void
out_flush(struct link *l)
{
	while (l->dfd >= 0 && l->outoff < l->outlen) {
		ssize_t n = send(l->dfd, l->out + l->outoff, l->outlen -
		    l->outoff, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				l->want_close = 1;
			break;
		}
		l->outoff += (size_t)n;
	}
	if (l->outoff == l->outlen) {
		/* an idle session keeps no buffer */
		l->outoff = l->outlen = 0;
		free(l->out);
		l->out = NULL;
		l->outcap = 0;
	}
}

static void
on_dpoll(uv_poll_t *p, int status, int events)
{
	struct link *l = p->data;

	(void)events;
	if (status < 0) {
		/* the front's end failed (libuv has stopped the handle): the
		 * session is over, and the front's ENDED, or its loss, ends
		 * it here */
		l->eof = 1;
		l->poll_dead = 1;
		l->outoff = l->outlen = 0;
		l->want_pump = 0;
		l->devents = 0;
		return;
	}
	l->want_pump = 0;
	pump(l);
}

static void
set_devents(struct link *l)
{
	int ev = 0;

	if (l->dfd < 0 || l->poll_dead)
		return;
	if (!l->eof && l->sftp != NULL && sftp_room(l->sftp) > 0)
		ev |= UV_READABLE;
	if (l->outoff < l->outlen || l->want_pump)
		ev |= UV_WRITABLE;
	if (ev != l->devents) {
		l->devents = ev;
		if (ev)
			uv_poll_start(&l->dpoll, ev, on_dpoll);
		else
			uv_poll_stop(&l->dpoll);
	}
}

static void
io_send(void *arg, const void *buf, size_t len)
{
	struct link *l = arg;

	if (l->dfd < 0)
		return;		/* ended: nobody reads it */
	if (l->outoff > 0 && l->outoff == l->outlen)
		l->outoff = l->outlen = 0;
	if (l->outlen + len > l->outcap) {
		size_t nc = l->outcap ? l->outcap : 4096;
		unsigned char *nb;

		if (l->outoff > 0) {
			memmove(l->out, l->out + l->outoff, l->outlen -
			    l->outoff);
			l->outlen -= l->outoff;
			l->outoff = 0;
		}
		while (nc < l->outlen + len)
			nc *= 2;
		if (nc > l->outcap) {
			if ((nb = realloc(l->out, nc)) == NULL) {
				l->want_close = 1;
				return;
			}
			l->out = nb;
			l->outcap = nc;
		}
	}
	memcpy(l->out + l->outlen, buf, len);
	l->outlen += len;
	/* a reply from an asynchronous event (a verdict, a record, the
	 * pipeline catching up): send it, and pump again soon, to take
	 * what waited behind it */
	if (!l->in_pump) {
		out_flush(l);
		l->want_pump = 1;
		set_devents(l);
	}
}

static size_t
io_pending(void *arg)
{
	struct link *l = arg;

	return l->outlen - l->outoff;
}

static void
io_notice(void *arg, const char *msg)
{
	struct link *l = arg;
	struct sg_msgb b;
	char text[480];

	snprintf(text, sizeof(text), "%s", msg);
	sg_msgb_init(&b);
	sg_msg_put_str(&b, SWF_TEXT, text);
	if (b.ok)
		tell(l->f, SW_NOTICE, l->id, -1, &b);
	sg_msgb_free(&b);
}

static void
io_fatal(void *arg, const char *why)
{
	struct link *l = arg;
	char a[80], b[128];
	const char *f[] = { a, b, "SCHOOLGATE_FRONT=sftp",
	    "SCHOOLGATE_REASON=protocol", NULL };

	snprintf(a, sizeof(a), "SCHOOLGATE_CLIENT=%s", l->addr);
	snprintf(b, sizeof(b), "SCHOOLGATE_PARTY=%s", l->party);
	gw_journalf(EV_PROTOCOL, LOG_NOTICE, f, "SFTP session from %s "
	    "ended: %s", l->addr, why);
	l->want_close = 1;
}

static const struct sftp_io sftp_io = { io_send, io_notice, io_pending,
	io_fatal };

/* Replies out, requests in, as far as the SFTP module takes them. */
static void
pump(struct link *l)
{
	unsigned char buf[READ_CHUNK];
	size_t room;
	unsigned reads = 0;

	if (l->in_pump || l->dfd < 0)
		return;
	l->in_pump = 1;
	out_flush(l);
	if (l->sftp != NULL)
		sftp_kick(l->sftp);
	out_flush(l);
	while (!l->want_close && !l->eof && l->sftp != NULL &&
	    (room = sftp_room(l->sftp)) > 0) {
		if (++reads > PUMP_READS) {
			l->want_pump = 1;	/* the loop's other work
						   first: back soon */
			break;
		}
		ssize_t n = recv(l->dfd, buf, room < sizeof(buf) ? room :
		    sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				l->eof = 1;
			break;
		}
		if (n == 0) {
			l->eof = 1;	/* the front's ENDED follows */
			break;
		}
		if (sftp_input(l->sftp, buf, (size_t)n) != (size_t)n) {
			l->want_close = 1;	/* room was checked */
			break;
		}
		out_flush(l);
	}
	/* The module stopped at its output mark and the socket then took
	 * all of it; with its input full, nothing above asked it again and
	 * no event will: once it was the end of a session (a reader that
	 * stopped reading, then read on, waited for ever). Back soon. */
	if (!l->want_close && l->sftp != NULL && l->outoff == l->outlen &&
	    sftp_ready(l->sftp))
		l->want_pump = 1;
	l->in_pump = 0;
	if (l->want_close) {
		link_end(l, 1, 0);
		return;
	}
	set_devents(l);
}

static void
sftp_start(struct link *l)
{
	struct sshf *f = l->f;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) != 0) {
		link_end(l, 1, 0);
		return;
	}
	if ((l->sftp = sftp_new(f->g, l->party, l->addr, &sftp_io, l)) ==
	    NULL) {
		close(sv[0]);
		close(sv[1]);
		link_end(l, 1, 0);
		return;
	}
	if (uv_poll_init(f->g->loop, &l->dpoll, sv[0]) != 0) {
		sftp_free(l->sftp);
		l->sftp = NULL;
		close(sv[0]);
		close(sv[1]);
		link_end(l, 1, 0);
		return;
	}
	l->dfd = sv[0];
	l->dpoll.data = l;
	l->devents = 0;
	tell(f, SW_SFTP_FD, l->id, sv[1], NULL);
	set_devents(l);
}

/* ---- sign-in ---- */

static void
auth_tell(struct link *l, enum gw_signin r, const struct gw_signed *s)
{
	struct sg_msgb b;

	if (r != GW_SIGNIN_OK && r != GW_SIGNIN_KEY_OK)
		l->refused++;
	if (r == GW_SIGNIN_OK && !l->authed) {
		l->authed = 1;
		snprintf(l->party, sizeof(l->party), "%s", s->party);
		gw_unauth_release(l->f->g, GW_FRONT_SFTP, l->addr);
	}
	sg_msgb_init(&b);
	sg_msg_put_u64(&b, SWF_RESULT, (uint64_t)r);
	sg_msg_put_str(&b, SWF_PARTY, r == GW_SIGNIN_OK ? l->party : "");
	if (b.ok)
		tell(l->f, SW_AUTH, l->id, -1, &b);
	sg_msgb_free(&b);
}

static void
pw_after(void *arg, enum gw_signin r, const struct gw_signed *s)
{
	struct link *l = arg;

	l->signing = 0;
	if (l->gone) {
		free(l);
		return;
	}
	auth_tell(l, r, s);
}

/* The front ends a connection after sftp_auth_tries refusals; the core
 * counts them too, and refuses any more without a check (not a violation:
 * a reload may have lowered the number the front still holds). */
static int
out_of_tries(struct link *l)
{
	struct gw_signed none;

	if (l->refused < l->f->g->conf->cfg->daemon.sftp_auth_tries)
		return 0;
	memset(&none, 0, sizeof(none));
	auth_tell(l, GW_SIGNIN_REFUSED, &none);
	return 1;
}

/* 0, or -1: a violation. */
static int
on_password(struct link *l, const struct sg_msg *m)
{
	struct gw_signed out;
	enum gw_signin r;
	char user[SW_USER_MAX + 1], *pw;
	const unsigned char *p;
	size_t n;

	if (l->authed || l->signing)
		return -1;
	if (sg_msg_field_str(m->data, m->len, SWF_USER, user, sizeof(user)) !=
	    0 || sg_msg_field(m->data, m->len, SWF_PASSWORD, &p, &n) != 0 ||
	    n > SW_PASSWORD_MAX || (pw = malloc(n + 1)) == NULL)
		return -1;
	l->tried = 1;
	if (out_of_tries(l)) {
		free(pw);
		return 0;
	}
	memcpy(pw, p, n);
	pw[n] = 0;
	OPENSSL_cleanse((void *)p, n);
	memset(&out, 0, sizeof(out));
	l->signing = 1;
	r = gw_signin_password(l->f->g, GW_VIA_SFTP, l->addr, user, pw, n,
	    pw_after, l, &out);
	OPENSSL_cleanse(pw, n);
	free(pw);
	if (r != GW_SIGNIN_WAIT) {
		l->signing = 0;
		auth_tell(l, r, &out);
	}
	return 0;
}

static int
on_pubkey(struct link *l, const struct sg_msg *m)
{
	struct gw_signed out;
	enum gw_signin r;
	char user[SW_USER_MAX + 1], key[SW_KEY_MAX];
	uint64_t proof;

	if (l->authed || l->signing)
		return -1;
	if (sg_msg_field_str(m->data, m->len, SWF_USER, user, sizeof(user)) !=
	    0 || sg_msg_field_str(m->data, m->len, SWF_KEY, key, sizeof(key)) !=
	    0 || sg_msg_field_u64(m->data, m->len, SWF_PROOF, &proof) != 0 ||
	    proof > 2)
		return -1;
	l->tried = 1;
	if (out_of_tries(l))
		return 0;
	memset(&out, 0, sizeof(out));
	r = gw_signin_ssh_key(l->f->g, l->addr, user, key, proof == 2 ? -1 :
	    (int)proof, &out);
	auth_tell(l, r, &out);
	return 0;
}

/* ---- accepting ---- */

/* Each connection is accepted here (gw_acceptor), admitted or not
 * (draining, bans, the budgets), and only then handed to the front with
 * its address: the front holds no listening socket, and cannot name an
 * address no client connected from. */
static void
on_client(void *arg, int fd, const char *addr)
{
	struct sshf *f = arg;
	struct gw *g = f->g;
	struct sg_msgb b;
	struct link *l;
	int one = 1;

	/* pre-authentication work (key exchange) is bounded: a flood of
	 * handshakes cannot starve established transfers */
	if (!gw_fproc_up(f->p) || f->draining ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return;
	}
	if (gw_admit(g, GW_FRONT_SFTP, addr) != 0) {
		free(l);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* ids are not reused while in use (after 2^32 of them) */
	do {
		if (++f->next_id == 0)
			f->next_id = 1;
	} while (link_find(f, f->next_id) != NULL);
	l->f = f;
	l->id = f->next_id;
	l->dfd = -1;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->next = f->list;
	if (f->list)
		f->list->prev = l;
	f->list = l;
	f->n++;
	g->count.connections++;
	sg_msgb_init(&b);
	sg_msg_put_str(&b, SWF_ADDR, addr);
	if (b.ok)
		tell(f, SW_CONN, l->id, fd, &b);	/* fd: the queue's */
	else {
		close(fd);
		link_end(l, 0, 0);
	}
	sg_msgb_free(&b);
}

static void
listening(struct sshf *f, int on)
{
	gw_acceptor_on(f->acc, on && !f->draining && !f->closed);
}

/* ---- what the front says ---- */

static int
on_ended(struct link *l, const struct sg_msg *m)
{
	uint64_t reason;
	int failed;

	if (sg_msg_field_u64(m->data, m->len, SWF_REASON, &reason) != 0 ||
	    reason == 0 || reason >= SW_END_MAX)
		return -1;
	/* a client that tried a credential and went away, ran out of
	 * tries or of time, without signing in: a failed sign-in, as the
	 * core saw it */
	failed = !l->authed && l->tried && (reason == SW_END_CLIENT ||
	    reason == SW_END_TRIES || reason == SW_END_GRACE);
	if (reason == SW_END_KEEPALIVE) {
		char a[80], b[128];
		const char *f[] = { a, b, "SCHOOLGATE_FRONT=sftp",
		    "SCHOOLGATE_REASON=keepalive", NULL };

		snprintf(a, sizeof(a), "SCHOOLGATE_CLIENT=%s", l->addr);
		snprintf(b, sizeof(b), "SCHOOLGATE_PARTY=%s", l->party);
		gw_journalf(EV_PROTOCOL, LOG_NOTICE, f, "SFTP session of %s "
		    "from %s ended: the client stopped answering keepalives",
		    l->party, l->addr);
	} else if (reason == SW_END_WINDOW)
		io_fatal(l, "the client sent beyond the SSH window");
	link_end(l, 0, failed);
	return 0;
}

/* 0, or -1: the front broke the protocol. */
static int
from_front(void *arg, struct sg_msg *m)
{
	struct sshf *f = arg;
	struct link *l;

	if ((l = link_find(f, m->peer)) == NULL)
		return 0;	/* ended here meanwhile */
	switch (m->type) {
	case SW_PASSWORD:
		return on_password(l, m);
	case SW_PUBKEY:
		return on_pubkey(l, m);
	case SW_SFTP:
		if (!l->authed || l->sftp != NULL || l->dfd >= 0)
			return -1;
		sftp_start(l);
		return 0;
	case SW_IDLE:
		/* not while an upload of its waits for its verdict */
		if (l->sftp == NULL || sftp_busy(l->sftp) == 0)
			link_end(l, 1, 0);
		return 0;
	case SW_ENDED:
		return on_ended(l, m);
	}
	return -1;
}

/* ---- the front's process ---- */

/* (Again) started: its settings and host keys, then connections. */
static void
front_started(void *arg, struct gw_fproc *p)
{
	struct sshf *f = arg;
	struct sg_msgb b;
	int k;

	f->p = p;
	tell_conf(f);
	for (k = 0; k < 2 && f->keys[k] != NULL; k++) {
		sg_msgb_init(&b);
		sg_msg_put_str(&b, SWF_KEY, f->keys[k]);
		if (b.ok)
			tell(f, SW_HOSTKEY, 0, -1, &b);
		OPENSSL_cleanse(b.buf, b.len);
		sg_msgb_free(&b);
	}
	listening(f, 1);
}

/* Ended: new clients wait in the backlog; its connections end here
 * (their uploads in flight were never acknowledged: nothing is kept). */
static unsigned
front_ended(void *arg)
{
	struct sshf *f = arg;
	unsigned ended = f->n;

	listening(f, 0);
	while (f->list != NULL)
		link_end(f->list, 0, 0);
	return ended;
}

static const struct gw_fproc_def ssh_front = {
	.title = "the SSH front door", .process = "ssh-front",
	.argv0 = "schoolgated-ssh", .flag = "--front-ssh", .down = "SFTP",
	.rules = sw_to_core, .nrules = SW_NRULES(sw_to_core),
	.ready = SW_READY, .ready_ok = SWF_OK, .ready_why = SWF_WHY,
	.message = from_front, .started = front_started, .lost = front_ended,
};

#ifdef SG_FUZZ_LINK
/* The fuzz target's front (tests/fuzz/fuzz_sshlink.c): chan is the core's
 * end of a channel whose other end the target writes as a front would;
 * nothing is started, or started again. */
struct sshf *
gw_ssh_fuzz_new(struct gw *g, int chan, int lfd)
{
	struct sshf *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->g = g;
	f->lfd = lfd;
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	if ((f->acc = gw_acceptor_new(g->loop, lfd, on_client, f)) == NULL)
		abort();
	(void)gw_fproc_fuzz(g, &ssh_front, f, chan);	/* never started
							   again */
	return f;
}
#endif

/* ---- the core's API (front/ssh.h) ---- */

struct sshf *
gw_ssh_new(struct gw *g, int fd, char err[SG_ERR_MAX])
{
	const struct sg_daemon_conf *d = &g->conf->cfg->daemon;
	const char *names[2] = { SG_HOSTKEY_ED25519, SG_HOSTKEY_RSA };
	struct sshf *f;
	char path[4096];
	int k;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		sg_errf(err, "out of memory");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	f->g = g;
	f->lfd = -1;
	for (k = 0; k < 2; k++) {
		char e[SG_ERR_MAX];

		snprintf(path, sizeof(path), "%s/%s", d->keys_dir, names[k]);
		if ((f->keys[k] = sg_secret_file_read(path, e)) == NULL) {
			sg_errf(err, "%s: cannot load the SSH host key: %s "
			    "(schoolgate keygen --out %s creates it)", path, e,
			    d->keys_dir);
			goto bad;
		}
		if (strlen(f->keys[k]) + 6 > SW_HOSTKEY_MAX) {
			sg_errf(err, "%s: not an SSH host key (longer than %d "
			    "bytes)", path, SW_HOSTKEY_MAX - 6);
			goto bad;
		}
	}
	if (fd < 0 && (fd = gw_listen_socket(d->sftp_listen,
	    "daemon.sftp.listen", err)) < 0)
		goto bad;
	f->lfd = fd;
	fd = -1;
	fcntl(f->lfd, F_SETFL, fcntl(f->lfd, F_GETFL) | O_NONBLOCK);
	if ((f->acc = gw_acceptor_new(g->loop, f->lfd, on_client, f)) ==
	    NULL) {
		sg_errf(err, "cannot watch daemon.sftp.listen");
		goto bad;
	}
	if (gw_fproc_new(g, &ssh_front, f, err) == NULL)
		goto bad;
	return f;
bad:
	if (fd >= 0)
		close(fd);
	f->closed = 1;
	f->p = NULL;
	gw_acceptor_free(f->acc);
	f->acc = NULL;
	gw_ssh_free(f);
	return NULL;
}

void
gw_ssh_reload(struct sshf *f)
{
	tell_conf(f);
}

int
gw_ssh_port(struct sshf *f)
{
	return gw_socket_port(f->lfd);
}

unsigned
gw_ssh_sessions(struct sshf *f)
{
	return f->n;
}

pid_t
gw_ssh_pid(struct sshf *f)
{
	return f->p ? gw_fproc_pid(f->p) : 0;
}

void
gw_ssh_drain(struct sshf *f)
{
	f->draining = 1;
	listening(f, 0);
	gw_ssh_active(f);
}

unsigned
gw_ssh_active(struct sshf *f)
{
	struct link *l, *next;
	unsigned n = 0;

	for (l = f->list; l != NULL; l = next) {
		next = l->next;
		if (l->sftp != NULL && sftp_busy(l->sftp) > 0)
			n++;
		else
			link_end(l, 1, 0);
	}
	return n;
}

void
gw_ssh_close_all(struct sshf *f)
{
	f->draining = 1;
	listening(f, 0);
	gw_acceptor_free(f->acc);
	f->acc = NULL;
	while (f->list != NULL)
		link_end(f->list, 1, 0);
	f->closed = 1;
	gw_fproc_close(f->p);
}

void
gw_ssh_free(struct sshf *f)
{
	int k;

	if (f == NULL)
		return;
	gw_fproc_free(f->p);	/* the front sees the end, and exits */
	if (f->lfd >= 0)
		close(f->lfd);
	for (k = 0; k < 2; k++)
		sg_wipe_free(f->keys[k]);
	free(f);
}
