/*
 * check.c: read-only checks of the store for `amtcertd check`: SQLite's
 * own integrity and foreign-key checks, and every sealed row handed to the
 * caller (core/check.c), who holds the master key.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lines of integrity_check kept in the report at most. */
#define CHECK_MAX_LINES 20

static int
report_add(char **rep, size_t *len, const char *line)
{
	size_t n = strlen(line);
	char *r = realloc(*rep, *len + n + 2);

	if (!r)
		return ERR_NOMEM;
	memcpy(r + *len, line, n);
	r[*len + n] = '\n';
	r[*len + n + 1] = '\0';
	*rep = r;
	*len += n + 1;
	return 0;
}

/* Each row of a PRAGMA that answers one text column, into the report. */
static int
pragma_lines(struct db *db, const char *step, const char *sql, char **rep,
             size_t *len, size_t *lines)
{
	sqlite3_stmt *st = NULL;
	int err = db_stmt_prepare(db, step, sql, &st);
	int rc;

	if (err < 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		char line[512];

		if (*lines >= CHECK_MAX_LINES) {
			(*lines)++;
			continue;
		}
		snprintf(line, sizeof(line), "%s", t ? (const char *)t : "?");
		err = report_add(rep, len, line);
		if (err < 0)
			break;
		(*lines)++;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_err_sqlite(db, step, rc);
	db_stmt_done(db, st);
	return err;
}

int
db_integrity_check(struct db *db, char **report)
{
	char *rep = NULL;
	size_t len = 0, lines = 0, fk = 0;
	sqlite3_stmt *st = NULL;
	int err, rc;

	if (!db || !report)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = pragma_lines(db, "integrity_check", "PRAGMA integrity_check(100)",
	                   &rep, &len, &lines);
	if (err < 0)
		goto cleanup;
	/* "ok" alone is SQLite's all clear; keep the report empty then */
	if (lines == 1 && rep && strcmp(rep, "ok\n") == 0) {
		rep[0] = '\0';
		len = 0;
		lines = 0;
	}
	err = db_stmt_prepare(db, "foreign_key_check",
	                      "PRAGMA foreign_key_check", &st);
	if (err < 0)
		goto cleanup;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		const unsigned char *p = sqlite3_column_text(st, 2);
		char line[256];

		if (++fk > CHECK_MAX_LINES)
			continue;
		snprintf(line, sizeof(line),
		         "foreign key: row %lld of %s names a missing %s",
		         (long long)sqlite3_column_int64(st, 1),
		         t ? (const char *)t : "?", p ? (const char *)p : "?");
		err = report_add(&rep, &len, line);
		if (err < 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_err_sqlite(db, "foreign_key_check", rc);
	db_stmt_done(db, st);
	if (err == 0 && (lines > CHECK_MAX_LINES || fk > CHECK_MAX_LINES))
		err = report_add(&rep, &len, "(more problems not shown)");
	if (err < 0)
		goto cleanup;
	if (!rep) {
		rep = calloc(1, 1);
		if (!rep) {
			err = ERR_NOMEM;
			goto cleanup;
		}
	}
	*report = rep;
	rep = NULL;
cleanup:
	db_read_unlock(db);
	free(rep);
	return err;
}

/* Hands each row of one table's query to fn. */
static int
sealed_rows(struct db *db, const char *step, const char *sql, const char *table,
            db_sealed_fn *fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int err = db_stmt_prepare(db, step, sql, &st);
	int rc;

	if (err < 0)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(st, 0);
		const unsigned char *oid = sqlite3_column_text(st, 1);
		const unsigned char *sha = sqlite3_column_text(st, 4);
		const void *blob = sqlite3_column_blob(st, 2);
		int n = sqlite3_column_bytes(st, 2);
		struct db_sealed s = {
			.table = table,
			.id = id ? (const char *)id : "",
			.order_id = oid ? (const char *)oid : NULL,
			.data = blob ? blob : (const void *)"",
			.len = n > 0 ? (size_t)n : 0,
			.sealed = sqlite3_column_int64(st, 3) != 0,
			.sha256 = sha ? (const char *)sha : NULL,
			.size = sqlite3_column_int64(st, 5),
		};

		err = fn(arg, &s);
		if (err < 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = db_err_sqlite(db, step, rc);
	db_stmt_done(db, st);
	return err;
}

int
db_sealed_each(struct db *db, db_sealed_fn *fn, void *arg)
{
	static const char keys_sql[] =
	    "SELECT order_id, order_id, sealed, 1, NULL, 0 FROM order_keys "
	    "ORDER BY order_id";
	static const char uploads_sql[] =
	    "SELECT id, order_id, data, sealed, sha256, size FROM uploads "
	    "ORDER BY created_at, id";
	int err;

	if (!db || !fn)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = sealed_rows(db, "sealed_each: keys", keys_sql, "order_keys", fn,
	                  arg);
	if (err == 0)
		err = sealed_rows(db, "sealed_each: uploads", uploads_sql,
		                  "uploads", fn, arg);
	db_read_unlock(db);
	return err;
}
