/*
 * reports.c: verification reports (opaque text to this module), the expiry
 * of the verified chain and the move a verdict causes.
 */
#include "db/internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

int
db_verification_insert(struct db *db, const char *order_id,
                       int64_t evaluated_at, const char *overall,
                       const char *report, const char *const *from_states,
                       const char *to_state, int64_t leaf_not_after,
                       int64_t chain_not_after, const char *actor, int64_t now,
                       int64_t *id_out)
{
	static const char expiry_sql[] = "UPDATE orders SET leaf_not_after = "
	                                 "?, chain_not_after = ? WHERE id = ?";
	static const char sql[] =
	    "INSERT INTO verifications (order_id, overall, report, actor, "
	    "evaluated_at, created_at) VALUES (?, ?, ?, ?, ?, ?)";
	struct db_order *o = NULL;
	int64_t id = 0;
	int err;

	if (!db || !order_id || !overall || !report)
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "verification: begin");
	if (err < 0)
		goto cleanup;
	err = db_order_fetch_locked(db, order_id, &o);
	if (err < 0)
		goto cleanup;
	{
		const char *text[] = { order_id, overall, report, actor };
		const int64_t ints[] = { evaluated_at, now };

		err = db_exec_bound(db, "verification", sql, text, 4, ints, 2);
	}
	if (err < 0)
		goto cleanup;
	id = sqlite3_last_insert_rowid(db->sq);
	{
		sqlite3_stmt *st = NULL;
		int rc = SQLITE_OK;

		err = db_stmt_prepare(db, "verification: expiry", expiry_sql,
		                      &st);
		if (err == 0) {
			db_bind_int64(st, 1, leaf_not_after, &rc);
			db_bind_int64(st, 2, chain_not_after, &rc);
			db_bind_text(st, 3, order_id, &rc);
			err = rc != SQLITE_OK
			          ? db_err_sqlite(db, "verification", rc)
			          : db_step_done(db, "verification", st);
		}
		db_stmt_done(db, st);
	}
	if (err < 0)
		goto cleanup;
	err = db_event_add(db, order_id, now, actor, "verified", NULL, NULL,
	                   overall);
	if (err < 0)
		goto cleanup;
	if (to_state && from_states && strcmp(o->state, to_state) != 0) {
		bool allowed = false;

		for (size_t i = 0; from_states[i]; i++)
			allowed =
			    allowed || strcmp(from_states[i], o->state) == 0;
		if (allowed)
			err = db_order_move_tx(db, order_id, from_states,
			                       to_state, actor,
			                       strcmp(overall, "fail") == 0
			                           ? "verification failed"
			                           : "every AMT check passed",
			                       now, NULL);
		if (err < 0)
			goto cleanup;
	}
	err = db_tx_commit(db, "verification: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(o);
	if (err == 0 && id_out)
		*id_out = id;
	return err;
}

int
db_verification_latest(struct db *db, const char *order_id, char **report)
{
	static const char sql[] = "SELECT report FROM verifications WHERE "
	                          "order_id = ? ORDER BY id DESC LIMIT 1";
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !report)
		return ERR_INVALID;
	db_lock(db);
	err = db_stmt_prepare(db, "verification_latest", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, order_id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "verification_latest: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = db_column_strdup(st, 0, &text);
	else if (rc == SQLITE_DONE)
		err = ERR_NOT_FOUND;
	else
		err = db_err_sqlite(db, "verification_latest", rc);
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	if (err == 0)
		*report = text;
	else
		free(text);
	return err;
}
