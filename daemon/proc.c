/*
 * proc: what the core does for each of the processes it starts from its
 * own executable (the intake process maker, the SSH front door): start
 * one with the descriptors it is given and nothing else, and say how one
 * ended. And, in the test build only, what code execution in any of them
 * would try once it is sandboxed.
 */
#include "gw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/msg.h"
#include "base/sandbox.h"

extern char **environ;

int
gw_self_exe(char *out, size_t cap)
{
	ssize_t n;

	/* named once, at start: a path looked up at each restart could
	 * have been replaced */
	if (cap == 0 || (n = readlink("/proc/self/exe", out, cap - 1)) <= 0)
		return -1;
	out[n] = 0;
	return 0;
}

pid_t
gw_spawn_self(const char *exe, char *const argv[], const int *fds,
    size_t nfds, int bind_now, char *err, size_t cap)
{
	posix_spawn_file_actions_t fa;
	int moved[8], rc;
	char **env;
	size_t n, k;
	pid_t pid = -1;

	if (nfds > sizeof(moved) / sizeof(moved[0])) {
		snprintf(err, cap, "too many descriptors");
		return -1;
	}
	/* each above the numbers they go to, so that no dup2 overwrites
	 * another's source (and none is its own target: dup2 onto itself
	 * would keep close-on-exec) */
	for (k = 0; k < nfds; k++)
		moved[k] = -1;
	for (k = 0; k < nfds; k++)
		if ((moved[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 3 + (int)nfds)) <
		    0) {
			snprintf(err, cap, "fcntl: %s", strerror(errno));
			goto out;
		}
	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	for (n = 0, k = 0; environ[n] != NULL; n++)
		if (strncmp(environ[n], "LD_BIND_NOW=", 12) != 0)
			env[k++] = environ[n];
	/* LD_BIND_NOW: every symbol bound as it loads, so that no child
	 * of a process that forks resolves one for itself (each would
	 * write the tables into pages of its own) */
	if (bind_now)
		env[k] = "LD_BIND_NOW=1";
	posix_spawn_file_actions_init(&fa);
	for (k = 0; k < nfds; k++)
		posix_spawn_file_actions_adddup2(&fa, moved[k], 3 + (int)k);
	rc = posix_spawn(&pid, exe, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (rc != 0) {
		snprintf(err, cap, "cannot start %s %s: %s", exe, argv[1] ?
		    argv[1] : "", strerror(rc));
		pid = -1;
	}
out:
	for (k = 0; k < nfds; k++)
		if (moved[k] >= 0)
			close(moved[k]);
	return pid;
}

#define READY_TIMEOUT_MS	10000

int
gw_child_await_ready(struct sg_msgbuf *mb, int fd,
    const struct sg_msg_rule *rules, size_t nrules, uint32_t type,
    uint16_t ok_tag, uint16_t why_tag, const char *who, char *err,
    size_t cap)
{
	struct sg_msg m;
	char e[256];
	uint64_t ok;
	int rc;

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		rc = sg_msgbuf_get(mb, rules, nrules, &m, e, sizeof(e));
		if (rc < 0) {
			snprintf(err, cap, "%s: %.160s", who, e);
			return -1;
		}
		if (rc == 1)
			break;
		if (poll(&pf, 1, READY_TIMEOUT_MS) <= 0 ||
		    sg_msgbuf_fill(mb) <= 0) {
			snprintf(err, cap, "%s stopped as it started", who);
			return -1;
		}
	}
	if (m.fd >= 0)
		close(m.fd);
	if (m.type != type || sg_msg_fields_ok(m.data, m.len) != 0 ||
	    sg_msg_field_u64(m.data, m.len, ok_tag, &ok) != 0 ||
	    sg_msg_field_str(m.data, m.len, why_tag, e, sizeof(e)) != 0) {
		snprintf(err, cap, "%s's first message was not READY", who);
		return -1;
	}
	if (ok != 1) {
		snprintf(err, cap, "%s cannot be sandboxed: %.80s "
		    "(daemon.sandbox = \"off\" runs it without, which the "
		    "journal then reports at every start)", who, e);
		return -1;
	}
	return 0;
}

int
gw_child_ready(int sandbox, const struct sg_sandbox_opts *so, uint32_t type,
    uint16_t ok_tag, uint16_t why_tag)
{
	struct sg_msgb b;
	char err[256] = "";
	int ok = 1, rc = -1;

	if (sandbox)
		ok = sg_sandbox_enter(so, err, sizeof(err)) == 0;
	else {
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		close_range(4, ~0U, 0);
	}
	sg_msgb_init(&b);
	sg_msg_put_u64(&b, ok_tag, (uint64_t)ok);
	sg_msg_put_str(&b, why_tag, err);
	if (b.ok && sg_msg_send(3, type, 0, -1, b.buf, b.len) == 0 && ok)
		rc = 0;
	sg_msgb_free(&b);
	return rc;
}

pid_t
gw_front_begin(const char *name)
{
	pid_t core = getppid();

	/* it ends with the core, and is no one's to inspect */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != core)
		return -1;
	prctl(PR_SET_NAME, name, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	return core;
}

int
gw_front_ready(int sandbox, pid_t core, unsigned ord, const char *who,
    uint32_t type, uint16_t ok_tag, uint16_t why_tag)
{
	/* its channel (3) and stderr; sockets it is given, not made */
	struct sg_sandbox_opts so = { .keep = (int[]){ 3 }, .nkeep = 1,
	    .keep_stdio = 1, .allow_socket = 1 };

	if (gw_child_ready(sandbox, &so, type, ok_tag, why_tag) != 0)
		return -1;
#ifdef SG_ATTACK_HOOK
	{
		const char *a = getenv("SG_ATTACK_FRONT");

		if (a != NULL && strncmp(a, who, strlen(a)) == 0 && ord < 3)
			gw_attack(who, core, ord);
	}
#else
	(void)core, (void)ord, (void)who;
#endif
	/* its loop's descriptors are made after this: the sandbox closed
	 * every one but the core's */
	fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
	return 0;
}

void
gw_status_text(int status, char *out, size_t cap)
{
	if (WIFSIGNALED(status)) {
		const char *n = sigabbrev_np(WTERMSIG(status));

		snprintf(out, cap, "killed by signal %d (SIG%s)",
		    WTERMSIG(status), n ? n : "?");
	} else if (WIFEXITED(status))
		snprintf(out, cap, "exited with status %d",
		    WEXITSTATUS(status));
	else
		snprintf(out, cap, "ended (status %d)", status);
}

#ifdef SG_ATTACK_HOOK
/*
 * Test builds only (build/tests/schoolgated-attack; tests/check-hardening
 * proves it is not in schoolgated): what code execution in a sandboxed
 * process would try. Each attempt and its outcome goes to stderr, named
 * by the process (who); the last kills the process (tests/daemon/privsep).
 */
static void
attack_line(const char *who, const char *what, int ok)
{
	fprintf(stderr, "sg-attack-hook: %s: %s: %s\n", who, what, ok ?
	    "SUCCEEDED" : strerrorname_np(errno));
}

void
gw_attack(const char *who, pid_t core, unsigned ord)
{
	const char *keys = getenv("SG_ATTACK_KEYS");
	const char *obj = getenv("SG_ATTACK_OBJECT");
	char p[4200];
	int fd;

	if (keys != NULL) {
		snprintf(p, sizeof(p), "%s/storage.key", keys);
		attack_line(who, "open storage.key", (fd = open(p, O_RDONLY)) >=
		    0);
		snprintf(p, sizeof(p), "%s/log-signing.key", keys);
		attack_line(who, "open log-signing.key", (fd = open(p,
		    O_RDONLY)) >= 0);
	}
	if (obj != NULL)
		attack_line(who, "open a stored object", (fd = open(obj,
		    O_RDONLY)) >= 0);
	snprintf(p, sizeof(p), "/proc/%d/mem", (int)core);
	attack_line(who, "open the core's memory", (fd = open(p, O_RDONLY)) >=
	    0);
	attack_line(who, "open a new socket", (fd = socket(AF_INET,
	    SOCK_STREAM, 0)) >= 0);
	attack_line(who, "accept a connection", (fd = accept4(3, NULL, NULL,
	    0)) >= 0);
	attack_line(who, "fork", (fd = (int)fork()) >= 0);
	if (fd == 0)
		_exit(0);
	fflush(stderr);
	switch (ord % 3) {
	case 0: {
		char *argv[] = { "/bin/sh", "-c", "true", NULL };

		fprintf(stderr, "sg-attack-hook: %s: exec /bin/sh: trying\n",
		    who);
		execv("/bin/sh", argv);
		attack_line(who, "exec /bin/sh", 1);
		break;
	}
	case 1:
		fprintf(stderr, "sg-attack-hook: %s: ptrace the core: trying\n",
		    who);
		attack_line(who, "ptrace the core", ptrace(PTRACE_ATTACH, core,
		    0, 0) == 0);
		break;
	default:
		fprintf(stderr, "sg-attack-hook: %s: signal the core: trying\n",
		    who);
		attack_line(who, "signal the core", kill(core, SIGTERM) == 0);
		break;
	}
}
#endif
