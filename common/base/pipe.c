/* pipe: bounded block channel between two threads; see pipe.h. */
#include "base/pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Blocks are handed over in order, but a free block is reused most
 * recently freed first: when the reader keeps up, two or three blocks
 * carry the whole stream and stay in cache. A new process (each intake
 * process is one) then first touches those pages only, not the whole
 * pipe: on a virtual machine, a page first touched costs ~20 us.
 */
struct sg_pipe {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned char	*mem;
	size_t		*len;		/* filled bytes per block */
	size_t		 nblocks, bsize;
	size_t		*full;		/* filled blocks, in order (a ring) */
	size_t		 head;		/* its first entry */
	size_t		 count;		/* full blocks waiting */
	size_t		*spare;		/* free blocks, a stack */
	size_t		 nspare;
	size_t		 wcur;		/* the block being written */
	int		 wheld;		/* the writer holds wcur */
	size_t		 wfill;		/* bytes in it */
	size_t		 rcur;		/* the block the reader holds */
	int		 reading;
	int		 closed, aborted;
	/* syncs: asked for, passed on by a relaying reader, done */
	unsigned long	 sync_req, sync_seen, sync_done;
	int		 relay;
};

struct sg_pipe *
sg_pipe_new(size_t nblocks, size_t bsize)
{
	struct sg_pipe *p;
	size_t i;

	if (nblocks < 2 || bsize == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->mem = malloc(nblocks * bsize);
	p->len = calloc(nblocks, sizeof(*p->len));
	p->full = calloc(nblocks, sizeof(*p->full));
	p->spare = calloc(nblocks, sizeof(*p->spare));
	if (p->mem == NULL || p->len == NULL || p->full == NULL ||
	    p->spare == NULL) {
		free(p->mem);
		free(p->len);
		free(p->full);
		free(p->spare);
		free(p);
		return NULL;
	}
	p->nblocks = nblocks;
	p->bsize = bsize;
	/* block 0 on top: the first taken */
	for (i = 0; i < nblocks; i++)
		p->spare[i] = nblocks - 1 - i;
	p->nspare = nblocks;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

void
sg_pipe_free(struct sg_pipe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->mem);
	free(p->len);
	free(p->full);
	free(p->spare);
	free(p);
}

/* Under mu: the writer holds a block, waiting for one to be free; 0, or
 * -1 when aborted. */
static int
hold(struct sg_pipe *p)
{
	while (!p->aborted && !p->wheld && p->nspare == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->aborted)
		return -1;
	if (!p->wheld) {
		p->wcur = p->spare[--p->nspare];
		p->wheld = 1;
		p->wfill = 0;
	}
	return 0;
}

/* Under mu: the writer's block, len bytes of it, goes to the reader. */
static void
hand_over(struct sg_pipe *p, size_t len)
{
	p->len[p->wcur] = len;
	p->full[(p->head + p->count) % p->nblocks] = p->wcur;
	p->count++;
	p->wheld = 0;
	p->wfill = 0;
	pthread_cond_broadcast(&p->cv);
}

int
sg_pipe_write(struct sg_pipe *p, const void *buf, size_t len)
{
	const unsigned char *s = buf;

	pthread_mutex_lock(&p->mu);
	while (len > 0) {
		size_t n;

		if (hold(p) != 0) {
			pthread_mutex_unlock(&p->mu);
			return -1;
		}
		n = p->bsize - p->wfill;
		if (n > len)
			n = len;
		/* the writer's block is not visible to the reader yet, so
		 * copying without the lock would be safe; the copy is small
		 * next to the work on either side */
		memcpy(p->mem + p->wcur * p->bsize + p->wfill, s, n);
		p->wfill += n;
		s += n;
		len -= n;
		if (p->wfill == p->bsize)
			hand_over(p, p->wfill);
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void *
sg_pipe_acquire(struct sg_pipe *p)
{
	void *blk = NULL;

	pthread_mutex_lock(&p->mu);
	if (hold(p) == 0)
		blk = p->mem + p->wcur * p->bsize;
	pthread_mutex_unlock(&p->mu);
	return blk;
}

int
sg_pipe_commit(struct sg_pipe *p, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (p->aborted)
		rc = -1;
	else if (len > 0 && p->wheld)
		hand_over(p, len < p->bsize ? len : p->bsize);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

size_t
sg_pipe_block_size(const struct sg_pipe *p)
{
	return p->bsize;
}

/* Under mu: hands over the partly filled block. */
static void
hand_over_partial(struct sg_pipe *p)
{
	if (p->wheld && p->wfill > 0 && !p->aborted)
		hand_over(p, p->wfill);
}

void
sg_pipe_close(struct sg_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	hand_over_partial(p);
	p->closed = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

long
sg_pipe_read(struct sg_pipe *p, const void **out)
{
	long n;

	pthread_mutex_lock(&p->mu);
	if (p->reading) {
		p->reading = 0;		/* release the previous block */
		p->spare[p->nspare++] = p->rcur;
		pthread_cond_broadcast(&p->cv);
	}
	for (;;) {
		if (p->aborted) {
			n = -1;
			break;
		}
		if (p->count > 0) {
			p->rcur = p->full[p->head];
			*out = p->mem + p->rcur * p->bsize;
			n = (long)p->len[p->rcur];
			p->head = (p->head + 1) % p->nblocks;
			p->count--;
			p->reading = 1;
			break;
		}
		if (p->sync_done != p->sync_req) {
			/* every block before the sync has been dealt with */
			if (p->relay && p->sync_seen != p->sync_req) {
				p->sync_seen = p->sync_req;
				n = SG_PIPE_SYNC;
				break;
			}
			p->sync_done = p->sync_req;
			pthread_cond_broadcast(&p->cv);
		}
		if (p->closed) {
			n = 0;
			break;
		}
		pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

int
sg_pipe_sync(struct sg_pipe *p)
{
	unsigned long gen;
	int rc;

	pthread_mutex_lock(&p->mu);
	hand_over_partial(p);
	gen = ++p->sync_req;
	pthread_cond_broadcast(&p->cv);
	while (!p->aborted && !p->closed && p->sync_done < gen)
		pthread_cond_wait(&p->cv, &p->mu);
	rc = p->aborted || p->sync_done < gen ? -1 : 0;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
sg_pipe_relay(struct sg_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->relay = 1;
	pthread_mutex_unlock(&p->mu);
}

void
sg_pipe_abort(struct sg_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->aborted = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
