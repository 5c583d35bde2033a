/*
 * store: every durable write the gateway makes goes through here.
 *
 * The recipe (architecture.md): a temp file opened O_EXCL|O_NOFOLLOW,
 * full writes, fsync, a checked close, renameat2(RENAME_NOREPLACE) into
 * place, fsync of the directory. A failed fsync fails the operation and
 * is never retried (the page cache may already have dropped the data).
 *
 * Layout of a store root:
 *   tmp/          files being written (cleared at start-up)
 *   objects/      sealed objects, named by transfer id only
 *   quarantine/   anything found damaged or unaccounted for (never
 *                 deleted by the gateway)
 *
 * Functions return 0 or -1 with a message in err (never a secret, never
 * a client-supplied name).
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seal/age.h"

#define SG_ERR_MAX	256
#define SG_ID_MAX	40	/* transfer ids, with the NUL */

/* Formats a message into err (may be NULL) and returns -1; errno is
 * kept. Every module that reports through err[] uses it. */
int	sg_errf(char err[SG_ERR_MAX], const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Low-level pieces, also used by the transfer log. */
int	sg_write_full(int fd, const void *, size_t);
int	sg_fsync_dir(int dirfd);
/* A whole small file, durably and atomically: fails if name exists. */
int	sg_durable_file(int dirfd, const char *name, const void *, size_t,
	    mode_t mode, char err[SG_ERR_MAX]);
/* The same, atomically replacing an existing file of that name. */
int	sg_durable_replace(int dirfd, const char *name, const void *, size_t,
	    mode_t mode, char err[SG_ERR_MAX]);
/* mkdir -p of one level with mode, then open it O_DIRECTORY. */
int	sg_open_dir(int atfd, const char *path, int create, mode_t mode,
	    char err[SG_ERR_MAX]);

/* A transfer id: "YYYYMMDD-" and 16 random hex digits. */
void	sg_transfer_id(char out[SG_ID_MAX]);
int	sg_transfer_id_ok(const char *);

struct sg_store;

int	sg_store_open(const char *root, int create, struct sg_store **,
	    char err[SG_ERR_MAX]);
void	sg_store_close(struct sg_store *);

/* A new object being written. write() is an sg_sink_fn. */
struct sg_store_tmp {
	struct sg_store	*st;
	int		 fd;
	char		 name[48];
	uint64_t	 size;
	void		*sha;		/* SHA-256 of the bytes written */
	int		 failed;
};

int	sg_store_tmp_begin(struct sg_store *, struct sg_store_tmp *,
	    char err[SG_ERR_MAX]);
int	sg_store_tmp_write(void *tmp, const void *, size_t);
/* Makes the object durable under objects/<id>; sha256 of its bytes is
 * returned. On failure the temp file is removed and nothing is in
 * objects/. */
int	sg_store_tmp_commit(struct sg_store_tmp *, const char *id,
	    unsigned char sha256[32], char err[SG_ERR_MAX]);
void	sg_store_tmp_abort(struct sg_store_tmp *);

/* Seals everything src yields to the recipients and commits it as id.
 * plain_sha256/plain_size describe the plaintext; obj_sha256 the object. */
struct sg_put_result {
	unsigned char	plain_sha256[32];
	unsigned char	obj_sha256[32];
	uint64_t	plain_size, obj_size;
};
/* The same, pushed: begin, write (an sg_sink_fn) any number of times,
 * then commit as id or abort. Both free the writer. */
struct sg_store_seal;
int	sg_store_seal_begin(struct sg_store *, const unsigned char (*pks)[32],
	    size_t npks, struct sg_store_seal **, char err[SG_ERR_MAX]);
int	sg_store_seal_write(void *seal, const void *, size_t);
int	sg_store_seal_commit(struct sg_store_seal *, const char *id,
	    struct sg_put_result *, char err[SG_ERR_MAX]);
void	sg_store_seal_abort(struct sg_store_seal *);
/* The SHA-256 of the plaintext written so far (before commit). */
int	sg_store_seal_plain_sha256(const struct sg_store_seal *,
	    unsigned char out[32]);
/*
 * Sealing in another process (an intake process, which may open no
 * path): the store makes the temporary file and hands over its
 * descriptor (sg_store_seal_fd); the other process seals into it
 * (sg_store_seal_fd_begin, sg_store_seal_write, sg_store_seal_fd_finish)
 * and sends back what it wrote; the store adopts that result, checking
 * the size against the file, and commits or aborts as for its own seal.
 * The file's fsync and rename stay with the store.
 */
int	sg_store_seal_begin_remote(struct sg_store *, struct sg_store_seal **,
	    char err[SG_ERR_MAX]);
int	sg_store_seal_fd(const struct sg_store_seal *);
/* 0, or -1 when the file is not the size the result says (or the seal
 * has written itself). */
int	sg_store_seal_adopt(struct sg_store_seal *, const struct sg_put_result *);
/* The writing side: a seal into fd (which it does not close), with no
 * store behind it; finish ends the age stream, fills res and frees. */
int	sg_store_seal_fd_begin(int fd, const unsigned char (*pks)[32],
	    size_t npks, struct sg_store_seal **);
int	sg_store_seal_fd_finish(struct sg_store_seal *, struct sg_put_result *);
int	sg_store_put(struct sg_store *, const char *id,
	    const unsigned char (*pks)[32], size_t npks, sg_src_fn src,
	    void *src_arg, struct sg_put_result *, char err[SG_ERR_MAX]);

/* Adds recipients to an object: a new header (sg_age_rewrap) and the
 * payload bytes copied unchanged, replacing the object atomically. */
int	sg_store_add_recipients(struct sg_store *, const char *id,
	    const struct sg_age_identity *ids, size_t nids,
	    const unsigned char (*add)[32], size_t nadd,
	    unsigned char new_sha256[32], char err[SG_ERR_MAX]);

/* Deletes an object. Its header (all the wrapped copies of the file
 * key) is first overwritten and synced, so that the payload cannot be
 * decrypted from any copy of the file's blocks that survives
 * (crypto-shredding); *shredded says whether that happened. */
int	sg_store_delete(struct sg_store *, const char *id, int *shredded,
	    char err[SG_ERR_MAX]);

/* objects/<id> opened read-only (id must be a transfer id). */
int	sg_store_open_object(struct sg_store *, const char *id,
	    char err[SG_ERR_MAX]);
/* SHA-256 and size of a stored object's bytes. */
int	sg_store_hash(struct sg_store *, const char *id, unsigned char[32],
	    uint64_t *size, char err[SG_ERR_MAX]);

/* Moves objects/<id> (or a stray name) to quarantine/. */
int	sg_store_quarantine(struct sg_store *, const char *name,
	    char err[SG_ERR_MAX]);

/* Calls fn for each name in objects/ (in no particular order). */
int	sg_store_each(struct sg_store *, int (*fn)(void *, const char *),
	    void *arg, char err[SG_ERR_MAX]);

/* Start-up recovery: removes temp files, checks every object (header
 * parse, payload geometry, and with ids the last chunk's tag when the
 * gateway can open it), moves damaged ones and stray names to
 * quarantine/. note() is told about each action. */
struct sg_recovery {
	unsigned	tmp_removed;
	unsigned	checked;
	unsigned	quarantined;
};
int	sg_store_recover(struct sg_store *, const struct sg_age_identity *ids,
	    size_t nids, void (*note)(void *, const char *name,
	    const char *what), void *arg, struct sg_recovery *,
	    char err[SG_ERR_MAX]);

#endif
