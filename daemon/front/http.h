/*
 * http.h: what the parts of the HTTPS front door share, inside
 * daemon/front/ only: tls.c (TLS), http.c (connections, HTTP, responses,
 * routing, accepting), api.c (sign-in and the /v1 API) and webpage.c (the
 * staff web page). front/https.h is the door's interface to the daemon.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include <llhttp.h>
#include <openssl/ssl.h>

#include "gw.h"
#include "front/https.h"
#include "front/tls_wire.h"
#include "policy/session.h"

#define IN_CAP		(64 * 1024)
#define URL_MAX		2048
#define WRITE_MARK	(256 * 1024)
#define DL_CHUNK	(64 * 1024)

/* the request headers kept (others are read and dropped) */
enum { H_AUTH, H_EXPECT, H_ZIP, H_RANGE, H_CTYPE, H_COOKIE, H_CSRF,
    H_FETCHSITE, H_TE, H_NUM };

#define FORM_MAX	2048	/* a sign-in or sign-out form */
#define SESSIONS_MAX	4096
#define SESSIONS_PARTY	64	/* one party's share */
#define COOKIE_SESSION	"__Host-sg_session"
#define COOKIE_PRE	"__Host-sg_pre"

enum cstate {
	ST_HEADERS, ST_AUTH, ST_UPLOAD, ST_VERDICT, ST_WORK, ST_STREAM,
	ST_DONE
};

/* The HTTPS front door: its listener, TLS context, connections and the
 * web page's sessions. */
struct https_front {
	struct gw		*g;
	/* tls_link.c: accepting, and the TLS front door's process */
	int			 lfd;
	struct gw_acceptor	*acc;
	int			 listening;	/* may accept */
	struct gw_fproc		*p;
	char			*cert_pem, *key_pem;
	int			 want_certs;
	uint32_t		 next_id;
	struct conn		*conns;
	struct sg_sessions	*sessions;	/* the web page's sign-ins */
};

struct conn {
	uv_pipe_t		 pipe;		/* to the TLS front door */
	uv_timer_t		 idle;
	struct https_front	*front;
	struct conn		*next, *prev;
	BIO			*rb;		/* what it passed on, unread */
	int			 pre_done;	/* its preamble was read */
	unsigned char		 pre[TW_PREAMBLE];
	size_t			 prelen;
	char			 peer_sha256[65];	/* the client
							   certificate's */
	llhttp_t		 hp;
	char			 addr[48];
	int			 authed_once;
	int64_t			 accepted_at;	/* µs */
	char			 party[96];
	/* the request */
	char			 url[URL_MAX + 1];
	size_t			 urllen;
	char			 hname[32];
	size_t			 hnamelen;
	int			 hkeep;		/* index of header kept */
	char			 hv[H_NUM][512];	/* kept headers */
	size_t			 hvlen[H_NUM];
	char			 cookie[4096];	/* Cookie: other sites on
						   this host add theirs */
	size_t			 header_bytes;
	int			 header_overflow;
	int			 obs_fold;	/* a folded header line */
	const char		*exec_at;	/* what llhttp was given */
	unsigned char		 last_byte;	/* the byte before it */
	int			 msg_end;	/* llhttp saw the end */
	int			 skip_end;	/* of a request answered early */
	struct {			/* the header lines' ends */
		size_t	 pos;		/* in in[]: scanned to here */
		int	 on, prev, text, seen;
	}			 scan;
	enum cstate		 st;
	int			 paused;
	int			 reading;
	int			 close_after;
	int			 closing;
	int			 refs;
	int			 in_parser;
	const char		*cache;		/* Cache-Control */
	char			 form[FORM_MAX];	/* a web form's body */
	size_t			 formlen;
	unsigned char		 in[IN_CAP];
	size_t			 inoff, inlen;
	size_t			 wpending;
	/* upload */
	struct gw_upload	*up;
	uint64_t		 body_seen, body_max;
	int			 body_refused;
	int			 msg_done;	/* the whole request was read */
	int			 lingering;	/* answered early; draining */
	uint64_t		 linger_left;
	/* download */
	struct gw_reader	*rd;	/* read on the work pool */
	char			 dl_id[SG_ID_MAX];
	uint64_t		 dl_off, dl_end;
	int			 dl_sealed;
	struct gw_dl_memo	 dl_memo;
};

/* tls_link.c: the TLS front door's process, and accepting: each client
 * is accepted and admitted here, then handed to the front with one end of
 * a socketpair, whose other end is the connection's (http_conn_new). */
int	tls_link_start(struct https_front *, int fd, char err[SG_ERR_MAX]);
void	tls_link_listen(struct https_front *, int on);
int	tls_link_reload(struct https_front *, char err[SG_ERR_MAX]);
void	tls_link_close(struct https_front *);
void	tls_link_free(struct https_front *);
/* ... and all that http.c, api.c and webpage.c know of TLS: the bytes
 * the front passes on, decrypted, and those it is given to encrypt */
void	tls_send(struct conn *, const void *, size_t);
void	tls_written(uv_write_t *, int status);
/* plaintext in: n > 0 bytes, 0 (TLS wants more), -1 (it is over) */
int	tls_read(struct conn *, void *, size_t);
/* the client certificate's SHA-256 (hex), "" when none */
void	tls_peer_sha256(struct conn *, char hex[65]);

/* http.c */
/* A new connection's parser and request state. */
void	http_conn_init(struct conn *);
/* A connection accepted and admitted (tls_link.c): fd is the core's end
 * of its socketpair with the TLS front door. NULL: not made (the caller
 * still owns fd and the pre-sign-in slot). */
struct conn *http_conn_new(struct https_front *, int fd, const char *addr);
void	http_close(struct conn *);
void	http_pump(struct conn *);
/* Work a request waited for (it held a reference) is back: 1 when the
 * connection closed meanwhile (freed here once nothing else holds it),
 * 0 when the answer is still wanted. */
int	http_work_back(struct conn *);
void	http_finish_response(struct conn *);
void	http_dispatch(struct conn *);
void	http_send_head(struct conn *, int status, const char *ctype,
	    uint64_t len, const char *extra);
void	http_respond(struct conn *, int status, const char *ctype,
	    const char *body, size_t len, const char *extra);
/* An RFC 9457 problem: status, type slug, detail, extra headers. */
void	http_problem(struct conn *, int status, const char *type,
	    const char *detail, const char *extra);
/* What the access authority decided, as an HTTP status (one table). */
void	http_refuse(struct conn *, enum gw_acc, const char *why);
void	http_not_found(struct conn *);
int	http_split_path(char *url, char *seg[SG_VPATH_MAXSEG]);
const char *http_party_name(const struct sg_config *, const char *id);

/* api.c */
/* 1: signed in now; 0: answered or waiting (the caller returns). */
int	api_authenticate(struct conn *);
/* The connection has signed in: it leaves the pre-sign-in budget. */
void	api_signed_in(struct conn *);
void	api_route(struct conn *, char *seg[], int n, const char *query);

/* webpage.c */
void	web_route(struct conn *, char *seg[], int n, const char *query);
const struct sg_session *web_session(struct conn *);

#endif
