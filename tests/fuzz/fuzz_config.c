/* libFuzzer target: the configuration loader, fed an agreement file.
 * Whatever the input, it loads completely or not at all, and a refusal
 * always says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/config.h"

static char dir[64], agr[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
put(const char *name, const char *text)
{
	char p[160];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sub[100];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/sg-fuzz-config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(sub, sizeof(sub), "%s/agreements", dir);
	mkdir(sub, 0700);
	put("schoolgate.conf", "parties = \"parties.conf\";\n"
	    "agreements = \"agreements\";\nla_codes = \"la.conf\";\n");
	put("parties.conf", "parties = ( { id = \"school:1\"; name = \"S\"; },"
	    " { id = \"org:x\"; name = \"X\"; } );\n");
	put("la.conf", "la_codes = [ \"341\" ];\n");
	snprintf(agr, sizeof(agr), "%s/agreements/a.conf", dir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_diag d;
	struct sg_config *cfg;
	FILE *f;

	if ((f = fopen(agr, "w")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	sg_diag_init(&d);
	cfg = sg_config_load(dir, &d);
	if (cfg == NULL && d.count == 0)
		__builtin_trap();	/* refused without a reason */
	if (cfg != NULL && d.count != 0)
		__builtin_trap();	/* loaded despite problems */
	sg_config_free(cfg);
	sg_diag_free(&d);
	return 0;
}
