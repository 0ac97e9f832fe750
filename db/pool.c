/*
 * pool.c: the global CA pool, links to certificates that any order's chain
 * may be built from.
 */
#include "db/internal.h"

#include "common/err.h"

#include <stddef.h>

int
db_pool_list(struct db *db, struct db_cert_list **out)
{
	static const char sql[] =
	    "SELECT " DB_CERT_COLUMNS ", NULL, NULL, NULL, p.created_at FROM "
	    "ca_pool p JOIN certificates c ON c.sha256 = p.cert_sha256 "
	    "ORDER BY p.rowid";

	if (!db || !out)
		return ERR_INVALID;
	return db_cert_query(db, "pool_list", sql, NULL, true, out);
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

		err = db_cert_put(db, &certs[i], now);
		if (err == 0)
			err = db_exec_bound(db, "pool_add", sql, text, 2, ints,
			                    1);
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
	err = db_exec_bound(db, "pool_remove", sql, text, 1, NULL, 0);
	if (err == 0 && sqlite3_changes(db->sq) == 0)
		err = ERR_NOT_FOUND;
	db_unlock(db);
	return err;
}
