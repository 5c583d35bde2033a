/*
 * session: signed-in web sessions, in memory.
 *
 * A browser holds a random 256-bit session token in a cookie; the table
 * keeps only its SHA-256, the party, a per-session CSRF token and what
 * the party's credential was at sign-in (so a changed password or a
 * removed party ends the session). A session ends after `idle` without
 * use or `max` after sign-in, whichever is first. The table is bounded,
 * and so is each party's share of it: when either is full, the session
 * used least recently (the party's own, when its share is full) ends.
 */
#ifndef SG_SESSION_H
#define SG_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SG_SESSION_TOKEN	44	/* 43 base64url characters + NUL */

struct sg_session {
	unsigned char	 key[32];	/* SHA-256 of the cookie's token */
	char		 party[96];
	unsigned char	 bind[32];	/* the credential at sign-in */
	char		 csrf[SG_SESSION_TOKEN];
	int64_t		 created, seen;	/* µs */
};

struct sg_sessions;

struct sg_sessions *sg_sessions_new(size_t max, size_t per_party);
void	sg_sessions_free(struct sg_sessions *);

/* A new random token (32 bytes, base64url); 0 or -1. */
int	sg_session_token(char out[SG_SESSION_TOKEN]);

/* The credential binding: SHA-256 of what identifies the credential
 * (e.g. the stored password hash). */
void	sg_session_bind(const char *credential, unsigned char out[32]);

/*
 * Starts a session for party; writes the cookie's token. Returns the
 * session (its csrf filled in), or NULL when no randomness.
 */
const struct sg_session *sg_session_start(struct sg_sessions *,
	    const char *party, const unsigned char bind[32], int64_t now,
	    char token[SG_SESSION_TOKEN]);

/*
 * The live session for a cookie token, marked used at now; NULL when
 * there is none (never was, ended, or expired: an expired one is
 * removed).
 */
const struct sg_session *sg_session_find(struct sg_sessions *,
	    const char *token, int64_t now, int64_t idle_us, int64_t max_us);

/* Ends the session for token, if any. */
void	sg_session_end(struct sg_sessions *, const char *token);

/* Live sessions (expired ones still counted until found or evicted). */
size_t	sg_sessions_count(const struct sg_sessions *);

/* 1 when a and b are the same CSRF token (constant time). */
int	sg_session_csrf_ok(const struct sg_session *, const char *given);

#endif
