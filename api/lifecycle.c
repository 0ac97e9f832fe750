/*
 * lifecycle.c: an order after its CSR: submitted to the CA, exported for
 * the consoles, deployed, revoked, renewed; and the expiry sweep on
 * demand.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const json_types[] = { "application/json", NULL };

static enum MHD_Result
reply_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "order_not_found",
	                         "there is no order with this id", "id", NULL);
}

static bool
in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; s && list[i]; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

/* A string member (NULL when absent/null); false after a queued 400/422. */
static bool
member_string(struct api_request *req, json_t *body, const char *key,
              size_t max, const char **out, enum MHD_Result *res)
{
	json_t *v = json_object_get(body, key);
	char detail[128];

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		snprintf(detail, sizeof(detail), "%s must be a string", key);
		*res = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                         "invalid_type", detail, key, NULL);
		return false;
	}
	if (json_string_length(v) > max) {
		snprintf(detail, sizeof(detail), "%s is longer than %zu bytes",
		         key, max);
		*res =
		    api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                      "validation_failed", detail, key, NULL);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* Reads the JSON body (may be empty) and refuses keys outside keys. */
static json_t *
body_with(struct api_request *req, const char *const *keys,
          enum MHD_Result *res)
{
	json_t *body = api_body_json(req, json_types, true, res);

	if (body && !api_json_only_keys(req, body, keys, "", res)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/*
 * POST /api/v1/orders/{id}/submitted {vendor_order_id, approver,
 * dcv_method, submitted_at}: the CSR went to the CA (key_ready ->
 * submitted), with the vendor's fields in the same transaction.
 * 200; 400; 401; 404; 409 invalid_transition; 413; 415; 422.
 */
enum MHD_Result
api_orders_submitted(struct api_request *req)
{
	static const char *const keys[] = { "vendor_order_id", "approver",
		                            "dcv_method", "submitted_at",
		                            NULL };
	static const char *const dcv[] = { "email", "http", "https",
		                           "cname", "dns",  NULL };
	struct db_order_patch p;
	const char *vid, *approver, *method, *at;
	char reason[160];
	enum MHD_Result res;
	int64_t t = 0;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	memset(&p, 0, sizeof(p));
	if (!member_string(req, body, "vendor_order_id", 256, &vid, &res) ||
	    !member_string(req, body, "approver", 256, &approver, &res) ||
	    !member_string(req, body, "dcv_method", 16, &method, &res) ||
	    !member_string(req, body, "submitted_at", 64, &at, &res))
		goto out;
	if (method && !in_list(method, dcv)) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "dcv_method is one of email, http, "
		                        "https, cname, dns",
		                        "dcv_method", NULL);
		goto out;
	}
	if (at && util_time_parse(at, &t) < 0) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "submitted_at is not an RFC 3339 "
		                        "date-time",
		                        "submitted_at", NULL);
		goto out;
	}
	p.vendor_order_id = vid;
	p.vendor_approver = approver;
	p.vendor_dcv_method = method;
	if (at)
		snprintf(reason, sizeof(reason), "sent to the CA at %s", at);
	else
		snprintf(reason, sizeof(reason), "sent to the CA");
	res = api_order_transition(req, "submitted", reason, &p);
out:
	json_decref(body);
	return res;
}

/*
 * POST /api/v1/orders/{id}/deployed {target, where, note}: installed at a
 * console (ready -> deployed; deployed again records one more).
 * 200; 400; 401; 404; 409; 413; 415; 422.
 */
enum MHD_Result
api_orders_deployed(struct api_request *req)
{
	static const char *const keys[] = { "target", "where", "note", NULL };
	static const char *const targets[] = { "ema",         "scs",   "rps",
		                               "meshcentral", "other", NULL };
	const char *target, *where, *note;
	char reason[1200];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	if (!member_string(req, body, "target", 16, &target, &res) ||
	    !member_string(req, body, "where", 256, &where, &res) ||
	    !member_string(req, body, "note", 512, &note, &res))
		goto out;
	if (!in_list(target, targets)) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "target is one of ema, scs, rps, "
		                        "meshcentral, other",
		                        "target", NULL);
		goto out;
	}
	snprintf(reason, sizeof(reason), "target=%s%s%s%s%s", target,
	         where ? " where=" : "", where ? where : "",
	         note ? " note=" : "", note ? note : "");
	res = api_order_transition(req, "deployed", reason, NULL);
out:
	json_decref(body);
	return res;
}

/*
 * POST /api/v1/orders/{id}/revoked {reason}: the CA revoked it.
 * 200; 400; 401; 404; 409; 413; 415; 422.
 */
enum MHD_Result
api_orders_revoked(struct api_request *req)
{
	static const char *const keys[] = { "reason", NULL };
	const char *reason;
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);

	if (!body)
		return res;
	if (member_string(req, body, "reason", 1024, &reason, &res))
		res = api_order_transition(
		    req, "revoked", reason ? reason : "revoked at the CA",
		    NULL);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/orders/{id}/renew ---------------------------------- */

/*
 * POST /api/v1/orders/{id}/renew {"reuse_key": false}: a new linked order
 * with the same subject, SANs, suffix and vendor, and a new key (or,
 * asked explicitly, the old key; the event says so).
 * 201 new order + Location; 400; 401; 404; 409 invalid_state, no_key;
 * 413; 415; 503 busy.
 */
enum MHD_Result
api_orders_renew(struct api_request *req)
{
	static const char *const keys[] = { "reuse_key", NULL };
	static const char *const renewable[] = { "issued",   "ready",
		                                 "deployed", "renewal_due",
		                                 "expired",  "revoked",
		                                 NULL };
	struct db_order *old = NULL, n, *stored = NULL;
	unsigned bits = 2048;
	struct pki_secret *key = NULL;
	struct pki_subject subj;
	unsigned char *ct = NULL, *sealed = NULL;
	size_t ct_len = 0, sealed_len = 0;
	char id[40], loc[96], detail[200], spki[PKI_SHA256_HEX_LEN + 1];
	char *csr_pem = NULL;
	const char **san = NULL;
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res), *reuse;
	bool reuse_key = false;
	int ret;

	if (!body)
		return res;
	reuse = json_object_get(body, "reuse_key");
	if (reuse && !json_is_boolean(reuse)) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "reuse_key must be true or false", "reuse_key", NULL);
		goto out;
	}
	reuse_key = json_is_true(reuse);
	ret = db_order_get(req->srv->cfg.db, req->params[0], &old);
	if (ret == ERR_NOT_FOUND) {
		res = reply_not_found(req);
		goto out;
	}
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	if (!in_list(old->state, renewable)) {
		res = api_reply_problem(
		    req, MHD_HTTP_CONFLICT, "invalid_state",
		    "only an order that was issued can be renewed; this "
		    "one has no certificate yet",
		    NULL, json_pack("{s:s}", "state", old->state));
		goto out;
	}
	if (reuse_key && !old->has_key) {
		res = api_reply_problem(req, MHD_HTTP_CONFLICT, "no_key",
		                        "the order's key is not stored here, "
		                        "so it cannot be reused",
		                        "reuse_key", NULL);
		goto out;
	}
	if (util_id_new("ord", id, sizeof(id)) < 0) {
		res = api_reply_internal(req, ERR_IO);
		goto out;
	}
	if (reuse_key) {
		ret = db_order_key_get(req->srv->cfg.db, old->id, &ct, &ct_len);
		if (ret == 0)
			ret = pki_unseal(req->srv->cfg.master_key, old->id, ct,
			                 ct_len, &key);
	} else {
		bits = old->key_bits == 3072 || old->key_bits == 4096
		           ? old->key_bits
		           : 2048;
		if (!api_key_generate(req, bits, &key, &res))
			goto out;
		ret = 0;
	}
	subj =
	    (struct pki_subject){ old->common_name,         old->organization,
		                  old->organizational_unit, old->locality,
		                  old->state_province,      old->country };
	san = calloc(old->san_count + 1, sizeof(*san));
	if (ret == 0 && !san)
		ret = ERR_NOMEM;
	for (size_t i = 0; san && i < old->san_count; i++)
		san[i] = old->san[i];
	if (ret == 0)
		ret = pki_csr_create(key, &subj, san, old->san_count, &csr_pem,
		                     spki);
	if (ret == 0)
		ret = pki_seal(req->srv->cfg.master_key, id, key->data,
		               key->len, &sealed, &sealed_len);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	n = *old;
	n.id = id;
	n.state = (char *)"key_ready";
	n.has_key = true;
	n.csr_source = (char *)"generated";
	n.key_algorithm = (char *)"rsa";
	n.key_bits = reuse_key ? old->key_bits : bits;
	n.csr_pem = csr_pem;
	n.public_key_sha256 = spki;
	n.renewal_of = old->id;
	n.vendor_order_id = NULL; /* a new purchase */
	n.vendor_invoice = NULL;
	n.notes = NULL;
	n.leaf_sha256 = NULL;
	snprintf(detail, sizeof(detail), "renewal of %s; %s", old->id,
	         reuse_key ? "the old key is reused, as asked"
	                   : "with a new key");
	n.created_detail = detail;
	ret = db_order_insert(req->srv->cfg.db, &n, sealed, sealed_len,
	                      req->actor, NULL, NULL, util_now());
	if (ret == 0)
		ret = db_order_get(req->srv->cfg.db, id, &stored);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	log_info("orders: %s renewed as %s (%s key)", old->id, id,
	         reuse_key ? "old" : "new");
	snprintf(loc, sizeof(loc), "/api/v1/orders/%s", id);
	api_add_header(req, "Location", loc);
	res = api_reply_order(req, MHD_HTTP_CREATED, stored, NULL);
out:
	free(san);
	free(csr_pem);
	free(sealed);
	if (ct) {
		util_wipe(ct, ct_len);
		free(ct);
	}
	pki_secret_free(key);
	db_order_free(stored);
	db_order_free(old);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/orders/{id}/exports ---------------------------------- */

static const char *const key_states[] = { "ready", "deployed", "renewal_due",
	                                  NULL };

struct export_format {
	const char *name;
	const char *media_type;
	const char *suffix; /* file name: <cn><suffix> */
};

static const struct export_format formats[] = {
	{ "pkcs12", "application/x-pkcs12", ".pfx" },
	{ "pem-chain", "application/pem-certificate-chain", ".chain.pem" },
	{ "pem-leaf", "application/x-pem-file", ".pem" },
	{ "pem-ca-bundle", "application/x-pem-file", ".ca-bundle.pem" },
	{ "pem-root", "application/x-pem-file", ".root.pem" },
	{ "der-leaf", "application/pkix-cert", ".cer" },
};

/* Every certificate the chain may hold: the order's, the pool, the store. */
struct cert_source {
	struct pki_cert **owned;
	size_t nowned;
};

static void
cert_source_clear(struct cert_source *cs)
{
	for (size_t i = 0; i < cs->nowned; i++)
		pki_cert_free(cs->owned[i]);
	free(cs->owned);
}

static int
cert_source_add(struct cert_source *cs, const struct db_cert_list *l)
{
	struct pki_cert **v =
	    realloc(cs->owned, (cs->nowned + l->count + 1) * sizeof(*v));

	if (!v)
		return ERR_NOMEM;
	cs->owned = v;
	for (size_t i = 0; i < l->count; i++) {
		if (pki_cert_parse(l->items[i].der, l->items[i].der_len,
		                   &cs->owned[cs->nowned], NULL) == 0)
			cs->nowned++;
	}
	return 0;
}

static const struct pki_cert *
cert_source_find(const struct cert_source *cs, const struct api_server *srv,
                 const char *sha256)
{
	for (size_t i = 0; i < cs->nowned; i++) {
		if (strcmp(cs->owned[i]->sha256, sha256) == 0)
			return cs->owned[i];
	}
	for (size_t i = 0; i < srv->nsystem; i++) {
		if (strcmp(srv->system_certs[i]->sha256, sha256) == 0)
			return srv->system_certs[i];
	}
	return NULL;
}

/*
 * The verified chain, leaf first, from the latest report. ERR_NOT_FOUND
 * when the order was not verified.
 */
static int
verified_chain(struct api_request *req, const struct db_order *o,
               struct cert_source *cs, const struct pki_cert **chain, size_t *n)
{
	struct db_cert_list *mine = NULL, *pool = NULL;
	char *text = NULL;
	json_t *rep = NULL, *items, *c;
	size_t i;
	int ret;

	ret = db_verification_latest(req->srv->cfg.db, o->id, &text);
	if (ret == 0)
		ret = db_order_certs(req->srv->cfg.db, o->id, &mine);
	if (ret == 0)
		ret = db_pool_list(req->srv->cfg.db, &pool);
	if (ret == 0)
		ret = cert_source_add(cs, mine);
	if (ret == 0)
		ret = cert_source_add(cs, pool);
	if (ret < 0)
		goto out;
	rep = json_loads(text, 0, NULL);
	items = json_object_get(rep, "chain");
	*n = 0;
	json_array_foreach(items, i, c)
	{
		const char *sha =
		    json_string_value(json_object_get(c, "sha256"));
		const struct pki_cert *pc =
		    sha ? cert_source_find(cs, req->srv, sha) : NULL;

		if (!pc || *n >= PKI_P12_MAX_CERTS) {
			ret = ERR_INVALID;
			goto out;
		}
		chain[(*n)++] = pc;
	}
	if (*n == 0 || !o->leaf_sha256 ||
	    strcmp(chain[0]->sha256, o->leaf_sha256) != 0)
		ret = ERR_INVALID;
out:
	json_decref(rep);
	free(text);
	db_cert_list_free(mine);
	db_cert_list_free(pool);
	return ret;
}

struct p12_job {
	const struct pki_secret *key;
	const struct pki_cert *const *certs;
	size_t ncerts;
	const char *friendly_name;
	const char *password;
	enum pki_p12_profile profile;
	struct pki_secret *pfx;
	const char *why;
	int ret;
};

/* Makes the PFX and reads it back the way the consoles will. */
static void
p12_run(void *arg)
{
	struct p12_job *j = arg;

	j->ret = pki_p12_export(j->key, j->certs, j->ncerts, j->friendly_name,
	                        j->password, j->profile, &j->pfx);
	if (j->ret == 0)
		j->ret = pki_p12_check(j->pfx, j->password, j->certs, j->ncerts,
		                       j->profile, &j->why);
	if (j->ret < 0 && j->pfx) {
		pki_secret_free(j->pfx);
		j->pfx = NULL;
	}
}

/* Appends the PEM of c to *buf. */
static int
pem_append(char **buf, size_t *len, const struct pki_cert *c)
{
	char *pem = NULL, *nb;
	size_t n;
	int ret = pki_cert_to_pem(c, &pem);

	if (ret < 0)
		return ret;
	n = strlen(pem);
	nb = realloc(*buf, *len + n + 1);
	if (!nb) {
		free(pem);
		return ERR_NOMEM;
	}
	memcpy(nb + *len, pem, n + 1);
	*buf = nb;
	*len += n;
	free(pem);
	return 0;
}

/*
 * POST /api/v1/orders/{id}/exports {"format", "profile", "password"}: the
 * file itself. pkcs12 (the key, in a password-protected PFX) only for an
 * order whose chain verified (ready or later) and that holds its key;
 * every key export is an event naming the token. pem-chain, pem-leaf,
 * pem-ca-bundle, pem-root, der-leaf carry certificates only.
 * 200 file; 400; 401; 404; 409 invalid_state, no_key, no_leaf,
 * no_verification; 413; 415; 422 validation_failed; 503 busy.
 */
enum MHD_Result
api_orders_export(struct api_request *req)
{
	static const char *const keys[] = { "format", "profile", "password",
		                            "friendly_name", NULL };
	const struct export_format *fmt = NULL;
	const struct pki_cert *chain[PKI_P12_MAX_CERTS];
	struct cert_source cs = { NULL, 0 };
	struct db_order *o = NULL;
	struct p12_job job;
	struct pki_secret *key = NULL;
	const char *format, *profile, *password, *fname, *problem;
	unsigned char *ct = NULL;
	size_t ct_len = 0, nchain = 0, len = 0;
	char name[128], disp[192], detail[256], *pem = NULL;
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res);
	int ret;

	memset(&job, 0, sizeof(job));
	if (!body)
		return res;
	if (!member_string(req, body, "format", 32, &format, &res) ||
	    !member_string(req, body, "profile", 16, &profile, &res) ||
	    !member_string(req, body, "password", 256, &password, &res) ||
	    !member_string(req, body, "friendly_name", 255, &fname, &res))
		goto out;
	for (size_t i = 0; format && i < sizeof(formats) / sizeof(formats[0]);
	     i++) {
		if (strcmp(format, formats[i].name) == 0)
			fmt = &formats[i];
	}
	if (!fmt) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "format is one of pkcs12, pem-chain, "
		                        "pem-leaf, pem-ca-bundle, pem-root, "
		                        "der-leaf",
		                        "format", NULL);
		goto out;
	}
	if (strcmp(fmt->name, "pkcs12") == 0) {
		if (profile && strcmp(profile, "compat") != 0 &&
		    strcmp(profile, "modern") != 0) {
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed",
			    "profile is compat (3DES, every console) or "
			    "modern (AES-256)",
			    "profile", NULL);
			goto out;
		}
		problem = pki_p12_password_problem(password);
		if (problem) {
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed", problem, "password", NULL);
			goto out;
		}
	} else if (profile || password) {
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        "validation_failed",
		                        "profile and password are for pkcs12 "
		                        "only",
		                        profile ? "profile" : "password", NULL);
		goto out;
	}
	ret = db_order_get(req->srv->cfg.db, req->params[0], &o);
	if (ret == ERR_NOT_FOUND) {
		res = reply_not_found(req);
		goto out;
	}
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	if (!o->leaf_sha256) {
		res = api_reply_problem(req, MHD_HTTP_CONFLICT, "no_leaf",
		                        "the order has no certificate yet: "
		                        "upload the CA's delivery first",
		                        NULL,
		                        json_pack("{s:s}", "state", o->state));
		goto out;
	}
	if (fmt == &formats[0] && !in_list(o->state, key_states)) {
		res = api_reply_problem(
		    req, MHD_HTTP_CONFLICT, "invalid_state",
		    "a key leaves only for an order whose chain verified "
		    "(ready, deployed, renewal_due): verify it first",
		    NULL, json_pack("{s:s}", "state", o->state));
		goto out;
	}
	if (fmt == &formats[0] && !o->has_key) {
		res = api_reply_problem(req, MHD_HTTP_CONFLICT, "no_key",
		                        "the order's key is not stored here "
		                        "(its CSR was made elsewhere): export "
		                        "the PFX where the key is",
		                        NULL, NULL);
		goto out;
	}
	ret = verified_chain(req, o, &cs, chain, &nchain);
	if (ret == ERR_NOT_FOUND) {
		res =
		    api_reply_problem(req, MHD_HTTP_CONFLICT, "no_verification",
		                      "verify the order first: exports carry "
		                      "the verified chain",
		                      NULL, NULL);
		goto out;
	}
	if (ret == ERR_INVALID) {
		res = api_reply_problem(
		    req, MHD_HTTP_CONFLICT, "chain_changed",
		    "a certificate of the verified chain is no longer here "
		    "(removed from the CA pool?): upload it again and verify "
		    "the order again",
		    NULL, NULL);
		goto out;
	}
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	api_file_name(o->common_name, fmt->suffix, name, sizeof(name));
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	if (fmt == &formats[0]) {
		ret = db_order_key_get(req->srv->cfg.db, o->id, &ct, &ct_len);
		if (ret == 0)
			ret = pki_unseal(req->srv->cfg.master_key, o->id, ct,
			                 ct_len, &key);
		if (ret < 0) {
			res = api_reply_internal(req, ret);
			goto out;
		}
		job.key = key;
		job.certs = chain;
		job.ncerts = nchain;
		job.friendly_name = fname;
		job.password = password;
		job.profile = profile && strcmp(profile, "modern") == 0
		                  ? PKI_P12_MODERN
		                  : PKI_P12_COMPAT;
		ret = workq_run(req->srv->cfg.slow, p12_run, &job);
		if (ret == ERR_BUSY) {
			api_add_header(req, "Retry-After", "5");
			res = api_reply_problem(
			    req, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
			    "too many exports are running; retry in a "
			    "few seconds",
			    NULL, NULL);
			goto out;
		}
		if (ret == 0)
			ret = job.ret;
		if (ret == ERR_INVALID && fname && !job.why) {
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "validation_failed",
			    "friendly_name must be 1..255 printable ASCII "
			    "characters",
			    "friendly_name", NULL);
			goto out;
		}
		if (ret < 0) {
			log_error("exports: %s: the PFX failed its own check: "
			          "%s",
			          o->id, job.why ? job.why : err_str(ret));
			res = api_reply_internal(req, ret);
			goto out;
		}
		snprintf(detail, sizeof(detail),
		         "pkcs12 %s, %zu certificates, leaf %.64s",
		         job.profile == PKI_P12_MODERN ? "modern" : "compat",
		         nchain, chain[0]->sha256);
		/* The audit row is durable before the key leaves. */
		ret = db_order_event(req->srv->cfg.db, o->id, req->actor,
		                     "key_export", detail, util_now());
		if (ret < 0) {
			res = api_reply_internal(req, ret);
			goto out;
		}
		log_info("exports: %s: key exported by %s (%s)", o->id,
		         req->actor, detail);
		api_add_header(req, "Content-Disposition", disp);
		res = api_reply(req, MHD_HTTP_OK, fmt->media_type,
		                job.pfx->data, job.pfx->len);
		goto out;
	}
	if (strcmp(fmt->name, "der-leaf") == 0) {
		api_add_header(req, "Content-Disposition", disp);
		res = api_reply(req, MHD_HTTP_OK, fmt->media_type,
		                chain[0]->der, chain[0]->der_len);
		goto out;
	}
	ret = 0;
	for (size_t i = 0; ret == 0 && i < nchain; i++) {
		bool leaf = i == 0, root = i + 1 == nchain;

		if ((strcmp(fmt->name, "pem-leaf") == 0 && !leaf) ||
		    (strcmp(fmt->name, "pem-ca-bundle") == 0 && leaf) ||
		    (strcmp(fmt->name, "pem-root") == 0 && !root))
			continue;
		ret = pem_append(&pem, &len, chain[i]);
	}
	if (ret < 0 || !pem) {
		res = api_reply_internal(req, ret < 0 ? ret : ERR_INVALID);
		goto out;
	}
	api_add_header(req, "Content-Disposition", disp);
	res = api_reply(req, MHD_HTTP_OK, fmt->media_type, pem, len);
out:
	free(pem);
	pki_secret_free(job.pfx);
	pki_secret_free(key);
	if (ct) {
		util_wipe(ct, ct_len);
		free(ct);
	}
	cert_source_clear(&cs);
	db_order_free(o);
	json_decref(body);
	return res;
}

/* ---- POST /api/v1/jobs/expiry-check ---------------------------------- */

static json_t *
ids_json(char **ids, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

/*
 * POST /api/v1/jobs/expiry-check {"at", "dry_run"}: runs the expiry sweep
 * now (the daemon also runs it at start and hourly), as of `at` when
 * given, e.g. to see what a date will bring with dry_run.
 * 200; 400; 401; 413; 415; 422.
 */
enum MHD_Result
api_jobs_expiry(struct api_request *req)
{
	static const char *const keys[] = { "at", "dry_run", NULL };
	struct db_sweep s = { 0 };
	const char *at;
	char when[32];
	enum MHD_Result res;
	json_t *body = body_with(req, keys, &res), *dry;
	int64_t t = util_now();
	int ret;

	if (!body)
		return res;
	if (!member_string(req, body, "at", 64, &at, &res))
		goto out;
	dry = json_object_get(body, "dry_run");
	if (dry && !json_is_boolean(dry)) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "dry_run must be true or false", "dry_run", NULL);
		goto out;
	}
	if (at && util_time_parse(at, &t) < 0) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "validation_failed",
		    "at is not an RFC 3339 date-time", "at", NULL);
		goto out;
	}
	ret = db_orders_expiry_sweep(
	    req->srv->cfg.db, t, (int64_t)req->srv->cfg.renewal_days * 86400,
	    req->actor, json_is_true(dry), &s);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	util_time_format(t, when, sizeof(when));
	res = api_reply_json(
	    req, MHD_HTTP_OK,
	    json_pack("{s:s, s:i, s:b, s:o, s:o}", "at", when,
	              "renewal_window_days", (int)req->srv->cfg.renewal_days,
	              "dry_run", json_is_true(dry), "renewal_due",
	              ids_json(s.renewal_due, s.nrenewal_due), "expired",
	              ids_json(s.expired, s.nexpired)));
	db_sweep_clear(&s);
out:
	json_decref(body);
	return res;
}
