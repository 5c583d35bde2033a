/*
 * ssh_wire: what the SSH front door (ssh.c, its own process) and the core
 * (ssh_link.c) say to each other over their socketpair, in base/msg.h's
 * typed messages. The peer id of a message names one client connection
 * (the core numbers them, from 1); 0 is the channel itself.
 *
 *   front                                   core
 *     READY (sandboxed or why not)  ------>
 *                                   <------  CONF, HOSTKEY x2
 *                                   <------  CONN(fd, addr): a client's
 *                                            connection, accepted and
 *                                            admitted by the core
 *     PASSWORD(user, password)      ------>  AUTH(result, party)
 *     PUBKEY(user, key, proof)      ------>  AUTH(result, party)
 *     SFTP                          ------>  SFTP(fd): the subsystem's
 *                                            socket: the client's packets
 *                                            as records (sftp_wire.h) to
 *                                            the core, its replies back
 *                                   <------  NOTICE(text): to stderr
 *     IDLE                          ------>  CLOSE, unless an upload waits
 *     ENDED(reason)                 ------>
 *                                   <------  CLOSE
 *
 * Each side checks every message against its rules (base/msg.c) and
 * every field it reads; the core treats the front as untrusted: a front
 * that breaks the protocol is killed and started again.
 */
#ifndef GW_SSH_WIRE_H
#define GW_SSH_WIRE_H

#include "base/msg.h"

enum {
	/* core -> front */
	SW_CONF = 1, SW_HOSTKEY, SW_CONN, SW_AUTH, SW_NOTICE, SW_CLOSE,
	SW_SFTP_FD,
	/* front -> core */
	SW_READY = 32, SW_PASSWORD, SW_PUBKEY, SW_SFTP,
	SW_IDLE, SW_ENDED
};

/* fields */
enum { SWF_OK = 1, SWF_WHY, SWF_ADDR, SWF_USER, SWF_PASSWORD, SWF_KEY, SWF_PROOF,
	SWF_RESULT, SWF_PARTY, SWF_TEXT, SWF_REASON, SWF_GRACE, SWF_TRIES,
	SWF_IDLE, SWF_KEEPALIVE };

/* SW_ENDED's reasons: how a connection ended */
enum sw_end {
	SW_END_CLIENT = 1,	/* the client closed it, or broke SSH */
	SW_END_GRACE,		/* not signed in within the grace time */
	SW_END_TRIES,		/* out of sign-in tries */
	SW_END_KEEPALIVE,	/* stopped answering keepalives */
	SW_END_IDLE,		/* the core agreed it was idle */
	SW_END_CORE,		/* the core closed it (CLOSE, or the SFTP
				   socket's end) */
	SW_END_WINDOW,		/* the client sent beyond the SSH window */
	SW_END_MAX
};

#define SW_HOSTKEY_MAX	16384
#define SW_KEY_MAX	8192
#define SW_USER_MAX	256
#define SW_PASSWORD_MAX	1024

static const struct sg_msg_rule sw_to_front[] __attribute__((unused)) = {
	{ SW_CONF, 56, 256, 0 },
	{ SW_HOSTKEY, 6, SW_HOSTKEY_MAX, 0 },
	{ SW_CONN, 6, 64, 1 },
	{ SW_AUTH, 14, 256, 0 },
	{ SW_NOTICE, 6, 512, 0 },
	{ SW_CLOSE, 0, 0, 0 },
	{ SW_SFTP_FD, 0, 0, 1 },
};

static const struct sg_msg_rule sw_to_core[] __attribute__((unused)) = {
	{ SW_READY, 20, 512, 0 },
	{ SW_PASSWORD, 12, SW_USER_MAX + SW_PASSWORD_MAX + 16, 0 },
	{ SW_PUBKEY, 26, SW_USER_MAX + SW_KEY_MAX + 32, 0 },
	{ SW_SFTP, 0, 0, 0 },
	{ SW_IDLE, 0, 0, 0 },
	{ SW_ENDED, 14, 14, 0 },
};

#define SW_NRULES(r)	(sizeof(r) / sizeof((r)[0]))

#endif
