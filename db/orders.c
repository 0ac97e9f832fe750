/*
 * orders.c: orders, their SANs, sealed keys and idempotency keys.
 *
 * The orders table's text columns carry the names of struct db_order's
 * fields, and the SQL below is generated from one list of those names
 * (ORDER_TEXT_FIELDS), so the struct, the SELECT and the INSERT cannot
 * drift apart. Every name in the SQL is a compile-time constant; values
 * are always bound.
 */
#include "db/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The orders columns of type TEXT, in column order. */
#define ORDER_TEXT_FIELDS(X)   \
	X(id)                  \
	X(common_name)         \
	X(organization)        \
	X(organizational_unit) \
	X(locality)            \
	X(state_province)      \
	X(country)             \
	X(key_algorithm)       \
	X(csr_source)          \
	X(profile)             \
	X(dns_suffix)          \
	X(external_ref)        \
	X(notes)               \
	X(vendor_name)         \
	X(vendor_product)      \
	X(vendor_order_id)     \
	X(vendor_invoice)      \
	X(vendor_approver)     \
	X(vendor_dcv_method)   \
	X(vendor_price)        \
	X(csr_pem)             \
	X(public_key_sha256)   \
	X(renewal_of)          \
	X(leaf_sha256)

#define ORDER_COL_NAME(f)   #f ", "
#define ORDER_COL_PARAM(f)  "?, "
#define ORDER_COL_OFFSET(f) offsetof(struct db_order, f),

static const size_t order_text_off[] = { ORDER_TEXT_FIELDS(ORDER_COL_OFFSET) };

#define ORDER_NTEXT (sizeof(order_text_off) / sizeof(order_text_off[0]))

/* The other columns follow the text ones, in this order. */
enum order_int_col {
	ORDER_COL_SEQ,
	ORDER_COL_KEY_BITS,
	ORDER_COL_HAS_KEY,
	ORDER_COL_ALLOW_SUFFIX_MISMATCH,
	ORDER_COL_VENDOR_VALIDITY_DAYS,
	ORDER_COL_CREATED_AT,
	ORDER_COL_UPDATED_AT,
	ORDER_COL_VERSION,
	ORDER_COL_LEAF_NOT_AFTER,  /* read only: set by verification */
	ORDER_COL_CHAIN_NOT_AFTER, /* read only: set by verification */
	ORDER_COL_STATE,           /* text, parsed into enum order_state */
};

/* Column lists and placeholders, as string literals. */
#define ORDER_TEXT_COLUMNS ORDER_TEXT_FIELDS(ORDER_COL_NAME)
#define ORDER_TEXT_PARAMS  ORDER_TEXT_FIELDS(ORDER_COL_PARAM)
#define ORDER_INT_COLUMNS                                                  \
	"key_bits, has_key, allow_suffix_mismatch, vendor_validity_days, " \
	"created_at, updated_at, version"

#define ORDER_SELECT                                                    \
	"SELECT " ORDER_TEXT_COLUMNS "seq, " ORDER_INT_COLUMNS          \
	", coalesce(leaf_not_after, 0), coalesce(chain_not_after, 0), " \
	"state FROM orders"

/* seq is assigned by SQLite; a new order starts at version 1. */
static const char order_insert_sql[] =
    "INSERT INTO orders (" ORDER_TEXT_COLUMNS ORDER_INT_COLUMNS ", state) "
    "VALUES (" ORDER_TEXT_PARAMS "?, ?, ?, ?, ?, ?, 1, ?)";

/* The patchable text fields: same names in the patch, the order, the SQL. */
#define ORDER_PATCH_FIELDS(X) \
	X(external_ref)       \
	X(notes)              \
	X(vendor_name)        \
	X(vendor_product)     \
	X(vendor_order_id)    \
	X(vendor_invoice)     \
	X(vendor_approver)    \
	X(vendor_dcv_method)  \
	X(vendor_price)

#define ORDER_PATCH_ENTRY(f)                      \
	{ #f, offsetof(struct db_order_patch, f), \
	  offsetof(struct db_order, f) },
#define ORDER_PATCH_SET(f) #f " = ?, "

static const struct order_patch_field {
	const char *name;
	size_t patch_off;
	size_t order_off;
} order_patch_fields[] = { ORDER_PATCH_FIELDS(ORDER_PATCH_ENTRY) };

#define ORDER_NPATCH \
	(sizeof(order_patch_fields) / sizeof(order_patch_fields[0]))

#define ORDER_PATCH_SETS ORDER_PATCH_FIELDS(ORDER_PATCH_SET)

static const char order_update_sql[] =
    "UPDATE orders SET " ORDER_PATCH_SETS "vendor_validity_days = ?, "
    "version = version + 1, updated_at = ? WHERE id = ? AND version = ?";

static char **
order_text_at(struct db_order *o, size_t off)
{
	return (char **)(void *)((char *)o + off);
}

static const char *
order_text_get(const struct db_order *o, size_t off)
{
	return *(char *const *)(const void *)((const char *)o + off);
}

static const char *
patch_text_get(const struct db_order_patch *p, size_t off)
{
	return *(const char *const *)(const void *)((const char *)p + off);
}

static bool
str_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

void
db_order_free(struct db_order *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < ORDER_NTEXT; i++)
		free(*order_text_at(o, order_text_off[i]));
	for (size_t i = 0; i < o->san_count; i++)
		free(o->san[i]);
	free(o->san);
	free(o);
}

/* Builds an order (without SANs) from the current row of ORDER_SELECT. */
static int
order_from_row(sqlite3_stmt *st, struct db_order **out)
{
	const int base = (int)ORDER_NTEXT;
	struct db_order *o;
	int err = 0;

	o = calloc(1, sizeof(*o));
	if (!o)
		return ERR_NOMEM;
	for (size_t i = 0; i < ORDER_NTEXT; i++) {
		err = db_column_strdup(st, (int)i,
		                       order_text_at(o, order_text_off[i]));
		if (err < 0)
			goto cleanup;
	}
	o->seq = sqlite3_column_int64(st, base + ORDER_COL_SEQ);
	o->key_bits =
	    (unsigned)sqlite3_column_int64(st, base + ORDER_COL_KEY_BITS);
	o->has_key = sqlite3_column_int64(st, base + ORDER_COL_HAS_KEY) != 0;
	o->allow_suffix_mismatch =
	    sqlite3_column_int64(st, base + ORDER_COL_ALLOW_SUFFIX_MISMATCH) !=
	    0;
	o->vendor_validity_days =
	    sqlite3_column_int64(st, base + ORDER_COL_VENDOR_VALIDITY_DAYS);
	o->created_at = sqlite3_column_int64(st, base + ORDER_COL_CREATED_AT);
	o->updated_at = sqlite3_column_int64(st, base + ORDER_COL_UPDATED_AT);
	o->version = sqlite3_column_int64(st, base + ORDER_COL_VERSION);
	o->leaf_not_after =
	    sqlite3_column_int64(st, base + ORDER_COL_LEAF_NOT_AFTER);
	o->chain_not_after =
	    sqlite3_column_int64(st, base + ORDER_COL_CHAIN_NOT_AFTER);
	if (!order_state_parse(
	        (const char *)sqlite3_column_text(st, base + ORDER_COL_STATE),
	        &o->state)) {
		log_error("db: order %s has an unknown state", o->id);
		err = ERR_DB;
		goto cleanup;
	}
	*out = o;
	o = NULL;
cleanup:
	db_order_free(o);
	return err;
}

static int
order_load_sans(struct db *db, struct db_order *o)
{
	static const char sql[] =
	    "SELECT name FROM order_sans WHERE order_id = ? ORDER BY pos";
	sqlite3_stmt *st = NULL;
	char **san = NULL;
	size_t n = 0, cap = 0;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_sans", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, o->id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_sans: bind", rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			char **tmp = realloc(san, ncap * sizeof(*san));

			if (!tmp) {
				err = ERR_NOMEM;
				goto cleanup;
			}
			san = tmp;
			cap = ncap;
		}
		err = db_column_strdup(st, 0, &san[n]);
		if (err < 0)
			goto cleanup;
		n++;
	}
	if (rc != SQLITE_DONE) {
		err = db_err_sqlite(db, "order_sans", rc);
		goto cleanup;
	}
	o->san = san;
	o->san_count = n;
	san = NULL;
	n = 0;
	err = 0;
cleanup:
	db_stmt_done(db, st);
	for (size_t i = 0; i < n; i++)
		free(san[i]);
	free(san);
	return err;
}

/* Reads one order with its SANs. The caller holds the lock. */
static int
order_fetch(struct db *db, const char *id, struct db_order **out)
{
	static const char sql[] = ORDER_SELECT " WHERE id = ?";
	struct db_order *o = NULL;
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_get", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_get: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "order_get", rc);
		goto cleanup;
	}
	err = order_from_row(st, &o);
	if (err < 0)
		goto cleanup;
	db_stmt_done(db, st);
	st = NULL;
	err = order_load_sans(db, o);
	if (err < 0)
		goto cleanup;
	*out = o;
	o = NULL;
cleanup:
	db_stmt_done(db, st);
	db_order_free(o);
	return err;
}

static int
order_insert_row(struct db *db, const struct db_order *o, bool has_key,
                 int64_t now)
{
	const int base = (int)ORDER_NTEXT + 1; /* first int parameter */
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_insert", order_insert_sql, &st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < ORDER_NTEXT; i++)
		db_bind_text(st, (int)i + 1,
		             order_text_get(o, order_text_off[i]), &rc);
	db_bind_int64(st, base, (int64_t)o->key_bits, &rc);
	db_bind_int64(st, base + 1, has_key, &rc);
	db_bind_int64(st, base + 2, o->allow_suffix_mismatch, &rc);
	db_bind_int64(st, base + 3, o->vendor_validity_days, &rc);
	db_bind_int64(st, base + 4, now, &rc);
	db_bind_int64(st, base + 5, now, &rc);
	db_bind_text(st, base + 6, order_state_name(o->state), &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "order_insert: bind", rc);
	else
		err = db_step_done(db, "order_insert", st);
	db_stmt_done(db, st);
	return err;
}

static int
order_insert_sans(struct db *db, const struct db_order *o)
{
	static const char sql[] =
	    "INSERT INTO order_sans (order_id, pos, name) VALUES (?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err;

	if (o->san_count == 0)
		return 0;
	err = db_stmt_prepare(db, "order_insert: sans", sql, &st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < o->san_count; i++) {
		int rc = SQLITE_OK;

		sqlite3_reset(st);
		db_bind_text(st, 1, o->id, &rc);
		db_bind_int64(st, 2, (int64_t)i, &rc);
		db_bind_text(st, 3, o->san[i], &rc);
		if (rc != SQLITE_OK) {
			err = db_err_sqlite(db, "order_insert: sans: bind", rc);
			break;
		}
		err = db_step_done(db, "order_insert: sans", st);
		if (err < 0)
			break;
	}
	db_stmt_done(db, st);
	return err;
}

static int
order_insert_key(struct db *db, const char *id, const unsigned char *ct,
                 size_t ct_len, int64_t now)
{
	static const char sql[] = "INSERT INTO order_keys (order_id, sealed, "
	                          "created_at) VALUES (?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_insert: key", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, id, &rc);
	db_bind_blob(st, 2, ct, ct_len, &rc);
	db_bind_int64(st, 3, now, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "order_insert: key: bind", rc);
	else
		err = db_step_done(db, "order_insert: key", st);
	db_stmt_done(db, st);
	return err;
}

static int
order_insert_idem(struct db *db, const char *key, const char *hash,
                  const char *id, int64_t now)
{
	static const char sql[] = "INSERT INTO idempotency (key, request_hash, "
	                          "order_id, created_at) VALUES (?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_insert: idempotency", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, key, &rc);
	db_bind_text(st, 2, hash, &rc);
	db_bind_text(st, 3, id, &rc);
	db_bind_int64(st, 4, now, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "order_insert: idempotency: bind", rc);
	else
		err = db_step_done(db, "order_insert: idempotency", st);
	db_stmt_done(db, st);
	return err;
}

/*
 * has_key is stored as o->has_key, or true whenever a sealed key comes
 * with the order: a stored key and has_key = false would contradict each
 * other. A missing id or state, a SAN list without SANs, an empty key or
 * an idem_key without idem_hash is ERR_INVALID, as is a row the schema
 * refuses (unknown state, renewal_of naming no order, negative numbers).
 */
int
db_order_insert(struct db *db, const struct db_order *o,
                const unsigned char *key_ct, size_t key_ct_len,
                const char *actor, const char *idem_key, const char *idem_hash,
                int64_t now)
{
	int err;

	if (!db || !o || !o->id || !order_state_name(o->state))
		return ERR_INVALID;
	if ((o->san_count > 0 && !o->san) || (key_ct && key_ct_len == 0) ||
	    (idem_key && !idem_hash))
		return ERR_INVALID;

	db_lock(db);
	err = db_tx_begin(db, "order_insert: begin");
	if (err < 0)
		goto cleanup;
	err = order_insert_row(db, o, o->has_key || key_ct, now);
	if (err < 0)
		goto cleanup;
	err = order_insert_sans(db, o);
	if (err < 0)
		goto cleanup;
	if (key_ct) {
		err = order_insert_key(db, o->id, key_ct, key_ct_len, now);
		if (err < 0)
			goto cleanup;
	}
	if (idem_key) {
		err = order_insert_idem(db, idem_key, idem_hash, o->id, now);
		if (err < 0)
			goto cleanup;
	}
	err = db_event_add(db, o->id, now, actor, "created", NULL,
	                   order_state_name(o->state),
	                   o->renewal_of ? o->created_detail : NULL);
	if (err < 0)
		goto cleanup;
	if (o->renewal_of) {
		char detail[96];

		snprintf(detail, sizeof(detail), "renewal order %s", o->id);
		err = db_event_add(db, o->renewal_of, now, actor, "renewed",
		                   NULL, NULL, detail);
		if (err < 0)
			goto cleanup;
	}
	err = db_tx_commit(db, "order_insert: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	return err;
}

int
db_order_get(struct db *db, const char *id, struct db_order **out)
{
	struct db_order *o = NULL;
	int err;

	if (!db || !id || !out)
		return ERR_INVALID;
	db_lock(db);
	err = order_fetch(db, id, &o);
	db_unlock(db);
	if (err < 0)
		return err;
	*out = o;
	return 0;
}

void
db_order_list_free(struct db_order_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		db_order_free(l->items[i]);
	free(l->items);
	free(l);
}

/* Appends a constant SQL fragment. ERR_DB (a bug) when buf is too small. */
static int
sql_append(char *buf, size_t size, size_t *len, const char *frag)
{
	int n = snprintf(buf + *len, size - *len, "%s", frag);

	if (n < 0 || (size_t)n >= size - *len) {
		log_error("db: order_list: query buffer too small");
		return ERR_DB;
	}
	*len += (size_t)n;
	return 0;
}

/*
 * The WHERE clause is assembled from constant fragments, one per filter
 * that is set (NULL or "" means not set), so each mix gets its own plan
 * and the state and external_ref indexes are used. q matches with instr()
 * on lower() (ASCII case folding), so '%' and '_' in q are literal.
 * ERR_INVALID when limit is outside 1..200 or before_seq is negative.
 */
int
db_order_list(struct db *db, const struct db_order_filter *f,
              struct db_order_list **out)
{
	static const char *const conds[] = {
		"state = ?",
		"external_ref = ?",
		"instr(lower(common_name), lower(?)) > 0",
	};
	const char *vals[] = { f ? f->state : NULL, f ? f->external_ref : NULL,
		               f ? f->q : NULL };
	struct db_order_list *l = NULL;
	struct db_order *o = NULL;
	sqlite3_stmt *st = NULL;
	const char *sep = " WHERE ";
	char sql[2048];
	size_t len = 0;
	int err, rc = SQLITE_OK, idx = 1;

	if (!db || !f || !out || f->limit < 1 || f->limit > 200 ||
	    f->before_seq < 0)
		return ERR_INVALID;

	err = sql_append(sql, sizeof(sql), &len, ORDER_SELECT);
	for (size_t i = 0; i < 3 && !err; i++) {
		if (util_str_empty(vals[i]))
			continue;
		err = sql_append(sql, sizeof(sql), &len, sep);
		if (!err)
			err = sql_append(sql, sizeof(sql), &len, conds[i]);
		sep = " AND ";
	}
	if (!err && f->before_seq > 0) {
		err = sql_append(sql, sizeof(sql), &len, sep);
		if (!err)
			err = sql_append(sql, sizeof(sql), &len, "seq < ?");
	}
	if (!err)
		err = sql_append(sql, sizeof(sql), &len,
		                 " ORDER BY seq DESC LIMIT ?");
	if (err < 0)
		return err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	l->items = calloc(f->limit, sizeof(*l->items));
	if (!l->items) {
		free(l);
		return ERR_NOMEM;
	}

	db_lock(db);
	err = db_stmt_prepare(db, "order_list", sql, &st);
	if (err < 0)
		goto cleanup;
	for (size_t i = 0; i < 3; i++) {
		if (!util_str_empty(vals[i]))
			db_bind_text(st, idx++, vals[i], &rc);
	}
	if (f->before_seq > 0)
		db_bind_int64(st, idx++, f->before_seq, &rc);
	/* One row more than asked tells whether there is a next page. */
	db_bind_int64(st, idx, (int64_t)f->limit + 1, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_list: bind", rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->count == f->limit) {
			l->next_seq = l->items[l->count - 1]->seq;
			break;
		}
		err = order_from_row(st, &o);
		if (err < 0)
			goto cleanup;
		err = order_load_sans(db, o);
		if (err < 0)
			goto cleanup;
		l->items[l->count++] = o;
		o = NULL;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = db_err_sqlite(db, "order_list", rc);
		goto cleanup;
	}
	*out = l;
	l = NULL;
	err = 0;
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	db_order_free(o);
	db_order_list_free(l);
	return err;
}

/* Appends ",name" (or "name" first) to the detail of an "updated" event. */
static int
detail_append(char *buf, size_t size, size_t *len, const char *name)
{
	int n =
	    snprintf(buf + *len, size - *len, "%s%s", *len ? "," : "", name);

	if (n < 0 || (size_t)n >= size - *len) {
		log_error("db: order_update: detail buffer too small");
		return ERR_DB;
	}
	*len += (size_t)n;
	return 0;
}

/*
 * A patch that changes nothing (every given value equal to the stored one)
 * succeeds without writing: version, updated_at and the event log stay as
 * they are, and *out is the current row. That keeps retried PATCHes from
 * inflating the ETag and the audit log. The expected_version check still
 * applies. ERR_INVALID on a negative vendor_validity_days.
 */
/*
 * Applies p to the order cur inside the caller's transaction: writes the
 * changed fields, bumps version, and an "updated" event naming them.
 * *changed tells whether anything changed (nothing written otherwise).
 */
static int
order_patch_tx(struct db *db, const struct db_order *cur,
               const struct db_order_patch *p, const char *actor, int64_t now,
               bool *changed)
{
	const char *vals[ORDER_NPATCH];
	sqlite3_stmt *st = NULL;
	char detail[256];
	size_t dlen = 0;
	int64_t validity;
	int err = 0, rc = SQLITE_OK, idx = 1;

	detail[0] = '\0';
	*changed = false;
	for (size_t i = 0; i < ORDER_NPATCH && !err; i++) {
		const struct order_patch_field *pf = &order_patch_fields[i];
		const char *nv = patch_text_get(p, pf->patch_off);

		vals[i] = order_text_get(cur, pf->order_off);
		if (!nv)
			continue;
		if (!*nv)
			nv = NULL; /* "" clears */
		if (str_equal(vals[i], nv))
			continue;
		vals[i] = nv;
		err = detail_append(detail, sizeof(detail), &dlen, pf->name);
	}
	validity = cur->vendor_validity_days;
	if (!err && p->set_validity && p->vendor_validity_days != validity) {
		validity = p->vendor_validity_days;
		err = detail_append(detail, sizeof(detail), &dlen,
		                    "vendor_validity_days");
	}
	if (err < 0 || dlen == 0)
		return err; /* nothing changed: nothing to write */

	err = db_stmt_prepare(db, "order_update", order_update_sql, &st);
	if (err < 0)
		return err;
	for (size_t i = 0; i < ORDER_NPATCH; i++)
		db_bind_text(st, idx++, vals[i], &rc);
	db_bind_int64(st, idx++, validity, &rc);
	db_bind_int64(st, idx++, now, &rc);
	db_bind_text(st, idx++, cur->id, &rc);
	db_bind_int64(st, idx, cur->version, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_update: bind", rc);
		goto cleanup;
	}
	err = db_step_done(db, "order_update", st);
	if (err < 0)
		goto cleanup;
	if (sqlite3_changes(db->sq) != 1) {
		/* Can't happen under BEGIN IMMEDIATE: refuse, don't lie. */
		log_error("db: order_update: row changed underneath");
		err = ERR_DB;
		goto cleanup;
	}
	err = db_event_add(db, cur->id, now, actor, "updated", NULL, NULL,
	                   detail);
	if (err == 0)
		*changed = true;
cleanup:
	db_stmt_done(db, st);
	return err;
}

int
db_order_update(struct db *db, const char *id, int64_t expected_version,
                const struct db_order_patch *p, const char *actor, int64_t now,
                struct db_order **out)
{
	struct db_order *cur = NULL, *upd = NULL;
	bool changed = false;
	int err;

	if (!db || !id || !p)
		return ERR_INVALID;
	if (p->set_validity && p->vendor_validity_days < 0)
		return ERR_INVALID;

	db_lock(db);
	err = db_tx_begin(db, "order_update: begin");
	if (err < 0)
		goto cleanup;
	err = order_fetch(db, id, &cur);
	if (err < 0)
		goto cleanup;
	if (expected_version > 0 && expected_version != cur->version) {
		err = ERR_PRECONDITION;
		goto cleanup;
	}
	err = order_patch_tx(db, cur, p, actor, now, &changed);
	if (err < 0)
		goto cleanup;
	if (!changed) {
		upd = cur;
		cur = NULL;
		goto cleanup;
	}
	err = order_fetch(db, id, &upd);
	if (err < 0)
		goto cleanup;
	err = db_tx_commit(db, "order_update: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(cur);
	if (err == 0 && out)
		*out = upd;
	else
		db_order_free(upd);
	return err;
}

/* Reads an order's state. The caller holds the lock. */
static int
order_state_get(struct db *db, const char *id, enum order_state *out)
{
	static const char sql[] = "SELECT state FROM orders WHERE id = ?";
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK;

	err = db_stmt_prepare(db, "order_transition: state", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_transition: state: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (!order_state_parse((const char *)sqlite3_column_text(st, 0),
		                       out)) {
			log_error("db: order %s has an unknown state", id);
			err = ERR_DB;
		}
	} else if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
	} else {
		err = db_err_sqlite(db, "order_transition: state", rc);
	}
cleanup:
	db_stmt_done(db, st);
	return err;
}

int
db_order_move_tx(struct db *db, const char *id, enum order_trigger t,
                 bool required, const char *actor, const char *reason,
                 int64_t now, enum order_state *state, bool *moved)
{
	static const char sql[] = "UPDATE orders SET state = ?, version = "
	                          "version + 1, updated_at = ? WHERE id = ?";
	sqlite3_stmt *st = NULL;
	enum order_state cur, to;
	int err, rc = SQLITE_OK;

	if (moved)
		*moved = false;
	err = order_state_get(db, id, &cur);
	if (err < 0)
		return err;
	if (state)
		*state = cur;
	if (!order_state_next(cur, t, &to))
		return required ? ERR_CONFLICT : 0;
	err = db_stmt_prepare(db, "order_transition", sql, &st);
	if (err < 0)
		return err;
	db_bind_text(st, 1, order_state_name(to), &rc);
	db_bind_int64(st, 2, now, &rc);
	db_bind_text(st, 3, id, &rc);
	if (rc != SQLITE_OK)
		err = db_err_sqlite(db, "order_transition: bind", rc);
	else
		err = db_step_done(db, "order_transition", st);
	db_stmt_done(db, st);
	if (err == 0)
		err = db_event_add(db, id, now, actor, "state",
		                   order_state_name(cur), order_state_name(to),
		                   reason);
	if (err == 0 && state)
		*state = to;
	if (err == 0 && moved)
		*moved = true;
	return err;
}

int
db_order_transition(struct db *db, const char *id, enum order_trigger t,
                    const struct db_order_patch *p, const char *actor,
                    const char *reason, int64_t now, struct db_order **out,
                    enum order_state *cur_state)
{
	struct db_order *upd = NULL, *cur = NULL;
	enum order_state st;
	bool changed = false;
	int err;

	if (!db || !id)
		return ERR_INVALID;

	db_lock(db);
	err = db_tx_begin(db, "order_transition: begin");
	if (err < 0)
		goto cleanup;
	err = db_order_move_tx(db, id, t, true, actor, reason, now, &st, NULL);
	if (err == ERR_CONFLICT && cur_state)
		*cur_state = st;
	if (err < 0)
		goto cleanup;
	if (p) {
		err = order_fetch(db, id, &cur);
		if (err == 0)
			err = order_patch_tx(db, cur, p, actor, now, &changed);
		if (err < 0)
			goto cleanup;
	}
	err = order_fetch(db, id, &upd);
	if (err < 0)
		goto cleanup;
	err = db_tx_commit(db, "order_transition: commit");
cleanup:
	db_tx_rollback(db);
	db_unlock(db);
	db_order_free(cur);
	if (err == 0 && out)
		*out = upd;
	else
		db_order_free(upd);
	return err;
}

int
db_order_key_get(struct db *db, const char *order_id, unsigned char **ct,
                 size_t *ct_len)
{
	static const char sql[] =
	    "SELECT sealed FROM order_keys WHERE order_id = ?";
	sqlite3_stmt *st = NULL;
	unsigned char *buf = NULL;
	const void *blob;
	size_t n = 0;
	int err, rc = SQLITE_OK;

	if (!db || !order_id || !ct || !ct_len)
		return ERR_INVALID;
	db_lock(db);
	err = db_stmt_prepare(db, "order_key_get", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, order_id, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_key_get: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "order_key_get", rc);
		goto cleanup;
	}
	blob = sqlite3_column_blob(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	if (!blob || n == 0) {
		/* Empty keys are refused on insert; OOM in SQLite else. */
		err = n == 0 ? ERR_NOT_FOUND : ERR_NOMEM;
		goto cleanup;
	}
	buf = malloc(n);
	if (!buf) {
		err = ERR_NOMEM;
		goto cleanup;
	}
	memcpy(buf, blob, n);
	*ct = buf;
	*ct_len = n;
	err = 0;
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	return err;
}

int
db_idempotency_get(struct db *db, const char *idem_key, char **order_id,
                   char **req_hash)
{
	static const char sql[] = "SELECT order_id, request_hash FROM "
	                          "idempotency WHERE key = ?";
	sqlite3_stmt *st = NULL;
	char *oid = NULL, *hash = NULL;
	int err, rc = SQLITE_OK;

	if (!db || !idem_key || !order_id || !req_hash)
		return ERR_INVALID;
	db_lock(db);
	err = db_stmt_prepare(db, "idempotency_get", sql, &st);
	if (err < 0)
		goto cleanup;
	db_bind_text(st, 1, idem_key, &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "idempotency_get: bind", rc);
		goto cleanup;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = ERR_NOT_FOUND;
		goto cleanup;
	}
	if (rc != SQLITE_ROW) {
		err = db_err_sqlite(db, "idempotency_get", rc);
		goto cleanup;
	}
	err = db_column_strdup(st, 0, &oid);
	if (!err)
		err = db_column_strdup(st, 1, &hash);
	if (err < 0)
		goto cleanup;
	*order_id = oid;
	*req_hash = hash;
	oid = NULL;
	hash = NULL;
cleanup:
	db_stmt_done(db, st);
	db_unlock(db);
	free(oid);
	free(hash);
	return err;
}

int
db_order_fetch_locked(struct db *db, const char *id, struct db_order **out)
{
	return order_fetch(db, id, out);
}
