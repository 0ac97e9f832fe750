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
                       const struct db_verification *v, const char *actor,
                       int64_t now, enum order_state *state_out)
{
	/* text parameters bind first, so the id is ?1 */
	static const char expiry_sql[] =
	    "UPDATE orders SET leaf_not_after = ?2, chain_not_after = ?3 "
	    "WHERE id = ?1";
	static const char sql[] =
	    "INSERT INTO verifications (order_id, overall, report, chain, "
	    "actor, evaluated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
	struct db_order *o = NULL;
	enum order_state st;
	int err;

	if (!db || !order_id || !v || !v->overall || !v->report)
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "verification: begin");
	if (err == 0)
		err = db_order_fetch_locked(db, order_id, &o);
	if (err == 0) {
		const char *text[] = { order_id, v->overall, v->report,
			               v->chain, actor };
		const int64_t ints[] = { v->evaluated_at, now };

		err = db_exec_bound(db, "verification", sql, text, 5, ints, 2);
	}
	if (err == 0) {
		const char *text[] = { order_id };
		const int64_t ints[] = { v->leaf_not_after,
			                 v->chain_not_after };
		err = db_exec_bound(db, "verification: expiry", expiry_sql,
		                    text, 1, ints, 2);
	}
	if (err == 0)
		err = db_event_add(db, order_id, now, actor, "verified", NULL,
		                   NULL, v->overall);
	if (err == 0)
		err = db_order_move_tx(db, order_id, v->trigger, false, actor,
		                       v->trigger == ORDER_T_VERIFY_FAIL
		                           ? "verification failed"
		                           : "every AMT check passed",
		                       now, &st, NULL);
	if (err == 0)
		err = db_tx_commit(db, "verification: commit");
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(o);
	if (err == 0 && state_out)
		*state_out = st;
	return err;
}

/* One text column of the newest verification of an order. */
static int
latest_text(struct db *db, const char *order_id, const char *step,
            const char *sql, char **out)
{
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !out)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = db_stmt_prepare(db, step, sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, order_id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, step, rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = db_column_strdup(st, 0, &text);
	else if (rc == SQLITE_DONE)
		err = ERR_NOT_FOUND;
	else
		err = db_err_sqlite(db, step, rc);
	if (err == 0 && !text)
		err = ERR_NOT_FOUND;
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	if (err == 0)
		*out = text;
	else
		free(text);
	return err;
}

int
db_verification_latest(struct db *db, const char *order_id, char **report)
{
	return latest_text(db, order_id, "verification_latest",
	                   "SELECT report FROM verifications WHERE order_id = "
	                   "? ORDER BY id DESC LIMIT 1",
	                   report);
}

int
db_verification_chain(struct db *db, const char *order_id, char **chain)
{
	return latest_text(db, order_id, "verification_chain",
	                   "SELECT chain FROM verifications WHERE order_id = "
	                   "? ORDER BY id DESC LIMIT 1",
	                   chain);
}
