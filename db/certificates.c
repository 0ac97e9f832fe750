/*
 * certificates.c: the certificates table and the links from an order to its
 * certificates.
 *
 * Certificates are stored once, keyed by the SHA-256 of their DER; orders
 * and the CA pool link to them.
 */
#include "db/internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

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

/* Reads DB_CERT_COLUMNS (from column 0) and, with extra, role, reason,
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

int
db_cert_query(struct db *db, const char *step, const char *sql,
              const char *param, bool extra, struct db_cert_list **out)
{
	struct db_cert_list *l = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	db = db_read_lock(db);
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
	db_read_unlock(db);
	if (err < 0) {
		db_cert_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int
db_cert_put(struct db *db, const struct db_cert *c, int64_t now)
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

int
db_order_cert_link(struct db *db, const char *order_id, const struct db_cert *c,
                   int64_t now)
{
	static const char sql[] =
	    "INSERT INTO order_certificates (order_id, cert_sha256, role, "
	    "reason, upload_id, created_at) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT(order_id, cert_sha256) DO UPDATE SET "
	    "role = excluded.role, reason = excluded.reason";
	const char *text[] = { order_id, c->sha256, c->role, c->reason,
		               c->upload_id };
	const int64_t ints[] = { now };

	return db_exec_bound(db, "order_upload: link", sql, text, 5, ints, 1);
}

int
db_order_certs(struct db *db, const char *order_id, struct db_cert_list **out)
{
	static const char sql[] =
	    "SELECT " DB_CERT_COLUMNS ", oc.role, oc.reason, oc.upload_id, "
	    "oc.created_at FROM order_certificates oc JOIN certificates c "
	    "ON c.sha256 = oc.cert_sha256 WHERE oc.order_id = ? "
	    "ORDER BY oc.rowid";

	if (!db || !order_id || !out)
		return ERR_INVALID;
	return db_cert_query(db, "order_certs", sql, order_id, true, out);
}
