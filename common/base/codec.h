/*
 * codec: the text encodings the keys, age headers and log checkpoints
 * use, all strict: base64 (standard alphabet, with or without padding,
 * canonical only, i.e. unused bits zero) and Bech32 (BIP 173, as age
 * uses it: no 90-character limit, one case only), and RFC 3339 times.
 */
#ifndef SG_CODEC_H
#define SG_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* A time (microseconds since 1970, UTC) as RFC 3339 to the second:
 * "2026-12-02T14:06:24Z". */
void	sg_time_rfc3339(int64_t us, char out[32]);

/* Characters sg_b64_encode() writes for n bytes (without the NUL). */
#define SG_B64_LEN(n, pad)	((pad) ? (((n) + 2) / 3) * 4 : \
				 ((n) * 4 + 2) / 3)

/* Writes the encoding of in[0..n) and a NUL to out; returns its length. */
size_t	sg_b64_encode(const void *in, size_t n, char *out, int pad);
/* Decodes exactly len characters of s. Padding must be present when pad
 * is set and absent otherwise; non-canonical encodings are refused.
 * Returns the byte count, or -1 (also when it would exceed cap). */
long	sg_b64_decode(const char *s, size_t len, void *out, size_t cap,
	    int pad);

/* Bech32: hrp in lower case; writes a lower-case string and NUL.
 * Returns 0, or -1 when out (cap bytes) is too small. */
int	sg_bech32_encode(const char *hrp, const void *data, size_t n,
	    char *out, size_t cap);
/* Decodes s (all lower or all upper case). The hrp is returned in lower
 * case in hrp (hrpcap bytes). Returns the data length, or -1. */
long	sg_bech32_decode(const char *s, char *hrp, size_t hrpcap,
	    void *out, size_t cap);

/* Lower-case hex of in[0..n) and a NUL (out: 2n+1 bytes). */
void	sg_hex(const void *in, size_t n, char *out);
/* Exactly 2*n lower- or upper-case hex characters. Returns 0 or -1. */
int	sg_unhex(const char *s, void *out, size_t n);

#endif
