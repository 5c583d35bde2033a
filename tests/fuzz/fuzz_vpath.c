/* libFuzzer target: the one resolver of the paths clients name (SFTP
 * paths, HTTPS URLs): unescaping, splitting under each set of flags,
 * the segment rules and name normalisation. Whatever the input, a path
 * it accepts has no segment that is empty, "..", over-long or holding a
 * '/', a NUL or a control character. The first byte picks the flags. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/vpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path, *seg[SG_VPATH_MAXSEG], nfc[SG_VNAME_MAX + 1];
	int flags, n, i;

	if (size < 1 || size > 4096)
		return 0;
	flags = data[0] & 0xf;
	if ((path = malloc(size)) == NULL)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = 0;
	if ((data[0] & 0x10) && sg_vpath_unescape(path) != 0)
		goto out;
	n = sg_vpath_split(path, seg, flags);
	if (n > SG_VPATH_MAXSEG)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		size_t k = strlen(seg[i]), j;

		if (k == 0 || strcmp(seg[i], "..") == 0 ||
		    strchr(seg[i], '/') != NULL)
			__builtin_trap();
		for (j = 0; j < k; j++)
			if ((unsigned char)seg[i][j] < 0x20 ||
			    seg[i][j] == 0x7f)
				__builtin_trap();
		if (sg_vseg_ok(seg[i], k, SG_VSEG_NAME) &&
		    (seg[i][0] == '.' || k > SG_VNAME_MAX))
			__builtin_trap();
		if (sg_vname_nfc(seg[i], nfc, sizeof(nfc)) == 0 &&
		    !sg_vname_same(seg[i], nfc) &&
		    sg_vseg_ok(seg[i], k, SG_VSEG_NAME))
			__builtin_trap();	/* its NFC is another name */
	}
out:
	free(path);
	return 0;
}
