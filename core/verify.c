/*
 * verify.c: chains and the AMT checks for an order (stored, with the state
 * move) or for loose material (core_chain_evaluate only).
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDIDATES 512

/* ---- the CA pool and the AMT root list, read once per change ---------- */

/*
 * What every evaluation reads from the database: the CA pool, parsed, and
 * the AMT root list as pki wants it. Immutable once read; the requests
 * that use it and the cache hold a reference each.
 */
struct ca_snapshot {
	atomic_uint refs;
	uint64_t generation; /* of the cache when it was read */
	struct pki_cert **pool;
	size_t npool;
	struct db_amt_root_list *db_roots;
	struct pki_amt_root *roots; /* their strings are db_roots' */
	size_t nroots;
};

struct core_cache {
	pthread_mutex_t lock;
	uint64_t generation;         /* bumped by every change */
	struct ca_snapshot *current; /* of this generation, or NULL */
};

static void
snapshot_put(struct ca_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	core_certs_free(s->pool, s->npool);
	db_amt_root_list_free(s->db_roots);
	free(s->roots);
	free(s);
}

/* Reads the pool and the root list; *out has one reference. */
static int
snapshot_read(struct core *c, uint64_t generation, struct ca_snapshot **out)
{
	struct ca_snapshot *s = calloc(1, sizeof(*s));
	struct db_cert_list *pool = NULL;
	int ret = s ? db_pool_list(c->db, &pool) : ERR_NOMEM;

	if (!s)
		return ret;
	atomic_init(&s->refs, 1);
	s->generation = generation;
	if (ret == 0)
		ret = core_certs_parse(pool, &s->pool, &s->npool);
	db_cert_list_free(pool);
	if (ret == 0)
		ret = db_amt_root_list(c->db, &s->db_roots);
	if (ret == 0) {
		s->roots = calloc(s->db_roots->count + 1, sizeof(*s->roots));
		if (!s->roots)
			ret = ERR_NOMEM;
	}
	for (size_t i = 0; ret == 0 && i < s->db_roots->count; i++) {
		const struct db_amt_root *r = &s->db_roots->items[i];

		s->roots[i] =
		    (struct pki_amt_root){ r->name, r->sha1, r->sha256,
			                   r->sha384, r->enabled };
		s->nroots++;
	}
	if (ret < 0) {
		snapshot_put(s);
		return ret;
	}
	*out = s;
	return 0;
}

/*
 * The current snapshot, with a reference for the caller; read from the
 * database when a change made the last one stale. Without a cache every
 * call reads.
 */
static int
snapshot_get(struct core *c, struct ca_snapshot **out)
{
	struct core_cache *k = c->cache;
	struct ca_snapshot *s = NULL, *stale = NULL;
	uint64_t generation;
	int ret;

	if (!k)
		return snapshot_read(c, 0, out);
	pthread_mutex_lock(&k->lock);
	generation = k->generation;
	if (k->current) {
		s = k->current;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&k->lock);
	if (s) {
		*out = s;
		return 0;
	}
	/* read without the lock: requests that find a snapshot do not wait */
	ret = snapshot_read(c, generation, &s);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&k->lock);
	/* a change while we read: ours serves this call only */
	if (k->generation == generation) {
		stale = k->current; /* another reader's, of the same data */
		k->current = s;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&k->lock);
	snapshot_put(stale);
	*out = s;
	return 0;
}

void
core_cache_invalidate(struct core *c)
{
	struct core_cache *k = c->cache;
	struct ca_snapshot *stale;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->generation++;
	stale = k->current;
	k->current = NULL;
	pthread_mutex_unlock(&k->lock);
	snapshot_put(stale);
}

void
core_cache_init(struct core *c)
{
	struct core_cache *k = calloc(1, sizeof(*k));

	if (k && pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		k = NULL;
	}
	if (!k)
		log_warn("core: no cache: the CA pool and the AMT root list "
		         "are read for every evaluation");
	c->cache = k;
}

void
core_cache_free(struct core *c)
{
	struct core_cache *k = c->cache;

	if (!k)
		return;
	snapshot_put(k->current);
	pthread_mutex_destroy(&k->lock);
	free(k);
	c->cache = NULL;
}

/* ---- evaluations -------------------------------------------------------- */

/* What an evaluation owns besides the paths and the report. */
struct eval_priv {
	struct pki_candidate leaf; /* the paths point at it */
	struct pki_candidate cands[MAX_CANDIDATES];
	size_t ncands;
	struct ca_snapshot *snap; /* the pool and the AMT roots */
};

static void
cand_add(struct eval_priv *x, const struct pki_cert *c, enum pki_origin o)
{
	for (size_t i = 0; i < x->ncands; i++) {
		if (strcmp(x->cands[i].cert->sha256, c->sha256) == 0)
			return; /* the nearer origin wins */
	}
	if (x->ncands < MAX_CANDIDATES) {
		x->cands[x->ncands].cert = c;
		x->cands[x->ncands].origin = o;
		x->ncands++;
	}
}

static bool
path_uses_system(const struct pki_path *p)
{
	for (size_t i = 0; i < p->len; i++) {
		if (p->certs[i]->origin == PKI_ORIGIN_SYSTEM)
			return true;
	}
	return false;
}

void
core_evaluation_clear(struct core_evaluation *ev)
{
	struct eval_priv *x = ev->priv;

	pki_report_free(ev->report);
	pki_paths_free(ev->paths, ev->npaths);
	pki_sig_memo_free(ev->memo);
	if (x) {
		snapshot_put(x->snap);
		free(x);
	}
	memset(ev, 0, sizeof(*ev));
}

int
core_chain_evaluate(struct core *c, const struct pki_cert *leaf,
                    enum pki_origin leaf_origin,
                    const struct pki_cert *const *certs,
                    const enum pki_origin *origins, size_t ncerts,
                    const struct pki_verify_opts *opts,
                    struct core_evaluation *out)
{
	struct eval_priv *x = calloc(1, sizeof(*x));
	struct core_evaluation ev;
	const struct ca_snapshot *s;
	bool sha2 = opts->amt_max >= 16 || opts->amt_min >= 16;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (!x)
		return ERR_NOMEM;
	ev.priv = x;
	ev.opts = *opts;
	x->leaf = (struct pki_candidate){ leaf, leaf_origin };
	for (size_t i = 0; i < ncerts; i++)
		cand_add(x, certs[i], origins[i]);
	ret = pki_sig_memo_new(&ev.memo);
	if (ret == 0)
		ret = snapshot_get(c, &x->snap);
	s = x->snap;
	/* every signature is verified once: building, checking, classifying */
	ev.opts.memo = ev.memo;
	for (size_t i = 0; ret == 0 && i < s->npool; i++)
		cand_add(x, s->pool[i], PKI_ORIGIN_POOL);
	if (ret == 0)
		ret = pki_chain_build_memo(&x->leaf, x->cands, x->ncands,
		                           s->roots, s->nroots, sha2, ev.memo,
		                           &ev.paths, &ev.npaths);
	/* The system trust store only completes a chain that has no root. */
	if (ret == 0 && ev.npaths > 0 && !ev.paths[0].complete &&
	    c->nsystem > 0) {
		pki_paths_free(ev.paths, ev.npaths);
		ev.paths = NULL;
		ev.npaths = 0;
		for (size_t i = 0; i < c->nsystem; i++)
			cand_add(x, c->system_certs[i], PKI_ORIGIN_SYSTEM);
		ret = pki_chain_build_memo(&x->leaf, x->cands, x->ncands,
		                           s->roots, s->nroots, sha2, ev.memo,
		                           &ev.paths, &ev.npaths);
	}
	if (ret == 0 && ev.npaths == 0)
		ret = ERR_INVALID;
	if (ret == 0)
		ret = pki_verify_path(&ev.paths[0], &ev.opts, &ev.report);
	if (ret < 0) {
		log_error("verify: chain or checks failed: %s", err_str(ret));
		core_evaluation_clear(&ev);
		return ret;
	}
	ev.cands = x->cands;
	ev.ncands = x->ncands;
	ev.used_system = path_uses_system(&ev.paths[0]);
	ev.overall = ev.report->overall;
	ev.leaf_not_after = ev.paths[0].certs[0]->cert->not_after;
	for (size_t i = 1; i < ev.paths[0].len; i++) {
		int64_t na = ev.paths[0].certs[i]->cert->not_after;

		if (ev.chain_not_after == 0 || na < ev.chain_not_after)
			ev.chain_not_after = na;
	}
	*out = ev;
	return 0;
}

/* The chosen chain as space-separated SHA-256s, leaf first. */
static char *
chain_list(const struct pki_path *p)
{
	size_t cap = p->len * (PKI_SHA256_HEX_LEN + 1) + 1, o = 0;
	char *s = malloc(cap);

	for (size_t i = 0; s && i < p->len; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%s", i ? " " : "",
		                      p->certs[i]->cert->sha256);
	return s;
}

int
core_verify_loaded(struct core *c, const struct db_order *o,
                   const struct pki_verify_opts *opts,
                   const struct core_actor *who, struct core_verify_result *out,
                   struct core_problem *pb)
{
	struct db_cert_list *stored = NULL;
	struct pki_cert **parsed = NULL, *leaf = NULL;
	const struct pki_cert **others = NULL;
	enum pki_origin *origins = NULL;
	struct core_evaluation ev;
	struct pki_verify_opts vo = *opts;
	struct db_verification v;
	char *report = NULL, *chain = NULL;
	size_t nparsed = 0, nothers = 0;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (!o->leaf_sha256)
		return core_refuse_state(pb, ERR_CONFLICT, "no_leaf", o->state,
		                         "the order has no certificate yet: "
		                         "upload the CA's delivery first");
	ret = db_order_certs(c->db, o->id, &stored);
	if (ret == 0)
		ret = core_certs_parse(stored, &parsed, &nparsed);
	if (ret < 0)
		goto out;
	others = calloc(nparsed + 1, sizeof(*others));
	origins = calloc(nparsed + 1, sizeof(*origins));
	if (!others || !origins) {
		ret = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < nparsed; i++) {
		if (strcmp(parsed[i]->sha256, o->leaf_sha256) == 0) {
			leaf = parsed[i];
		} else {
			others[nothers] = parsed[i];
			origins[nothers++] = PKI_ORIGIN_UPLOAD;
		}
	}
	if (!leaf) {
		log_error("verify: %s: the leaf %s is not stored", o->id,
		          o->leaf_sha256);
		ret = ERR_DB;
		goto out;
	}
	if (!vo.dns_suffix)
		vo.dns_suffix = o->dns_suffix;
	vo.expected_spki = o->public_key_sha256;
	ret = core_chain_evaluate(c, leaf, PKI_ORIGIN_UPLOAD, others, origins,
	                          nothers, &vo, &ev);
	if (ret < 0)
		goto out;
	report = c->render_report(&ev, o->id, c->render_arg);
	chain = chain_list(&ev.paths[0]);
	if (!report || !chain) {
		ret = ERR_NOMEM;
		goto out;
	}
	v = (struct db_verification){
		.evaluated_at = vo.at,
		.overall = pki_status_name(ev.overall),
		.report = report,
		.chain = chain,
		.trigger = ev.overall == PKI_FAIL ? ORDER_T_VERIFY_FAIL
		                                  : ORDER_T_VERIFY_PASS,
		.leaf_not_after = ev.leaf_not_after,
		.chain_not_after = ev.chain_not_after,
	};
	ret = db_verification_insert(c->db, o->id, &v, who->name, util_now(),
	                             &out->state);
	if (ret < 0)
		goto out;
	out->overall = ev.overall;
	out->report = report;
	report = NULL;
out:
	free(report);
	free(chain);
	core_evaluation_clear(&ev);
	core_certs_free(parsed, nparsed);
	free(others);
	free(origins);
	db_cert_list_free(stored);
	return ret;
}

int
core_order_verify(struct core *c, const char *id,
                  const struct pki_verify_opts *opts,
                  const struct core_actor *who, struct core_verify_result *out,
                  struct core_problem *pb)
{
	struct db_order *o = NULL;
	int ret = core_order_load(c, id, &o, pb);

	if (ret == 0)
		ret = core_verify_loaded(c, o, opts, who, out, pb);
	db_order_free(o);
	return ret;
}
