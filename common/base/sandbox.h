/*
 * sandbox: what a process that parses the network gives up once it has
 * started, so that code execution in it reaches no key and no stored
 * file.
 *
 *   - every descriptor but those it keeps is closed;
 *   - it is not dumpable (no core file, no ptrace or /proc/<pid>/mem by
 *     its own user) and has no_new_privs;
 *   - Landlock, with no rule at all: no path can be opened, made,
 *     removed or executed, no TCP port bound or connected, and (ABI 6)
 *     no signal sent or abstract socket reached outside the sandbox;
 *   - a seccomp allow-list (libseccomp): what a thread that reads,
 *     writes, allocates and passes messages needs, and nothing else.
 *     Anything not listed fails with EPERM; exec, ptrace and reading
 *     another process's memory kill the process (SIGSYS). Threads may
 *     be made, processes may not.
 *
 * Contract: sg_sandbox_enter() applies to the calling process (every
 * thread it makes afterwards; call it before making any). It either
 * applies everything and returns 0, or returns -1 with err saying which
 * step the kernel refused; then the caller must not go on as if it were
 * sandboxed (it exits). Nothing here is undone.
 */
#ifndef SG_SANDBOX_H
#define SG_SANDBOX_H

#include <stddef.h>

/* What the running kernel offers: the Landlock ABI (0: none) and whether
 * seccomp filters can be installed. why (may be NULL) says what is
 * missing. 0 when both are there, -1 otherwise. */
int	sg_sandbox_probe(int *landlock_abi, int *seccomp, char *why,
	    size_t cap);

struct sg_sandbox_opts {
	const int	*keep;		/* descriptors kept open (besides
					   0, 1, 2 when keep_stdio) */
	size_t		 nkeep;
	int		 keep_stdio;
	int		 allow_socket;	/* socket options and names,
					   FIONBIO: for a front door, which
					   serves connections it is given
					   (it accepts none and makes none:
					   accept4(2) and socket(2) stay
					   refused); never for the intake */
	int		 allow_fork;	/* fork(2) and wait4(2), for the
					   process that makes the intake
					   processes (each of which then
					   enters its own, without) */
	int		 no_seccomp;	/* tests only: everything but the
					   seccomp filter, to show that
					   Landlock holds alone */
};

int	sg_sandbox_enter(const struct sg_sandbox_opts *, char *err,
	    size_t cap);

#endif
