/* diag: gathered diagnostics; see diag.h. */
#include "base/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
sg_diag_init(struct sg_diag *d)
{
	d->msgs = NULL;
	d->count = d->cap = 0;
	d->oom = 0;
}

void
sg_diag_free(struct sg_diag *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		free(d->msgs[i]);
	free(d->msgs);
	sg_diag_init(d);
}

void
sg_diag_add(struct sg_diag *d, const char *fmt, ...)
{
	va_list ap;
	char *m, **n;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		d->oom = 1;
		return;
	}
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;

		n = reallocarray(d->msgs, cap, sizeof(*n));
		if (n == NULL) {
			free(m);
			d->oom = 1;
			return;
		}
		d->msgs = n;
		d->cap = cap;
	}
	d->msgs[d->count++] = m;
}
