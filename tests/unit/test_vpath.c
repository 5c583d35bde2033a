/* Unit tests for common/policy/vpath.c: the one resolver of client paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/vpath.h"

static int
split(const char *in, int flags, char *out, size_t cap)
{
	char buf[512], *seg[SG_VPATH_MAXSEG];
	int n, i;
	size_t at = 0;

	snprintf(buf, sizeof(buf), "%s", in);
	n = sg_vpath_split(buf, seg, flags);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(out + at, cap - at, "/%s", seg[i]);
	return n;
}

static void
paths(void **state)
{
	char out[512];
	const int rel = SG_VPATH_RELATIVE | SG_VPATH_TRAILING;

	(void)state;
	assert_int_equal(split("/", 0, out, sizeof(out)), 0);
	assert_int_equal(split("/send/a/b", 0, out, sizeof(out)), 3);
	assert_string_equal(out, "/send/a/b");
	/* relative, trailing slash, "." */
	assert_int_equal(split("send/a/", rel, out, sizeof(out)), 2);
	assert_int_equal(split("send/a/", 0, out, sizeof(out)), -1);
	assert_int_equal(split("/send/./a/.", rel | SG_VPATH_DOT, out,
	    sizeof(out)), 2);
	assert_string_equal(out, "/send/a");
	/* ".." only where it is resolved, and never above the root */
	assert_int_equal(split("/send/../a", rel | SG_VPATH_DOT, out,
	    sizeof(out)), -1);
	assert_int_equal(split("/send/../a", rel | SG_VPATH_DOTS, out,
	    sizeof(out)), 1);
	assert_string_equal(out, "/a");
	assert_int_equal(split("/../../../etc/passwd", rel | SG_VPATH_DOTS,
	    out, sizeof(out)), 2);
	assert_string_equal(out, "/etc/passwd");
	/* control characters and backslashes, too many segments */
	assert_int_equal(split("/send/a\nb", rel, out, sizeof(out)), -1);
	assert_int_equal(split("/send/a\\..\\b", rel, out, sizeof(out)), -1);
	assert_int_equal(split("/a/b/c/d/e/f/g/h/i", rel, out, sizeof(out)),
	    -1);
	assert_int_equal(split("/a//b", 0, out, sizeof(out)), -1);
}

static void
segments(void **state)
{
	(void)state;
	assert_true(sg_vseg_ok("census 2026 (autumn).zip", 24, SG_VSEG_NAME));
	assert_false(sg_vseg_ok("census 2026", 11, SG_VSEG_ID));
	assert_true(sg_vseg_ok("school:3414001", 14, SG_VSEG_ID));
	assert_false(sg_vseg_ok(".hidden", 7, SG_VSEG_NAME));
	assert_false(sg_vseg_ok("a/b", 3, SG_VSEG_NAME));
	assert_false(sg_vseg_ok("a\x01" "b", 3, SG_VSEG_NAME));
	assert_false(sg_vseg_ok("", 0, SG_VSEG_NAME));
}

static int
name_ok(const char *s)
{
	return sg_vseg_ok(s, strlen(s), SG_VSEG_NAME);
}

/* What schools call their files: apostrophes, letters of any language,
 * one spelling (NFC), no way round the rules with other code points. */
static void
unicode_names(void **state)
{
	char out[SG_VNAME_MAX + 1];

	(void)state;
	assert_true(name_ok("St Mary's census.zip"));
	assert_true(name_ok("St Mary\u2019s census.zip"));
	assert_true(name_ok("Zo\u00eb.zip"));			/* composed */
	assert_false(name_ok("Zoe\u0308.zip"));		/* decomposed */
	assert_true(name_ok("\u0141\u00f3d\u017a census.zip"));
	assert_true(name_ok("\u0627\u0644\u062a\u0639\u062f\u0627\u062f.zip"));
	assert_false(name_ok("a\u2044b.zip"));	/* fraction slash */
	assert_false(name_ok("a\u202eb.zip"));	/* right-to-left override */
	assert_false(name_ok("a\u00a0b.zip"));	/* no-break space */
	assert_false(name_ok("a\u200bb.zip"));	/* zero width space */
	assert_false(name_ok("cen\u034fsus.zip"));	/* grapheme joiner */
	assert_false(name_ok("a\ufe0fb.zip"));	/* variation selector */
	assert_false(name_ok("a\u3164b.zip"));	/* Hangul filler */
	assert_false(name_ok("\u0301census.zip"));	/* leading mark */
	assert_false(name_ok("a\xc3"));		/* cut short */
	assert_false(name_ok("a\xc0\xaf" "b"));		/* overlong '/' */
	assert_false(name_ok("a\xed\xa0\x80"));	/* surrogate */
	assert_true(name_ok("\u00eb.hidden"));
	assert_false(name_ok(".Zo\u00eb"));
	assert_false(name_ok("a\"b"));
	assert_false(name_ok("a\\b"));
	/* NFC of what a client sent */
	assert_int_equal(sg_vname_nfc("Zoe\u0308.zip", out, sizeof(out)), 0);
	assert_string_equal(out, "Zo\u00eb.zip");
	assert_true(name_ok(out));
	assert_int_equal(sg_vname_nfc("plain.zip", out, sizeof(out)), 0);
	assert_string_equal(out, "plain.zip");
	assert_int_equal(sg_vname_nfc("bad\xff", out, sizeof(out)), -1);
	assert_int_equal(sg_vname_nfc("Zoe\u0308.zip", out, 4), -1);
	/* the same to a person */
	assert_true(sg_vname_same("census.zip", "CENSUS.ZIP"));
	assert_true(sg_vname_same("Zo\u00eb.zip", "Zoe\u0308.zip"));
	assert_true(sg_vname_same("ZO\u00cb.zip", "zoe\u0308.zip"));
	assert_false(sg_vname_same("Zo\u00eb.zip", "Zoe.zip"));
	/* fullwidth letters are the letters they look like */
	assert_true(sg_vname_same("\uff23ensus.zip", "census.zip"));
	assert_false(sg_vname_same("census.zip", "census2.zip"));
	/* 128 bytes, not 128 letters */
	memset(out, 0, sizeof(out));
	{
		char big[200];
		size_t i;

		for (i = 0; i < 64; i++)
			memcpy(big + 2 * i, "\xc3\xab", 2);
		big[128] = '\0';
		assert_true(name_ok(big));
		memcpy(big + 128, "x", 2);
		assert_false(name_ok(big));
	}
}

static void
unescape(void **state)
{
	char a[] = "/v1/flows/a%20b", b[] = "/v1/%2e%2e/x", c[] = "/a%2fb",
	    d[] = "/a%00", e[] = "/a?x=1", f[] = "/a%4";

	(void)state;
	assert_int_equal(sg_vpath_unescape(a), 0);
	assert_string_equal(a, "/v1/flows/a b");
	assert_int_equal(sg_vpath_unescape(b), 0);
	assert_string_equal(b, "/v1/../x");
	assert_int_equal(sg_vpath_unescape(c), -1);
	assert_int_equal(sg_vpath_unescape(d), -1);
	assert_int_equal(sg_vpath_unescape(e), -1);
	assert_int_equal(sg_vpath_unescape(f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths),
		cmocka_unit_test(segments),
		cmocka_unit_test(unicode_names),
		cmocka_unit_test(unescape),
	};

	return cmocka_run_group_tests_name("vpath", tests, NULL, NULL);
}
