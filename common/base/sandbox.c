/*
 * sandbox: Landlock, seccomp, no_new_privs, not dumpable, descriptors
 * closed (see sandbox.h).
 */
#include "base/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock's later rights, which Debian 12's kernel headers predate. */
#define LL_FS_V1	((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER	(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE	(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV	(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND	(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT	(1ULL << 1)
#define LL_SCOPE_ABSTRACT (1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL	(1ULL << 1)

struct ll_attr {
	uint64_t	fs, net, scoped;
};

static int
landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static int
seccomp_available(void)
{
	/* PR_GET_SECCOMP answers EINVAL where the kernel has no seccomp */
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
}

int
sg_sandbox_probe(int *abi, int *sc, char *why, size_t cap)
{
	*abi = landlock_abi();
	*sc = seccomp_available();
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s%s%s", *abi ? "" : "Landlock is not "
		    "enabled in this kernel (lsm=landlock)",
		    !*abi && !*sc ? "; " : "", *sc ? "" : "seccomp is not "
		    "available");
	return *abi > 0 && *sc ? 0 : -1;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Closes every descriptor but 0-2 (when kept) and keep[]. */
static int
close_others(const struct sg_sandbox_opts *o)
{
	int *k = calloc(o->nkeep + 1, sizeof(int));
	unsigned lo = o->keep_stdio ? 3 : 0;
	size_t i;
	int rc = 0;

	if (k == NULL)
		return -1;
	if (o->nkeep > 0)
		memcpy(k, o->keep, o->nkeep * sizeof(int));
	qsort(k, o->nkeep, sizeof(int), cmp_int);
	for (i = 0; i < o->nkeep; i++) {
		if (k[i] < (int)lo)
			continue;
		if ((unsigned)k[i] > lo && close_range(lo,
		    (unsigned)k[i] - 1, 0) != 0)
			rc = -1;
		lo = (unsigned)k[i] + 1;
	}
	if (close_range(lo, ~0U, 0) != 0)
		rc = -1;
	free(k);
	return rc;
}

static int
enter_landlock(int abi, char *err, size_t cap)
{
	struct ll_attr a = { 0, 0, 0 };
	size_t size = sizeof(uint64_t);
	int fd;

	a.fs = LL_FS_V1;
	if (abi >= 2)
		a.fs |= LL_FS_REFER;
	if (abi >= 3)
		a.fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		a.net = LL_NET_BIND | LL_NET_CONNECT;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 5)
		a.fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		a.scoped = LL_SCOPE_ABSTRACT | LL_SCOPE_SIGNAL;
		size = 3 * sizeof(uint64_t);
	}
	/* no rule is added: nothing handled is allowed anywhere */
	fd = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0);
	if (fd < 0) {
		snprintf(err, cap, "Landlock refused the ruleset: %s",
		    strerror(errno));
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
		snprintf(err, cap, "Landlock refused to restrict the "
		    "process: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* What the sandboxed processes call: memory, time, threads (not
 * processes), descriptors they hold, messages, signals to themselves. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(lseek),
	SCMP_SYS(fstat), SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(dup),
	SCMP_SYS(ftruncate), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(shutdown), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(futex),
	SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(prlimit64), SCMP_SYS(getrusage),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(tgkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
	SCMP_SYS(uname), SCMP_SYS(sysinfo),
};

/* What code execution would try first: these kill the process. */
static const int fatal[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(kill), SCMP_SYS(tkill),
};

static int
enter_seccomp(const struct sg_sandbox_opts *o, char *err, size_t cap)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	/* anything not listed fails with EPERM (a library's lazy open of a
	 * file it can do without fails; it does not take the process) */
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		snprintf(err, cap, "seccomp: out of memory");
		return -1;
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, fatal[i], 0);
	/* stat only of a descriptor it holds (fstat is newfstatat(fd, "",
	 * AT_EMPTY_PATH) in glibc); never of a path */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat),
		    1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
		    AT_EMPTY_PATH));
	/* threads only: clone with CLONE_THREAD; clone3's flags are behind
	 * a pointer seccomp cannot read, so it is refused with ENOSYS and
	 * glibc falls back to clone */
	if (rc == 0 && o->allow_fork) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(wait4), 0);
		/* what each intake process needs to enter its own
		 * sandbox after the fork */
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(prctl), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(close_range), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(seccomp), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(landlock_create_ruleset), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(landlock_restrict_self), 0);
	} else if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0);
	if (rc == 0 && o->allow_socket) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(setsockopt), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(getsockopt), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(getpeername), 0);
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(getsockname), 0);
		/* libuv makes a descriptor non-blocking with FIONBIO; no
		 * other ioctl */
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		snprintf(err, cap, "seccomp refused the filter: %s",
		    strerror(-rc));
		return -1;
	}
	return 0;
}

int
sg_sandbox_enter(const struct sg_sandbox_opts *o, char *err, size_t cap)
{
	int abi = landlock_abi();

	if (abi == 0) {
		snprintf(err, cap, "Landlock is not enabled in this kernel");
		return -1;
	}
	if (close_others(o) != 0) {
		snprintf(err, cap, "cannot close inherited descriptors: %s",
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, cap, "prctl: %s", strerror(errno));
		return -1;
	}
	if (enter_landlock(abi, err, cap) != 0)
		return -1;
	return o->no_seccomp ? 0 : enter_seccomp(o, err, cap);
}
