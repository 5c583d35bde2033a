/*
 * report: the verdict on one file and the problems found in it.
 *
 * An entry names the row (1 = the header row, as a spreadsheet numbers
 * them; 0 = the file as a whole), the column, a stable rule id and a short
 * reason. It never holds a cell's value: reports travel into logs, e-mails
 * and the journal, and cell values are personal data.
 *
 * The first `max` errors and `max` warnings are kept in full; all of them
 * are counted per rule. The report owns its memory; sg_report_free()
 * releases it.
 */
#ifndef SG_REPORT_H
#define SG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SG_REPORT_MAX_RULES	96

struct sg_report_entry {
	uint64_t	 row;
	char		 column[132];	/* "" when not about one column */
	const char	*rule;		/* static string */
	char		 msg[160];
};

struct sg_rule_count {
	const char	*rule;
	uint64_t	 count;
	int		 warning;
};

struct sg_report {
	int			 rejected;	/* 1 once any error is added */
	uint64_t		 rows;		/* data rows read */
	uint64_t		 bytes;		/* CSV bytes checked */
	uint64_t		 nerrors_total;
	uint64_t		 nwarnings_total;
	struct sg_report_entry	*errors;
	size_t			 nerrors;
	struct sg_report_entry	*warnings;
	size_t			 nwarnings;
	size_t			 max;		/* entries kept of each kind */
	struct sg_rule_count	 counts[SG_REPORT_MAX_RULES];
	size_t			 ncounts;
	char			 container[64];	/* "csv", "zip (AES-256)"... */
	int			 stopped;	/* checking stopped early */
};

void	sg_report_init(struct sg_report *, size_t max_entries);
void	sg_report_free(struct sg_report *);
/* Add an error (warning = 0) or warning. column may be NULL. */
void	sg_report_add(struct sg_report *, int warning, uint64_t row,
	    const char *column, const char *rule, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* Move everything from src into dst (rows, bytes, entries, counts);
 * src is left empty but initialised. */
void	sg_report_merge(struct sg_report *dst, struct sg_report *src);
/* Entries sorted by row (duplicates are found out of order). */
void	sg_report_sort(struct sg_report *);

const char *sg_report_verdict(const struct sg_report *);
/* 1 when rule was reported (an error or a warning, listed or only
 * counted), 0 when not. */
int	sg_report_has(const struct sg_report *, const char *rule);
/* Human-readable report, as a school office reads it. */
void	sg_report_print(const struct sg_report *, FILE *);
/* One JSON object: verdict, rows, errors, warnings, error_counts, ... */
void	sg_report_json(const struct sg_report *, FILE *);

#endif
