/*
 * db.c: opening the store, migrations, and the helpers shared by the db/ files
 * (statement cache, binding, transactions, error translation).
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_BUSY_TIMEOUT_MS 5000

/*
 * migrations[i] takes a database from user_version i to i + 1. Each runs in
 * its own BEGIN IMMEDIATE transaction together with the user_version bump,
 * so a crash leaves the database at some version, never between two.
 * Adding a migration: append its SQL here and raise DB_SCHEMA_VERSION in
 * db.h (the static assertion below keeps the two in step). Never edit an
 * entry that has shipped.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the initial schema. */
	"CREATE TABLE orders ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT UNIQUE NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('draft', 'key_ready',"
	"  'submitted', 'issued', 'ready', 'deployed', 'renewal_due',"
	"  'expired', 'revoked', 'cancelled')),"
	" common_name TEXT,"
	" organization TEXT,"
	" organizational_unit TEXT,"
	" locality TEXT,"
	" state_province TEXT,"
	" country TEXT,"
	" key_algorithm TEXT,"
	" key_bits INTEGER NOT NULL DEFAULT 0 CHECK (key_bits >= 0),"
	" has_key INTEGER NOT NULL DEFAULT 0 CHECK (has_key IN (0, 1)),"
	" csr_source TEXT CHECK (csr_source IN ('generated', 'imported')),"
	" profile TEXT,"
	" dns_suffix TEXT,"
	" allow_suffix_mismatch INTEGER NOT NULL DEFAULT 0"
	"  CHECK (allow_suffix_mismatch IN (0, 1)),"
	" external_ref TEXT,"
	" notes TEXT,"
	" vendor_name TEXT,"
	" vendor_product TEXT,"
	" vendor_order_id TEXT,"
	" vendor_invoice TEXT,"
	" vendor_approver TEXT,"
	" vendor_dcv_method TEXT,"
	" vendor_price TEXT,"
	" vendor_validity_days INTEGER NOT NULL DEFAULT 0"
	"  CHECK (vendor_validity_days >= 0),"
	" csr_pem TEXT,"
	" public_key_sha256 TEXT,"
	" renewal_of TEXT REFERENCES orders(id),"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" version INTEGER NOT NULL DEFAULT 1"
	");"
	"CREATE INDEX orders_state ON orders(state);"
	"CREATE INDEX orders_external_ref ON orders(external_ref);"
	"CREATE INDEX orders_renewal_of ON orders(renewal_of);"
	"CREATE TABLE order_sans ("
	" order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" PRIMARY KEY (order_id, pos)"
	");"
	"CREATE TABLE order_keys ("
	" order_id TEXT PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,"
	" sealed BLOB NOT NULL,"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" order_id TEXT REFERENCES orders(id),"
	" at INTEGER NOT NULL,"
	" actor TEXT,"
	" type TEXT NOT NULL,"
	" from_state TEXT,"
	" to_state TEXT,"
	" detail TEXT"
	");"
	"CREATE INDEX events_order_id ON events(order_id);"
	"CREATE TABLE idempotency ("
	" key TEXT PRIMARY KEY,"
	" request_hash TEXT NOT NULL,"
	" order_id TEXT NOT NULL REFERENCES orders(id),"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE api_tokens ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" sha256 TEXT UNIQUE NOT NULL,"
	" is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),"
	" created_at INTEGER NOT NULL,"
	" last_used_at INTEGER,"
	" revoked_at INTEGER"
	");"
	"CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name)"
	" WHERE revoked_at IS NULL;",

	/* 1 -> 2: the CA's delivery, the CA pool, AMT roots, reports. */
	"CREATE TABLE certificates ("
	" sha256 TEXT PRIMARY KEY,"
	" der BLOB NOT NULL,"
	" sha1 TEXT NOT NULL,"
	" sha384 TEXT NOT NULL,"
	" subject TEXT,"
	" issuer TEXT,"
	" serial TEXT,"
	" not_before INTEGER,"
	" not_after INTEGER,"
	" spki_sha256 TEXT,"
	" is_ca INTEGER NOT NULL DEFAULT 0 CHECK (is_ca IN (0, 1)),"
	" self_signed INTEGER NOT NULL DEFAULT 0 CHECK (self_signed IN (0, 1)),"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE uploads ("
	" id TEXT PRIMARY KEY,"
	" order_id TEXT REFERENCES orders(id),"
	" filename TEXT,"
	" media_type TEXT,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" data BLOB NOT NULL,"
	" actor TEXT,"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX uploads_order_id ON uploads(order_id);"
	"CREATE TABLE order_certificates ("
	" order_id TEXT NOT NULL REFERENCES orders(id),"
	" cert_sha256 TEXT NOT NULL REFERENCES certificates(sha256),"
	" role TEXT NOT NULL CHECK (role IN ('leaf', 'intermediate', 'root',"
	"  'cross-signed', 'unrelated')),"
	" reason TEXT,"
	" upload_id TEXT REFERENCES uploads(id),"
	" created_at INTEGER NOT NULL,"
	" PRIMARY KEY (order_id, cert_sha256)"
	");"
	"CREATE TABLE ca_pool ("
	" cert_sha256 TEXT PRIMARY KEY REFERENCES certificates(sha256),"
	" actor TEXT,"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE amt_roots ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" sha1 TEXT,"
	" sha256 TEXT,"
	" sha384 TEXT,"
	" evidence TEXT NOT NULL,"
	" source TEXT NOT NULL CHECK (source IN ('seed', 'user', 'device')),"
	" enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),"
	" created_at INTEGER NOT NULL,"
	" CHECK (sha1 IS NOT NULL OR sha256 IS NOT NULL OR sha384 IS NOT NULL)"
	");"
	"CREATE TABLE verifications ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" order_id TEXT NOT NULL REFERENCES orders(id),"
	" evaluated_at INTEGER NOT NULL,"
	" overall TEXT NOT NULL CHECK (overall IN ('pass', 'warn', 'fail')),"
	" report TEXT NOT NULL,"
	" actor TEXT,"
	" created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX verifications_order_id ON verifications(order_id);"
	"ALTER TABLE orders ADD COLUMN leaf_sha256 TEXT"
	" REFERENCES certificates(sha256);",

	/* 2 -> 3: expiry of the verified chain, for the renewal sweep. */
	"ALTER TABLE orders ADD COLUMN leaf_not_after INTEGER;"
	"ALTER TABLE orders ADD COLUMN chain_not_after INTEGER;"
	"CREATE INDEX orders_expiry ON orders(state, leaf_not_after,"
	" chain_not_after);",

	/*
	 * 3 -> 4: the verified chain as data (leaf first, SHA-256s), so an
	 * export need not read the report; raw uploads sealed with the
	 * master key (rows from before stay 0 until the daemon seals them).
	 */
	"ALTER TABLE verifications ADD COLUMN chain TEXT;"
	"UPDATE verifications SET chain = (SELECT group_concat("
	" json_extract(c.value, '$.sha256'), ' ') FROM json_each("
	" verifications.report, '$.chain') AS c) WHERE json_valid(report);"
	"ALTER TABLE uploads ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0"
	" CHECK (sealed IN (0, 1));",

	/*
	 * 4 -> 5: the order list's sort keys (db_order_list) as virtual
	 * columns: the lower-case CN, and the earliest expiry of leaf and
	 * chain (unknown: the largest integer, so it sorts last). Each sort
	 * key is indexed alone and after state, then seq, so that a page,
	 * with or without a state, is a range of one index in the sort's
	 * order; needs-action order walks (state, expiry) state by state.
	 * Each index ends with the two columns a search (q) reads, cn_key
	 * and external_ref, so a search skips the orders it does not match
	 * without reading their rows. (state, seq, ...) replaces the index
	 * on state alone and still counts per state.
	 */
	"ALTER TABLE orders ADD COLUMN cn_key TEXT GENERATED ALWAYS AS"
	" (lower(coalesce(common_name, ''))) VIRTUAL;"
	"ALTER TABLE orders ADD COLUMN expiry_key INTEGER GENERATED ALWAYS AS"
	" (CASE WHEN coalesce(leaf_not_after, 0) = 0"
	"  THEN coalesce(nullif(chain_not_after, 0), 9223372036854775807)"
	"  WHEN coalesce(chain_not_after, 0) = 0 THEN leaf_not_after"
	"  ELSE min(leaf_not_after, chain_not_after) END) VIRTUAL;"
	"DROP INDEX orders_state;"
	"CREATE INDEX orders_seq ON orders(seq, cn_key, external_ref);"
	"CREATE INDEX orders_updated ON orders(updated_at, seq, cn_key,"
	" external_ref);"
	"CREATE INDEX orders_expiry_key ON orders(expiry_key, seq, cn_key,"
	" external_ref);"
	"CREATE INDEX orders_cn ON orders(cn_key, seq, external_ref);"
	"CREATE INDEX orders_state_seq ON orders(state, seq, cn_key,"
	" external_ref);"
	"CREATE INDEX orders_state_updated ON orders(state, updated_at, seq,"
	" cn_key, external_ref);"
	"CREATE INDEX orders_state_expiry ON orders(state, expiry_key, seq,"
	" cn_key, external_ref);"
	"CREATE INDEX orders_state_cn ON orders(state, cn_key, seq,"
	" external_ref);",

	/*
	 * 5 -> 6: where an order's key came from: made here ("generated"),
	 * or taken from an upload ("pkcs12", "pem"). Every key stored before
	 * was made here or came from a PKCS#12 (only those were read);
	 * which one is not known any more, so they say "generated".
	 */
	"ALTER TABLE orders ADD COLUMN key_origin TEXT NOT NULL"
	" DEFAULT 'generated'"
	" CHECK (key_origin IN ('generated', 'pkcs12', 'pem'));",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == DB_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- helpers shared by the db/ files ---------------------------------- */

void
db_lock(struct db *db)
{
	pthread_mutex_lock(&db->lock);
}

void
db_unlock(struct db *db)
{
	pthread_mutex_unlock(&db->lock);
}

/* Closes one connection and its cached statements. */
static void
conn_close(struct db *c)
{
	int rc;

	for (size_t i = 0; i < c->nstmts; i++)
		sqlite3_finalize(c->stmts[i]);
	c->nstmts = 0;
	rc = sqlite3_close_v2(c->sq);
	if (rc != SQLITE_OK)
		log_error("db: close: %s", sqlite3_errstr(rc));
	c->sq = NULL;
}

/* Runs a statement of no rows from c's cache (BEGIN, COMMIT, ...). */
static int
conn_exec_cached(struct db *c, const char *step, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int err = db_stmt_prepare(c, step, sql, &st);

	if (err == 0)
		err = db_step_done(c, step, st);
	db_stmt_done(c, st);
	return err;
}

/*
 * Opens a reader of db: read-only, used by one thread at a time (so
 * without SQLite's own mutex), waiting out a busy database like the
 * writer does.
 */
static int
reader_open(struct db *db, struct db **out)
{
	struct db *rd = calloc(1, sizeof(*rd));
	int rc, err;

	if (!rd)
		return ERR_NOMEM;
	rd->owner = db;
	rc = sqlite3_open_v2(db->path, &rd->sq,
	                     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_extended_result_codes(rd->sq, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(rd->sq, DB_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(rd, "read: open", rc);
		sqlite3_close_v2(rd->sq);
		free(rd);
		return err;
	}
	*out = rd;
	return 0;
}

/*
 * The read transaction the calling thread keeps with db_read_begin(): while
 * it lasts, db_read_lock() of the same db hands out the same reader inside
 * the same transaction, and db_read_unlock() leaves it open.
 */
static _Thread_local struct {
	struct db *owner; /* the writer it reads for */
	struct db *rd;
	unsigned depth; /* db_read_begin/db_read_lock calls not yet ended */
} held;

struct db *
db_read_lock(struct db *db)
{
	struct db *rd = NULL;
	bool open_one = false;

	if (held.rd && held.owner == db) {
		held.depth++;
		return held.rd;
	}
	pthread_mutex_lock(&db->pool_lock);
	while (!db->free_readers && db->nreaders >= DB_READERS_MAX)
		pthread_cond_wait(&db->pool_free, &db->pool_lock);
	if (db->free_readers) {
		rd = db->free_readers;
		db->free_readers = rd->next_free;
		rd->next_free = NULL;
	} else {
		db->nreaders++; /* a slot for the one we open */
		open_one = true;
	}
	pthread_mutex_unlock(&db->pool_lock);
	if (open_one) {
		int err = reader_open(db, &rd);

		pthread_mutex_lock(&db->pool_lock);
		if (err == 0) {
			rd->next = db->readers;
			db->readers = rd;
		} else {
			db->nreaders--;
			pthread_cond_signal(&db->pool_free);
		}
		pthread_mutex_unlock(&db->pool_lock);
	}
	if (rd && conn_exec_cached(rd, "read: begin", "BEGIN") == 0)
		return rd;
	if (rd)
		db_read_unlock(rd);
	/* no reader to be had: read on the writer, as writes do */
	db_lock(db);
	return db;
}

void
db_read_unlock(struct db *rd)
{
	struct db *db = rd->owner;

	if (rd == held.rd && held.depth > 1) {
		held.depth--; /* the transaction stays: db_read_end ends it */
		return;
	}
	if (!db) {
		db_unlock(rd); /* db_read_lock fell back to the writer */
		return;
	}
	/* the snapshot ends here: the next read sees what was committed */
	if (!sqlite3_get_autocommit(rd->sq) &&
	    conn_exec_cached(rd, "read: commit", "COMMIT") < 0)
		db_tx_rollback(rd);
	if (!sqlite3_get_autocommit(rd->sq)) {
		/* stuck in its transaction: do not hand it out again */
		log_error("db: a reader could not end its transaction; "
		          "closing it");
		pthread_mutex_lock(&db->pool_lock);
		for (struct db **p = &db->readers; *p; p = &(*p)->next) {
			if (*p == rd) {
				*p = rd->next;
				break;
			}
		}
		db->nreaders--;
		pthread_cond_signal(&db->pool_free);
		pthread_mutex_unlock(&db->pool_lock);
		conn_close(rd);
		free(rd);
		return;
	}
	pthread_mutex_lock(&db->pool_lock);
	rd->next_free = db->free_readers;
	db->free_readers = rd;
	pthread_cond_signal(&db->pool_free);
	pthread_mutex_unlock(&db->pool_lock);
}

int
db_read_begin(struct db *db)
{
	struct db *rd;

	if (!db || db->owner)
		return ERR_INVALID;
	if (held.rd) {
		if (held.owner != db)
			return ERR_BUSY;
		held.depth++;
		return 0;
	}
	rd = db_read_lock(db);
	if (rd == db) {
		/* no reader to be had: never keep the writer locked for it */
		db_read_unlock(rd);
		return ERR_BUSY;
	}
	held.owner = db;
	held.rd = rd;
	held.depth = 1;
	return 0;
}

void
db_read_end(struct db *db)
{
	struct db *rd = held.rd;

	if (!rd || held.owner != db || --held.depth > 0)
		return;
	held.rd = NULL;
	held.owner = NULL;
	db_read_unlock(rd);
}

int
db_err_sqlite(struct db *db, const char *step, int rc)
{
	const char *msg =
	    db && db->sq ? sqlite3_errmsg(db->sq) : sqlite3_errstr(rc);

	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_ROWID:
		log_info("db: %s: %s", step, msg);
		return ERR_CONFLICT;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		log_info("db: %s: %s", step, msg);
		return ERR_INVALID;
	case SQLITE_NOMEM:
		log_error("db: %s: %s", step, msg);
		return ERR_NOMEM;
	case SQLITE_FULL:
		log_error("db: %s: %s (%d): the disk is full", step, msg, rc);
		return ERR_FULL;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		/* a write or fsync that met a full disk may come as IOERR */
		if (db && db->sq && sqlite3_system_errno(db->sq) == ENOSPC) {
			log_error("db: %s: %s (%d): the disk is full", step,
			          msg, rc);
			return ERR_FULL;
		}
		log_error("db: %s: %s (%d)", step, msg, rc);
		return ERR_IO;
	default:
		log_error("db: %s: %s (%d)", step, msg, rc);
		return ERR_DB;
	}
}

int
db_stmt_prepare(struct db *db, const char *step, const char *sql,
                sqlite3_stmt **out)
{
	sqlite3_stmt *st = NULL;
	bool cache = db->nstmts < DB_STMT_CACHE_SIZE;
	int rc;

	for (size_t i = 0; i < db->nstmts; i++) {
		if (strcmp(sqlite3_sql(db->stmts[i]), sql) != 0)
			continue;
		if (db->stmt_busy[i]) {
			/* Nested use of one SQL: hand out a private one. */
			cache = false;
			break;
		}
		db->stmt_busy[i] = true;
		*out = db->stmts[i];
		return 0;
	}
	rc = sqlite3_prepare_v3(
	    db->sq, sql, -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return db_err_sqlite(db, step, rc);
	}
	if (cache) {
		db->stmts[db->nstmts] = st;
		db->stmt_busy[db->nstmts] = true;
		db->nstmts++;
	}
	*out = st;
	return 0;
}

void
db_stmt_done(struct db *db, sqlite3_stmt *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < db->nstmts; i++) {
		if (db->stmts[i] != st)
			continue;
		/* The error, if any, was reported by the step that failed. */
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		db->stmt_busy[i] = false;
		return;
	}
	sqlite3_finalize(st);
}

void
db_bind_text(sqlite3_stmt *st, int idx, const char *s, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	if (!s)
		*rc = sqlite3_bind_null(st, idx);
	else
		*rc = sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

void
db_bind_int64(sqlite3_stmt *st, int idx, int64_t v, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_int64(st, idx, (sqlite3_int64)v);
}

void
db_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n, int *rc)
{
	if (*rc != SQLITE_OK)
		return;
	*rc = sqlite3_bind_blob64(st, idx, p, (sqlite3_uint64)n,
	                          SQLITE_TRANSIENT);
}

int
db_step_done(struct db *db, const char *step, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW) {
		log_error("db: %s: unexpected row", step);
		return ERR_DB;
	}
	return db_err_sqlite(db, step, rc);
}

int
db_exec_bound(struct db *db, const char *step, const char *sql,
              const char *const *text, size_t ntext, const int64_t *ints,
              size_t nints)
{
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK, idx = 1;

	err = db_stmt_prepare(db, step, sql, &st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < ntext; i++)
		db_bind_text(st, idx++, text[i], &rc);
	for (size_t i = 0; i < nints; i++)
		db_bind_int64(st, idx++, ints[i], &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, step, rc);
	else
		err = db_step_done(db, step, st);
	db_stmt_done(db, st);
	return err;
}

int
db_column_blobdup(sqlite3_stmt *st, int col, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	unsigned char *v = malloc(n > 0 ? (size_t)n : 1);

	if (!v)
		return ERR_NOMEM;
	if (n > 0)
		memcpy(v, p, (size_t)n);
	*out = v;
	*len = n > 0 ? (size_t)n : 0;
	return 0;
}

int
db_column_strdup(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *p;
	size_t n;
	char *s;

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		*out = NULL;
		return 0;
	}
	p = sqlite3_column_text(st, col);
	if (!p)
		return ERR_NOMEM;
	n = (size_t)sqlite3_column_bytes(st, col);
	s = malloc(n + 1);
	if (!s)
		return ERR_NOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

int
db_exec(struct db *db, const char *step, const char *sql)
{
	int rc = sqlite3_exec(db->sq, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_err_sqlite(db, step, rc);
	return 0;
}

int
db_tx_begin(struct db *db, const char *step)
{
	return db_exec(db, step, "BEGIN IMMEDIATE");
}

int
db_tx_commit(struct db *db, const char *step)
{
	return db_exec(db, step, "COMMIT");
}

void
db_tx_rollback(struct db *db)
{
	int rc;

	/* Some errors (e.g. a failed COMMIT on I/O) end the transaction. */
	if (sqlite3_get_autocommit(db->sq))
		return;
	rc = sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		log_error("db: rollback: %s", sqlite3_errmsg(db->sq));
}

/* ---- open, pragmas, migrations ---------------------------------------- */

/* Runs a query whose first row's first column is an integer. */
static int
db_query_int64(struct db *db, const char *step, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = db_stmt_prepare(db, step, sql, &st);
	if (err < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		err = 0;
	} else if (rc == SQLITE_DONE) {
		log_error("db: %s: no result", step);
		err = ERR_DB;
	} else {
		err = db_err_sqlite(db, step, rc);
	}
	db_stmt_done(db, st);
	return err;
}

static int
db_user_version(struct db *db, int64_t *out)
{
	return db_query_int64(db, "user_version", "PRAGMA user_version", out);
}

/*
 * Applies migrations[from] in one transaction. Another process may have
 * migrated between our read and our BEGIN IMMEDIATE: then this is a no-op
 * and the caller reads the version again.
 */
static int
db_migrate_one(struct db *db, int64_t from)
{
	char bump[64];
	int64_t cur;
	int err;

	err = db_tx_begin(db, "migrate: begin");
	if (err < 0)
		return err;
	err = db_user_version(db, &cur);
	if (err < 0)
		goto cleanup;
	if (cur != from)
		goto cleanup; /* somebody else got there first */
	err = db_exec(db, "migrate", migrations[from]);
	if (err < 0) {
		log_error("db: migration %lld -> %lld failed", (long long)from,
		          (long long)from + 1);
		goto cleanup;
	}
	/* PRAGMAs take no parameters; the number is ours, not input. */
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld",
	         (long long)from + 1);
	err = db_exec(db, "migrate: user_version", bump);
	if (err < 0)
		goto cleanup;
	err = db_tx_commit(db, "migrate: commit");
	if (err < 0)
		goto cleanup;
	log_info("db: migrated schema %lld -> %lld", (long long)from,
	         (long long)from + 1);
cleanup:
	db_tx_rollback(db);
	return err;
}

static int
db_migrate(struct db *db, int target)
{
	int64_t v;
	int err;

	for (;;) {
		err = db_user_version(db, &v);
		if (err < 0)
			return err;
		if (v > DB_SCHEMA_VERSION || v < 0) {
			log_error("db: schema version %lld is newer than this "
			          "build's %d; refusing to open",
			          (long long)v, DB_SCHEMA_VERSION);
			return ERR_INVALID;
		}
		if (v >= target)
			return 0;
		err = db_migrate_one(db, v);
		if (err < 0)
			return err;
	}
}

static int
db_set_pragmas(struct db *db)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int err, rc;

	rc = sqlite3_extended_result_codes(db->sq, 1);
	if (rc != SQLITE_OK)
		return db_err_sqlite(db, "extended_result_codes", rc);
	rc = sqlite3_busy_timeout(db->sq, DB_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return db_err_sqlite(db, "busy_timeout", rc);

	/*
	 * journal_mode answers with the mode in effect: it must be wal. A
	 * one-off statement, so not from the cache.
	 */
	rc = sqlite3_prepare_v2(db->sq, "PRAGMA journal_mode = WAL", -1, &st,
	                        NULL);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "journal_mode", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "journal_mode", rc);
		goto cleanup;
	}
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		log_error("db: journal_mode: got %s, want wal",
		          mode ? (const char *)mode : "(null)");
		err = ERR_DB;
		goto cleanup;
	}
	err = db_exec(db, "foreign_keys", "PRAGMA foreign_keys = ON");
	if (err < 0)
		goto cleanup;
	err = db_exec(db, "synchronous", "PRAGMA synchronous = FULL");
	/* freed pages are zeroed: a deleted secret leaves no copy behind */
	if (err == 0)
		err = db_exec(db, "secure_delete", "PRAGMA secure_delete = ON");
cleanup:
	sqlite3_finalize(st);
	return err;
}

/* Creates the file 0600 when missing, so SQLite never creates it 0644. */
static int
db_file_create(const char *path)
{
	struct stat sb;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		log_error("db: open %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warn("db: %s is accessible by group or others (mode %03o)",
		         path, (unsigned)(sb.st_mode & 0777));
	close(fd);
	return 0;
}

/*
 * SQLite's allocation statistics take one process-wide mutex on every
 * allocation, which the readers would contend for: nothing reads them.
 * Only possible before SQLite starts; later it is a no-op.
 */
static void
sqlite_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
db_open(const char *path, struct db **out)
{
	return db_open_at(path, DB_SCHEMA_VERSION, out);
}

int
db_open_at(const char *path, int target, struct db **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct db *db = NULL;
	bool mutex_ok = false;
	int err, rc;

	if (!path || !*path || !out)
		return ERR_INVALID;
	pthread_once(&once, sqlite_configure);
	err = db_file_create(path);
	if (err < 0)
		return err;
	db = calloc(1, sizeof(*db));
	if (!db)
		return ERR_NOMEM;
	db->path = strdup(path);
	if (!db->path || pthread_mutex_init(&db->lock, NULL) != 0) {
		err = ERR_NOMEM;
		goto cleanup;
	}
	if (pthread_mutex_init(&db->pool_lock, NULL) != 0) {
		pthread_mutex_destroy(&db->lock);
		err = ERR_NOMEM;
		goto cleanup;
	}
	if (pthread_cond_init(&db->pool_free, NULL) != 0) {
		pthread_mutex_destroy(&db->pool_lock);
		pthread_mutex_destroy(&db->lock);
		err = ERR_NOMEM;
		goto cleanup;
	}
	mutex_ok = true;
	rc = sqlite3_open_v2(path, &db->sq,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                         SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "open", rc);
		goto cleanup;
	}
	err = db_set_pragmas(db);
	if (err < 0)
		goto cleanup;
	err = db_migrate(db, target);
	if (err < 0)
		goto cleanup;
	*out = db;
	db = NULL;
cleanup:
	if (db) {
		for (size_t i = 0; i < db->nstmts; i++)
			sqlite3_finalize(db->stmts[i]);
		sqlite3_close_v2(db->sq);
		if (mutex_ok) {
			pthread_cond_destroy(&db->pool_free);
			pthread_mutex_destroy(&db->pool_lock);
			pthread_mutex_destroy(&db->lock);
		}
		free(db->path);
		free(db);
	}
	return err;
}

void
db_close(struct db *db)
{
	if (!db)
		return;
	/* readers first: the last connection to close (the writer, which can
	 * write) checkpoints and removes the WAL */
	while (db->readers) {
		struct db *rd = db->readers;

		db->readers = rd->next;
		conn_close(rd);
		free(rd);
	}
	conn_close(db);
	pthread_cond_destroy(&db->pool_free);
	pthread_mutex_destroy(&db->pool_lock);
	pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}

int
db_schema_version(struct db *db, int *out)
{
	int64_t v = 0;
	int err;

	if (!db || !out)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = db_user_version(db, &v);
	db_read_unlock(db);
	if (err < 0)
		return err;
	*out = (int)v;
	return 0;
}

/*
 * The table name is matched against this list and the SQL comes from it:
 * nothing the caller passes reaches the SQL text.
 */
static const struct {
	const char *table;
	const char *sql;
} count_sql[] = {
	{ "orders", "SELECT count(*) FROM orders" },
	{ "order_sans", "SELECT count(*) FROM order_sans" },
	{ "order_keys", "SELECT count(*) FROM order_keys" },
	{ "events", "SELECT count(*) FROM events" },
	{ "idempotency", "SELECT count(*) FROM idempotency" },
	{ "api_tokens", "SELECT count(*) FROM api_tokens" },
};

int
db_count(struct db *db, const char *table, int64_t *out)
{
	const char *sql = NULL;
	int64_t n = 0;
	int err;

	if (!db || !table || !out)
		return ERR_INVALID;
	for (size_t i = 0; i < sizeof(count_sql) / sizeof(count_sql[0]); i++) {
		if (strcmp(count_sql[i].table, table) == 0) {
			sql = count_sql[i].sql;
			break;
		}
	}
	if (!sql)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = db_query_int64(db, "count", sql, &n);
	db_read_unlock(db);
	if (err < 0)
		return err;
	*out = n;
	return 0;
}
