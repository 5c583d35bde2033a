/* https: the HTTPS front door, as the daemon sees it (tls.c, http.c,
 * api.c and webpage.c make it; front/http.h is what they share). */
#ifndef GW_HTTPS_H
#define GW_HTTPS_H

#include <openssl/ssl.h>

#include "gw.h"

struct https_front;
SSL_CTX	*gw_tls_ctx(const struct sg_daemon_conf *, int want_certs,
	    char err[SG_ERR_MAX]);
/* fd >= 0: a listening socket from systemd; else bind the configured
 * address. */
struct https_front *gw_https_new(struct gw *, int fd, char err[SG_ERR_MAX]);
int	 gw_https_port(struct https_front *);
void	 gw_https_drain(struct https_front *);
unsigned gw_https_active(struct https_front *);
void	 gw_https_close_all(struct https_front *);
void	 gw_https_free(struct https_front *);
int	 gw_https_reload(struct https_front *, char err[SG_ERR_MAX]);

#endif
