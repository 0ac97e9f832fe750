/*
 * test_db.c: unit tests of db/ against real SQLite files, each test in a
 * fresh temporary directory ($AMTCERTD_TEST_TMP, else /tmp).
 */
#include "db/db.h"
#include "db/internal.h" /* struct db: the tests read pragmas off db->sq */

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define NOW 1764000000

struct fx {
	char dir[256];
	char path[300];
	struct db *db;
};

/* ---- fixtures and helpers --------------------------------------------- */

static int
fx_dir(struct fx *fx)
{
	const char *base = getenv("AMTCERTD_TEST_TMP");

	if (!base || !*base)
		base = "/tmp";
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_db.XXXXXX", base);
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/amtcertd.db", fx->dir);
	return 0;
}

/* A temporary directory, no database yet. */
static int
setup_dir(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || fx_dir(fx) != 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

/* A temporary directory with a freshly opened database. */
static int
setup_db(void **state)
{
	struct fx *fx;

	if (setup_dir(state) != 0)
		return -1;
	fx = *state;
	return db_open(fx->path, &fx->db) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char p[320];

	db_close(fx->db);
	unlink(fx->path);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* A heap order with the fields every order has; free with db_order_free. */
static struct db_order *
order_new(const char *id, enum order_state state, const char *cn)
{
	struct db_order *o = calloc(1, sizeof(*o));

	assert_non_null(o);
	o->id = xstrdup(id);
	o->state = state;
	if (cn) {
		o->common_name = xstrdup(cn);
		o->san = calloc(1, sizeof(*o->san));
		assert_non_null(o->san);
		o->san[0] = xstrdup(cn);
		o->san_count = 1;
	}
	o->key_algorithm = xstrdup("rsa");
	o->key_bits = 2048;
	o->profile = xstrdup("amt");
	return o;
}

static void
order_put(struct db *db, const char *id, enum order_state state, const char *cn,
          const char *ext_ref)
{
	struct db_order *o = order_new(id, state, cn);

	if (ext_ref)
		o->external_ref = xstrdup(ext_ref);
	assert_int_equal(
	    db_order_insert(db, o, NULL, 0, "test", NULL, NULL, NOW), 0);
	db_order_free(o);
}

static int64_t
count(struct db *db, const char *table)
{
	int64_t n = -1;

	assert_int_equal(db_count(db, table, &n), 0);
	return n;
}

static int64_t
raw_int(sqlite3 *sq, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(sq, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
assert_str_or_null(const char *got, const char *want)
{
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

/* ---- open and migrations ---------------------------------------------- */

static void
test_open_fresh(void **state)
{
	struct fx *fx = *state;
	sqlite3_stmt *st = NULL;
	int v = -1;

	assert_int_equal(db_open(fx->path, &fx->db), 0);
	assert_int_equal(db_schema_version(fx->db, &v), 0);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	assert_int_equal(raw_int(fx->db->sq, "PRAGMA user_version"),
	                 DB_SCHEMA_VERSION);

	assert_int_equal(sqlite3_prepare_v2(fx->db->sq, "PRAGMA journal_mode",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(raw_int(fx->db->sq, "PRAGMA foreign_keys"), 1);
	assert_int_equal(raw_int(fx->db->sq, "PRAGMA synchronous"), 2);
	assert_int_equal(raw_int(fx->db->sq, "PRAGMA busy_timeout"), 5000);

	/* Every table exists and starts empty. */
	assert_int_equal(count(fx->db, "orders"), 0);
	assert_int_equal(count(fx->db, "order_sans"), 0);
	assert_int_equal(count(fx->db, "order_keys"), 0);
	assert_int_equal(count(fx->db, "events"), 0);
	assert_int_equal(count(fx->db, "idempotency"), 0);
	assert_int_equal(count(fx->db, "api_tokens"), 0);
}

static void
test_open_reopen_is_noop(void **state)
{
	struct fx *fx = *state;
	struct db_order *got = NULL;
	int64_t objects;
	int v = -1;

	assert_int_equal(db_open(fx->path, &fx->db), 0);
	order_put(fx->db, "ord_keep", ORDER_DRAFT, "a.example.com", NULL);
	objects = raw_int(fx->db->sq, "SELECT count(*) FROM sqlite_master");
	db_close(fx->db);
	fx->db = NULL;

	assert_int_equal(db_open(fx->path, &fx->db), 0);
	assert_int_equal(db_schema_version(fx->db, &v), 0);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	assert_int_equal(
	    raw_int(fx->db->sq, "SELECT count(*) FROM sqlite_master"), objects);
	assert_int_equal(count(fx->db, "orders"), 1);
	assert_int_equal(count(fx->db, "events"), 1);
	assert_int_equal(db_order_get(fx->db, "ord_keep", &got), 0);
	assert_string_equal(got->common_name, "a.example.com");
	db_order_free(got);
}

static void
test_open_newer_schema_refused(void **state)
{
	struct fx *fx = *state;
	struct db *db = NULL;
	sqlite3 *sq = NULL;

	assert_int_equal(sqlite3_open(fx->path, &sq), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(sq, "PRAGMA user_version = 999", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(sq);

	assert_int_equal(db_open(fx->path, &db), ERR_INVALID);
	assert_null(db);

	/* Left as it was. */
	assert_int_equal(sqlite3_open(fx->path, &sq), SQLITE_OK);
	assert_int_equal(raw_int(sq, "PRAGMA user_version"), 999);
	assert_int_equal(raw_int(sq, "SELECT count(*) FROM sqlite_master"), 0);
	sqlite3_close(sq);
}

static void
test_open_not_a_database(void **state)
{
	struct fx *fx = *state;
	struct db *db = NULL;
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	for (int i = 0; i < 64; i++)
		fputs("this is not an SQLite database, just text. ", f);
	fclose(f);
	assert_int_equal(db_open(fx->path, &db), ERR_DB);
	assert_null(db);
	assert_int_equal(db_open(NULL, &db), ERR_INVALID);
	assert_int_equal(db_open("", &db), ERR_INVALID);
}

static void
test_open_file_mode(void **state)
{
	struct fx *fx = *state;
	struct stat sb;
	char wal[320];
	mode_t old;

	/* With umask 0 a 0644 default would show: the 0600 must be ours. */
	old = umask(0);
	assert_int_equal(db_open(fx->path, &fx->db), 0);
	order_put(fx->db, "ord_mode", ORDER_DRAFT, "m.example.com", NULL);
	umask(old);

	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(stat(wal, &sb), 0); /* WAL mode is on */
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/* ---- orders ----------------------------------------------------------- */

static void
test_order_roundtrip(void **state)
{
	struct fx *fx = *state;
	static const unsigned char key[] = {
		1, 0x00, 0xff, 0x10, 0x20, 0x00, 3, 4, 5, 6, 7, 8, 9, 10
	};
	struct db_order *o = calloc(1, sizeof(*o));
	struct db_order *g = NULL;
	struct db_event_list *ev = NULL;

	assert_non_null(o);
	o->id = xstrdup("ord_full");
	o->state = ORDER_KEY_READY;
	o->common_name = xstrdup("amt.corp.example.com");
	o->organization = xstrdup("Example Corp");
	o->organizational_unit = xstrdup("IT");
	o->locality = xstrdup("Portland");
	o->state_province = xstrdup("Oregon");
	o->country = xstrdup("US");
	o->san = calloc(3, sizeof(*o->san));
	assert_non_null(o->san);
	o->san[0] = xstrdup("amt.corp.example.com");
	o->san[1] = xstrdup("b.corp.example.com");
	o->san[2] = xstrdup("a.corp.example.com"); /* order is kept */
	o->san_count = 3;
	o->key_algorithm = xstrdup("rsa");
	o->key_bits = 3072;
	o->has_key = true;
	o->csr_source = xstrdup("generated");
	o->profile = xstrdup("amt");
	o->dns_suffix = xstrdup("corp.example.com");
	o->allow_suffix_mismatch = true;
	o->external_ref = xstrdup("TICKET-42");
	o->notes = xstrdup("Héllo 'quoted' \"notes\"; DROP TABLE orders;");
	o->vendor_name = xstrdup("DigiCert");
	o->vendor_product = xstrdup("OV SSL");
	o->vendor_order_id = xstrdup("V-1234");
	o->vendor_invoice = xstrdup("INV-9");
	o->vendor_approver = xstrdup("admin@example.com");
	o->vendor_dcv_method = xstrdup("email");
	o->vendor_price = xstrdup("199.00 USD");
	o->vendor_validity_days = 397;
	o->csr_pem = xstrdup("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
	                     "-----END CERTIFICATE REQUEST-----\n");
	o->public_key_sha256 = xstrdup(
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	/* Ignored on insert: */
	o->seq = 999;
	o->created_at = 1;
	o->updated_at = 2;
	o->version = 77;

	assert_int_equal(db_order_insert(fx->db, o, key, sizeof(key), "alice",
	                                 "idem-1", "hash-1", NOW),
	                 0);
	assert_int_equal(db_order_get(fx->db, "ord_full", &g), 0);

	assert_true(g->seq > 0 && g->seq != 999);
#define SAME(f) assert_str_or_null(g->f, o->f)
	SAME(id);
	assert_int_equal(g->state, o->state);
	SAME(common_name);
	SAME(organization);
	SAME(organizational_unit);
	SAME(locality);
	SAME(state_province);
	SAME(country);
	SAME(key_algorithm);
	SAME(csr_source);
	SAME(profile);
	SAME(dns_suffix);
	SAME(external_ref);
	SAME(notes);
	SAME(vendor_name);
	SAME(vendor_product);
	SAME(vendor_order_id);
	SAME(vendor_invoice);
	SAME(vendor_approver);
	SAME(vendor_dcv_method);
	SAME(vendor_price);
	SAME(csr_pem);
	SAME(public_key_sha256);
	SAME(renewal_of);
#undef SAME
	assert_int_equal(g->san_count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(g->san[i], o->san[i]);
	assert_int_equal(g->key_bits, 3072);
	assert_true(g->has_key);
	assert_true(g->allow_suffix_mismatch);
	assert_int_equal(g->vendor_validity_days, 397);
	assert_int_equal(g->created_at, NOW);
	assert_int_equal(g->updated_at, NOW);
	assert_int_equal(g->version, 1);

	/* One "created" event in the same transaction. */
	assert_int_equal(db_event_list(fx->db, "ord_full", &ev), 0);
	assert_int_equal(ev->count, 1);
	assert_string_equal(ev->items[0].type, "created");
	assert_string_equal(ev->items[0].actor, "alice");
	assert_null(ev->items[0].from_state);
	assert_string_equal(ev->items[0].to_state, "key_ready");
	assert_int_equal(ev->items[0].at, NOW);
	db_event_list_free(ev);

	/* A renewal links to it; unset fields read back NULL / 0. */
	db_order_free(g);
	g = NULL;
	db_order_free(o);
	o = order_new("ord_renew", ORDER_DRAFT, NULL);
	o->renewal_of = xstrdup("ord_full");
	assert_int_equal(
	    db_order_insert(fx->db, o, NULL, 0, NULL, NULL, NULL, NOW + 5), 0);
	assert_int_equal(db_order_get(fx->db, "ord_renew", &g), 0);
	assert_string_equal(g->renewal_of, "ord_full");
	assert_null(g->common_name);
	assert_null(g->notes);
	assert_int_equal(g->san_count, 0);
	assert_null(g->san);
	assert_false(g->has_key);
	assert_false(g->allow_suffix_mismatch);
	assert_int_equal(g->vendor_validity_days, 0);
	assert_int_equal(g->created_at, NOW + 5);
	db_order_free(g);
	db_order_free(o);

	assert_int_equal(db_order_get(fx->db, "ord_none", &g), ERR_NOT_FOUND);
	g = (struct db_order *)&g; /* sentinel: must stay untouched */
	assert_int_equal(db_order_get(fx->db, "ord_none", &g), ERR_NOT_FOUND);
	assert_ptr_equal(g, &g);
}

static void
test_order_insert_conflict_is_atomic(void **state)
{
	struct fx *fx = *state;
	static const unsigned char key[] = { 1, 2, 3, 4 };
	static const char *const tables[] = { "orders", "order_sans",
		                              "order_keys", "events",
		                              "idempotency" };
	int64_t before[5];
	struct db_order *o = order_new("ord_a", ORDER_DRAFT, "a.example.com");
	struct db_order *g = NULL;

	assert_int_equal(db_order_insert(fx->db, o, key, sizeof(key), "t",
	                                 "idem-a", "h", NOW),
	                 0);
	for (size_t i = 0; i < 5; i++)
		before[i] = count(fx->db, tables[i]);

	/* Same id: refused, and nothing of the second attempt remains. */
	free(o->common_name);
	o->common_name = xstrdup("other.example.com");
	assert_int_equal(db_order_insert(fx->db, o, key, sizeof(key), "t",
	                                 "idem-b", "h", NOW),
	                 ERR_CONFLICT);
	/* New id, taken idempotency key: fails after the order row went in. */
	free(o->id);
	o->id = xstrdup("ord_b");
	assert_int_equal(db_order_insert(fx->db, o, key, sizeof(key), "t",
	                                 "idem-a", "h", NOW),
	                 ERR_CONFLICT);
	assert_int_equal(db_order_get(fx->db, "ord_b", &g), ERR_NOT_FOUND);
	/* Schema rules: unknown state, renewal_of naming no order. */
	o->state = ORDER_STATE_COUNT;
	assert_int_equal(
	    db_order_insert(fx->db, o, NULL, 0, "t", NULL, NULL, NOW),
	    ERR_INVALID);
	o->state = ORDER_DRAFT;
	o->renewal_of = xstrdup("ord_missing");
	assert_int_equal(
	    db_order_insert(fx->db, o, NULL, 0, "t", NULL, NULL, NOW),
	    ERR_INVALID);
	/* Arguments. */
	assert_int_equal(
	    db_order_insert(fx->db, o, key, 0, "t", NULL, NULL, NOW),
	    ERR_INVALID);
	assert_int_equal(
	    db_order_insert(fx->db, o, NULL, 0, "t", "k", NULL, NOW),
	    ERR_INVALID);

	for (size_t i = 0; i < 5; i++)
		assert_int_equal(count(fx->db, tables[i]), before[i]);
	assert_int_equal(db_order_get(fx->db, "ord_a", &g), 0);
	assert_string_equal(g->common_name, "a.example.com");
	db_order_free(g);
	db_order_free(o);
}

static void
test_idempotency(void **state)
{
	struct fx *fx = *state;
	struct db_order *o = order_new("ord_i1", ORDER_DRAFT, "i.example.com");
	char *oid = NULL, *hash = NULL;

	assert_int_equal(db_order_insert(fx->db, o, NULL, 0, "t", "key-1",
	                                 "sha-of-body-1", NOW),
	                 0);
	assert_int_equal(db_idempotency_get(fx->db, "key-1", &oid, &hash), 0);
	assert_string_equal(oid, "ord_i1");
	assert_string_equal(hash, "sha-of-body-1");
	free(oid);
	free(hash);
	oid = NULL;
	hash = NULL;

	assert_int_equal(db_idempotency_get(fx->db, "key-2", &oid, &hash),
	                 ERR_NOT_FOUND);
	assert_null(oid);
	assert_null(hash);

	/* Same key for another order: conflict, the first mapping stays. */
	free(o->id);
	o->id = xstrdup("ord_i2");
	assert_int_equal(db_order_insert(fx->db, o, NULL, 0, "t", "key-1",
	                                 "sha-of-body-2", NOW),
	                 ERR_CONFLICT);
	assert_int_equal(count(fx->db, "orders"), 1);
	assert_int_equal(count(fx->db, "idempotency"), 1);
	assert_int_equal(db_idempotency_get(fx->db, "key-1", &oid, &hash), 0);
	assert_string_equal(oid, "ord_i1");
	assert_string_equal(hash, "sha-of-body-1");
	free(oid);
	free(hash);
	db_order_free(o);
}

/* ---- the order list ------------------------------------------------------ */

/* One page of f; a page that is not full is the last one. */
static struct db_order_list *
list_f(struct db *db, const struct db_order_filter *f)
{
	struct db_order_list *l = NULL;

	assert_int_equal(db_order_list(db, f, &l), 0);
	assert_non_null(l);
	assert_true(l->count <= f->limit);
	if (l->count < f->limit)
		assert_false(l->more);
	if (!l->more) {
		assert_int_equal(l->next.seq, 0);
		assert_null(l->next.text);
	}
	return l;
}

/* The first page, newest first. */
static struct db_order_list *
list(struct db *db, const char *st, const char *ref, const char *q,
     unsigned limit)
{
	struct db_order_filter f = { .state = st,
		                     .external_ref = ref,
		                     .q = q,
		                     .sort = DB_ORDER_SORT_CREATED,
		                     .desc = true,
		                     .limit = limit };

	return list_f(db, &f);
}

static void
assert_ids(const struct db_order_list *l, const char *const *ids, size_t n)
{
	assert_int_equal(l->count, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->items[i].id, ids[i]);
}

/*
 * Every page of f from the start, limit orders a page, each page starting
 * after the place the one before gave; between pages, between(arg, page)
 * may change the table. The ids in the order seen (*n of them).
 */
static char **
list_walk(struct db *db, struct db_order_filter f, unsigned limit,
          void (*between)(struct db *, int), size_t *n)
{
	struct db_order_pos pos = { 0 };
	char **ids = NULL;
	size_t cnt = 0;

	f.limit = limit;
	f.after = NULL;
	for (int page = 0;; page++) {
		struct db_order_list *l = list_f(db, &f);
		char **tmp = realloc(ids, (cnt + l->count + 1) * sizeof(*ids));
		bool more = l->more;

		assert_non_null(tmp);
		ids = tmp;
		for (size_t i = 0; i < l->count; i++)
			ids[cnt++] = xstrdup(l->items[i].id);
		free(pos.text);
		pos = l->next;
		l->next.text = NULL; /* taken over */
		db_order_list_free(l);
		if (!more)
			break;
		assert_int_equal(pos.seq > 0, 1);
		assert_true(cnt < 100000);
		f.after = &pos;
		if (between)
			between(db, page);
	}
	free(pos.text);
	*n = cnt;
	return ids;
}

static void
ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Sets the columns verification and updates set (0: SQL NULL). */
static void
order_set_times(struct db *db, const char *id, int64_t leaf, int64_t chain,
                int64_t updated)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(
	                     db->sq,
	                     "UPDATE orders SET leaf_not_after = ?, "
	                     "chain_not_after = ?, updated_at = ? WHERE id = ?",
	                     -1, &st, NULL),
	                 SQLITE_OK);
	if (leaf)
		sqlite3_bind_int64(st, 1, leaf);
	if (chain)
		sqlite3_bind_int64(st, 2, chain);
	sqlite3_bind_int64(st, 3, updated);
	sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db->sq), 1);
	sqlite3_finalize(st);
}

/*
 * The oracle: what db_order_list promises, computed here from every
 * order read with db_order_get, sorted by a plain comparison.
 */
struct ex {
	struct db_order *o;
	char cn[128]; /* lower-case CN, "" when none */
	int64_t expiry;
};

static int
cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
ex_cmp(const struct ex *a, const struct ex *b, enum db_order_sort s)
{
	int c = 0;

	switch (s) {
	case DB_ORDER_SORT_CREATED:
		break;
	case DB_ORDER_SORT_UPDATED:
		c = cmp64(a->o->updated_at, b->o->updated_at);
		break;
	case DB_ORDER_SORT_NEEDS_ACTION:
		c = cmp64(order_state_priority(a->o->state),
		          order_state_priority(b->o->state));
		if (c == 0)
			c = cmp64(a->expiry, b->expiry);
		break;
	case DB_ORDER_SORT_EXPIRY:
		c = cmp64(a->expiry, b->expiry);
		break;
	case DB_ORDER_SORT_CN:
		c = strcmp(a->cn, b->cn);
		break;
	default:
		fail();
	}
	return c ? c : cmp64(a->o->seq, b->o->seq);
}

static bool
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay && *hay; hay++) {
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	}
	return false;
}

static bool
ex_matches(const struct ex *e, const struct db_order_filter *f)
{
	const struct db_order *o = e->o;

	if (f->state && strcmp(order_state_name(o->state), f->state) != 0)
		return false;
	if (f->external_ref &&
	    (!o->external_ref || strcmp(o->external_ref, f->external_ref)))
		return false;
	return !f->q || contains_ci(o->common_name, f->q) ||
	       contains_ci(o->external_ref, f->q);
}

/* Every order of ids[0..n) as the oracle sees it. */
static struct ex *
ex_load(struct db *db, char **ids, size_t n)
{
	struct ex *ex = calloc(n, sizeof(*ex));

	assert_non_null(ex);
	for (size_t i = 0; i < n; i++) {
		struct db_order *o = NULL;
		int64_t leaf, chain;
		size_t k = 0;

		assert_int_equal(db_order_get(db, ids[i], &o), 0);
		ex[i].o = o;
		for (const char *c = o->common_name; c && *c; c++)
			ex[i].cn[k++] =
			    (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a'
			                                    : *c);
		leaf = o->leaf_not_after;
		chain = o->chain_not_after;
		ex[i].expiry = !leaf && !chain ? INT64_MAX
		               : !leaf         ? chain
		               : !chain        ? leaf
		               : leaf < chain  ? leaf
		                               : chain;
	}
	return ex;
}

static void
ex_free(struct ex *ex, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_order_free(ex[i].o);
	free(ex);
}

/* The ids of the orders of ex matching f, in f's order. */
static size_t
ex_expect(const struct ex *ex, size_t n, const struct db_order_filter *f,
          const struct ex **out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		if (!ex_matches(&ex[i], f))
			continue;
		/* insertion sort: a handful of orders */
		for (j = m; j > 0; j--) {
			int c = ex_cmp(out[j - 1], &ex[i], f->sort);

			if ((f->desc ? -c : c) <= 0)
				break;
			out[j] = out[j - 1];
		}
		out[j] = &ex[i];
		m++;
	}
	return m;
}

#define NSORT_ORDERS 48

/*
 * Orders in every state, with CNs that differ only in case or are
 * missing, expiry times unknown (NULL or 0), leaf only, chain only or
 * both, and updated_at values that tie.
 */
static char **
sort_fixture(struct db *db, size_t *n)
{
	char **ids = calloc(NSORT_ORDERS, sizeof(*ids));

	assert_non_null(ids);
	for (int i = 0; i < NSORT_ORDERS; i++) {
		char id[32], cn[64], ref[32];
		const char *cnp = cn, *refp = ref;
		int64_t t = NOW + ((i * 37) % 17) * 86400, leaf = 0, chain = 0;

		snprintf(id, sizeof(id), "ord_s%02d", i);
		if (i % 11 == 0)
			cnp = NULL;
		else if (i % 7 == 3)
			snprintf(cn, sizeof(cn), "%s.example.com",
			         i % 2 ? "DUP" : "dup");
		else
			snprintf(cn, sizeof(cn), "%cost%02d.Example.com",
			         i % 3 ? 'h' : 'H', (i * 29) % NSORT_ORDERS);
		if (i % 5 == 0)
			refp = NULL;
		else
			snprintf(ref, sizeof(ref), "REF-%d", i % 4);
		order_put(db, id, (enum order_state)(i % ORDER_STATE_COUNT),
		          cnp, refp);
		if (i % 4 == 1 || i % 4 == 3)
			leaf = t;
		if (i % 4 == 2 || i % 4 == 3)
			chain = t + ((i * 7) % 3 - 1) * 86400;
		order_set_times(db, id, leaf, chain, NOW + (i * 13) % 9);
		ids[i] = xstrdup(id);
	}
	*n = NSORT_ORDERS;
	return ids;
}

static const struct db_order_filter sort_filters[] = {
	{ .state = NULL },
	{ .state = "deployed" },
	{ .state = "key_ready", .q = "EXAMPLE" },
	{ .external_ref = "REF-1" },
	{ .q = "example" },
	{ .q = "ref-2" }, /* the external reference only */
	{ .q = "dup." },
	{ .q = "no such text" },
};

/* Every sort, both ways, page sizes 1 to 200, with each filter mix. */
static void
test_order_list_sorts(void **state)
{
	struct fx *fx = *state;
	static const unsigned limits[] = { 1, 4, 7, 200 };
	const struct ex *want[NSORT_ORDERS];
	size_t n;
	char **all = sort_fixture(fx->db, &n);
	struct ex *ex = ex_load(fx->db, all, n);

	for (size_t fi = 0; fi < sizeof(sort_filters) / sizeof(*sort_filters);
	     fi++) {
		for (int s = 0; s < DB_ORDER_SORT_COUNT; s++) {
			for (int desc = 0; desc < 2; desc++) {
				struct db_order_filter f = sort_filters[fi];
				size_t m;

				f.sort = (enum db_order_sort)s;
				f.desc = desc;
				m = ex_expect(ex, n, &f, want);
				for (size_t li = 0; li < 4; li++) {
					size_t got_n;
					char **got =
					    list_walk(fx->db, f, limits[li],
					              NULL, &got_n);

					assert_int_equal(got_n, m);
					for (size_t i = 0; i < m; i++)
						assert_string_equal(
						    got[i], want[i]->o->id);
					ids_free(got, got_n);
				}
			}
		}
	}
	/* the filter mixes do not all come out empty */
	{
		struct db_order_filter f = sort_filters[5];

		assert_true(ex_expect(ex, n, &f, want) > 0);
		f = sort_filters[2];
		assert_true(ex_expect(ex, n, &f, want) > 0);
	}
	ex_free(ex, n);
	ids_free(all, n);
}

static int stable_next;

/* Two new orders between two pages, sorting anywhere. */
static void
insert_two(struct db *db, int page)
{
	for (int k = 0; k < 2; k++) {
		int i = stable_next++;
		char id[32], cn[64];

		snprintf(id, sizeof(id), "ord_new%03d", i);
		snprintf(cn, sizeof(cn), "%c-new.example.com",
		         'a' + (i * 7) % 26);
		order_put(db, id,
		          (enum order_state)((i + page) % ORDER_STATE_COUNT),
		          cn, NULL);
		order_set_times(db, id, i % 2 ? NOW + (i % 9) * 86400 : 0, 0,
		                NOW + i % 9);
	}
}

/*
 * Orders inserted while a client pages neither repeat nor hide the orders
 * that were there: each of those comes exactly once, in order.
 */
static void
test_order_list_stable(void **state)
{
	struct fx *fx = *state;
	size_t n;
	char **all = sort_fixture(fx->db, &n);

	for (int s = 0; s < DB_ORDER_SORT_COUNT; s++) {
		for (int desc = 0; desc < 2; desc++) {
			struct db_order_filter f = { .sort =
				                         (enum db_order_sort)s,
				                     .desc = desc };
			size_t got_n, seen_old = 0;
			char **got =
			    list_walk(fx->db, f, 5, insert_two, &got_n);
			struct ex *ex = ex_load(fx->db, got, got_n);

			for (size_t i = 0; i < got_n; i++) {
				for (size_t j = i + 1; j < got_n; j++)
					assert_string_not_equal(got[i], got[j]);
				if (strncmp(got[i], "ord_s", 5) == 0)
					seen_old++;
				if (i == 0)
					continue;
				/* what was seen is in the sort's order */
				int c = ex_cmp(&ex[i - 1], &ex[i], f.sort);

				assert_true(desc ? c > 0 : c < 0);
			}
			assert_int_equal(seen_old, n);
			ex_free(ex, got_n);
			ids_free(got, got_n);
		}
	}
	assert_true(stable_next > 40);
	ids_free(all, n);
}

/* The counts per state are those of a full scan, filters and all. */
static void
test_order_count(void **state)
{
	struct fx *fx = *state;
	size_t n;
	char **all = sort_fixture(fx->db, &n);
	struct ex *ex = ex_load(fx->db, all, n);
	struct db_order_counts c;

	for (size_t fi = 0; fi < sizeof(sort_filters) / sizeof(*sort_filters);
	     fi++) {
		const struct db_order_filter *f = &sort_filters[fi];
		int64_t want[ORDER_STATE_COUNT] = { 0 }, total = 0;

		for (size_t i = 0; i < n; i++) {
			if (ex_matches(&ex[i], f)) {
				want[ex[i].o->state]++;
				total++;
			}
		}
		memset(&c, 0xa5, sizeof(c));
		assert_int_equal(db_order_count(fx->db, f, &c), 0);
		assert_int_equal(c.total, total);
		for (int s = 0; s < ORDER_STATE_COUNT; s++)
			assert_int_equal(c.by_state[s], want[s]);
	}
	/* every state is there */
	assert_int_equal(db_order_count(fx->db, &sort_filters[0], &c), 0);
	assert_int_equal(c.total, NSORT_ORDERS);
	for (int s = 0; s < ORDER_STATE_COUNT; s++)
		assert_true(c.by_state[s] > 0);
	assert_int_equal(db_order_count(fx->db, NULL, &c), ERR_INVALID);
	ex_free(ex, n);
	ids_free(all, n);
}

#define NSEEN 256

static void
record_sql(void *ctx, const char *sql)
{
	char **seen = ctx;

	for (size_t i = 0; i < NSEEN; i++) {
		if (!seen[i]) {
			seen[i] = xstrdup(sql);
			return;
		}
		if (strcmp(seen[i], sql) == 0)
			return;
	}
	fail_msg("more than %d statements", NSEEN);
}

static int
trace_stmt(unsigned type, void *ctx, void *p, void *x)
{
	(void)x;
	if (type == SQLITE_TRACE_STMT)
		record_sql(ctx, sqlite3_sql(p));
	return 0;
}

/* EXPLAIN QUERY PLAN of sql, every row's detail in one string. */
static void
plan_of(sqlite3 *sq, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st = NULL;
	char q[2048];
	size_t len = 0;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(sq, q, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = snprintf(out + len, size - len, "%s; ",
		                 (const char *)sqlite3_column_text(st, 3));

		assert_true(k > 0 && (size_t)k < size - len);
		len += (size_t)k;
	}
	sqlite3_finalize(st);
}

/*
 * A page is a range of one index, never a sort of the whole table: every
 * statement a page (any sort, either way, from the start or after a
 * place, with or without a state) and the counts run is read from the
 * database's own query plan.
 */
static void
test_order_list_plans(void **state)
{
	struct fx *fx = *state;
	char *seen[NSEEN] = { 0 }, plan[1024];
	struct db_order_counts c;
	struct db *rd;
	size_t n, nseen = 0, nlists = 0;
	char **all = sort_fixture(fx->db, &n);

	/* reads run on the readers (one is open after this): trace them all */
	rd = db_read_lock(fx->db);
	db_read_unlock(rd);
	for (struct db *r = fx->db; r;
	     r = r == fx->db ? fx->db->readers : r->next)
		assert_int_equal(sqlite3_trace_v2(r->sq, SQLITE_TRACE_STMT,
		                                  trace_stmt, seen),
		                 SQLITE_OK);
	for (int s = 0; s < DB_ORDER_SORT_COUNT; s++) {
		for (int desc = 0; desc < 2; desc++) {
			struct db_order_filter f = { .sort =
				                         (enum db_order_sort)s,
				                     .desc = desc };
			size_t k;
			char **ids = list_walk(fx->db, f, 3, NULL, &k);

			ids_free(ids, k);
			f.state = "deployed";
			ids = list_walk(fx->db, f, 3, NULL, &k);
			ids_free(ids, k);
			f.q = "example";
			ids = list_walk(fx->db, f, 3, NULL, &k);
			ids_free(ids, k);
			f.state = NULL;
			ids = list_walk(fx->db, f, 3, NULL, &k);
			ids_free(ids, k);
		}
	}
	assert_int_equal(db_order_count(fx->db, &sort_filters[0], &c), 0);
	assert_int_equal(db_order_count(fx->db, &sort_filters[4], &c), 0);
	for (struct db *r = fx->db; r;
	     r = r == fx->db ? fx->db->readers : r->next)
		assert_int_equal(sqlite3_trace_v2(r->sq, 0, NULL, NULL),
		                 SQLITE_OK);
	for (size_t i = 0; i < NSEEN && seen[i]; i++) {
		nseen++;
		plan_of(fx->db->sq, seen[i], plan, sizeof(plan));
		if (strstr(seen[i], "count(*)"))
			assert_non_null(strstr(plan, "INDEX"));
		else if (strstr(seen[i], "FROM orders")) {
			nlists++;
			/* a search reads the index, not the rows; the rest
			 * reads an index or the table in seq order */
			if (strstr(seen[i], "instr(") ||
			    !strstr(seen[i], "ORDER BY seq"))
				assert_non_null(strstr(plan, "USING INDEX"));
		}
		if (strstr(plan, "TEMP B-TREE"))
			fail_msg("%s\n  -> %s", seen[i], plan);
		free(seen[i]);
	}
	/* every mix above is its own statement: they were all seen */
	assert_true(nlists >= 5 * 2 * 4);
	assert_true(nseen > nlists);
	ids_free(all, n);
}

static void
test_order_list(void **state)
{
	struct fx *fx = *state;
	static const char *const p1[] = { "o7", "o6", "o5" };
	static const char *const p2[] = { "o4", "o3", "o2" };
	static const char *const p3[] = { "o1" };
	static const char *const drafts[] = { "o7", "o5", "o3", "o1" };
	static const char *const t1[] = { "o6", "o4" };
	static const char *const ex[] = { "o7", "o5", "o3", "o2", "o1" };
	static const char *const draft_ex[] = { "o7", "o5", "o3", "o1" };
	static const char *const ref_t[] = { "o6", "o4", "o3" };
	static const char *const pct[] = { "o4" };
	static const char *const under[] = { "o6" };
	struct db_order_filter f = { .limit = 3, .desc = true };
	struct db_order_pos pos = { .seq = 1 };
	struct db_order_list *l, *bad = NULL;

	order_put(fx->db, "o1", ORDER_DRAFT, "one.EXAMPLE.com", NULL);
	order_put(fx->db, "o2", ORDER_SUBMITTED, "two.example.com", NULL);
	order_put(fx->db, "o3", ORDER_DRAFT, "three.example.com", "T-2");
	order_put(fx->db, "o4", ORDER_SUBMITTED, "100%.other.org", "T-1");
	order_put(fx->db, "o5", ORDER_DRAFT, "five.Example.com", NULL);
	order_put(fx->db, "o6", ORDER_SUBMITTED, "six_x.other.org", "T-1");
	order_put(fx->db, "o7", ORDER_DRAFT, "seven.example.COM", NULL);

	/* Three pages, newest first, the place carrying over. */
	l = list_f(fx->db, &f);
	assert_ids(l, p1, 3);
	assert_true(l->more);
	assert_int_equal(l->next.seq, l->items[2].seq);
	assert_string_equal(l->items[0].common_name, "seven.example.COM");
	assert_int_equal(l->items[0].state, ORDER_DRAFT);
	assert_int_equal(l->items[0].created_at, NOW);
	assert_int_equal(l->items[0].version, 1);
	pos.seq = l->next.seq;
	f.after = &pos;
	db_order_list_free(l);
	l = list_f(fx->db, &f);
	assert_ids(l, p2, 3);
	assert_true(l->more);
	pos.seq = l->next.seq;
	db_order_list_free(l);
	l = list_f(fx->db, &f);
	assert_ids(l, p3, 1);
	assert_false(l->more);
	db_order_list_free(l);

	/* Filters, alone and combined (AND); "" means unset. */
	l = list(fx->db, "draft", "", "", 200);
	assert_ids(l, drafts, 4);
	db_order_list_free(l);
	l = list(fx->db, "draft", NULL, NULL, 4); /* exactly full */
	assert_ids(l, drafts, 4);
	assert_false(l->more);
	db_order_list_free(l);
	l = list(fx->db, NULL, "T-1", NULL, 10);
	assert_ids(l, t1, 2);
	assert_string_equal(l->items[0].external_ref, "T-1");
	db_order_list_free(l);
	l = list(fx->db, NULL, NULL, "eXaMpLe", 10);
	assert_ids(l, ex, 5);
	db_order_list_free(l);
	l = list(fx->db, "draft", NULL, "example", 10);
	assert_ids(l, draft_ex, 4);
	db_order_list_free(l);
	l = list(fx->db, "submitted", "T-2", NULL, 10);
	assert_int_equal(l->count, 0);
	assert_false(l->more);
	db_order_list_free(l);

	/* q matches the external reference as well as the CN */
	l = list(fx->db, NULL, NULL, "t-", 10);
	assert_ids(l, ref_t, 3);
	db_order_list_free(l);

	/* q is a literal substring: no LIKE wildcards. */
	l = list(fx->db, NULL, NULL, "%", 10);
	assert_ids(l, pct, 1);
	db_order_list_free(l);
	l = list(fx->db, NULL, NULL, "_", 10);
	assert_ids(l, under, 1);
	db_order_list_free(l);
	l = list(fx->db, NULL, NULL, "x'); DROP TABLE orders; --", 10);
	assert_int_equal(l->count, 0);
	db_order_list_free(l);
	assert_int_equal(count(fx->db, "orders"), 7);

	/* limit outside 1..200, an unknown sort, a place of another sort */
	f.after = NULL;
	f.limit = 0;
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	f.limit = 201;
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	f.limit = 3;
	f.sort = DB_ORDER_SORT_COUNT;
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	f.after = &pos;
	pos.seq = 0;
	f.sort = DB_ORDER_SORT_CREATED;
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	pos.seq = 3;
	f.sort = DB_ORDER_SORT_CN; /* no text */
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	f.sort = DB_ORDER_SORT_NEEDS_ACTION;
	pos.priority = ORDER_STATE_COUNT;
	assert_int_equal(db_order_list(fx->db, &f, &bad), ERR_INVALID);
	assert_null(bad);
	/* an unknown state matches nothing, in every sort */
	for (int s = 0; s < DB_ORDER_SORT_COUNT; s++) {
		struct db_order_filter g = { .state = "nonsense",
			                     .sort = (enum db_order_sort)s,
			                     .limit = 5 };

		l = list_f(fx->db, &g);
		assert_int_equal(l->count, 0);
		db_order_list_free(l);
	}
}

static void
ids_assert(struct db *db, struct db_order_filter f, const char *const *want,
           size_t n)
{
	size_t got_n;
	char **got = list_walk(db, f, 2, NULL, &got_n);

	assert_int_equal(got_n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
	ids_free(got, got_n);
}

static int64_t
index_count(sqlite3 *sq, const char *name)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(
	    sqlite3_prepare_v2(sq,
	                       "SELECT count(*) FROM sqlite_master "
	                       "WHERE type = 'index' AND name = ?",
	                       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * 4 -> 5: orders written under schema 4 sort by the new keys (virtual
 * columns, so the old rows have them at once), the new indexes exist and
 * the one on state alone is gone (the one on state and seq replaces it).
 */
static void
test_migrate_list_keys(void **state)
{
	struct fx *fx = *state;
	static const char *const by_expiry[] = { "ord_c", "ord_a", "ord_d",
		                                 "ord_b" };
	static const char *const by_cn[] = { "ord_c", "ord_b", "ord_a",
		                             "ord_d" };
	static const char *const by_need[] = { "ord_c", "ord_d", "ord_a",
		                               "ord_b" };
	static const char *const by_updated[] = { "ord_d", "ord_c", "ord_b",
		                                  "ord_a" };
	static const char *const new_idx[] = {
		"orders_seq",          "orders_updated",
		"orders_expiry_key",   "orders_cn",
		"orders_state_seq",    "orders_state_updated",
		"orders_state_expiry", "orders_state_cn",
	};
	struct db_order_filter f = { .sort = DB_ORDER_SORT_EXPIRY };
	struct db_order_counts c;
	struct db *old = NULL;
	int v = -1;

	assert_int_equal(db_open_at(fx->path, 4, &old), 0);
	assert_int_equal(
	    sqlite3_exec(old->sq,
	                 "INSERT INTO orders (id, state, common_name, "
	                 "created_at, updated_at, leaf_not_after, "
	                 "chain_not_after) VALUES "
	                 "('ord_a', 'deployed', 'B.example.com', 1, 5, 300, "
	                 "200), ('ord_b', 'deployed', 'a.example.com', 2, 4, "
	                 "NULL, NULL), ('ord_c', 'renewal_due', NULL, 3, 3, "
	                 "100, 0), ('ord_d', 'issued', 'c.example.com', 4, 2, "
	                 "0, 400)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(index_count(old->sq, "orders_state"), 1);
	db_close(old);

	assert_int_equal(db_open(fx->path, &fx->db), 0);
	assert_int_equal(db_schema_version(fx->db, &v), 0);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	assert_int_equal(index_count(fx->db->sq, "orders_state"), 0);
	for (size_t i = 0; i < sizeof(new_idx) / sizeof(new_idx[0]); i++)
		assert_int_equal(index_count(fx->db->sq, new_idx[i]), 1);
	ids_assert(fx->db, f, by_expiry, 4);
	f.sort = DB_ORDER_SORT_CN;
	ids_assert(fx->db, f, by_cn, 4);
	f.sort = DB_ORDER_SORT_NEEDS_ACTION;
	ids_assert(fx->db, f, by_need, 4);
	f.sort = DB_ORDER_SORT_UPDATED;
	ids_assert(fx->db, f, by_updated, 4);
	assert_int_equal(db_order_count(fx->db, &f, &c), 0);
	assert_int_equal(c.total, 4);
	assert_int_equal(c.by_state[ORDER_DEPLOYED], 2);
	assert_int_equal(c.by_state[ORDER_RENEWAL_DUE], 1);
	assert_int_equal(c.by_state[ORDER_ISSUED], 1);
	/* 5 -> 6: every key stored before was made here */
	{
		struct db_order *o = NULL;

		assert_int_equal(db_order_get(fx->db, "ord_a", &o), 0);
		assert_string_equal(o->key_origin, "generated");
		db_order_free(o);
	}
}

static const struct db_event *
last_event(struct db *db, const char *id, struct db_event_list **keep)
{
	assert_int_equal(db_event_list(db, id, keep), 0);
	assert_true((*keep)->count > 0);
	return &(*keep)->items[(*keep)->count - 1];
}

static void
test_order_update(void **state)
{
	struct fx *fx = *state;
	struct db_order *u = NULL, *g = NULL;
	struct db_event_list *ev = NULL;
	const struct db_event *e;
	struct db_order_patch p = { .notes = "first notes",
		                    .vendor_name = "Sectigo",
		                    .external_ref = NULL,
		                    .set_validity = true,
		                    .vendor_validity_days = 365 };

	order_put(fx->db, "ord_u", ORDER_SUBMITTED, "u.example.com", "REF-1");

	/* Right version: applied, version and updated_at bumped, event. */
	assert_int_equal(
	    db_order_update(fx->db, "ord_u", 1, &p, "bob", NOW + 10, &u), 0);
	assert_int_equal(u->version, 2);
	assert_int_equal(u->updated_at, NOW + 10);
	assert_int_equal(u->created_at, NOW);
	assert_string_equal(u->notes, "first notes");
	assert_string_equal(u->vendor_name, "Sectigo");
	assert_string_equal(u->external_ref, "REF-1"); /* NULL: untouched */
	assert_int_equal(u->vendor_validity_days, 365);
	assert_int_equal(u->state, ORDER_SUBMITTED);
	assert_int_equal(u->san_count, 1);
	db_order_free(u);
	u = NULL;
	e = last_event(fx->db, "ord_u", &ev);
	assert_string_equal(e->type, "updated");
	assert_string_equal(e->actor, "bob");
	assert_string_equal(e->detail,
	                    "notes,vendor_name,vendor_validity_days");
	assert_int_equal(e->at, NOW + 10);
	assert_int_equal(ev->count, 2);
	db_event_list_free(ev);

	/* Wrong version: ERR_PRECONDITION, nothing written. */
	p.notes = "lost update";
	u = (struct db_order *)&u;
	assert_int_equal(
	    db_order_update(fx->db, "ord_u", 1, &p, "eve", NOW + 20, &u),
	    ERR_PRECONDITION);
	assert_ptr_equal(u, &u);
	u = NULL;
	assert_int_equal(db_order_get(fx->db, "ord_u", &g), 0);
	assert_int_equal(g->version, 2);
	assert_int_equal(g->updated_at, NOW + 10);
	assert_string_equal(g->notes, "first notes");
	db_order_free(g);
	g = NULL;
	assert_int_equal(count(fx->db, "events"), 2);

	/* "" clears; a value equal to the stored one is not a change. */
	memset(&p, 0, sizeof(p));
	p.notes = "";
	p.external_ref = "";
	p.vendor_name = "Sectigo";
	assert_int_equal(
	    db_order_update(fx->db, "ord_u", 2, &p, "bob", NOW + 30, &u), 0);
	assert_null(u->notes);
	assert_null(u->external_ref);
	assert_string_equal(u->vendor_name, "Sectigo");
	assert_int_equal(u->version, 3);
	db_order_free(u);
	u = NULL;
	e = last_event(fx->db, "ord_u", &ev);
	assert_string_equal(e->detail, "external_ref,notes");
	db_event_list_free(ev);

	/* Nothing changes: success, no bump, no event. */
	p.set_validity = true;
	p.vendor_validity_days = 365;
	assert_int_equal(
	    db_order_update(fx->db, "ord_u", 0, &p, "bob", NOW + 40, &u), 0);
	assert_int_equal(u->version, 3);
	assert_int_equal(u->updated_at, NOW + 30);
	db_order_free(u);
	u = NULL;
	assert_int_equal(count(fx->db, "events"), 3);

	/* The row on disk agrees with what update returned. */
	assert_int_equal(db_order_get(fx->db, "ord_u", &g), 0);
	assert_int_equal(g->version, 3);
	assert_null(g->notes);
	db_order_free(g);

	assert_int_equal(
	    db_order_update(fx->db, "ord_nope", 0, &p, "bob", NOW, &u),
	    ERR_NOT_FOUND);
	p.vendor_validity_days = -1;
	assert_int_equal(
	    db_order_update(fx->db, "ord_u", 0, &p, "bob", NOW, &u),
	    ERR_INVALID);
	assert_null(u);
}

static void
test_order_transition(void **state)
{
	struct fx *fx = *state;
	struct db_order *u = NULL, *g = NULL;
	struct db_event_list *ev = NULL;
	const struct db_event *e;
	enum order_state cur = ORDER_STATE_COUNT;

	order_put(fx->db, "ord_t", ORDER_DRAFT, "t.example.com", NULL);

	assert_int_equal(db_order_transition(fx->db, "ord_t", ORDER_T_KEY, NULL,
	                                     "carol", "key generated", NOW + 1,
	                                     &u, &cur),
	                 0);
	assert_int_equal(cur, ORDER_STATE_COUNT); /* only set on a conflict */
	assert_int_equal(u->state, ORDER_KEY_READY);
	assert_int_equal(u->version, 2);
	assert_int_equal(u->updated_at, NOW + 1);
	db_order_free(u);
	u = NULL;
	e = last_event(fx->db, "ord_t", &ev);
	assert_string_equal(e->type, "state");
	assert_string_equal(e->actor, "carol");
	assert_string_equal(e->from_state, "draft");
	assert_string_equal(e->to_state, "key_ready");
	assert_string_equal(e->detail, "key generated");
	db_event_list_free(ev);

	/* No verify_pass from key_ready: conflict, current state reported. */
	assert_int_equal(db_order_transition(fx->db, "ord_t",
	                                     ORDER_T_VERIFY_PASS, NULL, "carol",
	                                     NULL, NOW + 2, &u, &cur),
	                 ERR_CONFLICT);
	assert_null(u);
	assert_int_equal(cur, ORDER_KEY_READY);
	/* cur_state and out are optional. */
	assert_int_equal(db_order_transition(fx->db, "ord_t", ORDER_T_KEY, NULL,
	                                     "carol", NULL, NOW + 2, NULL,
	                                     NULL),
	                 ERR_CONFLICT);
	/* A trigger out of range applies nowhere. */
	cur = ORDER_STATE_COUNT;
	assert_int_equal(db_order_transition(fx->db, "ord_t",
	                                     ORDER_TRIGGER_COUNT, NULL, "carol",
	                                     NULL, NOW + 2, &u, &cur),
	                 ERR_CONFLICT);
	assert_null(u);
	assert_int_equal(cur, ORDER_KEY_READY);
	assert_int_equal(db_order_get(fx->db, "ord_t", &g), 0);
	assert_int_equal(g->state, ORDER_KEY_READY);
	assert_int_equal(g->version, 2);
	db_order_free(g);
	g = NULL;
	assert_int_equal(count(fx->db, "events"), 2);

	cur = ORDER_STATE_COUNT;
	assert_int_equal(db_order_transition(fx->db, "ord_none", ORDER_T_CANCEL,
	                                     NULL, "carol", NULL, NOW + 3, &u,
	                                     &cur),
	                 ERR_NOT_FOUND);
	assert_null(u);
	assert_int_equal(cur, ORDER_STATE_COUNT);

	/* A later allowed move, without reason, no out wanted. */
	assert_int_equal(db_order_transition(fx->db, "ord_t", ORDER_T_CANCEL,
	                                     NULL, "dave", NULL, NOW + 4, NULL,
	                                     NULL),
	                 0);
	assert_int_equal(db_order_get(fx->db, "ord_t", &g), 0);
	assert_int_equal(g->state, ORDER_CANCELLED);
	assert_int_equal(g->version, 3);
	db_order_free(g);
	g = NULL;

	/* Cancelled is terminal: every trigger is refused. */
	for (int t = 0; t < ORDER_TRIGGER_COUNT; t++) {
		cur = ORDER_STATE_COUNT;
		assert_int_equal(db_order_transition(
		                     fx->db, "ord_t", (enum order_trigger)t,
		                     NULL, "dave", NULL, NOW + 5, NULL, &cur),
		                 ERR_CONFLICT);
		assert_int_equal(cur, ORDER_CANCELLED);
	}
	assert_int_equal(count(fx->db, "events"), 3);
}

/* A refused move writes nothing: not the patch, not an event. */
static void
test_order_transition_refused_is_atomic(void **state)
{
	struct fx *fx = *state;
	struct db_order_patch p = { .notes = "should not land",
		                    .vendor_name = "Nobody" };
	struct db_order *before = NULL, *g = NULL, *u = NULL;
	struct db_event_list *ev0 = NULL, *ev1 = NULL;
	enum order_state cur = ORDER_STATE_COUNT;

	order_put(fx->db, "ord_r", ORDER_SUBMITTED, "r.example.com", "REF-R");
	assert_int_equal(db_order_get(fx->db, "ord_r", &before), 0);
	assert_int_equal(db_event_list(fx->db, "ord_r", &ev0), 0);

	/* submitted has no deploy: refused with the patch. */
	assert_int_equal(db_order_transition(fx->db, "ord_r", ORDER_T_DEPLOY,
	                                     &p, "mallory", "try", NOW + 9, &u,
	                                     &cur),
	                 ERR_CONFLICT);
	assert_null(u);
	assert_int_equal(cur, ORDER_SUBMITTED);
	/* An allowed move with a patch the schema refuses: rolled back. */
	p.set_validity = true;
	p.vendor_validity_days = -1;
	assert_int_equal(db_order_transition(fx->db, "ord_r", ORDER_T_CANCEL,
	                                     &p, "mallory", "try", NOW + 9, &u,
	                                     NULL),
	                 ERR_INVALID);
	assert_null(u);

	assert_int_equal(db_order_get(fx->db, "ord_r", &g), 0);
	assert_int_equal(g->state, before->state);
	assert_int_equal(g->version, before->version);
	assert_int_equal(g->updated_at, before->updated_at);
	assert_null(g->notes);
	assert_null(g->vendor_name);
	assert_int_equal(g->vendor_validity_days, 0);
	assert_string_equal(g->external_ref, "REF-R");
	db_order_free(g);
	g = NULL;
	assert_int_equal(db_event_list(fx->db, "ord_r", &ev1), 0);
	assert_int_equal(ev1->count, ev0->count);
	for (size_t i = 0; i < ev1->count; i++) {
		assert_int_equal(ev1->items[i].id, ev0->items[i].id);
		assert_string_equal(ev1->items[i].type, ev0->items[i].type);
	}
	db_event_list_free(ev1);
	ev1 = NULL;

	/* The same patch with an allowed move: both land, state first. */
	p.set_validity = false;
	assert_int_equal(db_order_transition(fx->db, "ord_r",
	                                     ORDER_T_UPLOAD_LEAF, &p, "carol",
	                                     "delivered", NOW + 10, &u, &cur),
	                 0);
	assert_int_equal(u->state, ORDER_ISSUED);
	assert_string_equal(u->notes, "should not land");
	assert_string_equal(u->vendor_name, "Nobody");
	assert_true(u->version > before->version);
	assert_int_equal(u->updated_at, NOW + 10);
	db_order_free(u);
	assert_int_equal(db_order_get(fx->db, "ord_r", &g), 0);
	assert_int_equal(g->state, ORDER_ISSUED);
	assert_string_equal(g->notes, "should not land");
	db_order_free(g);
	assert_int_equal(db_event_list(fx->db, "ord_r", &ev1), 0);
	assert_int_equal(ev1->count, ev0->count + 2);
	assert_string_equal(ev1->items[ev0->count].type, "state");
	assert_string_equal(ev1->items[ev0->count].from_state, "submitted");
	assert_string_equal(ev1->items[ev0->count].to_state, "issued");
	assert_string_equal(ev1->items[ev0->count].detail, "delivered");
	assert_string_equal(ev1->items[ev0->count + 1].type, "updated");
	assert_string_equal(ev1->items[ev0->count + 1].detail,
	                    "notes,vendor_name");
	db_event_list_free(ev1);
	db_event_list_free(ev0);
	db_order_free(before);
}

static void
test_event_list(void **state)
{
	struct fx *fx = *state;
	struct db_order_patch p = { .notes = "n" };
	struct db_event_list *ev = NULL;

	order_put(fx->db, "ord_e", ORDER_DRAFT, "e.example.com", NULL);
	order_put(fx->db, "ord_other", ORDER_DRAFT, "x.example.com", NULL);
	assert_int_equal(db_order_transition(fx->db, "ord_e", ORDER_T_KEY, NULL,
	                                     "a", "r1", NOW + 1, NULL, NULL),
	                 0);
	assert_int_equal(
	    db_order_update(fx->db, "ord_e", 0, &p, "b", NOW + 2, NULL), 0);
	assert_int_equal(db_order_transition(fx->db, "ord_e", ORDER_T_SUBMIT,
	                                     NULL, "c", NULL, NOW + 3, NULL,
	                                     NULL),
	                 0);

	assert_int_equal(db_event_list(fx->db, "ord_e", &ev), 0);
	assert_int_equal(ev->count, 4);
	assert_string_equal(ev->items[0].type, "created");
	assert_null(ev->items[0].from_state);
	assert_string_equal(ev->items[0].to_state, "draft");
	assert_string_equal(ev->items[1].type, "state");
	assert_string_equal(ev->items[1].from_state, "draft");
	assert_string_equal(ev->items[1].to_state, "key_ready");
	assert_string_equal(ev->items[1].detail, "r1");
	assert_string_equal(ev->items[2].type, "updated");
	assert_string_equal(ev->items[2].detail, "notes");
	assert_string_equal(ev->items[3].type, "state");
	assert_string_equal(ev->items[3].from_state, "key_ready");
	assert_string_equal(ev->items[3].to_state, "submitted");
	assert_null(ev->items[3].detail);
	for (size_t i = 0; i < ev->count; i++) {
		assert_string_equal(ev->items[i].order_id, "ord_e");
		assert_int_equal(ev->items[i].at, NOW + (int64_t)i);
		if (i > 0)
			assert_true(ev->items[i].id > ev->items[i - 1].id);
	}
	db_event_list_free(ev);
	ev = NULL;

	assert_int_equal(db_event_list(fx->db, "ord_none", &ev), ERR_NOT_FOUND);
	assert_null(ev);
}

static void
test_order_key_get(void **state)
{
	struct fx *fx = *state;
	static const unsigned char key[] = { 0x01, 0x00, 0x00, 0x7f,
		                             0x80, 0xff, 0x00, 0x42 };
	struct db_order *o =
	    order_new("ord_k", ORDER_KEY_READY, "k.example.com");
	unsigned char *ct = NULL;
	size_t len = 0;

	assert_int_equal(
	    db_order_insert(fx->db, o, key, sizeof(key), "t", NULL, NULL, NOW),
	    0);
	assert_int_equal(db_order_key_get(fx->db, "ord_k", &ct, &len), 0);
	assert_int_equal(len, sizeof(key));
	assert_memory_equal(ct, key, sizeof(key));
	free(ct);
	ct = NULL;
	len = 0;

	/* An order around an imported CSR has no key. */
	order_put(fx->db, "ord_nokey", ORDER_KEY_READY, "n.example.com", NULL);
	assert_int_equal(db_order_key_get(fx->db, "ord_nokey", &ct, &len),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_order_key_get(fx->db, "ord_none", &ct, &len),
	                 ERR_NOT_FOUND);
	assert_null(ct);
	assert_int_equal(len, 0);
	db_order_free(o);
}

/* Many threads share one struct db; the mutex keeps transactions apart. */
struct thread_arg {
	struct db *db;
	int n;
	int failures;
};

static void *
insert_thread(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 25; i++) {
		char id[32];
		struct db_order o = { .id = id, .state = ORDER_DRAFT };

		snprintf(id, sizeof(id), "ord_t%d_%d", a->n, i);
		if (db_order_insert(a->db, &o, NULL, 0, "t", NULL, NULL, NOW) !=
		        0 ||
		    db_order_transition(a->db, id, ORDER_T_KEY, NULL, "t", NULL,
		                        NOW, NULL, NULL) != 0)
			a->failures++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx *fx = *state;
	struct thread_arg args[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .db = fx->db, .n = i };
		assert_int_equal(
		    pthread_create(&th[i], NULL, insert_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(count(fx->db, "orders"), 100);
	assert_int_equal(count(fx->db, "events"), 200);
}

/* ---- readers beside the writer ---------------------------------------- */

/* count(*) or one integer of sql on c, or -1 (thread-safe: no cmocka). */
static int64_t
conn_int(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A read section sees one committed state while the writer commits. */
static void
test_read_snapshot(void **state)
{
	struct fx *fx = *state;
	struct db *rd;
	int64_t before;

	order_put(fx->db, "ord_s1", ORDER_DRAFT, "s1.example.com", NULL);
	rd = db_read_lock(fx->db);
	assert_ptr_not_equal(rd, fx->db); /* a reader, not the writer */
	before = raw_int(rd->sq, "SELECT count(*) FROM orders");
	assert_int_equal(before, 1);
	/* the writer commits meanwhile: no wait, and the read does not see it
	 */
	order_put(fx->db, "ord_s2", ORDER_DRAFT, "s2.example.com", NULL);
	assert_int_equal(raw_int(rd->sq, "SELECT count(*) FROM orders"),
	                 before);
	/* and a reader cannot write */
	assert_int_equal(
	    sqlite3_exec(rd->sq, "DELETE FROM orders", NULL, NULL, NULL) & 0xff,
	    SQLITE_READONLY);
	db_read_unlock(rd);
	/* the next read section sees the commit */
	assert_int_equal(count(fx->db, "orders"), before + 1);
}

#define RW_UPDATES 150
#define RW_READERS 4

struct rw_shared {
	struct db *db;
	pthread_mutex_t lock;
	bool done; /* the writer has finished */
	int writer_failures;
};

struct rw_reader {
	struct rw_shared *sh;
	int reads;
	int failures; /* a read that returned an error (SQLITE_BUSY, ...) */
	int torn;     /* a read that saw a state no commit made */
	int stale;    /* a read that went back in time, or missed the end */
	char why[200];
};

static void *
rw_writer(void *p)
{
	struct rw_shared *sh = p;

	for (int k = 1; k <= RW_UPDATES; k++) {
		char notes[16], ref[16], id[32], cn[48];
		char *san[1] = { cn };
		struct db_order_patch pa = { .notes = notes,
			                     .external_ref = ref };
		struct db_order o = { .id = id,
			              .state = ORDER_DRAFT,
			              .common_name = cn,
			              .san = san,
			              .san_count = 1 };

		snprintf(notes, sizeof(notes), "n%d", k);
		snprintf(ref, sizeof(ref), "r%d", k);
		snprintf(id, sizeof(id), "ord_rw%d", k);
		snprintf(cn, sizeof(cn), "rw%d.example.com", k);
		/* two commits: the order's fields together, then a new order */
		if (db_order_update(sh->db, "ord_rw", k, &pa, "w", NOW + k,
		                    NULL) != 0 ||
		    db_order_insert(sh->db, &o, NULL, 0, "w", NULL, NULL,
		                    NOW) != 0)
			sh->writer_failures++;
	}
	pthread_mutex_lock(&sh->lock);
	sh->done = true;
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/* One round of reads; false (with why) on the first thing wrong. */
static bool
rw_read_round(struct rw_reader *r, int64_t *last_version, int64_t *last_count,
              bool final)
{
	struct db *db = r->sh->db, *rd;
	struct db_order *o = NULL;
	struct db_event_list *ev = NULL;
	char want[32];
	int64_t v, n, events, orders;
	int ret;

	r->reads++;
	ret = db_order_get(db, "ord_rw", &o);
	if (ret != 0) {
		r->failures++;
		snprintf(r->why, sizeof(r->why), "order_get: %d", ret);
		return false;
	}
	v = o->version;
	snprintf(want, sizeof(want), "n%lld", (long long)(v - 1));
	if (v > 1 &&
	    (!o->notes || strcmp(o->notes, want) != 0 || !o->external_ref ||
	     strcmp(o->external_ref + 1, want + 1) != 0)) {
		r->torn++;
		snprintf(r->why, sizeof(r->why), "version %lld with %s/%s",
		         (long long)v, o->notes ? o->notes : "-",
		         o->external_ref ? o->external_ref : "-");
	}
	db_order_free(o);
	if (v < *last_version || (final && v != RW_UPDATES + 1)) {
		r->stale++;
		snprintf(r->why, sizeof(r->why), "version %lld after %lld%s",
		         (long long)v, (long long)*last_version,
		         final ? " (final)" : "");
	}
	*last_version = v;

	/* the created event and one per update: at least v by now */
	ret = db_event_list(db, "ord_rw", &ev);
	if (ret != 0) {
		r->failures++;
		snprintf(r->why, sizeof(r->why), "event_list: %d", ret);
		return false;
	}
	if ((int64_t)ev->count < v) {
		r->stale++;
		snprintf(r->why, sizeof(r->why), "%zu events at version %lld",
		         ev->count, (long long)v);
	}
	db_event_list_free(ev);

	/* several statements in one read section: one committed state */
	rd = db_read_lock(db);
	n = conn_int(rd->sq, "SELECT version FROM orders WHERE id = 'ord_rw'");
	sched_yield();
	events = conn_int(rd->sq, "SELECT count(*) FROM events WHERE "
	                          "order_id = 'ord_rw'");
	orders = conn_int(rd->sq, "SELECT count(*) FROM orders");
	sched_yield();
	if (conn_int(rd->sq, "SELECT count(*) FROM orders") != orders ||
	    events != n) {
		r->torn++;
		snprintf(r->why, sizeof(r->why),
		         "one section: version %lld, %lld events", (long long)n,
		         (long long)events);
	}
	db_read_unlock(rd);
	if (n < 0 || events < 0 || orders < 0) {
		r->failures++;
		snprintf(r->why, sizeof(r->why), "a statement failed");
		return false;
	}

	ret = db_count(db, "orders", &n);
	if (ret != 0) {
		r->failures++;
		snprintf(r->why, sizeof(r->why), "count: %d", ret);
		return false;
	}
	if (n < *last_count || (final && n != RW_UPDATES + 1)) {
		r->stale++;
		snprintf(r->why, sizeof(r->why), "%lld orders after %lld",
		         (long long)n, (long long)*last_count);
	}
	*last_count = n;
	return true;
}

static void *
rw_reader_main(void *p)
{
	struct rw_reader *r = p;
	int64_t last_version = 0, last_count = 0;
	bool done = false;

	while (!done) {
		pthread_mutex_lock(&r->sh->lock);
		done = r->sh->done;
		pthread_mutex_unlock(&r->sh->lock);
		if (!rw_read_round(r, &last_version, &last_count, done))
			break;
	}
	return NULL;
}

/*
 * Readers on their own connections beside one writer: every read
 * succeeds (no SQLITE_BUSY comes out as an error), sees only committed
 * states, never goes back in time, and sees the last commit at the end.
 */
static void
test_readers_beside_writer(void **state)
{
	struct fx *fx = *state;
	struct rw_shared sh = { .db = fx->db };
	struct rw_reader r[RW_READERS];
	pthread_t rt[RW_READERS], wt;

	order_put(fx->db, "ord_rw", ORDER_DRAFT, "rw.example.com", NULL);
	pthread_mutex_init(&sh.lock, NULL);
	for (int i = 0; i < RW_READERS; i++) {
		r[i] = (struct rw_reader){ .sh = &sh };
		assert_int_equal(
		    pthread_create(&rt[i], NULL, rw_reader_main, &r[i]), 0);
	}
	assert_int_equal(pthread_create(&wt, NULL, rw_writer, &sh), 0);
	assert_int_equal(pthread_join(wt, NULL), 0);
	for (int i = 0; i < RW_READERS; i++)
		assert_int_equal(pthread_join(rt[i], NULL), 0);
	pthread_mutex_destroy(&sh.lock);
	assert_int_equal(sh.writer_failures, 0);
	for (int i = 0; i < RW_READERS; i++) {
		if (r[i].failures || r[i].torn || r[i].stale)
			fail_msg("reader %d: %d failed, %d torn, %d stale: %s",
			         i, r[i].failures, r[i].torn, r[i].stale,
			         r[i].why);
		assert_true(r[i].reads >= 1);
	}
}

/* ---- tokens ----------------------------------------------------------- */

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"

static struct db_token *
token_find(struct db_token_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	}
	fail_msg("token %s not listed", id);
	return NULL;
}

static int64_t
token_last_used(struct db *db, const char *id)
{
	struct db_token_list *l = NULL;
	int64_t v;

	assert_int_equal(db_token_list(db, &l), 0);
	v = token_find(l, id)->last_used_at;
	db_token_list_free(l);
	return v;
}

static void
test_tokens(void **state)
{
	struct fx *fx = *state;
	struct db_token *t = NULL;
	struct db_token_list *l = NULL;
	int64_t n = -1;

	assert_int_equal(db_token_count_admin(fx->db, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db_token_insert(fx->db, "tok_1", "ci", H1, false, NOW),
	                 0);
	assert_int_equal(
	    db_token_insert(fx->db, "tok_2", "admin", H2, true, NOW + 1), 0);
	assert_int_equal(db_token_count_admin(fx->db, &n), 0);
	assert_int_equal(n, 1);

	/* A live name, an id or a hash can't be taken twice. */
	assert_int_equal(db_token_insert(fx->db, "tok_3", "ci", H3, false, NOW),
	                 ERR_CONFLICT);
	assert_int_equal(
	    db_token_insert(fx->db, "tok_3", "other", H1, false, NOW),
	    ERR_CONFLICT);
	assert_int_equal(
	    db_token_insert(fx->db, "tok_1", "other", H3, false, NOW),
	    ERR_CONFLICT);
	assert_int_equal(db_token_insert(fx->db, "tok_3", "", H3, false, NOW),
	                 ERR_INVALID);
	assert_int_equal(count(fx->db, "api_tokens"), 2);

	/* Lookup by hash; last_used_at written at most once a minute. */
	assert_int_equal(token_last_used(fx->db, "tok_1"), 0);
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 100, &t), 0);
	assert_string_equal(t->id, "tok_1");
	assert_string_equal(t->name, "ci");
	assert_false(t->is_admin);
	assert_false(t->revoked);
	assert_int_equal(t->created_at, NOW);
	assert_int_equal(t->last_used_at, NOW + 100);
	db_token_free(t);
	t = NULL;
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 159, &t), 0);
	assert_int_equal(t->last_used_at, NOW + 100);
	db_token_free(t);
	t = NULL;
	assert_int_equal(token_last_used(fx->db, "tok_1"), NOW + 100);
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 160, &t), 0);
	assert_int_equal(t->last_used_at, NOW + 160);
	db_token_free(t);
	t = NULL;
	assert_int_equal(token_last_used(fx->db, "tok_1"), NOW + 160);
	assert_int_equal(db_token_lookup(fx->db, H3, NOW, &t), ERR_NOT_FOUND);
	assert_null(t);

	/* List: every token, oldest first. */
	assert_int_equal(db_token_list(fx->db, &l), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[0].id, "tok_1");
	assert_string_equal(l->items[1].id, "tok_2");
	assert_true(l->items[1].is_admin);
	assert_int_equal(l->items[1].last_used_at, 0);
	db_token_list_free(l);
	l = NULL;

	/* Revoke: gone for lookup, still listed, name free again. */
	assert_int_equal(db_token_revoke(fx->db, "tok_1", NOW + 200), 0);
	assert_int_equal(db_token_revoke(fx->db, "tok_1", NOW + 201),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_token_revoke(fx->db, "tok_none", NOW + 201),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 300, &t),
	                 ERR_NOT_FOUND);
	assert_null(t);
	assert_int_equal(
	    db_token_insert(fx->db, "tok_3", "ci", H3, false, NOW + 300), 0);
	assert_int_equal(db_token_list(fx->db, &l), 0);
	assert_int_equal(l->count, 3);
	assert_true(token_find(l, "tok_1")->revoked);
	assert_false(token_find(l, "tok_3")->revoked);
	db_token_list_free(l);
	assert_int_equal(db_token_lookup(fx->db, H3, NOW + 300, &t), 0);
	assert_string_equal(t->id, "tok_3");
	db_token_free(t);

	assert_int_equal(db_token_revoke(fx->db, "tok_2", NOW + 400), 0);
	assert_int_equal(db_token_count_admin(fx->db, &n), 0);
	assert_int_equal(n, 0);
}

struct span_peek {
	struct db *db;
	int64_t orders;
};

static void *
span_peek(void *p)
{
	struct span_peek *sp = p;

	sp->orders = count(sp->db, "orders");
	return NULL;
}

/*
 * db_read_begin: the reads of a span share one reader and one transaction
 * (a commit made meanwhile is not seen in it, but is by other threads and
 * by the first read after db_read_end); spans nest; a token lookup in a
 * span still records last_used_at, and sees a revocation committed before
 * the span began.
 */
static void
test_read_span(void **state)
{
	struct fx *fx = *state;
	struct span_peek sp = { fx->db, -1 };
	struct db_order *o = NULL;
	struct db_token *t = NULL;
	struct db *rd, *rd2;
	pthread_t th;

	order_put(fx->db, "ord_p1", ORDER_DRAFT, "p1.example.com", NULL);
	assert_int_equal(db_token_insert(fx->db, "tok_1", "ci", H1, false, NOW),
	                 0);
	assert_int_equal(db_read_begin(fx->db), 0);
	assert_int_equal(count(fx->db, "orders"), 1);
	rd = db_read_lock(fx->db);
	rd2 = db_read_lock(fx->db);
	assert_ptr_not_equal(rd, fx->db);
	assert_ptr_equal(rd, rd2); /* the span's reader, again */
	db_read_unlock(rd2);
	db_read_unlock(rd);

	order_put(fx->db, "ord_p2", ORDER_DRAFT, "p2.example.com", NULL);
	assert_int_equal(count(fx->db, "orders"), 1);
	assert_int_equal(db_order_get(fx->db, "ord_p2", &o), ERR_NOT_FOUND);
	/* another thread is not in the span */
	assert_int_equal(pthread_create(&th, NULL, span_peek, &sp), 0);
	pthread_join(th, NULL);
	assert_int_equal(sp.orders, 2);
	/* nested: the inner end does not end the span */
	assert_int_equal(db_read_begin(fx->db), 0);
	db_read_end(fx->db);
	assert_int_equal(count(fx->db, "orders"), 1);
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 100, &t), 0);
	assert_string_equal(t->id, "tok_1");
	db_token_free(t);
	t = NULL;
	db_read_end(fx->db);

	assert_int_equal(count(fx->db, "orders"), 2);
	assert_int_equal(db_order_get(fx->db, "ord_p2", &o), 0);
	db_order_free(o);
	assert_int_equal(token_last_used(fx->db, "tok_1"), NOW + 100);

	assert_int_equal(db_token_revoke(fx->db, "tok_1", NOW + 200), 0);
	assert_int_equal(db_read_begin(fx->db), 0);
	assert_int_equal(db_token_lookup(fx->db, H1, NOW + 300, &t),
	                 ERR_NOT_FOUND);
	assert_null(t);
	db_read_end(fx->db);
	db_read_end(fx->db); /* one end too many: nothing happens */

	/* only on the database, not on one of its readers */
	assert_int_equal(db_read_begin(NULL), ERR_INVALID);
	rd = db_read_lock(fx->db);
	assert_int_equal(db_read_begin(rd), ERR_INVALID);
	db_read_unlock(rd);
}

static void
test_count_allowlist(void **state)
{
	struct fx *fx = *state;
	static const char *const bad[] = {
		"sqlite_master", "orders; DROP TABLE orders", "ORDERS", "",
		"orders ",
	};
	int64_t n = -7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(db_count(fx->db, bad[i], &n), ERR_INVALID);
	assert_int_equal(db_count(fx->db, NULL, &n), ERR_INVALID);
	assert_int_equal(n, -7);
	order_put(fx->db, "ord_c", ORDER_DRAFT, "c.example.com", NULL);
	assert_int_equal(count(fx->db, "orders"), 1);
	assert_int_equal(count(fx->db, "order_sans"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_fresh, setup_dir,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_open_reopen_is_noop,
		                                setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_newer_schema_refused,
		                                setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_database,
		                                setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_open_file_mode, setup_dir,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_roundtrip, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    test_order_insert_conflict_is_atomic, setup_db, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_list, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_list_sorts, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_list_stable,
		                                setup_db, teardown),
		cmocka_unit_test_setup_teardown(test_order_count, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_list_plans, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_migrate_list_keys,
		                                setup_dir, teardown),
		cmocka_unit_test_setup_teardown(test_order_update, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_transition, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    test_order_transition_refused_is_atomic, setup_db,
		    teardown),
		cmocka_unit_test_setup_teardown(test_event_list, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_order_key_get, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_read_snapshot, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_readers_beside_writer,
		                                setup_db, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_read_span, setup_db,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_count_allowlist, setup_db,
		                                teardown),
	};

	/* Expected failures log at info/error; keep the output readable. */
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
