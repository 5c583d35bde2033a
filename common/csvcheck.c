/*
 * csvcheck: per-cell validation driven by libcsv callbacks; see
 * csvcheck.h. The cell path is the hot path of the gateway: no
 * allocation, no formatting unless a cell fails.
 */
#include "csvcheck.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyset.h"
#include "utf8.h"

#define SLICE		(64 * 1024)	/* bytes given to libcsv at once */
#define MAX_HEADER	1024		/* header fields before we give up */

enum { ST_BOM, ST_HEADER, ST_ROWS, ST_STOPPED };

struct sg_csvcheck {
	const struct sg_manifest *m;
	struct sg_report	*r;
	struct csv_parser	 p;
	struct sg_keyset	*keys;
	int			 state;
	unsigned char		 bom[3];
	size_t			 nbom;
	uint64_t		 row;		/* current record's row */
	size_t			 field;		/* fields so far in record */
	int			 last_cr;	/* last record ended with CR */
	int			 header_bad;
	int			*map;		/* header field -> column */
	size_t			 nheader;
	int			*present;	/* column -> header field */
	uint64_t		 key_code;	/* this row's key, 0: none */
};

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
	for (i = 0; i < m->ncolumns; i++)
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
		ck->header_bad = 1;
		return;
	}
	if (ck->present[found] >= 0) {
		sg_report_add(ck->r, 0, 1, m->columns[found].name,
		    "header.duplicate-column", "appears twice in the header "
		    "row (columns %d and %zu)", ck->present[found] + 1,
		    idx + 1);
		ck->header_bad = 1;
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
			ck->header_bad = 1;
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
				ck->header_bad = 1;
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

static void
cell(struct sg_csvcheck *ck, const struct sg_column *col, int is_key,
    const char *s, size_t len)
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
	switch (sg_utf8_check((const unsigned char *)s, len, &pos, &chars)) {
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
			if (strncmp(col->codes[i], s, len) == 0 &&
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
	if (v == SG_VALID)
		;
	else
		sg_report_add(r, v == SG_WARNING, ck->row, col->name, why.rule,
		    "%s", why.msg);
	if (is_key && v == SG_VALID && col->type != SG_V_UPN &&
	    col->type != SG_V_UPN_OR_TEMP && col->type != SG_V_TRN)
		ck->key_code = sg_keyset_code_bytes(ck->keys, s, len);
}

static void
on_field(void *data, size_t len, void *arg)
{
	struct sg_csvcheck *ck = arg;
	const struct sg_column *col;

	switch (ck->state) {
	case ST_HEADER:
		header_field(ck, data, len);
		break;
	case ST_ROWS:
		if ((col = col_at(ck, ck->field)) != NULL)
			cell(ck, col, ck->map[ck->field] == ck->m->key, data,
			    len);
		break;
	default:
		return;
	}
	ck->field++;
}

static void
row_done(struct sg_csvcheck *ck)
{
	const struct sg_manifest *m = ck->m;
	uint32_t first;
	int rc;

	ck->r->rows++;
	if (ck->field != ck->nheader)
		sg_report_add(ck->r, 0, ck->row, NULL, "row.field-count",
		    "has %zu fields, but the header row has %zu", ck->field,
		    ck->nheader);
	if (ck->key_code != 0 && m->key_unique && ck->keys != NULL) {
		rc = sg_keyset_add(ck->keys, ck->key_code,
		    (uint32_t)(ck->row - 2), &first);
		if (rc == 1)
			sg_report_add(ck->r, 0, ck->row,
			    m->columns[m->key].name, "key.duplicate",
			    "is the same as in row %llu; each %s must appear "
			    "once", (unsigned long long)first + 2,
			    m->columns[m->key].name);
		else if (rc < 0) {
			sg_report_add(ck->r, 0, ck->row, NULL, "resource.memory",
			    "not enough memory to check for duplicate keys");
			stop(ck);
		}
	}
	ck->key_code = 0;
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
	if (ck->row - 2 >= ck->m->max_rows) {
		sg_report_add(ck->r, 0, ck->row, NULL, "rows.too-many",
		    "the file has more than the %llu rows this flow allows",
		    (unsigned long long)ck->m->max_rows);
		stop(ck);
	}
}

struct sg_csvcheck *
sg_csvcheck_new(const struct sg_manifest *m, struct sg_report *r)
{
	struct sg_csvcheck *ck;
	size_t i;

	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return NULL;
	ck->m = m;
	ck->r = r;
	ck->row = 1;
	ck->map = calloc(MAX_HEADER, sizeof(*ck->map));
	ck->present = calloc(m->ncolumns ? m->ncolumns : 1,
	    sizeof(*ck->present));
	if (ck->map == NULL || ck->present == NULL)
		goto fail;
	for (i = 0; i < m->ncolumns; i++)
		ck->present[i] = -1;
	if (m->key >= 0 && m->key_unique &&
	    (ck->keys = sg_keyset_new()) == NULL)
		goto fail;
	if (csv_init(&ck->p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) !=
	    0)
		goto fail;
	csv_set_space_func(&ck->p, no_space);
	return ck;
fail:
	free(ck->map);
	free(ck->present);
	sg_keyset_free(ck->keys);
	free(ck);
	return NULL;
}

void
sg_csvcheck_free(struct sg_csvcheck *ck)
{
	if (ck == NULL)
		return;
	csv_free(&ck->p);
	sg_keyset_free(ck->keys);
	free(ck->map);
	free(ck->present);
	free(ck);
}

static void
parse_error(struct sg_csvcheck *ck, int at_end)
{
	if (at_end)
		sg_report_add(ck->r, 0, ck->row, NULL, "csv.unterminated-quote",
		    "the file ends inside a quoted cell (a closing quote is "
		    "missing)");
	else
		sg_report_add(ck->r, 0, ck->row, NULL, "csv.quote",
		    "broken quoting: a quote inside an unquoted cell, or text "
		    "after a closing quote");
	stop(ck);
}

static void
parse(struct sg_csvcheck *ck, const unsigned char *p, size_t len)
{
	while (len > 0 && ck->state != ST_STOPPED) {
		size_t n = len < SLICE ? len : SLICE;

		if (csv_parse(&ck->p, p, n, on_field, on_row, ck) != n) {
			if (csv_error(&ck->p) == CSV_EPARSE)
				parse_error(ck, 0);
			else {
				sg_report_add(ck->r, 0, ck->row, NULL,
				    "resource.memory", "not enough memory to "
				    "read the file");
				stop(ck);
			}
			return;
		}
		if (ck->p.entry_pos > ck->m->max_field_bytes &&
		    ck->state != ST_STOPPED) {
			sg_report_add(ck->r, 0, ck->row, NULL, "field.too-long",
			    "a cell is longer than %zu bytes (or a quote is "
			    "not closed)", ck->m->max_field_bytes);
			stop(ck);
			return;
		}
		p += n;
		len -= n;
	}
}

int
sg_csvcheck_feed(struct sg_csvcheck *ck, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

	if (ck->state == ST_STOPPED)
		return -1;
	ck->r->bytes += len;
	while (ck->state == ST_BOM && len > 0) {
		ck->bom[ck->nbom++] = *p++;
		len--;
		if (memcmp(ck->bom, bom, ck->nbom) != 0) {
			ck->state = ST_HEADER;
			parse(ck, ck->bom, ck->nbom);
		} else if (ck->nbom == 3)
			ck->state = ST_HEADER;	/* BOM dropped */
	}
	parse(ck, p, len);
	return ck->state == ST_STOPPED ? -1 : 0;
}

int
sg_csvcheck_finish(struct sg_csvcheck *ck)
{
	if (ck->state == ST_BOM) {
		/* fewer than 3 bytes, all a prefix of a BOM: they are data */
		ck->state = ST_HEADER;
		parse(ck, ck->bom, ck->nbom);
	}
	if (ck->state == ST_STOPPED) {
		sg_report_sort(ck->r);
		return -1;
	}
	if (csv_fini(&ck->p, on_field, on_row, ck) != 0 &&
	    ck->state != ST_STOPPED)
		parse_error(ck, 1);
	if (ck->state == ST_HEADER && ck->field == 0 && ck->nheader == 0)
		sg_report_add(ck->r, 0, 0, NULL, "file.empty",
		    "the file is empty; the first row must be the header row");
	else if (ck->state == ST_HEADER)
		header_done(ck);
	if (ck->state == ST_ROWS && ck->r->rows == 0)
		sg_report_add(ck->r, 0, 0, NULL, "rows.none",
		    "the file has a header row but no data rows");
	sg_report_sort(ck->r);
	return ck->state == ST_STOPPED ? -1 : 0;
}
