/*
 * config: the configuration model (parties, agreements, flows, manifests,
 * LA codes) and its loader.
 *
 * Files are parsed with libconfig. One daemon configuration file
 * (schoolgate.conf) names a parties file, a directory of agreement files
 * (*.conf) and the LA code list; relative names are taken from the
 * configuration file's directory.
 *
 * Contract: sg_config_load() either returns a complete configuration or
 * NULL; it never returns a half-loaded one. Every problem it finds is
 * appended to `diag` as "file:line: setting: message", all of them, not
 * only the first. The returned configuration owns all of its memory and is
 * released with sg_config_free(); it is read-only afterwards and may be
 * shared between threads.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "policy/auth.h"
#include "check/ident.h"

enum sg_validator {
	SG_V_UPN, SG_V_UPN_OR_TEMP, SG_V_TRN, SG_V_ULN, SG_V_NINO,
	SG_V_POSTCODE, SG_V_DATE, SG_V_EMAIL, SG_V_UKPHONE, SG_V_LAESTAB,
	SG_V_URN, SG_V_INTEGER, SG_V_CODE, SG_V_TEXT
};

/* Name of a validator as written in the configuration ("upn", ...). */
const char	*sg_validator_name(enum sg_validator v);

struct sg_column {
	char			*name;
	enum sg_validator	 type;
	int			 required;	/* the column must be present */
	int			 allow_empty;	/* a cell may be empty */
	int64_t			 min, max;	/* integer */
	size_t			 max_length;	/* text, in characters */
	char			**codes;	/* code */
	size_t			 ncodes;
	int			 trn_strict;	/* trn: 7 digits only */
	enum sg_la_policy	 la_policy;	/* upn, laestab */
	/* special category data (UK GDPR Art. 9): the agreement must name
	 * an Article 9 condition for the manifest to load */
	int			 special_category;
	/* its identifiers go into the blind index of data subjects
	 * (store/blind.h): upn, upn-or-temporary, trn and uln columns */
	int			 index;
};

enum sg_injection { SG_INJ_REJECT, SG_INJ_ALLOW_NUMERIC };

struct sg_manifest {
	struct sg_column	*columns;
	size_t			 ncolumns;
	int			 key;		/* column index, -1: none */
	int			 key_unique;
	uint64_t		 max_rows;
	int			 order_enforced;
	enum sg_injection	 injection;
	size_t			 max_field_bytes;
	size_t			 max_errors;	/* errors listed in a report */
	const struct sg_lacodes	*la;		/* owned by the config */
	/* the sending school's own number in each row (sender_school):
	 * none, the columns that hold its LA code and establishment number
	 * (LEA, Estab), or the one with its 7-digit LAESTAB. The sender's
	 * id says which school it is ("school:3414001"). */
	enum { SG_SCHOOL_NONE, SG_SCHOOL_LA_ESTAB, SG_SCHOOL_LAESTAB }
				 school_check;
	int			 school_la, school_estab, school_laestab;
};

#define SG_METHOD_SFTP		0x1
#define SG_METHOD_HTTPS		0x2

#define SG_ENC_ZIP_AES		0x1
#define SG_ENC_ZIP_LEGACY	0x2	/* ZipCrypto: weak, opt-in only */
#define SG_ENC_AGE		0x4

enum sg_format { SG_FORMAT_CSV, SG_FORMAT_OPAQUE };
/* How often a flow's files are agreed to come. A term is autumn
 * (September to December), spring (January to March) or summer (April
 * to August); a year is the school year, September to August. */
enum sg_frequency { SG_FREQ_ADHOC, SG_FREQ_DAILY, SG_FREQ_WEEKLY,
	SG_FREQ_MONTHLY, SG_FREQ_TERMLY, SG_FREQ_ANNUALLY };
enum sg_delivery { SG_DELIVERY_GATEWAY, SG_DELIVERY_SEALED };

/* Limits on what an intake container may produce. */
struct sg_limits {
	uint64_t	max_bytes;	/* uncompressed bytes of the one entry */
	uint64_t	max_ratio;	/* uncompressed : compressed */
	unsigned	max_entries;
	unsigned	max_name;	/* entry-name length */
};

struct sg_flow {
	char			*id;
	char			 appendix;	/* 'A' or 'B' */
	char			*description;
	char			**senders;
	size_t			 nsenders;
	char			**recipients;
	size_t			 nrecipients;
	unsigned		 methods;
	enum sg_format		 format;
	unsigned		 encryptions;
	char			*file_pattern;	/* fnmatch(3) glob, or NULL */
	char			**types;	/* opaque: "pdf", "docx", ... */
	size_t			 ntypes;
	char			*frequency;
	enum sg_frequency	 period;	/* from frequency */
	unsigned		 per_period;	/* accepted files a sender may
						   send in one period */
	int			 frequency_refuse; /* else a warning */
	int			 retention_days;
	int			 retention_after_confirmed; /* else release */
	int64_t			 delete_by;	/* days since epoch, -1: none */
	enum sg_delivery	 delivery;
	struct sg_limits	 limits;
	struct sg_manifest	 manifest;	/* format csv */
	const char		*file;		/* where it was defined */
	int			 line;
};

enum sg_agreement_status {
	SG_AGR_ACTIVE, SG_AGR_SUSPENDED, SG_AGR_EXPIRED
};

struct sg_agreement_party {
	char	*party;
	char	*role;		/* "controller" or "processor" */
};

/* UK GDPR Article 6(1) and 9(2) conditions, one bit per letter: bit 0
 * is (a). */
struct sg_lawful_basis {
	unsigned		 article6;	/* (a)-(f) */
	unsigned		 article9;	/* (a)-(j) */
	char			*gateway;	/* the legal gateway, as worded */
};

struct sg_agreement {
	char			*id;
	char			*title;
	struct sg_lawful_basis	 lawful_basis;
	struct sg_agreement_party *parties;
	size_t			 nparties;
	int64_t			 start, review, end;	/* days since epoch */
	enum sg_agreement_status status;
	int64_t			 suspended_until;	/* -1 when not suspended */
	/* on_end = "keep": held data stays to this day (inclusive) after
	 * the agreement ends; -1 (on_end = "delete", the default): it is
	 * deleted when the agreement ends */
	int64_t			 keep_until;
	int			 review_suspends; /* review_overdue = suspend */
	/* a suspension by a party or an operator lasts at most this many
	 * days; then the agreement resumes, or ends (suspension_expiry) */
	unsigned		 max_suspension_days;
	int			 suspension_ends;
	struct sg_flow		*flows;
	size_t			 nflows;
	char			*file;
	char			 sha256[65];	/* of the file, as parsed */
};

struct sg_party {
	char	*id;		/* "school:3204001", "org:sil" */
	char	*name;
	char	*age_recipient;	/* optional age1... public key */
	/* HTTPS credentials: an argon2id hash, API token hashes
	 * ("sha256:<hex>"), client-certificate SHA-256 fingerprints */
	char	*password;
	char	**tokens;
	size_t	 ntokens;
	char	**cert_sha256;
	size_t	 ncerts;
	/* SFTP: authorised public keys, kept as "type base64" (ed25519,
	 * ecdsa, rsa of 3072 bits or more), and whether the password
	 * above may also be used over SFTP */
	char	**ssh_keys;
	size_t	 nssh_keys;
	int	 sftp_password;
};

/* Where schoolgated listens for schoolgate status unless daemon.control
 * says otherwise. */
#define SG_CONTROL_DEFAULT	"/run/schoolgate/control"

/* The daemon's own settings (schoolgate.conf, group "daemon"); paths
 * resolved against the configuration file's directory. */
struct sg_daemon_conf {
	char		*state_dir;	/* store/, log/, meta/ */
	char		*keys_dir;	/* default <state_dir>/keys */
	char		*secrets;	/* ZIP passwords (0600), optional */
	char		*control;	/* local socket for schoolgate status */
	char		*https_listen;	/* "address:port" */
	char		*tls_cert, *tls_key;
	int		 web;		/* serve the web page for staff */
	unsigned	 session_idle_seconds;	/* web sign-in, inactivity */
	unsigned	 session_max_seconds;	/* web sign-in, at most */
	char		*sftp_listen;	/* "address:port", or NULL: no SFTP
					   front unless systemd passes one */
	unsigned	 sftp_grace_seconds;	/* to sign in */
	unsigned	 sftp_auth_tries;	/* per connection */
	unsigned	 sftp_handles;		/* open per session */
	unsigned	 sftp_idle_seconds;
	unsigned	 sftp_keepalive_seconds;	/* quiet client: ask */
	unsigned	 workers;
	/* sandbox = "off": the intake processes run without Landlock and
	 * seccomp (a kernel without them); the journal says so at every
	 * start. Default "on": the daemon refuses to start without them. */
	int		 sandbox_off;
	unsigned	 max_connections, max_unauth;	/* max_unauth: each front */
	unsigned	 max_unauth_addr;	/* ... and one address's share */
	unsigned	 header_bytes, idle_seconds, drain_seconds;
	unsigned	 upload_buffer;
	unsigned	 queued_uploads;	/* waiting for a thread */
	unsigned	 uploads_per_party;	/* threads one party may hold;
						   0: all but one */
	unsigned	 upload_stall_seconds;	/* an upload this long without
						   UPLOAD_STALL_BYTES ends */
	unsigned	 ban_failures;		/* per address and party */
	unsigned	 ban_address_failures;	/* per address, any party */
	unsigned	 ban_seconds, ban_max_seconds;
	unsigned	 ban_party_failures;	/* per party, any address */
	struct sg_netmask *ban_exempt;		/* never banned by address */
	size_t		 nban_exempt;
	unsigned	 retention_check_seconds, day_seconds;
	unsigned	 report_days;	/* rejected uploads' reports kept */
	unsigned	 checkpoint_records, checkpoint_seconds;
};

/* what an upload must bring in each upload_stall_seconds */
#define SG_UPLOAD_STALL_BYTES	4096

struct sg_config {
	char			*path;		/* the schoolgate.conf read */
	char			 conf_sha256[65], parties_sha256[65];
	char			 la_sha256[65];	/* "" without la_codes */
	struct sg_party		*parties;
	size_t			 nparties;
	struct sg_agreement	*agreements;
	size_t			 nagreements;
	struct sg_lacodes	 la;
	size_t			 max_errors;
	struct sg_daemon_conf	 daemon;
};

/* Load `path` (a file, or a directory holding schoolgate.conf). */
struct sg_config *sg_config_load(const char *path, struct sg_diag *diag);
void		 sg_config_free(struct sg_config *cfg);
/* The agreements in force as one SHA-256 (hex): over a line "id sha256\n"
 * per agreement, in load order (the files' names, sorted). The transfer
 * log's CONFIG_LOADED records it; `schoolgate config check --hashes`
 * prints the lines. */
int		 sg_config_set_sha256(const struct sg_config *, char out[65]);

/* Why a transfer is withdrawn by its sender or deleted by an operator:
 * the only words the transfer log takes for it (free text could name a
 * pupil). */
#define SG_WITHDRAW_REASONS	"sent-in-error, wrong-recipient, " \
	"inaccurate, superseded, other"
int		 sg_withdraw_reason_ok(const char *);
/* Why an agreement is suspended (seed 002 s.10: "if they consider that
 * security has been breached or the Agreement has been breached"), and
 * why it is resumed. */
#define SG_SUSPEND_REASONS	"security-breach, agreement-breach, " \
	"inaccurate-data, review, other"
#define SG_RESUME_REASONS	"resolved, reviewed, other"
int		 sg_suspend_reason_ok(const char *);
int		 sg_resume_reason_ok(const char *);
/* The lawful basis as one line: "Art. 6(1)(c), 6(1)(e); Art. 9(2)(g);
 * <gateway>". */
void		 sg_lawful_basis_format(const struct sg_lawful_basis *,
			    char *buf, size_t cap);
/* The first day (days since epoch) of the period of `freq` that holds
 * `day`, and of the next one; ad hoc: -1. */
int64_t		 sg_period_start(enum sg_frequency, int64_t day, int64_t *next);

const struct sg_party	  *sg_config_party(const struct sg_config *,
			    const char *id);
const struct sg_agreement *sg_config_agreement(const struct sg_config *,
			    const char *id);
const struct sg_flow	  *sg_agreement_flow(const struct sg_agreement *,
			    const char *id);

/* The agreement's effective status on `today` (days since epoch): an
 * active agreement past its end date is expired, one suspended until a
 * date that has passed is active again, one not yet started is
 * suspended. */
enum sg_agreement_status sg_agreement_status_on(const struct sg_agreement *,
			    int64_t today);
const char	*sg_agreement_status_name(enum sg_agreement_status);

/* Today, in days since 1970-01-01 (UTC). */
int64_t		 sg_today(void);
/* Format days since epoch as YYYY-MM-DD into buf (11 bytes). */
void		 sg_date_format(int64_t days, char buf[11]);

/* A school party's LAESTAB ("school:3414001" is 3414001); 0 for any
 * other party. */
unsigned long	 sg_party_laestab(const char *party);

/* 1 when `party` is among the flow's senders / recipients. */
int		 sg_flow_has_sender(const struct sg_flow *, const char *party);
int		 sg_flow_has_recipient(const struct sg_flow *, const char *party);

/* ZIP passwords per sender and flow (the daemon's secrets file, which
 * must be chmod 600). path NULL gives an empty set. NULL on error, with
 * the reason in diag (never a password). */
struct sg_secrets;
struct sg_secrets *sg_secrets_load(const char *path, struct sg_diag *);
void		 sg_secrets_free(struct sg_secrets *);
const char	*sg_secrets_zip(const struct sg_secrets *, const char *party,
		    const char *agreement, const char *flow);

#endif
