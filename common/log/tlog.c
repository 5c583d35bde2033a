/* tlog: the signed transfer log (see tlog.h). */
#include "log/tlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/codec.h"
#include "log/merkle.h"

#define MAGIC		"SGR1"
#define CP_FILE		"checkpoints"
#define LOCK_FILE	"lock"
#define SEG_SUFFIX	".seg"
#define MAX_CP_FILE	(256u * 1024 * 1024)

static const char *const type_names[] = {
	NULL, "RECEIVED", "REJECTED", "RELEASED", "DOWNLOADED", "DELETED",
	"AGREEMENT_STATUS", "CONFIG_LOADED", "KEY_ADDED", "QUARANTINED",
	"LOG_REPAIRED", "CONFIRMED", "WITHDRAWN", "DSAR_QUERY",
	"INDEXED",
};

const char *
sg_rec_type_name(int t)
{
	return t >= 1 && t <= SG_REC_TYPE_MAX ? type_names[t] : "UNKNOWN";
}

int
sg_rec_type_parse(const char *s)
{
	int t;

	for (t = 1; t <= SG_REC_TYPE_MAX; t++)
		if (strcmp(s, type_names[t]) == 0)
			return t;
	return -1;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* --- payloads --------------------------------------------------------- */

static int
safe_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("._:@/+-", c) != NULL;
}

static int
key_ok(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n >= 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_' ||
		    (k[i] >= '0' && k[i] <= '9')))
			return 0;
	return 1;
}

void
sg_payload_init(struct sg_payload *p)
{
	p->len = 0;
	p->bad = 0;
	p->last[0] = '\0';
	p->buf[p->len++] = '{';
}

static void
pl_key(struct sg_payload *p, const char *key)
{
	int n;

	if (!key_ok(key) || (p->last[0] && strcmp(key, p->last) <= 0)) {
		p->bad = 1;
		return;
	}
	n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s\"%s\":",
	    p->last[0] ? "," : "", key);
	if (n < 0 || (size_t)n >= sizeof(p->buf) - p->len) {
		p->bad = 1;
		return;
	}
	p->len += (size_t)n;
	snprintf(p->last, sizeof(p->last), "%s", key);
}

void
sg_payload_str(struct sg_payload *p, const char *key, const char *v)
{
	size_t i, n = strlen(v);

	pl_key(p, key);
	if (p->bad)
		return;
	for (i = 0; i < n; i++)
		if (!safe_char((unsigned char)v[i]))
			p->bad = 1;
	if (p->bad || p->len + n + 2 >= sizeof(p->buf)) {
		p->bad = 1;
		return;
	}
	p->buf[p->len++] = '"';
	memcpy(p->buf + p->len, v, n);
	p->len += n;
	p->buf[p->len++] = '"';
}

void
sg_payload_u64(struct sg_payload *p, const char *key, uint64_t v)
{
	int n;

	pl_key(p, key);
	if (p->bad)
		return;
	n = snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%" PRIu64,
	    v);
	if (n < 0 || (size_t)n >= sizeof(p->buf) - p->len)
		p->bad = 1;
	else
		p->len += (size_t)n;
}

void
sg_payload_hex(struct sg_payload *p, const char *key, const void *b,
    size_t n)
{
	char hx[129];

	if (n > 64) {
		p->bad = 1;
		return;
	}
	sg_hex(b, n, hx);
	sg_payload_str(p, key, hx);
}

int
sg_payload_end(struct sg_payload *p)
{
	if (p->bad || p->len + 1 >= sizeof(p->buf))
		return -1;
	p->buf[p->len++] = '}';
	p->buf[p->len] = '\0';
	return 0;
}

int
sg_payload_check(const char *s, size_t n)
{
	char last[32] = "", key[32];
	size_t i = 0, k;

	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return -1;
	i = 1;
	if (n == 2)
		return 0;
	for (;;) {
		if (s[i++] != '"')
			return -1;
		for (k = 0; i < n && s[i] != '"'; i++) {
			if (k + 1 >= sizeof(key))
				return -1;
			key[k++] = s[i];
		}
		key[k] = '\0';
		if (i >= n || !key_ok(key) || (last[0] && strcmp(key,
		    last) <= 0))
			return -1;
		memcpy(last, key, sizeof(last));
		i++;
		if (i >= n || s[i++] != ':')
			return -1;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (!safe_char((unsigned char)s[i]))
					return -1;
			if (i >= n)
				return -1;
			i++;
		} else {
			if (i >= n || s[i] < '0' || s[i] > '9')
				return -1;
			if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' &&
			    s[i + 1] <= '9')
				return -1;
			for (k = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				if (++k > 20)
					return -1;
		}
		if (i == n - 1)
			return 0;
		if (s[i++] != ',')
			return -1;
	}
}

int
sg_payload_get(const char *s, size_t n, const char *key, char *out,
    size_t cap)
{
	char pat[40];
	const char *p, *e, *end = s + n;
	size_t pl;

	pl = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);
	for (p = s; p + pl <= end; p++) {
		if (memcmp(p, pat, pl) != 0 || (p != s + 1 && p[-1] != ','))
			continue;
		p += pl;
		if (p < end && *p == '"') {
			p++;
			if ((e = memchr(p, '"', (size_t)(end - p))) == NULL)
				return -1;
		} else
			for (e = p; e < end && *e != ',' && *e != '}'; e++)
				;
		if ((size_t)(e - p) >= cap)
			return -1;
		memcpy(out, p, (size_t)(e - p));
		out[e - p] = '\0';
		return 0;
	}
	return -1;
}

/* --- reading ---------------------------------------------------------- */

struct sg_log_reader {
	char		  dir[4096];
	char		**segs;
	size_t		  nsegs, cur;
	unsigned char	 *map;
	size_t		  mlen, off;
	uint64_t	  next_seq, last_time;
	/* where the last error was */
	int		  err_last_seg;
	uint64_t	  err_off;
	int		  err_checksum_ok;	/* a whole, intact frame */
};

static int
seg_name_ok(const char *n, uint64_t *first)
{
	size_t i;

	if (strlen(n) != 16 + strlen(SEG_SUFFIX) ||
	    strcmp(n + 16, SEG_SUFFIX) != 0)
		return 0;
	for (i = 0; i < 16; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	*first = strtoull(n, NULL, 10);
	return 1;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted segment names in dir. */
static int
list_segments(const char *dir, char ***out, size_t *n, char err[SG_ERR_MAX])
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cap = 0;
	uint64_t first;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return sg_errf(err, "cannot open the log directory %s: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!seg_name_ok(de->d_name, &first))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto oom;
			v = nv;
		}
		if ((v[*n] = strdup(de->d_name)) == NULL)
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmpstr);
	*out = v;
	return 0;
oom:
	closedir(d);
	while (*n > 0)
		free(v[--*n]);
	free(v);
	return sg_errf(err, "out of memory");
}

int
sg_log_reader_open(const char *dir, struct sg_log_reader **out,
    char err[SG_ERR_MAX])
{
	struct sg_log_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return sg_errf(err, "out of memory");
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	if (list_segments(dir, &r->segs, &r->nsegs, err) != 0) {
		free(r);
		return -1;
	}
	r->next_seq = 1;
	r->cur = (size_t)-1;
	*out = r;
	return 0;
}

static void
unmap(struct sg_log_reader *r)
{
	if (r->map != NULL && r->mlen > 0)
		munmap(r->map, r->mlen);
	r->map = NULL;
	r->mlen = 0;
}

void
sg_log_reader_close(struct sg_log_reader *r)
{
	size_t i;

	if (r == NULL)
		return;
	unmap(r);
	for (i = 0; i < r->nsegs; i++)
		free(r->segs[i]);
	free(r->segs);
	free(r);
}

static int
map_segment(struct sg_log_reader *r, size_t i, char err[SG_ERR_MAX])
{
	char path[4200];
	struct stat sb;
	int fd;

	unmap(r);
	snprintf(path, sizeof(path), "%s/%s", r->dir, r->segs[i]);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return sg_errf(err, "segment %s: cannot read it: %s", r->segs[i],
		    strerror(errno));
	}
	r->mlen = (size_t)sb.st_size;
	if (r->mlen > 0 && (r->map = mmap(NULL, r->mlen, PROT_READ,
	    MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		r->map = NULL;
		r->mlen = 0;
		close(fd);
		return sg_errf(err, "segment %s: cannot map it: %s", r->segs[i],
		    strerror(errno));
	}
	close(fd);
	r->cur = i;
	r->off = 0;
	return 0;
}

/* Checks one frame at p (avail bytes). Returns its length, or 0 with
 * *why when it is not a complete frame with a matching checksum. */
static size_t
frame_at(const unsigned char *p, size_t avail, unsigned char leaf[32],
    const char **why)
{
	uint32_t len;

	if (avail < SG_REC_HDR + SG_REC_SUM) {
		*why = "the record is cut short";
		return 0;
	}
	if (memcmp(p, MAGIC, 4) != 0) {
		*why = "bad record framing (magic)";
		return 0;
	}
	if ((len = get32(p + 4)) > SG_REC_MAX_PAYLOAD) {
		*why = "bad record framing (length)";
		return 0;
	}
	if (avail < SG_REC_HDR + (size_t)len + SG_REC_SUM) {
		*why = "the record is cut short";
		return 0;
	}
	sg_merkle_leaf(p, SG_REC_HDR + len, leaf);
	if (CRYPTO_memcmp(leaf, p + SG_REC_HDR + len, 32) != 0) {
		*why = "checksum mismatch";
		return 0;
	}
	return SG_REC_HDR + len + SG_REC_SUM;
}

int
sg_log_reader_next(struct sg_log_reader *r, struct sg_log_rec *rec,
    char err[SG_ERR_MAX])
{
	const unsigned char *p;
	const char *why = NULL;
	uint64_t first;
	size_t flen;

	while (r->cur == (size_t)-1 || r->off >= r->mlen) {
		size_t nx = r->cur == (size_t)-1 ? 0 : r->cur + 1;
		if (nx >= r->nsegs)
			return 0;
		if (map_segment(r, nx, err) != 0)
			return -1;
		seg_name_ok(r->segs[r->cur], &first);
		if (first != r->next_seq) {
			r->err_last_seg = r->cur + 1 == r->nsegs;
			r->err_off = 0;
			r->err_checksum_ok = 1;
			return sg_errf(err, "segment %s offset 0: expected a "
			    "segment starting at record %" PRIu64,
			    r->segs[r->cur], r->next_seq);
		}
	}
	p = r->map + r->off;
	r->err_last_seg = r->cur + 1 == r->nsegs;
	r->err_off = r->off;
	r->err_checksum_ok = 0;
	if ((flen = frame_at(p, r->mlen - r->off, rec->leaf, &why)) == 0)
		return sg_errf(err, "segment %s offset %zu: %s", r->segs[r->cur],
		    r->off, why);
	r->err_checksum_ok = 1;
	rec->seq = get64(p + 8);
	rec->time_us = get64(p + 16);
	rec->type = (int)(p[24] << 8 | p[25]);
	rec->payload = (const char *)p + SG_REC_HDR;
	rec->plen = get32(p + 4);
	snprintf(rec->segment, sizeof(rec->segment), "%s", r->segs[r->cur]);
	rec->offset = r->off;
	if (rec->seq != r->next_seq)
		return sg_errf(err, "segment %s offset %zu: record %" PRIu64
		    " where %" PRIu64 " was expected (missing or reordered "
		    "records)", r->segs[r->cur], r->off, rec->seq,
		    r->next_seq);
	if (rec->time_us < r->last_time)
		return sg_errf(err, "segment %s offset %zu: record %" PRIu64
		    " is older than the one before it", r->segs[r->cur],
		    r->off, rec->seq);
	if (rec->type < 1 || rec->type > SG_REC_TYPE_MAX || p[26] || p[27])
		return sg_errf(err, "segment %s offset %zu: record %" PRIu64
		    " has an unknown type", r->segs[r->cur], r->off, rec->seq);
	if (sg_payload_check(rec->payload, rec->plen) != 0)
		return sg_errf(err, "segment %s offset %zu: record %" PRIu64
		    " has a payload that is not canonical", r->segs[r->cur],
		    r->off, rec->seq);
	r->next_seq++;
	r->last_time = rec->time_us;
	r->off += flen;
	return 1;
}

/* After an error in the last segment at err_off: is there any intact
 * frame after it? If not, the error is a torn tail. */
static int
intact_frame_after(const struct sg_log_reader *r)
{
	unsigned char leaf[32];
	const char *why;
	size_t o;

	for (o = (size_t)r->err_off + 1; o + SG_REC_HDR + SG_REC_SUM <=
	    r->mlen; o++)
		if (r->map[o] == 'S' && frame_at(r->map + o, r->mlen - o,
		    leaf, &why) != 0)
			return 1;
	return 0;
}

/* --- checkpoints -------------------------------------------------------- */

static int
parse_cp_text(const char *t, size_t n, struct sg_checkpoint *cp)
{
	const char *l1, *l2, *l3;
	char num[24];
	size_t k;

	if ((l1 = memchr(t, '\n', n)) == NULL || (size_t)(l1 - t) >
	    SG_NOTE_NAME_MAX || l1 == t)
		return -1;
	memcpy(cp->origin, t, (size_t)(l1 - t));
	cp->origin[l1 - t] = '\0';
	l1++;
	if ((l2 = memchr(l1, '\n', n - (size_t)(l1 - t))) == NULL ||
	    (k = (size_t)(l2 - l1)) == 0 || k > 20 ||
	    (k > 1 && l1[0] == '0'))
		return -1;
	memcpy(num, l1, k);
	num[k] = '\0';
	if (strspn(num, "0123456789") != k)
		return -1;
	cp->size = strtoull(num, NULL, 10);
	l2++;
	if ((l3 = memchr(l2, '\n', n - (size_t)(l2 - t))) == NULL ||
	    (size_t)(l3 + 1 - t) != n ||
	    sg_b64_decode(l2, (size_t)(l3 - l2), cp->root, 32, 1) != 32)
		return -1;
	return 0;
}

long
sg_checkpoints_read(const char *dir, const struct sg_note_key *key,
    struct sg_checkpoint **out, uint64_t *tail, char err[SG_ERR_MAX])
{
	struct sg_checkpoint *v = NULL, *nv;
	char path[4200], *buf = NULL;
	const char *p, *end, *q, *why;
	size_t cap = 0, n = 0, tl, len = 0;
	struct stat sb;
	ssize_t k;
	int fd;

	*out = NULL;
	*tail = 0;
	snprintf(path, sizeof(path), "%s/" CP_FILE, dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return sg_errf(err, "checkpoints: %s", strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size > MAX_CP_FILE ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return sg_errf(err, "checkpoints: cannot read the file");
	}
	while (len < (size_t)sb.st_size && (k = read(fd, buf + len,
	    (size_t)sb.st_size - len)) > 0)
		len += (size_t)k;
	close(fd);
	end = buf + len;
	for (p = buf; p < end; p = q + 1) {
		/* text, "\n", signature lines, then the empty separator */
		for (q = p; q < end; q++)
			if (*q == '\n' && q + 1 < end && q[1] == '\n')
				break;
		if (q >= end) {
			*tail = (uint64_t)(end - p);
			break;
		}
		for (q += 2; q < end; q++)
			if (*q == '\n' && q + 1 < end && q[1] == '\n')
				break;
		if (q >= end) {
			*tail = (uint64_t)(end - p);
			break;
		}
		q++;		/* q: the separator line */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				sg_errf(err, "out of memory");
				goto bad;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].offset = (uint64_t)(p - buf);
		if (sg_note_verify(p, (size_t)(q - p), key, &tl, &why) != 0) {
			sg_errf(err, "checkpoints offset %zu: %s", (size_t)(p -
			    buf), why);
			goto bad;
		}
		if (parse_cp_text(p, tl, &v[n]) != 0) {
			sg_errf(err, "checkpoints offset %zu: the checkpoint "
			    "text is malformed", (size_t)(p - buf));
			goto bad;
		}
		n++;
	}
	free(buf);
	*out = v;
	return (long)n;
bad:
	free(buf);
	free(v);
	return -1;
}

/* --- writing ---------------------------------------------------------- */

#define LEAF_CHUNK_BITS	16
#define LEAF_CHUNK	((uint64_t)1 << LEAF_CHUNK_BITS)	/* 2.5 MiB */
#define LEAF_CHUNKS	((size_t)1 << 16)	/* 4 G records */

struct leaf {
	unsigned char	h[32];
	uint64_t	time_us;
};

struct sg_log {
	char			 dir[4096];
	int			 dirfd, segfd, cpfd, lockfd;
	const struct sg_note_key *signer;
	uint64_t		 cp_every, seg_bytes;
	unsigned		 cp_ms;

	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	uint64_t		 next_seq;	/* to assign */
	uint64_t		 durable;	/* last durable seq */
	uint64_t		 last_time;
	unsigned char		*pend, *spare;
	size_t			 plen, pcap, scap;
	int			 syncing, failed;
	char			 fail_msg[SG_ERR_MAX];

	uint64_t		 seg_size;
	struct sg_merkle_frontier fr;
	/* every leaf hash and record time, in order (40 bytes a record),
	 * for receipts: in chunks that never move, so that a proof reads
	 * them without holding the log's lock. nleaves counts them; after
	 * a failed allocation no more are kept (receipts for later records
	 * are refused, the log goes on). */
	struct leaf		**chunk;
	uint64_t		 nleaves;
	int			 leaves_lost;
	uint64_t		 cp_size;	/* last checkpoint's size */
	uint64_t		 cp_at_ms;
	int64_t			 cp_wall;	/* seconds; 0: unknown */
	unsigned char		 cp_root[32];
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
open_segment(struct sg_log *l, uint64_t first, int create,
    char err[SG_ERR_MAX])
{
	char name[32];
	struct stat sb;

	snprintf(name, sizeof(name), "%016" PRIu64 SEG_SUFFIX, first);
	if (l->segfd >= 0)
		close(l->segfd);
	l->segfd = openat(l->dirfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (l->segfd < 0)
		return sg_errf(err, "segment %s: %s", name, strerror(errno));
	if (create && sg_fsync_dir(l->dirfd) != 0)
		return sg_errf(err, "cannot sync the log directory: %s",
		    strerror(errno));
	if (fstat(l->segfd, &sb) != 0)
		return sg_errf(err, "segment %s: %s", name, strerror(errno));
	l->seg_size = (uint64_t)sb.st_size;
	return 0;
}

static void
lnote(const struct sg_log_opts *o, const char *fmt, ...)
{
	char msg[SG_ERR_MAX];
	va_list ap;

	if (o->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->note(o->arg, msg);
}

static void
log_free(struct sg_log *l)
{
	if (l->segfd >= 0)
		close(l->segfd);
	if (l->cpfd >= 0)
		close(l->cpfd);
	if (l->lockfd >= 0)
		close(l->lockfd);	/* releases the flock */
	if (l->dirfd >= 0)
		close(l->dirfd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->pend);
	free(l->spare);
	if (l->chunk != NULL) {
		size_t i;

		for (i = 0; i < LEAF_CHUNKS && l->chunk[i] != NULL; i++)
			free(l->chunk[i]);
		free(l->chunk);
	}
	free(l);
}

/* A durable record's leaf and time, kept for receipts (under mu, or
 * before the log is shared). -1 when it could not be kept. */
static int
keep_leaf(struct sg_log *l, const unsigned char leaf[32], uint64_t time_us)
{
	size_t c = (size_t)(l->nleaves >> LEAF_CHUNK_BITS);
	struct leaf *e;

	if (l->leaves_lost)
		return -1;
	if ((l->chunk == NULL && (l->chunk = calloc(LEAF_CHUNKS,
	    sizeof(*l->chunk))) == NULL) || c >= LEAF_CHUNKS ||
	    (l->chunk[c] == NULL && (l->chunk[c] = malloc(LEAF_CHUNK *
	    sizeof(struct leaf))) == NULL)) {
		l->leaves_lost = 1;
		return -1;
	}
	e = &l->chunk[c][l->nleaves & (LEAF_CHUNK - 1)];
	memcpy(e->h, leaf, 32);
	e->time_us = time_us;
	l->nleaves++;
	return 0;
}

static const struct leaf *
leaf_at(const struct sg_log *l, uint64_t i)
{
	return &l->chunk[i >> LEAF_CHUNK_BITS][i & (LEAF_CHUNK - 1)];
}
/* Replays the log: every record checked, the tree rebuilt, every
 * checkpoint's root compared. A torn tail is cut off; anything else
 * wrong is an alarm. */
static int
replay(struct sg_log *l, const struct sg_log_opts *o, uint64_t *last_seq,
    uint64_t *cut_off, char *cut_seg, char err[SG_ERR_MAX])
{
	struct sg_checkpoint *cps = NULL;
	struct sg_log_reader *r = NULL;
	struct sg_log_rec rec;
	unsigned char root[32];
	uint64_t cptail = 0;
	long ncp, ci = 0;
	char path[4200];
	int rc, ret = -1;

	*last_seq = 0;
	*cut_off = UINT64_MAX;
	if ((ncp = sg_checkpoints_read(l->dir, l->signer, &cps, &cptail,
	    err)) < 0) {
		char m[SG_ERR_MAX];
		snprintf(m, sizeof(m), "%s", err);
		return sg_errf(err, "log alarm: %s", m);
	}
	if (cptail > 0) {
		struct stat sb;
		if (fstat(l->cpfd, &sb) != 0 || ftruncate(l->cpfd,
		    sb.st_size - (off_t)cptail) != 0 || fsync(l->cpfd) != 0) {
			sg_errf(err, "cannot cut the torn checkpoint: %s",
			    strerror(errno));
			goto out;
		}
		lnote(o, "a torn checkpoint (%" PRIu64 " bytes) at the end of "
		    "the checkpoints file was removed", cptail);
	}
	if (sg_log_reader_open(l->dir, &r, err) != 0)
		goto out;
	while (ci < ncp && cps[ci].size == 0)
		ci++;
	for (;;) {
		rc = sg_log_reader_next(r, &rec, err);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (!r->err_last_seg || r->err_checksum_ok ||
			    intact_frame_after(r)) {
				char m[SG_ERR_MAX];
				snprintf(m, sizeof(m), "%s", err);
				sg_errf(err, "log alarm: %s; the log is damaged "
				    "in the middle and will not be written "
				    "(run `schoolgate log verify`)", m);
				goto out;
			}
			*cut_off = r->err_off;
			snprintf(cut_seg, 32, "%s", r->segs[r->cur]);
			break;
		}
		if (keep_leaf(l, rec.leaf, rec.time_us) != 0) {
			sg_errf(err, "out of memory");
			goto out;
		}
		sg_merkle_frontier_add(&l->fr, rec.leaf);
		*last_seq = rec.seq;
		l->last_time = rec.time_us;
		if (o->on_record)
			o->on_record(o->arg, &rec);
		while (ci < ncp && cps[ci].size == l->fr.size) {
			sg_merkle_frontier_root(&l->fr, root);
			if (CRYPTO_memcmp(root, cps[ci].root, 32) != 0) {
				sg_errf(err, "log alarm: checkpoint at offset %"
				    PRIu64 " (size %" PRIu64 ") does not match "
				    "the records", cps[ci].offset,
				    cps[ci].size);
				goto out;
			}
			ci++;
		}
	}
	if (ci < ncp) {
		sg_errf(err, "log alarm: checkpoint at offset %" PRIu64 " covers %"
		    PRIu64 " records but the log holds %" PRIu64 " (records "
		    "are missing%s)", cps[ci].offset, cps[ci].size,
		    l->fr.size, *cut_off != UINT64_MAX ? " or damaged" : "");
		goto out;
	}
	l->cp_size = ncp > 0 ? cps[ncp - 1].size : 0;
	if (ncp > 0) {
		struct stat cst;

		memcpy(l->cp_root, cps[ncp - 1].root, 32);
		if (fstat(l->cpfd, &cst) == 0)
			l->cp_wall = (int64_t)cst.st_mtime;
	}
	if (*cut_off != UINT64_MAX) {
		int fd;
		snprintf(path, sizeof(path), "%s", cut_seg);
		if ((fd = openat(l->dirfd, path, O_WRONLY | O_NOFOLLOW |
		    O_CLOEXEC)) < 0 || ftruncate(fd, (off_t)*cut_off) != 0 ||
		    fsync(fd) != 0) {
			sg_errf(err, "cannot cut the torn tail: %s",
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		lnote(o, "a torn record at the end of segment %s (offset %"
		    PRIu64 ") was removed; it had not been acknowledged",
		    cut_seg, *cut_off);
	}
	ret = 0;
out:
	sg_log_reader_close(r);
	free(cps);
	return ret;
}

int
sg_log_open(const struct sg_log_opts *o, struct sg_log **out,
    char err[SG_ERR_MAX])
{
	struct sg_payload pl;
	struct sg_log *l;
	uint64_t last, cut, seq;
	char cutseg[32] = "", **segs = NULL;
	size_t nsegs = 0, i;
	int rc;

	*out = NULL;
	if (o->signer == NULL || !o->signer->has_seed)
		return sg_errf(err, "the log needs its signing key");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return sg_errf(err, "out of memory");
	l->dirfd = l->segfd = l->cpfd = l->lockfd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	snprintf(l->dir, sizeof(l->dir), "%s", o->dir);
	l->signer = o->signer;
	l->cp_every = o->checkpoint_every ? o->checkpoint_every : 1000;
	l->cp_ms = o->checkpoint_ms ? o->checkpoint_ms : 60000;
	l->seg_bytes = o->segment_bytes ? o->segment_bytes : 64u << 20;
	if ((l->dirfd = sg_open_dir(AT_FDCWD, o->dir, o->create, 0700,
	    err)) < 0)
		goto bad;
	if ((l->lockfd = openat(l->dirfd, LOCK_FILE, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    flock(l->lockfd, LOCK_EX | LOCK_NB) != 0) {
		sg_errf(err, errno == EWOULDBLOCK ? "the log is in use by "
		    "another process" : "cannot lock the log: %s",
		    strerror(errno));
		goto bad;
	}
	if ((l->cpfd = openat(l->dirfd, CP_FILE, O_RDWR | O_APPEND |
	    O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		sg_errf(err, "checkpoints: %s", strerror(errno));
		goto bad;
	}
	if (replay(l, o, &last, &cut, cutseg, err) != 0)
		goto bad;
	l->next_seq = last + 1;
	l->durable = last;
	if (list_segments(o->dir, &segs, &nsegs, err) != 0)
		goto bad;
	if (nsegs == 0)
		rc = open_segment(l, 1, 1, err);
	else
		rc = open_segment(l, strtoull(segs[nsegs - 1], NULL, 10), 0,
		    err);
	for (i = 0; i < nsegs; i++)
		free(segs[i]);
	free(segs);
	if (rc != 0)
		goto bad;
	l->cp_at_ms = mono_ms();
	*out = l;
	if (cut != UINT64_MAX) {
		sg_payload_init(&pl);
		sg_payload_u64(&pl, "offset", cut);
		sg_payload_str(&pl, "reason", "torn-tail-removed");
		sg_payload_str(&pl, "segment", cutseg);
		if (sg_payload_end(&pl) != 0 || sg_log_append(l,
		    SG_REC_LOG_REPAIRED, &pl, &seq, err) != 0) {
			*out = NULL;
			goto bad;
		}
	}
	return 0;
bad:
	log_free(l);
	return -1;
}

static int
write_checkpoint(struct sg_log *l, uint64_t size,
    const unsigned char root[32], char err[SG_ERR_MAX])
{
	char text[256], b[48], *note;
	int n, rc;

	sg_b64_encode(root, 32, b, 1);
	n = snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n%s\n",
	    l->signer->name, size, b);
	if ((note = sg_note_sign(text, (size_t)n, l->signer)) == NULL)
		return sg_errf(err, "cannot sign a checkpoint");
	rc = sg_write_full(l->cpfd, note, strlen(note)) == 0 &&
	    sg_write_full(l->cpfd, "\n", 1) == 0 && fdatasync(l->cpfd) == 0;
	free(note);
	if (!rc)
		return sg_errf(err, "cannot write a checkpoint: %s",
		    strerror(errno));
	return 0;
}

/* Called by the batch leader with mu held and syncing set; drops mu
 * around the I/O. */
static int
maybe_checkpoint(struct sg_log *l, int force, char err[SG_ERR_MAX])
{
	unsigned char root[32];
	uint64_t size;
	int rc;

	if (l->fr.size == l->cp_size)
		return 0;
	if (!force && l->fr.size - l->cp_size < l->cp_every &&
	    mono_ms() - l->cp_at_ms < l->cp_ms)
		return 0;
	size = l->fr.size;
	sg_merkle_frontier_root(&l->fr, root);
	pthread_mutex_unlock(&l->mu);
	rc = write_checkpoint(l, size, root, err);
	pthread_mutex_lock(&l->mu);
	if (rc == 0) {
		l->cp_size = size;
		l->cp_at_ms = mono_ms();
		l->cp_wall = (int64_t)(now_us() / 1000000);
		memcpy(l->cp_root, root, 32);
	}
	return rc;
}

void
sg_log_info(struct sg_log *l, struct sg_log_info *in)
{
	struct dirent *de;
	struct stat st;
	uint64_t first;
	DIR *d;
	int fd;

	memset(in, 0, sizeof(*in));
	pthread_mutex_lock(&l->mu);
	in->records = l->durable;
	in->cp_size = l->cp_size;
	in->cp_time = l->cp_wall;
	memcpy(in->cp_root, l->cp_root, 32);
	pthread_mutex_unlock(&l->mu);
	if ((fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!seg_name_ok(de->d_name, &first) ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		in->segments++;
		in->bytes += (uint64_t)st.st_size;
	}
	closedir(d);
}

static int
frame(struct sg_log *l, int type, const struct sg_payload *pl,
    uint64_t seq, uint64_t t)
{
	size_t need = SG_REC_HDR + pl->len + SG_REC_SUM;
	unsigned char *p, *np;
	size_t nc;

	if (l->plen + need > l->pcap) {
		nc = l->pcap ? l->pcap * 2 : 64 * 1024;
		while (nc < l->plen + need)
			nc *= 2;
		if ((np = realloc(l->pend, nc)) == NULL)
			return -1;
		l->pend = np;
		l->pcap = nc;
	}
	p = l->pend + l->plen;
	memcpy(p, MAGIC, 4);
	put32(p + 4, (uint32_t)pl->len);
	put64(p + 8, seq);
	put64(p + 16, t);
	p[24] = (unsigned char)(type >> 8);
	p[25] = (unsigned char)type;
	p[26] = p[27] = 0;
	memcpy(p + SG_REC_HDR, pl->buf, pl->len);
	sg_merkle_leaf(p, SG_REC_HDR + pl->len, p + SG_REC_HDR + pl->len);
	l->plen += need;
	return 0;
}

/* The leader: writes and syncs the pending batch. mu held on entry and
 * exit. */
static void
commit_batch(struct sg_log *l)
{
	unsigned char *batch = l->pend;
	size_t blen = l->plen, off, flen;
	uint64_t last = l->next_seq - 1, first;
	char err[SG_ERR_MAX] = "";
	unsigned char *tmp;
	size_t tcap;
	int ok = 1;

	/* swap buffers so that new appends go to the spare */
	tmp = l->spare;
	tcap = l->scap;
	l->spare = l->pend;
	l->scap = l->pcap;
	l->pend = tmp;
	l->pcap = tcap;
	l->plen = 0;
	first = get64(batch + 8);
	pthread_mutex_unlock(&l->mu);
	if (l->seg_size > 0 && l->seg_size + blen > l->seg_bytes &&
	    open_segment(l, first, 1, err) != 0)
		ok = 0;
	if (ok && (sg_write_full(l->segfd, batch, blen) != 0 ||
	    fdatasync(l->segfd) != 0)) {
		sg_errf(err, "transfer log write failed: %s", strerror(errno));
		ok = 0;
	}
	pthread_mutex_lock(&l->mu);
	if (!ok) {
		l->failed = 1;
		snprintf(l->fail_msg, sizeof(l->fail_msg), "%s", err);
		return;
	}
	l->seg_size += blen;
	for (off = 0; off < blen; off += flen) {
		flen = SG_REC_HDR + get32(batch + off + 4) + SG_REC_SUM;
		/* (a leaf not kept: no receipts from here on, and the
		 * log goes on) */
		(void)keep_leaf(l, batch + off + flen - 32,
		    get64(batch + off + 16));
		sg_merkle_frontier_add(&l->fr, batch + off + flen - 32);
	}
	l->durable = last;
	if (maybe_checkpoint(l, 0, err) != 0) {
		l->failed = 1;
		snprintf(l->fail_msg, sizeof(l->fail_msg), "%s", err);
	}
}

int
sg_log_append(struct sg_log *l, int type, const struct sg_payload *pl,
    uint64_t *seq, char err[SG_ERR_MAX])
{
	uint64_t my, t;

	if (type < 1 || type > SG_REC_TYPE_MAX || pl->len < 2 ||
	    pl->buf[pl->len - 1] != '}' || sg_payload_check(pl->buf,
	    pl->len) != 0)
		return sg_errf(err, "a log record was malformed (not written)");
	pthread_mutex_lock(&l->mu);
	if (l->failed) {
		sg_errf(err, "the transfer log has failed: %s", l->fail_msg);
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	my = l->next_seq;
	t = now_us();
	if (t < l->last_time)
		t = l->last_time;	/* the clock went back */
	if (frame(l, type, pl, my, t) != 0) {
		pthread_mutex_unlock(&l->mu);
		return sg_errf(err, "out of memory");
	}
	l->next_seq++;
	l->last_time = t;
	while (l->durable < my && !l->failed) {
		if (!l->syncing) {
			int rounds = 0;
			l->syncing = 1;
			/* keep leading while others wait: a hand-over costs
			 * wake-ups that a busy log cannot afford (bounded, so
			 * that this caller is not held for long) */
			do
				commit_batch(l);
			while (l->plen > 0 && !l->failed && ++rounds < 8);
			l->syncing = 0;
			pthread_cond_broadcast(&l->cv);
		} else
			pthread_cond_wait(&l->cv, &l->mu);
	}
	if (l->durable < my) {
		sg_errf(err, "the transfer log has failed: %s", l->fail_msg);
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	pthread_mutex_unlock(&l->mu);
	*seq = my;
	return 0;
}

int
sg_log_checkpoint(struct sg_log *l, char err[SG_ERR_MAX])
{
	int rc;

	pthread_mutex_lock(&l->mu);
	while (l->syncing)
		pthread_cond_wait(&l->cv, &l->mu);
	if (l->failed) {
		pthread_mutex_unlock(&l->mu);
		return sg_errf(err, "the transfer log has failed: %s",
		    l->fail_msg);
	}
	l->syncing = 1;
	rc = maybe_checkpoint(l, 1, err);
	l->syncing = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
sg_log_close(struct sg_log *l, char err[SG_ERR_MAX])
{
	int rc = 0;

	if (l == NULL)
		return 0;
	if (!l->failed)
		rc = sg_log_checkpoint(l, err);
	log_free(l);
	return rc;
}

/* RFC 9162 2.1.3.1: MTH of leaves [lo, lo + n) */
static void
mth(const struct sg_log *l, uint64_t lo, uint64_t n, unsigned char out[32])
{
	struct sg_merkle_frontier fr;
	uint64_t i;

	memset(&fr, 0, sizeof(fr));
	for (i = 0; i < n; i++)
		sg_merkle_frontier_add(&fr, leaf_at(l, lo + i)->h);
	sg_merkle_frontier_root(&fr, out);
}

/* PATH(m, D[lo, lo + n)), deepest first (depth <= 64) */
static void
path(const struct sg_log *l, uint64_t lo, uint64_t m, uint64_t n,
    unsigned char (*out)[32], size_t *len)
{
	uint64_t k = 1;

	if (n <= 1)
		return;
	while (k * 2 < n)
		k *= 2;
	if (m < k) {
		path(l, lo, m, k, out, len);
		mth(l, lo + k, n - k, out[(*len)++]);
	} else {
		path(l, lo + k, m - k, n - k, out, len);
		mth(l, lo, k, out[(*len)++]);
	}
}

int
sg_log_leaf(struct sg_log *l, uint64_t seq, unsigned char leaf[32],
    uint64_t *time_us)
{
	int rc = -1;

	pthread_mutex_lock(&l->mu);
	if (seq >= 1 && seq <= l->nleaves) {
		memcpy(leaf, leaf_at(l, seq - 1)->h, 32);
		if (time_us != NULL)
			*time_us = leaf_at(l, seq - 1)->time_us;
		rc = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}
int
sg_log_prove(struct sg_log *l, uint64_t seq, struct sg_log_proof *pr,
    char err[SG_ERR_MAX])
{
	unsigned char root[32];
	char text[256], b[48];
	uint64_t size;
	int n;

	memset(pr, 0, sizeof(pr[0]));
	pthread_mutex_lock(&l->mu);
	size = l->cp_size;
	if (seq < 1 || seq > l->nleaves) {
		pthread_mutex_unlock(&l->mu);
		return sg_errf(err, "record %" PRIu64 " is not held for "
		    "receipts", seq);
	}
	memcpy(pr->leaf, leaf_at(l, seq - 1)->h, 32);
	pr->seq = seq;
	if (seq > size || size > l->nleaves) {	/* the next checkpoint */
		pthread_mutex_unlock(&l->mu);
		return 1;
	}
	memcpy(root, l->cp_root, 32);
	pthread_mutex_unlock(&l->mu);
	/* the first size leaves never change or move: read them unlocked
	 * (their chunks were published under mu, before size) */
	pr->size = size;
	path(l, 0, seq - 1, size, pr->proof, &pr->plen);
	if (sg_merkle_verify_inclusion(seq - 1, size, pr->leaf,
	    (const unsigned char (*)[32])pr->proof, pr->plen, root) != 0)
		return sg_errf(err, "the log does not prove record %" PRIu64,
		    seq);
	/* the checkpoint as written: the same text, and Ed25519 signs
	 * deterministically */
	sg_b64_encode(root, 32, b, 1);
	n = snprintf(text, sizeof(text), "%s\n%" PRIu64 "\n%s\n",
	    l->signer->name, size, b);
	if ((pr->checkpoint = sg_note_sign(text, (size_t)n, l->signer)) ==
	    NULL)
		return sg_errf(err, "cannot sign");
	return 0;
}