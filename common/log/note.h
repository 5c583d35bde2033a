/*
 * note: Ed25519 keys and C2SP signed notes (c2sp.org/signed-note), the
 * format the transfer log's checkpoints use.
 *
 *   signer key:   PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>
 *   verifier key: <name>+<hash>+<base64(0x01 || public key)>
 *
 * <hash> is the first four bytes of SHA-256(name || "\n" || 0x01 ||
 * public key), in hex. A note is its text (ending in "\n"), an empty
 * line, and signature lines "— <name> <base64(hash || signature)>".
 */
#ifndef SG_NOTE_H
#define SG_NOTE_H

#include <stddef.h>
#include <stdint.h>

#define SG_NOTE_NAME_MAX	64
#define SG_NOTE_KEY_MAX		(SG_NOTE_NAME_MAX + 80)

struct sg_note_key {
	char		name[SG_NOTE_NAME_MAX + 1];
	uint32_t	hash;
	unsigned char	pub[32];
	unsigned char	seed[32];	/* zero in a verifier */
	int		has_seed;
};

/* Key names: 1..64 printable ASCII characters, no '+' and no space. */
int	sg_note_name_ok(const char *);
int	sg_note_key_generate(const char *name, struct sg_note_key *);
int	sg_note_signer_parse(const char *, struct sg_note_key *);
int	sg_note_verifier_parse(const char *, struct sg_note_key *);
void	sg_note_signer_format(const struct sg_note_key *,
	    char out[SG_NOTE_KEY_MAX]);
void	sg_note_verifier_format(const struct sg_note_key *,
	    char out[SG_NOTE_KEY_MAX]);

/* A signed note for text (which must end in "\n"): malloc'd, NUL
 * terminated; NULL on failure. */
char	*sg_note_sign(const char *text, size_t len,
	    const struct sg_note_key *);
/* Checks that note[0..n) is a well-formed note with a valid signature by
 * key. Sets *textlen to the signed text's length. Returns 0, or -1 with
 * *why set. Signatures by other keys are ignored; at least one by key is
 * required. */
int	sg_note_verify(const char *note, size_t n, const struct sg_note_key *,
	    size_t *textlen, const char **why);

#endif
