/*
 * control: the local control socket (schoolgate status). Root and the
 * daemon's own user only; never on the network.
 */
#ifndef SG_CONTROL_H
#define SG_CONTROL_H

#include <uv.h>

#include "store/store.h"

/* A request whose answer comes later. */
struct gw_ctl_req;
/* The answer to one request line (malloc'd text), or NULL when the
 * request is not known, or GW_CTL_LATER: gw_ctl_answer(req, text)
 * follows (on the loop's thread; the connection waits for it, with no
 * timeout, and outlives gw_ctl_close until then). */
typedef char *(*gw_ctl_fn)(void *arg, const char *request,
		    struct gw_ctl_req *req);
extern const char gw_ctl_later[];
#define GW_CTL_LATER	((char *)gw_ctl_later)
void		 gw_ctl_answer(struct gw_ctl_req *, char *text);

struct gw_ctl;
struct gw_ctl	*gw_ctl_new(uv_loop_t *, const char *path, gw_ctl_fn,
		    void *arg, char err[SG_ERR_MAX]);
/* Stops listening and removes the socket. */
void		 gw_ctl_close(struct gw_ctl *);

#endif
