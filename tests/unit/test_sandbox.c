/* Unit tests for common/base/sandbox.c: a process that entered the
 * sandbox tries what an attacker with code execution in it would try,
 * and each attempt fails (EACCES, EPERM) or kills it (SIGSYS). Each
 * attempt runs in a fresh child, so one that kills does not hide the
 * next. The kernel's own view (/proc/<pid>/status) is read from
 * outside. Skipped, and said so, where the kernel has no Landlock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/sandbox.h"

static char dir[64], keyfile[128];
static int have;

enum attack {
	A_OPEN_KEY, A_OPEN_PROC_MEM, A_PTRACE, A_SOCKET_INET, A_SOCKET_UNIX,
	A_EXEC, A_FORK, A_STAT_PATH, A_KILL_PARENT, A_MKDIR, A_THREAD,
	A_INHERITED_FD, A_KEPT_FD
};

static int token;

static void *
thread_fn(void *arg)
{
	return arg;
}

/* In the child, sandboxed: try it; the result (errno, or 0 when it
 * worked) goes to the parent through fd. */
static int
attempt(enum attack a, pid_t parent, int inherited, int kept)
{
	char path[160];
	struct stat st;
	pthread_t t;
	void *rv;
	int fd;

	errno = 0;
	switch (a) {
	case A_OPEN_KEY:
		return (fd = open(keyfile, O_RDONLY)) >= 0 ? 0 : errno;
	case A_OPEN_PROC_MEM:
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)parent);
		return (fd = open(path, O_RDONLY)) >= 0 ? 0 : errno;
	case A_PTRACE:
		return ptrace(PTRACE_ATTACH, parent, 0, 0) == 0 ? 0 : errno;
	case A_SOCKET_INET:
		return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : errno;
	case A_SOCKET_UNIX:
		return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : errno;
	case A_EXEC: {
		char *argv[] = { "/bin/sh", "-c", "true", NULL };

		execv("/bin/sh", argv);
		return errno;
	}
	case A_FORK: {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		return p > 0 ? 0 : errno;
	}
	case A_STAT_PATH:
		return stat(keyfile, &st) == 0 ? 0 : errno;
	case A_KILL_PARENT:
		return kill(parent, 0) == 0 ? 0 : errno;
	case A_MKDIR:
		snprintf(path, sizeof(path), "%s/made", dir);
		return mkdir(path, 0700) == 0 ? 0 : errno;
	case A_THREAD:
		if (pthread_create(&t, NULL, thread_fn, &token) != 0)
			return EAGAIN;
		return pthread_join(t, &rv) == 0 && rv == &token ? 0 : EINVAL;
	case A_INHERITED_FD:
		return fcntl(inherited, F_GETFD) >= 0 ? 0 : errno;
	case A_KEPT_FD:
		return fcntl(kept, F_GETFD) >= 0 ? 0 : errno;
	}
	return EINVAL;
}

/* Runs one attack in a fresh sandboxed child: its errno (0: it worked),
 * or -SIG when the child died of signal SIG. */
static int
run_with(enum attack a, int no_seccomp)
{
	int rp[2], inherited, status, result = -1000;
	pid_t parent = getpid(), pid;

	assert_int_equal(pipe(rp), 0);
	assert_true((inherited = open(keyfile, O_RDONLY)) >= 0);
	if ((pid = fork()) == 0) {
		struct sg_sandbox_opts o = { .keep = &rp[1], .nkeep = 1,
		    .keep_stdio = 1, .no_seccomp = no_seccomp };
		char err[256];
		int r;

		close(rp[0]);
		if (sg_sandbox_enter(&o, err, sizeof(err)) != 0) {
			fprintf(stderr, "sandbox: %s\n", err);
			_exit(99);
		}
		r = attempt(a, parent, inherited, rp[1]);
		if (write(rp[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(98);
		_exit(0);
	}
	assert_true(pid > 0);
	close(rp[1]);
	close(inherited);
	if (read(rp[0], &result, sizeof(result)) != (ssize_t)sizeof(result))
		result = -1000;
	close(rp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return result;
}

static int
run(enum attack a)
{
	return run_with(a, 0);
}

#define NEED()	do {						\
	if (!have) {						\
		print_message("skipped: no Landlock here\n");	\
		skip();						\
	}							\
} while (0)

static void
no_file_can_be_opened(void **state)
{
	int r;

	(void)state;
	NEED();
	/* seccomp refuses open, openat, mkdir and stat of a path */
	assert_int_equal(run(A_OPEN_KEY), EPERM);
	assert_int_equal(run(A_OPEN_PROC_MEM), EPERM);
	assert_int_equal(run(A_MKDIR), EPERM);
	assert_int_equal(run(A_STAT_PATH), EPERM);
	/* and Landlock refuses them without seccomp: either layer holds */
	assert_int_equal(run_with(A_OPEN_KEY, 1), EACCES);
	assert_int_equal(run_with(A_MKDIR, 1), EACCES);
	/* procfs's ptrace check (EPERM: Landlock denies ptrace access to
	 * what is outside the sandbox) or Landlock's open (EACCES),
	 * whichever the kernel asks first */
	r = run_with(A_OPEN_PROC_MEM, 1);
	assert_true(r == EACCES || r == EPERM);
	assert_int_equal(run_with(A_PTRACE, 1), EPERM);
}

static void
no_exec_ptrace_or_signal_to_others(void **state)
{
	(void)state;
	NEED();
	assert_int_equal(run(A_EXEC), -SIGSYS);
	assert_int_equal(run(A_PTRACE), -SIGSYS);
	assert_int_equal(run(A_KILL_PARENT), -SIGSYS);
}

static void
no_new_socket_or_process(void **state)
{
	(void)state;
	NEED();
	assert_int_equal(run(A_SOCKET_INET), EPERM);
	assert_int_equal(run(A_SOCKET_UNIX), EPERM);
	assert_int_equal(run(A_FORK), EPERM);
}

static void
threads_and_kept_descriptors_work(void **state)
{
	(void)state;
	NEED();
	assert_int_equal(run(A_THREAD), 0);
	assert_int_equal(run(A_KEPT_FD), 0);
	assert_int_equal(run(A_INHERITED_FD), EBADF);
}

static void
kernel_reports_the_sandbox(void **state)
{
	int go[2], ready[2];
	char path[64], buf[4096], c = 0;
	FILE *f;
	size_t n;
	pid_t pid;
	int status;

	(void)state;
	NEED();
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	if ((pid = fork()) == 0) {
		int keep[2] = { go[0], ready[1] };
		struct sg_sandbox_opts o = { .keep = keep, .nkeep = 2,
		    .keep_stdio = 1 };
		char err[256];

		if (sg_sandbox_enter(&o, err, sizeof(err)) != 0)
			_exit(99);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(98);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_non_null(strstr(buf, "\nSeccomp:\t2\n"));
	assert_non_null(strstr(buf, "\nNoNewPrivs:\t1\n"));
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[1]);
	close(ready[0]);
}

static int
setup(void **state)
{
	int abi, sc;
	FILE *f;

	(void)state;
	have = sg_sandbox_probe(&abi, &sc, NULL, 0) == 0;
	snprintf(dir, sizeof(dir), "/tmp/sg-sandbox.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(keyfile, sizeof(keyfile), "%s/storage.key", dir);
	if ((f = fopen(keyfile, "w")) == NULL)
		return -1;
	fputs("AGE-SECRET-KEY-NOT-A-REAL-ONE\n", f);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	char p[160];

	(void)state;
	unlink(keyfile);
	snprintf(p, sizeof(p), "%s/made", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_file_can_be_opened),
		cmocka_unit_test(no_exec_ptrace_or_signal_to_others),
		cmocka_unit_test(no_new_socket_or_process),
		cmocka_unit_test(threads_and_kept_descriptors_work),
		cmocka_unit_test(kernel_reports_the_sandbox),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
