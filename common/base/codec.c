/* codec: strict base64, Bech32 and hex. */
#include "base/codec.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
sg_b64_encode(const void *in, size_t n, char *out, int pad)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
		out[o++] = B64[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = B64[v >> 18];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = B64[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
sg_b64_decode(const char *s, size_t len, void *out, size_t cap, int pad)
{
	unsigned char *o = out;
	size_t i, n = 0, rem;
	uint32_t v = 0;
	int d;

	if (pad) {
		if (len % 4 != 0)
			return -1;
		if (len >= 1 && s[len - 1] == '=')
			len--;
		if (len >= 1 && s[len - 1] == '=')
			len--;
	}
	rem = len % 4;
	if (rem == 1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((d = b64val(s[i])) < 0)
			return -1;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			if (n + 3 > cap)
				return -1;
			o[n++] = (unsigned char)(v >> 16);
			o[n++] = (unsigned char)(v >> 8);
			o[n++] = (unsigned char)v;
			v = 0;
		}
	}
	if (rem == 2) {		/* 12 bits, 8 used */
		if (v & 0xf)
			return -1;
		if (n + 1 > cap)
			return -1;
		o[n++] = (unsigned char)(v >> 4);
	} else if (rem == 3) {	/* 18 bits, 16 used */
		if (v & 0x3)
			return -1;
		if (n + 2 > cap)
			return -1;
		o[n++] = (unsigned char)(v >> 10);
		o[n++] = (unsigned char)(v >> 2);
	}
	return (long)n;
}

/* Bech32 (BIP 173) */
static const char B32[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
polymod_step(uint32_t pre)
{
	uint32_t b = pre >> 25;

	return ((pre & 0x1ffffff) << 5) ^
	    (-((b >> 0) & 1) & 0x3b6a57b2UL) ^
	    (-((b >> 1) & 1) & 0x26508e6dUL) ^
	    (-((b >> 2) & 1) & 0x1ea119faUL) ^
	    (-((b >> 3) & 1) & 0x3d4233ddUL) ^
	    (-((b >> 4) & 1) & 0x2a1462b3UL);
}

static uint32_t
hrp_checksum(const char *hrp)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; hrp[i]; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] >> 5);
	chk = polymod_step(chk);
	for (i = 0; hrp[i]; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] & 0x1f);
	return chk;
}

int
sg_bech32_encode(const char *hrp, const void *data, size_t n, char *out,
    size_t cap)
{
	const unsigned char *p = data;
	size_t hl = strlen(hrp), o, i;
	uint32_t chk, acc = 0;
	int bits = 0;
	unsigned char v;

	if (hl + 1 + (n * 8 + 4) / 5 + 6 + 1 > cap)
		return -1;
	memcpy(out, hrp, hl);
	out[hl] = '1';
	o = hl + 1;
	chk = hrp_checksum(hrp);
	for (i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v = (acc >> bits) & 31;
			chk = polymod_step(chk) ^ v;
			out[o++] = B32[v];
		}
	}
	if (bits > 0) {
		v = (acc << (5 - bits)) & 31;
		chk = polymod_step(chk) ^ v;
		out[o++] = B32[v];
	}
	for (i = 0; i < 6; i++)
		chk = polymod_step(chk);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		out[o++] = B32[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
	return 0;
}

long
sg_bech32_decode(const char *s, char *hrp, size_t hrpcap, void *out,
    size_t cap)
{
	unsigned char *o = out;
	size_t len = strlen(s), sep, i, n = 0;
	int lower = 0, upper = 0, bits = 0;
	uint32_t chk, acc = 0;
	const char *q;
	int v;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126)
			return -1;
		if (islower(c))
			lower = 1;
		if (isupper(c))
			upper = 1;
	}
	if (lower && upper)
		return -1;
	if ((q = strrchr(s, '1')) == NULL)
		return -1;
	sep = (size_t)(q - s);
	if (sep < 1 || sep + 7 > len || sep + 1 > hrpcap)
		return -1;
	for (i = 0; i < sep; i++)
		hrp[i] = (char)tolower((unsigned char)s[i]);
	hrp[sep] = '\0';
	chk = hrp_checksum(hrp);
	for (i = sep + 1; i < len; i++) {
		const char *p = strchr(B32, tolower((unsigned char)s[i]));
		if (p == NULL || *p == '\0')
			return -1;
		v = (int)(p - B32);
		chk = polymod_step(chk) ^ (uint32_t)v;
		if (i + 6 >= len)
			continue;	/* checksum characters */
		acc = acc << 5 | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (chk != 1)
		return -1;
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
		return -1;	/* padding must be short and zero */
	return (long)n;
}

void
sg_hex(const void *in, size_t n, char *out)
{
	static const char H[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = H[p[i] >> 4];
		out[2 * i + 1] = H[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
sg_unhex(const char *s, void *out, size_t n)
{
	unsigned char *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = isxdigit((unsigned char)s[2 * i]) ? s[2 * i] : -1;
		lo = hi >= 0 && isxdigit((unsigned char)s[2 * i + 1]) ?
		    s[2 * i + 1] : -1;
		if (hi < 0 || lo < 0)
			return -1;
		hi = isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10);
		lo = isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10);
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[2 * n] == '\0' ? 0 : -1;
}

void
sg_time_rfc3339(int64_t us, char out[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "-");
}
