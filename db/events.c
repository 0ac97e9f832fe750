/*
 * events.c: the audit log of orders, which is also the webhook outbox.
 * Rows are only ever appended, inside the transaction of the change they
 * record.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

int
db_event_add(struct db *db, const char *order_id, int64_t at, const char *actor,
             const char *type, const char *from_state, const char *to_state,
             const char *detail)
{
	static const char sql[] =
	    "INSERT INTO events (order_id, at, actor, type, from_state, "
	    "to_state, detail) VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "event_add", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, order_id, &rc);
	db_bind_int64(st, 2, at, &rc);
	db_bind_text(st, 3, actor, &rc);
	db_bind_text(st, 4, type, &rc);
	db_bind_text(st, 5, from_state, &rc);
	db_bind_text(st, 6, to_state, &rc);
	db_bind_text(st, 7, detail, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "event_add: bind", rc);
	else
		err = db_step_done(db, "event_add", st);
	db_stmt_done(db, st);
	return err;
}

void
db_event_list_free(struct db_event_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++) {
		struct db_event *e = &l->items[i];

		free(e->order_id);
		free(e->actor);
		free(e->type);
		free(e->from_state);
		free(e->to_state);
		free(e->detail);
	}
	free(l->items);
	free(l);
}

/*
 * ERR_NOT_FOUND when there is no order id. The caller holds the lock.
 * Reads the orders table directly so that events.c needs nothing of
 * orders.c (which calls db_event_add).
 */
static int
event_order_exists(struct db *db, const char *step, const char *id)
{
	static const char sql[] = "SELECT 1 FROM orders WHERE id = ?";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, step, sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, id, &rc);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = 0;
	else if (rc == SQLITE_DONE)
		err = ERR_NOT_FOUND;
	else
		err = db_err_sqlite(db, step, rc);
	db_stmt_done(db, st);
	return err;
}

/* Fills e from the current row of the SELECT in db_event_list. */
static int
event_from_row(sqlite3_stmt *st, struct db_event *e)
{
	int err;

	e->id = sqlite3_column_int64(st, 0);
	e->at = sqlite3_column_int64(st, 2);
	err = db_column_strdup(st, 1, &e->order_id);
	if (!err)
		err = db_column_strdup(st, 3, &e->actor);
	if (!err)
		err = db_column_strdup(st, 4, &e->type);
	if (!err)
		err = db_column_strdup(st, 5, &e->from_state);
	if (!err)
		err = db_column_strdup(st, 6, &e->to_state);
	if (!err)
		err = db_column_strdup(st, 7, &e->detail);
	return err;
}

int
db_event_list(struct db *db, const char *order_id, struct db_event_list **out)
{
	static const char sql[] =
	    "SELECT id, order_id, at, actor, type, from_state, to_state, "
	    "detail FROM events WHERE order_id = ? ORDER BY id";
	struct db_event_list *l = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !out)
		return ERR_INVALID;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;

	db = db_read_lock(db);
	err = event_order_exists(db, "event_list: order", order_id);
	if (err < 0)
		goto cleanup;
	err = db_stmt_prepare(db, "event_list", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, order_id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "event_list: bind", rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->count == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct db_event *tmp;

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
		err = event_from_row(st, &l->items[l->count++]);
		if (err < 0)
			goto cleanup;
	}
	if (rc != SQLITE_DONE) {
		err = db_err_sqlite(db, "event_list", rc);
		goto cleanup;
	}
	*out = l;
	l = NULL;
	err = 0;
cleanup:
	db_stmt_done(db, st);
	db_read_unlock(db);
	db_event_list_free(l);
	return err;
}

int
db_order_event(struct db *db, const char *order_id, const char *actor,
               const char *type, const char *detail, int64_t now)
{
	int err;

	if (!db || !order_id || !type)
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "order_event: begin");
	if (err == 0)
		err = event_order_exists(db, "order_event: order", order_id);
	if (err == 0)
		err = db_event_add(db, order_id, now, actor, type, NULL, NULL,
		                   detail);
	if (err == 0)
		err = db_tx_commit(db, "order_event: commit");
	db_tx_rollback(db);
	db_unlock(db);
	return err;
}
