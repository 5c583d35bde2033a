/*
 * sftp: the SFTP v3 subsystem (the version OpenSSH, WinSCP, FileZilla and
 * lftp speak) over a channel's bytes, serving each party's virtual tree:
 *
 *   /send/<agreement>/<flow>/   write-only drop folders (uploads stream
 *                               into the pipeline; the verdict is the
 *                               CLOSE status)
 *   /receive/                   transfers released to the party:
 *                               <id>_<name> (.age for sealed flows);
 *                               READ at any offset, REMOVE confirms
 *   /reports/                   <id>_<name>.txt per rejected upload of
 *                               the last days
 *
 * Nothing a client names becomes a file name on disk. The module knows
 * nothing of SSH: ssh.c feeds it bytes and sends what it produces.
 */
#ifndef GW_SFTP_H
#define GW_SFTP_H

#include <stddef.h>

#include "gw.h"

struct sftp;

struct sftp_io {
	/* queue bytes for the client (never fails; the owner bounds
	 * what is outstanding through sftp_room()) */
	void	(*send)(void *arg, const void *buf, size_t len);
	/* a line for the client's terminal (SSH stderr): OpenSSH's sftp
	 * prints it, which its status codes alone would not carry */
	void	(*notice)(void *arg, const char *msg);
	/* queued bytes not yet handed to the SSH layer */
	size_t	(*pending)(void *arg);
	/* the protocol is broken beyond recovery: end the session */
	void	(*fatal)(void *arg, const char *why);
};

struct sftp *sftp_new(struct gw *, const char *party, const char *addr,
	    const struct sftp_io *, void *arg);
/* Takes up to len bytes of the front's records (front/sftp_wire.h); it
 * may take fewer while it waits (an upload over its buffer, output not
 * yet sent, a record being written): the rest must be offered again
 * after sftp_kick(). */
size_t	sftp_input(struct sftp *, const void *, size_t);
/* Output was sent, or the owner has more input: continue. */
void	sftp_kick(struct sftp *);
/* How many bytes of input would be taken now. */
size_t	sftp_room(const struct sftp *);
/* A whole request is buffered and nothing is awaited: sftp_kick() would
 * handle it once the output is below the module's mark. The owner that
 * has just sent all its output must kick again, or nothing will. */
int	sftp_ready(const struct sftp *);
/* Uploads in flight (a draining daemon waits for them). */
unsigned sftp_busy(const struct sftp *);
/* The session ended: uploads in flight are abandoned (nothing stored). */
void	sftp_free(struct sftp *);

#endif
