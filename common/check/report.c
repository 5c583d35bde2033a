/* report: verdicts and their reasons; see report.h. */
#include "check/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

void
sg_report_init(struct sg_report *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : 100;
	snprintf(r->container, sizeof(r->container), "csv");
}

void
sg_report_free(struct sg_report *r)
{
	free(r->errors);
	free(r->warnings);
	r->errors = r->warnings = NULL;
	r->nerrors = r->nwarnings = 0;
}

static void
count_rule(struct sg_report *r, const char *rule, int warning)
{
	size_t i;

	for (i = 0; i < r->ncounts; i++)
		if (strcmp(r->counts[i].rule, rule) == 0 &&
		    r->counts[i].warning == warning) {
			r->counts[i].count++;
			return;
		}
	if (r->ncounts < SG_REPORT_MAX_RULES) {
		r->counts[r->ncounts].rule = rule;
		r->counts[r->ncounts].warning = warning;
		r->counts[r->ncounts].count = 1;
		r->ncounts++;
	}
}

void
sg_report_add(struct sg_report *r, int warning, uint64_t row,
    const char *column, const char *rule, const char *fmt, ...)
{
	struct sg_report_entry **list = warning ? &r->warnings : &r->errors;
	size_t *n = warning ? &r->nwarnings : &r->nerrors;
	struct sg_report_entry *e;
	va_list ap;

	if (warning)
		r->nwarnings_total++;
	else {
		r->nerrors_total++;
		r->rejected = 1;
	}
	count_rule(r, rule, warning);
	if (*n >= r->max)
		return;
	if (*list == NULL &&
	    (*list = calloc(r->max, sizeof(**list))) == NULL)
		return;
	e = &(*list)[(*n)++];
	e->row = row;
	snprintf(e->column, sizeof(e->column), "%s", column ? column : "");
	e->rule = rule;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void
merge_list(struct sg_report *dst, int warning,
    const struct sg_report_entry *e, size_t n)
{
	struct sg_report_entry **list = warning ? &dst->warnings : &dst->errors;
	size_t *have = warning ? &dst->nwarnings : &dst->nerrors;
	size_t i;

	for (i = 0; i < n && *have < dst->max; i++) {
		if (*list == NULL &&
		    (*list = calloc(dst->max, sizeof(**list))) == NULL)
			return;
		(*list)[(*have)++] = e[i];
	}
}

void
sg_report_merge(struct sg_report *dst, struct sg_report *src)
{
	size_t i, j;

	dst->rows += src->rows;
	dst->bytes += src->bytes;
	dst->rejected |= src->rejected;
	dst->stopped |= src->stopped;
	dst->nerrors_total += src->nerrors_total;
	dst->nwarnings_total += src->nwarnings_total;
	merge_list(dst, 0, src->errors, src->nerrors);
	merge_list(dst, 1, src->warnings, src->nwarnings);
	for (i = 0; i < src->ncounts; i++) {
		for (j = 0; j < dst->ncounts; j++)
			if (strcmp(dst->counts[j].rule, src->counts[i].rule) ==
			    0 && dst->counts[j].warning == src->counts[i].warning)
				break;
		if (j == dst->ncounts) {
			if (j == SG_REPORT_MAX_RULES)
				continue;
			dst->counts[j] = src->counts[i];
			dst->counts[j].count = 0;
			dst->ncounts++;
		}
		dst->counts[j].count += src->counts[i].count;
	}
	sg_report_free(src);
	sg_report_init(src, src->max);
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct sg_report_entry *a = x, *b = y;

	return (a->row > b->row) - (a->row < b->row);
}

void
sg_report_sort(struct sg_report *r)
{
	/* qsort is not stable, but entries of one row keep their order
	 * well enough for reading; the row is what matters */
	if (r->nerrors > 1)
		qsort(r->errors, r->nerrors, sizeof(*r->errors), entry_cmp);
	if (r->nwarnings > 1)
		qsort(r->warnings, r->nwarnings, sizeof(*r->warnings),
		    entry_cmp);
}

const char *
sg_report_verdict(const struct sg_report *r)
{
	return r->rejected ? "rejected" : "accepted";
}

static void
print_entry(FILE *f, const struct sg_report_entry *e)
{
	if (e->row > 0 && e->column[0] != '\0')
		fprintf(f, "  Row %llu, %s: %s [%s]\n",
		    (unsigned long long)e->row, e->column, e->msg, e->rule);
	else if (e->row > 0)
		fprintf(f, "  Row %llu: %s [%s]\n", (unsigned long long)e->row,
		    e->msg, e->rule);
	else if (e->column[0] != '\0')
		fprintf(f, "  %s: %s [%s]\n", e->column, e->msg, e->rule);
	else
		fprintf(f, "  %s [%s]\n", e->msg, e->rule);
}

static void
print_rest(FILE *f, const struct sg_report *r, int warning, uint64_t total,
    size_t shown)
{
	size_t i;
	int first = 1;

	if (total <= shown)
		return;
	fprintf(f, "  ... and %llu more %s (",
	    (unsigned long long)(total - shown),
	    warning ? "warnings" : "errors");
	for (i = 0; i < r->ncounts; i++)
		if (r->counts[i].warning == warning) {
			fprintf(f, "%s%s: %llu", first ? "" : ", ",
			    r->counts[i].rule,
			    (unsigned long long)r->counts[i].count);
			first = 0;
		}
	fprintf(f, " in all)\n");
}

void
sg_report_print(const struct sg_report *r, FILE *f)
{
	size_t i;

	fprintf(f, "Verdict: %s\n", r->rejected ? "REJECTED" : "ACCEPTED");
	fprintf(f, "Container: %s\n", r->container);
	fprintf(f, "Rows read: %llu%s\n", (unsigned long long)r->rows,
	    r->stopped ? " (checking stopped at the first fatal error)" : "");
	if (r->nerrors_total > 0) {
		fprintf(f, "Errors: %llu\n",
		    (unsigned long long)r->nerrors_total);
		for (i = 0; i < r->nerrors; i++)
			print_entry(f, &r->errors[i]);
		print_rest(f, r, 0, r->nerrors_total, r->nerrors);
	}
	if (r->nwarnings_total > 0) {
		fprintf(f, "Warnings: %llu\n",
		    (unsigned long long)r->nwarnings_total);
		for (i = 0; i < r->nwarnings; i++)
			print_entry(f, &r->warnings[i]);
		print_rest(f, r, 1, r->nwarnings_total, r->nwarnings);
	}
}

static void
json_entries(FILE *f, const struct sg_report_entry *e, size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%s{\"row\":%llu,", i ? "," : "",
		    (unsigned long long)e[i].row);
		sg_json_key(f, 1, "column");
		if (e[i].column[0] != '\0')
			sg_json_str(f, e[i].column);
		else
			fputs("null", f);
		sg_json_key(f, 0, "rule");
		sg_json_str(f, e[i].rule);
		sg_json_key(f, 0, "message");
		sg_json_str(f, e[i].msg);
		fputc('}', f);
	}
	fputc(']', f);
}

static void
json_counts(FILE *f, const struct sg_report *r, int warning)
{
	size_t i;
	int first = 1;

	fputc('{', f);
	for (i = 0; i < r->ncounts; i++)
		if (r->counts[i].warning == warning) {
			sg_json_key(f, first, r->counts[i].rule);
			fprintf(f, "%llu",
			    (unsigned long long)r->counts[i].count);
			first = 0;
		}
	fputc('}', f);
}

void
sg_report_json(const struct sg_report *r, FILE *f)
{
	fputc('{', f);
	sg_json_key(f, 1, "verdict");
	sg_json_str(f, sg_report_verdict(r));
	sg_json_key(f, 0, "container");
	sg_json_str(f, r->container);
	fprintf(f, ",\"rows\":%llu,\"bytes\":%llu,\"stopped\":%s",
	    (unsigned long long)r->rows, (unsigned long long)r->bytes,
	    r->stopped ? "true" : "false");
	fprintf(f, ",\"error_total\":%llu,\"warning_total\":%llu",
	    (unsigned long long)r->nerrors_total,
	    (unsigned long long)r->nwarnings_total);
	sg_json_key(f, 0, "errors");
	json_entries(f, r->errors, r->nerrors);
	sg_json_key(f, 0, "error_counts");
	json_counts(f, r, 0);
	sg_json_key(f, 0, "warnings");
	json_entries(f, r->warnings, r->nwarnings);
	sg_json_key(f, 0, "warning_counts");
	json_counts(f, r, 1);
	fputs("}\n", f);
}

int
sg_report_has(const struct sg_report *r, const char *rule)
{
	size_t i;

	for (i = 0; i < r->ncounts; i++)
		if (strcmp(r->counts[i].rule, rule) == 0)
			return 1;
	return 0;
}
