/*
 * keys: the gateway's key files.
 *
 *   storage.key       age identity (AGE-SECRET-KEY-1...), mode 0600
 *   storage.pub       its recipient (age1...)
 *   log-signing.key   Ed25519 signer for checkpoints (note format), 0600
 *   log-signing.pub   its verifier key, which auditors pin
 *
 * A secret key file that is a symlink, not a regular file, or readable
 * or writable by group or others is refused with a message saying so.
 * Secrets are never printed, logged, or passed on a command line.
 */
#ifndef SG_KEYS_H
#define SG_KEYS_H

#include <stddef.h>

#include "seal/age.h"
#include "log/note.h"
#include "store/store.h"

#define SG_KEY_FILE_MAX	(64 * 1024)

/* Reads a secret file (checks above) into a malloc'd NUL-terminated
 * buffer; the caller wipes and frees it. */
char	*sg_secret_file_read(const char *path, char err[SG_ERR_MAX]);
/* Overwrites a secret string, then frees it (NULL is fine). */
void	 sg_wipe_free(char *);

/* age identities: one per line, '#' comments and blank lines ignored.
 * *ids is malloc'd (wipe with sg_identities_free). Returns the count
 * (at least 1) or -1. */
long	sg_identities_load(const char *path, struct sg_age_identity **ids,
	    char err[SG_ERR_MAX]);
void	sg_identities_free(struct sg_age_identity *, size_t);

/* A recipient list: "age1..." lines, '#' comments ignored. */
long	sg_recipients_load(const char *path, unsigned char (**pks)[32],
	    char err[SG_ERR_MAX]);

int	sg_signer_load(const char *path, struct sg_note_key *,
	    char err[SG_ERR_MAX]);
/* Verifier keys are public: no permission check. */
int	sg_verifier_load(const char *path, struct sg_note_key *,
	    char err[SG_ERR_MAX]);

/* Creates DIR (0700) with the four files above; fails rather than
 * overwrite. The public halves are returned for printing. */
/* The SFTP front's host keys in the keys directory (OpenSSH format,
 * 0600, with .pub beside them); sg_keygen writes them too. Keys that
 * exist are kept. */
#define SG_HOSTKEY_ED25519	"ssh_host_ed25519_key"
#define SG_HOSTKEY_RSA		"ssh_host_rsa_key"
int	sg_keygen_host(const char *dir, char err[SG_ERR_MAX]);
int	sg_keygen(const char *dir, const char *log_name,
	    char recipient[SG_AGE_RECIPIENT_LEN],
	    char verifier[SG_NOTE_KEY_MAX], char err[SG_ERR_MAX]);
/* The intake identity alone (intake.key, intake.pub), for a keys
 * directory made before it existed; sg_keygen writes it too. Senders
 * seal age files to its recipient; only the intake processes hold it. */
int	sg_keygen_intake(const char *dir, char recipient[SG_AGE_RECIPIENT_LEN],
	    char err[SG_ERR_MAX]);

#endif
