/* html (forms, cookies, escaping, templates) and session (sign-in
 * sessions: expiry, ending, the bound, CSRF tokens). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/html.h"
#include "policy/session.h"

static void
form_fields(void **st)
{
	const char *b = "csrf=abc-_1&party=school%3A3414001&password=p%26w+d%25"
	    "&empty=&noeq";
	char out[64];

	(void)st;
	assert_int_equal(sg_form_field(b, strlen(b), "csrf", out, sizeof(out)),
	    6);
	assert_string_equal(out, "abc-_1");
	assert_int_equal(sg_form_field(b, strlen(b), "party", out,
	    sizeof(out)), 14);
	assert_string_equal(out, "school:3414001");
	assert_true(sg_form_field(b, strlen(b), "password", out,
	    sizeof(out)) > 0);
	assert_string_equal(out, "p&w d%");
	assert_int_equal(sg_form_field(b, strlen(b), "empty", out,
	    sizeof(out)), 0);
	assert_int_equal(sg_form_field(b, strlen(b), "missing", out,
	    sizeof(out)), -1);
	/* a name that is a prefix of another is not that other */
	assert_int_equal(sg_form_field(b, strlen(b), "pass", out,
	    sizeof(out)), -1);
	/* the body is not NUL-terminated where len ends */
	assert_int_equal(sg_form_field(b, 8, "csrf", out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
}

static void
form_refusals(void **st)
{
	char out[8];

	(void)st;
	/* bad escapes, a NUL byte, repeated fields, too long */
	assert_int_equal(sg_form_field("a=%zz", 5, "a", out, sizeof(out)), -2);
	assert_int_equal(sg_form_field("a=%4", 4, "a", out, sizeof(out)), -2);
	assert_int_equal(sg_form_field("a=%", 3, "a", out, sizeof(out)), -2);
	assert_int_equal(sg_form_field("a=%00", 5, "a", out, sizeof(out)), -2);
	assert_int_equal(sg_form_field("a=1&a=2", 7, "a", out, sizeof(out)),
	    -2);
	assert_int_equal(sg_form_field("a=12345678", 10, "a", out,
	    sizeof(out)), -2);
	assert_int_equal(sg_form_field("a=1234567", 9, "a", out, sizeof(out)),
	    7);
}

static void
cookies(void **st)
{
	char out[16];

	(void)st;
	assert_int_equal(sg_cookie_get("a=1; __Host-sg_session=xyz; b=2",
	    "__Host-sg_session", out, sizeof(out)), 3);
	assert_string_equal(out, "xyz");
	assert_int_equal(sg_cookie_get("x__Host-sg=1", "__Host-sg", out,
	    sizeof(out)), -1);
	assert_int_equal(sg_cookie_get("s=0123456789abcdefghij", "s", out,
	    sizeof(out)), -1);	/* too long */
	assert_int_equal(sg_cookie_get("s=", "s", out, sizeof(out)), 0);
	assert_int_equal(sg_cookie_get("", "s", out, sizeof(out)), -1);
}

static char *
fill(const char *t, const char *const vars[], int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*rc = sg_tmpl_fill(f, t, strlen(t), vars);
	fclose(f);
	return buf;
}

static void
templates(void **st)
{
	const char *vars[] = { "name", "<b>\"O'Neil\" & co</b>", "frag",
	    "<p>ok</p>", NULL };
	char *s;
	int rc;

	(void)st;
	s = fill("Hello {{name}}! {{{frag}}} {{missing}}end", vars, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "Hello &lt;b&gt;&quot;O&#39;Neil&quot; &amp; co"
	    "&lt;/b&gt;! <p>ok</p> end");
	free(s);
	s = fill("a {{name", vars, &rc);
	assert_int_equal(rc, -1);
	free(s);
	s = fill("a {{{frag}} b", vars, &rc);
	assert_int_equal(rc, -1);
	free(s);
	s = fill("no placeholders { } }}", vars, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "no placeholders { } }}");
	free(s);
	/* sections: shown when the value is not empty, filled the same way */
	{
		const char *v2[] = { "err", "Enter your ID", "none", "",
		    "who", "<x>", NULL };

		s = fill("[{{#err}}<p>{{err}} {{who}}</p>{{/err}}]"
		    "[{{#none}}hidden{{/none}}][{{#missing}}no{{/missing}}]",
		    v2, &rc);
		assert_int_equal(rc, 0);
		assert_string_equal(s, "[<p>Enter your ID &lt;x&gt;</p>][][]");
		free(s);
		/* nested, different names */
		s = fill("{{#err}}a{{#who}}b{{/who}}{{#none}}c{{/none}}"
		    "{{/err}}", v2, &rc);
		assert_int_equal(rc, 0);
		assert_string_equal(s, "ab");
		free(s);
		s = fill("{{#err}}unterminated", v2, &rc);
		assert_int_equal(rc, -1);
		free(s);
		s = fill("{{#}}x{{/}}", v2, &rc);
		assert_int_equal(rc, -1);
		free(s);
	}
}

#define S	1000000LL

static void
sessions(void **st)
{
	struct sg_sessions *t = sg_sessions_new(4, 0);
	unsigned char bind[32];
	char tok[SG_SESSION_TOKEN], tok2[SG_SESSION_TOKEN];
	const struct sg_session *s;
	char csrf[SG_SESSION_TOKEN];

	(void)st;
	sg_session_bind("$argon2id$v=19$...", bind);
	s = sg_session_start(t, "school:3414001", bind, 100 * S, tok);
	assert_non_null(s);
	assert_int_equal(strlen(tok), 43);
	assert_null(strpbrk(tok, "+/="));	/* cookie-safe */
	snprintf(csrf, sizeof(csrf), "%s", s->csrf);
	assert_string_not_equal(csrf, tok);
	/* found while used within the idle limit, each use renews it */
	assert_non_null(sg_session_find(t, tok, 150 * S, 60 * S, 1000 * S));
	assert_non_null(sg_session_find(t, tok, 200 * S, 60 * S, 1000 * S));
	s = sg_session_find(t, tok, 259 * S, 60 * S, 1000 * S);
	assert_non_null(s);
	assert_string_equal(s->party, "school:3414001");
	assert_true(sg_session_csrf_ok(s, csrf));
	csrf[0] = csrf[0] == 'A' ? 'B' : 'A';
	assert_false(sg_session_csrf_ok(s, csrf));
	assert_false(sg_session_csrf_ok(s, ""));
	assert_false(sg_session_csrf_ok(s, NULL));
	/* idle too long: gone, and stays gone */
	assert_null(sg_session_find(t, tok, 320 * S, 60 * S, 1000 * S));
	assert_null(sg_session_find(t, tok, 321 * S, 60 * S, 1000 * S));
	assert_int_equal(sg_sessions_count(t), 0);
	/* the absolute limit holds however busy the session is */
	s = sg_session_start(t, "org:sil", bind, 0, tok);
	assert_non_null(s);
	assert_non_null(sg_session_find(t, tok, 50 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, tok, 100 * S, 60 * S, 100 * S));
	assert_null(sg_session_find(t, tok, 101 * S, 60 * S, 100 * S));
	/* ending one leaves the other; a wrong or short token finds none */
	assert_non_null(sg_session_start(t, "a", bind, 0, tok));
	assert_non_null(sg_session_start(t, "b", bind, 0, tok2));
	sg_session_end(t, tok);
	assert_null(sg_session_find(t, tok, 1, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, tok2, 1, 60 * S, 100 * S));
	assert_null(sg_session_find(t, "short", 1, 60 * S, 100 * S));
	tok2[5] = tok2[5] == 'x' ? 'y' : 'x';
	assert_null(sg_session_find(t, tok2, 1, 60 * S, 100 * S));
	sg_sessions_free(t);
}

static void
sessions_bounded(void **st)
{
	struct sg_sessions *t = sg_sessions_new(3, 0);
	unsigned char bind[32] = { 0 };
	char tok[4][SG_SESSION_TOKEN];
	int i;

	(void)st;
	for (i = 0; i < 3; i++)
		assert_non_null(sg_session_start(t, "p", bind, i * S, tok[i]));
	/* the first is used again: the second is now the least recent */
	assert_non_null(sg_session_find(t, tok[0], 5 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_start(t, "p", bind, 6 * S, tok[3]));
	assert_int_equal(sg_sessions_count(t), 3);
	assert_null(sg_session_find(t, tok[1], 7 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, tok[0], 7 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, tok[2], 7 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, tok[3], 7 * S, 60 * S, 100 * S));
	sg_sessions_free(t);
}

static void
sessions_per_party(void **st)
{
	struct sg_sessions *t = sg_sessions_new(10, 2);
	unsigned char bind[32] = { 0 };
	char a[3][SG_SESSION_TOKEN], b[SG_SESSION_TOKEN];

	(void)st;
	/* one party signing in again and again ends only its own oldest */
	assert_non_null(sg_session_start(t, "other", bind, 0, b));
	assert_non_null(sg_session_start(t, "p", bind, 1 * S, a[0]));
	assert_non_null(sg_session_start(t, "p", bind, 2 * S, a[1]));
	assert_non_null(sg_session_start(t, "p", bind, 3 * S, a[2]));
	assert_int_equal(sg_sessions_count(t), 3);
	assert_null(sg_session_find(t, a[0], 4 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, a[1], 4 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, a[2], 4 * S, 60 * S, 100 * S));
	assert_non_null(sg_session_find(t, b, 4 * S, 60 * S, 100 * S));
	sg_sessions_free(t);
}

static void
bind_differs(void **st)
{
	unsigned char a[32], b[32];

	(void)st;
	sg_session_bind("$argon2id$one", a);
	sg_session_bind("$argon2id$two", b);
	assert_memory_not_equal(a, b, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_fields),
		cmocka_unit_test(form_refusals),
		cmocka_unit_test(cookies),
		cmocka_unit_test(templates),
		cmocka_unit_test(sessions),
		cmocka_unit_test(sessions_bounded),
		cmocka_unit_test(sessions_per_party),
		cmocka_unit_test(bind_differs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
