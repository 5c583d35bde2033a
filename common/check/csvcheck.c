/*
 * csvcheck: per-cell validation driven by libcsv callbacks; see
 * csvcheck.h. The cell path is the hot path of the gateway: no
 * allocation, no formatting unless a cell fails.
 */
#include "check/csvcheck.h"

#include <csv.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check/keyset.h"
#include "store/blind.h"
#include "base/pipe.h"
#include "base/utf8.h"

#define SLICE		(64 * 1024)	/* bytes given to libcsv at once */
#define MAX_HEADER	1024		/* header fields before we give up */
#define PIPE_BLOCKS	8
#define BLOCK_MIN	(64 * 1024)

enum { ST_HEADER, ST_ROWS, ST_STOPPED };

/*
 * Threaded mode: the caller's thread runs libcsv and packs its callbacks
 * into events in pipe blocks; the checking thread replays them into the
 * same on_field()/on_row() that the synchronous mode has libcsv call
 * directly. Only the checking thread touches the report and row state.
 *
 * Event: a 32-bit word: type in bits 0-1, a flag in bit 2 (for a field:
 * all bytes printable ASCII), a value above (a field's length); a field
 * event is followed by its bytes.
 */
enum { EV_FIELD = 0, EV_ROW = 1, EV_ERROR = 2 };
enum { ERR_QUOTE = 1, ERR_UNTERMINATED, ERR_TOOLONG, ERR_MEMORY,
    ERR_UTF16 };
#define ROW_END_OF_FILE	0x100	/* on_row(-1) from csv_fini */

struct sg_csvcheck {
	/* checking side */
	const struct sg_manifest *m;
	struct sg_report	*r;
	struct sg_keyset	*keys;
	int			 state;
	uint64_t		 row;		/* current record's row */
	size_t			 field;		/* fields so far in record */
	int			 last_cr;	/* last record ended with CR */
	int			*map;		/* header field -> column */
	size_t			 nheader;
	int			*present;	/* column -> header field */
	uint64_t		 key_code;	/* this row's key, 0: none */
	unsigned long		 school;	/* sender's LAESTAB, 0: none */
	struct sg_blind_set	*subjects;	/* the index's codes, or NULL */
	int			 ended;		/* final checks ran */
	struct parser		*ps;
};

/* The parsing side lives in its own cache lines: libcsv updates it for
 * every byte, and sharing lines with the checking thread's per-cell
 * state would make the two cores fight over them. */
struct parser {
	struct sg_csvcheck	*ck;
	size_t			 max_field;
	struct csv_parser	 p;
	int			 in_bom;	/* still matching a BOM */
	unsigned char		 bom[3];
	size_t			 nbom;
	uint64_t		 pbytes;	/* bytes fed */
	int			 pstopped;	/* no more parsing */
	int			 aborted;	/* the checker hung up */
	int			 threaded;
	struct sg_pipe		*pipe;
	pthread_t		 thread;
	unsigned char		*blk;		/* block being filled */
	size_t			 blen, bcap;
} __attribute__((aligned(64)));

static int
no_space(unsigned char c)
{
	(void)c;
	return 0;	/* keep every byte: we check what is sent */
}

static void
stop(struct sg_csvcheck *ck)
{
	ck->state = ST_STOPPED;
	ck->r->stopped = 1;
}

static const struct sg_column *
col_at(const struct sg_csvcheck *ck, size_t field)
{
	int c;

	if (field >= ck->nheader || (c = ck->map[field]) < 0)
		return NULL;
	return &ck->m->columns[c];
}

static void
header_field(struct sg_csvcheck *ck, const char *s, size_t len)
{
	const struct sg_manifest *m = ck->m;
	size_t i, idx = ck->field;
	int found = -1;

	if (idx >= MAX_HEADER) {
		if (idx == MAX_HEADER) {
			sg_report_add(ck->r, 0, 1, NULL, "header.too-wide",
			    "the header row has more than %d columns",
			    MAX_HEADER);
			stop(ck);
		}
		return;
	}
	/* an over-long cell arrives without its bytes (s == NULL) */
	for (i = 0; s != NULL && len <= 128 && i < m->ncolumns; i++)
		if (strlen(m->columns[i].name) == len &&
		    strncasecmp(m->columns[i].name, s, len) == 0) {
			found = (int)i;
			break;
		}
	ck->map[idx] = -1;
	ck->nheader = idx + 1;
	if (found < 0) {
		/* Never echo the text: a file without a header has a row
		 * of personal data here. */
		sg_report_add(ck->r, 0, 1, NULL, "header.unknown-column",
		    "column %zu of the header row is not one of the agreed "
		    "columns", idx + 1);
		return;
	}
	if (ck->present[found] >= 0) {
		sg_report_add(ck->r, 0, 1, m->columns[found].name,
		    "header.duplicate-column", "appears twice in the header "
		    "row (columns %d and %zu)", ck->present[found] + 1,
		    idx + 1);
		return;
	}
	ck->present[found] = (int)idx;
	ck->map[idx] = found;
}

static void
header_done(struct sg_csvcheck *ck)
{
	const struct sg_manifest *m = ck->m;
	size_t i;
	int last = -1;

	for (i = 0; i < m->ncolumns; i++)
		if (m->columns[i].required && ck->present[i] < 0) {
			sg_report_add(ck->r, 0, 1, m->columns[i].name,
			    "header.missing-column", "this agreed column is "
			    "missing from the header row");
		}
	if (m->order_enforced)
		for (i = 0; i < ck->nheader; i++) {
			int c = ck->map[i];

			if (c < 0)
				continue;
			if (c < last) {
				sg_report_add(ck->r, 0, 1, m->columns[c].name,
				    "header.order", "is in column %zu, out of "
				    "the agreed order (it should come before "
				    "%s)", i + 1, m->columns[last].name);
				break;
			}
			last = c;
		}
	ck->state = ST_ROWS;
}

static int
injection_start(unsigned char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
	    c == '\r';
}

/* Unaligned word access without taking a local's address (which would
 * cost a stack-protector canary on the per-cell path). */
typedef uint64_t __attribute__((may_alias, aligned(1))) u64_ua;
typedef uint32_t __attribute__((may_alias, aligned(1))) u32_ua;

/* Any byte of w outside 0x20-0x7e? (Borrows and carries only start at a
 * byte that is already outside, so the answer is exact.) */
static inline uint64_t
word_unprintable(uint64_t w)
{
	return ((w - 0x2020202020202020ULL) | (w + 0x0101010101010101ULL) |
	    w) & 0x8080808080808080ULL;
}

/* 1 when every byte is printable ASCII (0x20-0x7e): such a cell needs no
 * UTF-8 or control-character scan. Eight bytes at a time. */
static int
printable_ascii(const unsigned char *s, size_t len)
{
	uint64_t w, bad = 0;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		bad |= word_unprintable(w);
	}
	if (i < len) {
		w = 0x4141414141414141ULL;	/* pad with 'A' */
		memcpy(&w, s + i, len - i);
		bad |= word_unprintable(w);
	}
	return bad == 0;
}

/* A cell of a sender_school column against the sending school: the
 * message names the school's number, never the cell's. */
static void
school_cell(struct sg_csvcheck *ck, const struct sg_column *col,
    const char *s, size_t len)
{
	const struct sg_manifest *m = ck->m;
	long idx = col - m->columns;
	unsigned long want, got = 0;
	const char *what;
	size_t i;

	if (m->school_check == SG_SCHOOL_LAESTAB && idx == m->school_laestab) {
		want = ck->school;
		what = "LAESTAB";
	} else if (m->school_check == SG_SCHOOL_LA_ESTAB &&
	    idx == m->school_la) {
		want = ck->school / 10000;
		what = "LA code";
	} else if (m->school_check == SG_SCHOOL_LA_ESTAB &&
	    idx == m->school_estab) {
		want = ck->school % 10000;
		what = "establishment number";
	} else
		return;
	/* the whole cell: leading zeros are the same number, anything
	 * longer than a LAESTAB can hold is not this school's */
	for (i = 0; i < len && s[i] == '0'; i++)
		;
	if (len - i > 7)
		got = ULONG_MAX;
	for (; i < len && got != ULONG_MAX; i++) {
		if (s[i] < '0' || s[i] > '9')
			got = ULONG_MAX;
		else
			got = got * 10 + (unsigned long)(s[i] - '0');
	}
	if (got != want)
		sg_report_add(ck->r, 0, ck->row, col->name, "school.mismatch",
		    "must be %0*lu, the %s of the school sending this file: "
		    "each row must be one of its own pupils or staff",
		    idx == m->school_estab ? 4 : 1, want, what);
}

/* An identifier for the blind index: its exact code, kept until the
 * holder of the index key hashes it at commit. */
static void
index_cell(struct sg_csvcheck *ck, const struct sg_column *col, const char *s,
    size_t len)
{
	enum sg_blind_kind kind = col->type == SG_V_TRN ? SG_BLIND_TRN :
	    col->type == SG_V_ULN ? SG_BLIND_ULN : SG_BLIND_UPN;
	uint64_t code = sg_blind_code(kind, s, len);

	/* a cell that passed its check always has a code: one that did
	 * not would be missing from the index, and a search would say "not
	 * held"; refuse the file rather than answer wrongly later */
	if (code == 0) {
		sg_report_add(ck->r, 0, ck->row, col->name, "index.identifier",
		    "could not be put in the index of data subjects");
		return;
	}
	if (sg_blind_set_add(ck->subjects, code) != 0) {
		sg_report_add(ck->r, 0, ck->row, NULL, "resource.memory",
		    "not enough memory to index the file's data subjects");
		stop(ck);
	}
}

static void
cell(struct sg_csvcheck *ck, const struct sg_column *col, int is_key,
    const char *s, size_t len, int ascii)
{
	struct sg_report *r = ck->r;
	const struct sg_manifest *m = ck->m;
	struct sg_why why;
	size_t pos, chars, i;
	char trn[8];
	int v = SG_VALID;

	if (len == 0) {
		if (col->required)
			sg_report_add(r, 0, ck->row, col->name, "required",
			    "is empty, but this column is required");
		return;
	}
	if (len > m->max_field_bytes) {
		sg_report_add(r, 0, ck->row, col->name, "field.too-long",
		    "is longer than %zu bytes", m->max_field_bytes);
		return;
	}
	if (ascii)
		chars = len;
	else switch (sg_utf8_check((const unsigned char *)s, len, &pos,
	    &chars)) {
	case SG_UTF8_OK:
		break;
	case SG_UTF8_INVALID:
		sg_report_add(r, 0, ck->row, col->name, "encoding.utf8",
		    "byte %zu is not valid UTF-8 (save the file as UTF-8)",
		    pos + 1);
		return;
	case SG_UTF8_CONTROL:
		if (s[pos] == '\0')
			sg_report_add(r, 0, ck->row, col->name,
			    "encoding.nul", "contains a NUL byte at byte %zu",
			    pos + 1);
		else
			sg_report_add(r, 0, ck->row, col->name,
			    "encoding.control", "contains a control character "
			    "at byte %zu", pos + 1);
		return;
	}
	if (injection_start((unsigned char)s[0]) &&
	    (m->injection == SG_INJ_REJECT || col->type != SG_V_INTEGER)) {
		sg_report_add(r, 0, ck->row, col->name, "csv-injection",
		    "starts with %s, which spreadsheet programs treat as a "
		    "formula", s[0] == '\t' ? "a tab" : s[0] == '\r' ?
		    "a carriage return" : s[0] == '=' ? "'='" : s[0] == '+' ?
		    "'+'" : s[0] == '-' ? "'-'" : "'@'");
		return;
	}
	why.rule = NULL;
	switch (col->type) {
	case SG_V_UPN:
	case SG_V_UPN_OR_TEMP:
		v = sg_upn_check(s, len, col->type == SG_V_UPN_OR_TEMP, m->la,
		    col->la_policy, &why);
		if (is_key && v != SG_INVALID)
			ck->key_code = sg_keyset_code_upn(s);
		break;
	case SG_V_TRN:
		v = sg_trn_check(s, len, col->trn_strict, trn, &why);
		if (is_key && v != SG_INVALID)
			ck->key_code = sg_keyset_code_trn(trn);
		break;
	case SG_V_ULN:
		v = sg_uln_check(s, len, &why);
		break;
	case SG_V_NINO:
		v = sg_nino_check(s, len, &why);
		break;
	case SG_V_POSTCODE:
		v = sg_postcode_check(s, len, &why);
		break;
	case SG_V_DATE:
		v = sg_date_check(s, len, &why);
		break;
	case SG_V_EMAIL:
		v = sg_email_check(s, len, &why);
		break;
	case SG_V_UKPHONE:
		v = sg_ukphone_check(s, len, &why);
		break;
	case SG_V_LAESTAB:
		v = sg_laestab_check(s, len, m->la, col->la_policy, &why);
		break;
	case SG_V_URN:
		v = sg_urn_check(s, len, &why);
		break;
	case SG_V_INTEGER:
		v = sg_integer_check(s, len, col->min, col->max, &why);
		break;
	case SG_V_CODE:
		for (i = 0; i < col->ncodes; i++)
			if (col->codes[i][0] == s[0] &&
			    strncmp(col->codes[i], s, len) == 0 &&
			    col->codes[i][len] == '\0')
				break;
		if (i == col->ncodes) {
			v = SG_INVALID;
			why.rule = "code.unknown";
			snprintf(why.msg, sizeof(why.msg), "is not one of the "
			    "agreed codes for this column");
		}
		break;
	case SG_V_TEXT:
		if (chars > col->max_length) {
			v = SG_INVALID;
			why.rule = "text.length";
			snprintf(why.msg, sizeof(why.msg), "is %zu characters; "
			    "the most allowed is %zu", chars, col->max_length);
		}
		break;
	}
	if (v != SG_VALID)
		sg_report_add(r, v == SG_WARNING, ck->row, col->name, why.rule,
		    "%s", why.msg);
	/* (a warning, such as an unknown LA code, is still compared) */
	if (v != SG_INVALID && ck->school != 0 &&
	    m->school_check != SG_SCHOOL_NONE)
		school_cell(ck, col, s, len);
	/* a TRN as its normalised 7 digits (as a search gives it); the
	 * temporary ULN is shared by every learner without one: none */
	if (col->index && v != SG_INVALID && ck->subjects != NULL &&
	    !(why.rule != NULL && strcmp(why.rule, "uln.temporary") == 0)) {
		if (col->type == SG_V_TRN)
			index_cell(ck, col, trn, 7);
		else
			index_cell(ck, col, s, len);
	}
	if (is_key && v != SG_INVALID && col->type != SG_V_UPN &&
	    col->type != SG_V_UPN_OR_TEMP && col->type != SG_V_TRN)
		ck->key_code = sg_keyset_code_bytes(ck->keys, s, len);
}

static void
field(struct sg_csvcheck *ck, const char *data, size_t len, int ascii)
{
	const struct sg_column *col;

	switch (ck->state) {
	case ST_HEADER:
		header_field(ck, data, len);
		break;
	case ST_ROWS:
		if ((col = col_at(ck, ck->field)) != NULL)
			cell(ck, col, ck->map[ck->field] == ck->m->key, data,
			    len, ascii);
		break;
	default:
		return;
	}
	ck->field++;
}

/* libcsv's field callback in synchronous mode. */
static void
on_field(void *data, size_t len, void *arg)
{
	field(arg, data, len, 0);
}

static void
row_done(struct sg_csvcheck *ck)
{
	const struct sg_manifest *m = ck->m;
	int rc;

	/* blank lines take row numbers but do not count as rows; the row
	 * number itself is bounded too (the key set indexes by it) */
	if (ck->r->rows + 1 > m->max_rows ||
	    ck->row - 2 >= SG_KEYSET_MAX_ROWS) {
		sg_report_add(ck->r, 0, ck->row, NULL, "rows.too-many",
		    "the file has more than the %llu rows this flow allows",
		    (unsigned long long)m->max_rows);
		stop(ck);
		return;
	}
	ck->r->rows++;
	if (ck->field != ck->nheader)
		sg_report_add(ck->r, 0, ck->row, NULL, "row.field-count",
		    "has %zu fields, but the header row has %zu", ck->field,
		    ck->nheader);
	if (ck->key_code != 0 && m->key_unique && ck->keys != NULL) {
		rc = sg_keyset_add(ck->keys, ck->key_code,
		    (uint32_t)(ck->row - 2));
		if (rc < 0) {
			sg_report_add(ck->r, 0, ck->row, NULL, "resource.memory",
			    "not enough memory to check for duplicate keys");
			stop(ck);
		}
	}
	ck->key_code = 0;
}

static void
on_duplicate(void *arg, uint32_t idx, uint32_t first)
{
	struct sg_csvcheck *ck = arg;
	const char *key = ck->m->columns[ck->m->key].name;

	sg_report_add(ck->r, 0, (uint64_t)idx + 2, key, "key.duplicate",
	    "is the same as in row %llu; each %s must appear once",
	    (unsigned long long)first + 2, key);
}

static void
on_row(int c, void *arg)
{
	struct sg_csvcheck *ck = arg;

	if (ck->state == ST_STOPPED)
		return;
	if (ck->field == 0 && c == '\n' && ck->last_cr) {
		ck->last_cr = 0;	/* the LF of a CRLF */
		return;
	}
	ck->last_cr = c == '\r';
	if (ck->field == 0) {
		/* a blank line: it takes a row number, nothing else */
		if (ck->state == ST_ROWS)
			ck->row++;
		return;
	}
	if (ck->state == ST_HEADER)
		header_done(ck);
	else
		row_done(ck);
	ck->field = 0;
	if (ck->state == ST_STOPPED)
		return;
	ck->row++;
}

/* Report a problem found by the parser and stop checking. */
static void
parse_problem(struct sg_csvcheck *ck, int code)
{
	switch (code) {
	case ERR_QUOTE:
		sg_report_add(ck->r, 0, ck->row, NULL, "csv.quote",
		    "broken quoting: a quote inside an unquoted cell, or text "
		    "after a closing quote");
		break;
	case ERR_UNTERMINATED:
		sg_report_add(ck->r, 0, ck->row, NULL, "csv.unterminated-quote",
		    "the file ends inside a quoted cell (a closing quote is "
		    "missing)");
		break;
	case ERR_UTF16:
		sg_report_add(ck->r, 0, 0, NULL, "encoding.utf16",
		    "the file is saved as UTF-16 (\"Unicode Text\"); save it "
		    "as \"CSV UTF-8\"");
		break;
	case ERR_TOOLONG:
		sg_report_add(ck->r, 0, ck->row, NULL, "field.too-long",
		    "a cell is longer than %zu bytes (or a quote is not "
		    "closed)", ck->m->max_field_bytes);
		break;
	default:
		sg_report_add(ck->r, 0, ck->row, NULL, "resource.memory",
		    "not enough memory to read the file");
		break;
	}
	stop(ck);
}

/* The checks made once the input has ended. */
static void
final_checks(struct sg_csvcheck *ck)
{
	ck->ended = 1;
	if (ck->state == ST_HEADER && ck->field == 0 && ck->nheader == 0)
		sg_report_add(ck->r, 0, 0, NULL, "file.empty",
		    "the file is empty; the first row must be the header row");
	else if (ck->state == ST_HEADER)
		header_done(ck);
	if (ck->keys != NULL && ck->state != ST_STOPPED &&
	    sg_keyset_flush(ck->keys) != 0) {
		sg_report_add(ck->r, 0, 0, NULL, "resource.memory",
		    "not enough memory to check for duplicate keys");
		stop(ck);
	}
	if (ck->state == ST_ROWS && ck->r->rows == 0)
		sg_report_add(ck->r, 0, 0, NULL, "rows.none",
		    "the file has a header row but no data rows");
}

/* --- parsing side, threaded mode --- */

static int
flush_block(struct parser *ps)
{
	if (ps->blen > 0 && sg_pipe_commit(ps->pipe, ps->blen) != 0)
		return -1;
	ps->blen = 0;
	if ((ps->blk = sg_pipe_acquire(ps->pipe)) == NULL)
		return -1;
	return 0;
}

#define SMALL	32	/* cells this short are copied in one fixed move */

static inline void
emit(struct parser *ps, uint32_t word, const void *data, size_t len)
{
	unsigned char *d;

	if (ps->pstopped)
		return;
	/* keep SMALL bytes of slack so short cells can be over-copied */
	if (ps->blen + sizeof(word) + len + SMALL > ps->bcap &&
	    flush_block(ps) != 0) {
		ps->pstopped = ps->aborted = 1;	/* the checker has its
						 * verdict */
		return;
	}
	d = ps->blk + ps->blen;
	memcpy(d, &word, sizeof(word));
	if (len <= SMALL && data != NULL)
		memcpy(d + sizeof(word), data, SMALL);	/* libcsv's buffer
							 * is at least this
							 * big */
	else if (len > 0)
		memcpy(d + sizeof(word), data, len);
	ps->blen += sizeof(word) + len;
}

/* Bytes of an 8-byte word that belong to the cell, as a mask. */
static inline uint64_t
keep_mask(size_t valid)
{
	return valid >= 8 ? ~0ULL : (1ULL << (valid * 8)) - 1;
}

/* printable_ascii() for a cell of at most SMALL bytes whose buffer holds
 * SMALL readable bytes: four words, bytes past the cell replaced by 'A',
 * no branches on the length (it changes with every column). */
static inline int
printable_ascii_small(const unsigned char *s, size_t len)
{
	const uint64_t pad = 0x4141414141414141ULL;
	uint64_t bad = 0, m;
	size_t k, valid;

	for (k = 0; k < SMALL / 8; k++) {
		valid = len > 8 * k ? len - 8 * k : 0;
		m = keep_mask(valid);
		bad |= word_unprintable((*(const u64_ua *)(s + 8 * k) & m) |
		    (pad & ~m));
	}
	return bad == 0;
}

static void
p_field(void *data, size_t len, void *arg)
{
	struct parser *ps = arg;
	unsigned char *d;
	int ascii;

	/* an over-long cell travels as its length alone; the checker
	 * reports it without looking at it */
	if (len > ps->max_field) {
		emit(ps, EV_FIELD | (uint32_t)(ps->max_field + 1) << 3, NULL,
		    0);
		return;
	}
	if (ps->pstopped)
		return;
	if (ps->blen + 4 + len + SMALL > ps->bcap && flush_block(ps) != 0) {
		ps->pstopped = ps->aborted = 1;
		return;
	}
	d = ps->blk + ps->blen + 4;
	if (len == 0)
		ascii = 1;
	else if (len <= SMALL) {
		/* libcsv's cell buffer is never smaller than SMALL bytes
		 * (it starts at 128 and only grows) */
		memcpy(d, data, SMALL);
		ascii = printable_ascii_small(data, len);
	} else {
		memcpy(d, data, len);
		ascii = printable_ascii(data, len);
	}
	*(u32_ua *)(d - 4) = EV_FIELD | (uint32_t)ascii << 2 |
	    (uint32_t)len << 3;
	ps->blen += 4 + len;
}

static void
p_row(int c, void *arg)
{
	emit(arg, EV_ROW | (c < 0 ? ROW_END_OF_FILE : (uint32_t)c) << 3, NULL,
	    0);
}

static void
p_error(struct parser *ps, int code)
{
	if (ps->threaded)
		emit(ps, EV_ERROR | (uint32_t)code << 3, NULL, 0);
	else
		parse_problem(ps->ck, code);
	ps->pstopped = 1;
}

/* --- checking side, threaded mode --- */

static void
replay(struct sg_csvcheck *ck, const unsigned char *p, size_t n)
{
	size_t off = 0;
	uint32_t word, v;

	while (off + sizeof(word) <= n && ck->state != ST_STOPPED) {
		memcpy(&word, p + off, sizeof(word));
		off += sizeof(word);
		v = word >> 3;
		switch (word & 3) {
		case EV_FIELD:
			if (v > ck->m->max_field_bytes) {
				field(ck, NULL, v, 0);
				break;
			}
			field(ck, (const char *)p + off, v, (word >> 2) & 1);
			off += v;
			break;
		case EV_ROW:
			on_row(v == ROW_END_OF_FILE ? -1 : (int)v, ck);
			break;
		default:
			parse_problem(ck, (int)v);
			break;
		}
	}
}

static void *
check_main(void *arg)
{
	struct sg_csvcheck *ck = arg;
	const void *buf;
	long n;

	while ((n = sg_pipe_read(ck->ps->pipe, &buf)) > 0) {
		replay(ck, buf, (size_t)n);
		if (ck->state == ST_STOPPED) {
			sg_pipe_abort(ck->ps->pipe);
			break;
		}
	}
	if (n == 0 && ck->state != ST_STOPPED)
		final_checks(ck);
	sg_report_sort(ck->r);
	return NULL;
}

/* --- both modes --- */

static struct sg_csvcheck *
create(const struct sg_manifest *m, struct sg_report *r, int threaded)
{
	struct sg_csvcheck *ck;
	struct parser *ps;
	size_t i;

	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return NULL;
	if ((ps = aligned_alloc(64, (sizeof(*ps) + 63) & ~(size_t)63)) ==
	    NULL) {
		free(ck);
		return NULL;
	}
	memset(ps, 0, sizeof(*ps));
	ck->ps = ps;
	ps->ck = ck;
	ps->max_field = m->max_field_bytes;
	ck->m = m;
	ck->r = r;
	ck->row = 1;
	ps->in_bom = 1;
	ck->map = calloc(MAX_HEADER, sizeof(*ck->map));
	ck->present = calloc(m->ncolumns ? m->ncolumns : 1,
	    sizeof(*ck->present));
	if (ck->map == NULL || ck->present == NULL)
		goto fail;
	for (i = 0; i < m->ncolumns; i++)
		ck->present[i] = -1;
	if (m->key >= 0 && m->key_unique &&
	    (ck->keys = sg_keyset_new(on_duplicate, ck)) == NULL)
		goto fail;
	if (csv_init(&ps->p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) !=
	    0)
		goto fail;
	csv_set_space_func(&ps->p, no_space);
	if (threaded) {
		ps->bcap = m->max_field_bytes + 64 > BLOCK_MIN ?
		    m->max_field_bytes + 64 : BLOCK_MIN;
		if ((ps->pipe = sg_pipe_new(PIPE_BLOCKS, ps->bcap)) == NULL)
			goto fail_csv;
		ps->blk = sg_pipe_acquire(ps->pipe);
		if (pthread_create(&ps->thread, NULL, check_main, ck) != 0) {
			sg_pipe_free(ps->pipe);
			goto fail_csv;
		}
		ps->threaded = 1;
	}
	return ck;
fail_csv:
	csv_free(&ps->p);
fail:
	free(ck->map);
	free(ck->present);
	sg_keyset_free(ck->keys);
	free(ps);
	free(ck);
	return NULL;
}

struct sg_csvcheck *
sg_csvcheck_new(const struct sg_manifest *m, struct sg_report *r)
{
	return create(m, r, 0);
}

struct sg_csvcheck *
sg_csvcheck_new_threaded(const struct sg_manifest *m, struct sg_report *r)
{
	return create(m, r, 1);
}

/* Wait for the checking thread (threaded mode). With deliver, what was
 * parsed (an error event included) reaches it first; otherwise it is
 * told to stop. */
static void
join(struct parser *ps, int deliver)
{
	if (!ps->threaded)
		return;
	if (!deliver || ps->aborted || ps->blk == NULL)
		sg_pipe_abort(ps->pipe);
	else {
		if (ps->blen > 0)
			sg_pipe_commit(ps->pipe, ps->blen);
		sg_pipe_close(ps->pipe);
	}
	pthread_join(ps->thread, NULL);
	sg_pipe_free(ps->pipe);
	ps->threaded = 0;
	ps->pipe = NULL;
}

int
sg_csvcheck_sync(struct sg_csvcheck *ck)
{
	struct parser *ps = ck->ps;

	if (ps->threaded && (ps->aborted || ps->blk == NULL ||
	    flush_block(ps) != 0 || sg_pipe_sync(ps->pipe) != 0))
		return -1;	/* the checker stopped: it has its verdict,
				   and may still be writing its report */
	if (!ps->threaded && (ps->pstopped || ck->state == ST_STOPPED))
		return -1;
	return ck->r->rejected != 0;
}

void
sg_csvcheck_school(struct sg_csvcheck *ck, unsigned long laestab)
{
	ck->school = laestab;
}

void
sg_csvcheck_subjects(struct sg_csvcheck *ck, struct sg_blind_set *set)
{
	ck->subjects = set;
}

void
sg_csvcheck_free(struct sg_csvcheck *ck)
{
	if (ck == NULL)
		return;
	if (ck->ps->threaded) {
		ck->ps->pstopped = 1;
		join(ck->ps, 0);
	}
	csv_free(&ck->ps->p);
	free(ck->ps);
	sg_keyset_free(ck->keys);
	free(ck->map);
	free(ck->present);
	free(ck);
}

static void
parse(struct parser *ps, const unsigned char *p, size_t len)
{
	void (*fcb)(void *, size_t, void *) = ps->threaded ? p_field : on_field;
	void (*rcb)(int, void *) = ps->threaded ? p_row : on_row;
	void *arg = ps->threaded ? (void *)ps : (void *)ps->ck;

	while (len > 0 && !ps->pstopped) {
		size_t n = len < SLICE ? len : SLICE;

		if (csv_parse(&ps->p, p, n, fcb, rcb, arg) != n) {
			p_error(ps, csv_error(&ps->p) == CSV_EPARSE ?
			    ERR_QUOTE : ERR_MEMORY);
			return;
		}
		/* bound the memory libcsv holds for one cell */
		if (ps->p.entry_pos > ps->max_field) {
			p_error(ps, ERR_TOOLONG);
			return;
		}
		if (!ps->threaded && ps->ck->state == ST_STOPPED)
			ps->pstopped = 1;
		p += n;
		len -= n;
	}
}

int
sg_csvcheck_feed(struct sg_csvcheck *ck, const void *buf, size_t len)
{
	struct parser *ps = ck->ps;
	const unsigned char *p = buf;
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

	if (ps->pstopped)
		return -1;
	ps->pbytes += len;
	while (ps->in_bom && len > 0) {
		ps->bom[ps->nbom++] = *p++;
		len--;
		if (ps->nbom == 1 && (ps->bom[0] == 0xff || ps->bom[0] == 0xfe))
			continue;	/* a UTF-16 byte-order mark? */
		if (ps->nbom == 2 && ((ps->bom[0] == 0xff && ps->bom[1] == 0xfe) ||
		    (ps->bom[0] == 0xfe && ps->bom[1] == 0xff))) {
			p_error(ps, ERR_UTF16);
			return -1;
		}
		if (memcmp(ps->bom, bom, ps->nbom) != 0) {
			ps->in_bom = 0;
			parse(ps, ps->bom, ps->nbom);
		} else if (ps->nbom == 3)
			ps->in_bom = 0;	/* a UTF-8 BOM: dropped */
	}
	parse(ps, p, len);
	return ps->pstopped ? -1 : 0;
}

int
sg_csvcheck_finish(struct sg_csvcheck *ck)
{
	struct parser *ps = ck->ps;
	void (*fcb)(void *, size_t, void *) = ps->threaded ? p_field : on_field;
	void (*rcb)(int, void *) = ps->threaded ? p_row : on_row;
	void *arg = ps->threaded ? (void *)ps : (void *)ck;

	if (ps->in_bom) {
		/* fewer than 3 bytes, all a prefix of a BOM: they are data */
		ps->in_bom = 0;
		parse(ps, ps->bom, ps->nbom);
	}
	if (!ps->pstopped && csv_fini(&ps->p, fcb, rcb, arg) != 0)
		p_error(ps, ERR_UNTERMINATED);
	if (ps->threaded)
		join(ps, 1);	/* the checking thread ran the final checks */
	else {
		if (ck->state != ST_STOPPED)
			final_checks(ck);
		sg_report_sort(ck->r);
	}
	/* Fail closed: a check that neither ran to its end nor stopped on
	 * a reported error must never read as accepted. */
	if (!ck->ended && ck->state != ST_STOPPED) {
		sg_report_add(ck->r, 0, 0, NULL, "check.incomplete",
		    "the file could not be checked to its end");
		stop(ck);
	}
	ck->r->bytes += ps->pbytes;
	return ck->state == ST_STOPPED ? -1 : 0;
}
