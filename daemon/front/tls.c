/*
 * tls: the HTTPS front door's TLS context (TLS 1.2 and 1.3, the
 * server's certificate, client certificates asked for when a party has
 * one), made from PEM text: the core reads the files and checks them
 * (gw_tls_pems, gw_tls_ctx), and sends the text to the TLS front door's
 * process (tls_front.c), which opens no file and makes the context it
 * serves with.
 */
#include "gw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "front/https.h"
#include "seal/keys.h"

static int
accept_any_cert(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;	/* matched by fingerprint after the handshake */
}

SSL_CTX *
gw_tls_ctx(const char *cert_pem, const char *key_pem, int want_certs,
    char err[SG_ERR_MAX])
{
	SSL_CTX *ctx;
	BIO *b;
	X509 *x = NULL;
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
	/* the certificate, then its chain */
	if ((b = BIO_new_mem_buf(cert_pem, -1)) == NULL ||
	    (x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		BIO_free(b);
		sg_errf(err, "the TLS certificate is not a usable PEM "
		    "certificate");
		goto bad;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(b);
			sg_errf(err, "the TLS certificate chain is unusable");
			goto bad;
		}
	BIO_free(b);
	ERR_clear_error();	/* the end of the chain */
	b = BIO_new_mem_buf(key_pem, -1);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		EVP_PKEY_free(pk);
		sg_errf(err, "the TLS key is not the private key of the "
		    "certificate");
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

/* The certificate chain (PEM) and the key, read from the files the
 * configuration names (the key must be private to the service, chmod
 * 600), and checked by making a context of them: 0, or -1 with err.
 * The caller wipes and frees both. */
int
gw_tls_pems(const struct sg_daemon_conf *d, char **cert, char **key,
    char err[SG_ERR_MAX])
{
	SSL_CTX *ctx;
	FILE *f;
	size_t n;
	char e[SG_ERR_MAX];

	*cert = *key = NULL;
	if (d->tls_cert == NULL || d->tls_key == NULL)
		return sg_errf(err, "daemon.https needs certificate and key");
	if ((*cert = calloc(1, TLS_PEM_MAX + 1)) == NULL)
		return sg_errf(err, "out of memory");
	if ((f = fopen(d->tls_cert, "re")) == NULL) {
		sg_errf(err, "%s: %s", d->tls_cert, strerror(errno));
		goto bad;
	}
	n = fread(*cert, 1, TLS_PEM_MAX + 1, f);
	fclose(f);
	if (n > TLS_PEM_MAX) {
		sg_errf(err, "%s: longer than %d bytes", d->tls_cert,
		    TLS_PEM_MAX);
		goto bad;
	}
	if ((*key = sg_secret_file_read(d->tls_key, err)) == NULL)
		goto bad;
	if (strlen(*key) > TLS_PEM_MAX) {
		sg_errf(err, "%s: longer than %d bytes", d->tls_key,
		    TLS_PEM_MAX);
		goto bad;
	}
	if ((ctx = gw_tls_ctx(*cert, *key, 0, e)) == NULL) {
		sg_errf(err, "%s, %s: %s", d->tls_cert, d->tls_key, e);
		goto bad;
	}
	SSL_CTX_free(ctx);
	return 0;
bad:
	sg_wipe_free(*cert);
	sg_wipe_free(*key);
	*cert = *key = NULL;
	return -1;
}
