/* https: the HTTPS front door (see https.c). */
#ifndef GW_HTTPS_H
#define GW_HTTPS_H

#include <openssl/ssl.h>

#include "gw.h"

struct hs;
SSL_CTX	*gw_tls_ctx(const struct sg_daemon_conf *, int want_certs,
	    char err[SG_ERR_MAX]);
/* fd >= 0: a listening socket from systemd; else bind the configured
 * address. */
struct hs *gw_https_new(struct gw *, int fd, char err[SG_ERR_MAX]);
int	 gw_https_port(struct hs *);
void	 gw_https_drain(struct hs *);
unsigned gw_https_active(struct hs *);
void	 gw_https_close_all(struct hs *);
void	 gw_https_free(struct hs *);
int	 gw_https_reload(struct hs *, char err[SG_ERR_MAX]);

#endif
