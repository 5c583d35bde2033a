/* zipin: encrypted ZIP intake with libarchive; see zipin.h. */
#include "intake/zipin.h"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RBUF		(64 * 1024)
#define HIST		(256 * 1024)	/* recent raw bytes, for headers */
#define RATIO_FLOOR	(1024 * 1024)	/* judge ratios past this output */

enum zenc { ZENC_NONE, ZENC_ZIPCRYPTO, ZENC_AES, ZENC_UNKNOWN };

/* An entry as its local header showed it, to hold the central directory
 * to account. */
struct seen {
	uint64_t	 off;		/* local header offset */
	unsigned char	*name;		/* raw name bytes */
	unsigned	 nlen;
};

struct zctx {
	const unsigned char	*first;
	size_t			 nfirst;
	sg_src_fn		 src;
	void			*src_arg;
	unsigned char		*buf;		/* RBUF */
	unsigned char		*hist;		/* HIST, ring */
	uint64_t		 consumed;	/* raw bytes handed to libarchive */
	int			 src_failed;
	int			 eof;		/* the source has ended */
	struct seen		*seen;
	unsigned		 nseen;
};

static void
hist_append(struct zctx *z, const unsigned char *p, size_t n)
{
	size_t i, at, c;

	for (i = 0; i < n; i += c) {
		at = (size_t)((z->consumed + i) % HIST);
		c = HIST - at < n - i ? HIST - at : n - i;
		memcpy(z->hist + at, p + i, c);
	}
	z->consumed += n;
}

static la_ssize_t
zread(struct archive *a, void *arg, const void **out)
{
	struct zctx *z = arg;
	ssize_t n;

	(void)a;
	if (z->nfirst > 0) {
		n = (ssize_t)(z->nfirst < RBUF ? z->nfirst : RBUF);
		memcpy(z->buf, z->first, (size_t)n);
		z->first += n;
		z->nfirst -= (size_t)n;
	} else if ((n = z->src(z->src_arg, z->buf, RBUF)) < 0) {
		z->src_failed = 1;
		return -1;
	} else if (n == 0)
		z->eof = 1;
	hist_append(z, z->buf, (size_t)n);
	*out = z->buf;
	return n;
}

static int
hist_byte(const struct zctx *z, uint64_t off, unsigned char *c)
{
	if (off >= z->consumed || z->consumed - off > HIST)
		return -1;
	*c = z->hist[off % HIST];
	return 0;
}

static int
hist_le16(const struct zctx *z, uint64_t off, unsigned *v)
{
	unsigned char a, b;

	if (hist_byte(z, off, &a) || hist_byte(z, off + 1, &b))
		return -1;
	*v = a | (unsigned)b << 8;
	return 0;
}

static int
hist_le32(const struct zctx *z, uint64_t off, uint32_t *v)
{
	unsigned lo, hi;

	if (hist_le16(z, off, &lo) || hist_le16(z, off + 2, &hi))
		return -1;
	*v = lo | (uint32_t)hi << 16;
	return 0;
}

static int
hist_le64(const struct zctx *z, uint64_t off, uint64_t *v)
{
	uint32_t lo, hi;

	if (hist_le32(z, off, &lo) || hist_le32(z, off + 4, &hi))
		return -1;
	*v = lo | (uint64_t)hi << 32;
	return 0;
}

static int
hist_copy(const struct zctx *z, uint64_t off, unsigned char *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hist_byte(z, off + i, &dst[i]))
			return -1;
	return 0;
}

/* Where the local header of the entry libarchive just read starts:
 * header_position may point at the previous entry's data descriptor, so
 * look a little way ahead for the signature. */
static int
local_header_at(const struct zctx *z, uint64_t pos, uint64_t *at)
{
	unsigned char c[4];
	uint64_t a;
	int i;

	for (a = pos; a < pos + 64; a++) {
		for (i = 0; i < 4; i++)
			if (hist_byte(z, a + (uint64_t)i, &c[i]))
				return -1;
		if (memcmp(c, "PK\3\4", 4) == 0) {
			*at = a;
			return 0;
		}
	}
	return -1;
}

/* Read the entry's local header from the recent bytes: which encryption
 * it uses (and the AES strength). Fails closed: ZENC_UNKNOWN. */
static enum zenc
entry_encryption(const struct zctx *z, uint64_t at, int *bits)
{
	unsigned flags, method, nlen, xlen, id, len, strength;
	uint64_t x, end;

	if (hist_le16(z, at + 6, &flags) ||
	    hist_le16(z, at + 8, &method) || hist_le16(z, at + 26, &nlen) ||
	    hist_le16(z, at + 28, &xlen))
		return ZENC_UNKNOWN;
	if ((flags & 1) == 0)
		return ZENC_NONE;
	if (flags & 0x40)
		return ZENC_UNKNOWN;	/* PKWARE strong encryption */
	if (method != 99)
		return ZENC_ZIPCRYPTO;
	x = at + 30 + nlen;
	end = x + xlen;
	while (x + 4 <= end) {
		if (hist_le16(z, x, &id) || hist_le16(z, x + 2, &len))
			return ZENC_UNKNOWN;
		if (id == 0x9901 && len >= 7) {
			unsigned char s;

			if (hist_byte(z, x + 8, &s))
				return ZENC_UNKNOWN;
			strength = s;
			*bits = strength == 1 ? 128 : strength == 2 ? 192 :
			    strength == 3 ? 256 : 0;
			return *bits ? ZENC_AES : ZENC_UNKNOWN;
		}
		x += 4 + len;
	}
	return ZENC_UNKNOWN;
}

/* A name is metadata only, but refuse what would be dangerous anywhere. */
static int
unsafe_name(const char *name)
{
	const char *p = name;

	if (name[0] == '/' || name[0] == '\\' || strchr(name, '\\') != NULL ||
	    strchr(name, ':') != NULL)
		return 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (slash == NULL)
			return 0;
		p = slash + 1;
	}
}

static int
nested_archive(const unsigned char *p, size_t n)
{
	static const struct {
		const char	*magic;
		size_t		 len;
	} m[] = {
		{ "PK\3\4", 4 }, { "PK\5\6", 4 }, { "\x1f\x8b", 2 },
		{ "7z\xbc\xaf\x27\x1c", 6 }, { "Rar!\x1a\x07", 6 },
		{ "BZh", 3 }, { "\xfd" "7zXZ", 5 }, { "\x28\xb5\x2f\xfd", 4 },
		{ "age-encryption.org/", 19 },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (n >= m[i].len && memcmp(p, m[i].magic, m[i].len) == 0)
			return 1;
	return 0;
}

/* Map a libarchive failure to a rule the sender can act on. */
static void
archive_failure(struct sg_report *r, struct archive *a, int in_data,
    int eof)
{
	const char *e = archive_error_string(a);

	if (e == NULL)
		e = "";
	if (strcasestr(e, "passphrase") != NULL)
		sg_report_add(r, 0, 0, NULL, "zip.password",
		    "the ZIP password is wrong or missing");
	else if (eof)
		sg_report_add(r, 0, 0, NULL, "zip.truncated",
		    "the ZIP ends early: it was not uploaded or saved whole");
	else if (strcasestr(e, "authentication") != NULL ||
	    strcasestr(e, "crc") != NULL)
		sg_report_add(r, 0, 0, NULL, "zip.integrity",
		    "the ZIP failed its integrity check: it is damaged or was "
		    "changed after it was made");
	else if (strcasestr(e, "truncated") != NULL ||
	    strcasestr(e, "premature") != NULL ||
	    strcasestr(e, "end of") != NULL)
		sg_report_add(r, 0, 0, NULL, "zip.truncated",
		    "the ZIP ends early: it was not uploaded or saved whole");
	else if (in_data)
		sg_report_add(r, 0, 0, NULL, "zip.damaged",
		    "the ZIP's contents could not be read: it is damaged");
	else
		sg_report_add(r, 0, 0, NULL, "zip.format",
		    "this is not a ZIP file that can be read");
}

static int
check_entry_kind(struct sg_report *r, struct archive_entry *e, int *skip)
{
	unsigned type = archive_entry_filetype(e);

	*skip = 0;
	if (archive_entry_hardlink(e) != NULL || type == AE_IFLNK) {
		sg_report_add(r, 0, 0, NULL, "zip.link",
		    "the ZIP contains a link; only one plain CSV file is "
		    "accepted");
		return -1;
	}
	if (type == AE_IFDIR) {
		*skip = 1;
		return 0;
	}
	if (type != AE_IFREG) {
		sg_report_add(r, 0, 0, NULL, "zip.special",
		    "the ZIP contains a device or other special entry");
		return -1;
	}
	return 0;
}

static int
check_encryption(const struct sg_zipin_opts *o, struct sg_report *r,
    enum zenc enc, int bits)
{
	switch (enc) {
	case ZENC_AES:
		if (!(o->encryptions & SG_ENC_ZIP_AES)) {
			sg_report_add(r, 0, 0, NULL, "zip.encryption",
			    "this flow does not accept AES ZIP files");
			return -1;
		}
		snprintf(r->container, sizeof(r->container), "zip (AES-%d)",
		    bits);
		return 0;
	case ZENC_ZIPCRYPTO:
		snprintf(r->container, sizeof(r->container),
		    "zip (ZipCrypto)");
		if (!(o->encryptions & SG_ENC_ZIP_LEGACY)) {
			sg_report_add(r, 0, 0, NULL, "zip.encryption-weak",
			    "the ZIP uses old ZipCrypto encryption, which is "
			    "easily broken; make it again with AES-256");
			return -1;
		}
		sg_report_add(r, 1, 0, NULL, "zip.encryption-weak",
		    "the ZIP uses old ZipCrypto encryption, which is easily "
		    "broken; please move to AES-256");
		return 0;
	case ZENC_NONE:
		snprintf(r->container, sizeof(r->container),
		    "zip (not encrypted)");
		sg_report_add(r, !o->require_encryption, 0, NULL,
		    "zip.unencrypted", "the ZIP has no password; the agreement "
		    "requires an AES-encrypted ZIP");
		return o->require_encryption ? -1 : 0;
	case ZENC_UNKNOWN:
		break;
	}
	sg_report_add(r, 0, 0, NULL, "zip.encryption",
	    "the ZIP uses an encryption method that is not supported");
	return -1;
}

/* Remember entry n's local header (offset and raw name). */
static int
remember(struct zctx *z, uint64_t at)
{
	struct seen *e = &z->seen[z->nseen];
	unsigned nlen;

	if (hist_le16(z, at + 26, &nlen) ||
	    (e->name = malloc(nlen ? nlen : 1)) == NULL ||
	    hist_copy(z, at + 30, e->name, nlen)) {
		free(e->name);
		e->name = NULL;
		return -1;
	}
	e->off = at;
	e->nlen = nlen;
	z->nseen++;
	return 0;
}

#define CD_MAX	(HIST - RBUF)	/* central directory + end records */

/*
 * The entries have ended: read the rest of the stream (the central
 * directory and end records, bounded) and hold the directory to what was
 * streamed. Programs that extract through the central directory (every
 * desktop unzip tool) must see exactly the entries we checked, and the
 * directory is the only place a ZIP marks an entry as a link.
 */
static int
verify_directory(struct zctx *z, struct sg_report *r)
{
	uint64_t tail_start = z->consumed, eocd = 0, cd, cdsize, count, at,
	    end, off64;
	uint32_t sig, v32, csz, off;
	unsigned vmade, nlen, xlen, clen, n16, id, len, i;
	unsigned char *name;
	ssize_t n;
	int found = 0;

	while (!z->eof) {
		if ((n = z->src(z->src_arg, z->buf, RBUF)) < 0) {
			z->src_failed = 1;
			return -1;
		}
		if (n == 0)
			break;
		hist_append(z, z->buf, (size_t)n);
		if (z->consumed - tail_start > CD_MAX)
			goto bad_tail;
	}
	/* end of central directory record: the last signature within the
	 * final 22 + 65535 bytes */
	for (at = z->consumed >= 22 ? z->consumed - 22 : 0;; at--) {
		if (hist_le32(z, at, &sig) != 0)
			break;
		if (sig == 0x06054b50) {
			eocd = at;
			found = 1;
			break;
		}
		if (at == 0 || z->consumed - at > 22 + 65535)
			break;
	}
	if (!found || hist_le16(z, eocd + 10, &n16) ||
	    hist_le32(z, eocd + 12, &v32) || hist_le32(z, eocd + 16, &off))
		goto bad;
	count = n16;
	cdsize = v32;
	cd = off;
	if (count == 0xffff || cdsize == 0xffffffff || cd == 0xffffffff) {
		/* Zip64: locator just before, pointing at the record */
		if (eocd < 20 || hist_le32(z, eocd - 20, &sig) ||
		    sig != 0x07064b50 || hist_le64(z, eocd - 12, &at) ||
		    hist_le32(z, at, &sig) || sig != 0x06064b50 ||
		    hist_le64(z, at + 32, &count) ||
		    hist_le64(z, at + 40, &cdsize) ||
		    hist_le64(z, at + 48, &cd))
			goto bad;
		eocd = at;
	}
	if (count != z->nseen || cd + cdsize != eocd)
		goto bad;
	for (i = 0, at = cd; i < count; i++) {
		if (hist_le32(z, at, &sig) || sig != 0x02014b50 ||
		    hist_le16(z, at + 4, &vmade) ||
		    hist_le32(z, at + 20, &csz) ||
		    hist_le16(z, at + 28, &nlen) ||
		    hist_le16(z, at + 30, &xlen) ||
		    hist_le16(z, at + 32, &clen) ||
		    hist_le32(z, at + 38, &v32) ||
		    hist_le32(z, at + 42, &off))
			goto bad;
		(void)csz;
		if ((vmade >> 8) == 3) {	/* made on Unix: a mode */
			unsigned mode = v32 >> 16;

			if (S_ISLNK(mode)) {
				sg_report_add(r, 0, 0, NULL, "zip.link",
				    "the ZIP contains a link; only one plain "
				    "CSV file is accepted");
				return -1;
			}
			if (mode != 0 && !S_ISREG(mode) && !S_ISDIR(mode)) {
				sg_report_add(r, 0, 0, NULL, "zip.special",
				    "the ZIP contains a device or other special "
				    "entry");
				return -1;
			}
		}
		off64 = off;
		end = at + 46 + nlen + xlen;
		if (off == 0xffffffff) {	/* the Zip64 extra field */
			uint64_t x = at + 46 + nlen;

			while (x + 4 <= end) {
				if (hist_le16(z, x, &id) ||
				    hist_le16(z, x + 2, &len))
					goto bad;
				if (id == 0x0001 && len >= 8) {
					/* sizes come first when they too
					 * overflowed */
					uint64_t skip = 0;
					uint32_t usz;

					if (hist_le32(z, at + 24, &usz))
						goto bad;
					skip += usz == 0xffffffff ? 8 : 0;
					skip += csz == 0xffffffff ? 8 : 0;
					if (hist_le64(z, x + 4 + skip, &off64))
						goto bad;
					break;
				}
				x += 4 + len;
			}
		}
		if (off64 != z->seen[i].off || nlen != z->seen[i].nlen)
			goto bad;
		if ((name = malloc(nlen ? nlen : 1)) == NULL)
			goto bad;
		if (hist_copy(z, at + 46, name, nlen) ||
		    memcmp(name, z->seen[i].name, nlen) != 0) {
			free(name);
			goto bad;
		}
		free(name);
		at = end + clen;
	}
	return 0;
bad:
	sg_report_add(r, 0, 0, NULL, "zip.inconsistent",
	    "the ZIP's directory does not match its contents (it may have "
	    "been made to show different files to different programs)");
	return -1;
bad_tail:
	sg_report_add(r, 0, 0, NULL, "zip.inconsistent",
	    "unexpected data after the ZIP's contents");
	return -1;
}

int
sg_zipin_run(const struct sg_zipin_opts *o, const void *first, size_t nfirst,
    sg_src_fn src, void *src_arg, sg_sink_fn sink, void *sink_arg,
    struct sg_report *r)
{
	const struct sg_limits *lim = o->limits;
	struct zctx z;
	struct archive *a = NULL;
	struct archive_entry *e;
	uint64_t produced, total = 0, hdr;
	unsigned entries = 0, files = 0, i;
	int rc, ret = -1, skip, bits = 0;

	memset(&z, 0, sizeof(z));
	z.first = first;
	z.nfirst = nfirst;
	z.src = src;
	z.src_arg = src_arg;
	z.buf = malloc(RBUF);
	z.hist = malloc(HIST);
	z.seen = calloc(lim->max_entries, sizeof(*z.seen));
	if (z.buf == NULL || z.hist == NULL || z.seen == NULL ||
	    (a = archive_read_new()) == NULL)
		goto nomem;
	if (archive_read_support_format_zip_streamable(a) != ARCHIVE_OK ||
	    (o->passphrase != NULL &&
	    archive_read_add_passphrase(a, o->passphrase) != ARCHIVE_OK))
		goto nomem;
	if (archive_read_open(a, &z, NULL, zread, NULL) != ARCHIVE_OK) {
		archive_failure(r, a, 0, z.eof);
		goto out;
	}
	for (;;) {
		const char *name;
		enum zenc enc;

		rc = archive_read_next_header(a, &e);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK) {
			if (!z.src_failed)
				archive_failure(r, a, 0, z.eof);
			goto out;
		}
		if (++entries > lim->max_entries) {
			sg_report_add(r, 0, 0, NULL, "zip.entries",
			    "the ZIP has more than %u entries", lim->max_entries);
			goto out;
		}
		name = archive_entry_pathname(e);
		if (name == NULL || strlen(name) > lim->max_name) {
			sg_report_add(r, 0, 0, NULL, "zip.name",
			    "an entry name is missing or longer than %u bytes",
			    lim->max_name);
			goto out;
		}
		if (unsafe_name(name)) {
			sg_report_add(r, 0, 0, NULL, "zip.path",
			    "an entry name contains '..', a drive or an "
			    "absolute path");
			goto out;
		}
		if (check_entry_kind(r, e, &skip) != 0)
			goto out;
		if (skip) {
			if (local_header_at(&z, (uint64_t)
			    archive_read_header_position(a), &hdr) != 0 ||
			    remember(&z, hdr) != 0) {
				sg_report_add(r, 0, 0, NULL, "zip.format",
				    "an entry's header could not be read");
				goto out;
			}
			continue;
		}
		if (++files > 1) {
			sg_report_add(r, 0, 0, NULL, "zip.entries",
			    "the ZIP holds more than one file; put exactly one "
			    "CSV file in it");
			goto out;
		}
		if (local_header_at(&z, (uint64_t)
		    archive_read_header_position(a), &hdr) != 0 ||
		    remember(&z, hdr) != 0) {
			sg_report_add(r, 0, 0, NULL, "zip.format",
			    "an entry's header could not be read");
			goto out;
		}
		enc = entry_encryption(&z, hdr, &bits);
		if (check_encryption(o, r, enc, bits) != 0)
			goto out;
		if (o->pattern != NULL) {
			const char *base = strrchr(name, '/');

			base = base ? base + 1 : name;
			if (fnmatch(o->pattern, base, FNM_CASEFOLD) != 0) {
				sg_report_add(r, 0, 0, NULL, "zip.name",
				    "the file in the ZIP should be named like "
				    "\"%s\"", o->pattern);
				goto out;
			}
		}
		produced = 0;
		for (;;) {
			const void *buf;
			size_t len;
			la_int64_t off;

			rc = archive_read_data_block(a, &buf, &len, &off);
			if (rc == ARCHIVE_EOF)
				break;
			if (rc != ARCHIVE_OK) {
				if (!z.src_failed)
					archive_failure(r, a, 1, z.eof);
				goto out;
			}
			if (off < 0 || (uint64_t)off != produced) {
				sg_report_add(r, 0, 0, NULL, "zip.damaged",
				    "the ZIP entry's data is not contiguous");
				goto out;
			}
			if (produced == 0 && len > 0 && !o->allow_zip_content &&
			    nested_archive(buf, len)) {
				sg_report_add(r, 0, 0, NULL, "zip.nested",
				    "the ZIP contains another archive; put the "
				    "CSV file in it directly");
				goto out;
			}
			produced += len;
			total += len;
			if (produced > lim->max_bytes) {
				sg_report_add(r, 0, 0, NULL, "zip.too-large",
				    "the file in the ZIP is larger than the "
				    "%llu bytes this flow allows",
				    (unsigned long long)lim->max_bytes);
				goto out;
			}
			if (total > RATIO_FLOOR &&
			    total / (z.consumed ? z.consumed : 1) >=
			    lim->max_ratio) {
				sg_report_add(r, 0, 0, NULL, "zip.bomb",
				    "the ZIP expands more than %llu times its "
				    "size; refused as a possible zip bomb",
				    (unsigned long long)lim->max_ratio);
				goto out;
			}
			if (len > 0 && sink(sink_arg, buf, len) != 0)
				goto out;	/* the checker has its verdict */
		}
	}
	if (z.src_failed) {
		sg_report_add(r, 0, 0, NULL, "intake.read",
		    "the upload could not be read to its end");
		goto out;
	}
	if (files == 0) {
		sg_report_add(r, 0, 0, NULL, "zip.entries",
		    "the ZIP holds no file; put exactly one CSV file in it");
		goto out;
	}
	if (verify_directory(&z, r) != 0) {
		if (z.src_failed)
			sg_report_add(r, 0, 0, NULL, "intake.read",
			    "the upload could not be read to its end");
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	sg_report_add(r, 0, 0, NULL, "resource.memory",
	    "not enough memory to open the ZIP");
out:
	if (a != NULL)
		archive_read_free(a);
	for (i = 0; z.seen != NULL && i < z.nseen; i++)
		free(z.seen[i].name);
	free(z.seen);
	free(z.buf);
	free(z.hist);
	return ret;
}
