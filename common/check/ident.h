/*
 * ident: validators for the identifiers and formats that appear in school
 * extracts (UPN, TRN, ULN, NI number, postcode, LAESTAB, URN, ISO date,
 * e-mail, UK telephone number, integer).
 *
 * Contract: every validator takes a byte string that need not be
 * NUL-terminated, never reads past len, allocates nothing and keeps no
 * state. It returns SG_VALID, SG_WARNING (acceptable, but worth telling the
 * sender, e.g. an unknown LA code) or SG_INVALID. On anything but SG_VALID
 * it fills *why with a stable rule id and a plain-English reason that never
 * contains the value itself (reports travel into logs and e-mails; the
 * value is personal data). `why` may be NULL when the caller only needs the
 * verdict.
 */
#ifndef SG_IDENT_H
#define SG_IDENT_H

#include <stddef.h>
#include <stdint.h>

enum { SG_INVALID = -1, SG_VALID = 0, SG_WARNING = 1 };

struct sg_why {
	const char	*rule;		/* e.g. "upn.check-letter" */
	char		 msg[128];	/* e.g. "the check letter should be H" */
};

/* The LA codes the DfE has published (data from the configuration). */
struct sg_lacodes {
	uint8_t		 known[1000];	/* known[code] != 0: code in use */
	int		 count;
};

/* How an LA code that is not in the list is treated. */
enum sg_la_policy { SG_LA_WARN = 0, SG_LA_STRICT, SG_LA_OFF };

/* UPN: 13 characters, check letter, LA code. A temporary UPN (letter in
 * position 13) is accepted only when allow_temporary is set. la may be
 * NULL (no LA check). */
int	sg_upn_check(const char *s, size_t len, int allow_temporary,
	    const struct sg_lacodes *la, enum sg_la_policy policy,
	    struct sg_why *why);
/* The check letter for the 12 characters after it; 0 if they are not
 * digits (and an optional alphabet letter at the end). */
char	sg_upn_check_letter(const char *twelve);

/* TRN: strict = exactly 7 digits. Otherwise older forms (RP99/12345,
 * "QTS 1234567") are normalised the way the DfE's services do: drop
 * letters, spaces, '/' and '-', require 5-7 digits, left-pad with zeros
 * to 7. out (8 bytes, may be NULL) receives the normalised form; a value
 * that needed normalising returns SG_WARNING with rule trn.normalised. */
int	sg_trn_check(const char *s, size_t len, int strict, char out[8],
	    struct sg_why *why);

int	sg_uln_check(const char *s, size_t len, struct sg_why *why);
int	sg_nino_check(const char *s, size_t len, struct sg_why *why);
int	sg_postcode_check(const char *s, size_t len, struct sg_why *why);
int	sg_laestab_check(const char *s, size_t len,
	    const struct sg_lacodes *la, enum sg_la_policy policy,
	    struct sg_why *why);
int	sg_urn_check(const char *s, size_t len, struct sg_why *why);
/* ISO 8601 calendar date YYYY-MM-DD, years 1900-2099. */
int	sg_date_check(const char *s, size_t len, struct sg_why *why);
/* Parse a date as above into days since 1970-01-01; -1 when invalid. */
int	sg_date_parse(const char *s, size_t len, int64_t *days);
int	sg_email_check(const char *s, size_t len, struct sg_why *why);
int	sg_ukphone_check(const char *s, size_t len, struct sg_why *why);
/* Optional '-', digits only, within [min, max]. */
int	sg_integer_check(const char *s, size_t len, int64_t min, int64_t max,
	    struct sg_why *why);

#endif
