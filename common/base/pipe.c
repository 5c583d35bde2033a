/* pipe: bounded block channel between two threads; see pipe.h. */
#include "base/pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sg_pipe {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned char	*mem;
	size_t		*len;		/* filled bytes per block */
	size_t		 nblocks, bsize;
	size_t		 head;		/* next block the reader takes */
	size_t		 count;		/* full blocks waiting */
	size_t		 wfill;		/* bytes in the block being written */
	int		 reading;	/* reader holds block (head - 1) */
	int		 closed, aborted;
	/* syncs: asked for, passed on by a relaying reader, done */
	unsigned long	 sync_req, sync_seen, sync_done;
	int		 relay;
};

struct sg_pipe *
sg_pipe_new(size_t nblocks, size_t bsize)
{
	struct sg_pipe *p;

	if (nblocks < 2 || bsize == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->mem = malloc(nblocks * bsize);
	p->len = calloc(nblocks, sizeof(*p->len));
	if (p->mem == NULL || p->len == NULL) {
		free(p->mem);
		free(p->len);
		free(p);
		return NULL;
	}
	p->nblocks = nblocks;
	p->bsize = bsize;
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
	free(p);
}

/* Blocks not available to the writer: full ones plus the one being read. */
static size_t
busy(const struct sg_pipe *p)
{
	return p->count + (p->reading ? 1 : 0);
}

/* Index of the block the writer fills. */
static size_t
wblock(const struct sg_pipe *p)
{
	return (p->head + p->count) % p->nblocks;
}

int
sg_pipe_write(struct sg_pipe *p, const void *buf, size_t len)
{
	const unsigned char *s = buf;

	pthread_mutex_lock(&p->mu);
	while (len > 0) {
		size_t n;

		while (!p->aborted && busy(p) >= p->nblocks)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->aborted) {
			pthread_mutex_unlock(&p->mu);
			return -1;
		}
		n = p->bsize - p->wfill;
		if (n > len)
			n = len;
		/* the writer's block is not visible to the reader yet, so
		 * copying without the lock would be safe; the copy is small
		 * next to the work on either side */
		memcpy(p->mem + wblock(p) * p->bsize + p->wfill, s, n);
		p->wfill += n;
		s += n;
		len -= n;
		if (p->wfill == p->bsize) {
			p->len[wblock(p)] = p->wfill;
			p->count++;
			p->wfill = 0;
			pthread_cond_broadcast(&p->cv);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void *
sg_pipe_acquire(struct sg_pipe *p)
{
	void *blk = NULL;

	pthread_mutex_lock(&p->mu);
	while (!p->aborted && busy(p) >= p->nblocks)
		pthread_cond_wait(&p->cv, &p->mu);
	if (!p->aborted)
		blk = p->mem + wblock(p) * p->bsize;
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
	else if (len > 0) {
		p->len[wblock(p)] = len < p->bsize ? len : p->bsize;
		p->count++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

size_t
sg_pipe_block_size(const struct sg_pipe *p)
{
	return p->bsize;
}

/* Under mu: hands over the partly filled block, waiting for room. */
static void
hand_over_partial(struct sg_pipe *p)
{
	while (p->wfill > 0 && !p->aborted && busy(p) >= p->nblocks)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->wfill > 0 && !p->aborted) {
		p->len[wblock(p)] = p->wfill;
		p->count++;
		p->wfill = 0;
	}
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
		pthread_cond_broadcast(&p->cv);
	}
	for (;;) {
		if (p->aborted) {
			n = -1;
			break;
		}
		if (p->count > 0) {
			*out = p->mem + p->head * p->bsize;
			n = (long)p->len[p->head];
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
