/*
 * verify.c: chains and the AMT checks for an order (stored, with the state
 * move) or for loose material (core_chain_evaluate only).
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDIDATES 512

/* What an evaluation owns besides the paths and the report. */
struct eval_priv {
	struct pki_candidate leaf; /* the paths point at it */
	struct pki_candidate cands[MAX_CANDIDATES];
	size_t ncands;
	struct pki_cert **pool; /* parsed CA pool */
	size_t npool;
	struct db_amt_root_list *db_roots;
	struct pki_amt_root *roots;
	size_t nroots;
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

/* The CA pool and the AMT root list, as pki wants them. */
static int
priv_fill(struct core *c, struct eval_priv *x)
{
	struct db_cert_list *pool = NULL;
	int ret = db_pool_list(c->db, &pool);

	if (ret == 0)
		ret = core_certs_parse(pool, &x->pool, &x->npool);
	db_cert_list_free(pool);
	for (size_t i = 0; ret == 0 && i < x->npool; i++)
		cand_add(x, x->pool[i], PKI_ORIGIN_POOL);
	if (ret == 0)
		ret = db_amt_root_list(c->db, &x->db_roots);
	if (ret < 0)
		return ret;
	x->roots = calloc(x->db_roots->count + 1, sizeof(*x->roots));
	if (!x->roots)
		return ERR_NOMEM;
	for (size_t i = 0; i < x->db_roots->count; i++) {
		const struct db_amt_root *r = &x->db_roots->items[i];

		x->roots[i] =
		    (struct pki_amt_root){ r->name, r->sha1, r->sha256,
			                   r->sha384, r->enabled };
	}
	x->nroots = x->db_roots->count;
	return 0;
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
	if (x) {
		core_certs_free(x->pool, x->npool);
		db_amt_root_list_free(x->db_roots);
		free(x->roots);
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
	ret = priv_fill(c, x);
	if (ret == 0)
		ret = pki_chain_build(&x->leaf, x->cands, x->ncands, x->roots,
		                      x->nroots, sha2, &ev.paths, &ev.npaths);
	/* The system trust store only completes a chain that has no root. */
	if (ret == 0 && ev.npaths > 0 && !ev.paths[0].complete &&
	    c->nsystem > 0) {
		pki_paths_free(ev.paths, ev.npaths);
		ev.paths = NULL;
		ev.npaths = 0;
		for (size_t i = 0; i < c->nsystem; i++)
			cand_add(x, c->system_certs[i], PKI_ORIGIN_SYSTEM);
		ret = pki_chain_build(&x->leaf, x->cands, x->ncands, x->roots,
		                      x->nroots, sha2, &ev.paths, &ev.npaths);
	}
	if (ret == 0 && ev.npaths == 0)
		ret = ERR_INVALID;
	if (ret == 0)
		ret = pki_verify_path(&ev.paths[0], opts, &ev.report);
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
