/*
 * journal: one structured entry per event. When stderr is the journal
 * (systemd started us: $JOURNAL_STREAM names stderr's device and inode)
 * the entry goes to the journal with its fields (sd_journal_send);
 * otherwise it is one line on stderr, whatever stderr is (a terminal, a
 * file, a pipe to a supervisor or to docker logs). sd_journal_send's
 * answer cannot decide this: it reports success with no journald to
 * read it. Each event type has a stable MESSAGE_ID, listed in the
 * journal catalog; fields carry ids, counts and rule names only.
 */
#include "gw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static const char *const ids[EV_NUM] = {
	[EV_STARTED]		= "9ae95753c1d2d1c1594e9014801f0c2d",
	[EV_STOPPING]		= "3401ae406ab05f56bf4dc8cae2065932",
	[EV_RELOADED]		= "832f3dcb7828a5ece2e05dbbad94d5fc",
	[EV_RELOAD_FAILED]	= "094e4e8fec38bb2beeed1f1b6b463a09",
	[EV_ACCEPTED]		= "8585f9999a79372cefcccf8e48713211",
	[EV_REJECTED]		= "c0607a19e3f17123098a5d08354a8c4b",
	[EV_UPLOAD_FAILED]	= "6c8e98801a12fd7688b671d033b7eb25",
	[EV_DOWNLOADED]		= "7a13b4d2d008418db75c28fb60574c19",
	[EV_CONFIRMED]		= "8aa374cc491db9b715483051e573eb13",
	[EV_DELETED]		= "034d44e6b2291c96b1f81b75b349a2c7",
	[EV_AUTH_FAILED]	= "fa0a888cba733f2b9fe3d031d612505d",
	[EV_BANNED]		= "512970e851472128aa622a47b31e97b8",
	[EV_RECOVERY]		= "f4fb305bd05be15d75e26ac553482f4e",
	[EV_STORE_FAILED]	= "4b6b23abeab998dbb18d9673a796c453",
	[EV_LOG_FAILED]		= "ce8e6c10cbb665b34fee669bd09a71fb",
	[EV_QUARANTINED]	= "23096e583d1445dfa04a9dd2cbcdd57e",
	[EV_START_FAILED]	= "2fabecf538474b129ab8e5df24a64389",
	[EV_PROTOCOL]		= "ebf03dcb356e4781a210a93a2df2dc3c",
	[EV_WEB_SESSION]	= "53d3055f8529467d90661076d1529c21",
	[EV_AGREEMENT_STATUS]	= "d8f7c070d0644d40be392b0515433da2",
	[EV_REVIEW_OVERDUE]	= "500daf5249f64c329e325df82cd23b8a",
	[EV_FREQUENCY]		= "7c06d2a97db940c28a74592d51189e98",
	[EV_DPO_QUERY]		= "ea4a148298c64aa7b76e42b60a4837a9",
	[EV_INDEXED]		= "18b60aaeb2cd4afeb1f66b0a6624bfde",
	[EV_PROCESS]		= "4b2b1f028bdd4c998ef1e50a4caf7e57",
	[EV_SANDBOX]		= "f534c64e6c7943e0b2709ee65a82ef39",
};

const char *
gw_event_id(enum gw_event ev)
{
	return ids[ev];
}

#define MAXF	24

/* 1 when fd 2 is the stream systemd connected to the journal for us */
static int
stderr_is_journal(void)
{
	static int known, is;
	const char *js;
	unsigned long long dev, ino;
	struct stat st;

	if (!known) {
		known = 1;
		js = getenv("JOURNAL_STREAM");
		is = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		    (unsigned long long)st.st_ino == ino;
	}
	return is;
}

void
gw_journal(enum gw_event ev, int prio, const char *msg,
    const char *const fields[])
{
	struct iovec iov[MAXF + 4];
	char mid[64], pr[16], *m = NULL;
	size_t n = 0, i;

	snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", ids[ev]);
	snprintf(pr, sizeof(pr), "PRIORITY=%d", prio);
	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		return;
	iov[n].iov_base = m;
	iov[n++].iov_len = strlen(m);
	iov[n].iov_base = mid;
	iov[n++].iov_len = strlen(mid);
	iov[n].iov_base = pr;
	iov[n++].iov_len = strlen(pr);
	iov[n].iov_base = (void *)"SYSLOG_IDENTIFIER=schoolgated";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=schoolgated");
	for (i = 0; fields != NULL && fields[i] != NULL && i < MAXF; i++) {
		iov[n].iov_base = (void *)fields[i];
		iov[n++].iov_len = strlen(fields[i]);
	}
	if (!stderr_is_journal() || sd_journal_sendv(iov, (int)n) < 0) {
		/* not run by systemd, or its journal refused: a line */
		fprintf(stderr, "schoolgated: <%d> %s", prio, msg);
		for (i = 0; fields != NULL && fields[i] != NULL && i < MAXF;
		    i++)
			fprintf(stderr, " %s", fields[i]);
		fputc('\n', stderr);
	}
	free(m);
}

void
gw_journalf(enum gw_event ev, int prio, const char *const fields[],
    const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	gw_journal(ev, prio, buf, fields);
}
