/*
 * auth: credentials and failure scoring, shared by every front door.
 *
 * Passwords are stored only as argon2id hashes (libargon2); API tokens
 * only as "sha256:<hex>" of the token. Verification is constant-time
 * where it compares secrets. Nothing here logs or keeps a plaintext
 * secret beyond the call.
 *
 * sg_bans scores failed logins per key (an address and the party it
 * named, a whole address, or a party id for the per-party throttle):
 * past `failures` within the window the key is refused for ban_seconds,
 * doubling on each further ban up to max_seconds. Not thread-safe (the
 * daemon's I/O thread owns it).
 *
 * sg_netmask is an IPv4 or IPv6 network ("192.0.2.0/24", "2001:db8::/32",
 * or one address), for the networks operators exempt from address bans.
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define SG_PASSWD_HASH_MAX	160

/* An argon2id hash of pw (RFC 9106's second recommended option: t=3,
 * m=64 MiB, p=4, 16-byte random salt). 0 or -1. */
int	sg_passwd_hash(const char *pw, size_t len,
	    char out[SG_PASSWD_HASH_MAX]);
/* 1 when pw matches hash, 0 when not (or hash malformed). Slow by
 * design: call it off the I/O thread. */
int	sg_passwd_verify(const char *hash, const char *pw, size_t len);
/* 1 when hash was made with less memory or time than sg_passwd_hash
 * uses now (or cannot be read): `schoolgate config check` warns. */
int	sg_passwd_weak(const char *hash);

/* "sha256:<64 hex>" of a token. */
#define SG_TOKEN_HASH_LEN	(7 + 64 + 1)
void	sg_token_hash(const char *token, size_t len,
	    char out[SG_TOKEN_HASH_LEN]);
/* A new random token (43 base64url characters) and its hash. */
int	sg_token_new(char token[64], char hash[SG_TOKEN_HASH_LEN]);
/* Constant-time comparison of two equal-length strings. */
int	sg_secret_eq(const char *a, const char *b);

struct sg_bans;
struct sg_bans *sg_bans_new(unsigned failures, unsigned ban_seconds,
	    unsigned max_seconds);
void	sg_bans_free(struct sg_bans *);
void	sg_bans_configure(struct sg_bans *, unsigned failures,
	    unsigned ban_seconds, unsigned max_seconds);
/* Seconds the address is still banned for (0: not banned). */
unsigned sg_bans_check(struct sg_bans *, const char *addr, int64_t now);
/* Scores a failure of a sign-in as `party` (the id claimed); returns the
 * length of a ban this failure started, or 0. */
unsigned sg_bans_fail(struct sg_bans *, const char *addr, const char *party,
	    int64_t now);
/* A success as party clears the key's failure count (not an active ban)
 * when every failure in the window named that party: guesses at another
 * party are not forgiven by one's own sign-in. */
void	sg_bans_success(struct sg_bans *, const char *addr, const char *party);
/* Addresses banned at `now`. */
unsigned sg_bans_active(const struct sg_bans *, int64_t now);
/* Forgets every ban and count of the key `addr` and of the keys made of
 * it and a party (sg_bans_pair_key); returns how many were banned. */
unsigned sg_bans_lift(struct sg_bans *, const char *addr, int64_t now);
/* The key of failures from addr naming party: "addr party". */
#define SG_BANS_KEY	160
void	sg_bans_pair_key(const char *addr, const char *party,
	    char key[SG_BANS_KEY]);

struct sg_netmask {
	int		 family;	/* AF_INET, AF_INET6 */
	unsigned char	 net[16];
	unsigned	 bits;
};
/* 0, or -1 when text is not an address or address/prefix. */
int	sg_netmask_parse(const char *text, struct sg_netmask *);
/* 1 when the address (text, as the daemon prints peers; an IPv4-mapped
 * IPv6 address counts as IPv4) is in one of the n networks. */
int	sg_netmask_match(const struct sg_netmask *, size_t n,
	    const char *addr);

#endif
