/* libFuzzer target: CSV validation against a manifest. The first input
 * byte picks synchronous or threaded mode and the chunk size, so chunk
 * boundaries and the thread hand-off are fuzzed too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check/csvcheck.h"

static char *codes[] = { "M", "F" };
static struct sg_column cols[] = {
	{ "UPN", SG_V_UPN, 1, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "Surname", SG_V_TEXT, 1, 0, 0, 0, 20, NULL, 0, 0, SG_LA_WARN },
	{ "Sex", SG_V_CODE, 0, 0, 0, 0, 0, codes, 2, 0, SG_LA_WARN },
	{ "N", SG_V_INTEGER, 0, 0, -5, 500, 0, NULL, 0, 0, SG_LA_WARN },
	{ "TRN", SG_V_TRN, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "Email", SG_V_EMAIL, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "Phone", SG_V_UKPHONE, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "DOB", SG_V_DATE, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "Postcode", SG_V_POSTCODE, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
	{ "NI", SG_V_NINO, 0, 0, 0, 0, 0, NULL, 0, 0, SG_LA_WARN },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_manifest m;
	struct sg_report r;
	struct sg_csvcheck *ck;
	size_t chunk, off;

	if (size < 1)
		return 0;
	memset(&m, 0, sizeof(m));
	m.columns = cols;
	m.ncolumns = sizeof(cols) / sizeof(cols[0]);
	m.key = 0;
	m.key_unique = 1;
	m.max_rows = 10000;
	m.order_enforced = data[0] & 1;
	m.injection = (data[0] & 2) ? SG_INJ_ALLOW_NUMERIC : SG_INJ_REJECT;
	m.max_field_bytes = 64;
	m.max_errors = 5;
	chunk = 1 + (data[0] >> 3);
	sg_report_init(&r, m.max_errors);
	ck = (data[0] & 4) ? sg_csvcheck_new_threaded(&m, &r) :
	    sg_csvcheck_new(&m, &r);
	if (ck == NULL)
		return 0;
	for (off = 1; off < size; off += chunk)
		if (sg_csvcheck_feed(ck, data + off,
		    size - off < chunk ? size - off : chunk) != 0)
			break;
	sg_csvcheck_finish(ck);
	sg_csvcheck_free(ck);
	/* an accepted file has rows and no errors; a rejected one says why */
	if (r.rejected != (r.nerrors_total > 0))
		__builtin_trap();
	sg_report_free(&r);
	return 0;
}
