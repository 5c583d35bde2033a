/* zipin: encrypted ZIP intake with libarchive; see zipin.h. */
#include "zipin.h"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RBUF		(64 * 1024)
#define HIST		(256 * 1024)	/* recent raw bytes, for headers */
#define RATIO_FLOOR	(1024 * 1024)	/* judge ratios past this output */

enum zenc { ZENC_NONE, ZENC_ZIPCRYPTO, ZENC_AES, ZENC_UNKNOWN };

struct zctx {
	const struct sg_zipin_opts *o;
	const unsigned char	*first;
	size_t			 nfirst;
	sg_src_fn		 src;
	void			*src_arg;
	unsigned char		*buf;		/* RBUF */
	unsigned char		*hist;		/* HIST, ring */
	uint64_t		 consumed;	/* raw bytes handed to libarchive */
	int			 src_failed;
};

static la_ssize_t
zread(struct archive *a, void *arg, const void **out)
{
	struct zctx *z = arg;
	ssize_t n;
	size_t i, at;

	(void)a;
	if (z->nfirst > 0) {
		n = (ssize_t)(z->nfirst < RBUF ? z->nfirst : RBUF);
		memcpy(z->buf, z->first, (size_t)n);
		z->first += n;
		z->nfirst -= (size_t)n;
	} else if ((n = z->src(z->src_arg, z->buf, RBUF)) < 0) {
		z->src_failed = 1;
		return -1;
	}
	for (i = 0; i < (size_t)n;) {
		at = (size_t)((z->consumed + i) % HIST);
		size_t c = HIST - at < (size_t)n - i ? HIST - at : (size_t)n - i;

		memcpy(z->hist + at, z->buf + i, c);
		i += c;
	}
	z->consumed += (uint64_t)n;
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

/* Read the entry's local header from the recent bytes: which encryption
 * it uses (and the AES strength). Fails closed: ZENC_UNKNOWN. */
static enum zenc
entry_encryption(const struct zctx *z, uint64_t pos, int *bits)
{
	unsigned char c[4];
	unsigned flags, method, nlen, xlen, id, len, strength;
	uint64_t at, x, end;
	int i;

	/* header_position may point at a data descriptor before the
	 * header: look a little way ahead for the signature */
	for (at = pos; at < pos + 64; at++) {
		for (i = 0; i < 4; i++)
			if (hist_byte(z, at + (uint64_t)i, &c[i]))
				return ZENC_UNKNOWN;
		if (memcmp(c, "PK\3\4", 4) == 0)
			break;
	}
	if (at == pos + 64 || hist_le16(z, at + 6, &flags) ||
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
archive_failure(struct sg_report *r, struct archive *a, int in_data)
{
	const char *e = archive_error_string(a);

	if (e == NULL)
		e = "";
	if (strcasestr(e, "passphrase") != NULL)
		sg_report_add(r, 0, 0, NULL, "zip.password",
		    "the ZIP password is wrong or missing");
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

int
sg_zipin_run(const struct sg_zipin_opts *o, const void *first, size_t nfirst,
    sg_src_fn src, void *src_arg, sg_sink_fn sink, void *sink_arg,
    struct sg_report *r)
{
	const struct sg_limits *lim = o->limits;
	struct zctx z = { o, first, nfirst, src, src_arg, NULL, NULL, 0, 0 };
	struct archive *a = NULL;
	struct archive_entry *e;
	uint64_t produced, total = 0;
	unsigned entries = 0, files = 0;
	int rc, ret = -1, skip, bits = 0, sink_stopped = 0;

	z.buf = malloc(RBUF);
	z.hist = malloc(HIST);
	if (z.buf == NULL || z.hist == NULL || (a = archive_read_new()) == NULL)
		goto nomem;
	if (archive_read_support_format_zip_streamable(a) != ARCHIVE_OK ||
	    (o->passphrase != NULL &&
	    archive_read_add_passphrase(a, o->passphrase) != ARCHIVE_OK))
		goto nomem;
	if (archive_read_open(a, &z, NULL, zread, NULL) != ARCHIVE_OK) {
		archive_failure(r, a, 0);
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
				archive_failure(r, a, 0);
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
		if (skip)
			continue;
		if (++files > 1) {
			sg_report_add(r, 0, 0, NULL, "zip.entries",
			    "the ZIP holds more than one file; put exactly one "
			    "CSV file in it");
			goto out;
		}
		enc = entry_encryption(&z, (uint64_t)
		    archive_read_header_position(a), &bits);
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
					archive_failure(r, a, 1);
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
			if (!sink_stopped && len > 0 &&
			    sink(sink_arg, buf, len) != 0) {
				/* the checker has its verdict; stop decoding */
				sink_stopped = 1;
				goto out;
			}
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
	ret = 0;
	goto out;
nomem:
	sg_report_add(r, 0, 0, NULL, "resource.memory",
	    "not enough memory to open the ZIP");
out:
	if (a != NULL)
		archive_read_free(a);
	free(z.buf);
	free(z.hist);
	return ret;
}
