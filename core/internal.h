/*
 * internal.h: what the files of core/ share. Not for other modules.
 */
#ifndef AMTCERTD_CORE_INTERNAL_H
#define AMTCERTD_CORE_INTERNAL_H

#include "core/core.h"

#include <stdarg.h>

/*
 * Fills pb (when not NULL) with code and a printf-style detail and returns
 * err, so a refusal is one line: return core_refuse(pb, ERR_CONFLICT, ...).
 */
int core_refuse(struct core_problem *pb, int err, const char *code,
                const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* As core_refuse(), and records the order's state in pb. */
int core_refuse_state(struct core_problem *pb, int err, const char *code,
                      enum order_state state, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reads an order; ERR_NOT_FOUND fills pb with "order_not_found". */
int core_order_load(struct core *c, const char *id, struct db_order **out,
                    struct core_problem *pb);

/* An order's private key, unsealed (free with pki_secret_free()). */
int core_order_key(struct core *c, const char *order_id,
                   struct pki_secret **out);

/* Fills a db_cert's borrowed fields from a parsed certificate. */
void core_db_cert_from(struct db_cert *d, const struct pki_cert *c);

/*
 * Parses the certificates of a db list (unreadable ones skipped). *out is
 * an array of *n owned certificates; free with core_certs_free().
 */
int core_certs_parse(const struct db_cert_list *l, struct pki_cert ***out,
                     size_t *n);
void core_certs_free(struct pki_cert **certs, size_t n);

/*
 * The CA pool or the AMT root list changed (or a write to them failed and
 * may have changed them): the next evaluation reads both again. Every
 * write to either calls it once the write is over. Can't fail.
 */
void core_cache_invalidate(struct core *c);

/*
 * The built-in cross-certificate or root (data/bridges/, or
 * AMTCERTD_BRIDGES_DIR) whose SHA-256 starts sha256, or NULL. Read once
 * per process; never freed.
 */
const struct pki_cert *core_bridge_find(const char *sha256);

/* Sets up and frees c->cache (core_system_roots_load/free). */
void core_cache_init(struct core *c);
void core_cache_free(struct core *c);

/*
 * Verifies a loaded order (its stored certificates) and stores the report
 * with the state move; used by verify, and after a reissue or a detach.
 */
int core_verify_loaded(struct core *c, const struct db_order *o,
                       const struct pki_verify_opts *opts,
                       const struct core_actor *who,
                       struct core_verify_result *out, struct core_problem *pb);

#endif
