/*
 * tlog: the append-only, signed transfer log.
 *
 * A directory of segment files ("<first seq>.seg", 16 digits) and a
 * "checkpoints" file. Each record (big-endian):
 *
 *   0  "SGR1"          4  payload length L (<= SG_REC_MAX_PAYLOAD)
 *   8  sequence        16 time, microseconds since 1970 (UTC)
 *   24 type            26 zero
 *   28 payload (canonical JSON, see below)
 *   28+L SHA-256(0x00 || bytes 0..28+L)
 *
 * The checksum is the record's RFC 9162 leaf hash, so the records are
 * the leaves of the log's Merkle tree. Sequence numbers start at 1 and
 * are contiguous; times never decrease. Payloads hold ids, party,
 * agreement and flow ids, sizes, hashes, counts and reason codes, never
 * personal data: the builder accepts only [A-Za-z0-9._:@/+-] in values.
 *
 * A checkpoint is a C2SP signed note: "<origin>\n<size>\n<base64 root>\n",
 * an empty line, and an Ed25519 signature line; the checkpoints file is
 * the notes, each followed by an empty line.
 *
 * Appends are durable when sg_log_append() returns; concurrent callers
 * are group-committed (one fdatasync per batch). A failed write or sync
 * makes the log refuse every later append (never retried).
 */
#ifndef SG_TLOG_H
#define SG_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "log/merkle.h"
#include "log/note.h"
#include "store/store.h"

#define SG_REC_HDR		28
#define SG_REC_SUM		32
#define SG_REC_MAX_PAYLOAD	4096

enum sg_rec_type {
	SG_REC_RECEIVED = 1,
	SG_REC_REJECTED,
	SG_REC_RELEASED,
	SG_REC_DOWNLOADED,
	SG_REC_DELETED,
	SG_REC_AGREEMENT_STATUS,
	SG_REC_CONFIG_LOADED,
	SG_REC_KEY_ADDED,
	SG_REC_QUARANTINED,
	SG_REC_LOG_REPAIRED,
	SG_REC_CONFIRMED,	/* a recipient confirmed receipt */
	SG_REC_WITHDRAWN,	/* taken back by its sender, or an operator */
	SG_REC_DSAR_QUERY,	/* a subject access search (a keyed hash,
				   never the identifier) */
	SG_REC_INDEXED,		/* a transfer's blind index, its digest */
	SG_REC_TYPE_MAX = SG_REC_INDEXED
};

const char	*sg_rec_type_name(int);
int		 sg_rec_type_parse(const char *);

/* Canonical payloads: {"key":value,...} with keys added in ascending
 * order, values strings of safe characters or unsigned integers. */
struct sg_payload {
	char	buf[SG_REC_MAX_PAYLOAD];
	size_t	len;
	int	bad;
	char	last[32];
};

void	sg_payload_init(struct sg_payload *);
void	sg_payload_str(struct sg_payload *, const char *key, const char *v);
void	sg_payload_u64(struct sg_payload *, const char *key, uint64_t v);
void	sg_payload_hex(struct sg_payload *, const char *key, const void *,
	    size_t);
int	sg_payload_end(struct sg_payload *);	/* 0 when well-formed */
int	sg_payload_check(const char *, size_t);	/* 0 when canonical */
/* The value of key (string quotes removed). Returns 0, or -1. */
int	sg_payload_get(const char *, size_t, const char *key, char *out,
	    size_t cap);

struct sg_log_rec {
	uint64_t	 seq, time_us;
	int		 type;
	const char	*payload;
	size_t		 plen;
	unsigned char	 leaf[32];
	char		 segment[32];
	uint64_t	 offset;
};

/* Reading (verify, show, recovery). */
struct sg_log_reader;
int	sg_log_reader_open(const char *dir, struct sg_log_reader **,
	    char err[SG_ERR_MAX]);
/* 1 with a record, 0 at the end, -1 with err naming segment and offset. */
int	sg_log_reader_next(struct sg_log_reader *, struct sg_log_rec *,
	    char err[SG_ERR_MAX]);
void	sg_log_reader_close(struct sg_log_reader *);

struct sg_checkpoint {
	uint64_t	size;
	unsigned char	root[32];
	uint64_t	offset;		/* in the checkpoints file */
	char		origin[SG_NOTE_NAME_MAX + 1];
};

/* Parses every checkpoint note in dir/checkpoints and checks each
 * signature with key. *tail gets the length of a trailing incomplete
 * note (0 when none). Returns the count, or -1 with err. */
long	sg_checkpoints_read(const char *dir, const struct sg_note_key *key,
	    struct sg_checkpoint **, uint64_t *tail, char err[SG_ERR_MAX]);

/* Writing. */
struct sg_log_opts {
	const char			*dir;
	const struct sg_note_key	*signer;
	uint64_t			 checkpoint_every;	/* records */
	unsigned			 checkpoint_ms;
	uint64_t			 segment_bytes;
	int				 create;
	/* each record found at open, in order */
	void	(*on_record)(void *, const struct sg_log_rec *);
	/* what recovery did ("truncated a torn tail ...") */
	void	(*note)(void *, const char *);
	void	 *arg;
};

struct sg_log;
int	sg_log_open(const struct sg_log_opts *, struct sg_log **,
	    char err[SG_ERR_MAX]);
/* Durable on return 0 (*seq set). Thread-safe. */
int	sg_log_append(struct sg_log *, int type, const struct sg_payload *,
	    uint64_t *seq, char err[SG_ERR_MAX]);
/* A checkpoint of everything durable, unless the last one covers it. */
int	sg_log_checkpoint(struct sg_log *, char err[SG_ERR_MAX]);
/* What an operator asks about a running log (schoolgate status). */
struct sg_log_info {
	uint64_t	records;	/* durable */
	uint64_t	bytes;		/* segment files on disk */
	uint64_t	segments;
	uint64_t	cp_size;	/* last checkpoint's tree size, 0: none */
	int64_t		cp_time;	/* its wall-clock time (s), 0: unknown */
	unsigned char	cp_root[32];
};
void	sg_log_info(struct sg_log *, struct sg_log_info *);
/* The leaf hash and time (µs) of durable record seq; -1 when there is
 * none (or it was not kept: memory). time_us may be NULL. */
int	sg_log_leaf(struct sg_log *, uint64_t seq, unsigned char leaf[32],
	    uint64_t *time_us);
/* A receipt's proof: record seq's leaf, and its inclusion proof against
 * the latest checkpoint (RFC 9162 2.1.3), with that checkpoint's signed
 * note (malloc'd; the note as the checkpoints file holds it). 0; 1 when
 * no checkpoint covers seq yet (leaf set, the rest empty); -1 with err.
 * Hashes the checkpoint's leaves again: O(records), off the I/O loop,
 * and without holding the log's lock. */
struct sg_log_proof {
	uint64_t	seq, size;
	unsigned char	leaf[32];
	unsigned char	proof[SG_MERKLE_MAX_PROOF][32];
	size_t		plen;
	char		*checkpoint;
};
int	sg_log_prove(struct sg_log *, uint64_t seq, struct sg_log_proof *,
	    char err[SG_ERR_MAX]);
/* Writes a final checkpoint and closes; returns -1 if that failed. */
int	sg_log_close(struct sg_log *, char err[SG_ERR_MAX]);

#endif
