/*
 * wire: what crosses between the core and an intake process (the
 * process that unpacks, checks and seals one upload; daemon/pipeline/
 * intake_proc.c), as message payloads (base/msg.h): the flow the upload
 * is checked against, the report that comes back, entry by entry, and
 * what was sealed.
 *
 * Every decoder checks every value it reads (lengths, counts, enums,
 * column indices) and refuses the whole payload on the first that is
 * out of range: a process that parses the network may have been taken
 * over, and what it sends is input like any other.
 *
 * Rule names in a report are static strings in the process that made
 * them. The receiving side maps each name it is sent to one string of
 * its own through a bounded table (struct sg_wire_rules), so that the
 * report it rebuilds has the same shape as one made in-process.
 */
#ifndef SG_WIRE_H
#define SG_WIRE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/msg.h"
#include "check/report.h"
#include "policy/config.h"

/* The flow (with its manifest and LA codes) as one payload. */
int	sg_wire_flow_put(struct sg_msgb *, const struct sg_flow *);
/* A flow decoded from a payload, owning all it points to; NULL when the
 * payload is not a well-formed flow (err says what). */
struct sg_flow *sg_wire_flow_get(const unsigned char *, size_t, char *err,
	    size_t cap);
void	sg_wire_flow_free(struct sg_flow *);

/* Rule names, interned (thread-safe; at most SG_WIRE_RULES_MAX). */
#define SG_WIRE_RULES_MAX	512
struct sg_wire_rules {
	pthread_mutex_t	 mu;
	char		*name[SG_WIRE_RULES_MAX];
	size_t		 n;
};
void	sg_wire_rules_init(struct sg_wire_rules *);
void	sg_wire_rules_free(struct sg_wire_rules *);
/* The table's string for name (n bytes); NULL when it is not a rule
 * name (1 to 63 of a-z 0-9 . _ -) or the table is full. */
const char *sg_wire_rule(struct sg_wire_rules *, const char *name, size_t n);

/* A report: its head (totals, counts, container) as one payload, and
 * each kept entry as one more. */
int	sg_wire_report_head_put(struct sg_msgb *, const struct sg_report *);
int	sg_wire_entry_put(struct sg_msgb *, int warning,
	    const struct sg_report_entry *);
/* Into r (initialised by the caller with its max): the head first, then
 * the entries; 0, or -1 when a payload is malformed. */
int	sg_wire_report_head_get(struct sg_report *, struct sg_wire_rules *,
	    const unsigned char *, size_t);
int	sg_wire_entry_get(struct sg_report *, struct sg_wire_rules *,
	    const unsigned char *, size_t);

#endif
