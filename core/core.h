/*
 * core.h: the order workflows of amtcertd.
 *
 * core/ owns the rules of an order: what an upload does in each state,
 * when a verification moves it, which export is allowed, what a renewal
 * copies, what the expiry sweep does. Every workflow takes plain C structs,
 * runs in one database transaction (a rolled-back transaction is never
 * reported as success) and returns 0 or a negative enum err:
 *
 *   ERR_NOT_FOUND     the order (or the named thing) does not exist
 *   ERR_CONFLICT      the order's state does not allow it
 *   ERR_INVALID       the input breaks a rule (a 4xx for the caller)
 *   ERR_PASSWORD      a PKCS#12 password is wrong
 *   ERR_PRECONDITION  the caller's version of the order is stale
 *   ERR_BUSY          the slow-work queue is full: retry later
 *   anything else (ERR_DB, ERR_NOMEM, ...) is the daemon's fault
 *
 * For the refusals (NOT_FOUND, CONFLICT, INVALID, PASSWORD) the workflow
 * fills a struct core_problem: a stable code and a sentence for the user.
 * core/ knows no HTTP and no JSON; api/ turns both into answers.
 */
#ifndef AMTCERTD_CORE_CORE_H
#define AMTCERTD_CORE_CORE_H

#include "core/state.h"
#include "db/db.h"
#include "pki/pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct workq;
struct core_evaluation;
struct core_cache;

/*
 * Renders an evaluation as the text stored with the order (api/ makes it
 * JSON). Returns a malloc'd string or NULL (ERR_NOMEM is assumed).
 */
typedef char *core_report_render_fn(const struct core_evaluation *ev,
                                    const char *order_id, void *arg);

/* What the workflows share. Set up once by the daemon; read-only after. */
struct core {
	struct db *db;
	const unsigned char *master_key; /* 32 bytes */
	struct workq *slow;              /* key generation, PKCS#12 */
	unsigned renewal_days;
	/* the system trust store, parsed once at start */
	struct pki_cert **system_certs;
	size_t nsystem;
	/* the CA pool and the AMT root list as evaluations read them, parsed
	 * once per change (core/verify.c); NULL: read for each evaluation */
	struct core_cache *cache;
	/* the stored form of a verification report */
	core_report_render_fn *render_report;
	void *render_arg;
};

/* Who asks: the event's actor ("token:<name>", "dashboard", "daemon"). */
struct core_actor {
	const char *name;
};

/* Why a workflow refused; filled only when it returns a refusal. */
struct core_problem {
	const char *code;  /* stable, e.g. "invalid_state" */
	char detail[512];  /* one sentence for the user */
	const char *field; /* the offending input, or NULL */
	bool has_state;    /* the order's state, when it matters */
	enum order_state state;
	bool has_requested; /* the state that was asked for */
	enum order_state requested;
	/* leaf_key_mismatch: the order's public key (hex SHA-256) */
	char order_key[PKI_SHA256_HEX_LEN + 1];
	/* already_listed: the entry that lists it */
	char ref[48];
};

/* ---- setup (core/core.c) --------------------------------------------- */

/*
 * Loads the system trust store (PEM bundle) into c; a missing or unreadable
 * file is logged and leaves the store empty. Also sets up c->cache, shared
 * by the request threads: call it before they start. Can't fail otherwise.
 * core_system_roots_free() frees both, after the last request.
 */
void core_system_roots_load(struct core *c, const char *path);
void core_system_roots_free(struct core *c);

/*
 * Seals, with the master key, the raw uploads that older versions stored
 * in clear, then truncates the WAL so no clear copy stays in it. Run once
 * at start. ERR_DB.
 */
int core_uploads_seal_legacy(struct core *c);

/* Generates an RSA key on the slow-work pool. ERR_BUSY; ERR_CRYPTO. */
int core_key_generate(struct core *c, unsigned bits, struct pki_secret **out);

/* ---- orders (core/orders.c) ------------------------------------------ */

/*
 * Stores a new order from tmpl (subject, SANs, vendor, suffix...: what the
 * caller validated). With csr_pem == NULL a key of tmpl->key_bits is made
 * here and sealed, and the CSR made from it; otherwise the order wraps the
 * given CSR (its PEM and public key hash in tmpl). idem_key/idem_hash (may
 * be NULL) record an Idempotency-Key. *out: the stored order.
 * ERR_CONFLICT when idem_key was taken meanwhile; ERR_BUSY.
 */
int core_order_create(struct core *c, const struct db_order *tmpl,
                      const struct pki_subject *subj, const char *const *san,
                      size_t nsan, const char *idem_key, const char *idem_hash,
                      const struct core_actor *who, struct db_order **out);

/*
 * Moves an order by an explicit trigger (submit, deploy, revoke, cancel)
 * with p (may be NULL) applied in the same transaction and an event giving
 * reason. ERR_NOT_FOUND; ERR_CONFLICT "invalid_transition" (pb->state is
 * the current state, pb->requested where t would lead).
 */
int core_order_transition(struct core *c, const char *id, enum order_trigger t,
                          const struct db_order_patch *p, const char *reason,
                          const struct core_actor *who, struct db_order **out,
                          struct core_problem *pb);

/*
 * Changes the patchable fields (see db_order_update). expected_version > 0
 * must match the order's version. ERR_NOT_FOUND "order_not_found";
 * ERR_PRECONDITION "etag_mismatch".
 */
int core_order_patch(struct core *c, const char *id, int64_t expected_version,
                     const struct db_order_patch *p,
                     const struct core_actor *who, struct db_order **out,
                     struct core_problem *pb);

/*
 * A new order linked to id, with its subject, SANs, suffix and vendor, and
 * a new key (or, reuse_key, the old one; the event says so).
 * ERR_NOT_FOUND; ERR_CONFLICT "invalid_state", "no_key"; ERR_BUSY.
 */
int core_order_renew(struct core *c, const char *id, bool reuse_key,
                     const struct core_actor *who, struct db_order **out,
                     struct core_problem *pb);

/*
 * Detaches a certificate (by SHA-256) from the order, with an event
 * "certificate_detached". A ready order is verified again. *role: the role
 * it had (malloc'd). ERR_NOT_FOUND "order_not_found",
 * "certificate_not_found"; ERR_CONFLICT "invalid_state" (terminal),
 * "current_leaf".
 */
int core_order_detach(struct core *c, const char *id, const char *sha256,
                      const struct core_actor *who, struct db_order **out,
                      char **role, struct core_problem *pb);

/* ---- uploads (core/uploads.c) ---------------------------------------- */

struct core_file {
	const char *name;       /* may be NULL */
	const char *media_type; /* may be NULL */
	const unsigned char *data;
	size_t len;
};

/* A delivery as the caller read it: the raw files and what pki found. */
struct core_delivery {
	const struct core_file *files;
	size_t nfiles;
	struct pki_cert *const *certs; /* parsed, in bundle order */
	const char *const *sources;    /* where each came from */
	size_t ncerts;
	const struct pki_secret *key; /* PKCS#8 from a PKCS#12 or PEM */
	const char *key_format;       /* "pkcs12" or "pem" (the intake's) */
};

#define CORE_MAX_UPLOAD_CERTS 64

struct core_upload_result {
	enum pki_role roles[CORE_MAX_UPLOAD_CERTS];
	char *reasons[CORE_MAX_UPLOAD_CERTS];  /* malloc'd */
	bool duplicate[CORE_MAX_UPLOAD_CERTS]; /* known to the order */
	long leaf;                             /* index of the leaf, or -1 */
	bool key_imported;
	bool new_leaf;          /* the leaf became the order's leaf */
	enum order_state state; /* after the upload */
	bool state_changed;
	bool reverified;         /* the order was verified again */
	enum pki_status overall; /* of that verification */
};

void core_upload_result_clear(struct core_upload_result *r);

/*
 * Stores a delivery for an order: the raw files (sealed with the master
 * key, bound to the order), every certificate with its role, an "upload"
 * event, and in one transaction: the leaf for the order's key (moves
 * key_ready/submitted to issued; in a later state the state stays), a key
 * from a PKCS#12 for an order made around a CSR. A newer leaf for the same
 * key (a reissue) becomes the order's leaf and the order is verified again.
 * ERR_NOT_FOUND; ERR_CONFLICT "invalid_state" (closed order);
 * ERR_INVALID "leaf_key_mismatch", "upload_limits".
 */
int core_order_upload(struct core *c, const char *id,
                      const struct core_delivery *d,
                      const struct core_actor *who,
                      struct core_upload_result *out, struct core_problem *pb);

/* The global CA pool: only CA certificates. ERR_INVALID "not_a_ca". */
int core_pool_add(struct core *c, struct pki_cert *const *certs, size_t n,
                  const struct core_actor *who, size_t *added,
                  struct core_problem *pb);
int core_pool_remove(struct core *c, const char *sha256,
                     const struct core_actor *who);

/* ---- chains and verification (core/verify.c) ------------------------- */

/* Everything a chain evaluation found, for rendering. */
struct core_evaluation {
	struct pki_verify_opts opts;
	struct pki_path *paths; /* best first */
	size_t npaths;
	struct pki_report *report;         /* the checks on paths[0] */
	const struct pki_candidate *cands; /* every certificate considered */
	size_t ncands;
	bool used_system; /* paths[0] needed the system store */
	enum pki_status overall;
	int64_t leaf_not_after;
	int64_t chain_not_after; /* earliest notAfter of its CAs; 0: none */
	/* every signature verdict of the evaluation, keyed by the addresses
	 * of the certificates: classify them with it */
	struct pki_sig_memo *memo;
	void *priv; /* owned storage */
};

void core_evaluation_clear(struct core_evaluation *ev);

/*
 * Builds every chain for leaf from certs (with their origins), the CA pool
 * and, when no complete path exists without it, the system trust store;
 * runs the AMT checks on the best path as of opts->at. Stores nothing.
 * The pool and the AMT root list come from c->cache, as of the last
 * change made through core/. Thread-safe. ERR_INVALID when no path can be
 * built.
 */
int core_chain_evaluate(struct core *c, const struct pki_cert *leaf,
                        enum pki_origin leaf_origin,
                        const struct pki_cert *const *certs,
                        const enum pki_origin *origins, size_t ncerts,
                        const struct pki_verify_opts *opts,
                        struct core_evaluation *out);

struct core_verify_result {
	char *report; /* as stored (rendered by c->render_report) */
	enum pki_status overall;
	enum order_state state; /* after */
};

/*
 * Verifies an order's chain (opts: at, AMT versions; the order's suffix
 * when opts has none) and stores the report; no failed check moves issued
 * to ready, a failed one moves ready back to issued, in the same
 * transaction. ERR_NOT_FOUND; ERR_CONFLICT "no_leaf".
 */
int core_order_verify(struct core *c, const char *id,
                      const struct pki_verify_opts *opts,
                      const struct core_actor *who,
                      struct core_verify_result *out, struct core_problem *pb);

/* ---- exports (core/export.c) ----------------------------------------- */

struct core_export_format {
	const char *name; /* pkcs12, pem-chain, pem-leaf, ... */
	const char *media_type;
	const char *suffix; /* file name: <cn><suffix> */
	bool key;           /* carries the private key */
};

/* A download file name from a CN: "*." becomes "wildcard.", + suffix. */
void core_download_name(const char *cn, const char *suffix, char *out,
                        size_t n);

/* The format called name, or NULL. */
const struct core_export_format *core_export_format_find(const char *name);

/* "pkcs12, pem-chain, ..." for messages. Can't fail. */
const char *core_export_format_names(void);

struct core_export_req {
	const struct core_export_format *format;
	enum pki_p12_profile profile;
	const char *password;      /* pkcs12 */
	const char *friendly_name; /* pkcs12, may be NULL */
	unsigned iterations;       /* pkcs12; 0: PKI_P12_ITER_DEFAULT */
};

struct core_export_result {
	struct pki_secret *file; /* the bytes (wiped when freed) */
	char filename[128];
	const char *media_type;
};

void core_export_result_clear(struct core_export_result *r);

/*
 * The file of an order in the asked format. A key export (pkcs12) needs a
 * verified order (ready, deployed, renewal_due) that holds its key; its
 * audit event is durable before the bytes are returned.
 * ERR_NOT_FOUND; ERR_CONFLICT "no_leaf", "invalid_state", "no_key",
 * "no_verification", "chain_changed"; ERR_INVALID "validation_failed"
 * (friendly_name, iterations); ERR_BUSY.
 */
int core_order_export(struct core *c, const char *id,
                      const struct core_export_req *r,
                      const struct core_actor *who,
                      struct core_export_result *out, struct core_problem *pb);

/* ---- trusted roots and tokens (core/roots.c) ------------------------ */

/*
 * Adds a root hash the admin trusts (custom MEBx hashes), enabled.
 * Hashes are lowercase hex (at least one). ERR_CONFLICT "already_listed"
 * (pb->ref: the entry that lists it).
 */
int core_root_add(struct core *c, const char *name, const char *sha1,
                  const char *sha256, const char *sha384,
                  const struct core_actor *who, struct db_amt_root **out,
                  struct core_problem *pb);

/* Trusts or stops trusting an entry. ERR_NOT_FOUND "root_not_found". */
int core_root_set_enabled(struct core *c, const char *id, bool enabled,
                          const struct core_actor *who,
                          struct db_amt_root **out, struct core_problem *pb);

/* A user or device entry. ERR_NOT_FOUND; ERR_CONFLICT "seed_entry". */
int core_root_delete(struct core *c, const char *id,
                     const struct core_actor *who, struct core_problem *pb);

struct core_device_result {
	size_t hashes, added, known, enabled;
	char **ids; /* every entry of the list, known or added */
	size_t nids;
};

void core_device_result_clear(struct core_device_result *r);

/*
 * A device's own hash list (as parsed by pki_amt_list_parse_device): hashes
 * known already are enabled when the device has them active, the others
 * added as source "device"; one transaction.
 */
int core_roots_from_device(struct core *c, const char *device,
                           const struct pki_amt_hash_entry *e, size_t n,
                           const struct core_actor *who,
                           struct core_device_result *out);

/* A bearer token: shown once, stored as its SHA-256 only. */
struct core_token {
	char token[64];
	char id[40];
	char name[72];
	char sha256[PKI_SHA256_HEX_LEN + 1];
};

/* A new random token, its id and hash; nothing stored. ERR_IO. */
int core_token_mint(struct core_token *t);

/*
 * Mints and stores a token named name (NULL: "dashboard-<id>").
 * ERR_CONFLICT when a live token has that name.
 */
int core_token_issue(struct core *c, const char *name, bool is_admin,
                     struct core_token *t);

/* Wipes a token (it is a secret). Can't fail. */
void core_token_wipe(struct core_token *t);

/* ---- the expiry sweep (core/orders.c) ------------------------------- */

/*
 * Orders whose leaf or chain expires within the renewal window of `at` go
 * to renewal_due, those expired by `at` to expired (each move its own
 * transaction with an event). dry_run: only lists them.
 */
int core_expiry_sweep(struct core *c, int64_t at, bool dry_run,
                      const struct core_actor *who, struct db_sweep *out);

/* ---- checking the store (core/check.c) ------------------------------ */

struct core_check_result {
	bool integrity_ok;    /* SQLite's integrity and foreign-key checks */
	char *integrity;      /* their report when not ok (malloc'd) */
	size_t orders;        /* orders read */
	size_t csrs_ok;       /* CSRs that read and are for the order's key */
	size_t keys;          /* sealed keys stored */
	size_t keys_ok;       /* ... that decrypt and are the CSR's key */
	size_t leaves_ok;     /* order certificates for the order's key */
	size_t uploads;       /* uploaded files stored */
	size_t uploads_ok;    /* ... that decrypt to the recorded SHA-256 */
	size_t clear_uploads; /* stored in clear by an earlier version */
	size_t problems;      /* everything found wrong */
};

/* Told each problem: what (e.g. "order ord_..."), and a sentence. */
typedef void core_check_fn(void *arg, const char *what, const char *detail);

/*
 * Checks the store read-only: SQLite's integrity_check and
 * foreign_key_check; every sealed key decrypts with the master key and is
 * the public key of its order's CSR and certificate; every uploaded file
 * is sealed and decrypts to the size and SHA-256 recorded. Each problem
 * goes to fn (may be NULL) and is counted in out->problems. Returns 0 when
 * the check ran (whatever it found), else ERR_DB, ERR_NOMEM.
 * core_check_result_clear() frees out.
 */
int core_store_check(struct core *c, core_check_fn *fn, void *arg,
                     struct core_check_result *out);
void core_check_result_clear(struct core_check_result *r);

#endif
