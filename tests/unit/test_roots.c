/* Unit tests of pki/roots.c: the seed list and device-reported lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "pki/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AAA_SHA256 \
	"d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4"
#define AAA_SHA1 "d1eb23a46d17d68fd92564c2f1f1601764d8e349"

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* The shipped seed list parses, and holds AAA by SHA-1 and SHA-256. */
static void
test_seed_list(void **state)
{
	const char *src = getenv("AMTCERTD_SRC");
	char path[1024];
	struct pki_amt_hash_entry *e = NULL;
	size_t len = 0, n = 0;
	const char *why = NULL;
	char *text;
	bool aaa = false, cited = false;

	(void)state;
	snprintf(path, sizeof(path), "%s/data/amt-roots.tsv", src ? src : ".");
	text = read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(pki_amt_list_parse_tsv(text, len, &e, &n, &why), 0);
	assert_true(n >= 25);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(e[i].name);
		assert_true(e[i].sha1 || e[i].sha256 || e[i].sha384);
		if (e[i].sha256 && strcmp(e[i].sha256, AAA_SHA256) == 0) {
			aaa = true;
			assert_string_equal(e[i].sha1, AAA_SHA1);
			assert_string_equal(e[i].evidence, "legacy-default");
		}
		cited = cited || strcmp(e[i].evidence, "cited") == 0;
	}
	assert_true(aaa);
	assert_true(cited);
	pki_amt_hash_entries_free(e, n);
	free(text);
}

static void
test_seed_list_errors(void **state)
{
	static const char *const bad[] = {
		"# "
		"c\nname\tsha1\tsha256\tsha384\tevidence\tf\nX\tabc\t\t\tcited"
		"\t\n",
		"name\tsha1\tsha256\tsha384\tevidence\tf\nX\t\t\t\tcited\t\n",
		"name\tsha1\tsha256\tsha384\tevidence\tf\nX only\n",
		"name\tsha1\tsha256\tsha384\tevidence\tf\nX\tzz" AAA_SHA1
		"\t\t\tcited\t\n",
	};
	struct pki_amt_hash_entry *e = NULL;
	size_t n = 0;
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(pki_amt_list_parse_tsv(bad[i], strlen(bad[i]),
		                                        &e, &n, &why),
		                 ERR_INVALID);
		assert_non_null(why);
	}
}

static void
test_device_list_rpc_style(void **state)
{
	static const char text[] =
	    "Certificate Hashes\t:\n"
	    "DigiCert Global Root G2 (Default, Active)\n"
	    "   SHA256: "
	    "CB3CCBB76031E5E0138F8DD39A23F9DE47FFC35E43C1144CEA27D46A5AB1CB5F"
	    "\n"
	    "Comodo AAA CA (Default, Inactive)\n"
	    "   SHA1: D1:EB:23:A4:6D:17:D6:8F:D9:25:64:C2:F1:F1:60:17:64:D8:"
	    "E3:49\n"
	    "Custom: My Lab Root SHA384 "
	    "9a6308c587fe81766b61ace47e0228750b210dedcb0961803635927405cf8581d"
	    "075ff6e2d7e06c4d5e9054e6c89faca\n"
	    "a line with a short hex deadbeef and a serial 0123456789\n";
	struct pki_amt_hash_entry *e = NULL;
	size_t n = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(
	    pki_amt_list_parse_device(text, strlen(text), 33, &e, &n, &why), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].name, "DigiCert Global Root G2");
	assert_string_equal(e[0].sha256,
	                    "cb3ccbb76031e5e0138f8dd39a23f9de47ffc3"
	                    "5e43c1144cea27d46a5ab1cb5f");
	assert_true(e[0].active);
	assert_string_equal(e[1].name, "Comodo AAA CA");
	assert_string_equal(e[1].sha1, AAA_SHA1);
	assert_false(e[1].active);
	assert_string_equal(e[2].name, "Custom: My Lab Root");
	assert_non_null(e[2].sha384);
	assert_null(e[2].sha256);
	pki_amt_hash_entries_free(e, n);

	assert_int_equal(
	    pki_amt_list_parse_device(text, strlen(text), 2, &e, &n, &why),
	    ERR_TOO_LARGE);
	assert_int_equal(
	    pki_amt_list_parse_device("nothing here", 12, 33, &e, &n, &why),
	    ERR_INVALID);
	assert_non_null(why);
	/* 41 hex digits is no hash */
	assert_int_equal(
	    pki_amt_list_parse_device(AAA_SHA1 "0", 41, 33, &e, &n, &why),
	    ERR_INVALID);
}

static void
test_hex_is(void **state)
{
	(void)state;
	assert_true(pki_hex_is(AAA_SHA1, 40));
	assert_false(pki_hex_is(AAA_SHA1, 64));
	assert_false(pki_hex_is("zz", 2));
	assert_false(pki_hex_is(NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_list),
		cmocka_unit_test(test_seed_list_errors),
		cmocka_unit_test(test_device_list_rpc_style),
		cmocka_unit_test(test_hex_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
