/*
 * fuzz_sshlink: the core's side of the SSH front door (front/ssh_link.c)
 * as a compromised front would drive it: any sequence of messages of any
 * type the core accepts, for any connection, with any payload. The core
 * must neither crash nor leak nor wait on the front, and must never
 * count a party as signed in that the sign-in path did not accept (the
 * core stub's: tests/fuzz/core_stub.c). The SFTP sessions it opens are
 * served by the real sftp.c over the socketpair it makes.
 *
 * Four clients connect to its listening socket first: the core accepts
 * them as connections 1 to 4 and hands them over (CONN). Input: records
 * of [type][peer][length, 2 bytes][payload]; the type byte picks one of
 * the front's message types (and a few the front never sends), so that
 * most inputs are well framed and the payloads (fields: base/msg.h) are
 * what is fuzzed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core_stub.h"
#include "base/msg.h"
#include "front/ssh.h"
#include "front/ssh_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
struct sshf *gw_ssh_fuzz_new(struct gw *, int chan, int lfd);

static const uint32_t types[] = { SW_READY, SW_CONN, SW_PASSWORD,
	SW_PUBKEY, SW_SFTP, SW_IDLE, SW_ENDED, 99 };

#define CLIENTS	4

/* A listening socket on loopback, made once; each run connects its
 * clients to it, and the core accepts them as connections 1 to 4. */
static int
listener(int *port)
{
	static int fd = -1, p;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);

	if (fd < 0) {
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fd, 64) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &n) != 0)
			abort();
		p = ntohs(a.sin_port);
	}
	*port = p;
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* What the core sent the front: read and dropped (descriptors closed),
 * so that its queue never fills for want of a reader. */
static void
drain_front(int sock)
{
	unsigned char buf[65536];
	union {
		struct cmsghdr	c;
		char		b[CMSG_SPACE(8 * sizeof(int))];
	} cm;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
		struct cmsghdr *c;
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT);

		if (n <= 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh,
		    c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS) {
				size_t k, nfd = (c->cmsg_len - CMSG_LEN(0)) /
				    sizeof(int);
				int fd;

				for (k = 0; k < nfd; k++) {
					memcpy(&fd, CMSG_DATA(c) + k *
					    sizeof(int), sizeof(int));
					close(fd);
				}
			}
		}
	}
}

static void
settle(struct gw *g, int front)
{
	int k;

	for (k = 0; k < 16; k++) {
		int ran = uv_run(g->loop, UV_RUN_NOWAIT);

		ran |= stub_drain();
		drain_front(front);
		if (!ran)
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cfgpath = getenv("SG_FUZZ_CONFIG");
	struct gw *g = stub_gw(cfgpath ? cfgpath :
	    "tests/fuzz/conf/schoolgate.conf");
	unsigned before = g->count.connections;
	struct sshf *f;
	size_t off = 0;
	int sv[2], cl[CLIENTS], port, lfd, k;

	if (g->loop == NULL)
		g->loop = uv_default_loop();
	stub_faults = size > 0 ? data[0] & STUB_BANNED : 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	if ((lfd = listener(&port)) < 0 ||
	    (f = gw_ssh_fuzz_new(g, sv[0], lfd)) == NULL)
		abort();
	/* the clients (their connections are what the core hands over) */
	for (k = 0; k < CLIENTS; k++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)port) };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((cl[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) <
		    0 || connect(cl[k], (struct sockaddr *)&a, sizeof(a)) != 0)
			abort();
	}
	settle(g, sv[1]);
	while (off + 4 <= size) {
		uint32_t type = types[data[off] % (sizeof(types) /
		    sizeof(types[0]))];
		uint32_t peer = data[off + 1] % 5;
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];

		off += 4;
		if (len > size - off)
			len = size - off;
		if (sg_msg_send(sv[1], type, peer, -1, data + off, len) != 0)
			break;
		off += len;
		settle(g, sv[1]);
	}
	settle(g, sv[1]);
	gw_ssh_close_all(f);
	settle(g, sv[1]);
	gw_ssh_free(f);
	close(sv[1]);
	for (k = 0; k < CLIENTS; k++)
		close(cl[k]);
	settle(g, -1);
	/* every connection it admitted was given back */
	if (g->count.connections != before)
		__builtin_trap();
	return 0;
}
