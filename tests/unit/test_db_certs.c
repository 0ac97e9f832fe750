/*
 * Unit tests of db/ certificates, uploads, verifications and the expiry
 * sweep, and of the migration from every earlier schema version.
 */
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
#include <sys/stat.h>
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

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/amtc-dbc-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
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
make_order(struct db *db, const char *id, enum order_state state)
{
	char *sans[] = { (char *)"a.example.com" };
	struct db_order o = { 0 };

	o.id = (char *)id;
	o.state = state;
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

/* One integer a query returns (tables db_count does not list). */
static int64_t
raw_int(struct db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db->sq, sql, -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
raw_exec(struct db *db, const char *sql)
{
	assert_int_equal(sqlite3_exec(db->sq, sql, NULL, NULL, NULL),
	                 SQLITE_OK);
}

/* The data column of one upload, as stored. */
static void
assert_upload_data(struct db *db, const char *id, const void *want, size_t len,
                   int sealed)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(
	    sqlite3_prepare_v2(db->sq,
	                       "SELECT data, sealed FROM uploads WHERE id = ?",
	                       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(st, 0), len);
	assert_memory_equal(sqlite3_column_blob(st, 0), want, len);
	assert_int_equal(sqlite3_column_int(st, 1), sealed);
	sqlite3_finalize(st);
}

/* Row counts of every table an upload may write to. */
struct counts {
	int64_t uploads, certificates, links, events, keys, version;
};

static struct counts
counts_of(struct db *db, const char *order_id)
{
	struct counts c = { 0 };
	struct db_order *o = NULL;

	c.uploads = raw_int(db, "SELECT count(*) FROM uploads");
	c.certificates = raw_int(db, "SELECT count(*) FROM certificates");
	c.links = raw_int(db, "SELECT count(*) FROM order_certificates");
	c.events = raw_int(db, "SELECT count(*) FROM events");
	c.keys = raw_int(db, "SELECT count(*) FROM order_keys");
	assert_int_equal(db_order_get(db, order_id, &o), 0);
	c.version = o->version;
	db_order_free(o);
	return c;
}

static void
assert_counts_equal(struct counts a, struct counts b)
{
	assert_int_equal(a.uploads, b.uploads);
	assert_int_equal(a.certificates, b.certificates);
	assert_int_equal(a.links, b.links);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.keys, b.keys);
	assert_int_equal(a.version, b.version);
}

/* A JSON report as core/ writes it: chain[] leaf first, with sha256. */
#define REPORT_WITH_CHAIN                                                 \
	"{\"overall\":\"pass\",\"chain\":[{\"subject\":\"CN=leaf\","      \
	"\"sha256\":\"aa11\",\"role\":\"leaf\"},{\"subject\":\"CN=ica\"," \
	"\"sha256\":\"bb22\",\"role\":\"intermediate\"},{\"subject\":"    \
	"\"CN=root\",\"sha256\":\"cc33\",\"role\":\"root\"}],\"checks\":[]}"

/* The three orders of every old version, listed by CN. */
static void
assert_list_by_cn(struct db *db)
{
	static const char *const ids[] = { "ord_badjson", "ord_nochain",
		                           "ord_old" };
	struct db_order_filter f = { .sort = DB_ORDER_SORT_CN, .limit = 10 };
	struct db_order_list *l = NULL;

	assert_int_equal(db_order_list(db, &f, &l), 0);
	assert_int_equal(l->count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(l->items[i].id, ids[i]);
	db_order_list_free(l);
}

/*
 * Every earlier version migrates to the current one, keeping its rows.
 * From version 2 on there are reports and uploads: 3 -> 4 fills
 * verifications.chain from the report's chain[].sha256 (from version 4
 * on, the rows carry it as written) and marks the uploads as not sealed;
 * 4 -> 5 gives every order the order list's sort keys.
 */
static void
test_migrate_from_every_version(void **state)
{
	struct fx *f = *state;

	for (int v = 0; v < DB_SCHEMA_VERSION; v++) {
		struct db *old = NULL;
		struct db_order *o = NULL;
		char *text = NULL;
		int version = -1;

		unlink(f->path);
		assert_int_equal(db_open_at(f->path, v, &old), 0);
		assert_int_equal(db_schema_version(old, &version), 0);
		assert_int_equal(version, v);
		if (v >= 1) /* rows written by that version's schema */
			raw_exec(old,
			         "INSERT INTO orders (id, state, "
			         "common_name, created_at, updated_at) "
			         "VALUES ('ord_old', 'key_ready', "
			         "'old.example.com', 1, 1), ('ord_nochain', "
			         "'issued', 'n.example.com', 1, 1), "
			         "('ord_badjson', 'issued', "
			         "'b.example.com', 1, 1)");
		if (v >= 2) {
			/* the newest report of ord_old is the one that counts
			 */
			raw_exec(
			    old,
			    "INSERT INTO verifications (order_id, "
			    "evaluated_at, overall, report, actor, "
			    "created_at) VALUES ('ord_old', 1, 'fail', "
			    "'{\"chain\":[{\"sha256\":\"0ld\"}]}', 't', 1), "
			    "('ord_old', 2, 'pass', '" REPORT_WITH_CHAIN
			    "', 't', 2), ('ord_nochain', 3, 'warn', "
			    "'{\"overall\":\"warn\"}', 't', 3), "
			    "('ord_badjson', 4, 'fail', 'not json [', 't', "
			    "4)");
			raw_exec(old,
			         "INSERT INTO uploads (id, order_id, "
			         "filename, media_type, size, sha256, data, "
			         "actor, created_at) VALUES ('upl_old', "
			         "'ord_old', 'd.pem', 'text/plain', 5, 'h', "
			         "x'636c656172', 't', 1)");
		}
		if (v >= 4) /* schema 4 writes the chosen chain itself */
			raw_exec(old, "UPDATE verifications SET chain = CASE "
			              "evaluated_at WHEN 1 THEN '0ld' WHEN 2 "
			              "THEN 'aa11 bb22 cc33' END");
		db_close(old);
		assert_int_equal(db_open(f->path, &f->db), 0);
		assert_int_equal(db_schema_version(f->db, &version), 0);
		assert_int_equal(version, DB_SCHEMA_VERSION);
		if (v >= 1) {
			assert_int_equal(db_order_get(f->db, "ord_old", &o), 0);
			assert_string_equal(o->common_name, "old.example.com");
			assert_int_equal(o->state, ORDER_KEY_READY);
			assert_null(o->leaf_sha256);
			db_order_free(o);
			assert_list_by_cn(f->db);
		}
		if (v >= 2) {
			assert_int_equal(
			    db_verification_chain(f->db, "ord_old", &text), 0);
			assert_string_equal(text, "aa11 bb22 cc33");
			free(text);
			text = NULL;
			assert_int_equal(
			    db_verification_latest(f->db, "ord_old", &text), 0);
			assert_string_equal(text, REPORT_WITH_CHAIN);
			free(text);
			text = NULL;
			assert_int_equal(
			    raw_int(f->db, "SELECT count(*) FROM verifications "
			                   "WHERE chain = '0ld'"),
			    1);
			/* no chain[], or no JSON at all: no chain */
			assert_int_equal(
			    db_verification_chain(f->db, "ord_nochain", &text),
			    ERR_NOT_FOUND);
			assert_int_equal(
			    db_verification_chain(f->db, "ord_badjson", &text),
			    ERR_NOT_FOUND);
			assert_null(text);
			assert_int_equal(
			    db_verification_latest(f->db, "ord_badjson", &text),
			    0);
			assert_string_equal(text, "not json [");
			free(text);
			/* an upload from before sealing: stored, not sealed */
			assert_upload_data(f->db, "upl_old", "clear", 5, 0);
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
	static const unsigned char data[] = "raw";
	struct db_upload up = { .id = "upl_1",
		                .filename = "d.zip",
		                .media_type = "application/zip",
		                .data = data,
		                .len = 3,
		                .size = 1234,
		                .sha256 = "h",
		                .sealed = true };
	struct db_cert certs[2] = { cert("aa", false), cert("bb", true) };
	struct db_order_upload u = { 0 };
	struct db_cert_list *l = NULL;
	struct db_order *o = NULL;
	struct db_event_list *ev = NULL;
	enum order_state st = ORDER_STATE_COUNT;
	bool moved = false;
	int64_t n0 = 0, n1 = 0;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_1", ORDER_KEY_READY);
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
	u.detail = "2 certificates";
	assert_int_equal(db_count(f->db, "events", &n0), 0);
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_1", &u, "t", 200, &st, &moved),
	    0);
	/* key_ready + upload_leaf -> issued */
	assert_int_equal(st, ORDER_ISSUED);
	assert_true(moved);
	assert_int_equal(db_order_get(f->db, "ord_1", &o), 0);
	assert_int_equal(o->state, ORDER_ISSUED);
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
	assert_int_equal(db_event_list(f->db, "ord_1", &ev), 0);
	assert_string_equal(ev->items[ev->count - 2].type, "upload");
	assert_string_equal(ev->items[ev->count - 2].detail, "2 certificates");
	assert_string_equal(ev->items[ev->count - 1].type, "state");
	assert_string_equal(ev->items[ev->count - 1].from_state, "key_ready");
	assert_string_equal(ev->items[ev->count - 1].to_state, "issued");
	db_event_list_free(ev);
	/* size and sealed are stored as given */
	assert_int_equal(
	    raw_int(f->db, "SELECT size FROM uploads WHERE id = 'upl_1'"),
	    1234);
	assert_upload_data(f->db, "upl_1", "raw", 3, 1);

	/* a failing write leaves nothing: the upload id exists already */
	certs[0].sha256 = (char *)"cc";
	assert_int_not_equal(
	    db_order_upload_apply(f->db, "ord_1", &u, "t", 300, &st, &moved),
	    0);
	assert_int_equal(db_order_certs(f->db, "ord_1", &l), 0);
	assert_int_equal(l->count, 2);
	db_cert_list_free(l);
	assert_int_equal(db_count(f->db, "events", &n0), 0);
	assert_int_equal(n0, n1);
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_nope", &u, "t", 300, &st, &moved),
	    ERR_NOT_FOUND);
}

/*
 * A later state takes deliveries but has no upload_leaf move: the files,
 * the certificates, the leaf and one "upload" event are stored, and the
 * state stays.
 */
static void
test_upload_apply_ready_keeps_state(void **state)
{
	struct fx *f = *state;
	static const unsigned char data[] = "reissue";
	struct db_upload up = { .id = "upl_r",
		                .filename = "r.p7b",
		                .media_type = "application/pkcs7-mime",
		                .data = data,
		                .len = 7,
		                .size = 7,
		                .sha256 = "hr",
		                .sealed = true };
	struct db_cert certs[2] = { cert("dd", false), cert("ee", true) };
	struct db_order_upload u = { .uploads = &up,
		                     .nuploads = 1,
		                     .certs = certs,
		                     .ncerts = 2,
		                     .leaf_sha256 = "dd",
		                     .detail = "reissued" };
	struct db_cert_list *l = NULL;
	struct db_order *o = NULL;
	struct db_event_list *ev = NULL;
	enum order_state st = ORDER_STATE_COUNT;
	bool moved = true;
	struct counts c0, c1;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_r", ORDER_READY);
	certs[0].role = (char *)"leaf";
	certs[0].upload_id = (char *)"upl_r";
	certs[1].role = (char *)"intermediate";
	certs[1].upload_id = (char *)"upl_r";
	c0 = counts_of(f->db, "ord_r");
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_r", &u, "t", 200, &st, &moved),
	    0);
	assert_int_equal(st, ORDER_READY);
	assert_false(moved);
	c1 = counts_of(f->db, "ord_r");
	assert_int_equal(c1.uploads, c0.uploads + 1);
	assert_int_equal(c1.certificates, c0.certificates + 2);
	assert_int_equal(c1.links, c0.links + 2);
	assert_int_equal(c1.events, c0.events + 1); /* no "state" event */
	assert_upload_data(f->db, "upl_r", "reissue", 7, 1);
	assert_int_equal(db_order_get(f->db, "ord_r", &o), 0);
	assert_int_equal(o->state, ORDER_READY);
	assert_string_equal(o->leaf_sha256, "dd");
	db_order_free(o);
	assert_int_equal(db_order_certs(f->db, "ord_r", &l), 0);
	assert_int_equal(l->count, 2);
	db_cert_list_free(l);
	assert_int_equal(db_event_list(f->db, "ord_r", &ev), 0);
	assert_string_equal(ev->items[ev->count - 1].type, "upload");
	assert_string_equal(ev->items[ev->count - 1].detail, "reissued");
	assert_null(ev->items[ev->count - 1].to_state);
	db_event_list_free(ev);
}

/* A terminal order takes no delivery: ERR_CONFLICT and nothing stored. */
static void
test_upload_apply_terminal_refused(void **state)
{
	struct fx *f = *state;
	static const enum order_state closed[] = { ORDER_CANCELLED,
		                                   ORDER_EXPIRED,
		                                   ORDER_REVOKED };
	static const char *const ids[] = { "ord_c", "ord_e", "ord_x" };
	static const unsigned char data[] = "late", key[] = { 1, 2, 3 };
	struct db_upload up = { .id = "upl_late",
		                .filename = "late.pem",
		                .media_type = "application/x-pem-file",
		                .data = data,
		                .len = 4,
		                .size = 4,
		                .sha256 = "hl",
		                .sealed = true };
	struct db_cert certs[1] = { cert("ff", false) };
	struct db_order_upload u = { .uploads = &up,
		                     .nuploads = 1,
		                     .certs = certs,
		                     .ncerts = 1,
		                     .leaf_sha256 = "ff",
		                     .sealed_key = key,
		                     .sealed_key_len = sizeof(key),
		                     .detail = "too late" };

	assert_int_equal(db_open(f->path, &f->db), 0);
	certs[0].role = (char *)"leaf";
	certs[0].upload_id = (char *)"upl_late";
	for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++) {
		struct db_order *o = NULL;
		struct counts c0;
		enum order_state st = ORDER_STATE_COUNT;
		bool moved = true;

		make_order(f->db, ids[i], closed[i]);
		c0 = counts_of(f->db, ids[i]);
		assert_int_equal(db_order_upload_apply(f->db, ids[i], &u, "t",
		                                       200, &st, &moved),
		                 ERR_CONFLICT);
		assert_counts_equal(counts_of(f->db, ids[i]), c0);
		assert_int_equal(db_order_get(f->db, ids[i], &o), 0);
		assert_int_equal(o->state, closed[i]);
		assert_null(o->leaf_sha256);
		assert_false(o->has_key);
		db_order_free(o);
	}
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM uploads"), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM certificates"),
	                 0);
}

/* Links aa (leaf), bb (intermediate), cc (root) to an issued order. */
static void
issued_with_chain(struct db *db, const char *id)
{
	static const unsigned char data[] = "chain";
	struct db_upload up = { .id = "upl_d",
		                .filename = "c.pem",
		                .media_type = "application/x-pem-file",
		                .data = data,
		                .len = 5,
		                .size = 5,
		                .sha256 = "hd",
		                .sealed = true };
	struct db_cert certs[3] = { cert("aa", false), cert("bb", true),
		                    cert("cc", true) };
	struct db_order_upload u = { .uploads = &up,
		                     .nuploads = 1,
		                     .certs = certs,
		                     .ncerts = 3,
		                     .leaf_sha256 = "aa",
		                     .detail = "chain" };
	enum order_state st;
	bool moved;

	certs[0].role = (char *)"leaf";
	certs[1].role = (char *)"intermediate";
	certs[2].role = (char *)"root";
	make_order(db, id, ORDER_SUBMITTED);
	assert_int_equal(
	    db_order_upload_apply(db, id, &u, "t", 200, &st, &moved), 0);
	assert_int_equal(st, ORDER_ISSUED);
}

static bool
linked(struct db *db, const char *id, const char *sha)
{
	struct db_cert_list *l = NULL;
	bool found = false;

	assert_int_equal(db_order_certs(db, id, &l), 0);
	for (size_t i = 0; i < l->count; i++)
		found = found || strcmp(l->items[i].sha256, sha) == 0;
	db_cert_list_free(l);
	return found;
}

static void
test_cert_detach(void **state)
{
	struct fx *f = *state;
	struct db_event_list *ev = NULL;
	struct db_order *o = NULL;
	struct counts c0, c1;
	char *role = NULL;

	assert_int_equal(db_open(f->path, &f->db), 0);
	issued_with_chain(f->db, "ord_d");
	c0 = counts_of(f->db, "ord_d");

	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_d", "bb", "erin", 300, &role), 0);
	assert_non_null(role);
	assert_string_equal(role, "intermediate");
	free(role);
	role = NULL;
	assert_false(linked(f->db, "ord_d", "bb"));
	assert_true(linked(f->db, "ord_d", "aa"));
	assert_true(linked(f->db, "ord_d", "cc"));
	c1 = counts_of(f->db, "ord_d");
	assert_int_equal(c1.links, c0.links - 1);
	assert_int_equal(c1.certificates, c0.certificates); /* only the link */
	assert_int_equal(c1.events, c0.events + 1);
	assert_true(c1.version > c0.version);
	assert_int_equal(db_event_list(f->db, "ord_d", &ev), 0);
	assert_string_equal(ev->items[ev->count - 1].type,
	                    "certificate_detached");
	assert_string_equal(ev->items[ev->count - 1].actor, "erin");
	assert_int_equal(ev->items[ev->count - 1].at, 300);
	assert_non_null(strstr(ev->items[ev->count - 1].detail, "bb"));
	db_event_list_free(ev);
	ev = NULL;
	assert_int_equal(db_order_get(f->db, "ord_d", &o), 0);
	assert_int_equal(o->state, ORDER_ISSUED);
	db_order_free(o);

	/* no such link (any more), no such order */
	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_d", "bb", "erin", 301, &role),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_d", "zz", "erin", 301, NULL),
	    ERR_NOT_FOUND);
	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_none", "cc", "erin", 301, &role),
	    ERR_NOT_FOUND);
	assert_null(role);
	assert_counts_equal(counts_of(f->db, "ord_d"), c1);

	/* the order's current leaf stays */
	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_d", "aa", "erin", 302, &role),
	    ERR_CONFLICT);
	assert_null(role);
	assert_true(linked(f->db, "ord_d", "aa"));
	assert_counts_equal(counts_of(f->db, "ord_d"), c1);

	/* a terminal order is left as it was */
	assert_int_equal(db_order_transition(f->db, "ord_d", ORDER_T_CANCEL,
	                                     NULL, "erin", NULL, 303, NULL,
	                                     NULL),
	                 0);
	c1 = counts_of(f->db, "ord_d");
	assert_int_equal(
	    db_order_cert_detach(f->db, "ord_d", "cc", "erin", 304, &role),
	    ERR_CONFLICT);
	assert_null(role);
	assert_true(linked(f->db, "ord_d", "cc"));
	assert_counts_equal(counts_of(f->db, "ord_d"), c1);
}

/* The seal callback of the tests: "S(" data ")", and what it was given. */
struct seal_arg {
	size_t calls;
	int fail; /* returned instead of sealing when not 0 */
	char seen[4][16];
};

static int
seal_fn(void *arg, const char *order_id, const unsigned char *data, size_t len,
        unsigned char **sealed, size_t *sealed_len)
{
	struct seal_arg *a = arg;
	unsigned char *out;

	assert_string_equal(order_id, "ord_s");
	if (a->calls < 4 && len < sizeof(a->seen[0])) {
		memcpy(a->seen[a->calls], data, len);
		a->seen[a->calls][len] = '\0';
	}
	a->calls++;
	if (a->fail)
		return a->fail;
	if (a->calls > 8) /* the same rows again and again: stop the loop */
		return ERR_BUSY;
	out = malloc(len + 3);
	assert_non_null(out);
	out[0] = 'S';
	out[1] = '(';
	memcpy(out + 2, data, len);
	out[len + 2] = ')';
	*sealed = out;
	*sealed_len = len + 3;
	return 0;
}

static void
test_uploads_seal_clear(void **state)
{
	struct fx *f = *state;
	static const unsigned char one[] = "one", two[] = "two!",
	                           done[] = "SEALED", four[] = "four";
	struct db_upload ups[3] = {
		{ .id = "upl_1",
		  .data = one,
		  .len = 3,
		  .size = 3,
		  .sha256 = "h1",
		  .sealed = false },
		{ .id = "upl_2",
		  .data = two,
		  .len = 4,
		  .size = 4,
		  .sha256 = "h2",
		  .sealed = false },
		{ .id = "upl_3",
		  .data = done,
		  .len = 6,
		  .size = 2,
		  .sha256 = "h3",
		  .sealed = true },
	};
	struct db_order_upload u = { .uploads = ups,
		                     .nuploads = 3,
		                     .detail = "three files" };
	struct seal_arg a = { 0 };
	char wal[320];
	struct stat sb;
	enum order_state st;
	bool moved;
	size_t n = 99;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_s", ORDER_SUBMITTED);
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_s", &u, "t", 200, &st, &moved),
	    0);
	assert_int_equal(st, ORDER_SUBMITTED); /* no leaf: no move */
	assert_false(moved);

	assert_int_equal(db_uploads_seal_clear(f->db, seal_fn, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a.calls, 2);
	assert_true(
	    (strcmp(a.seen[0], "one") == 0 && strcmp(a.seen[1], "two!") == 0) ||
	    (strcmp(a.seen[0], "two!") == 0 && strcmp(a.seen[1], "one") == 0));
	assert_upload_data(f->db, "upl_1", "S(one)", 6, 1);
	assert_upload_data(f->db, "upl_2", "S(two!)", 7, 1);
	assert_upload_data(f->db, "upl_3", "SEALED", 6, 1); /* untouched */
	/* no clear copy is left in the WAL */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, 0);

	/* a second run finds nothing */
	n = 99;
	assert_int_equal(db_uploads_seal_clear(f->db, seal_fn, &a, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(a.calls, 2);

	/* the callback fails: its error, the row stays as it was */
	ups[0] = (struct db_upload){
		.id = "upl_4", .data = four, .len = 4, .size = 4, .sha256 = "h4"
	};
	u.nuploads = 1;
	assert_int_equal(
	    db_order_upload_apply(f->db, "ord_s", &u, "t", 201, &st, &moved),
	    0);
	a.fail = ERR_IO;
	n = 99;
	assert_int_equal(db_uploads_seal_clear(f->db, seal_fn, &a, &n), ERR_IO);
	assert_int_equal(n, 99);
	assert_int_equal(a.calls, 3);
	assert_upload_data(f->db, "upl_4", "four", 4, 0);
	a.fail = 0;
	assert_int_equal(db_uploads_seal_clear(f->db, seal_fn, &a, NULL), 0);
	assert_upload_data(f->db, "upl_4", "S(four)", 7, 1);
	assert_int_equal(db_uploads_seal_clear(f->db, NULL, &a, &n),
	                 ERR_INVALID);
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

static struct db_verification
verdict(enum order_trigger t, const char *report, const char *chain,
        int64_t leaf_na, int64_t chain_na)
{
	struct db_verification v = {
		.evaluated_at = 1,
		.overall = t == ORDER_T_VERIFY_FAIL ? "fail" : "pass",
		.report = report,
		.chain = chain,
		.trigger = t,
		.leaf_not_after = leaf_na,
		.chain_not_after = chain_na,
	};

	return v;
}

/* ready/deployed orders near expiry become renewal_due, past it expired. */
static void
test_expiry_sweep(void **state)
{
	struct fx *f = *state;
	struct db_verification soon =
	    verdict(ORDER_T_VERIFY_PASS, "{}", "aa", 5000, 4000);
	struct db_verification late =
	    verdict(ORDER_T_VERIFY_PASS, "{}", "bb", 90000, 90000);
	struct db_sweep s = { 0 };
	struct db_order *o = NULL;
	enum order_state st = ORDER_STATE_COUNT;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_soon", ORDER_ISSUED);
	make_order(f->db, "ord_late", ORDER_ISSUED);
	make_order(f->db, "ord_unverified", ORDER_ISSUED);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_soon", &soon, "t", 2, &st), 0);
	assert_int_equal(st, ORDER_READY);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_late", &late, "t", 2, NULL), 0);
	/* dry run at t=1000, window 3500: ord_soon's chain (4000) is due */
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 1000, 3500, "job", true, &s), 0);
	assert_int_equal(s.nrenewal_due, 1);
	assert_string_equal(s.renewal_due[0], "ord_soon");
	assert_int_equal(s.nexpired, 0);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_soon", &o), 0);
	assert_int_equal(o->state, ORDER_READY); /* dry run moved nothing */
	db_order_free(o);
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 1000, 3500, "job", false, &s), 0);
	assert_int_equal(s.nrenewal_due, 1);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_soon", &o), 0);
	assert_int_equal(o->state, ORDER_RENEWAL_DUE);
	db_order_free(o);
	/* past the chain's notAfter: expired; the far one stays ready */
	assert_int_equal(
	    db_orders_expiry_sweep(f->db, 4000, 100, "job", false, &s), 0);
	assert_int_equal(s.nexpired, 1);
	assert_string_equal(s.expired[0], "ord_soon");
	assert_int_equal(s.nrenewal_due, 0);
	db_sweep_clear(&s);
	assert_int_equal(db_order_get(f->db, "ord_soon", &o), 0);
	assert_int_equal(o->state, ORDER_EXPIRED);
	db_order_free(o);
	assert_int_equal(db_order_get(f->db, "ord_late", &o), 0);
	assert_int_equal(o->state, ORDER_READY);
	db_order_free(o);
	assert_int_equal(db_order_get(f->db, "ord_unverified", &o), 0);
	assert_int_equal(o->state, ORDER_ISSUED);
	db_order_free(o);
}

static const char *
last_event_type(struct db *db, const char *id, char *buf, size_t len)
{
	struct db_event_list *ev = NULL;

	assert_int_equal(db_event_list(db, id, &ev), 0);
	assert_true(ev->count > 0);
	snprintf(buf, len, "%s %s>%s %s", ev->items[ev->count - 1].type,
	         ev->items[ev->count - 1].from_state
	             ? ev->items[ev->count - 1].from_state
	             : "-",
	         ev->items[ev->count - 1].to_state
	             ? ev->items[ev->count - 1].to_state
	             : "-",
	         ev->items[ev->count - 1].detail
	             ? ev->items[ev->count - 1].detail
	             : "-");
	db_event_list_free(ev);
	return buf;
}

static void
test_verifications(void **state)
{
	struct fx *f = *state;
	struct db_verification v;
	struct db_order *o = NULL;
	enum order_state st = ORDER_STATE_COUNT;
	char *text = NULL, buf[128];
	int64_t e0 = 0, e1 = 0;

	assert_int_equal(db_open(f->path, &f->db), 0);
	make_order(f->db, "ord_v", ORDER_ISSUED);
	assert_int_equal(db_verification_latest(f->db, "ord_v", &text),
	                 ERR_NOT_FOUND);
	assert_int_equal(db_verification_chain(f->db, "ord_v", &text),
	                 ERR_NOT_FOUND);

	/* issued has no verify_fail move: stored, state kept */
	v = verdict(ORDER_T_VERIFY_FAIL, "{\"n\":1}", NULL, 0, 0);
	assert_int_equal(db_count(f->db, "events", &e0), 0);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_v", &v, "t", 6, &st), 0);
	assert_int_equal(st, ORDER_ISSUED);
	assert_int_equal(db_count(f->db, "events", &e1), 0);
	assert_int_equal(e1, e0 + 1);
	assert_string_equal(last_event_type(f->db, "ord_v", buf, sizeof(buf)),
	                    "verified ->- fail");
	assert_int_equal(db_verification_chain(f->db, "ord_v", &text),
	                 ERR_NOT_FOUND);

	/* issued + verify_pass -> ready, with the chain and its expiry */
	v = verdict(ORDER_T_VERIFY_PASS, "{\"n\":2}", "aa bb cc", 1000, 900);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_v", &v, "t", 7, &st), 0);
	assert_int_equal(st, ORDER_READY);
	assert_int_equal(db_verification_latest(f->db, "ord_v", &text), 0);
	assert_string_equal(text, "{\"n\":2}");
	free(text);
	assert_int_equal(db_verification_chain(f->db, "ord_v", &text), 0);
	assert_string_equal(text, "aa bb cc");
	free(text);
	text = NULL;
	assert_string_equal(last_event_type(f->db, "ord_v", buf, sizeof(buf)),
	                    "state issued>ready every AMT check passed");
	assert_int_equal(db_order_get(f->db, "ord_v", &o), 0);
	assert_int_equal(o->state, ORDER_READY);
	assert_int_equal(o->leaf_not_after, 1000);
	assert_int_equal(o->chain_not_after, 900);
	db_order_free(o);

	/* ready + verify_pass: no move */
	v = verdict(ORDER_T_VERIFY_PASS, "{\"n\":3}", "aa dd", 1100, 950);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_v", &v, "t", 8, &st), 0);
	assert_int_equal(st, ORDER_READY);
	assert_int_equal(db_verification_chain(f->db, "ord_v", &text), 0);
	assert_string_equal(text, "aa dd"); /* the newest */
	free(text);
	text = NULL;

	/* ready + verify_fail -> back to issued */
	v = verdict(ORDER_T_VERIFY_FAIL, "{\"n\":4}", "aa", 1100, 0);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_v", &v, "t", 9, NULL), 0);
	assert_int_equal(db_order_get(f->db, "ord_v", &o), 0);
	assert_int_equal(o->state, ORDER_ISSUED);
	db_order_free(o);
	assert_string_equal(last_event_type(f->db, "ord_v", buf, sizeof(buf)),
	                    "state ready>issued verification failed");

	/* a deployed certificate stays deployed while its report says why */
	make_order(f->db, "ord_dep", ORDER_DEPLOYED);
	v = verdict(ORDER_T_VERIFY_FAIL, "{\"n\":5}", "aa", 1100, 0);
	assert_int_equal(
	    db_verification_insert(f->db, "ord_dep", &v, "t", 10, &st), 0);
	assert_int_equal(st, ORDER_DEPLOYED);

	assert_int_equal(
	    db_verification_insert(f->db, "ord_x", &v, "t", 8, &st),
	    ERR_NOT_FOUND);
	assert_int_equal(db_verification_chain(f->db, "ord_x", &text),
	                 ERR_NOT_FOUND);
	assert_null(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_from_every_version,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_upload_apply_is_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_upload_apply_ready_keeps_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_upload_apply_terminal_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_detach, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_uploads_seal_clear, setup,
		                                teardown),
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
