/*
 * tls_wire: what the TLS front door (tls_front.c, its own process) and
 * the core (tls_link.c) say to each other over their socketpair, in
 * base/msg.h's typed messages.
 *
 *   front                                   core
 *     READY (sandboxed or why not)  ------>
 *                                   <------  CONF(certificate chain, key,
 *                                            whether to ask for client
 *                                            certificates, how long a
 *                                            client has to take what the
 *                                            core wrote once the core has
 *                                            closed, how many connections
 *                                            it may hold): at start and
 *                                            at each reload
 *                                   <------  CONN(fd): a client's TCP
 *                                            connection, accepted and
 *                                            admitted by the core
 *                                   <------  PLAIN(fd), same peer id: the
 *                                            front's end of a socketpair
 *                                            for its plaintext
 *
 * After READY the front says nothing on the channel. What it has to say
 * about a connection it writes first on that connection's plaintext
 * socket, once the handshake is over: the preamble below (which client
 * certificate, if any). Then the plaintext passes both ways as it is.
 * Either side ends the connection by closing its end: the front when the
 * client does (after it has passed on what the client sent), the core
 * when it is done (the front then sends close_notify, once what the core
 * wrote has gone).
 */
#ifndef GW_TLS_WIRE_H
#define GW_TLS_WIRE_H

#include "base/msg.h"
#include "front/https.h"

enum {
	/* core -> front */
	TW_CONF = 1, TW_CONN, TW_PLAIN,
	/* front -> core */
	TW_READY = 32
};

/* fields */
enum { TWF_OK = 1, TWF_WHY, TWF_CERT, TWF_KEY, TWF_WANT_CERTS, TWF_LINGER,
	TWF_MAX };

static const struct sg_msg_rule tw_to_front[] __attribute__((unused)) = {
	{ TW_CONF, 32, 2 * TLS_PEM_MAX + 64, 0 },
	{ TW_CONN, 0, 0, 1 },
	{ TW_PLAIN, 0, 0, 1 },
};

static const struct sg_msg_rule tw_to_core[] __attribute__((unused)) = {
	{ TW_READY, 20, 512, 0 },
};

#define TW_NRULES(r)	(sizeof(r) / sizeof((r)[0]))

/* The preamble: "SGT1", then 1 and the client certificate's SHA-256, or
 * 0 and 32 zero bytes. */
#define TW_MAGIC	"SGT1"
#define TW_PREAMBLE	37

#endif
