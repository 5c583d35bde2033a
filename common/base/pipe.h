/*
 * pipe: a bounded byte channel between two threads (one producer, one
 * consumer), made of a fixed number of fixed-size blocks. It is how
 * decoding and checking overlap on two cores, and how memory per upload
 * stays bounded whatever the file's size: a full pipe blocks the producer.
 *
 * Either side may abort; the other then sees -1 on its next call. The
 * creator frees the pipe after both sides are done.
 */
#ifndef SG_PIPE_H
#define SG_PIPE_H

#include <stddef.h>

struct sg_pipe;

/* nblocks blocks of block_size bytes each; NULL on allocation failure. */
struct sg_pipe *sg_pipe_new(size_t nblocks, size_t block_size);
void		sg_pipe_free(struct sg_pipe *);

/* Producer: copy len bytes in, blocking while the pipe is full. 0, or -1
 * when the consumer aborted. */
int		sg_pipe_write(struct sg_pipe *, const void *, size_t);
/* Producer: no more data (flushes the partly filled block). */
void		sg_pipe_close(struct sg_pipe *);

/* Producer, zero-copy: a whole free block to fill (NULL when the consumer
 * aborted), then hand it over with its length. Do not mix with
 * sg_pipe_write on one pipe. */
void	       *sg_pipe_acquire(struct sg_pipe *);
int		sg_pipe_commit(struct sg_pipe *, size_t len);
size_t		sg_pipe_block_size(const struct sg_pipe *);

/* Consumer: the next filled block. Returns its length (> 0), 0 at the end
 * of data, -1 when the producer aborted, and SG_PIPE_SYNC (relaying
 * consumers only, see below). The block stays valid until the next call
 * to sg_pipe_read. */
#define SG_PIPE_SYNC	(-2)
long		sg_pipe_read(struct sg_pipe *, const void **);

/* Producer: hands over the partly filled block and waits until the
 * consumer has finished with every byte written so far (it has come
 * back for more). Then whatever the consumer made of those bytes may be
 * read, until the producer writes again. 0, or -1 when the pipe was
 * aborted or closed. */
int		sg_pipe_sync(struct sg_pipe *);
/* Consumer, before reading: it passes what it reads on to a pipe of its
 * own. Then a sync reaches it as SG_PIPE_SYNC once it has taken every
 * block before it; it syncs its own pipe and reads again, which tells
 * the producer. */
void		sg_pipe_relay(struct sg_pipe *);

/* Either side: stop; the other side's calls now return -1. */
void		sg_pipe_abort(struct sg_pipe *);

#endif
