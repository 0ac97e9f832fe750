/* Unit tests of db/certs.c and of the migration from every earlier schema
 * version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "db/db.h"
#include "db/internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
	char dir[256];
	char path[300];
	struct db *db;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/amtc-dbc-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
make_order(struct db *db, const char *id, const char *state)
{
	char *sans[] = { (char *)"a.example.com" };
	struct db_order o = { 0 };

	o.id = (char *)id;
	o.state = (char *)state;
	o.common_name = (char *)"a.example.com";
	o.san = sans;
	o.san_count = 1;
	o.key_algorithm = (char *)"rsa";
	o.key_bits = 2048;
	o.csr_source = (char *)"imported";
	o.csr_pem = (char *)"-----BEGIN CERTIFICATE REQUEST-----";
	o.public_key_sha256 = (char *)"00";
	assert_int_equal(db_order_insert(db, &o, NULL, 0, "t", NULL, NULL, 100),
	                 0);
}

/* Every earlier version migrates to the current one, keeping its rows. */
static void
test_migrate_from_every_version(void **state)
{
	struct fx *f = *state;

	for (int v = 0; v < DB_SCHEMA_VERSION; v++) {
		struct db *old = NULL;
		struct db_order *o = NULL;
		int version = -1;
		char id[32];

		unlink(f->path);
		assert_int_equal(db_open_at(f->path, v, &old), 0);
		assert_int_equal(db_schema_version(old, &version), 0);
		assert_int_equal(version, v);
		if (v >= 1) { /* a row written by that version's schema */
			snprintf(id, sizeof(id), "ord_v%d", v);
			assert_int_equal(
			    sqlite3_exec(old->sq,
			                 "INSERT INTO orders (id, state, "
			                 "common_name, created_at, "
			                 "updated_at) VALUES ('ord_old', "
			                 "'key_ready', 'old.example.com', "
			                 "1, 1)",
			                 NULL, NULL, NULL),
			    SQLITE_OK);
		}
		db_close(old);
		assert_int_equal(db_open(f->path, &f->db), 0);
		assert_int_equal(db_schema_version(f->db, &version), 0);
		assert_int_equal(version, DB_SCHEMA_VERSION);
		if (v >= 1) {
			assert_int_equal(db_order_get(f->db, "ord_old", &o), 0);
			assert_string_equal(o->common_name, "old.example.com");
			assert_null(o->leaf_sha256);
			db_order_free(o);
		}
		db_close(f->db);
		f->db = NULL;
	}
}

static struct db_cert
cert(const char *sha, bool ca)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct db_cert c = { 0 };

	c.sha256 = (char *)sha;
	c.der = der;
	c.der_len = sizeof(der);
	c.sha1 = (char *)"s1";
	c.sha384 = (char *)"s384";
	c.subject = (char *)"CN=x";
	c.issuer = (char *)"CN=y";
	c.serial = (char *)"01";
	c.not_before = 1;
	c.not_after = 2;
	c.spki_sha256 = (char *)"spki";
	c.is_ca = ca;
	return c;
}

static void
test_upload_apply_is_one_transaction(void **state)
{
	struct fx *f = *state;
	static const char *const from[] = { "key_ready", "submitted", NULL };
	static const unsigned char data[] = "raw";
	struct db_upload up = { "upl_1", "d.zip", "application/zip",
		                data,    3,       "h" };
	struct db_cert certs[2] = { cert("aa", false), cert("bb", true) };
	struct db_order_upload u = { 0 };
	struct db_cert_list *l = NULL;
	struct db_order *o = NULL;
	int64_t n0 = 0, n1 = 0;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_1", "key_ready");
	certs[0].role = (char *)"leaf";
	certs[0].reason = (char *)"the key";
	certs[0].upload_id = (char *)"upl_1";
	certs[1].role = (char *)"intermediate";
	certs[1].upload_id = (char *)"upl_1";
	u.uploads = &up;
	u.nuploads = 1;
	u.certs = certs;
	u.ncerts = 2;
	u.leaf_sha256 = "aa";
	u.from_states = from;
	u.to_state = "issued";
	u.detail = "2 certificates";
	assert_int_equal(db_count(f->db, "events", &n0), 0);
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_1", &u, "t", 200, NULL), 0);
	assert_int_equal(db_order_get(f->db, "ord_1", &o), 0);
	assert_string_equal(o->state, "issued");
	assert_string_equal(o->leaf_sha256, "aa");
	db_order_free(o);
	assert_int_equal(db_order_certs(f->db, "ord_1", &l), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[0].role, "leaf");
	assert_string_equal(l->items[0].reason, "the key");
	assert_int_equal(l->items[0].der_len, 5);
	db_cert_list_free(l);
	assert_int_equal(db_count(f->db, "events", &n1), 0);
	assert_int_equal(n1, n0 + 2); /* upload + state */

	/* a failing write leaves nothing: the upload id exists already */
	certs[0].sha256 = (char *)"cc";
	assert_int_not_equal(
	    db_order_upload_apply(f->db, "ord_1", &u, "t", 300, NULL), 0);
	assert_int_equal(db_order_certs(f->db, "ord_1", &l), 0);
	assert_int_equal(l->count, 2);
	db_cert_list_free(l);
	assert_int_equal(db_count(f->db, "events", &n0), 0);
	assert_int_equal(n0, n1);
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_nope", &u, "t", 300, NULL),
	    ERR_NOT_FOUND);
}

static void
test_pool(void **state)
{
	struct fx *f = *state;
	struct db_cert certs[2] = { cert("aa", true), cert("bb", true) };
	struct db_cert_list *l = NULL;
	size_t added = 9;

	assert_int_equal(db_open(f->path, &f->db), 0);
	assert_int_equal(db_pool_add(f->db, certs, 2, "t", 1, &added), 0);
	assert_int_equal(added, 2);
	assert_int_equal(db_pool_add(f->db, certs, 2, "t", 1, &added), 0);
	assert_int_equal(added, 0);
	assert_int_equal(db_pool_list(f->db, &l), 0);
	assert_int_equal(l->count, 2);
	db_cert_list_free(l);
	assert_int_equal(db_pool_remove(f->db, "aa"), 0);
	assert_int_equal(db_pool_remove(f->db, "aa"), ERR_NOT_FOUND);
}

static void
test_amt_roots(void **state)
{
	struct fx *f = *state;
	struct db_amt_root rows[2] = {
		{ .id = (char *)"seed_1",
		  .name = (char *)"S",
		  .sha256 = (char *)"ab",
		  .evidence = (char *)"cited",
		  .source = (char *)"seed",
		  .enabled = false },
		{ .id = (char *)"usr_1",
		  .name = (char *)"U",
		  .sha1 = (char *)"cd",
		  .evidence = (char *)"user",
		  .source = (char *)"user",
		  .enabled = true },
	};
	struct db_amt_root_list *l = NULL;
	struct db_amt_root *r = NULL;
	size_t added = 0;

	assert_int_equal(db_open(f->path, &f->db), 0);
	assert_int_equal(db_amt_root_insert(f->db, rows, 2, 1, &added), 0);
	assert_int_equal(added, 2);
	/* a user's choice survives a re-seed */
	assert_int_equal(db_amt_root_set_enabled(f->db, "seed_1", true), 0);
	assert_int_equal(db_amt_root_insert(f->db, rows, 1, 1, &added), 0);
	assert_int_equal(added, 0);
	assert_int_equal(db_amt_root_get(f->db, "seed_1", &r), 0);
	assert_true(r->enabled);
	db_amt_root_free(r);
	assert_int_equal(db_amt_root_delete(f->db, "seed_1"), ERR_CONFLICT);
	assert_int_equal(db_amt_root_delete(f->db, "usr_1"), 0);
	assert_int_equal(db_amt_root_delete(f->db, "usr_1"), ERR_NOT_FOUND);
	assert_int_equal(db_amt_root_set_enabled(f->db, "x", true),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_amt_root_list(f->db, &l), 0);
	assert_int_equal(l->count, 1);
	db_amt_root_list_free(l);
}

/* ready/deployed orders near expiry become renewal_due, past it expired. */
static void
test_expiry_sweep(void **state)
{
	struct fx *f = *state;
	static const char *const from[] = { "issued", NULL };
	struct db_sweep s = { 0 };
	struct db_order *o = NULL;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_soon", "issued");
	make_order(f->db, "ord_late", "issued");
	make_order(f->db, "ord_unverified", "issued");
	assert_int_equal(db_verification_insert(f->db, "ord_soon", 1, "pass",
	                                        "{}", from, "ready", 5000, 4000,
	                                        "t", 2, NULL),
	                 0);
	assert_int_equal(db_verification_insert(f->db, "ord_late", 1, "pass",
	                                        "{}", from, "ready", 90000,
	                                        90000, "t", 2, NULL),
	                 0);
	/* dry run at t=1000, window 3500: ord_soon's chain (4000) is due */
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 1000, 3500, "job", true, &s), 0);
	assert_int_equal(s.nrenewal_due, 1);
	assert_string_equal(s.renewal_due[0], "ord_soon");
	assert_int_equal(s.nexpired, 0);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_soon", &o), 0);
	assert_string_equal(o->state, "ready"); /* dry run moved nothing */
	db_order_free(o);
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 1000, 3500, "job", false, &s), 0);
	assert_int_equal(s.nrenewal_due, 1);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_soon", &o), 0);
	assert_string_equal(o->state, "renewal_due");
	db_order_free(o);
	/* past the chain's notAfter: expired; the far one stays ready */
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 4000, 100, "job", false, &s), 0);
	assert_int_equal(s.nexpired, 1);
	assert_string_equal(s.expired[0], "ord_soon");
	assert_int_equal(s.nrenewal_due, 0);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_late", &o), 0);
	assert_string_equal(o->state, "ready");
	db_order_free(o);
	assert_int_equal(db_order_get(f->db, "ord_unverified", &o), 0);
	assert_string_equal(o->state, "issued");
	db_order_free(o);
}

static void
test_verifications(void **state)
{
	struct fx *f = *state;
	static const char *const from[] = { "issued", NULL };
	struct db_order *o = NULL;
	char *text = NULL;
	int64_t id = 0;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_v", "issued");
	assert_int_equal(db_verification_latest(f->db, "ord_v", &text),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_verification_insert(f->db, "ord_v", 5, "fail",
	                                        "{\"n\":1}", NULL, NULL, 0, 0,
	                                        "t", 6, &id),
	                 0);
	assert_int_equal(db_verification_insert(f->db, "ord_v", 5, "pass",
	                                        "{\"n\":2}", from, "ready",
	                                        1000, 900, "t", 7, &id),
	                 0);
	assert_int_equal(db_verification_latest(f->db, "ord_v", &text), 0);
	assert_string_equal(text, "{\"n\":2}");
	free(text);
	assert_int_equal(db_order_get(f->db, "ord_v", &o), 0);
	assert_string_equal(o->state, "ready");
	assert_int_equal(o->leaf_not_after, 1000);
	assert_int_equal(o->chain_not_after, 900);
	db_order_free(o);
	/* not in from_states: stored, state kept */
	assert_int_equal(db_verification_insert(f->db, "ord_v", 5, "pass", "{}",
	                                        from, "ready", 0, 0, "t", 8,
	                                        &id),
	                 0);
	assert_int_equal(db_verification_insert(f->db, "ord_x", 5, "pass", "{}",
	                                        NULL, NULL, 0, 0, "t", 8, &id),
	                 ERR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_from_every_version,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_upload_apply_is_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_amt_roots, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_verifications, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_expiry_sweep, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
