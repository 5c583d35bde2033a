/* libFuzzer target: the payloads that cross between the core and an
 * intake process (intake/wire.c): a flow (what an intake process is
 * sent), a report head and its entries (what the core is sent back). The
 * first byte picks which. Whatever the input: a flow decoded is whole
 * (its indices within its columns) and encodes again; a report rebuilt
 * never holds more entries than it may keep. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "intake/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_wire_rules rules;
	static int ready;
	struct sg_report r;
	struct sg_flow *f;
	struct sg_msgb b;
	char err[200];

	if (!ready) {
		sg_wire_rules_init(&rules);
		ready = 1;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if ((f = sg_wire_flow_get(data + 1, size - 1, err,
		    sizeof(err))) == NULL) {
			if (err[0] == 0)
				__builtin_trap();
			break;
		}
		if (f->manifest.key >= (int)f->manifest.ncolumns ||
		    f->manifest.school_la >= (int)f->manifest.ncolumns)
			__builtin_trap();
		sg_msgb_init(&b);
		if (sg_wire_flow_put(&b, f) != 0)
			__builtin_trap();	/* what was read can be sent */
		sg_msgb_free(&b);
		sg_wire_flow_free(f);
		break;
	case 1:
		sg_report_init(&r, 4);
		(void)sg_wire_report_head_get(&r, &rules, data + 1, size - 1);
		if (r.ncounts > SG_REPORT_MAX_RULES)
			__builtin_trap();
		sg_report_free(&r);
		break;
	default:
		sg_report_init(&r, 2);
		/* the same entry three times: the third is refused */
		(void)sg_wire_entry_get(&r, &rules, data + 1, size - 1);
		(void)sg_wire_entry_get(&r, &rules, data + 1, size - 1);
		(void)sg_wire_entry_get(&r, &rules, data + 1, size - 1);
		if (r.nerrors > 2 || r.nwarnings > 2)
			__builtin_trap();
		sg_report_free(&r);
		break;
	}
	return 0;
}
