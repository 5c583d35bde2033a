/* Unit tests for common/policy/auth.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <argon2.h>

#include "policy/auth.h"

static void
passwd_round_trip(void **state)
{
	char h[SG_PASSWD_HASH_MAX], h2[SG_PASSWD_HASH_MAX];

	(void)state;
	assert_int_equal(sg_passwd_hash("s3cret pass", 11, h), 0);
	assert_memory_equal(h, "$argon2id$v=19$m=65536,t=3,p=4$", 31);
	assert_int_equal(sg_passwd_verify(h, "s3cret pass", 11), 1);
	assert_int_equal(sg_passwd_verify(h, "s3cret pasS", 11), 0);
	assert_int_equal(sg_passwd_verify(h, "s3cret pas", 10), 0);
	/* a fresh salt every time */
	assert_int_equal(sg_passwd_hash("s3cret pass", 11, h2), 0);
	assert_string_not_equal(h, h2);
	/* not an argon2id hash: never a match */
	assert_int_equal(sg_passwd_verify("plain", "plain", 5), 0);
	assert_int_equal(sg_passwd_verify(NULL, "x", 1), 0);
	assert_int_equal(sg_passwd_hash("", 0, h), -1);
}

/* new hashes use RFC 9106's second recommended parameters; a hash made
 * with the old ones (t=2, 19 MiB, 1 lane) still verifies and is weak */
static void
passwd_parameters(void **state)
{
	char h[SG_PASSWD_HASH_MAX], old[SG_PASSWD_HASH_MAX];
	const unsigned char salt[16] = "0123456789abcdef";

	(void)state;
	assert_int_equal(sg_passwd_hash("s3cret pass", 11, h), 0);
	assert_non_null(strstr(h, "$m=65536,t=3,p=4$"));
	assert_int_equal(sg_passwd_weak(h), 0);
	assert_int_equal(argon2id_hash_encoded(2, 19456, 1, "s3cret pass", 11,
	    salt, sizeof(salt), 32, old, sizeof(old)), ARGON2_OK);
	assert_int_equal(sg_passwd_verify(old, "s3cret pass", 11), 1);
	assert_int_equal(sg_passwd_weak(old), 1);
	assert_int_equal(sg_passwd_weak("$argon2id$v=19$m=65536,t=2,p=4$x$y"),
	    1);
	assert_int_equal(sg_passwd_weak("not a hash"), 1);
	assert_int_equal(sg_passwd_weak(NULL), 1);
}

static void
tokens(void **state)
{
	char t[64], h[SG_TOKEN_HASH_LEN], h2[SG_TOKEN_HASH_LEN];

	(void)state;
	assert_int_equal(sg_token_new(t, h), 0);
	assert_int_equal(strlen(t), 43);
	sg_token_hash(t, strlen(t), h2);
	assert_string_equal(h, h2);
	assert_memory_equal(h, "sha256:", 7);
	assert_int_equal(strlen(h), 71);
	/* SHA-256("abc") */
	sg_token_hash("abc", 3, h);
	assert_string_equal(h, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3"
	    "96177a9cb410ff61f20015ad");
	assert_true(sg_secret_eq("abc", "abc"));
	assert_false(sg_secret_eq("abc", "abd"));
	assert_false(sg_secret_eq("abc", "abcd"));
}

static void
bans_grow_and_expire(void **state)
{
	struct sg_bans *b = sg_bans_new(3, 10, 25);

	(void)state;
	assert_non_null(b);
	assert_int_equal(sg_bans_fail(b, "192.0.2.1", "school:1", 100), 0);
	assert_int_equal(sg_bans_fail(b, "192.0.2.1", "school:1", 101), 0);
	assert_int_equal(sg_bans_check(b, "192.0.2.1", 101), 0);
	assert_int_equal(sg_bans_fail(b, "192.0.2.1", "school:1", 102), 10);
	assert_int_equal(sg_bans_check(b, "192.0.2.1", 105), 7);
	assert_int_equal(sg_bans_check(b, "192.0.2.2", 105), 0);
	assert_int_equal(sg_bans_active(b, 105), 1);
	assert_int_equal(sg_bans_check(b, "192.0.2.1", 112), 0);
	/* the next ban doubles, then is capped */
	sg_bans_fail(b, "192.0.2.1", "school:1", 120);
	sg_bans_fail(b, "192.0.2.1", "school:1", 121);
	assert_int_equal(sg_bans_fail(b, "192.0.2.1", "school:1", 122), 20);
	sg_bans_fail(b, "192.0.2.1", "school:1", 200);
	sg_bans_fail(b, "192.0.2.1", "school:1", 201);
	assert_int_equal(sg_bans_fail(b, "192.0.2.1", "school:1", 202), 25);
	/* a success forgets failures, and old failures are forgotten */
	sg_bans_fail(b, "192.0.2.3", "school:1", 300);
	sg_bans_fail(b, "192.0.2.3", "school:1", 301);
	sg_bans_success(b, "192.0.2.3", "school:1");
	assert_int_equal(sg_bans_fail(b, "192.0.2.3", "school:1", 302), 0);
	assert_int_equal(sg_bans_fail(b, "192.0.2.3", "school:1", 303), 0);
	sg_bans_fail(b, "192.0.2.4", "school:1", 400);
	sg_bans_fail(b, "192.0.2.4", "school:1", 401);
	assert_int_equal(sg_bans_fail(b, "192.0.2.4", "school:1", 401 + 901), 0);
	sg_bans_free(b);
}

/* the failures counted against another party are not cleared by a
 * sign-in of one's own (four wrong guesses at B, one success as A, ...) */
static void
bans_success_is_per_party(void **state)
{
	struct sg_bans *b = sg_bans_new(3, 10, 25);
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(sg_bans_fail(b, "192.0.2.9", "school:victim",
		    100 + i), 0);
		sg_bans_success(b, "192.0.2.9", "school:mine");
	}
	assert_int_equal(sg_bans_fail(b, "192.0.2.9", "school:victim", 103),
	    10);
	/* a mistyped password then the right one is forgiven */
	sg_bans_fail(b, "192.0.2.10", "school:mine", 200);
	sg_bans_fail(b, "192.0.2.10", "school:mine", 201);
	sg_bans_success(b, "192.0.2.10", "school:mine");
	assert_int_equal(sg_bans_fail(b, "192.0.2.10", "school:mine", 202), 0);
	assert_int_equal(sg_bans_fail(b, "192.0.2.10", "school:mine", 203), 0);
	/* failures naming two parties are not cleared by either */
	sg_bans_fail(b, "192.0.2.11", "school:mine", 300);
	sg_bans_fail(b, "192.0.2.11", "school:other", 301);
	sg_bans_success(b, "192.0.2.11", "school:mine");
	assert_int_equal(sg_bans_fail(b, "192.0.2.11", "school:mine", 302), 10);
	sg_bans_free(b);
}

static void
bans_many_addresses(void **state)
{
	struct sg_bans *b = sg_bans_new(2, 60, 60);
	char a[48];
	int i;

	(void)state;
	/* more addresses than slots: the table recycles, never grows */
	for (i = 0; i < 10000; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		sg_bans_fail(b, a, "school:1", 1000 + i);
	}
	sg_bans_fail(b, "198.51.100.7", "school:1", 20000);
	assert_int_equal(sg_bans_fail(b, "198.51.100.7", "school:1", 20001), 60);
	assert_int_equal(sg_bans_check(b, "198.51.100.7", 20002), 59);
	sg_bans_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passwd_round_trip),
		cmocka_unit_test(passwd_parameters),
		cmocka_unit_test(tokens),
		cmocka_unit_test(bans_grow_and_expire),
		cmocka_unit_test(bans_success_is_per_party),
		cmocka_unit_test(bans_many_addresses),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
