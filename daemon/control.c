/*
 * control: the local control socket `schoolgate status` talks to.
 *
 * A Unix stream socket (daemon.control, default /run/schoolgate/control)
 * made with mode 0600 in a directory only the service user can enter;
 * on top of that every connection's peer credentials are checked, and
 * only root and the daemon's own user are answered. Never on the
 * network. One request line ("status", "status json", "unban ADDRESS",
 * "delete ID REASON", "suspend ID DAYS REASON" or "resume ID REASON",
 * at most 192 bytes), one answer, then the daemon closes the
 * connection.
 */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE	192
#define CTL_CLIENTS	8
#define CTL_TIMEOUT_MS	5000

struct ctl_client;

/* Freed once its listener and every client connection have closed. */
struct gw_ctl {
	uv_pipe_t		 srv;
	char			 path[108];
	gw_ctl_fn		 fn;
	void			*arg;
	struct ctl_client	*clients;	/* open connections */
	unsigned		 nclients;
	int			 closing, srv_open;
};

struct ctl_client {
	uv_pipe_t		 pipe;
	uv_timer_t		 timer;
	uv_write_t		 wr;
	struct gw_ctl		*ctl;
	struct ctl_client	*next, **prevp;
	char			 line[CTL_LINE + 1];
	size_t			 len;
	char			*reply;
	int			 open_handles;
	int			 pending;	/* answered later (GW_CTL_LATER) */
};

const char gw_ctl_later[] = "";

static void
ctl_maybe_free(struct gw_ctl *ctl)
{
	if (ctl->closing && !ctl->srv_open && ctl->nclients == 0)
		free(ctl);
}

static void
client_closed(uv_handle_t *h)
{
	struct ctl_client *c = h->data;
	struct gw_ctl *ctl = c->ctl;

	if (--c->open_handles > 0)
		return;
	if ((*c->prevp = c->next) != NULL)
		c->next->prevp = c->prevp;
	ctl->nclients--;
	free(c->reply);
	explicit_bzero(c->line, sizeof(c->line));
	free(c);
	ctl_maybe_free(ctl);
}

static void
client_close(struct ctl_client *c)
{
	if (uv_is_closing((uv_handle_t *)&c->pipe))
		return;
	uv_close((uv_handle_t *)&c->pipe, client_closed);
	uv_close((uv_handle_t *)&c->timer, client_closed);
}

static void
on_written(uv_write_t *w, int status)
{
	(void)status;
	client_close(w->data);
}

/* text: malloc'd (NULL when out of memory: the connection is closed) */
static void
answer(struct ctl_client *c, char *text)
{
	uv_buf_t b;

	uv_read_stop((uv_stream_t *)&c->pipe);
	if ((c->reply = text) == NULL) {
		client_close(c);
		return;
	}
	b = uv_buf_init(text, (unsigned)strlen(text));
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0)
		client_close(c);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct ctl_client *c = h->data;

	(void)hint;
	b->base = c->line + c->len;
	b->len = CTL_LINE - c->len;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ctl_client *c = s->data;
	char *nl, *text;

	(void)b;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->line[c->len] = '\0';
	if ((nl = memchr(c->line, '\n', c->len)) == NULL) {
		if (c->len >= CTL_LINE) {
			explicit_bzero(c->line, sizeof(c->line));
			answer(c, strdup("error: request too long\n"));
		}
		return;
	}
	*nl = '\0';
	if (nl > c->line && nl[-1] == '\r')
		nl[-1] = '\0';
	text = c->ctl->fn(c->ctl->arg, c->line, (struct gw_ctl_req *)c);
	/* a request may carry a pupil's identifier (dsar): not kept */
	explicit_bzero(c->line, sizeof(c->line));
	if (text == GW_CTL_LATER) {
		/* the answer follows a durable record: no timeout, and the
		 * connection stays until gw_ctl_answer */
		uv_read_stop((uv_stream_t *)&c->pipe);
		uv_timer_stop(&c->timer);
		c->pending = 1;
		return;
	}
	if (text == NULL)
		text = strdup("error: unknown request (the daemon answers "
		    "\"status\", \"status json\", \"unban ADDRESS\", "
		    "\"delete ID REASON\", \"suspend ID DAYS REASON\" and "
		    "\"resume ID REASON\", \"dsar KIND ID [json]\" and "
		    "\"breach FROM TO [party P] [agreement A] [json]\")\n");
	answer(c, text);
}

void
gw_ctl_answer(struct gw_ctl_req *r, char *text)
{
	struct ctl_client *c = (struct ctl_client *)r;

	c->pending = 0;
	answer(c, text);
}

static void
on_timeout(uv_timer_t *t)
{
	client_close(t->data);
}

/* Root and the daemon's own user only. */
static int
peer_allowed(uv_pipe_t *p)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct gw_ctl *ctl = srv->data;
	struct ctl_client *c;

	if (status != 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->ctl = ctl;
	if ((c->next = ctl->clients) != NULL)
		c->next->prevp = &c->next;
	ctl->clients = c;
	c->prevp = &ctl->clients;
	uv_pipe_init(srv->loop, &c->pipe, 0);
	uv_timer_init(srv->loop, &c->timer);
	c->pipe.data = c->timer.data = c;
	c->open_handles = 2;
	ctl->nclients++;
	if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0) {
		client_close(c);
		return;
	}
	if (ctl->nclients > CTL_CLIENTS) {
		client_close(c);
		return;
	}
	if (!peer_allowed(&c->pipe)) {
		answer(c, strdup("error: permission denied (root or the "
		    "service user only)\n"));
		return;
	}
	uv_timer_start(&c->timer, on_timeout, CTL_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void
srv_closed(uv_handle_t *h)
{
	struct gw_ctl *ctl = h->data;

	ctl->srv_open = 0;
	ctl_maybe_free(ctl);
}

struct gw_ctl *
gw_ctl_new(uv_loop_t *loop, const char *path, gw_ctl_fn fn, void *arg,
    char err[SG_ERR_MAX])
{
	struct gw_ctl *ctl;
	struct sockaddr_un sa;
	struct stat st;
	int rc, fd;

	if (strlen(path) >= sizeof(ctl->path)) {
		sg_errf(err, "control socket %s: the path is too long", path);
		return NULL;
	}
	/* A socket left by a daemon that did not stop cleanly; anything
	 * else at that path is not ours to remove. The transfer log's lock
	 * already keeps a second daemon off the same state. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sg_errf(err, "control socket %s: something that is not "
			    "a socket is in the way", path);
			return NULL;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		sg_errf(err, "control socket: %s", strerror(errno));
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 8) != 0) {
		sg_errf(err, "control socket %s: %s (set daemon.control, or "
		    "make its directory: systemd-tmpfiles --create "
		    "schoolgate.conf)", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		sg_errf(err, "out of memory");
		close(fd);
		unlink(path);
		return NULL;
	}
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->fn = fn;
	ctl->arg = arg;
	uv_pipe_init(loop, &ctl->srv, 0);
	ctl->srv.data = ctl;
	if ((rc = uv_pipe_open(&ctl->srv, fd)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&ctl->srv, 8, on_connection)) != 0) {
		sg_errf(err, "control socket %s: %s", path, uv_strerror(rc));
		unlink(path);
		ctl->closing = 1;
		ctl->srv_open = 1;
		uv_close((uv_handle_t *)&ctl->srv, srv_closed);
		return NULL;
	}
	ctl->srv_open = 1;
	return ctl;
}

void
gw_ctl_close(struct gw_ctl *ctl)
{
	struct ctl_client *c;

	if (ctl == NULL || ctl->closing)
		return;
	ctl->closing = 1;
	unlink(ctl->path);
	/* connections still open (a status being written) end too */
	/* (an answer being written, or one still to come, finishes and
	 * closes its own connection: a DSAR answer is never cut short) */
	for (c = ctl->clients; c != NULL; c = c->next)
		if (!c->pending && c->reply == NULL)
			client_close(c);
	uv_close((uv_handle_t *)&ctl->srv, srv_closed);
}
