/*
 * gencensus: write a synthetic pupil census extract (CSV, the DfE pupil
 * layout) with valid UPNs, names, dates and codes. Deterministic for a
 * given seed. Used by the benchmark and by tests; no real person's data.
 *
 *   gencensus ROWS [SEED] [LAESTAB] > extract.csv
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/ident.h"

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *surnames[] = { "Smith", "Jones", "Taylor", "Brown",
    "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Ahmed", "Hughes", "O'Neill",
    "Nowak", "Kowalski", "Okafor", "Mensah", "Begum", "Ali", "Hussain" };
static const char *forenames[] = { "Oliver", "Amelia", "George", "Isla",
    "Noah", "Ava", "Arthur", "Mia", "Muhammad", "Ivy", "Leo", "Lily",
    "Harry", "Florence", "Oscar", "Freya", "Archie", "Grace", "Jack",
    "Sophia", "Zainab", "Chloe", "Kacper", "Zofia", "Tomasz", "Aisha" };
static const char *languages[] = { "ENG", "ENB", "POL", "URD", "PNJ", "BEN",
    "ARA", "SOM", "ROM", "FRN", "POR", "SPA" };

int
main(int argc, char **argv)
{
	unsigned long long rows, i;
	const char *laestab = "3414001";
	char upn[14];
	static char out[1 << 16];

	if (argc < 2) {
		fprintf(stderr, "usage: gencensus ROWS [SEED] [LAESTAB]\n");
		return 2;
	}
	rows = strtoull(argv[1], NULL, 10);
	rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	if (argc > 3)
		laestab = argv[3];
	setvbuf(stdout, out, _IOFBF, sizeof(out));
	printf("LEA,Estab,UPN,Surname,Forename,Middlenames,Sex,DOB,"
	    "NCyearActual,EnrolStatus,FSMeligible,Language,SENProvision,"
	    "SessionsPossible,SessionsAuthorised,SessionsUnauthorised\r\n");
	for (i = 0; i < rows; i++) {
		uint64_t r = rnd(), r2 = rnd();
		int year = 2008 + (int)(r % 14), ncy = 2020 - year;
		int possible = 300 + (int)(r2 % 40), auth = (int)((r2 >> 8) % 20);
		/* a unique permanent UPN: LA 341, serial from the row index */
		snprintf(upn + 1, sizeof(upn) - 1, "341%04llu%02llu%03llu",
		    (i / 100000) % 10000, (i / 1000) % 100, i % 1000);
		upn[0] = sg_upn_check_letter(upn + 1);
		printf("%.3s,%.4s,%s,%s,%s,%s,%c,%04d-%02d-%02d,%d,C,%s,%s,%c,"
		    "%d,%d,%d\r\n", laestab, laestab + 3, upn,
		    surnames[r % 32], forenames[(r >> 5) % 26],
		    (r >> 10) % 3 ? "" : forenames[(r >> 12) % 26],
		    (r >> 17) & 1 ? 'M' : 'F', year, 1 + (int)((r >> 20) % 12),
		    1 + (int)((r >> 24) % 28), ncy < 0 ? 0 : ncy,
		    (r >> 29) % 5 ? "false" : "true", languages[(r >> 32) % 12],
		    "NEK"[(r2 >> 40) % 3], possible, auth,
		    (int)((r2 >> 16) % 7));
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
