/*
 * listen: the sockets both front doors open and the peer's printed
 * address, which every journal line and ban uses.
 */
#include "gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
gw_listen_socket(const char *listen_on, const char *setting,
    char err[SG_ERR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[64];
	const char *colon;
	int port, fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (listen_on == NULL || (colon = strrchr(listen_on, ':')) == NULL ||
	    (size_t)(colon - listen_on) >= sizeof(host) ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535)
		return sg_errf(err, "%s: want address:port", setting);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_on),
	    listen_on);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0)
		sl = sizeof(struct sockaddr_in);
	else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0)
		sl = sizeof(struct sockaddr_in6);
	else
		return sg_errf(err, "%s: bad address", setting);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return sg_errf(err, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    listen(fd, 511) != 0) {
		sg_errf(err, "cannot listen on %s: %s", listen_on,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
gw_socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* One IPv6 address as the daemon writes addresses: an IPv4 client on a
 * dual-stack socket is the same client as on an IPv4 one (one name, one
 * ban count). */
static void
name_in6(const struct in6_addr *a, char *buf, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, a->s6_addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

void
gw_peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	snprintf(buf, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &l) != 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    buf, (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		name_in6(&((struct sockaddr_in6 *)&ss)->sin6_addr, buf, len);
}

int
gw_addr_name(const char *text, char *buf, size_t len)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, text, &a4) == 1)
		inet_ntop(AF_INET, &a4, buf, (socklen_t)len);
	else if (inet_pton(AF_INET6, text, &a6) == 1)
		name_in6(&a6, buf, len);
	else
		return -1;
	return 0;
}

/* ---- accepting ---- */

static void on_pause_end(uv_timer_t *);

#define ACCEPT_BURST	64
#define ACCEPT_PAUSE_MS	1000

struct gw_acceptor {
	uv_poll_t	 poll;
	uv_timer_t	 pause;
	int		 lfd, on, paused, handles;
	void		(*fn)(void *, int, const char *);
	void		*arg;
};

static void
on_accept(uv_poll_t *p, int status, int events)
{
	struct gw_acceptor *a = p->data;
	int k, fd;

	(void)events;
	if (status < 0)
		return;
	for (k = 0; k < ACCEPT_BURST && a->on; k++) {
		char addr[48];

		if ((fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* the connection stays in the backlog;
				 * polling again would only spin */
				uv_poll_stop(&a->poll);
				a->paused = 1;
				uv_timer_start(&a->pause, on_pause_end,
				    ACCEPT_PAUSE_MS, 0);
			}
			return;
		}
		gw_peer_name(fd, addr, sizeof(addr));
		a->fn(a->arg, fd, addr);
	}
}

static void
on_pause_end(uv_timer_t *t)
{
	struct gw_acceptor *a = t->data;

	a->paused = 0;
	gw_acceptor_on(a, a->on);
}

struct gw_acceptor *
gw_acceptor_new(uv_loop_t *loop, int lfd, void (*fn)(void *, int,
    const char *), void *arg)
{
	struct gw_acceptor *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if (uv_poll_init(loop, &a->poll, lfd) != 0) {
		free(a);
		return NULL;
	}
	uv_timer_init(loop, &a->pause);
	a->poll.data = a->pause.data = a;
	a->handles = 2;
	a->lfd = lfd;
	a->fn = fn;
	a->arg = arg;
	return a;
}

void
gw_acceptor_on(struct gw_acceptor *a, int on)
{
	if (a == NULL)
		return;
	a->on = on;
	if (on && !a->paused)
		uv_poll_start(&a->poll, UV_READABLE, on_accept);
	else
		uv_poll_stop(&a->poll);
}

static void
on_acceptor_closed(uv_handle_t *h)
{
	struct gw_acceptor *a = h->data;

	if (--a->handles == 0)
		free(a);
}

void
gw_acceptor_free(struct gw_acceptor *a)
{
	if (a == NULL)
		return;
	a->on = 0;
	uv_close((uv_handle_t *)&a->poll, on_acceptor_closed);
	uv_close((uv_handle_t *)&a->pause, on_acceptor_closed);
}
