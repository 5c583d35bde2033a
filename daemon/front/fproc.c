/*
 * fproc: a front door's process, kept by the core (fproc.h).
 *
 * The front is untrusted: what it says is checked against the door's
 * rules (base/msg.c) before the door reads it; a message that breaks
 * them, a channel that fails or closes, or a queue to it past its bound
 * (it stopped reading) gets the front killed, journalled and started
 * again. The core never waits on it, except for its first word (READY)
 * at a start. Its connections end with it: their uploads in flight were
 * never acknowledged, so nothing of them is kept.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "front/fproc.h"

/* what may wait for the front to read (beyond: it is not reading, and
 * is started again) */
#define QUEUE_MAX	(8 * 1024 * 1024)
/* ... and the connections' descriptors that may wait with it */
#define QUEUE_FDS_MAX	256
/* reads of the channel per wake-up, before the loop's other work: a
 * front that never stops sending cannot keep the core from the rest */
#define CHAN_FILLS	8
/* a front that ends within this of its start is started again only
 * after it (a crash at start would otherwise spin) */
#define RESTART_QUICK_MS	2000
#define RESTART_DELAY_MS	1000
#define RESTART_FAILED_MS	5000
/* at the end, how long the front has to pass on what it holds */
#define END_WAIT_MS		2000

struct gw_fproc {
	struct gw		*g;
	const struct gw_fproc_def *def;
	void			*arg;
	int			 sandbox;
	char			 exe[4096];
	pid_t			 pid;
	int			 chan;
	uv_poll_t		*cpoll;
	int			 cevents;
	struct sg_msgbuf	*mb;
	struct sg_msgq		*q;
	unsigned		 starts;
	uint64_t		 started_ms;
	uv_timer_t		*restart;	/* also: a loss noticed in
						   the middle of work */
	const char		*lost;		/* ... and why */
	int			 closed;
};

static void lost(struct gw_fproc *, const char *why);
static void chan_events(struct gw_fproc *);

int
gw_fproc_tell(struct gw_fproc *p, uint32_t type, uint32_t peer, int fd,
    const struct sg_msgb *b)
{
	if (p->chan < 0 || p->lost != NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sg_msgq_put(p->q, type, peer, fd, b ? b->buf : NULL, b ? b->len :
	    0) != 0) {
		gw_fproc_lost_later(p, "its queue could not grow");
		return -1;
	}
	chan_events(p);
	return p->lost != NULL ? -1 : 0;
}

int
gw_fproc_up(const struct gw_fproc *p)
{
	return p->chan >= 0 && p->lost == NULL;
}

pid_t
gw_fproc_pid(const struct gw_fproc *p)
{
	return p->pid;
}

static void
on_chan(uv_poll_t *h, int status, int events)
{
	struct gw_fproc *p = h->data;
	const struct gw_fproc_def *d = p->def;
	char err[256];

	if (p->chan < 0)
		return;
	if (status < 0) {	/* libuv has stopped the handle */
		lost(p, "its channel failed");
		return;
	}
	if ((events & UV_WRITABLE) && sg_msgq_flush(p->q, p->chan) < 0) {
		lost(p, "its channel closed");
		return;
	}
	if (events & (UV_READABLE | UV_DISCONNECT)) {
		unsigned fills = 0;

		for (;;) {
			struct sg_msg m;
			ssize_t n;
			int rc;

			while ((rc = sg_msgbuf_get(p->mb, d->rules, d->nrules,
			    &m, err, sizeof(err))) == 1) {
				int bad = (m.len > 0 && sg_msg_fields_ok(m.data,
				    m.len) != 0) || m.type == d->ready ||
				    d->message(p->arg, &m) != 0;

				if (m.fd >= 0)
					close(m.fd);
				if (bad) {
					snprintf(err, sizeof(err), "it broke "
					    "the protocol (message %u)",
					    (unsigned)m.type);
					lost(p, err);
					return;
				}
				if (p->chan < 0 || p->lost != NULL)
					return;
			}
			if (rc < 0) {
				lost(p, err);
				return;
			}
			if (++fills > CHAN_FILLS)
				break;	/* the loop's other work first */
			if ((n = sg_msgbuf_fill(p->mb)) == 0) {
				lost(p, "its channel closed");
				return;
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK) {
					lost(p, "its channel failed");
					return;
				}
				break;
			}
		}
	}
	chan_events(p);
}

static void
chan_events(struct gw_fproc *p)
{
	int ev = UV_READABLE;

	if (p->chan < 0 || p->cpoll == NULL)
		return;
	if (sg_msgq_bytes(p->q) > 0) {
		int rc = sg_msgq_flush(p->q, p->chan);

		if (rc < 0 || sg_msgq_bytes(p->q) > QUEUE_MAX ||
		    sg_msgq_fds(p->q) > QUEUE_FDS_MAX) {
			/* not now: the caller may be in the middle of a
			 * connection's work */
			gw_fproc_lost_later(p, rc < 0 ? "its channel closed" :
			    "it stopped reading its channel");
			return;
		}
		if (rc > 0)
			ev |= UV_WRITABLE;
	}
	if (ev != p->cevents) {
		p->cevents = ev;
		uv_poll_start(p->cpoll, ev, on_chan);
	}
}

static void
chan_close(struct gw_fproc *p)
{
	if (p->cpoll != NULL) {
		uv_close((uv_handle_t *)p->cpoll, (uv_close_cb)free);
		p->cpoll = NULL;
	}
	if (p->chan >= 0)
		close(p->chan);
	p->chan = -1;
	sg_msgbuf_free(p->mb);
	p->mb = NULL;
	sg_msgq_free(p->q);
	p->q = NULL;
	p->cevents = 0;
}

/* The channel's reading state, and the door told that it is up. */
static int
chan_open(struct gw_fproc *p, int chan, char *err, size_t cap)
{
	p->chan = chan;
	if ((p->mb = sg_msgbuf_new(chan)) == NULL ||
	    (p->q = sg_msgq_new()) == NULL ||
	    (p->cpoll = calloc(1, sizeof(*p->cpoll))) == NULL) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	if (uv_poll_init(p->g->loop, p->cpoll, chan) != 0) {
		free(p->cpoll);
		p->cpoll = NULL;
		snprintf(err, cap, "cannot watch %s's channel", p->def->title);
		return -1;
	}
	p->cpoll->data = p;
	return 0;
}

static int
start(struct gw_fproc *p, char *err, size_t cap)
{
	char ord[16];
	char *argv[] = { (char *)p->def->argv0, (char *)p->def->flag,
	    p->sandbox ? "on" : "off", ord, NULL };
	int sv[2];

	snprintf(ord, sizeof(ord), "%u", p->starts);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, cap, "socketpair: %s", strerror(errno));
		return -1;
	}
	p->pid = gw_spawn_self(p->exe, argv, &sv[1], 1, 0, err, cap);
	close(sv[1]);
	if (p->pid < 0) {
		close(sv[0]);
		p->pid = 0;
		return -1;
	}
	p->starts++;
	p->started_ms = uv_now(p->g->loop);
	if (chan_open(p, sv[0], err, cap) != 0 ||
	    gw_child_await_ready(p->mb, p->chan, p->def->rules, p->def->nrules,
	    p->def->ready, p->def->ready_ok, p->def->ready_why, p->def->title,
	    err, cap) != 0)
		goto bad;
	fcntl(p->chan, F_SETFL, fcntl(p->chan, F_GETFL) | O_NONBLOCK);
	p->def->started(p->arg, p);
	chan_events(p);
	return 0;
bad:
	if (p->chan < 0)
		close(sv[0]);
	chan_close(p);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
	return -1;
}

static void
on_restart(uv_timer_t *t)
{
	struct gw_fproc *p = t->data;
	char err[SG_ERR_MAX], a[64], b[64];
	const char *fl[] = { a, b, NULL };

	if (p->lost != NULL) {
		const char *why = p->lost;

		p->lost = NULL;
		lost(p, why);
		return;
	}
	if (p->closed || p->chan >= 0)
		return;
	snprintf(a, sizeof(a), "SCHOOLGATE_PROCESS=%s", p->def->process);
	if (start(p, err, sizeof(err)) != 0) {
		snprintf(b, sizeof(b), "SCHOOLGATE_PID=0");
		gw_journalf(EV_PROCESS, LOG_CRIT, fl, "%s could not be started "
		    "again: %s; %s is down, trying again in %d s",
		    p->def->title, err, p->def->down, RESTART_FAILED_MS / 1000);
		uv_timer_start(p->restart, on_restart, RESTART_FAILED_MS, 0);
		return;
	}
	snprintf(b, sizeof(b), "SCHOOLGATE_PID=%d", (int)p->pid);
	gw_journalf(EV_PROCESS, LOG_NOTICE, fl, "%s was started again (pid "
	    "%d)", p->def->title, (int)p->pid);
}

void
gw_fproc_lost_later(struct gw_fproc *p, const char *why)
{
	if (p->lost != NULL || p->restart == NULL)
		return;
	p->lost = why;
	uv_timer_start(p->restart, on_restart, 0, 0);
}

/* The front ended, or broke the protocol: its connections end here too,
 * and it is started again. */
static void
lost(struct gw_fproc *p, const char *why)
{
	char how[96] = "", a[64], b[64], c[64];
	const char *fl[] = { a, b, c, NULL };
	unsigned ended;
	int status = 0;
	uint64_t now = uv_now(p->g->loop);

	p->lost = NULL;
	if (p->chan < 0 && p->pid == 0)
		return;		/* lost already */
	chan_close(p);
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		if (waitpid(p->pid, &status, 0) == p->pid)
			gw_status_text(status, how, sizeof(how));
	}
	ended = p->def->lost(p->arg);
	snprintf(a, sizeof(a), "SCHOOLGATE_PROCESS=%s", p->def->process);
	snprintf(b, sizeof(b), "SCHOOLGATE_PID=%d", (int)p->pid);
	snprintf(c, sizeof(c), "SCHOOLGATE_CONNECTIONS=%u", ended);
	gw_journalf(EV_PROCESS, LOG_ERR, fl, "%s (pid %d) ended: %s%s%s; its "
	    "%u connection(s) ended with it, and it is started again",
	    p->def->title, (int)p->pid, why, how[0] ? ", " : "", how, ended);
	p->pid = 0;
	if (p->closed)
		return;
	uv_timer_start(p->restart, on_restart, now - p->started_ms <
	    RESTART_QUICK_MS ? RESTART_DELAY_MS : 0, 0);
}

static struct gw_fproc *
alloc(struct gw *g, const struct gw_fproc_def *def, void *arg)
{
	struct gw_fproc *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->g = g;
	p->def = def;
	p->arg = arg;
	p->chan = -1;
	if ((p->restart = calloc(1, sizeof(*p->restart))) == NULL) {
		free(p);
		return NULL;
	}
	uv_timer_init(g->loop, p->restart);
	p->restart->data = p;
	return p;
}

struct gw_fproc *
gw_fproc_new(struct gw *g, const struct gw_fproc_def *def, void *arg,
    char err[SG_ERR_MAX])
{
	struct gw_fproc *p;

	if ((p = alloc(g, def, arg)) == NULL) {
		sg_errf(err, "out of memory");
		return NULL;
	}
	p->sandbox = !g->conf->cfg->daemon.sandbox_off;
	if (gw_self_exe(p->exe, sizeof(p->exe)) != 0) {
		sg_errf(err, "cannot find schoolgated's own executable: %s",
		    strerror(errno));
		goto bad;
	}
	if (start(p, err, SG_ERR_MAX) != 0)
		goto bad;
	return p;
bad:
	gw_fproc_close(p);
	gw_fproc_free(p);
	return NULL;
}

void
gw_fproc_close(struct gw_fproc *p)
{
	if (p == NULL)
		return;
	if (p->q != NULL && p->chan >= 0)
		(void)sg_msgq_flush(p->q, p->chan);
	p->closed = 1;
	if (p->cpoll != NULL) {
		uv_close((uv_handle_t *)p->cpoll, (uv_close_cb)free);
		p->cpoll = NULL;
	}
	if (p->restart != NULL) {
		uv_close((uv_handle_t *)p->restart, (uv_close_cb)free);
		p->restart = NULL;
	}
}

void
gw_fproc_free(struct gw_fproc *p)
{
	int k;

	if (p == NULL)
		return;
	chan_close(p);		/* the front sees the end, and exits */
	if (p->pid > 0) {
		/* once it has passed on what its connections were last
		 * given (a last answer), within a bound */
		for (k = 0; k < END_WAIT_MS / 10; k++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
				p->pid = 0;
				break;
			}
			nanosleep(&ts, NULL);
		}
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
	}
	free(p);
}

#ifdef SG_FUZZ_LINK
struct gw_fproc *
gw_fproc_fuzz(struct gw *g, const struct gw_fproc_def *def, void *arg,
    int chan)
{
	struct gw_fproc *p = alloc(g, def, arg);
	char err[256];

	if (p == NULL || chan_open(p, chan, err, sizeof(err)) != 0)
		abort();
	fcntl(chan, F_SETFL, fcntl(chan, F_GETFL) | O_NONBLOCK);
	p->closed = 1;		/* never started again */
	def->started(arg, p);
	chan_events(p);
	return p;
}
#endif
