/*
 * sweep.c: the expiry sweep, which moves orders whose leaf or chain expires
 * to renewal_due or expired.
 */
#include "db/internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

void
db_sweep_clear(struct db_sweep *s)
{
	for (size_t i = 0; i < s->nrenewal_due; i++)
		free(s->renewal_due[i]);
	for (size_t i = 0; i < s->nexpired; i++)
		free(s->expired[i]);
	free(s->renewal_due);
	free(s->expired);
	memset(s, 0, sizeof(*s));
}

/*
 * The ids of orders whose earliest expiry is <= t and from whose state the
 * state machine has trigger t_move.
 */
static int
sweep_ids(struct db *db, int64_t t, enum order_trigger t_move, char ***ids,
          size_t *n)
{
	/* The earliest notAfter of leaf and chain; 0 means not verified. */
	static const char sql[] =
	    "SELECT id, state FROM orders WHERE min("
	    "CASE WHEN coalesce(leaf_not_after, 0) > 0 THEN leaf_not_after "
	    "ELSE 9223372036854775807 END, "
	    "CASE WHEN coalesce(chain_not_after, 0) > 0 THEN chain_not_after "
	    "ELSE 9223372036854775807 END) <= ? ORDER BY seq";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "expiry_sweep", sql, &st);
	if (err < 0)
		return err;
	db_bind_int64(st, 1, t, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "expiry_sweep: bind", rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum order_state from, to;
		char **v;

		if (!order_state_parse((const char *)sqlite3_column_text(st, 1),
		                       &from) ||
		    !order_state_next(from, t_move, &to))
			continue;
		v = realloc(*ids, (*n + 1) * sizeof(**ids));
		if (!v) {
			err = ERR_NOMEM;
			goto cleanup;
		}
		*ids = v;
		err = db_column_strdup(st, 0, &v[*n]);
		if (err < 0)
			goto cleanup;
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		err = db_err_sqlite(db, "expiry_sweep", rc);
cleanup:
	db_stmt_done(db, st);
	return err;
}

/* Moves each order; one that moved on meanwhile is dropped from the list. */
static int
sweep_move(struct db *db, char **ids, size_t *n, enum order_trigger t,
           const char *actor, const char *reason, int64_t now)
{
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; i < *n; i++) {
		err = db_tx_begin(db, "expiry_sweep: begin");
		if (err == 0)
			err = db_order_move_tx(db, ids[i], t, true, actor,
			                       reason, now, NULL, NULL);
		if (err == 0)
			err = db_tx_commit(db, "expiry_sweep: commit");
		db_tx_rollback(db);
		if (err == ERR_CONFLICT || err == ERR_NOT_FOUND) {
			free(ids[i]);
			err = 0;
			continue;
		}
		if (err < 0) {
			for (size_t k = i; k < *n; k++)
				free(ids[k]);
			break;
		}
		ids[kept++] = ids[i];
	}
	*n = kept;
	return err;
}

int
db_orders_expiry_sweep(struct db *db, int64_t now, int64_t window,
                       const char *actor, bool dry_run, struct db_sweep *out)
{
	struct db_sweep s = { 0 };
	int err;

	if (!db || !out || window < 0)
		return ERR_INVALID;
	db_lock(db);
	err =
	    sweep_ids(db, now, ORDER_T_EXPIRY_PASSED, &s.expired, &s.nexpired);
	if (err == 0 && !dry_run)
		err = sweep_move(db, s.expired, &s.nexpired,
		                 ORDER_T_EXPIRY_PASSED, actor,
		                 "the certificate or a CA of its chain "
		                 "expired",
		                 now);
	if (err == 0)
		err = sweep_ids(db, now + window, ORDER_T_EXPIRY_DUE,
		                &s.renewal_due, &s.nrenewal_due);
	if (err == 0 && dry_run) {
		/* listed as expired already: not also as due */
		size_t kept = 0;

		for (size_t i = 0; i < s.nrenewal_due; i++) {
			bool dup = false;

			for (size_t k = 0; k < s.nexpired && !dup; k++)
				dup =
				    strcmp(s.expired[k], s.renewal_due[i]) == 0;
			if (dup)
				free(s.renewal_due[i]);
			else
				s.renewal_due[kept++] = s.renewal_due[i];
		}
		s.nrenewal_due = kept;
	}
	if (err == 0 && !dry_run)
		err = sweep_move(db, s.renewal_due, &s.nrenewal_due,
		                 ORDER_T_EXPIRY_DUE, actor,
		                 "the certificate or a CA of its chain "
		                 "expires within the renewal window",
		                 now);
	db_unlock(db);
	if (err < 0) {
		db_sweep_clear(&s);
		return err;
	}
	*out = s;
	return 0;
}
