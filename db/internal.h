/*
 * internal.h: what the db/ files share and nobody else may use.
 *
 * Locking rule: a public db_ function that writes takes db->lock on entry
 * and holds it until it returns, so a write transaction is never
 * interleaved with another thread's: writes are serialised on the one
 * writer connection (BEGIN IMMEDIATE). A function that only reads takes a
 * read lock instead, rd = db_read_lock(db), and works on rd until
 * db_read_unlock(rd): a connection of its own, opened read-only, inside
 * one read transaction, so reads run side by side with each other and
 * with the writer (WAL) and still see one committed state throughout.
 * The helpers below never lock; they work on the connection they are
 * given (the writer inside a write transaction, a reader inside a read).
 *
 * Statements come from a small per-connection cache (db_stmt_prepare) and
 * are handed back with db_stmt_done(), which resets them.
 */
#ifndef AMTCERTD_DB_INTERNAL_H
#define AMTCERTD_DB_INTERNAL_H

#include "db/db.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for every fixed statement plus every db_order_list filter mix. */
#define DB_STMT_CACHE_SIZE 64

/* Read connections open at once at most; more readers wait for one. */
#define DB_READERS_MAX 16

/*
 * A connection: the writer (what db_open returns) or one of its readers.
 * The fields after owner are the writer's only.
 */
struct db {
	sqlite3 *sq;
	sqlite3_stmt *stmts[DB_STMT_CACHE_SIZE];
	bool stmt_busy[DB_STMT_CACHE_SIZE];
	size_t nstmts;

	struct db *owner;     /* a reader: the writer it reads for; else NULL */
	struct db *next;      /* a reader: next on owner->readers */
	struct db *next_free; /* a reader: next on owner->free_readers */

	pthread_mutex_t lock;      /* serialises writes on sq */
	pthread_mutex_t pool_lock; /* guards the read pool below */
	pthread_cond_t pool_free;  /* a reader was handed back */
	struct db *readers;        /* every reader opened */
	struct db *free_readers;   /* those not in use */
	unsigned nreaders;
	char *path;
};

void db_lock(struct db *db);
void db_unlock(struct db *db);

/*
 * Takes a reader of db (opened on first need, at most DB_READERS_MAX) and
 * begins a read transaction on it: every statement until db_read_unlock
 * sees the same committed state, whatever commits meanwhile. Never fails:
 * when no reader can be opened, it returns db itself, locked, and the
 * read runs on the writer as before. Use the returned connection for the
 * read and hand it to db_read_unlock.
 */
struct db *db_read_lock(struct db *db);

/* Ends the read transaction of rd and hands rd back (or unlocks db). */
void db_read_unlock(struct db *rd);

/*
 * Logs the SQLite error rc of the step (with sqlite3_errmsg) once and
 * translates it: UNIQUE / PRIMARY KEY constraint -> ERR_CONFLICT, other
 * constraints -> ERR_INVALID, NOMEM -> ERR_NOMEM, IOERR / CANTOPEN / FULL
 * -> ERR_IO, anything else (BUSY, LOCKED, CORRUPT, ...) -> ERR_DB.
 * Constraint failures are the caller's input and are logged at info level.
 */
int db_err_sqlite(struct db *db, const char *step, int rc);

/*
 * Returns a prepared statement for sql, from the cache when it is there
 * and not in use. Hand it back with db_stmt_done(). ERR_DB, ERR_NOMEM.
 */
int db_stmt_prepare(struct db *db, const char *step, const char *sql,
                    sqlite3_stmt **out);

/* Resets and unbinds (cached) or finalizes (uncached) st. NULL is a no-op. */
void db_stmt_done(struct db *db, sqlite3_stmt *st);

/*
 * Bind helpers: do nothing when *rc is not SQLITE_OK already, so a run of
 * binds is checked once after the last one. NULL text binds SQL NULL. The
 * values are copied (SQLITE_TRANSIENT).
 */
void db_bind_text(sqlite3_stmt *st, int idx, const char *s, int *rc);
void db_bind_int64(sqlite3_stmt *st, int idx, int64_t v, int *rc);
void db_bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n, int *rc);

/*
 * Steps st, which must finish without a row (INSERT, UPDATE, ...).
 * 0 or the translated error (logged with step).
 */
int db_step_done(struct db *db, const char *step, sqlite3_stmt *st);

/*
 * Prepares sql, binds text[0..ntext) then ints[0..nints) to its parameters
 * in order, and steps it to completion (no row) inside the caller's
 * transaction. 0 or the translated error (logged with step).
 */
int db_exec_bound(struct db *db, const char *step, const char *sql,
                  const char *const *text, size_t ntext, const int64_t *ints,
                  size_t nints);

/*
 * Copies column col of the current row: *out is NULL for SQL NULL, else a
 * malloc'd NUL-terminated copy. 0 or ERR_NOMEM.
 */
int db_column_strdup(sqlite3_stmt *st, int col, char **out);

/* Copies a BLOB column (an empty one: a 1-byte buffer, *len 0). ERR_NOMEM. */
int db_column_blobdup(sqlite3_stmt *st, int col, unsigned char **out,
                      size_t *len);

/* Runs SQL that takes no parameters and returns no rows we need. */
int db_exec(struct db *db, const char *step, const char *sql);

/* BEGIN IMMEDIATE / COMMIT. 0 or the translated error (logged). */
int db_tx_begin(struct db *db, const char *step);
int db_tx_commit(struct db *db, const char *step);

/* Rolls back the open transaction, if any. Can't fail (errors are logged). */
void db_tx_rollback(struct db *db);

/*
 * Appends an event row; call it inside the caller's transaction so the
 * change and its audit row commit together. order_id, actor, from_state,
 * to_state and detail may be NULL.
 */
int db_event_add(struct db *db, const char *order_id, int64_t at,
                 const char *actor, const char *type, const char *from_state,
                 const char *to_state, const char *detail);

/*
 * Inside a transaction the caller holds: moves order id by trigger t when
 * the state machine has that move from its current state (state, version,
 * updated_at, and a "state" event). *state (may be NULL): the state after
 * (the current one when nothing moved); *moved (may be NULL): whether it
 * moved. When t does not apply: ERR_CONFLICT if required, else 0.
 * ERR_NOT_FOUND.
 */
int db_order_move_tx(struct db *db, const char *id, enum order_trigger t,
                     bool required, const char *actor, const char *reason,
                     int64_t now, enum order_state *state, bool *moved);

/* ---- certificates (db/certificates.c) ---- */

/* The certificates columns db_cert_query reads, table alias c. */
#define DB_CERT_COLUMNS                                                      \
	"c.sha256, c.der, c.sha1, c.sha384, c.subject, c.issuer, c.serial, " \
	"c.not_before, c.not_after, c.spki_sha256, c.is_ca, c.self_signed"

/*
 * Runs sql, which selects DB_CERT_COLUMNS and, with extra, role, reason,
 * upload_id and created_at after them, with one text parameter (param, or
 * none when NULL); takes the lock itself. *out: the rows, caller frees.
 */
int db_cert_query(struct db *db, const char *step, const char *sql,
                  const char *param, bool extra, struct db_cert_list **out);

/* Inserts a certificate unless its SHA-256 is known. Inside a tx. */
int db_cert_put(struct db *db, const struct db_cert *c, int64_t now);

/*
 * Links certificate c (already stored) to order_id with c's role, reason
 * and upload_id, replacing the role and reason of an earlier link. Inside
 * a tx.
 */
int db_order_cert_link(struct db *db, const char *order_id,
                       const struct db_cert *c, int64_t now);

/*
 * db_open(), but migrating only up to schema version target (tests use it
 * to make databases of every earlier version).
 */
int db_open_at(const char *path, int target, struct db **out);

/* Reads one order inside the caller's lock. ERR_NOT_FOUND. */
int db_order_fetch_locked(struct db *db, const char *id, struct db_order **out);

#endif
