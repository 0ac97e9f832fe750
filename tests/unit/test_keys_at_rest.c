/*
 * test_keys_at_rest.c: pki/ and db/ together keep private keys sealed on
 * disk. The database file (and its WAL) must not contain the PKCS#8 DER or
 * any 32-byte piece of it, and a sealed blob is bound to its order: moved
 * to another order's row it no longer opens.
 */
#include "db/db.h"
#include "pki/pki.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define NOW    1764000000
#define WINDOW 32

static const char *const order_ids[2] = { "ord_0a1b2c3d4e5f60718293a4b5",
	                                  "ord_ffeeddccbbaa998877665544" };

/* Generated once: RSA generation is the slow part. */
static struct pki_secret *keys[2];
static unsigned char master[PKI_MASTER_KEY_LEN];

struct fx {
	char dir[256];
	char path[300];
	struct db *db; /* left open by setup: the WAL holds the inserts */
	unsigned char *ct[2];
	size_t ct_len[2];
};

static int
group_setup(void **state)
{
	(void)state;
	if (pki_init() != 0 || util_random(master, sizeof(master)) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (pki_key_generate_rsa(2048, &keys[i]) != 0)
			return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_secret_free(keys[0]);
	pki_secret_free(keys[1]);
	util_wipe(master, sizeof(master));
	pki_deinit();
	return 0;
}

static void
wal_path(const struct fx *fx, const char *suffix, char *out, size_t size)
{
	snprintf(out, size, "%s%s", fx->path, suffix);
}

/*
 * A fresh directory and database holding two orders, each with its key
 * sealed under the master key with the order id as associated data. The
 * database stays open (fx->db), so the inserts are still in the WAL.
 */
static int
setup(void **state)
{
	const char *base = getenv("AMTCERTD_TEST_TMP");
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	*state = fx;
	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_keys.XXXXXX", base);
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/amtcertd.db", fx->dir);
	if (db_open(fx->path, &fx->db) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		char id[64], cn[] = "amt.example.com";
		char *san[] = { cn };
		struct db_order o = { .id = id,
			              .state = ORDER_KEY_READY,
			              .common_name = cn,
			              .san = san,
			              .san_count = 1,
			              .key_bits = 2048,
			              .has_key = true };

		snprintf(id, sizeof(id), "%s", order_ids[i]);
		if (pki_seal(master, order_ids[i], keys[i]->data, keys[i]->len,
		             &fx->ct[i], &fx->ct_len[i]) != 0 ||
		    db_order_insert(fx->db, &o, fx->ct[i], fx->ct_len[i],
		                    "test", NULL, NULL, NOW) != 0)
			return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char p[320];

	db_close(fx->db);
	unlink(fx->path);
	wal_path(fx, "-wal", p, sizeof(p));
	unlink(p);
	wal_path(fx, "-shm", p, sizeof(p));
	unlink(p);
	rmdir(fx->dir);
	free(fx->ct[0]);
	free(fx->ct[1]);
	free(fx);
	return 0;
}

/* Reads a whole file; a missing file reads as empty (*len = 0). */
static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	*len = 0;
	if (!f) {
		assert_int_equal(errno, ENOENT);
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	assert_false(ferror(f));
	fclose(f);
	*len = n;
	return buf;
}

static bool
contains(const unsigned char *hay, size_t hay_len, const unsigned char *needle,
         size_t needle_len)
{
	/* memmem is a GNU extension; the files are small. */
	if (!hay || needle_len == 0 || needle_len > hay_len)
		return false;
	for (size_t i = 0; i + needle_len <= hay_len; i++) {
		if (hay[i] == needle[0] &&
		    memcmp(hay + i, needle, needle_len) == 0)
			return true;
	}
	return false;
}

/*
 * Neither the database file nor its WAL holds a key's PKCS#8 DER or any
 * 32-byte window of it. Returns how many sealed blobs were seen, to show
 * that the scan looked at the bytes where the keys live.
 */
static size_t
scan_files(const struct fx *fx)
{
	char wal[320];
	const char *files[2] = { fx->path, wal };
	size_t seen_ct = 0;

	wal_path(fx, "-wal", wal, sizeof(wal));
	for (int f = 0; f < 2; f++) {
		size_t len;
		unsigned char *bytes = slurp(files[f], &len);

		for (int k = 0; k < 2; k++) {
			const struct pki_secret *key = keys[k];

			assert_true(key->len > 1000); /* 2048-bit PKCS#8 */
			assert_false(contains(bytes, len, key->data, key->len));
			for (size_t off = 0; off + WINDOW <= key->len;
			     off += WINDOW / 2)
				assert_false(contains(bytes, len,
				                      key->data + off, WINDOW));
			if (contains(bytes, len, fx->ct[k], fx->ct_len[k]))
				seen_ct++;
		}
		free(bytes);
	}
	return seen_ct;
}

static void
test_plaintext_not_on_disk(void **state)
{
	struct fx *fx = *state;
	char wal[320];
	struct stat sb;

	/* Open: the committed inserts sit in the WAL. */
	wal_path(fx, "-wal", wal, sizeof(wal));
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(scan_files(fx) >= 2);

	/* Closed: checkpointed into the main file. */
	db_close(fx->db);
	fx->db = NULL;
	assert_int_equal(scan_files(fx), 2);
}

/* Fetches an order's sealed key through db/ and opens it with its id. */
static int
unseal_order(const struct fx *fx, const char *id, struct pki_secret **out)
{
	struct db *db = NULL;
	unsigned char *ct = NULL;
	size_t len = 0;
	int err;

	assert_int_equal(db_open(fx->path, &db), 0);
	assert_int_equal(db_order_key_get(db, id, &ct, &len), 0);
	db_close(db);
	err = pki_unseal(master, id, ct, len, out);
	free(ct);
	return err;
}

/* Writes blob into order_keys.sealed of id, straight through SQLite. */
static void
raw_set_sealed(sqlite3 *sq, const char *id, const unsigned char *blob,
               size_t len)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(sq,
	                                    "UPDATE order_keys SET sealed = ? "
	                                    "WHERE order_id = ?",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(
	    sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_TRANSIENT),
	    SQLITE_OK);
	assert_int_equal(sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(sq), 1);
	sqlite3_finalize(st);
}

/* Stores each order's own blob, or (swapped) the other order's. */
static void
raw_store(const struct fx *fx, bool swapped)
{
	int a = swapped ? 1 : 0, b = swapped ? 0 : 1;
	sqlite3 *sq = NULL;

	assert_int_equal(sqlite3_open(fx->path, &sq), SQLITE_OK);
	raw_set_sealed(sq, order_ids[0], fx->ct[a], fx->ct_len[a]);
	raw_set_sealed(sq, order_ids[1], fx->ct[b], fx->ct_len[b]);
	assert_int_equal(sqlite3_close(sq), SQLITE_OK);
}

static void
assert_opens_to(const struct fx *fx, int i)
{
	struct pki_secret *pt = NULL;

	assert_int_equal(unseal_order(fx, order_ids[i], &pt), 0);
	assert_non_null(pt);
	assert_int_equal(pt->len, keys[i]->len);
	assert_memory_equal(pt->data, keys[i]->data, pt->len);
	pki_secret_free(pt);
}

static void
test_swapped_blobs_fail(void **state)
{
	struct fx *fx = *state;
	struct pki_secret *pt = NULL;

	db_close(fx->db);
	fx->db = NULL;

	/* As stored: each opens to its own key. */
	assert_opens_to(fx, 0);
	assert_opens_to(fx, 1);

	/* Swapped: the associated data (order id) no longer matches. */
	raw_store(fx, true);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(unseal_order(fx, order_ids[i], &pt),
		                 ERR_CRYPTO);
		assert_null(pt);
	}

	/* Swapped back: opens again, so the failure was the binding. */
	raw_store(fx, false);
	assert_opens_to(fx, 0);
	assert_opens_to(fx, 1);
}

static void
test_wrong_master_key_fails(void **state)
{
	struct fx *fx = *state;
	unsigned char other[PKI_MASTER_KEY_LEN];
	struct pki_secret *pt = NULL;

	memcpy(other, master, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(
	    pki_unseal(other, order_ids[0], fx->ct[0], fx->ct_len[0], &pt),
	    ERR_CRYPTO);
	assert_null(pt);
	util_wipe(other, sizeof(other));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plaintext_not_on_disk,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_blobs_fail, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_wrong_master_key_fails,
		                                setup, teardown),
	};

	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
