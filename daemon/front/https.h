/* https: the HTTPS front door, as the daemon sees it: TLS in a process
 * of its own (tls_front.c, kept by tls_link.c), HTTP in the core
 * (http.c, api.c and webpage.c; front/http.h is what they share). */
#ifndef GW_HTTPS_H
#define GW_HTTPS_H

#include <openssl/ssl.h>

#include "gw.h"

#define TLS_PEM_MAX	(64 * 1024)	/* a certificate chain, or a key */

struct https_front;
/* tls.c: the certificate chain and key the configuration names, read
 * and checked (0, or -1 with err; the caller wipes and frees both), and
 * a context made of them. */
int	 gw_tls_pems(const struct sg_daemon_conf *, char **cert, char **key,
	    char err[SG_ERR_MAX]);
SSL_CTX	*gw_tls_ctx(const char *cert_pem, const char *key_pem,
	    int want_certs, char err[SG_ERR_MAX]);
/* fd >= 0: a listening socket from systemd; else bind the configured
 * address. */
struct https_front *gw_https_new(struct gw *, int fd, char err[SG_ERR_MAX]);
int	 gw_https_port(struct https_front *);
void	 gw_https_drain(struct https_front *);
unsigned gw_https_active(struct https_front *);
void	 gw_https_close_all(struct https_front *);
void	 gw_https_free(struct https_front *);
int	 gw_https_reload(struct https_front *, char err[SG_ERR_MAX]);
/* The TLS front door's process (0 while it is being started again). */
pid_t	 gw_https_pid(struct https_front *);
/* schoolgated --front-tls on|off ORD: the TLS front door's own main
 * (tls_front.c; fd 3: the core); ord counts its starts. */
int	 gw_tls_front_main(int sandbox, unsigned ord);

#endif
