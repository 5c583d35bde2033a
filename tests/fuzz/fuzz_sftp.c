/* libFuzzer target: the SFTP packet parser (front/sftp_wire.c, in the SSH
 * front's process) and the handler of what it passes on (front/sftp.c, in
 * the core) as a signed-in party's session sees them, after SSH. The core behind it is the real
 * access authority with the store, log and pipeline answered in memory
 * (core_stub.c), asynchronously, as the daemon answers.
 *
 * Input: byte 0 picks the party (one of the configuration's), byte 1
 * what fails (core_stub.h; its top bit: the bytes go to the core as they
 * are, as a front taken over would send them, not through the parser), byte 2 how the bytes arrive (in pieces of
 * 1 to 40,000); the rest is the client's stream, after an INIT the
 * target sends first. Whatever the input: every packet the handler
 * sends is whole and of a reply type; a session ends with nothing left
 * queued in its name (leaks are found by libFuzzer). SG_FUZZ_TRACE=1
 * prints the replies (tests/fuzz/sftp-seeds makes the seeds). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_stub.h"
#include "front/sftp.h"
#include "front/sftp_wire.h"

/* The client's stream as the front passes it on: records, up to and
 * including the first that says a packet did not parse. */
static unsigned char *
records(const uint8_t *in, size_t n, size_t *outn)
{
	size_t cap = 4 * (SFC_MAX + 4), len = 0, at = 0, used, k;
	unsigned char *b = malloc(cap), *nb;
	int broken = 0;

	while (b != NULL && !broken && at < n) {
		if (cap - len < SFC_MAX + 4) {
			if ((nb = realloc(b, cap * 2)) == NULL)
				break;
			b = nb;
			cap *= 2;
		}
		k = sftp_canon_stream(in + at, n - at, &used, b + len,
		    cap - len, &broken);
		if (used > n - at || k > cap - len)
			__builtin_trap();
		for (size_t r = len; r < len + k;) {	/* each record */
			size_t rl = (size_t)b[r] << 24 | (size_t)b[r + 1] <<
			    16 | (size_t)b[r + 2] << 8 | b[r + 3];

			if (rl == 0 || rl > SFC_MAX || r + 4 + rl > len + k)
				__builtin_trap();
			r += 4 + rl;
		}
		len += k;
		at += used;
		if (k == 0)
			break;		/* a packet not whole at the end */
	}
	*outn = len;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	int		 trace;		/* SG_FUZZ_TRACE: replies on stderr */
	size_t		 queued;	/* not yet "sent" */
	int		 dead;
	unsigned char	 head[5];	/* the reply packet being read */
	size_t		 nhead;
	uint32_t	 left;		/* of its body */
	unsigned char	 body[512];	/* its start, for the trace */
	size_t		 nbody;
	unsigned	 type;
} out;

static void
trace_reply(void)
{
	uint32_t code, n;

	if (out.type == 104 && out.nbody >= 12) {	/* NAME: the first */
		n = (uint32_t)out.body[8] << 24 | (uint32_t)out.body[9] << 16 |
		    (uint32_t)out.body[10] << 8 | out.body[11];
		if (n > out.nbody - 12)
			n = (uint32_t)(out.nbody - 12);
		fprintf(stderr, "  <- name %.*s ...\n", (int)n, out.body + 12);
		return;
	}
	if (out.type != 101 || out.nbody < 12) {
		fprintf(stderr, "  <- type %u, %zu byte(s)\n", out.type,
		    out.nbody);
		return;
	}
	code = (uint32_t)out.body[4] << 24 | (uint32_t)out.body[5] << 16 |
	    (uint32_t)out.body[6] << 8 | out.body[7];
	n = (uint32_t)out.body[8] << 24 | (uint32_t)out.body[9] << 16 |
	    (uint32_t)out.body[10] << 8 | out.body[11];
	if (n > out.nbody - 12)
		n = (uint32_t)(out.nbody - 12);
	fprintf(stderr, "  <- status %u: %.*s\n", code, (int)n, out.body + 12);
}

static void
o_send(void *arg, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	(void)arg;
	out.queued += len;
	while (len > 0) {
		if (out.left > 0) {
			size_t n = len < out.left ? len : out.left;
			size_t k = sizeof(out.body) - out.nbody;

			if (k > n)
				k = n;
			memcpy(out.body + out.nbody, p, k);
			out.nbody += k;
			out.left -= (uint32_t)n;
			if (out.left == 0 && out.trace)
				trace_reply();
			p += n;
			len -= n;
			continue;
		}
		out.head[out.nhead++] = *p++;
		len--;
		if (out.nhead < 5)
			continue;
		{
			uint32_t plen = (uint32_t)out.head[0] << 24 |
			    (uint32_t)out.head[1] << 16 |
			    (uint32_t)out.head[2] << 8 | out.head[3];
			unsigned type = out.head[4];

			/* VERSION, STATUS, HANDLE, DATA, NAME, ATTRS,
			 * EXTENDED_REPLY; none larger than a READ's
			 * 32 KiB and its header, or a listing's names */
			if (plen < 1 || plen > 256 * 1024 ||
			    !(type == 2 || (type >= 101 && type <= 105) ||
			    type == 201))
				__builtin_trap();
			out.left = plen - 1;
			out.nhead = 0;
			out.nbody = 0;
			out.type = type;
			if (out.left == 0 && out.trace)
				trace_reply();
		}
	}
}

static void
o_notice(void *arg, const char *msg)
{
	(void)arg;
	if (msg == NULL || strlen(msg) > 4096)
		__builtin_trap();
	if (out.trace)
		fprintf(stderr, "  notice: %s\n", msg);
}

static size_t
o_pending(void *arg)
{
	(void)arg;
	return out.queued;
}

static void
o_fatal(void *arg, const char *why)
{
	(void)arg;
	if (why == NULL)
		__builtin_trap();
	out.dead = 1;
}

static const struct sftp_io io = { o_send, o_notice, o_pending, o_fatal };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char init_pkt[] = { 1, 0, 0, 0, 3 };
	unsigned char init[SFC_MAX + 4], *rec;
	size_t ninit, nrec;
	const char *cfgpath = getenv("SG_FUZZ_CONFIG");
	struct gw *g = stub_gw(cfgpath ? cfgpath :
	    "tests/fuzz/conf/schoolgate.conf");
	const struct sg_config *cfg = g->conf->cfg;
	struct sftp *s;
	size_t off = 0, chunk;
	int stuck = 0;

	if (size < 3 || cfg->nparties == 0)
		return 0;
	memset(&out, 0, sizeof(out));
	out.trace = getenv("SG_FUZZ_TRACE") != NULL;
	stub_faults = data[1] & 0x1f;
	chunk = 1 + (size_t)data[2] * 157 % 40000;
	s = sftp_new(g, cfg->parties[data[0] % cfg->nparties].id, "192.0.2.1",
	    &io, NULL);
	if (s == NULL)
		return 0;
	ninit = sftp_canon(init_pkt, sizeof(init_pkt), init, sizeof(init));
	if (sftp_input(s, init, ninit) != ninit)
		__builtin_trap();	/* an empty session takes an INIT */
	if (data[1] & 0x80) {
		/* a front taken over: its bytes are the core's input as
		 * they are, records or not */
		if ((rec = malloc(size - 3 + 1)) != NULL)
			memcpy(rec, data + 3, size - 3);
		nrec = size - 3;
	} else
		rec = records(data + 3, size - 3, &nrec);
	if (rec == NULL) {
		sftp_free(s);
		return 0;
	}
	data = rec;
	size = nrec;
	while (off < size && !out.dead && stuck < 2) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t took = sftp_input(s, data + off, n);
		int ran;

		if (took > n)
			__builtin_trap();
		off += took;
		out.queued = 0;		/* the SSH layer took it */
		ran = stub_drain();
		sftp_kick(s);
		ran |= stub_drain();
		stuck = took == 0 && !ran ? stuck + 1 : 0;
	}
	out.queued = 0;
	sftp_kick(s);
	(void)stub_drain();
	sftp_free(s);
	free(rec);
	/* records in flight still answer the session that asked */
	(void)stub_drain();
	if (stub_drain())
		__builtin_trap();	/* nothing is queued for a session gone */
	return 0;
}
