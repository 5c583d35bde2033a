/*
 * csvbare: the benchmark's peer for plain CSV: libcsv in the same strict
 * mode over the same 64 KiB reads, with no callbacks, so the parse alone.
 *
 *   csvbare FILE
 */
#include <csv.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static unsigned char buf[64 * 1024];
	struct csv_parser p;
	ssize_t n;
	int fd;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "usage: csvbare FILE\n");
		return 2;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
		return 2;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (csv_parse(&p, buf, (size_t)n, NULL, NULL, NULL) !=
		    (size_t)n)
			return 1;
	if (n < 0 || csv_fini(&p, NULL, NULL, NULL) != 0)
		return 1;
	csv_free(&p);
	close(fd);
	return 0;
}
