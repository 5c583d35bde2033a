/*
 * sftp_wire: SFTP requests as the core takes them. The SSH front door
 * (ssh.c, its own process) parses each SFTP v3 packet a client sends
 * (sftp_canon) and passes on a record of our own, whose every field
 * says what it is; the core (sftp.c) reads those records and nothing
 * the client wrote.
 *
 * A record, on the subsystem's socket:
 *
 *   u32 length of what follows
 *   u8  the SFTP packet type, or SFC_BROKEN
 *   fields, in the order the request has them, each a kind byte and
 *   its value:
 *     SFC_U32  u32                  SFC_U64  u64
 *     SFC_STR  u32 n, n bytes       SFC_ATTRS  SFC_ATTRS_LEN bytes
 *       (flags, size, uid, gid, permissions, atime, mtime: fixed,
 *        the extended pairs dropped)
 *
 * Which fields each request has is decided by the parser alone; fields
 * after those it knows (an extension's, a later version's) are dropped,
 * as the core has always ignored them. Strings pass as they came: the
 * core checks their length and content where it uses them. A packet
 * that does not parse, or whose length is out of bounds, becomes one
 * SFC_BROKEN record with the reason, and the front passes on nothing
 * after it: the core ends the session and journals why.
 */
#ifndef GW_SFTP_WIRE_H
#define GW_SFTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* SFTP v3's packet types and attribute flags, for the parser and the
 * handler alike */
enum {
	FXP_INIT = 1, FXP_VERSION, FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE,
	FXP_LSTAT, FXP_FSTAT, FXP_SETSTAT, FXP_FSETSTAT, FXP_OPENDIR,
	FXP_READDIR, FXP_REMOVE, FXP_MKDIR, FXP_RMDIR, FXP_REALPATH,
	FXP_STAT, FXP_RENAME, FXP_READLINK, FXP_SYMLINK,
	FXP_STATUS = 101, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS,
	FXP_EXTENDED = 200, FXP_EXTENDED_REPLY
};
#define ATTR_SIZE	0x1
#define ATTR_UIDGID	0x2
#define ATTR_PERM	0x4
#define ATTR_TIME	0x8
#define ATTR_EXT	0x80000000u

/* What clients send: 32 KiB of data plus the request's header. */
#define SFTP_MAX_PACKET	34000
/* a record is at most this much longer than its packet: a kind byte
 * for each of at most 6 fields, the attributes made whole */
#define SFC_GROWTH	64
#define SFC_MAX		(SFTP_MAX_PACKET + SFC_GROWTH)

#define SFC_BROKEN	0	/* type: one SFC_U32 field, the reason */
enum { SFC_WHY_SIZE = 1, SFC_WHY_MALFORMED };

enum { SFC_U32 = 'i', SFC_U64 = 'l', SFC_STR = 's', SFC_ATTRS = 'a' };
#define SFC_ATTRS_LEN	32

/* The record for one packet (type byte and body, len > 0 bytes, its
 * length prefix taken off) into out, length prefix included; its size.
 * cap must be at least len + 4 + SFC_GROWTH. Never fails: a packet that
 * does not parse gives an SFC_BROKEN record. */
size_t	sftp_canon(const unsigned char *pkt, size_t len, unsigned char *out,
	    size_t cap);
/* The record for a length out of bounds (0, or over SFTP_MAX_PACKET). */
size_t	sftp_canon_size(unsigned char *out, size_t cap);
/* 1 when a record from sftp_canon() is SFC_BROKEN. */
int	sftp_canon_broken(const unsigned char *rec, size_t len);
/* The records for the whole packets at the start of a client's stream
 * (in, inlen bytes), as many as fit in out (cap: none when it is less
 * than SFC_MAX + 4): the bytes written. *used: the stream's bytes
 * parsed; *broken: 1 when the last record is SFC_BROKEN, after which
 * nothing of the stream is to be parsed. */
size_t	sftp_canon_stream(const unsigned char *in, size_t inlen,
	    size_t *used, unsigned char *out, size_t cap, int *broken);

#endif
