/*
 * tls: the HTTPS front door's TLS: the context (TLS 1.2 and 1.3, the
 * server's certificate, client certificates asked for when a party has
 * one) and the encrypted output of each connection, through memory BIOs
 * on the libuv loop.
 */
#include "gw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/codec.h"
#include "base/html.h"
#include "base/json.h"
#include "front/http.h"
#include "front/web.h"
#include "log/tlog.h"
#include "policy/session.h"
#include "policy/vpath.h"
#include "seal/keys.h"

/* ---- TLS ---- */

static int
accept_any_cert(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;	/* matched by fingerprint after the handshake */
}

SSL_CTX *
gw_tls_ctx(const struct sg_daemon_conf *d, int want_certs, char err[SG_ERR_MAX])
{
	SSL_CTX *ctx;
	char *keytext;
	BIO *b;
	EVP_PKEY *pk = NULL;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		sg_errf(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2: forward-secret AEAD suites only; 1.3 defaults are
	 * all AEAD */
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") != 1) {
		sg_errf(err, "cannot set the cipher suites");
		goto bad;
	}
	/* key exchange groups: X25519, P-256, P-384 (no finite-field
	 * groups, which TLS 1.3 would otherwise accept from ffdhe2048) */
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		sg_errf(err, "cannot set the TLS key exchange groups");
		goto bad;
	}
	if (d->tls_cert == NULL || d->tls_key == NULL) {
		sg_errf(err, "daemon.https needs certificate and key");
		goto bad;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, d->tls_cert) != 1) {
		sg_errf(err, "%s: not a usable PEM certificate chain",
		    d->tls_cert);
		goto bad;
	}
	/* the key must be private to the service (chmod 600) */
	if ((keytext = sg_secret_file_read(d->tls_key, err)) == NULL)
		goto bad;
	b = BIO_new_mem_buf(keytext, -1);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	sg_wipe_free(keytext);
	if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(pk);
		sg_errf(err, "%s: not the private key of the certificate",
		    d->tls_key);
		goto bad;
	}
	EVP_PKEY_free(pk);
	/* a session may be resumed only by the context that made it; OpenSSL
	 * refuses every resumption, fatally, when peer verification is on
	 * and no context is set (client certificate parties) */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    "schoolgate", 10);
	if (want_certs)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_cert);
	return ctx;
bad:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_written(uv_write_t *w, int status)
{
	struct conn *c = w->data;
	size_t len = *(size_t *)(w + 1);

	free(w);
	c->wpending -= len;
	c->refs--;
	if (c->closing) {
		http_close(c);
		return;
	}
	if (status < 0) {
		http_close(c);
		return;
	}
	uv_timer_again(&c->idle);
	if (c->st == ST_STREAM)
		http_pump(c);
	else if (c->st == ST_DONE && c->wpending == 0)
		http_finish_response(c);
}

/* Moves TLS output to the socket. */
void
tls_flush(struct conn *c)
{
	int n;

	while ((n = (int)BIO_ctrl_pending(c->wb)) > 0) {
		uv_write_t *w = malloc(sizeof(*w) + sizeof(size_t) + (size_t)n);
		char *buf = (char *)(w + 1) + sizeof(size_t);
		uv_buf_t ub;

		if (w == NULL) {
			http_close(c);
			return;
		}
		n = BIO_read(c->wb, buf, n);
		*(size_t *)(w + 1) = (size_t)n;
		ub = uv_buf_init(buf, (unsigned)n);
		w->data = c;
		if (uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, tls_written) !=
		    0) {
			free(w);
			http_close(c);
			return;
		}
		c->wpending += (size_t)n;
		c->refs++;
	}
}

void
tls_send(struct conn *c, const void *buf, size_t len)
{
	if (c->closing || len == 0)
		return;
	if (SSL_write(c->ssl, buf, (int)len) <= 0) {
		c->close_after = 1;
		return;
	}
	tls_flush(c);
}

/* Plaintext that has arrived: how many bytes (> 0), 0 when TLS wants
 * more from the socket, -1 when the connection is over (an alert, if
 * any, is flushed first). */
int
tls_read(struct conn *c, void *buf, size_t cap)
{
	int n, e;

	n = SSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	tls_flush(c);
	return -1;
}

/* close_notify, flushed. */
void
tls_shutdown(struct conn *c)
{
	SSL_shutdown(c->ssl);
	tls_flush(c);
}

/* The client certificate's fingerprint, or "" when there is none. */
void
tls_peer_sha256(struct conn *c, char hex[65])
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	unsigned char md[32];
	unsigned int l = 32;

	hex[0] = '\0';
	if (x == NULL)
		return;
	X509_digest(x, EVP_sha256(), md, &l);
	X509_free(x);
	sg_hex(md, 32, hex);
}
