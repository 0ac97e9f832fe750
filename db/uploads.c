/*
 * uploads.c: one upload to an order: the raw files, the certificates they
 * held, the leaf, an imported key and the move it causes, in one transaction.
 */
#include "db/internal.h"

#include "common/err.h"

#include <string.h>

static int
upload_put(struct db *db, const char *order_id, const struct db_upload *u,
           const char *actor, int64_t now)
{
	static const char sql[] =
	    "INSERT INTO uploads (id, order_id, filename, media_type, "
	    "size, sha256, data, actor, created_at) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "upload_put", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, u->id, &rc);
	db_bind_text(st, 2, order_id, &rc);
	db_bind_text(st, 3, u->filename, &rc);
	db_bind_text(st, 4, u->media_type, &rc);
	db_bind_int64(st, 5, (int64_t)u->len, &rc);
	db_bind_text(st, 6, u->sha256, &rc);
	db_bind_blob(st, 7, u->data, u->len, &rc);
	db_bind_text(st, 8, actor, &rc);
	db_bind_int64(st, 9, now, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "upload_put: bind", rc);
	else
		err = db_step_done(db, "upload_put", st);
	db_stmt_done(db, st);
	return err;
}

int
db_order_upload_apply(struct db *db, const char *order_id,
                      const struct db_order_upload *u, const char *actor,
                      int64_t now, char **cur_state)
{
	static const char leaf_sql[] =
	    "UPDATE orders SET leaf_sha256 = ?, version = version + 1, "
	    "updated_at = ? WHERE id = ?";
	static const char key_sql[] =
	    "INSERT INTO order_keys (order_id, sealed, created_at) "
	    "VALUES (?, ?, ?)";
	static const char has_key_sql[] =
	    "UPDATE orders SET has_key = 1 WHERE id = ?";
	struct db_order *o = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !u)
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "order_upload: begin");
	if (err < 0)
		goto cleanup;
	err = db_order_fetch_locked(db, order_id, &o);
	if (err < 0)
		goto cleanup;
	for (size_t i = 0; i < u->nuploads; i++) {
		err = upload_put(db, order_id, &u->uploads[i], actor, now);
		if (err < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < u->ncerts; i++) {
		err = db_cert_put(db, &u->certs[i], now);
		if (err < 0)
			goto cleanup;
		err = db_order_cert_link(db, order_id, &u->certs[i], now);
		if (err < 0)
			goto cleanup;
	}
	if (u->leaf_sha256) {
		const char *text[] = { u->leaf_sha256 };
		const int64_t ints[] = { now };

		err = db_stmt_prepare(db, "order_upload: leaf", leaf_sql, &st);
		if (err < 0)
			goto cleanup;
		db_bind_text(st, 1, text[0], &rc);
		db_bind_int64(st, 2, ints[0], &rc);
		db_bind_text(st, 3, order_id, &rc);
		err = rc != SQLITE_OK
		          ? db_err_sqlite(db, "order_upload: leaf", rc)
		          : db_step_done(db, "order_upload: leaf", st);
		db_stmt_done(db, st);
		st = NULL;
		if (err < 0)
			goto cleanup;
	}
	if (u->sealed_key && !o->has_key) {
		err = db_stmt_prepare(db, "order_upload: key", key_sql, &st);
		if (err < 0)
			goto cleanup;
		db_bind_text(st, 1, order_id, &rc);
		db_bind_blob(st, 2, u->sealed_key, u->sealed_key_len, &rc);
		db_bind_int64(st, 3, now, &rc);
		err = rc != SQLITE_OK
		          ? db_err_sqlite(db, "order_upload: key", rc)
		          : db_step_done(db, "order_upload: key", st);
		db_stmt_done(db, st);
		st = NULL;
		if (err < 0)
			goto cleanup;
		{
			const char *text[] = { order_id };
			err = db_exec_bound(db, "order_upload: has_key",
			                    has_key_sql, text, 1, NULL, 0);
		}
		if (err < 0)
			goto cleanup;
		err = db_event_add(db, order_id, now, actor, "key_imported",
		                   NULL, NULL,
		                   "private key taken from the uploaded "
		                   "PKCS#12");
		if (err < 0)
			goto cleanup;
	}
	err = db_event_add(db, order_id, now, actor, "upload", NULL, NULL,
	                   u->detail);
	if (err < 0)
		goto cleanup;
	if (u->to_state && u->from_states &&
	    strcmp(o->state, u->to_state) != 0) {
		err = db_order_move_tx(
		    db, order_id, u->from_states, u->to_state, actor,
		    "the CA's certificate was uploaded", now, cur_state);
		if (err < 0)
			goto cleanup;
	}
	err = db_tx_commit(db, "order_upload: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(o);
	return err;
}
