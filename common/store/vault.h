/*
 * vault: the store and the transfer log together, so that they always
 * agree. The log is the source of truth: an object exists when its
 * RECEIVED record does and no DELETED or QUARANTINED record followed.
 *
 * Opening runs recovery: the log's torn tail is cut, temp files go,
 * damaged objects and objects without a RECEIVED record (written, then
 * a crash before the record was durable: never acknowledged) are moved
 * to quarantine/ and recorded; a deletion the log recorded but the
 * crash interrupted is finished.
 */
#ifndef SG_VAULT_H
#define SG_VAULT_H

#include "store/store.h"
#include "log/tlog.h"
#include "store/blind.h"

/* Objects by id, folded from the log's records. */
struct sg_objindex;
struct sg_objindex *sg_objindex_new(void);
void	sg_objindex_free(struct sg_objindex *);
/* Applies one record (RECEIVED, KEY_ADDED, DELETED, QUARANTINED). */
int	sg_objindex_apply(struct sg_objindex *, const struct sg_log_rec *);
/* 1 and the expected hash when id exists, 0 when not. */
int	sg_objindex_get(const struct sg_objindex *, const char *id,
	    unsigned char sha256[32]);
/* 1 when the log recorded id's deletion. */
int	sg_objindex_deleted(const struct sg_objindex *, const char *id);
/* Calls fn for each existing id. */
int	sg_objindex_each(const struct sg_objindex *,
	    int (*fn)(void *, const char *, const unsigned char *), void *);

struct sg_vault_opts {
	const char			*store_dir, *log_dir;
	const struct sg_note_key	*signer;
	const struct sg_age_identity	*ids;	/* storage identity, or NULL */
	size_t				 nids;
	int				 create;
	uint64_t			 checkpoint_every;
	/* the blind index (store/blind.h): its directory and key; NULL:
	 * no index is kept */
	const char			*index_dir;
	const struct sg_blind_key	*index_key;
	void	(*note)(void *, const char *);
	/* an object that failed its check at open, moved to quarantine
	 * (also reported through note) */
	void	(*quarantined)(void *, const char *object, const char *what);
	void	 *arg;
};

struct sg_vault;
int	sg_vault_open(const struct sg_vault_opts *, struct sg_vault **,
	    char err[SG_ERR_MAX]);
int	sg_vault_close(struct sg_vault *, char err[SG_ERR_MAX]);
void	sg_vault_log_info(struct sg_vault *, struct sg_log_info *);

/* Seals src to pks as a new object under a fresh transfer id and
 * records it (RECEIVED: flow, object id and size, SHA-256 of object and
 * plaintext, recipient count). Object and record are durable on return
 * 0, and only then may the sender be told. */
int	sg_vault_receive(struct sg_vault *, const unsigned char (*pks)[32],
	    size_t npks, sg_src_fn, void *, const char *flow,
	    char id[SG_ID_MAX], uint64_t *seq, struct sg_put_result *,
	    char err[SG_ERR_MAX]);
/* The same, pushed (the daemon feeds it from the checker): begin, then
 * sg_store_seal_write() any number of times, then commit or
 * sg_store_seal_abort(). The RECEIVED record also names the agreement,
 * sender and row count when m gives them (ids only, never a name). */
struct sg_vault_meta {
	const char	*agreement, *flow, *sender;
	/* the SHA-256 (hex) of the agreement file the upload was checked
	 * against, as loaded; NULL: none */
	const char	*agreement_sha256;
	uint64_t	 rows;
	size_t		 npks;
	const char	*supersedes;	/* the transfer this one replaces */
	int		 index_pending;	/* an INDEXED record is to follow
					   (RECEIVED says "index":"pending") */
	struct sg_payload *record;	/* not NULL: the RECEIVED record
					   written, copied here */
};
int	sg_vault_put_begin(struct sg_vault *, const unsigned char (*pks)[32],
	    size_t npks, struct sg_store_seal **, char err[SG_ERR_MAX]);
/* The same, sealed by another process into sg_store_seal_fd(); its
 * result adopted (sg_store_seal_adopt) before the commit. */
int	sg_vault_put_begin_remote(struct sg_vault *, struct sg_store_seal **,
	    char err[SG_ERR_MAX]);
int	sg_vault_put_commit(struct sg_vault *, struct sg_store_seal *,
	    const struct sg_vault_meta *, const char *id, uint64_t *seq,
	    struct sg_put_result *, char err[SG_ERR_MAX]);
/* The blind index of an accepted transfer (its rows' identifiers, as
 * codes): hashed under the index key, written durably to index/<id>,
 * then an INDEXED record (subjects: distinct hashes; subjects_key: the
 * key's id; subjects_sha256: the digest of the sorted hashes), copied to
 * pl. Made after the sender's acknowledgement: hashing ten million
 * identifiers takes seconds, which the upload does not wait for. */
int	sg_vault_index(struct sg_vault *, const char *id, struct sg_blind_set *,
	    struct sg_payload *pl, uint64_t *seq, char err[SG_ERR_MAX]);
/* The log's leaf of record seq, and its proof for a receipt
 * (log/tlog.h: sg_log_leaf, sg_log_prove). */
int	sg_vault_leaf(struct sg_vault *, uint64_t seq, unsigned char leaf[32],
	    uint64_t *time_us);
int	sg_vault_prove(struct sg_vault *, uint64_t seq, struct sg_log_proof *,
	    char err[SG_ERR_MAX]);
/* The index directory (opened at sg_vault_open), or -1 without one. */
int	sg_vault_index_dir(const struct sg_vault *);
/* Any other record (RELEASED, REJECTED, DOWNLOADED, CONFIRMED...),
 * durable on return 0. Thread-safe. */
int	sg_vault_record(struct sg_vault *, int type, const struct sg_payload *,
	    uint64_t *seq, char err[SG_ERR_MAX]);
/* A stored object, opened read-only; -1 with err. */
int	sg_vault_open_object(struct sg_vault *, const char *id,
	    char err[SG_ERR_MAX]);
/* Records the deletion (with its reason), then shreds and removes. */
int	sg_vault_delete(struct sg_vault *, const char *id, const char *reason,
	    char err[SG_ERR_MAX]);

#endif
