/*
 * merkle: RFC 9162 Merkle trees over the transfer log's records.
 *
 * Leaves hash as SHA-256(0x00 || data), nodes as SHA-256(0x01 || l || r).
 * A frontier holds only the O(log n) perfect subtrees a writer needs to
 * append and compute roots; a tree (all levels, about 2n hashes) serves
 * the verifier's roots at any size and its inclusion and consistency
 * proofs (RFC 9162 section 2.1.3 and 2.1.4).
 */
#ifndef SG_MERKLE_H
#define SG_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define SG_MERKLE_MAX_PROOF	128

void	sg_merkle_leaf(const void *data, size_t n, unsigned char out[32]);
void	sg_merkle_node(const unsigned char l[32], const unsigned char r[32],
	    unsigned char out[32]);

struct sg_merkle_frontier {
	uint64_t	size;
	unsigned char	h[64][32];	/* h[i]: subtree of 2^i if bit i set */
};

void	sg_merkle_frontier_add(struct sg_merkle_frontier *,
	    const unsigned char leaf[32]);
void	sg_merkle_frontier_root(const struct sg_merkle_frontier *,
	    unsigned char out[32]);

struct sg_merkle_tree {
	unsigned char	(**lv)[32];	/* lv[j][i]: block i of 2^j leaves */
	uint64_t	 *len;		/* entries in lv[j] */
	unsigned	  nlv;
	uint64_t	  n;
};

/* Builds the levels over n leaf hashes (copied). Returns 0 or -1. */
int	sg_merkle_tree_build(struct sg_merkle_tree *,
	    const unsigned char (*leaves)[32], uint64_t n);
void	sg_merkle_tree_free(struct sg_merkle_tree *);
/* Root of the first size leaves (size <= n). */
void	sg_merkle_tree_root(const struct sg_merkle_tree *, uint64_t size,
	    unsigned char out[32]);
/* Proofs; *len hashes written. Return 0 or -1 (bad arguments). */
int	sg_merkle_inclusion_proof(const struct sg_merkle_tree *, uint64_t index,
	    uint64_t size, unsigned char (*out)[32], size_t *len);
int	sg_merkle_consistency_proof(const struct sg_merkle_tree *, uint64_t m,
	    uint64_t size, unsigned char (*out)[32], size_t *len);
/* Verifiers (RFC 9162 2.1.3.2 and 2.1.4.2): 0 when the proof holds. */
int	sg_merkle_verify_inclusion(uint64_t index, uint64_t size,
	    const unsigned char leaf[32], const unsigned char (*proof)[32],
	    size_t len, const unsigned char root[32]);
int	sg_merkle_verify_consistency(uint64_t m, uint64_t size,
	    const unsigned char r1[32], const unsigned char r2[32],
	    const unsigned char (*proof)[32], size_t len);

#endif
