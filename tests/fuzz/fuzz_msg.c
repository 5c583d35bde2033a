/* libFuzzer target: the one parser of messages between the gateway's
 * processes (base/msg.c) and the field reader every receiver uses on a
 * payload. The first byte says how many descriptors are queued. Whatever
 * the input, a message is accepted only within its rule, and a field is
 * read only from a payload whose shape was checked. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sg_msg_rule rules[] = {
	{ 1, 0, 64, 0 },
	{ 2, 8, 8, 1 },
	{ 3, 0, SG_MSG_MAX, 0 },
	{ 4, 6, 4096, 2 },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nfds, used, i;
	struct sg_msg m;
	char err[200], s[32];
	uint64_t v;

	if (size < 1)
		return 0;
	nfds = data[0] % 3;
	data++, size--;
	while (size > 0) {
		int rc = sg_msg_parse(data, size, nfds, rules, 4, &m, &used,
		    err, sizeof(err));

		if (rc < 0) {
			if (err[0] == 0)
				__builtin_trap();	/* refused, no reason */
			break;
		}
		if (rc == 0)
			break;
		if (used != SG_MSG_HDR + m.len || used > size)
			__builtin_trap();
		for (i = 0; i < 4; i++)
			if (rules[i].type == m.type &&
			    (m.len < rules[i].min || m.len > rules[i].max))
				__builtin_trap();	/* outside its rule */
		if (m.fd == 0) {
			if (nfds == 0)
				__builtin_trap();
			nfds--;
		}
		if (sg_msg_fields_ok(m.data, m.len) == 0) {
			uint16_t t;

			for (t = 0; t < 64; t++) {
				(void)sg_msg_field_str(m.data, m.len, t, s,
				    sizeof(s));
				(void)sg_msg_field_u64(m.data, m.len, t, &v);
			}
		}
		data += used;
		size -= used;
	}
	return 0;
}
