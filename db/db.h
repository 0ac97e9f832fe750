/*
 * db.h: the SQLite store: schema, migrations, queries, secrets at rest.
 *
 * db/ knows SQLite and the schema; nothing of HTTP, JSON or X.509. Every
 * function returns 0 or a negative enum err (common/err.h); out-params are
 * written only on success. Each write is one transaction; when it returns
 * 0 the change is durable (WAL, synchronous=FULL).
 *
 * A struct db is safe to share between threads: calls are serialised by an
 * internal mutex.
 *
 * Times are Unix seconds (int64_t). Text fields are NULL when unset.
 */
#ifndef AMTCERTD_DB_H
#define AMTCERTD_DB_H

#include "core/state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* The schema version this build migrates to. */
#define DB_SCHEMA_VERSION 6

/*
 * Opens (creating with mode 0600 if missing) the database at path, turns on
 * WAL, foreign keys, synchronous=FULL, a busy timeout and extended result
 * codes, and applies every migration from its PRAGMA user_version up to
 * DB_SCHEMA_VERSION, each in its own transaction. A database newer than
 * this build is ERR_INVALID. ERR_IO, ERR_DB, ERR_NOMEM.
 */
int db_open(const char *path, struct db **out);

/* Closes the database. NULL is a no-op. */
void db_close(struct db *db);

/* PRAGMA user_version of an open database. */
int db_schema_version(struct db *db, int *out);

/*
 * Until db_read_end(), the reads the calling thread makes from db share
 * one read transaction: they see one committed state, and cost one
 * transaction instead of one each (e.g. a request's token check and the
 * reads of its answer). For a span of reads only: what is written
 * meanwhile, by this thread too, is not seen before db_read_end(). Calls
 * nest. ERR_BUSY when no reader is free or the thread keeps a span on
 * another db: then each read goes on in its own transaction, as without.
 */
int db_read_begin(struct db *db);
void db_read_end(struct db *db);

/* ---- orders ----------------------------------------------------------- */

struct db_order {
	int64_t seq; /* internal, for cursors */
	char *id;
	enum order_state state;
	char *common_name;
	char *organization;
	char *organizational_unit;
	char *locality;
	char *state_province;
	char *country;
	char **san; /* dNSName SANs as requested, CN included */
	size_t san_count;
	char *key_algorithm; /* "rsa" */
	unsigned key_bits;
	bool has_key;     /* false for an order around an imported CSR */
	char *key_origin; /* "generated", "pkcs12" or "pem" (an upload);
	                     NULL on insert: "generated" */
	char *csr_source; /* "generated" or "imported" */
	char *profile;    /* "amt" */
	char *dns_suffix;
	bool allow_suffix_mismatch;
	char *external_ref;
	char *notes;
	char *vendor_name;
	char *vendor_product;
	char *vendor_order_id;
	char *vendor_invoice;
	char *vendor_approver;
	char *vendor_dcv_method;
	char *vendor_price;
	int64_t vendor_validity_days; /* 0 = unset */
	char *csr_pem;
	char *public_key_sha256; /* hex SHA-256 of the SPKI DER */
	char *renewal_of;
	char *leaf_sha256; /* the issued certificate, once uploaded */
	int64_t created_at;
	int64_t updated_at;
	int64_t version;            /* bumped on every change; the ETag */
	int64_t leaf_not_after;     /* of the verified leaf; 0 = unknown */
	int64_t chain_not_after;    /* earliest of its CAs; 0 = unknown */
	const char *created_detail; /* insert only: detail of the "created"
	                            event of a renewal */
};

/* Frees every field and the struct. NULL is a no-op. */
void db_order_free(struct db_order *o);

/*
 * Inserts a new order (o->seq, created_at, updated_at, version are set by
 * the database: version 1) with, when key_ct is not NULL, its sealed key,
 * and an event "created" (to_state = o->state) by actor; when idem_key is
 * not NULL, also records (idem_key, idem_hash) -> order id. All in one
 * transaction. ERR_CONFLICT when the id or idem_key exists already.
 */
int db_order_insert(struct db *db, const struct db_order *o,
                    const unsigned char *key_ct, size_t key_ct_len,
                    const char *actor, const char *idem_key,
                    const char *idem_hash, int64_t now);

/* ERR_NOT_FOUND when there is no such order. Caller frees. */
int db_order_get(struct db *db, const char *id, struct db_order **out);

/*
 * How db_order_list() sorts. Every sort ends with seq, so no two orders
 * tie and a page boundary (struct db_order_pos) is exact. Ascending:
 *   CREATED       seq, the order orders were created in
 *   UPDATED       updated_at, seq
 *   NEEDS_ACTION  order_state_priority() of the state (core/state.h), then
 *                 the earliest expiry of leaf and chain (unknown last),
 *                 then seq (the oldest first)
 *   EXPIRY        the earliest expiry of leaf and chain (unknown last), seq
 *   CN            the common name in ASCII lower case ("" when none), seq
 * desc reverses the whole key.
 */
enum db_order_sort {
	DB_ORDER_SORT_CREATED,
	DB_ORDER_SORT_UPDATED,
	DB_ORDER_SORT_NEEDS_ACTION,
	DB_ORDER_SORT_EXPIRY,
	DB_ORDER_SORT_CN,
	DB_ORDER_SORT_COUNT
};

/*
 * A place in a sorted list: the sort key of the last order of a page. The
 * next page starts after it, so orders inserted or changed meanwhile
 * neither shift nor repeat the orders that did not change.
 */
struct db_order_pos {
	int64_t seq;       /* > 0 */
	unsigned priority; /* NEEDS_ACTION: the state's place */
	int64_t key;       /* UPDATED: updated_at; NEEDS_ACTION, EXPIRY: the
	                      expiry key (INT64_MAX when unknown) */
	char *text;        /* CN: the lower-case common name */
};

struct db_order_filter {
	const char *state;        /* exact, or NULL */
	const char *external_ref; /* exact, or NULL */
	const char *q; /* case-insensitive (ASCII) substring of the CN or of
	                  the external reference */
	enum db_order_sort sort;
	bool desc;
	const struct db_order_pos *after; /* NULL: from the start */
	unsigned limit;                   /* 1..200 */
};

/* An order as the list shows it: no CSR, no SANs, no chain. */
struct db_order_item {
	int64_t seq;
	char *id;
	enum order_state state;
	char *common_name;
	char *dns_suffix;
	char *external_ref;
	char *vendor_name;
	char *vendor_order_id;
	char *renewal_of;
	int64_t created_at;
	int64_t updated_at;
	int64_t version;
	int64_t leaf_not_after;  /* 0 = unknown */
	int64_t chain_not_after; /* 0 = unknown */
};

struct db_order_list {
	struct db_order_item *items;
	size_t count;
	bool more;                /* there are orders after the last */
	struct db_order_pos next; /* when more: the place to pass as after */
};

/*
 * A page of orders matching f, sorted by f->sort. Caller frees with
 * db_order_list_free(). ERR_INVALID when limit is outside 1..200, sort
 * unknown, or after is not a place of that sort (seq < 1, no text for CN,
 * a priority out of range for NEEDS_ACTION).
 */
int db_order_list(struct db *db, const struct db_order_filter *f,
                  struct db_order_list **out);
void db_order_list_free(struct db_order_list *l);

/* How many orders match f's state, external_ref and q, per state. */
struct db_order_counts {
	int64_t total;
	int64_t by_state[ORDER_STATE_COUNT];
};

/* The other members of f are ignored. */
int db_order_count(struct db *db, const struct db_order_filter *f,
                   struct db_order_counts *out);

/*
 * Changes the patchable fields. Each pointer in p that is non-NULL is
 * applied: "" clears the field. vendor_validity_days applies when
 * set_validity is true. When expected_version > 0 and differs from the
 * row's, ERR_PRECONDITION. Writes an event "updated" whose detail names the
 * changed fields. Writes the new row to *out. ERR_NOT_FOUND.
 */
struct db_order_patch {
	const char *external_ref;
	const char *notes;
	const char *vendor_name;
	const char *vendor_product;
	const char *vendor_order_id;
	const char *vendor_invoice;
	const char *vendor_approver;
	const char *vendor_dcv_method;
	const char *vendor_price;
	bool set_validity;
	int64_t vendor_validity_days;
};

int db_order_update(struct db *db, const char *id, int64_t expected_version,
                    const struct db_order_patch *p, const char *actor,
                    int64_t now, struct db_order **out);

/*
 * Moves an order by trigger t when the state machine (core/state.h) has
 * that move from its current state, applying p (may be NULL) in the same
 * transaction, with an event (type "state", from, to, actor, reason); the
 * new row to *out (may be NULL). ERR_NOT_FOUND; ERR_CONFLICT when t does
 * not apply in the current state (then *cur_state, if not NULL, receives
 * it) and nothing is written.
 */
int db_order_transition(struct db *db, const char *id, enum order_trigger t,
                        const struct db_order_patch *p, const char *actor,
                        const char *reason, int64_t now, struct db_order **out,
                        enum order_state *cur_state);

/* Sealed private key of an order. ERR_NOT_FOUND when it has none. */
int db_order_key_get(struct db *db, const char *order_id, unsigned char **ct,
                     size_t *ct_len);

/*
 * Looks up an idempotency key. ERR_NOT_FOUND if unknown; else *order_id
 * and *req_hash (malloc'd).
 */
int db_idempotency_get(struct db *db, const char *idem_key, char **order_id,
                       char **req_hash);

/* ---- events ----------------------------------------------------------- */

struct db_event {
	int64_t id;
	char *order_id;
	int64_t at;
	char *actor;
	char *type; /* created, updated, state, key_export, ... */
	char *from_state;
	char *to_state;
	char *detail;
};

struct db_event_list {
	struct db_event *items;
	size_t count;
};

/* Oldest first. ERR_NOT_FOUND when the order does not exist. */
int db_event_list(struct db *db, const char *order_id,
                  struct db_event_list **out);
void db_event_list_free(struct db_event_list *l);

/*
 * Records an event that changes no other row (e.g. "key_export": who took
 * a private key out, in which profile). Durable when it returns 0.
 * ERR_NOT_FOUND when the order does not exist.
 */
int db_order_event(struct db *db, const char *order_id, const char *actor,
                   const char *type, const char *detail, int64_t now);

/* Number of rows in a table (for tests and metrics): "orders", "events". */
int db_count(struct db *db, const char *table, int64_t *out);

/* ---- API tokens (stored as SHA-256 hex only) -------------------------- */

struct db_token {
	char *id;
	char *name;
	bool is_admin;
	int64_t created_at;
	int64_t last_used_at; /* 0 = never */
	bool revoked;
};

struct db_token_list {
	struct db_token *items;
	size_t count;
};

/* ERR_CONFLICT when a live token has that name already. */
int db_token_insert(struct db *db, const char *id, const char *name,
                    const char *sha256_hex, bool is_admin, int64_t now);

/*
 * Finds the live (not revoked) token with that hash and updates its
 * last_used_at (at most once a minute). ERR_NOT_FOUND.
 */
int db_token_lookup(struct db *db, const char *sha256_hex, int64_t now,
                    struct db_token **out);
void db_token_free(struct db_token *t);

int db_token_list(struct db *db, struct db_token_list **out);
void db_token_list_free(struct db_token_list *l);

/* ERR_NOT_FOUND when no live token has that id. */
int db_token_revoke(struct db *db, const char *id, int64_t now);

/* Number of live admin tokens (first start creates one when 0). */
int db_token_count_admin(struct db *db, int64_t *out);

/* ---- certificates, uploads and the CA pool ---------------------------- */
/* (db/certificates.c, db/uploads.c, db/pool.c) */

/* A certificate as stored (parsed facts come from pki/, not from here). */
struct db_cert {
	char *sha256;
	unsigned char *der;
	size_t der_len;
	char *sha1;
	char *sha384;
	char *subject;
	char *issuer;
	char *serial;
	int64_t not_before;
	int64_t not_after;
	char *spki_sha256;
	bool is_ca;
	bool self_signed;
	/* for an order's certificates: */
	char *role; /* leaf, intermediate, root, cross-signed, unrelated */
	char *reason;
	char *upload_id;
	int64_t created_at;
};

struct db_cert_list {
	struct db_cert *items;
	size_t count;
};

void db_cert_list_free(struct db_cert_list *l);

/*
 * One uploaded file, kept to look at a bad delivery later. data is sealed
 * with the master key (sealed true) by the caller: a delivery may hold a
 * private key.
 */
struct db_upload {
	const char *id;
	const char *filename;
	const char *media_type;
	const unsigned char *data;
	size_t len;         /* of data as stored */
	size_t size;        /* of the file as uploaded */
	const char *sha256; /* of the file as uploaded */
	bool sealed;
};

/*
 * Everything one upload to an order changes, in one transaction:
 * uploads[] rows, certs[] (inserted unless known; role, reason and
 * upload_id link them to the order, replacing an earlier link), the leaf
 * (orders.leaf_sha256) when leaf_sha256 is not NULL with the move
 * ORDER_T_UPLOAD_LEAF when the state machine has it from the current state
 * (in a later state the state stays), a key imported from a PKCS#12
 * (sealed_key, NULL: none; then has_key becomes 1 with an event
 * "key_imported"), and an event "upload" naming the files.
 * *state_out: the state after; *moved: whether it changed.
 * ERR_NOT_FOUND; ERR_CONFLICT (nothing written) when the order is in a
 * state that takes no delivery.
 */
struct db_order_upload {
	const struct db_upload *uploads;
	size_t nuploads;
	const struct db_cert *certs; /* role, reason, upload_id used */
	size_t ncerts;
	const char *leaf_sha256;
	const unsigned char *sealed_key;
	size_t sealed_key_len;
	const char *key_origin; /* of sealed_key: "pkcs12" or "pem" */
	const char *detail;     /* event text */
};

int db_order_upload_apply(struct db *db, const char *order_id,
                          const struct db_order_upload *u, const char *actor,
                          int64_t now, enum order_state *state_out,
                          bool *moved);

/*
 * Removes the link between an order and a certificate (by SHA-256), with
 * an event "certificate_detached"; *role (may be NULL) receives the role it
 * had. ERR_NOT_FOUND when the order or the link does not exist;
 * ERR_CONFLICT when the order is in a terminal state or the certificate is
 * the order's leaf (nothing written).
 */
int db_order_cert_detach(struct db *db, const char *order_id,
                         const char *sha256, const char *actor, int64_t now,
                         char **role);

/*
 * Upload rows stored in clear by versions before sealing: calls fn for
 * each (order_id and the raw bytes) and stores what fn returns (sealed
 * bytes, malloc'd, taken over) in place, each in its own transaction.
 * *count: rows sealed. Then truncates the WAL.
 */
typedef int db_upload_seal_fn(void *arg, const char *order_id,
                              const unsigned char *data, size_t len,
                              unsigned char **sealed, size_t *sealed_len);
int db_uploads_seal_clear(struct db *db, db_upload_seal_fn *fn, void *arg,
                          size_t *count);

/* The certificates linked to an order (with role and reason). */
int db_order_certs(struct db *db, const char *order_id,
                   struct db_cert_list **out);

/* The global CA pool, oldest first. */
int db_pool_list(struct db *db, struct db_cert_list **out);

/*
 * Adds certificates to the pool (known ones are left as they are). With
 * `added`, reports how many were new. One transaction.
 */
int db_pool_add(struct db *db, const struct db_cert *certs, size_t n,
                const char *actor, int64_t now, size_t *added);

/* ERR_NOT_FOUND when the certificate is not in the pool. */
int db_pool_remove(struct db *db, const char *sha256);

/* ---- trusted AMT root hashes (db/amt_roots.c) ------------------------- */

struct db_amt_root {
	char *id;
	char *name;
	char *sha1;
	char *sha256;
	char *sha384;
	char *evidence; /* legacy-default, amt8-firmware, device-reported,
	                   cited, user, device */
	char *source;   /* seed, user, device */
	bool enabled;
	int64_t created_at;
};

struct db_amt_root_list {
	struct db_amt_root *items;
	size_t count;
};

void db_amt_root_list_free(struct db_amt_root_list *l);

int db_amt_root_list(struct db *db, struct db_amt_root_list **out);

/*
 * Inserts the entries whose id is not known yet (ids stay stable, so a
 * user's enabled/disabled choice survives restarts). One transaction.
 * With `added`, how many were new.
 */
int db_amt_root_insert(struct db *db, const struct db_amt_root *roots, size_t n,
                       int64_t now, size_t *added);

/*
 * db_amt_root_insert() that also enables the entries enable[0..nenable),
 * all in one transaction (a device's list: known hashes enabled, new ones
 * added). An unknown id in enable changes nothing.
 */
int db_amt_root_apply(struct db *db, const char *const *enable, size_t nenable,
                      const struct db_amt_root *roots, size_t n, int64_t now,
                      size_t *added);

/* ERR_NOT_FOUND. */
int db_amt_root_get(struct db *db, const char *id, struct db_amt_root **out);
void db_amt_root_free(struct db_amt_root *r);

/* ERR_NOT_FOUND; ERR_CONFLICT when the entry is a seed entry. */
int db_amt_root_delete(struct db *db, const char *id);

/* ERR_NOT_FOUND. */
int db_amt_root_set_enabled(struct db *db, const char *id, bool enabled);

/* ---- verification reports (db/reports.c) ------------------------------ */

struct db_verification {
	int64_t evaluated_at;
	const char *overall;        /* pass, warn, fail */
	const char *report;         /* opaque text */
	const char *chain;          /* the chosen chain: SHA-256s, leaf first */
	enum order_trigger trigger; /* ORDER_T_VERIFY_PASS or _FAIL */
	int64_t leaf_not_after;
	int64_t chain_not_after; /* earliest notAfter of its CAs; 0 = none */
};

/*
 * Stores a report with, in the same transaction, the expiry of the verified
 * chain (for the sweep), an event "verified" with overall as detail, and
 * the move v->trigger causes when the state machine has it from the
 * current state (otherwise the state stays). *state_out (may be NULL): the
 * state after. ERR_NOT_FOUND.
 */
int db_verification_insert(struct db *db, const char *order_id,
                           const struct db_verification *v, const char *actor,
                           int64_t now, enum order_state *state_out);

/* The newest report's text. ERR_NOT_FOUND when there is none. */
int db_verification_latest(struct db *db, const char *order_id, char **report);

/* The newest report's chain. ERR_NOT_FOUND when there is none. */
int db_verification_chain(struct db *db, const char *order_id, char **chain);

/* ---- the expiry sweep (db/sweep.c) ------------------------------------ */

struct db_sweep {
	char **renewal_due; /* ids moved (or, dry run, to be moved) */
	size_t nrenewal_due;
	char **expired;
	size_t nexpired;
};

void db_sweep_clear(struct db_sweep *s);

/*
 * Orders in ready or deployed whose leaf or chain expires before now +
 * window go to renewal_due; orders in ready, deployed or renewal_due whose
 * leaf or chain expired (notAfter <= now) go to expired. Each move is its
 * own transaction with an event by actor. dry_run: only lists them.
 */
int db_orders_expiry_sweep(struct db *db, int64_t now, int64_t window,
                           const char *actor, bool dry_run,
                           struct db_sweep *out);

/* ---- checking the store (db/check.c) ---------------------------------- */

/*
 * SQLite's integrity_check and foreign_key_check in one read transaction.
 * *report (malloc'd): "" when both are clean, else one line per problem.
 */
int db_integrity_check(struct db *db, char **report);

/* One sealed row: an order's key, or an uploaded file. */
struct db_sealed {
	const char *table;    /* "order_keys" or "uploads" */
	const char *id;       /* the upload's id; the order's for a key */
	const char *order_id; /* NULL for an upload of no order */
	const unsigned char *data;
	size_t len;
	bool sealed;        /* uploads: false for a row stored in clear */
	const char *sha256; /* uploads: of the file as uploaded */
	int64_t size;       /* uploads: of the file as uploaded */
};

/*
 * Calls fn for every row of order_keys, then of uploads, in one read
 * transaction; fn must not call db/ itself. A negative return of fn stops
 * the walk and is returned.
 */
typedef int db_sealed_fn(void *arg, const struct db_sealed *s);
int db_sealed_each(struct db *db, db_sealed_fn *fn, void *arg);

#endif
