/*
 * fproc: a front door's process, as the core keeps it (fproc.c): started
 * from schoolgated's own executable, answered over one socketpair in
 * base/msg.h's typed messages, and started again when it ends or breaks
 * the protocol. The SSH front door (ssh_link.c) and the TLS front door
 * (tls_link.c) each keep one; what their messages mean is theirs.
 */
#ifndef GW_FPROC_H
#define GW_FPROC_H

#include "gw.h"
#include "base/msg.h"

struct gw_fproc;

struct gw_fproc_def {
	const char	*title;		/* "the SSH front door" */
	const char	*process;	/* the journal's SCHOOLGATE_PROCESS */
	const char	*argv0;		/* "schoolgated-ssh" */
	const char	*flag;		/* "--front-ssh" */
	const char	*down;		/* what is down meanwhile: "SFTP" */
	/* what the front may say (READY included) */
	const struct sg_msg_rule *rules;
	size_t		 nrules;
	uint32_t	 ready;		/* its first word, once */
	uint16_t	 ready_ok, ready_why;
	/* A message other than READY, checked against the rules and its
	 * fields' framing: 0, or -1 (the protocol is broken). A descriptor
	 * it carries is closed after, unless the callee set m->fd to -1. */
	int		(*message)(void *arg, struct sg_msg *m);
	/* (Again) started: send it its settings (gw_fproc_tell on p,
	 * which gw_fproc_new has not returned yet), accept connections. */
	void		(*started)(void *arg, struct gw_fproc *p);
	/* Ended or killed: stop accepting, end every connection it held;
	 * how many ended. */
	unsigned	(*lost)(void *arg);
};

/* Starts it, waiting (briefly) for READY: NULL with err when it cannot
 * start or cannot be sandboxed. */
struct gw_fproc *gw_fproc_new(struct gw *, const struct gw_fproc_def *,
	    void *arg, char err[SG_ERR_MAX]);
/* Queues a message (fd, if >= 0, is the queue's from now on). 0, or -1:
 * the front is down or its queue is past its bound (it is started again
 * on the loop's next turn; the caller carries on). */
int	gw_fproc_tell(struct gw_fproc *, uint32_t type, uint32_t peer, int fd,
	    const struct sg_msgb *);
/* 1 while a front runs and its channel is open */
int	gw_fproc_up(const struct gw_fproc *);
pid_t	gw_fproc_pid(const struct gw_fproc *);
/* From inside a message's handling: killed and started again, on the
 * loop's next turn. */
void	gw_fproc_lost_later(struct gw_fproc *, const char *why);
/* At the end: what is queued is flushed, and nothing is started again. */
void	gw_fproc_close(struct gw_fproc *);
/* Kills what runs and frees. */
void	gw_fproc_free(struct gw_fproc *);
#ifdef SG_FUZZ_LINK
/* A front that is not started: chan is the core's end of a channel
 * whose other end the caller writes as a front would. */
struct gw_fproc *gw_fproc_fuzz(struct gw *, const struct gw_fproc_def *,
	    void *arg, int chan);
#endif

#endif
