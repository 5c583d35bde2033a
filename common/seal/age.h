/*
 * age: the age-encryption.org/v1 file format (C2SP age.md) with OpenSSL.
 *
 * X25519 recipient stanzas, HKDF-SHA-256, an HMAC'd header, and a
 * ChaCha20-Poly1305 STREAM payload in 64 KiB chunks. Parsing is strict
 * (the C2SP test kit's failure cases all fail); scrypt and post-quantum
 * hybrid stanzas are not supported (they are skipped as unknown types, so
 * a file for them is "no match"). Armored input is accepted everywhere a
 * stream is read; output is always binary.
 *
 * Memory is bounded in both directions: one chunk plus a header of at
 * most SG_AGE_MAX_HEADER bytes. Plaintext is released only chunk by
 * chunk, each after its tag has been checked; a stream that ends without
 * its final chunk is a payload failure, never a silently short file.
 *
 * No function here keeps or logs key material beyond the object that
 * holds it; every object wipes its keys when freed.
 */
#ifndef SG_AGE_H
#define SG_AGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/io.h"

#define SG_AGE_CHUNK		65536
#define SG_AGE_TAG		16
#define SG_AGE_CCHUNK		(SG_AGE_CHUNK + SG_AGE_TAG)
#define SG_AGE_NONCE		16
#define SG_AGE_MAX_HEADER	(64 * 1024)
#define SG_AGE_RECIPIENT_LEN	63	/* "age1" + 58, with the NUL */
#define SG_AGE_IDENTITY_LEN	75	/* "AGE-SECRET-KEY-1" + 58, NUL */

/* Outcomes, named as the C2SP test kit names them. */
enum sg_age_status {
	SG_AGE_OK = 0,
	SG_AGE_ARMOR,		/* the ASCII armor does not parse */
	SG_AGE_HEADER,		/* the header does not parse */
	SG_AGE_NO_MATCH,	/* no stanza opens with the identities given */
	SG_AGE_HMAC,		/* the header MAC is wrong */
	SG_AGE_PAYLOAD,		/* a chunk fails, or the stream is cut short */
	SG_AGE_IO,		/* the source or the sink failed */
	SG_AGE_NOMEM,
};

const char	*sg_age_status_name(int);	/* "header failure", ... */

struct sg_age_identity {
	unsigned char	sk[32];
	unsigned char	pk[32];
};

int	sg_age_identity_generate(struct sg_age_identity *);
/* "AGE-SECRET-KEY-1..." (upper case, as age-keygen writes it). */
int	sg_age_identity_parse(const char *, struct sg_age_identity *);
void	sg_age_identity_format(const struct sg_age_identity *,
	    char out[SG_AGE_IDENTITY_LEN]);
/* "age1..." */
int	sg_age_recipient_parse(const char *, unsigned char pk[32]);
void	sg_age_recipient_format(const unsigned char pk[32],
	    char out[SG_AGE_RECIPIENT_LEN]);

/* Encryption. sg_age_enc_new() makes a fresh file key and nonce and
 * wraps the key to each recipient; the first call to write or finish
 * emits the header. The sink receives whole chunks (bounded memory). */
struct sg_age_enc;
struct sg_age_enc *sg_age_enc_new(const unsigned char (*pks)[32], size_t n);
int	sg_age_enc_write(struct sg_age_enc *, const void *, size_t,
	    sg_sink_fn, void *);
int	sg_age_enc_finish(struct sg_age_enc *, sg_sink_fn, void *);
void	sg_age_enc_free(struct sg_age_enc *);

/* Decryption of a stream (binary or armored), to its end. On failure the
 * sink has received exactly the chunks that authenticated; *why (may be
 * NULL) names the first problem without echoing any of the input. */
int	sg_age_decrypt(const struct sg_age_identity *ids, size_t nids,
	    sg_src_fn, void *src_arg, sg_sink_fn, void *sink_arg,
	    const char **why);

/* The header of a binary age file held in memory: parsed strictly
 * without opening it. Returns SG_AGE_OK and sets *hlen to the header's
 * length (the payload nonce follows it), or a failure. */
int	sg_age_header_len(const void *buf, size_t n, size_t *hlen,
	    const char **why);

/* A new header for the same file key with extra recipients: the old
 * header is opened with ids, its MAC checked, its stanzas kept and one
 * stanza per new recipient appended. The payload after the header is
 * unchanged, so the caller copies it, never re-encrypts it.
 * *out is malloc'd; returns SG_AGE_OK or a failure. */
int	sg_age_rewrap(const void *hdr, size_t hlen,
	    const struct sg_age_identity *ids, size_t nids,
	    const unsigned char (*add)[32], size_t nadd,
	    unsigned char **out, size_t *outlen, const char **why);

/* Random access to a binary age file on a descriptor (pread only; the
 * offset of fd is not used). */
struct sg_age_file;
int	sg_age_file_open(int fd, const struct sg_age_identity *ids,
	    size_t nids, struct sg_age_file **, const char **why);
uint64_t sg_age_file_size(const struct sg_age_file *);	/* plaintext */
uint64_t sg_age_file_header_len(const struct sg_age_file *);
/* Up to len plaintext bytes from plaintext offset off: the count, 0 at
 * the end, -1 when a chunk does not authenticate or cannot be read. */
ssize_t	sg_age_file_pread(struct sg_age_file *, void *buf, size_t len,
	    uint64_t off);
void	sg_age_file_close(struct sg_age_file *);

/* Payload geometry: plaintext size of a payload of clen bytes (after
 * header and nonce), or -1 when no well-formed payload has that size. */
int64_t	sg_age_plain_size(uint64_t clen);

#endif
