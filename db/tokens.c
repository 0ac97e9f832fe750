/*
 * tokens.c: API bearer tokens. Only the SHA-256 hex of a token is stored;
 * the token itself never reaches this module. A revoked token keeps its
 * row (revoked_at set) for the record, and its name becomes free again.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* last_used_at is written at most this often per token. */
#define DB_TOKEN_TOUCH_INTERVAL 60

#define TOKEN_SELECT                                                       \
	"SELECT id, name, is_admin, created_at, last_used_at, revoked_at " \
	"FROM api_tokens"

void
db_token_free(struct db_token *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->name);
	free(t);
}

void
db_token_list_free(struct db_token_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].id);
		free(l->items[i].name);
	}
	free(l->items);
	free(l);
}

/* Fills t from the current row of TOKEN_SELECT. */
static int
token_from_row(sqlite3_stmt *st, struct db_token *t)
{
	int err;

	t->is_admin = sqlite3_column_int64(st, 2) != 0;
	t->created_at = sqlite3_column_int64(st, 3);
	t->last_used_at = sqlite3_column_int64(st, 4); /* NULL reads 0 */
	t->revoked = sqlite3_column_type(st, 5) != SQLITE_NULL;
	err = db_column_strdup(st, 0, &t->id);
	if (!err)
		err = db_column_strdup(st, 1, &t->name);
	return err;
}

/*
 * ERR_CONFLICT also when the id or the hash exists already. ERR_INVALID
 * on a missing or empty argument.
 */
int
db_token_insert(struct db *db, const char *id, const char *name,
                const char *sha256_hex, bool is_admin, int64_t now)
{
	static const char sql[] =
	    "INSERT INTO api_tokens (id, name, sha256, "
	    "is_admin, created_at) VALUES (?, ?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !id || !*id || !name || !*name || !sha256_hex ||
	    !*sha256_hex)
		return ERR_INVALID;
	db_lock(db);
	err = db_stmt_prepare(db, "token_insert", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, id, &rc);
	db_bind_text(st, 2, name, &rc);
	db_bind_text(st, 3, sha256_hex, &rc);
	db_bind_int64(st, 4, is_admin, &rc);
	db_bind_int64(st, 5, now, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "token_insert: bind", rc);
		goto cleanup;
	}
	/* One statement: SQLite makes it its own transaction. */
	err = db_step_done(db, "token_insert", st);
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	return err;
}

/*
 * Sets last_used_at = now unless it was set less than a minute ago (or
 * lies in the future). Returns 1 when the row was written, 0 when not.
 */
static int
token_touch(struct db *db, const char *id, int64_t now)
{
	static const char sql[] =
	    "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 AND "
	    "(last_used_at IS NULL OR last_used_at <= ?1 - ?3)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "token_lookup: touch", sql, &st);
	if (err < 0)
		return err;
	db_bind_int64(st, 1, now, &rc);
	db_bind_text(st, 2, id, &rc);
	db_bind_int64(st, 3, DB_TOKEN_TOUCH_INTERVAL, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "token_lookup: touch: bind", rc);
	else
		err = db_step_done(db, "token_lookup: touch", st);
	if (!err)
		err = sqlite3_changes(db->sq) > 0 ? 1 : 0;
	db_stmt_done(db, st);
	return err;
}

/*
 * The lookup reads on a reader; only when last_used_at is due does it take
 * the writer to record it, so the check that every request makes does not
 * queue behind writes. Failing to record last_used_at does not fail the
 * lookup: it is logged (by the step that failed) and the token is
 * returned with the old value, so a busy disk never locks everybody out.
 */
int
db_token_lookup(struct db *db, const char *sha256_hex, int64_t now,
                struct db_token **out)
{
	static const char sql[] =
	    TOKEN_SELECT " WHERE sha256 = ? AND revoked_at IS NULL";
	struct db_token *t = NULL;
	sqlite3_stmt *st = NULL;
	struct db *rd;
	int err, rc = SQLITE_OK;

	if (!db || !sha256_hex || !out)
		return ERR_INVALID;
	t = calloc(1, sizeof(*t));
	if (!t)
		return ERR_NOMEM;
	rd = db_read_lock(db);
	err = db_stmt_prepare(rd, "token_lookup", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, sha256_hex, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(rd, "token_lookup: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(rd, "token_lookup", rc);
		goto cleanup;
	}
	err = token_from_row(st, t);
cleanup:
	db_stmt_done(rd, st);
	db_read_unlock(rd);
	if (err < 0) {
		db_token_free(t);
		return err;
	}
	/* the same rule as token_touch's, which decides under the lock */
	if (t->last_used_at <= now - DB_TOKEN_TOUCH_INTERVAL) {
		db_lock(db);
		if (token_touch(db, t->id, now) == 1)
			t->last_used_at = now;
		db_unlock(db);
	}
	*out = t;
	return 0;
}

/* Every token, revoked ones included, oldest first. */
int
db_token_list(struct db *db, struct db_token_list **out)
{
	static const char sql[] = TOKEN_SELECT " ORDER BY created_at, rowid";
	struct db_token_list *l = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int err, rc;

	if (!db || !out)
		return ERR_INVALID;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	db = db_read_lock(db);
	err = db_stmt_prepare(db, "token_list", sql, &st);
	if (err < 0)
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->count == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct db_token *tmp;

			tmp = realloc(l->items, ncap * sizeof(*tmp));
			if (!tmp) {
				err = ERR_NOMEM;
				goto cleanup;
			}
			l->items = tmp;
			cap = ncap;
		}
		/* Counted before it is filled, so a failure frees it too. */
		memset(&l->items[l->count], 0, sizeof(l->items[0]));
		err = token_from_row(st, &l->items[l->count++]);
		if (err < 0)
			goto cleanup;
	}
	if (rc != SQLITE_DONE) {
		err = db_err_sqlite(db, "token_list", rc);
		goto cleanup;
	}
	*out = l;
	l = NULL;
	err = 0;
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	db_token_list_free(l);
	return err;
}

int
db_token_revoke(struct db *db, const char *id, int64_t now)
{
	static const char sql[] = "UPDATE api_tokens SET revoked_at = ? "
	                          "WHERE id = ? AND revoked_at IS NULL";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !id)
		return ERR_INVALID;
	db_lock(db);
	err = db_stmt_prepare(db, "token_revoke", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_int64(st, 1, now, &rc);
	db_bind_text(st, 2, id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "token_revoke: bind", rc);
		goto cleanup;
	}
	err = db_step_done(db, "token_revoke", st);
	if (!err && sqlite3_changes(db->sq) == 0)
		err = ERR_NOT_FOUND;
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	return err;
}

int
db_token_count_admin(struct db *db, int64_t *out)
{
	static const char sql[] = "SELECT count(*) FROM api_tokens WHERE "
	                          "is_admin = 1 AND revoked_at IS NULL";
	sqlite3_stmt *st = NULL;
	int err, rc;

	if (!db || !out)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = db_stmt_prepare(db, "token_count_admin", sql, &st);
	if (err < 0)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "token_count_admin", rc);
		goto cleanup;
	}
	*out = sqlite3_column_int64(st, 0);
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	return err;
}
