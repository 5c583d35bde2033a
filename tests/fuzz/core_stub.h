/*
 * core_stub.h: the core answered in memory for a front door's fuzz
 * target (core_stub.c): a gateway made from a configuration, with
 * transfers of every state on each flow, whose store, log and pipeline
 * answer later, when the target drains the queue.
 */
#ifndef SG_CORE_STUB_H
#define SG_CORE_STUB_H

#include "gw.h"

/* stub_faults: what fails */
#define STUB_LOG_FAILS	0x01	/* records are not written */
#define STUB_READ_FAILS	0x02	/* stored files cannot be read */
#define STUB_REJECT	0x04	/* uploads are rejected (and fail early) */
#define STUB_NO_THREAD	0x08	/* uploads wait for a thread */
#define STUB_QUEUE_FULL	0x10	/* nothing more can be queued */
#define STUB_BANNED	0x20	/* the address is banned */
extern unsigned stub_faults;

/* The gateway for config (a schoolgate.conf), made once. */
struct gw *stub_gw(const char *config);
/* Runs the callbacks queued (and those they queue): 1 if any ran. */
int	stub_drain(void);

#endif
