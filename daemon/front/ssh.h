/*
 * ssh: the SFTP front door: the SSH transport in a process of its own
 * (ssh.c), which the core starts and answers (ssh_link.c); the SFTP
 * subsystem in the core (sftp.c).
 */
#ifndef GW_SSH_H
#define GW_SSH_H

#include "gw.h"

struct sshf;

/* fd: a listening socket from systemd, or -1 to open
 * daemon.sftp.listen. */
struct sshf *gw_ssh_new(struct gw *, int fd, char err[SG_ERR_MAX]);
int	gw_ssh_port(struct sshf *);
unsigned gw_ssh_sessions(struct sshf *);
/* Stops accepting and ends sessions with no upload in flight. */
void	gw_ssh_drain(struct sshf *);
/* Sessions still finishing an upload (the rest are ended). */
unsigned gw_ssh_active(struct sshf *);
void	gw_ssh_close_all(struct sshf *);
void	gw_ssh_free(struct sshf *);
/* The settings the front uses changed (a reload). */
void	gw_ssh_reload(struct sshf *);
/* The front's process (0 while it is being started again). */
pid_t	gw_ssh_pid(struct sshf *);
/* schoolgated --front-ssh on|off ORD: the front's own main (fd 3: the
 * core); ord counts its starts. */
int	gw_ssh_front_main(int sandbox, unsigned ord);

#endif
