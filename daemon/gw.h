/*
 * gw: the gateway core shared by the front doors (HTTPS now, SFTP next).
 *
 * Threads: the libuv I/O thread owns every socket and all of this state
 * except where marked; a bounded pool of pipeline threads runs uploads
 * (intake, checking, sealing, the store and the log) and hands results
 * back through a mailbox drained on the I/O thread (uv_async).
 *
 * A front door authenticates a party, asks gw_access_upload() and then
 * gw_upload_begin(), feeds bytes with gw_upload_feed() (which says when
 * to stop reading: backpressure), ends with gw_upload_end(), and gets
 * done() on the I/O thread with the verdict. It never needs to know how
 * the file is checked or stored.
 */
#ifndef GW_H
#define GW_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "seal/age.h"
#include "policy/auth.h"
#include "policy/config.h"
#include "policy/vpath.h"
#include "log/note.h"
#include "check/report.h"
#include "store/store.h"
#include "store/vault.h"

struct gw;
struct gw_upload;

/* A configuration and everything derived from it; uploads hold a
 * reference so that a reload never frees a flow in use. */
struct gw_conf {
	struct sg_config	*cfg;
	struct sg_secrets	*secrets;
	int			 refs;
};

/* One recipient of a transfer. */
/* A download or confirmation: when, over which front, from where (the
 * first GW_ACTS_KEPT of each recipient are kept in memory, for the
 * DPO's answers; the log holds every one). */
#define GW_ACTS_KEPT	16	/* the latest */
struct gw_act {
	int64_t		 at;		/* µs */
	uint64_t	 seq;		/* its record, for a receipt */
	int		 confirm;
	char		 front[8], addr[48];
};

struct gw_rcpt {
	char		*party;
	int64_t		 downloaded;	/* µs of the first download, 0 */
	unsigned	 downloads;
	int64_t		 confirmed;	/* µs, 0 */
	/* their records (first download, confirmation): receipts */
	uint64_t	 downloaded_seq, confirmed_seq;
	struct gw_act	*acts;
	unsigned	 nacts;
};

enum gw_state { GW_ACCEPTED, GW_REJECTED, GW_DELETED };

/* A transfer as folded from the log (the log is the truth). */
struct gw_xfer {
	char		 id[SG_ID_MAX];
	char		*agreement, *flow, *sender;
	enum gw_state	 state;
	int		 released;
	int		 sealed;	/* delivery mode "sealed" */
	char		 rule[64];	/* REJECTED: first failing rule */
	uint64_t	 rows, errors, plain_size, obj_size;
	char		 plain_sha256[65];
	int64_t		 received;	/* µs */
	int64_t		 released_at, deleted_at;
	char		 delete_reason[32];
	struct gw_rcpt	*rcpt;
	size_t		 nrcpt;
	char		*name;		/* the sender's file name (meta/),
					   read at start, never on a
					   request */
	uint64_t	 report_size;	/* meta/<id>.txt, 0: none */
	int		 report_gone;	/* REJECTED: its report expired */
	/* WITHDRAWN: by whom ("the sender" is its party id, or
	 * "operator"), why (an SG_WITHDRAW_REASONS code), when (µs) */
	int64_t		 withdrawn_at;
	char		 withdrawn_by[96];
	char		 withdrawn_reason[32];
	/* a correction: the transfer this one replaces (its RECEIVED says
	 * so), and the one that replaced it; "" when none */
	char		 supersedes[SG_ID_MAX], superseded_by[SG_ID_MAX];
	/* the RECEIVED record's sequence number, and the stored object's
	 * SHA-256 (hex): a receipt names both */
	uint64_t	 received_seq;
	char		 obj_sha256[65];
	/* the blind index (INDEXED: subjects, subjects_key,
	 * subjects_sha256): distinct data subjects, the index key's id,
	 * the digest of index/<id>; "" when not indexed */
	uint64_t	 subjects;
	int		 index_pending;	/* RECEIVED said so, no INDEXED */
	char		 subjects_key[SG_BLIND_KEYID];
	char		 subjects_sha256[65];
};


struct gw_upload_result {
	int		 status;	/* 201, 422, or an error status */
	char		 id[SG_ID_MAX];
	struct sg_report report;
	char		 sha256[65];	/* of the plaintext, when accepted */
	uint64_t	 bytes_in;
	char		 problem[160];	/* for error statuses */
	uint64_t	 received_seq;	/* accepted: its RECEIVED record */
	char		*receipt;	/* accepted: the sender's receipt
					   (JSON, malloc'd), or NULL */
	uint64_t	 report_size;	/* the report written for a person */
};

struct gw_upload_cb {
	void	(*resume)(void *arg);	/* may read again */
	void	(*done)(void *arg, struct gw_upload *);
	/* every byte fed so far has been checked (asked for with
	 * gw_upload_watch); may be NULL */
	void	(*checked)(void *arg, struct gw_upload *);
};

struct gw_counters {
	uint64_t	accepted, rejected, failed, downloads, deleted;
	unsigned	in_flight, connections, unauthenticated;
	unsigned	vault_work;	/* records, deletions, renames and
					   reads on the work pool */
};

#define GW_LOGIN_CACHE	256
/* password checks (argon2id, 64 MiB each) queued or running at once, in
 * all and from one address: beyond, a sign-in is answered "busy" at
 * once, so no client can queue unbounded work before its ban */
#define GW_LOGIN_INFLIGHT	32
#define GW_LOGIN_PER_ADDR	4
/* sign-ins that wait on a check already in flight for the same party and
 * password (a client opening many connections at once) */
#define GW_LOGIN_JOIN		256

struct gw_login_slot {
	unsigned char	 tag[32];
	int64_t		 until;
};

struct gw {
	uv_loop_t		*loop;
	const char		*config_path;
	struct gw_conf		*conf;		/* current */
	struct sg_vault		*vault;
	struct sg_vault_opts	 vopts;
	struct sg_age_identity	*ids;		/* storage identity */
	size_t			 nids;
	struct sg_note_key	 signer;
	struct sg_blind_key	 index_key;	/* the blind index's */
	unsigned		 receipts_running;	/* proofs being made */
	/* retired index keys (index-<id>.key), for files made under them */
	struct sg_blind_key	*old_index_keys;
	size_t			 nold_index_keys;
	struct sg_bans		*bans;		/* per whole address */
	struct sg_bans		*pair_bans;	/* per address and party */
	struct sg_bans		*party_bans;	/* per party claimed */
	int			 meta_dir;	/* state/meta */
	struct gw_xfer		**xfers;	/* the index, by arrival */
	size_t			 nxfers, capxfers;
	struct gw_counters	 count;	/* since start, for status */
	int			 draining;
	int64_t			 started;
	/* pipeline */
	struct gw_intake	*intake;	/* the intake processes */
	struct sg_age_identity	*intake_ids;	/* keys/intake.key */
	size_t			 nintake_ids;
	struct gw_pool		*pool;
	uv_async_t		 mbox_async;
	uv_timer_t		 stall_timer;	/* uploads that stopped */
	uv_timer_t		 retention_timer;
	/* each agreement's last recorded state (core/agreements.c) */
	struct gw_agr_seen	*agr_seen;
	size_t			 nagr_seen;
	int64_t			 agr_day;	/* the calendar last looked at */
	/* the access authority's last "why" when it is made up (a
	 * suspension's who, until and reason): read at once by the front
	 * that asked, on the loop */
	char			 why_buf[256];
	/* successful password checks, keyed per process (core/signin.c) */
	struct {
		unsigned char		key[32];
		int			keyed;
		struct gw_login_slot	cache[GW_LOGIN_CACHE];
		unsigned		next;
		/* what an unknown party's password is checked against */
		char			dummy[SG_PASSWD_HASH_MAX];
		/* the addresses whose checks are queued or running, and
		 * the checks (struct login_work) */
		char			busy[GW_LOGIN_INFLIGHT][48];
		void			*work[GW_LOGIN_INFLIGHT];
		unsigned		joined;	/* waiters in all */
	}			 login;
	struct {
		unsigned		n[2];	/* per front */
		struct gw_unauth_addr	*addr;	/* GW_UNAUTH_ADDRS */
	}			 unauth;
};

int64_t	gw_now_us(void);

/* conf */
struct gw_conf *gw_conf_load(const char *path, struct sg_diag *);
void	gw_conf_ref(struct gw_conf *);
void	gw_conf_unref(struct gw_conf *);

/* transfers (core/transfers.c) */
int	gw_xfers_load(struct gw *, char err[SG_ERR_MAX]);
struct gw_xfer *gw_xfer_find(struct gw *, const char *id);
struct gw_xfer *gw_xfer_new(struct gw *, const char *id);
/* seq: the record's sequence number in the log (0 when not known) */
void	gw_xfer_apply(struct gw *, int type, const char *payload, size_t,
	    int64_t time_us, uint64_t seq);
struct gw_rcpt *gw_xfer_rcpt(struct gw_xfer *, const char *party);
/* Name of the sender's file, from memory (listings never read the
 * disk: names and report sizes are read once, at start). */
const char *gw_xfer_name(struct gw *, struct gw_xfer *);
/* The stored report JSON (malloc'd), or NULL. Reads meta/: on the
 * work pool only. */
char	*gw_xfer_report(struct gw *, const char *id);
/* The same for the I/O thread: read on the pool, then cb(arg, report)
 * there (report malloc'd, the callee frees it; NULL: none). Cannot be
 * cancelled: arg must live until cb. 0, or -1 (not started). */
typedef void (*gw_report_cb)(void *arg, char *report);
int	gw_xfer_report_read(struct gw *, const char *id, gw_report_cb,
	    void *arg);
/* Writes meta/<id> and, for a rejection, the report a person reads
 * (meta/<id>.txt, its size in *report_size). Off the I/O thread. */
int	gw_meta_write(struct gw *, const char *id, const char *name,
	    const struct sg_report *, uint64_t *report_size,
	    char err[SG_ERR_MAX]);
/* A rejected upload's report as text (malloc'd), or NULL. On the work
 * pool only (gw_reader_open_report reads it for a front). */
char	*gw_xfer_report_text(struct gw *, const char *id, size_t *len);

/* A CONFIG_LOADED record for the configuration in force (reason "start"
 * or "reload"): the SHA-256 of schoolgate.conf, of the parties file, of
 * the LA codes file, and
 * one over each agreement's id and file hash; written on the work pool.
 * Each RECEIVED and REJECTED names its agreement file's hash. */
int	gw_log_config(struct gw *, const char *reason);
/* pl (ended) written to the transfer log on the work pool, no request
 * waiting; a failure is a journal line; cb(arg, ok) follows if not
 * NULL. */
int	gw_log_note(struct gw *, int type, const struct sg_payload *,
	    void (*cb)(void *, int), void *arg);
/* The agreements over time (core/agreements.c). An agreement's state
 * now: "active", "review-overdue", "suspended" (by its configuration,
 * or by a party or an operator until a time), "ended" (a suspension
 * ran out where suspension_expiry = "end"), "expired", or "removed" (a
 * NULL agreement). why: what stops its uploads and releases, or NULL;
 * by, reason, since, until (microseconds): a suspension's, or NULL/0. */
struct gw_agr_info {
	const char	*state, *why;
	const char	*by, *reason;
	int64_t		 since, until;
	char		 why_buf[200];
};
void	gw_agreement_info(struct gw *, const struct sg_agreement *,
	    struct gw_agr_info *);
/* A suspension by `by` (a party's id, or "operator") for `days` (each
 * day_seconds long), or its end: an AGREEMENT_STATUS record, then the
 * state, then cb(arg, ok). The access authority (gw_access_agreement)
 * decided first. -1: not queued. */
int	gw_agreement_suspend(struct gw *, const char *id, const char *by,
	    const char *reason, unsigned days, void (*cb)(void *, int),
	    void *arg);
int	gw_agreement_resume(struct gw *, const char *id, const char *by,
	    const char *reason, void (*cb)(void *, int), void *arg);
/* Each agreement whose state differs from the log's last
 * AGREEMENT_STATUS for it gets a new one, by "configuration" (start,
 * reload) or "calendar"; suspensions that have run out are resumed or
 * end; warn: a journal warning for each review date passed. */
void	gw_agreements_check(struct gw *, const char *by, int warn);
void	gw_agreement_fold(struct gw *, const char *pl, size_t n);
/* 1 while a record of the agreement's state is being written: a party's
 * change waits for it (two suspensions at once are one) */
int	gw_agreement_pending(struct gw *, const char *id);
void	gw_agreements_free(struct gw *);
/* x taken out of circulation: a WITHDRAWN record (by, reason), then its
 * deletion (DELETED "withdrawn", or "operator-delete" when by is
 * "operator"), the shredding and meta/, on the work pool; cb(arg, ok)
 * follows (cb may be NULL). Its sender and recipients still see that it
 * was withdrawn, by whom and when; nobody reads it. -1: not queued. */
int	gw_xfer_withdraw(struct gw *, struct gw_xfer *, const char *by,
	    const char *reason, void (*cb)(void *, int), void *arg);

/* w queued on libuv's work pool and counted in count.vault_work, which
 * its after() decrements; w->data = item. */
int	gw_vault_queue(struct gw *, uv_work_t *w, void *item, uv_work_cb run,
	    uv_after_work_cb after);

/* Reading a stored file for a download (core/reader.c): opened and read
 * ahead on the work pool, copied from memory on the I/O thread. cb(arg)
 * follows once it is open (or failed) and whenever gw_reader_get had
 * answered 0 and the bytes have arrived; never after gw_reader_close. */
struct gw_reader;
typedef void (*gw_reader_cb)(void *arg);
/* x's content as its recipients read it: the plaintext, or for a sealed
 * delivery the age file as kept. NULL: out of memory. */
struct gw_reader *gw_reader_open(struct gw *, const struct gw_xfer *,
	    gw_reader_cb, void *arg);
/* x's rejection report, as a person reads it (SFTP /reports/). */
struct gw_reader *gw_reader_open_report(struct gw *, const struct gw_xfer *,
	    gw_reader_cb, void *arg);
/* 1: open (its size known), 0: still opening, -1: cannot be read. */
int	gw_reader_ready(const struct gw_reader *);
uint64_t gw_reader_size(const struct gw_reader *);
/* Up to want bytes at off, in memory: *p and how many (fewer at the end
 * of a block); 0: not read yet (cb follows); -1: cannot be read, or off
 * is past the end. *p holds until the next gw_reader_get or close (the
 * next may start a fill into it): copy first. */
ssize_t	gw_reader_get(struct gw_reader *, uint64_t off, size_t want,
	    const unsigned char **p);
void	gw_reader_close(struct gw_reader *);
/* The sender renamed the file it just sent (SFTP: WinSCP's .filepart);
 * only the meta record changes, rewritten and synced on libuv's work
 * pool; cb(arg, ok) follows on the I/O thread, the name in memory
 * changed when ok. 0, or -1 (not started). */
typedef void (*gw_done_cb)(void *arg, int ok);
int	gw_xfer_rename(struct gw *, const char *id, const char *name,
	    gw_done_cb, void *arg);
/* Writes a DOWNLOADED (from, bytes) or CONFIRMED record off the I/O
 * thread, applies it to the index and journals it; cb(arg, ok) follows
 * on the I/O thread once it is durable (or failed). The record names the front
 * and the client's address. -1: not queued. */
typedef void (*gw_record_cb)(void *arg, int ok);
int	gw_record(struct gw *, int type, const char *id, const char *party,
	    const char *front, const char *addr, uint64_t from,
	    uint64_t bytes, gw_record_cb, void *arg);
/* The transfers one connection or SFTP session has recorded a download
 * of: a download is recorded once per transfer per session (a download
 * manager's ranges, a client reopening a file), so the signed log
 * cannot be grown cheaply; HEAD records nothing. */
#define GW_DL_MEMO	8
struct gw_dl_memo {
	char		party[96];
	char		id[GW_DL_MEMO][SG_ID_MAX];
	unsigned	next;
};
/* 1: party has a durable DOWNLOADED record for id in this session */
int	gw_dl_recorded(struct gw_dl_memo *, const char *party, const char *id);
/* ... and now it has (call once the record is durable) */
void	gw_dl_note(struct gw_dl_memo *, const char *party, const char *id);
/* Held: accepted and not deleted (a second upload of the same name to
 * the same flow by the same sender is refused while one is). */
/* What an upload of name to sender's flow meets among the transfers
 * held: the latest of the same name (or one that differs only in case
 * or normalisation) that some recipient has not confirmed, which it
 * supersedes (supersedes[0] = '\0': none); and unless held is NULL,
 * the plaintext SHA-256s (hex) and ids of the sender's transfers held on
 * the flow, to refuse identical content (malloc'd, *nheld entries). */
struct gw_held { char sha256[65], id[SG_ID_MAX]; };
int	gw_xfer_held_like(struct gw *, const char *sender,
	    const char *agreement, const char *flow, const char *name,
	    char supersedes[SG_ID_MAX], struct gw_held **held,
	    size_t *nheld);
/* When x's held data is deleted (µs), and by which rule (the log's
 * reason: agreement-removed, flow-removed, agreement-ended, delete-by,
 * retention-release, retention-confirmed; report-expired for a rejected
 * upload's report), or -1: not yet known (kept until every recipient
 * confirms). rule may be NULL. */
int64_t	gw_xfer_due(struct gw *, const struct gw_xfer *, const char **rule);
void	gw_retention_start(struct gw *);
void	gw_xfers_free(struct gw *);
/* Deletes transfers received but never released (a crash between the
 * two records: the sender was never told). */
int	gw_finish_unreleased(struct gw *, char err[SG_ERR_MAX]);

/* intake processes (pipeline/intake_proc.c). Each upload is unpacked,
 * checked and sealed in a process of its own, made for it by a small
 * process (the maker) that schoolgated starts from its own executable
 * before it holds any key; both are sandboxed. */
struct gw_intake;
/* Starts the maker (identities: what age uploads are opened with, kept
 * by the core and sent to each intake process). err says why not. */
struct gw_intake *gw_intake_start(int sandbox,
	    const struct sg_age_identity *ids, size_t nids,
	    char err[SG_ERR_MAX]);
void	gw_intake_stop(struct gw_intake *);
/* schoolgated --intake on|off: the maker's own main (fd 3: the core). */
int	gw_intake_maker_main(int sandbox);
/* One upload, as sg_intake_check() would check it, in an intake process
 * sealing into seal (sg_vault_put_begin_remote): 0 with the report
 * filled (and the seal's result adopted when it was sealed), or -1 when
 * the process failed, why saying how (journalled already). */
struct gw_intake_job {
	const struct sg_flow	*flow;
	const char		*passphrase;
	unsigned long		 school;
	struct sg_blind_set	*subjects;
	const unsigned char	(*pks)[32];
	size_t			 npks;
	const char		*transfer;	/* for the journal */
	int			(*want_sync)(void *);
	void			(*synced)(void *, int rejected,
				    const struct sg_report_entry *first);
	void			*sync_arg;
};
int	gw_intake_run(struct gw *, const struct gw_intake_job *, sg_src_fn,
	    void *src_arg, struct sg_report *, struct sg_store_seal *,
	    char *why, size_t cap);

/* processes started from schoolgated's own executable (proc.c) */
/* The executable's path, named once at start: 0, or -1. */
int	gw_self_exe(char *out, size_t cap);
/* exe with argv, fds[i] as its descriptor 3 + i and nothing else but
 * 0, 1 and 2; bind_now: LD_BIND_NOW=1 in its environment. The pid, or
 * -1 with err. */
pid_t	gw_spawn_self(const char *exe, char *const argv[], const int *fds,
	    size_t nfds, int bind_now, char *err, size_t cap);
/* The end of a child's start (fd 3: the core): it enters the sandbox
 * (sandbox 0: it only stops being dumpable and closes every descriptor
 * above 3), then says whether it did in a message of type (ok_tag: 0 or
 * 1, why_tag: the reason). 0, or -1: the child exits. */
struct sg_sandbox_opts;
int	gw_child_ready(int sandbox, const struct sg_sandbox_opts *,
	    uint32_t type, uint16_t ok_tag, uint16_t why_tag);
/* The parent's side: the child's first message (read from mb, its
 * channel fd, against rules; at most 10 s) must be READY (type, ok_tag,
 * why_tag) and say it is sandboxed. 0, or -1 with err naming who ("the
 * SSH front door"). */
struct sg_msgbuf;
struct sg_msg_rule;
int	gw_child_await_ready(struct sg_msgbuf *mb, int fd,
	    const struct sg_msg_rule *rules, size_t nrules, uint32_t type,
	    uint16_t ok_tag, uint16_t why_tag, const char *who, char *err,
	    size_t cap);
/* A front door's first step (fd 3: the core): it ends with the core, is
 * named name in ps, and a write to a closed socket is an error, not a
 * signal. The core's pid, or -1 when the core has already ended. */
pid_t	gw_front_begin(const char *name);
/* Its last before its loop: sandboxed (its channel and stderr kept;
 * sockets it is given, none made), READY sent (type, ok_tag, why_tag),
 * and in the test build, when SG_ATTACK_FRONT starts who ("ssh-front",
 * "tls-front") and ord < 3, the attack. Its channel is then
 * non-blocking. 0, or -1: it exits. */
int	gw_front_ready(int sandbox, pid_t core, unsigned ord, const char *who,
	    uint32_t type, uint16_t ok_tag, uint16_t why_tag);
/* "killed by signal 31 (SIGSYS)", "exited with status 1" */
void	gw_status_text(int status, char *out, size_t cap);
#ifdef SG_ATTACK_HOOK
/* test build only: what code execution in a sandboxed process tries */
void	gw_attack(const char *who, pid_t core, unsigned ord);
#endif

/* pipeline (pipeline/upload.c) */
int	gw_pool_start(struct gw *, unsigned workers);
void	gw_pool_stop(struct gw *);
unsigned gw_pool_queued(struct gw *);
/* front ("https", "sftp") and addr (the client's) are for the journal */
struct gw_upload *gw_upload_begin(struct gw *, const char *party,
	    const char *front, const char *addr, const char *agreement,
	    const char *flow, const char *name, const char *zip_password,
	    uint64_t max_bytes, const struct gw_upload_cb *, void *arg);
/* Copies the bytes into the upload's buffer; returns 1 when the buffer
 * is over its mark (stop reading until resume()), 0 otherwise, -1 when
 * the upload is now larger than max_bytes (the front door answers "too
 * large" and cancels it). */
int	gw_upload_feed(struct gw_upload *, const void *, size_t);
void	gw_upload_end(struct gw_upload *);
/* The client went away: the upload is abandoned (nothing stored). */
void	gw_upload_cancel(struct gw_upload *);
/* The front door refused it part way (rule: "out-of-order", ...): the
 * same, and the journal says why. */
void	gw_upload_refuse(struct gw_upload *, const char *rule);
/* Asks for a cb.checked once every byte fed so far has been checked
 * (whole rows): returns the request's number n (then, once
 * gw_upload_checked() >= n, those bytes are checked), or 0 when the upload
 * still waits for a thread (nothing can be checked yet). */
uint64_t gw_upload_watch(struct gw_upload *);
uint64_t gw_upload_checked(struct gw_upload *);
/* 1 when what has been checked already makes it a rejection; why then
 * says so (the first rule broken, and where), for a front to tell its
 * client before the verdict. */
int	gw_upload_failing(struct gw_upload *, char *why, size_t cap);
const struct gw_upload_result *gw_upload_result(const struct gw_upload *);
void	gw_upload_free(struct gw_upload *);

/* Access (core/access.c): the one authority both fronts ask, against the
 * configuration in force and today's date. Its answers are these codes;
 * each front maps them to its protocol's statuses in one table. */
enum gw_acc {
	GW_ACC_OK,
	GW_ACC_UNKNOWN,		/* nothing this party may know of */
	GW_ACC_REFUSED,		/* known, but not by this means */
	GW_ACC_INACTIVE,	/* the agreement is suspended, ended, gone */
	GW_ACC_BAD_NAME,	/* the file name breaks the name rule */
	GW_ACC_DUPLICATE,	/* a file of that name is still held */
	GW_ACC_BUSY,		/* draining, or too many uploads queued */
	GW_ACC_CONFLICT,	/* not now: already so, or not so */
	GW_ACC_FREQUENCY	/* more often than the flow allows */
};
/* How many files party sent on the flow in the period of its frequency
 * that holds today (accepted, not withdrawn or superseded); the period's
 * first day and the next period's, in days since epoch. 0 for ad hoc. */
unsigned gw_access_sent_in_period(struct gw *, const char *party,
	    const char *agreement, const struct sg_flow *, int64_t *from,
	    int64_t *to);
/* May party send on agreement/flow by method (an SG_METHOD_ bit)? */
enum gw_acc gw_access_send(struct gw *, const char *party,
	    const char *agreement, const char *flow, unsigned method,
	    const struct sg_flow **, const char **why);
/* What a refused file name is told, on both fronts. */
#define GW_NAME_RULE	"file names may use letters (in any language), " \
	"digits, spaces, apostrophes and . _ - ( ) + , (up to 128 bytes), " \
	"and may not start with a dot"
/* Everything a front checks before an upload starts: draining, the
 * sender's right to the flow, the name, the queue and duplicates (a name
 * the same as one held but for case or normalisation counts). With
 * GW_ACC_OK, *max_bytes is the byte limit for the upload and canon the
 * name as it is kept: name, as the client sent it, in NFC. */
enum gw_acc gw_access_upload(struct gw *, const char *party,
	    const char *addr, const char *agreement, const char *flow,
	    const char *name, unsigned method, uint64_t *max_bytes,
	    char canon[SG_VNAME_MAX + 1], const char **why);
/* What party may do with a transfer: nothing (it is not told the
 * transfer exists), see its record (its sender; a recipient whose
 * agreement is not active today, or who confirmed receipt), or also read
 * its content and find it in its inbox and /receive (a recipient it was
 * released to, still a recipient of that flow in the configuration in
 * force, under an active agreement, not yet confirmed). why says why not
 * more. */
enum gw_see { GW_SEE_NONE, GW_SEE_META, GW_SEE_READ };
enum gw_see gw_access_xfer(struct gw *, const struct gw_xfer *,
	    const char *party, const char **why);
/* May party (NULL: an operator) suspend (resume = 0) or resume the
 * agreement? A party to it may suspend it while it is active (or its
 * review overdue), for 1 to max_suspension_days days; the party that
 * suspended it, or an operator, may resume it. */
enum gw_acc gw_access_agreement(struct gw *, const char *party,
	    const char *agreement, int resume, unsigned days,
	    const char **why);
/* 1 when party is a party to the agreement (listed, or on a flow). */
int	gw_access_party_to(const struct sg_agreement *, const char *party);
/* May party withdraw x? Its sender only, while the gateway holds it;
 * party NULL: the gateway's operator (any transfer still held). */
enum gw_acc gw_access_withdraw(struct gw *, const struct gw_xfer *,
	    const char *party, const char **why);
/* 1 when the transfer is in party's received list (the HTTPS inbox):
 * what it may read, and what it confirmed receiving (a record, no longer
 * fetched) while it is still a recipient under an active agreement.
 * SFTP's /receive lists files to fetch: GW_SEE_READ only. */
int	gw_access_received(struct gw *, const struct gw_xfer *,
	    const char *party);
/* 1 when party sent the transfer: its "sent" listing (with deletions). */
int	gw_access_sent_by(const struct gw_xfer *, const char *party);
/* 1 when party is a recipient that confirmed receipt. */
int	gw_access_confirmed(const struct gw_xfer *, const char *party);
/* The name a download has, on both fronts (SFTP prefixes the id). */
void	gw_access_name(struct gw *, struct gw_xfer *, char *out, size_t cap);

/* The one sign-in path (core/signin.c). Every front hands over the
 * credential as it came and maps the result to its protocol. */
typedef void (*gw_login_cb)(void *arg, int ok);	/* internal */
enum gw_via { GW_VIA_API, GW_VIA_WEB, GW_VIA_SFTP };
enum gw_signin {
	GW_SIGNIN_OK,		/* out->party is signed in */
	GW_SIGNIN_WAIT,		/* a password check runs; cb follows */
	GW_SIGNIN_REFUSED,	/* wrong or unknown: journaled and counted */
	GW_SIGNIN_BANNED,	/* the address, or this party from it, is
				   banned for out->retry seconds */
	GW_SIGNIN_BUSY,		/* too many checks wait: "try again in a
				   moment", not a failed sign-in */
	GW_SIGNIN_MALFORMED,	/* the credential does not parse */
	GW_SIGNIN_NEXT,		/* not this credential (an SSH key or a
				   client certificate that is no party's):
				   not yet a failure */
	GW_SIGNIN_KEY_OK,	/* SSH: the key is the party's; the client
				   signs next */
};
struct gw_signed {
	char		party[96];	/* the party, or the id claimed
					   ("unknown" when it is none) */
	unsigned	retry;		/* GW_SIGNIN_BANNED: seconds */
};
typedef void (*gw_signin_cb)(void *arg, enum gw_signin,
	    const struct gw_signed *);
/* user: the party id as typed. A password for a party that has none (or,
 * over SFTP, none for SFTP) is checked all the same, as long, and fails:
 * how long a refusal takes tells no one which ids exist. */
enum gw_signin gw_signin_password(struct gw *, enum gw_via, const char *addr,
	    const char *user, const char *pw, size_t pwlen, gw_signin_cb,
	    void *arg, struct gw_signed *out);
/* The base64 of an HTTP Basic header ("party:password"). */
enum gw_signin gw_signin_basic(struct gw *, const char *addr,
	    const char *b64, gw_signin_cb, void *arg, struct gw_signed *out);
enum gw_signin gw_signin_token(struct gw *, const char *addr,
	    const char *token, struct gw_signed *out);
/* A TLS client certificate's SHA-256 fingerprint, lower-case hex. */
enum gw_signin gw_signin_cert(struct gw *, const char *addr,
	    const char *sha256_hex, struct gw_signed *out);
/* An SSH public key "type base64" offered for user; proof 0: only
 * offered, 1: signed and verified, -1: a signature that does not verify. */
enum gw_signin gw_signin_ssh_key(struct gw *, const char *addr,
	    const char *user, const char *key, int proof,
	    struct gw_signed *out);
/* A sign-in that ended without a credential (an SSH client that gave up
 * or ran out of tries): journaled and counted like a wrong one. */
void	gw_signin_failed(struct gw *, enum gw_via, const char *addr,
	    const char *party);
/* Seconds the whole address is still banned for (0: not), at accept. */
unsigned gw_signin_banned(struct gw *, const char *addr);
/* `schoolgate unban ADDRESS`: lifts the address's bans, whole and per
 * party; returns how many were active. */
unsigned gw_signin_unban(struct gw *, const char *addr);
/* Connections not yet signed in. Each front has its own budget
 * (limits.unauthenticated) and one address its share of it
 * (limits.unauthenticated_per_address); past half the budget a new one
 * is refused at random, the more the fuller it is (as OpenSSH's
 * MaxStartups does), so that no one address, nor a flood, keeps the
 * others out. admit: 0 (counted) or -1 (close it now, before any TLS or
 * key exchange); release once, when it signs in or closes. */
enum gw_front { GW_FRONT_HTTPS, GW_FRONT_SFTP, GW_FRONTS };
#define GW_UNAUTH_ADDRS	1024
struct gw_unauth_addr {
	char		addr[48];
	unsigned	n[GW_FRONTS];
};
int	gw_unauth_admit(struct gw *, enum gw_front, const char *addr);
/* Whether a front door takes on a new connection from addr, decided here
 * for both: not while draining, not past max_connections, not from a
 * banned address, and within the budget above (counted: release it
 * once). HTTPS answers a short ban itself (429, and when to try again),
 * so only a ban longer than GW_BAN_TOLD seconds closes an HTTPS
 * connection at accept; SSH has no way to say it, so any ban does.
 * 0: taken on; -1: close it now, before any TLS or key exchange. */
#define GW_BAN_TOLD	60
int	gw_admit(struct gw *, enum gw_front, const char *addr);
void	gw_unauth_release(struct gw *, enum gw_front, const char *addr);
/* Forgets every cached success (a reload: hashes may have changed). */
void	gw_signin_forget(struct gw *);
/* Makes the hash unknown parties' passwords are checked against. 0/-1 */
int	gw_signin_init(struct gw *);
/* A non-blocking listening socket on "address:port" (setting names the
 * configuration setting in errors); -1 with err. */
int	gw_listen_socket(const char *listen_on, const char *setting,
	    char err[SG_ERR_MAX]);
int	gw_socket_port(int fd);
void	gw_peer_name(int fd, char *buf, size_t len);
/* An address an operator typed, written as gw_peer_name writes peers;
 * -1 when it is not an IPv4 or IPv6 address. */
int	gw_addr_name(const char *text, char *buf, size_t len);
/* A listening socket watched on the loop (listen.c): each connection is
 * accepted (non-blocking, close-on-exec) and given with its address to
 * fn, which owns it from then on; at most 64 at each wake-up. When the
 * process is out of descriptors or memory, accepting pauses for a
 * second, rather than waking at once again for the same connection. */
struct gw_acceptor;
struct gw_acceptor *gw_acceptor_new(uv_loop_t *, int lfd,
	    void (*fn)(void *arg, int fd, const char *addr), void *arg);
/* on: accepting (again); off: new clients wait in the backlog */
void	gw_acceptor_on(struct gw_acceptor *, int on);
/* closes its handles (not lfd); freed once the loop has closed them */
void	gw_acceptor_free(struct gw_acceptor *);

/* receipts (core/receipt.c; common/log/receipt.h) */
#define GW_RECEIPTS_AT_ONCE	2	/* proofs at once (each hashes the log) */
/* The sender's receipt for an accepted upload (any thread): malloc'd
 * JSON, or NULL. */
char	*gw_receipt_received(struct gw *, const char *id, const char *sender,
	    const char *agreement, const struct sg_flow *, const char *plain_hex,
	    const char *obj_hex, uint64_t rows, uint64_t seq);
/* A receipt for party on x made again, with its proof when a checkpoint
 * covers it: the sender's (event NULL or "received"), or a recipient's
 * confirmation or download (event NULL, "confirmed" or "downloaded").
 * Access is the caller's to decide first. cb(arg, json or NULL) follows
 * on the I/O thread, json the callee's to free. NULL when queued, else
 * why not (nothing follows). */
typedef void (*gw_receipt_cb)(void *arg, char *json);
const char *gw_receipt_get(struct gw *, const struct gw_xfer *,
	    const char *party, const char *event, gw_receipt_cb, void *arg);

/* the data protection officer's answers (core/dpo.c) */
typedef void (*gw_dpo_cb)(void *arg, char *text);
#define GW_DPO_LATER	((char *)1)
/* A subject access search for one identifier (kind "upn", "trn" or
 * "uln"; a UPN's check letter is checked): the text (or JSON) answer.
 * An invalid identifier is answered at once ("error: ..."); otherwise
 * GW_DPO_LATER, and cb(arg, text) follows once the DSAR_QUERY record is
 * durable (or an error if it cannot be written). NULL: out of memory. */
char	*gw_dsar(struct gw *, const char *kind, const char *ident, int json,
	    gw_dpo_cb cb, void *arg);
/* What left the gateway in [from, to] (µs), for a recipient party and
 * an agreement (NULL: any): the fields of a breach report. GW_DPO_LATER
 * and cb(arg, text) once the index files are read (on the work pool),
 * or an error at once; NULL: out of memory. */
char	*gw_breach(struct gw *, int64_t from, int64_t to, const char *party,
	    const char *agreement, int json, gw_dpo_cb cb, void *arg);

/* journal (journal.c) */
enum gw_event {
	EV_STARTED, EV_STOPPING, EV_RELOADED, EV_RELOAD_FAILED,
	EV_ACCEPTED, EV_REJECTED, EV_UPLOAD_FAILED, EV_DOWNLOADED,
	EV_CONFIRMED, EV_DELETED, EV_AUTH_FAILED, EV_BANNED, EV_RECOVERY,
	EV_STORE_FAILED, EV_LOG_FAILED, EV_QUARANTINED, EV_START_FAILED,
	EV_PROTOCOL, EV_WEB_SESSION, EV_AGREEMENT_STATUS, EV_REVIEW_OVERDUE,
	EV_FREQUENCY, EV_DPO_QUERY, EV_INDEXED, EV_PROCESS, EV_SANDBOX,
	EV_NUM
};
/* One structured entry. Fields are "NAME=value" strings, NULL-ended;
 * values are ids, counts and rule names, never content or secrets. */
void	gw_journal(enum gw_event, int priority, const char *msg,
	    const char *const fields[]);
void	gw_journalf(enum gw_event, int priority, const char *const fields[],
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *gw_event_id(enum gw_event);

#endif
