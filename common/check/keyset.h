/*
 * keyset: detects duplicate keys (UPN, TRN, ...) within one file and says
 * on which earlier row each duplicate first appeared.
 *
 * It never stores key values: each key is reduced to a 64-bit code, either
 * an exact packing (a valid UPN or TRN fits in 64 bits, so two different
 * keys never clash) or a keyed SipHash-2-4 of the bytes (random key per
 * set). Memory: 8 bytes per row in row order plus a 4-byte index slot per
 * key at a load of at most 3/4, touched only as rows arrive.
 *
 * The table is seeded from the system's random source, so a file crafted
 * to collide cannot slow the check down. Not thread-safe; one per check.
 */
#ifndef SG_KEYSET_H
#define SG_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#define SG_KEYSET_MAX_ROWS	((1u << 26) - 2)

struct sg_keyset;

/* Called for each duplicate: row index idx repeats the key of row first. */
typedef void	(*sg_keyset_dup_fn)(void *arg, uint32_t idx, uint32_t first);

struct sg_keyset *sg_keyset_new(sg_keyset_dup_fn, void *arg);
void		  sg_keyset_free(struct sg_keyset *);

/* Record `code` (non-zero) for 0-based data-row index `idx` (strictly
 * increasing between calls, < SG_KEYSET_MAX_ROWS). Inserts are queued a
 * few rows deep so that the table's cache misses overlap: a duplicate is
 * reported through the callback during a later add or the flush, always
 * against the earliest row. Returns 0, or -1 on allocation failure or a
 * bad index. */
int	sg_keyset_add(struct sg_keyset *, uint64_t code, uint32_t idx);
/* Process the queued keys (call once at the end of the file). */
int	sg_keyset_flush(struct sg_keyset *);

/* Codes. 0 means "no code" (the value is not a valid key). */
uint64_t sg_keyset_code_upn(const char *upn13);	/* a valid UPN */
uint64_t sg_keyset_code_trn(const char trn7[7]);	/* 7 digits */
uint64_t sg_keyset_code_bytes(const struct sg_keyset *, const void *,
	    size_t);

/* Bytes held, for tests and reports. */
size_t	sg_keyset_bytes(const struct sg_keyset *);

#endif
