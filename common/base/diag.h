/*
 * diag: a list of diagnostics ("file:line: setting: message") gathered by
 * a loader or checker so that all problems can be reported at once.
 * The list owns its strings; sg_diag_free() releases them. Adding never
 * fails silently: when memory runs out the list records that it is
 * incomplete.
 */
#ifndef SG_DIAG_H
#define SG_DIAG_H

#include <stddef.h>

struct sg_diag {
	char	**msgs;
	size_t	  count;
	size_t	  cap;
	int	  oom;		/* a message could not be stored */
};

void	sg_diag_init(struct sg_diag *);
void	sg_diag_free(struct sg_diag *);
void	sg_diag_add(struct sg_diag *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
