/*
 * slowsync: an LD_PRELOAD shim for the daemon's tests that makes the disk
 * slow on demand, so a test can hold the daemon inside a durable write
 * and act while it is there (a deterministic interleaving, not a race).
 *
 * While the file named by $SG_SLOWSYNC_ARM exists, each fsync and
 * fdatasync first appends one byte to $SG_SLOWSYNC_ARM.entered (so a test
 * can count the writes held), then waits until $SG_SLOWSYNC_ARM is
 * removed (checked every 10 ms, at most 60 s).
 * Without the variable it changes nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int	fsync(int);
int	fdatasync(int);

static void
hold(void)
{
	const char *arm = getenv("SG_SLOWSYNC_ARM");
	char entered[4096];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, fd;

	if (arm == NULL || access(arm, F_OK) != 0)
		return;
	snprintf(entered, sizeof(entered), "%s.entered", arm);
	if ((fd = open(entered, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) >= 0) {
		if (write(fd, "x", 1) != 1)
			abort();
		close(fd);
	}
	for (i = 0; i < 6000 && access(arm, F_OK) == 0; i++)
		nanosleep(&ts, NULL);
}

int
fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	hold();
	return real(fd);
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	hold();
	return real(fd);
}
