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
	X(leaf_sha256)         \
	X(key_origin)

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
	for (size_t i = 0; i < ORDER_NTEXT; i++) {
		const char *v = order_text_get(o, order_text_off[i]);

		/* a key made here unless said otherwise */
		if (!v &&
		    order_text_off[i] == offsetof(struct db_order, key_origin))
			v = "generated";
		db_bind_text(st, (int)i + 1, v, &rc);
	}
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
	db = db_read_lock(db);
	err = order_fetch(db, id, &o);
	db_read_unlock(db);
	if (err < 0)
		return err;
	*out = o;
	return 0;
}

/*
 * The columns of struct db_order_item, then the two sort keys of the
 * migration to schema 5 (for the place after the last row).
 */
#define ITEM_SELECT                                                          \
	"SELECT seq, id, state, common_name, dns_suffix, external_ref, "     \
	"vendor_name, vendor_order_id, renewal_of, created_at, updated_at, " \
	"version, coalesce(leaf_not_after, 0), coalesce(chain_not_after, "   \
	"0), expiry_key, cn_key FROM orders"

/*
 * Newest (or oldest) first with a search and no other filter: the planner
 * would walk the table itself in seq order and read every row to test q;
 * (seq, cn_key, external_ref) tests q without reading the rows.
 */
#define ITEM_SELECT_BY_SEQ ITEM_SELECT " INDEXED BY orders_seq"

enum item_col {
	ITEM_SEQ,
	ITEM_ID,
	ITEM_STATE,
	ITEM_CN,
	ITEM_SUFFIX,
	ITEM_REF,
	ITEM_VENDOR_NAME,
	ITEM_VENDOR_ORDER_ID,
	ITEM_RENEWAL_OF,
	ITEM_CREATED_AT,
	ITEM_UPDATED_AT,
	ITEM_VERSION,
	ITEM_LEAF_NOT_AFTER,
	ITEM_CHAIN_NOT_AFTER,
	ITEM_EXPIRY_KEY,
	ITEM_CN_KEY,
};

/*
 * Per sort, [desc]: the condition "after the place (key, seq)" and the
 * ORDER BY, both on an index's leading columns (the key, then seq; CREATED
 * has seq alone); text: the key is bound as text. NEEDS_ACTION is read
 * one state at a time in order_state_priority() order, each by expiry.
 */
static const struct list_sort {
	bool text;
	const char *after[2];    /* [desc] */
	const char *order_by[2]; /* [desc] */
} list_sorts[DB_ORDER_SORT_COUNT] = {
	[DB_ORDER_SORT_CREATED] = { false,
	                            { "seq > ?", "seq < ?" },
	                            { "seq ASC", "seq DESC" } },
	[DB_ORDER_SORT_UPDATED] = { false,
	                            { "(updated_at, seq) > (?, ?)",
	                              "(updated_at, seq) < (?, ?)" },
	                            { "updated_at ASC, seq ASC",
	                              "updated_at DESC, seq DESC" } },
	[DB_ORDER_SORT_NEEDS_ACTION] = { false,
	                                 { "(expiry_key, seq) > (?, ?)",
	                                   "(expiry_key, seq) < (?, ?)" },
	                                 { "expiry_key ASC, seq ASC",
	                                   "expiry_key DESC, seq DESC" } },
	[DB_ORDER_SORT_EXPIRY] = { false,
	                           { "(expiry_key, seq) > (?, ?)",
	                             "(expiry_key, seq) < (?, ?)" },
	                           { "expiry_key ASC, seq ASC",
	                             "expiry_key DESC, seq DESC" } },
	[DB_ORDER_SORT_CN] = { true,
	                       { "(cn_key, seq) > (?, ?)",
	                         "(cn_key, seq) < (?, ?)" },
	                       { "cn_key ASC, seq ASC",
	                         "cn_key DESC, seq DESC" } },
};

/*
 * q: literal (instr, not LIKE), ASCII case folding, in the CN or the
 * reference. On cn_key (the lower-case CN, "" for none) and external_ref,
 * which every list index ends with: orders that do not match are skipped
 * from the index, their rows never read.
 */
#define LIST_Q_COND                        \
	"(instr(cn_key, lower(?)) > 0 OR " \
	"instr(lower(external_ref), lower(?)) > 0)"

static void
item_clear(struct db_order_item *it)
{
	free(it->id);
	free(it->common_name);
	free(it->dns_suffix);
	free(it->external_ref);
	free(it->vendor_name);
	free(it->vendor_order_id);
	free(it->renewal_of);
	memset(it, 0, sizeof(*it));
}

void
db_order_list_free(struct db_order_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		item_clear(&l->items[i]);
	free(l->items);
	free(l->next.text);
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
 * Appends the WHERE clause of f's filters (NULL or "" is unset), each
 * filter a constant fragment, so that each mix gets its own plan and the
 * indexes on state and external_ref are used. by_state: a state condition
 * even without f->state (the needs-action walk binds one per state).
 */
static int
sql_where(const struct db_order_filter *f, bool by_state, const char *more,
          char *buf, size_t size, size_t *len)
{
	const char *conds[] = {
		by_state || !util_str_empty(f->state) ? "state = ?" : NULL,
		!util_str_empty(f->external_ref) ? "external_ref = ?" : NULL,
		!util_str_empty(f->q) ? LIST_Q_COND : NULL,
		more,
	};
	const char *sep = " WHERE ";
	int err = 0;

	for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]) && !err; i++) {
		if (!conds[i])
			continue;
		err = sql_append(buf, size, len, sep);
		if (!err)
			err = sql_append(buf, size, len, conds[i]);
		sep = " AND ";
	}
	return err;
}

/* Binds f's filters as sql_where() wrote them, from *idx on. */
static void
bind_where(sqlite3_stmt *st, const struct db_order_filter *f, const char *state,
           int *idx, int *rc)
{
	if (state)
		db_bind_text(st, (*idx)++, state, rc);
	if (!util_str_empty(f->external_ref))
		db_bind_text(st, (*idx)++, f->external_ref, rc);
	if (!util_str_empty(f->q)) {
		db_bind_text(st, (*idx)++, f->q, rc);
		db_bind_text(st, (*idx)++, f->q, rc);
	}
}

/*
 * Prepares head, the WHERE clause of f (and more), then the NULL-ended
 * tail. The list's statements depend on the filter mix, the sort and the
 * direction: each is prepared for the call and finalized after it, not
 * kept in the per-connection cache, which is for fixed SQL.
 */
static int
list_prepare(struct db *db, const char *head, const struct db_order_filter *f,
             bool by_state, const char *more, const char *const *tail,
             sqlite3_stmt **out)
{
	char sql[1024];
	size_t len = 0;
	int err, rc;

	err = sql_append(sql, sizeof(sql), &len, head);
	if (!err)
		err = sql_where(f, by_state, more, sql, sizeof(sql), &len);
	for (size_t i = 0; tail[i] && !err; i++)
		err = sql_append(sql, sizeof(sql), &len, tail[i]);
	if (err < 0)
		return err;
	rc = sqlite3_prepare_v2(db->sq, sql, -1, out, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*out);
		*out = NULL;
		return db_err_sqlite(db, "order_list: prepare", rc);
	}
	return 0;
}

/* A page's statement: f's filters, the place after (keyset), f's sort. */
static int
list_prepare_page(struct db *db, const struct db_order_filter *f, bool by_state,
                  bool keyset, sqlite3_stmt **out)
{
	const struct list_sort *ls = &list_sorts[f->sort];
	const char *const tail[] = { " ORDER BY ", ls->order_by[f->desc],
		                     " LIMIT ?", NULL };
	bool by_seq = f->sort == DB_ORDER_SORT_CREATED && !by_state &&
	              util_str_empty(f->state) &&
	              util_str_empty(f->external_ref) && !util_str_empty(f->q);

	return list_prepare(db, by_seq ? ITEM_SELECT_BY_SEQ : ITEM_SELECT, f,
	                    by_state, keyset ? ls->after[f->desc] : NULL, tail,
	                    out);
}

static int
item_from_row(sqlite3_stmt *st, struct db_order_item *it)
{
	static const struct {
		int col;
		size_t off;
	} text[] = {
		{ ITEM_ID, offsetof(struct db_order_item, id) },
		{ ITEM_CN, offsetof(struct db_order_item, common_name) },
		{ ITEM_SUFFIX, offsetof(struct db_order_item, dns_suffix) },
		{ ITEM_REF, offsetof(struct db_order_item, external_ref) },
		{ ITEM_VENDOR_NAME,
		  offsetof(struct db_order_item, vendor_name) },
		{ ITEM_VENDOR_ORDER_ID,
		  offsetof(struct db_order_item, vendor_order_id) },
		{ ITEM_RENEWAL_OF, offsetof(struct db_order_item, renewal_of) },
	};
	int err = 0;

	memset(it, 0, sizeof(*it));
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]) && !err; i++)
		err = db_column_strdup(
		    st, text[i].col,
		    (char **)(void *)((char *)it + text[i].off));
	if (err < 0) {
		item_clear(it);
		return err;
	}
	it->seq = sqlite3_column_int64(st, ITEM_SEQ);
	it->created_at = sqlite3_column_int64(st, ITEM_CREATED_AT);
	it->updated_at = sqlite3_column_int64(st, ITEM_UPDATED_AT);
	it->version = sqlite3_column_int64(st, ITEM_VERSION);
	it->leaf_not_after = sqlite3_column_int64(st, ITEM_LEAF_NOT_AFTER);
	it->chain_not_after = sqlite3_column_int64(st, ITEM_CHAIN_NOT_AFTER);
	if (!order_state_parse(
	        (const char *)sqlite3_column_text(st, ITEM_STATE),
	        &it->state)) {
		log_error("db: order %s has an unknown state", it->id);
		item_clear(it);
		return ERR_DB;
	}
	return 0;
}

/* The place after the current row, for the next page. */
static int
pos_from_row(sqlite3_stmt *st, const struct db_order_item *it,
             enum db_order_sort sort, struct db_order_pos *pos)
{
	free(pos->text);
	memset(pos, 0, sizeof(*pos));
	pos->seq = it->seq;
	pos->priority = order_state_priority(it->state);
	if (sort == DB_ORDER_SORT_UPDATED)
		pos->key = it->updated_at;
	else if (sort == DB_ORDER_SORT_NEEDS_ACTION ||
	         sort == DB_ORDER_SORT_EXPIRY)
		pos->key = sqlite3_column_int64(st, ITEM_EXPIRY_KEY);
	if (sort == DB_ORDER_SORT_CN) {
		int err = db_column_strdup(st, ITEM_CN_KEY, &pos->text);

		if (err == 0 && !pos->text)
			return ERR_DB; /* the column is never NULL */
		return err;
	}
	return 0;
}

/*
 * Binds and steps st (filters from index 1 on; then the place after, when
 * keyset; then the limit) and appends its rows to l until l holds f->limit
 * orders; one row more sets l->more.
 */
static int
list_run(struct db *db, sqlite3_stmt *st, const struct db_order_filter *f,
         const char *state, bool keyset, struct db_order_list *l)
{
	int err = 0, rc = SQLITE_OK, idx = 1;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bind_where(st, f, state, &idx, &rc);
	if (keyset) {
		if (list_sorts[f->sort].text)
			db_bind_text(st, idx++, f->after->text, &rc);
		else if (f->sort != DB_ORDER_SORT_CREATED)
			db_bind_int64(st, idx++, f->after->key, &rc);
		db_bind_int64(st, idx++, f->after->seq, &rc);
	}
	db_bind_int64(st, idx, (int64_t)(f->limit - l->count) + 1, &rc);
	if (rc != SQLITE_OK)
		return db_err_sqlite(db, "order_list: bind", rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_order_item *it;

		if (l->count == f->limit) {
			l->more = true;
			break;
		}
		it = &l->items[l->count];
		err = item_from_row(st, it);
		if (err < 0)
			return err;
		l->count++;
		if (l->count == f->limit) {
			err = pos_from_row(st, it, f->sort, &l->next);
			if (err < 0)
				return err;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err_sqlite(db, "order_list", rc);
	return 0;
}

/*
 * NEEDS_ACTION: the states one after another in order_state_priority()
 * order (reversed for desc), from the state of the place after on, each
 * a range of the (state, expiry_key) index; only f->state when it is set.
 */
static int
list_needs_action(struct db *db, const struct db_order_filter *f,
                  struct db_order_list *l)
{
	sqlite3_stmt *st[2] = { NULL, NULL }; /* [keyset] */
	enum order_state only = ORDER_STATE_COUNT;
	int p, end, step = f->desc ? -1 : 1;
	int err = 0;

	if (!util_str_empty(f->state) && !order_state_parse(f->state, &only))
		return 0; /* no such state: no order */
	p = f->desc ? ORDER_STATE_COUNT - 1 : 0;
	if (f->after)
		p = (int)f->after->priority;
	end = f->desc ? -1 : ORDER_STATE_COUNT;
	for (; p != end && !l->more && !err; p += step) {
		bool keyset = f->after && p == (int)f->after->priority;
		enum order_state s;

		if (!order_state_at_priority((unsigned)p, &s))
			break;
		if (only != ORDER_STATE_COUNT && s != only)
			continue;
		if (!st[keyset])
			err =
			    list_prepare_page(db, f, true, keyset, &st[keyset]);
		if (!err)
			err = list_run(db, st[keyset], f, order_state_name(s),
			               keyset, l);
	}
	sqlite3_finalize(st[0]);
	sqlite3_finalize(st[1]);
	return err;
}

static bool
pos_ok(const struct db_order_filter *f)
{
	const struct db_order_pos *a = f->after;

	if (!a)
		return true;
	if (a->seq < 1)
		return false;
	if (f->sort == DB_ORDER_SORT_CN && !a->text)
		return false;
	return f->sort != DB_ORDER_SORT_NEEDS_ACTION ||
	       a->priority < ORDER_STATE_COUNT;
}

int
db_order_list(struct db *db, const struct db_order_filter *f,
              struct db_order_list **out)
{
	struct db_order_list *l = NULL;
	sqlite3_stmt *st = NULL;
	int err;

	if (!db || !f || !out || f->limit < 1 || f->limit > 200 ||
	    (unsigned)f->sort >= DB_ORDER_SORT_COUNT || !pos_ok(f))
		return ERR_INVALID;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	l->items = calloc(f->limit, sizeof(*l->items));
	if (!l->items) {
		free(l);
		return ERR_NOMEM;
	}

	db = db_read_lock(db);
	if (f->sort == DB_ORDER_SORT_NEEDS_ACTION) {
		err = list_needs_action(db, f, l);
	} else {
		err = list_prepare_page(db, f, false, f->after != NULL, &st);
		if (!err)
			err =
			    list_run(db, st, f,
			             util_str_empty(f->state) ? NULL : f->state,
			             f->after != NULL, l);
	}
	sqlite3_finalize(st);
	db_read_unlock(db);
	if (err == 0 && !l->more) {
		free(l->next.text);
		memset(&l->next, 0, sizeof(l->next));
	}
	if (err < 0) {
		db_order_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int
db_order_count(struct db *db, const struct db_order_filter *f,
               struct db_order_counts *out)
{
	static const char *const tail[] = { " GROUP BY state", NULL };
	struct db_order_counts c = { 0 };
	sqlite3_stmt *st = NULL;
	int err, rc = SQLITE_OK, idx = 1;

	if (!db || !f || !out)
		return ERR_INVALID;
	db = db_read_lock(db);
	err = list_prepare(db, "SELECT state, count(*) FROM orders", f, false,
	                   NULL, tail, &st);
	if (err < 0)
		goto cleanup;
	bind_where(st, f, util_str_empty(f->state) ? NULL : f->state, &idx,
	           &rc);
	if (rc != SQLITE_OK) {
		err = db_err_sqlite(db, "order_count: bind", rc);
		goto cleanup;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum order_state s;

		if (!order_state_parse((const char *)sqlite3_column_text(st, 0),
		                       &s)) {
			log_error("db: order_count: an unknown state");
			err = ERR_DB;
			goto cleanup;
		}
		c.by_state[s] = sqlite3_column_int64(st, 1);
		c.total += c.by_state[s];
	}
	if (rc != SQLITE_DONE)
		err = db_err_sqlite(db, "order_count", rc);
cleanup:
	sqlite3_finalize(st);
	db_read_unlock(db);
	if (err == 0)
		*out = c;
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
	db = db_read_lock(db);
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
	db_read_unlock(db);
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
	db = db_read_lock(db);
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
	db_read_unlock(db);
	free(oid);
	free(hash);
	return err;
}

int
db_order_fetch_locked(struct db *db, const char *id, struct db_order **out)
{
	return order_fetch(db, id, out);
}
