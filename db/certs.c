/*
 * certs.c: certificates, uploads, the global CA pool, trusted AMT root
 * hashes and verification reports.
 *
 * Certificates are stored once, keyed by the SHA-256 of their DER; orders
 * and the pool link to them. Reports are opaque text to this module.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define CERT_COLUMNS                                                         \
	"c.sha256, c.der, c.sha1, c.sha384, c.subject, c.issuer, c.serial, " \
	"c.not_before, c.not_after, c.spki_sha256, c.is_ca, c.self_signed"

static void
cert_clear(struct db_cert *c)
{
	free(c->sha256);
	free(c->der);
	free(c->sha1);
	free(c->sha384);
	free(c->subject);
	free(c->issuer);
	free(c->serial);
	free(c->spki_sha256);
	free(c->role);
	free(c->reason);
	free(c->upload_id);
	memset(c, 0, sizeof(*c));
}

void
db_cert_list_free(struct db_cert_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		cert_clear(&l->items[i]);
	free(l->items);
	free(l);
}

/* Reads CERT_COLUMNS (from column 0) and, with extra, role, reason,
 * upload_id, created_at after them. */
static int
cert_read(sqlite3_stmt *st, struct db_cert *c, bool extra)
{
	const void *der = sqlite3_column_blob(st, 1);
	int n = sqlite3_column_bytes(st, 1);
	int err = 0;

	memset(c, 0, sizeof(*c));
	c->der = malloc(n > 0 ? (size_t)n : 1);
	if (!c->der)
		return ERR_NOMEM;
	if (n > 0 && der)
		memcpy(c->der, der, (size_t)n);
	c->der_len = n > 0 ? (size_t)n : 0;
	if (!err)
		err = db_column_strdup(st, 0, &c->sha256);
	if (!err)
		err = db_column_strdup(st, 2, &c->sha1);
	if (!err)
		err = db_column_strdup(st, 3, &c->sha384);
	if (!err)
		err = db_column_strdup(st, 4, &c->subject);
	if (!err)
		err = db_column_strdup(st, 5, &c->issuer);
	if (!err)
		err = db_column_strdup(st, 6, &c->serial);
	c->not_before = sqlite3_column_int64(st, 7);
	c->not_after = sqlite3_column_int64(st, 8);
	if (!err)
		err = db_column_strdup(st, 9, &c->spki_sha256);
	c->is_ca = sqlite3_column_int(st, 10) != 0;
	c->self_signed = sqlite3_column_int(st, 11) != 0;
	if (extra) {
		if (!err)
			err = db_column_strdup(st, 12, &c->role);
		if (!err)
			err = db_column_strdup(st, 13, &c->reason);
		if (!err)
			err = db_column_strdup(st, 14, &c->upload_id);
		c->created_at = sqlite3_column_int64(st, 15);
	}
	if (err)
		cert_clear(c);
	return err;
}

/* Runs a certificate query with one text parameter (or none). */
static int
cert_query(struct db *db, const char *step, const char *sql, const char *param,
           bool extra, struct db_cert_list **out)
{
	struct db_cert_list *l = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	db_lock(db);
	err = db_stmt_prepare(db, step, sql, &st);
	if (err < 0)
		goto cleanup;
	if (param)
		db_bind_text(st, 1, param, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, step, rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_cert *items =
		    realloc(l->items, (l->count + 1) * sizeof(*items));
		if (!items) {
			err = ERR_NOMEM;
			goto cleanup;
		}
		l->items = items;
		err = cert_read(st, &l->items[l->count], extra);
		if (err < 0)
			goto cleanup;
		l->count++;
	}
	if (rc != SQLITE_DONE)
		err = db_err_sqlite(db, step, rc);
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	if (err < 0) {
		db_cert_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

/* Inserts a certificate unless its SHA-256 is known. Inside a tx. */
static int
cert_put(struct db *db, const struct db_cert *c, int64_t now)
{
	static const char sql[] =
	    "INSERT INTO certificates (sha256, der, sha1, sha384, subject, "
	    "issuer, serial, not_before, not_after, spki_sha256, is_ca, "
	    "self_signed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?) ON CONFLICT(sha256) DO NOTHING";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "cert_put", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, c->sha256, &rc);
	db_bind_blob(st, 2, c->der, c->der_len, &rc);
	db_bind_text(st, 3, c->sha1, &rc);
	db_bind_text(st, 4, c->sha384, &rc);
	db_bind_text(st, 5, c->subject, &rc);
	db_bind_text(st, 6, c->issuer, &rc);
	db_bind_text(st, 7, c->serial, &rc);
	db_bind_int64(st, 8, c->not_before, &rc);
	db_bind_int64(st, 9, c->not_after, &rc);
	db_bind_text(st, 10, c->spki_sha256, &rc);
	db_bind_int64(st, 11, c->is_ca, &rc);
	db_bind_int64(st, 12, c->self_signed, &rc);
	db_bind_int64(st, 13, now, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "cert_put: bind", rc);
	else
		err = db_step_done(db, "cert_put", st);
	db_stmt_done(db, st);
	return err;
}

/* Runs one bound statement to completion inside the caller's tx. */
static int
exec_bound(struct db *db, const char *step, const char *sql,
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
	static const char link_sql[] =
	    "INSERT INTO order_certificates (order_id, cert_sha256, role, "
	    "reason, upload_id, created_at) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT(order_id, cert_sha256) DO UPDATE SET "
	    "role = excluded.role, reason = excluded.reason";
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
		const struct db_cert *c = &u->certs[i];
		const char *text[] = { order_id, c->sha256, c->role, c->reason,
			               c->upload_id };
		const int64_t ints[] = { now };

		err = cert_put(db, c, now);
		if (err < 0)
			goto cleanup;
		err = exec_bound(db, "order_upload: link", link_sql, text, 5,
		                 ints, 1);
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
			err = exec_bound(db, "order_upload: has_key",
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

int
db_order_certs(struct db *db, const char *order_id, struct db_cert_list **out)
{
	static const char sql[] =
	    "SELECT " CERT_COLUMNS ", oc.role, oc.reason, oc.upload_id, "
	    "oc.created_at FROM order_certificates oc JOIN certificates c "
	    "ON c.sha256 = oc.cert_sha256 WHERE oc.order_id = ? "
	    "ORDER BY oc.rowid";

	if (!db || !order_id || !out)
		return ERR_INVALID;
	return cert_query(db, "order_certs", sql, order_id, true, out);
}

int
db_pool_list(struct db *db, struct db_cert_list **out)
{
	static const char sql[] =
	    "SELECT " CERT_COLUMNS ", NULL, NULL, NULL, p.created_at FROM "
	    "ca_pool p JOIN certificates c ON c.sha256 = p.cert_sha256 "
	    "ORDER BY p.rowid";

	if (!db || !out)
		return ERR_INVALID;
	return cert_query(db, "pool_list", sql, NULL, true, out);
}

int
db_pool_add(struct db *db, const struct db_cert *certs, size_t n,
            const char *actor, int64_t now, size_t *added)
{
	static const char sql[] =
	    "INSERT INTO ca_pool (cert_sha256, actor, created_at) VALUES "
	    "(?, ?, ?) ON CONFLICT(cert_sha256) DO NOTHING";
	size_t count = 0;
	int err;

	if (!db || (!certs && n))
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "pool_add: begin");
	for (size_t i = 0; err == 0 && i < n; i++) {
		const char *text[] = { certs[i].sha256, actor };
		const int64_t ints[] = { now };

		err = cert_put(db, &certs[i], now);
		if (err == 0)
			err = exec_bound(db, "pool_add", sql, text, 2, ints, 1);
		if (err == 0)
			count += (size_t)sqlite3_changes(db->sq);
	}
	if (err == 0)
		err = db_tx_commit(db, "pool_add: commit");
	db_tx_rollback(db);
	db_unlock(db);
	if (err == 0 && added)
		*added = count;
	return err;
}

int
db_pool_remove(struct db *db, const char *sha256)
{
	static const char sql[] = "DELETE FROM ca_pool WHERE cert_sha256 = ?";
	const char *text[] = { sha256 };
	int err;

	if (!db || !sha256)
		return ERR_INVALID;
	db_lock(db);
	err = exec_bound(db, "pool_remove", sql, text, 1, NULL, 0);
	if (err == 0 && sqlite3_changes(db->sq) == 0)
		err = ERR_NOT_FOUND;
	db_unlock(db);
	return err;
}

/* ---- AMT roots ------------------------------------------------------- */

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
	db_lock(db);
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
	db_unlock(db);
	if (err < 0) {
		db_amt_root_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int
db_amt_root_insert(struct db *db, const struct db_amt_root *roots, size_t n,
                   int64_t now, size_t *added)
{
	static const char sql[] =
	    "INSERT INTO amt_roots (" ROOT_COLUMNS ") VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING";
	size_t count = 0;
	int err;

	if (!db || (!roots && n))
		return ERR_INVALID;
	db_lock(db);
	err = db_tx_begin(db, "amt_root_insert: begin");
	for (size_t i = 0; err == 0 && i < n; i++) {
		const struct db_amt_root *r = &roots[i];
		const char *text[] = { r->id,     r->name,   r->sha1,
			               r->sha256, r->sha384, r->evidence,
			               r->source };
		const int64_t ints[] = { r->enabled, now };

		err = exec_bound(db, "amt_root_insert", sql, text, 7, ints, 2);
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
	db_lock(db);
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
	db_unlock(db);
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
	err = exec_bound(db, "amt_root_delete",
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

/* ---- verification reports --------------------------------------------- */

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

		err = exec_bound(db, "verification", sql, text, 4, ints, 2);
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

/* ---- the expiry sweep --------------------------------------------------- */

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

/* The ids of orders in the sweep's sql (one int64 parameter). */
static int
sweep_ids(struct db *db, const char *sql, int64_t t, char ***ids, size_t *n)
{
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
		char **v = realloc(*ids, (*n + 1) * sizeof(**ids));

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
sweep_move(struct db *db, char **ids, size_t *n, const char *const *from,
           const char *to, const char *actor, const char *reason, int64_t now)
{
	size_t kept = 0;
	int err = 0;

	for (size_t i = 0; i < *n; i++) {
		err = db_tx_begin(db, "expiry_sweep: begin");
		if (err == 0)
			err = db_order_move_tx(db, ids[i], from, to, actor,
			                       reason, now, NULL);
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
	/* The earliest notAfter of leaf and chain; 0 means not verified. */
#define EXPIRY                                                \
	"min(CASE WHEN coalesce(leaf_not_after, 0) > 0 THEN " \
	"leaf_not_after ELSE 9223372036854775807 END, "       \
	"CASE WHEN coalesce(chain_not_after, 0) > 0 THEN "    \
	"chain_not_after ELSE 9223372036854775807 END)"
	static const char expired_sql[] =
	    "SELECT id FROM orders WHERE state IN ('ready', 'deployed', "
	    "'renewal_due') AND " EXPIRY " <= ? ORDER BY seq";
	static const char due_sql[] =
	    "SELECT id FROM orders WHERE state IN ('ready', 'deployed') "
	    "AND " EXPIRY " <= ? ORDER BY seq";
#undef EXPIRY
	static const char *const from_due[] = { "ready", "deployed", NULL };
	static const char *const from_expired[] = { "ready", "deployed",
		                                    "renewal_due", NULL };
	struct db_sweep s = { 0 };
	int err;

	if (!db || !out || window < 0)
		return ERR_INVALID;
	db_lock(db);
	err = sweep_ids(db, expired_sql, now, &s.expired, &s.nexpired);
	if (err == 0 && !dry_run)
		err = sweep_move(db, s.expired, &s.nexpired, from_expired,
		                 "expired", actor,
		                 "the certificate or a CA of its chain "
		                 "expired",
		                 now);
	if (err == 0)
		err = sweep_ids(db, due_sql, now + window, &s.renewal_due,
		                &s.nrenewal_due);
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
		err = sweep_move(db, s.renewal_due, &s.nrenewal_due, from_due,
		                 "renewal_due", actor,
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
