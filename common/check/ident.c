/*
 * ident: identifier and format validators. Algorithms follow the DfE's
 * guide to UPNs (Annex A), the DfE's TRN normalisation, the ULN check
 * digit, HMRC's NI number rules and Royal Mail's postcode format; see
 * ../shared/design/domain.md. No allocation, no state.
 */
#include "check/ident.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char upn_alphabet[] = "ABCDEFGHJKLMNPQRTUVWXYZ";

static int
why_set(struct sg_why *why, int verdict, const char *rule, const char *fmt,
    ...)
{
	va_list ap;

	if (why != NULL) {
		why->rule = rule;
		va_start(ap, fmt);
		vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
		va_end(ap);
	}
	return verdict;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char
to_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Position of c in the UPN check alphabet, -1 if absent. */
static int
upn_letter_value(char c)
{
	/* A-Z without I, O, S */
	static const signed char v[26] = { 0, 1, 2, 3, 4, 5, 6, 7, -1, 8, 9,
	    10, 11, 12, -1, 13, 14, 15, -1, 16, 17, 18, 19, 20, 21, 22 };

	return c >= 'A' && c <= 'Z' ? v[c - 'A'] : -1;
}

/* c is one of the characters in set (never true for NUL). */
static int
in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int
digits_all(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* Index of the first non-digit, or len. */
static size_t
first_nondigit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			break;
	return i;
}

char
sg_upn_check_letter(const char *twelve)
{
	unsigned sum = 0;
	int i, v;

	for (i = 0; i < 12; i++) {
		if (is_digit(twelve[i]))
			v = twelve[i] - '0';
		else if (i == 11 && (v = upn_letter_value(twelve[i])) >= 0)
			;
		else
			return 0;
		sum += (unsigned)v * (unsigned)(i + 2);
	}
	return upn_alphabet[sum % 23];
}

static int
la_check(const char *three, const struct sg_lacodes *la,
    enum sg_la_policy policy, const char *rule, struct sg_why *why)
{
	int code;

	if (la == NULL || policy == SG_LA_OFF || la->count == 0)
		return SG_VALID;
	code = (three[0] - '0') * 100 + (three[1] - '0') * 10 + (three[2] - '0');
	if (la->known[code])
		return SG_VALID;
	return why_set(why, policy == SG_LA_STRICT ? SG_INVALID : SG_WARNING,
	    rule, "the LA code (characters %s) is not a known local "
	    "authority code", rule[0] == 'u' ? "2-4" : "1-3");
}

int
sg_upn_check(const char *s, size_t len, int allow_temporary,
    const struct sg_lacodes *la, enum sg_la_policy policy, struct sg_why *why)
{
	size_t i;
	char want;
	int temporary;

	if (len != 13)
		return why_set(why, SG_INVALID, "upn.length",
		    "must be 13 characters, not %zu", len);
	if (upn_letter_value(s[0]) < 0)
		return why_set(why, SG_INVALID, "upn.character",
		    "character 1 must be a capital letter other than I, O or S");
	for (i = 1; i < 12; i++)
		if (!is_digit(s[i]))
			return why_set(why, SG_INVALID, "upn.character",
			    "character %zu must be a digit", i + 1);
	temporary = !is_digit(s[12]);
	if (temporary && upn_letter_value(s[12]) < 0)
		return why_set(why, SG_INVALID, "upn.character",
		    "character 13 must be a digit, or for a temporary UPN a "
		    "capital letter other than I, O or S");
	want = sg_upn_check_letter(s + 1);
	if (want != s[0])
		return why_set(why, SG_INVALID, "upn.check-letter",
		    "the check letter should be %c", want);
	if (temporary && !allow_temporary)
		return why_set(why, SG_INVALID, "upn.temporary",
		    "is a temporary UPN (letter in position 13), which this "
		    "column does not accept");
	return la_check(s + 1, la, policy, "upn.la-code", why);
}

int
sg_trn_check(const char *s, size_t len, int strict, char out[8],
    struct sg_why *why)
{
	char digits[8];
	size_t i, nd = 0;

	if (len == 7 && digits_all(s, len)) {
		if (out != NULL) {
			memcpy(out, s, 7);
			out[7] = '\0';
		}
		return SG_VALID;
	}
	if (strict) {
		if (len != 7)
			return why_set(why, SG_INVALID, "trn.length",
			    "must be exactly 7 digits, not %zu characters", len);
		return why_set(why, SG_INVALID, "trn.character",
		    "character %zu must be a digit",
		    first_nondigit(s, len) + 1);
	}
	if (len > 32)
		return why_set(why, SG_INVALID, "trn.length",
		    "is too long to be a teacher reference number");
	for (i = 0; i < len; i++) {
		if (is_digit(s[i])) {
			if (nd == 7)
				return why_set(why, SG_INVALID, "trn.length",
				    "has more than 7 digits");
			digits[nd++] = s[i];
		} else if (!is_alpha(s[i]) && s[i] != '/' && s[i] != ' ' &&
		    s[i] != '-')
			return why_set(why, SG_INVALID, "trn.character",
			    "character %zu is not a digit, letter, space, "
			    "'/' or '-'", i + 1);
	}
	if (nd < 5)
		return why_set(why, SG_INVALID, "trn.length",
		    "has %zu digits; a TRN has 5 to 7 (padded to 7)", nd);
	if (out != NULL) {
		memset(out, '0', 7 - nd);
		memcpy(out + 7 - nd, digits, nd);
		out[7] = '\0';
	}
	return why_set(why, SG_WARNING, "trn.normalised",
	    "accepted in its 7-digit form (letters and punctuation removed, "
	    "zero-padded)");
}

int
sg_uln_check(const char *s, size_t len, struct sg_why *why)
{
	unsigned sum = 0, rem;
	int i;

	if (len != 10)
		return why_set(why, SG_INVALID, "uln.length",
		    "must be 10 digits, not %zu characters", len);
	if (!digits_all(s, len))
		return why_set(why, SG_INVALID, "uln.character",
		    "character %zu must be a digit", first_nondigit(s, len) + 1);
	if (memcmp(s, "9999999999", 10) == 0)
		return why_set(why, SG_WARNING, "uln.temporary",
		    "is the temporary ULN 9999999999");
	for (i = 0; i < 9; i++)
		sum += (unsigned)(s[i] - '0') * (unsigned)(10 - i);
	rem = sum % 11;
	if (rem == 0)
		return why_set(why, SG_INVALID, "uln.check-digit",
		    "is not a valid ULN (the first 9 digits give no valid "
		    "check digit)");
	if ((unsigned)(s[9] - '0') != 10 - rem)
		return why_set(why, SG_INVALID, "uln.check-digit",
		    "the check digit (character 10) should be %u", 10 - rem);
	return SG_VALID;
}

int
sg_nino_check(const char *s, size_t len, struct sg_why *why)
{
	static const char *never[] = { "BG", "GB", "NK", "KN", "TN", "NT",
	    "ZZ" };
	char v[9];
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ')
			continue;
		if (n == 9)
			return why_set(why, SG_INVALID, "nino.length",
			    "has more than 9 characters (spaces aside)");
		v[n++] = to_upper(s[i]);
	}
	if (n != 9)
		return why_set(why, SG_INVALID, "nino.length",
		    "must be 9 characters (2 letters, 6 digits, a letter A-D), "
		    "not %zu", n);
	if (!is_upper(v[0]) || !is_upper(v[1]))
		return why_set(why, SG_INVALID, "nino.prefix",
		    "must start with two letters");
	if (in_set(v[0], "DFIQUV"))
		return why_set(why, SG_INVALID, "nino.prefix",
		    "the first letter cannot be D, F, I, Q, U or V");
	if (in_set(v[1], "DFIQUVO"))
		return why_set(why, SG_INVALID, "nino.prefix",
		    "the second letter cannot be D, F, I, O, Q, U or V");
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (v[0] == never[i][0] && v[1] == never[i][1])
			return why_set(why, SG_INVALID, "nino.prefix",
			    "uses a prefix that is never issued");
	if (!digits_all(v + 2, 6))
		return why_set(why, SG_INVALID, "nino.character",
		    "characters 3-8 must be digits");
	if (v[8] < 'A' || v[8] > 'D')
		return why_set(why, SG_INVALID, "nino.suffix",
		    "the last character must be A, B, C or D");
	return SG_VALID;
}

int
sg_postcode_check(const char *s, size_t len, struct sg_why *why)
{
	char v[8];
	size_t i, n = 0, out;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ' && n > 0 && i + 4 == len)
			continue;	/* the one space before the inward code */
		if (n == 7)
			return why_set(why, SG_INVALID, "postcode.length",
			    "is too long for a UK postcode");
		v[n++] = to_upper(s[i]);
	}
	if (n < 5)
		return why_set(why, SG_INVALID, "postcode.length",
		    "is too short for a UK postcode");
	v[n] = '\0';
	if (strcmp(v, "GIR0AA") == 0)
		return SG_VALID;
	out = n - 3;
	/* inward code: digit, then two letters not in CIKMOV */
	if (!is_digit(v[out]) || !is_upper(v[out + 1]) ||
	    !is_upper(v[out + 2]) || in_set(v[out + 1], "CIKMOV") ||
	    in_set(v[out + 2], "CIKMOV"))
		return why_set(why, SG_INVALID, "postcode.inward",
		    "the last three characters must be a digit and two "
		    "letters (not C, I, K, M, O or V)");
	/* outward code: A9 A99 AA9 AA99 A9A AA9A */
	if (!is_upper(v[0]) || in_set(v[0], "QVX"))
		return why_set(why, SG_INVALID, "postcode.outward",
		    "must start with a letter other than Q, V or X");
	if (out == 2 && is_digit(v[1]))
		return SG_VALID;
	if (out == 3 && is_digit(v[1]) && is_digit(v[2]))
		return SG_VALID;
	if (out == 3 && is_digit(v[1]) && in_set(v[2], "ABCDEFGHJKPSTUW"))
		return SG_VALID;
	if (out >= 3 && is_upper(v[1]) && !in_set(v[1], "IJZ") &&
	    is_digit(v[2])) {
		if (out == 3)
			return SG_VALID;
		if (is_digit(v[3]) || in_set(v[3], "ABEHMNPRVWXY"))
			return SG_VALID;
	}
	return why_set(why, SG_INVALID, "postcode.outward",
	    "the first part is not a UK outward code (A9, A99, AA9, AA99, "
	    "A9A or AA9A)");
}

int
sg_laestab_check(const char *s, size_t len, const struct sg_lacodes *la,
    enum sg_la_policy policy, struct sg_why *why)
{
	if (len != 7)
		return why_set(why, SG_INVALID, "laestab.length",
		    "must be 7 digits (LA code and establishment number), "
		    "not %zu characters", len);
	if (!digits_all(s, len))
		return why_set(why, SG_INVALID, "laestab.character",
		    "character %zu must be a digit", first_nondigit(s, len) + 1);
	return la_check(s, la, policy, "laestab.la-code", why);
}

int
sg_urn_check(const char *s, size_t len, struct sg_why *why)
{
	if (len != 6)
		return why_set(why, SG_INVALID, "urn.length",
		    "must be 6 digits, not %zu characters", len);
	if (!digits_all(s, len))
		return why_set(why, SG_INVALID, "urn.character",
		    "character %zu must be a digit", first_nondigit(s, len) + 1);
	if (s[0] == '0')
		return why_set(why, SG_INVALID, "urn.range",
		    "must be between 100000 and 999999");
	return SG_VALID;
}

static int
num(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int
sg_date_check(const char *s, size_t len, struct sg_why *why)
{
	int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits_all(s, 4) ||
	    !digits_all(s + 5, 2) || !digits_all(s + 8, 2))
		return why_set(why, SG_INVALID, "date.format",
		    "must be a date written YYYY-MM-DD");
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (y < 1900 || y > 2099)
		return why_set(why, SG_INVALID, "date.range",
		    "the year must be between 1900 and 2099");
	if (m < 1 || m > 12)
		return why_set(why, SG_INVALID, "date.calendar",
		    "the month must be 01 to 12");
	if (d < 1 || d > days_in_month(y, m))
		return why_set(why, SG_INVALID, "date.calendar",
		    "that month has no day %02d", d);
	return SG_VALID;
}

int
sg_date_parse(const char *s, size_t len, int64_t *days)
{
	int y, m, d;
	int64_t era, yoe, doy, doe;

	if (sg_date_check(s, len, NULL) != SG_VALID)
		return -1;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	/* days from civil (proleptic Gregorian) */
	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = era * 146097 + doe - 719468;
	return 0;
}

int
sg_email_check(const char *s, size_t len, struct sg_why *why)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	size_t at = len, i, label = 0, labels = 0, tld_alpha = 1;

	if (len > 254)
		return why_set(why, SG_INVALID, "email.length",
		    "is longer than 254 characters");
	for (i = 0; i < len; i++)
		if (s[i] == '@') {
			if (at != len)
				return why_set(why, SG_INVALID, "email.format",
				    "has more than one @");
			at = i;
		}
	if (at == len)
		return why_set(why, SG_INVALID, "email.format", "has no @");
	if (at == 0 || at > 64)
		return why_set(why, SG_INVALID, "email.local",
		    "the part before @ must be 1 to 64 characters");
	for (i = 0; i < at; i++) {
		char c = s[i];

		if (c == '.') {
			if (i == 0 || i + 1 == at || s[i + 1] == '.')
				return why_set(why, SG_INVALID, "email.local",
				    "a dot before @ cannot be first, last or "
				    "doubled");
		} else if (!is_alpha(c) && !is_digit(c) &&
		    !in_set(c, atext))
			return why_set(why, SG_INVALID, "email.local",
			    "character %zu is not allowed before @", i + 1);
	}
	for (i = at + 1; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63)
				return why_set(why, SG_INVALID, "email.domain",
				    "the domain has an empty or over-long part");
			if (s[i - 1] == '-')
				return why_set(why, SG_INVALID, "email.domain",
				    "a domain part cannot end with '-'");
			labels++;
			if (i < len) {
				label = 0;
				tld_alpha = 1;
			}
		} else if (is_alpha(c) || is_digit(c) || c == '-') {
			if (c == '-' && label == 0)
				return why_set(why, SG_INVALID, "email.domain",
				    "a domain part cannot start with '-'");
			if (!is_alpha(c))
				tld_alpha = 0;
			label++;
		} else
			return why_set(why, SG_INVALID, "email.domain",
			    "character %zu is not allowed in a domain name",
			    i + 1);
	}
	if (labels < 2 || !tld_alpha || label < 2)
		return why_set(why, SG_INVALID, "email.domain",
		    "the domain must be a full name such as school.org.uk");
	return SG_VALID;
}

int
sg_ukphone_check(const char *s, size_t len, struct sg_why *why)
{
	char d[16];
	size_t i = 0, n = 0;

	if (len >= 3 && s[0] == '+' && s[1] == '4' && s[2] == '4') {
		d[n++] = '0';
		i = 3;
	} else if (len >= 4 && memcmp(s, "0044", 4) == 0) {
		d[n++] = '0';
		i = 4;
	} else if ((len > 0 && s[0] == '+') || (len > 1 && s[0] == '0' &&
	    s[1] == '0'))
		return why_set(why, SG_INVALID, "uk-phone.format",
		    "is an international number outside the UK (+44)");
	for (; i < len; i++) {
		char c = s[i];

		if (c == ' ' || c == '-' || c == '.')
			continue;
		if (c == '(' && n == 1 && d[0] == '0' && i + 2 < len &&
		    s[i + 1] == '0' && s[i + 2] == ')') {
			i += 2;	/* +44 (0)20 ... */
			continue;
		}
		if (c == '(' || c == ')')
			continue;
		if (!is_digit(c))
			return why_set(why, SG_INVALID, "uk-phone.character",
			    "character %zu is not a digit, space, '-', "
			    "brackets or a leading +44", i + 1);
		if (n == sizeof(d))
			return why_set(why, SG_INVALID, "uk-phone.length",
			    "has too many digits for a UK number");
		d[n++] = c;
	}
	if (n == 0 || d[0] != '0')
		return why_set(why, SG_INVALID, "uk-phone.format",
		    "must start with 0 or +44");
	if (n < 10 || n > 11)
		return why_set(why, SG_INVALID, "uk-phone.length",
		    "a UK number has 10 or 11 digits, not %zu", n);
	if (!in_set(d[1], "1235789"))
		return why_set(why, SG_INVALID, "uk-phone.format",
		    "0%c is not a UK number range in use", d[1]);
	if (in_set(d[1], "237") && n != 11)
		return why_set(why, SG_INVALID, "uk-phone.length",
		    "numbers starting 0%c have 11 digits", d[1]);
	return SG_VALID;
}

int
sg_integer_check(const char *s, size_t len, int64_t min, int64_t max,
    struct sg_why *why)
{
	int64_t v = 0;
	size_t i = 0;
	int neg = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return why_set(why, SG_INVALID, "integer.format",
		    "must be a whole number");
	for (; i < len; i++) {
		if (!is_digit(s[i]))
			return why_set(why, SG_INVALID, "integer.format",
			    "must be a whole number (character %zu is not a "
			    "digit)", i + 1);
		if (v > (INT64_MAX - 9) / 10)
			return why_set(why, SG_INVALID, "integer.range",
			    "must be between %lld and %lld", (long long)min,
			    (long long)max);
		v = v * 10 + (s[i] - '0');
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return why_set(why, SG_INVALID, "integer.range",
		    "must be between %lld and %lld", (long long)min,
		    (long long)max);
	return SG_VALID;
}
