/*
 * io: the two callback shapes every streaming module shares, so that a
 * file, a pipe or (in the daemon) a socket ring can feed any of them.
 */
#ifndef SG_IO_H
#define SG_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Source: fill buf (up to cap bytes); return the count, 0 at the end,
 * -1 on error. A source given to the intake with want_sync set may also
 * return SG_SRC_AGAIN: nothing yet, look at want_sync and read again. */
#define SG_SRC_AGAIN	(-2)
typedef ssize_t	(*sg_src_fn)(void *arg, void *buf, size_t cap);
/* Sink: take all len bytes; return 0, or -1 to stop the producer. */
typedef int	(*sg_sink_fn)(void *arg, const void *buf, size_t len);

#endif
