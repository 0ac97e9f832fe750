/*
 * uploads.c: one upload to an order: the raw files, the certificates they
 * held, the leaf, an imported key and the move it causes, in one transaction.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
upload_put(struct db *db, const char *order_id, const struct db_upload *u,
           const char *actor, int64_t now)
{
	static const char sql[] =
	    "INSERT INTO uploads (id, order_id, filename, media_type, "
	    "size, sha256, data, actor, created_at, sealed) VALUES (?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "upload_put", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, u->id, &rc);
	db_bind_text(st, 2, order_id, &rc);
	db_bind_text(st, 3, u->filename, &rc);
	db_bind_text(st, 4, u->media_type, &rc);
	db_bind_int64(st, 5, (int64_t)u->size, &rc);
	db_bind_text(st, 6, u->sha256, &rc);
	db_bind_blob(st, 7, u->data, u->len, &rc);
	db_bind_text(st, 8, actor, &rc);
	db_bind_int64(st, 9, now, &rc);
	db_bind_int64(st, 10, u->sealed, &rc);
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
                      int64_t now, enum order_state *state_out, bool *moved)
{
	static const char leaf_sql[] =
	    "UPDATE orders SET leaf_sha256 = ?, version = version + 1, "
	    "updated_at = ? WHERE id = ?";
	static const char key_sql[] =
	    "INSERT INTO order_keys (order_id, sealed, created_at) "
	    "VALUES (?, ?, ?)";
	static const char has_key_sql[] =
	    "UPDATE orders SET has_key = 1, key_origin = ? WHERE id = ?";
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
	if (!order_state_takes_uploads(o->state)) {
		*state_out = o->state;
		err = ERR_CONFLICT;
		goto cleanup;
	}
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
			const char *text[] = { u->key_origin ? u->key_origin
				                             : "pkcs12",
				               order_id };
			err = db_exec_bound(db, "order_upload: has_key",
			                    has_key_sql, text, 2, NULL, 0);
		}
		if (err < 0)
			goto cleanup;
		err = db_event_add(
		    db, order_id, now, actor, "key_imported", NULL, NULL,
		    u->key_origin && strcmp(u->key_origin, "pem") == 0
		        ? "private key taken from the uploaded "
		          "PEM"
		        : "private key taken from the uploaded "
		          "PKCS#12");
		if (err < 0)
			goto cleanup;
	}
	err = db_event_add(db, order_id, now, actor, "upload", NULL, NULL,
	                   u->detail);
	if (err < 0)
		goto cleanup;
	*state_out = o->state;
	*moved = false;
	if (u->leaf_sha256) {
		err = db_order_move_tx(
		    db, order_id, ORDER_T_UPLOAD_LEAF, false, actor,
		    "the CA's certificate was uploaded", now, state_out, moved);
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

int
db_order_cert_detach(struct db *db, const char *order_id, const char *sha256,
                     const char *actor, int64_t now, char **role)
{
	static const char role_sql[] = "SELECT role FROM order_certificates "
	                               "WHERE order_id = ? AND cert_sha256 = ?";
	static const char del_sql[] = "DELETE FROM order_certificates WHERE "
	                              "order_id = ? AND cert_sha256 = ?";
	static const char bump_sql[] = "UPDATE orders SET version = version + "
	                               "1, updated_at = ?2 WHERE id = ?1";
	const char *keys[] = { order_id, sha256 };
	struct db_order *o = NULL;
	sqlite3_stmt *st = NULL;
	char *r = NULL, detail[128];
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !sha256)
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "cert_detach: begin");
	if (err == 0)
		err = db_order_fetch_locked(db, order_id, &o);
	if (err < 0)
		goto cleanup;
	if (order_state_is_terminal(o->state) ||
	    (o->leaf_sha256 && strcmp(o->leaf_sha256, sha256) == 0)) {
		err = ERR_CONFLICT;
		goto cleanup;
	}
	err = db_stmt_prepare(db, "cert_detach: role", role_sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, order_id, &rc);
	db_bind_text(st, 2, sha256, &rc);
	rc = rc == SQLITE_OK ? sqlite3_step(st) : rc;
	if (rc == SQLITE_ROW)
		err = db_column_strdup(st, 0, &r);
	else if (rc == SQLITE_DONE)
		err = ERR_NOT_FOUND;
	else
		err = db_err_sqlite(db, "cert_detach: role", rc);
	db_stmt_done(db, st);
	if (err < 0)
		goto cleanup;
	err = db_exec_bound(db, "cert_detach", del_sql, keys, 2, NULL, 0);
	if (err == 0) {
		const char *id[] = { order_id };
		const int64_t t[] = { now };

		err = db_exec_bound(db, "cert_detach: version", bump_sql, id, 1,
		                    t, 1);
	}
	if (err < 0)
		goto cleanup;
	snprintf(detail, sizeof(detail), "%s (%s)", sha256, r ? r : "?");
	err = db_event_add(db, order_id, now, actor, "certificate_detached",
	                   NULL, NULL, detail);
	if (err == 0)
		err = db_tx_commit(db, "cert_detach: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(o);
	if (err == 0 && role)
		*role = r;
	else
		free(r);
	return err;
}

/* The id, order and bytes of one upload still in clear, or ERR_NOT_FOUND. */
static int
clear_next(struct db *db, char **id, char **order_id, unsigned char **data,
           size_t *len)
{
	static const char sql[] = "SELECT id, order_id, data FROM uploads "
	                          "WHERE sealed = 0 LIMIT 1";
	sqlite3_stmt *st = NULL;
	int err = db_stmt_prepare(db, "uploads_seal: next", sql, &st);
	int rc;

	if (err < 0)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
	} else if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "uploads_seal: next", rc);
	} else {
		err = db_column_strdup(st, 0, id);
		if (err == 0)
			err = db_column_strdup(st, 1, order_id);
		if (err == 0)
			err = db_column_blobdup(st, 2, data, len);
	}
	db_stmt_done(db, st);
	return err;
}

int
db_uploads_seal_clear(struct db *db, db_upload_seal_fn *fn, void *arg,
                      size_t *count)
{
	static const char sql[] =
	    "UPDATE uploads SET data = ?, sealed = 1 WHERE id = ?";
	size_t n = 0;
	int err = 0;

	if (!db || !fn)
		return ERR_INVALID;
	db_lock(db);
	while (err == 0) {
		char *id = NULL, *oid = NULL;
		unsigned char *data = NULL, *sealed = NULL;
		size_t len = 0, slen = 0;
		sqlite3_stmt *st = NULL;
		int rc = SQLITE_OK;

		err = db_tx_begin(db, "uploads_seal: begin");
		if (err == 0)
			err = clear_next(db, &id, &oid, &data, &len);
		if (err == 0)
			err =
			    fn(arg, oid ? oid : "", data, len, &sealed, &slen);
		if (err == 0)
			err = db_stmt_prepare(db, "uploads_seal", sql, &st);
		if (err == 0) {
			db_bind_blob(st, 1, sealed, slen, &rc);
			db_bind_text(st, 2, id, &rc);
			err = rc != SQLITE_OK
			          ? db_err_sqlite(db, "uploads_seal: bind", rc)
			          : db_step_done(db, "uploads_seal", st);
			db_stmt_done(db, st);
		}
		if (err == 0)
			err = db_tx_commit(db, "uploads_seal: commit");
		db_tx_rollback(db);
		if (data)
			util_wipe(data, len);
		free(data);
		free(sealed);
		free(id);
		free(oid);
		if (err == 0)
			n++;
	}
	if (err == ERR_NOT_FOUND)
		err = 0;
	/* no clear copy may stay in the WAL */
	if (err == 0 && n > 0)
		err = db_exec(db, "uploads_seal: checkpoint",
		              "PRAGMA wal_checkpoint(TRUNCATE)");
	db_unlock(db);
	if (err == 0 && count)
		*count = n;
	return err;
}
