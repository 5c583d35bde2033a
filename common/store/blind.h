/*
 * blind: the blind index of data subjects.
 *
 * For each accepted row, the keyed hash of every identifier the manifest
 * marks for the index (UPN, former UPN, TRN, ULN):
 *
 *	HMAC-SHA-256(index key, kind ":" normalised identifier)
 *
 * truncated to SG_BLIND_LEN bytes. The kind separates the domains (a TRN
 * and a ULN with the same digits are different people). Without the
 * index key the hashes are useless: the key is a secret of its own, made
 * by `schoolgate keygen`, held by the core alone, never logged. Its id
 * (the first 8 bytes of SHA-256 of the key, in hex) is written in every
 * index file, so that a rotated key's files are known for what they are.
 *
 * One file per transfer, index/<id>: a header ("SGB1", the key id, the
 * count) and the distinct hashes, sorted, so that a look-up is a binary
 * search of a mapped file. The digest that the RECEIVED record carries
 * is SHA-256 over the sorted hashes: the index can be rebuilt and checked
 * against the signed log. The file outlives the object: "we held it from
 * ... to ..., sent it to ..., deleted it on ...".
 *
 * No global state; a set belongs to one thread.
 */
#ifndef SG_BLIND_H
#define SG_BLIND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SG_BLIND_LEN	16	/* bytes of HMAC kept: 128 bits */
#define SG_BLIND_KEYID	17	/* hex key id, with the NUL */

struct sg_blind_key {
	unsigned char	k[32];
	char		id[SG_BLIND_KEYID];
};

/* A new index key in path (mode 0600, refused if it exists). */
int	sg_blind_key_new(const char *path, char err[SG_ERR_MAX]);
/* The key from path; refused unless it is a regular file of 32 bytes
 * that only its owner can read. */
int	sg_blind_key_load(const char *path, struct sg_blind_key *,
	    char err[SG_ERR_MAX]);
void	sg_blind_key_wipe(struct sg_blind_key *);

/* The identifier kinds the index knows, and their normal forms: a UPN
 * (or a former UPN: the same kind, the same person) in capitals, a TRN
 * as its 7 digits, a ULN as its 10 digits. */
enum sg_blind_kind { SG_BLIND_UPN, SG_BLIND_TRN, SG_BLIND_ULN };
/* The normal form of s into out (cap >= 16); -1 when s cannot be one of
 * kind (the checker has already refused such a cell). */
int	sg_blind_normalise(enum sg_blind_kind, const char *s, size_t len,
	    char *out, size_t cap);
void	sg_blind_hash(const struct sg_blind_key *, enum sg_blind_kind,
	    const char *norm, unsigned char out[SG_BLIND_LEN]);

/* A compact, exact code for one identifier (kind and normal form in 64
 * bits), which the checker keeps for each row at the cost of a copy:
 * the keyed hashes are made at commit, by the holder of the key, while
 * the object is made durable. 0 when s is not one of kind (such a cell
 * has been refused already). */
uint64_t sg_blind_code(enum sg_blind_kind, const char *s, size_t len);
/* The kind and normal form (out: 16 bytes) of a code; -1: not a code. */
int	sg_blind_decode(uint64_t code, char out[16]);

/* The identifiers of one transfer, as its rows are checked: codes first,
 * then (finished) the distinct hashes. */
struct sg_blind_set;
struct sg_blind_set *sg_blind_set_new(void);
/* -1 when out of memory (the upload cannot be indexed: refuse it). */
int	sg_blind_set_add(struct sg_blind_set *, uint64_t code);
/* Codes added so far (repeats included). */
size_t	sg_blind_set_count(const struct sg_blind_set *);
/* The codes from the i-th on, as one run in memory: its length (0 past
 * the end, or once finished) and *p. For passing them on in pieces. */
size_t	sg_blind_set_span(const struct sg_blind_set *, size_t i,
	    const uint64_t **p);
/* Hashes every code under k, sorts, drops repeats: the number of
 * distinct subjects and the digest the RECEIVED record names (SHA-256
 * over the sorted hashes). About 150 ns a row; 32 bytes a row at most
 * while it runs. -1 when out of memory. */
int	sg_blind_set_finish(struct sg_blind_set *, const struct sg_blind_key *k,
	    unsigned char digest[32], uint64_t *distinct);
/* index/<id>, durably (the set finished). */
int	sg_blind_set_write(const struct sg_blind_set *, int dirfd,
	    const char *id, const char keyid[SG_BLIND_KEYID],
	    char err[SG_ERR_MAX]);
void	sg_blind_set_free(struct sg_blind_set *);

/* Whether index/<id> holds h: 1 yes, 0 no, -1 error (a file of another
 * key's id is an error: its hashes cannot be compared). */
int	sg_blind_file_has(int dirfd, const char *id,
	    const char keyid[SG_BLIND_KEYID],
	    const unsigned char h[SG_BLIND_LEN], char err[SG_ERR_MAX]);

/* A finished index file, mapped: its key id, its hashes (sorted), and
 * the digest that its RECEIVED record must name. 0, or -1 with err. */
struct sg_blind_file {
	char			 keyid[SG_BLIND_KEYID];
	const unsigned char	*h;
	uint64_t		 n;
	void			*map;
	size_t			 maplen;
};
int	sg_blind_file_open(int dirfd, const char *id, struct sg_blind_file *,
	    char err[SG_ERR_MAX]);
void	sg_blind_file_digest(const struct sg_blind_file *,
	    unsigned char digest[32]);
int	sg_blind_file_find(const struct sg_blind_file *,
	    const unsigned char h[SG_BLIND_LEN]);
void	sg_blind_file_close(struct sg_blind_file *);
/* The number of distinct hashes in n files (compared as they are: files
 * under different keys do not share hashes); UINT64_MAX when out of
 * memory. */
uint64_t sg_blind_files_distinct(const struct sg_blind_file *, size_t n);

#endif
