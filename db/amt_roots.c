/*
 * amt_roots.c: the trusted AMT root hashes (seeded, added by a user or
 * reported by a device) and whether each is enabled.
 */
#include "db/internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#define ROOT_COLUMNS                                                  \
	"id, name, sha1, sha256, sha384, evidence, source, enabled, " \
	"created_at"

static void
root_clear(struct db_amt_root *r)
{
	free(r->id);
	free(r->name);
	free(r->sha1);
	free(r->sha256);
	free(r->sha384);
	free(r->evidence);
	free(r->source);
	memset(r, 0, sizeof(*r));
}

void
db_amt_root_free(struct db_amt_root *r)
{
	if (!r)
		return;
	root_clear(r);
	free(r);
}

void
db_amt_root_list_free(struct db_amt_root_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		root_clear(&l->items[i]);
	free(l->items);
	free(l);
}

static int
root_read(sqlite3_stmt *st, struct db_amt_root *r)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	if (!err)
		err = db_column_strdup(st, 0, &r->id);
	if (!err)
		err = db_column_strdup(st, 1, &r->name);
	if (!err)
		err = db_column_strdup(st, 2, &r->sha1);
	if (!err)
		err = db_column_strdup(st, 3, &r->sha256);
	if (!err)
		err = db_column_strdup(st, 4, &r->sha384);
	if (!err)
		err = db_column_strdup(st, 5, &r->evidence);
	if (!err)
		err = db_column_strdup(st, 6, &r->source);
	r->enabled = sqlite3_column_int(st, 7) != 0;
	r->created_at = sqlite3_column_int64(st, 8);
	if (err)
		root_clear(r);
	return err;
}

int
db_amt_root_list(struct db *db, struct db_amt_root_list **out)
{
	static const char sql[] =
	    "SELECT " ROOT_COLUMNS " FROM amt_roots ORDER BY rowid";
	struct db_amt_root_list *l;
	sqlite3_stmt *st = NULL;
	int err, rc;

	if (!db || !out)
		return ERR_INVALID;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	db = db_read_lock(db);
	err = db_stmt_prepare(db, "amt_root_list", sql, &st);
	if (err < 0)
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_amt_root *items =
		    realloc(l->items, (l->count + 1) * sizeof(*items));
		if (!items) {
			err = ERR_NOMEM;
			goto cleanup;
		}
		l->items = items;
		err = root_read(st, &l->items[l->count]);
		if (err < 0)
			goto cleanup;
		l->count++;
	}
	if (rc != SQLITE_DONE)
		err = db_err_sqlite(db, "amt_root_list", rc);
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	if (err < 0) {
		db_amt_root_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int
db_amt_root_apply(struct db *db, const char *const *enable, size_t nenable,
                  const struct db_amt_root *roots, size_t n, int64_t now,
                  size_t *added)
{
	static const char sql[] =
	    "INSERT INTO amt_roots (" ROOT_COLUMNS ") VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING";
	static const char enable_sql[] =
	    "UPDATE amt_roots SET enabled = 1 WHERE id = ?";
	size_t count = 0;
	int err;

	if (!db || (!roots && n) || (!enable && nenable))
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "amt_root_insert: begin");
	for (size_t i = 0; err == 0 && i < nenable; i++)
		err = db_exec_bound(db, "amt_root_insert: enable", enable_sql,
		                    &enable[i], 1, NULL, 0);
	for (size_t i = 0; err == 0 && i < n; i++) {
		const struct db_amt_root *r = &roots[i];
		const char *text[] = { r->id,     r->name,   r->sha1,
			               r->sha256, r->sha384, r->evidence,
			               r->source };
		const int64_t ints[] = { r->enabled, now };

		err =
		    db_exec_bound(db, "amt_root_insert", sql, text, 7, ints, 2);
		if (err == 0)
			count += (size_t)sqlite3_changes(db->sq);
	}
	if (err == 0)
		err = db_tx_commit(db, "amt_root_insert: commit");
	db_tx_rollback(db);
	db_unlock(db);
	if (err == 0 && added)
		*added = count;
	return err;
}

int
db_amt_root_insert(struct db *db, const struct db_amt_root *roots, size_t n,
                   int64_t now, size_t *added)
{
	return db_amt_root_apply(db, NULL, 0, roots, n, now, added);
}

int
db_amt_root_get(struct db *db, const char *id, struct db_amt_root **out)
{
	static const char sql[] =
	    "SELECT " ROOT_COLUMNS " FROM amt_roots WHERE id = ?";
	struct db_amt_root *r;
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !id || !out)
		return ERR_INVALID;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ERR_NOMEM;
	db = db_read_lock(db);
	err = db_stmt_prepare(db, "amt_root_get", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "amt_root_get: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = root_read(st, r);
	else if (rc == SQLITE_DONE)
		err = ERR_NOT_FOUND;
	else
		err = db_err_sqlite(db, "amt_root_get", rc);
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	if (err < 0) {
		free(r);
		return err;
	}
	*out = r;
	return 0;
}

int
db_amt_root_delete(struct db *db, const char *id)
{
	struct db_amt_root *r = NULL;
	const char *text[] = { id };
	int err;

	err = db_amt_root_get(db, id, &r);
	if (err < 0)
		return err;
	if (strcmp(r->source, "seed") == 0) {
		db_amt_root_free(r);
		return ERR_CONFLICT;
	}
	db_amt_root_free(r);
	db_lock(db);
	err = db_exec_bound(db, "amt_root_delete",
	                    "DELETE FROM amt_roots WHERE id = ? AND source <> "
	                    "'seed'",
	                    text, 1, NULL, 0);
	if (err == 0 && sqlite3_changes(db->sq) == 0)
		err = ERR_NOT_FOUND;
	db_unlock(db);
	return err;
}

int
db_amt_root_set_enabled(struct db *db, const char *id, bool enabled)
{
	const char *text[] = { id };
	const int64_t ints[] = { enabled };
	int err;

	if (!db || !id)
		return ERR_INVALID;
	db_lock(db);
	{
		sqlite3_stmt *st = NULL;
		int rc = SQLITE_OK;

		err = db_stmt_prepare(db, "amt_root_enable",
		                      "UPDATE amt_roots SET enabled = ? WHERE "
		                      "id = ?",
		                      &st);
		if (err == 0) {
			db_bind_int64(st, 1, ints[0], &rc);
			db_bind_text(st, 2, text[0], &rc);
			err = rc != SQLITE_OK
			          ? db_err_sqlite(db, "amt_root_enable", rc)
			          : db_step_done(db, "amt_root_enable", st);
			db_stmt_done(db, st);
		}
	}
	if (err == 0 && sqlite3_changes(db->sq) == 0)
		err = ERR_NOT_FOUND;
	db_unlock(db);
	return err;
}
