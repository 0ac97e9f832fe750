/*
 * uploads.c: the CA's delivery for an order, the order's certificates, and
 * the global CA pool.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The end-entity certificates of a delivery refused for another key. */
static json_t *
foreign_leaves(const struct api_material *m)
{
	json_t *certs = json_array();

	for (size_t i = 0; certs && i < m->ncerts; i++) {
		const struct pki_cert *c = m->certs[i];

		if (!c->is_ca && !c->self_signed)
			json_array_append_new(
			    certs,
			    json_pack("{s:s, s:s, s:s}", "subject", c->subject,
			              "sha256", c->sha256, "public_key_sha256",
			              c->spki_sha256));
	}
	return certs;
}

/* The answer to an upload: what each certificate is, and what happened. */
static json_t *
upload_json(const char *id, const struct api_material *m,
            const struct core_upload_result *r)
{
	json_t *listed = json_array(), *j;

	for (size_t i = 0; listed && i < m->ncerts; i++) {
		json_t *c = api_cert_json(m->certs[i]);

		json_object_set_new(
		    c, "role",
		    json_string(r->duplicate[i] ? "duplicate"
		                                : pki_role_name(r->roles[i])));
		json_object_set_new(
		    c, "reason",
		    json_string(r->duplicate[i]
		                    ? "already uploaded for this order"
		                    : r->reasons[i]));
		json_object_set_new(c, "source",
		                    json_string(m->bundle.certs[i].source));
		json_array_append_new(listed, c);
	}
	/* What became of a key sent along: the upload is refused rather
	 * than a key ignored, so it was either imported or is the order's. */
	j = json_pack("{s:s, s:s, s:b, s:b, s:o, s:O, s:i, s:b, s:s, s:s?, "
	              "s:b}",
	              "order_id", id, "state", order_state_name(r->state),
	              "state_changed", r->state_changed, "stored", true,
	              "certificates", listed, "notes", m->notes,
	              "duplicates_in_upload", (int)m->bundle.duplicates,
	              "key_imported", r->key_imported, "private_key",
	              !m->bundle.key    ? "none"
	              : r->key_imported ? "imported"
	                                : "matched",
	              "leaf_sha256",
	              r->leaf >= 0 ? m->certs[r->leaf]->sha256 : NULL,
	              "reverified", r->reverified);
	if (j && r->reverified)
		json_object_set_new(j, "verification",
		                    json_string(pki_status_name(r->overall)));
	return j;
}

/*
 * POST /api/v1/orders/{id}/uploads: the CA's delivery (raw or multipart).
 * Every certificate is classified and stored with the raw files (sealed);
 * the leaf for the order's key moves key_ready/submitted to issued; in a
 * later state the files are stored and the state stays (a newer leaf for
 * the same key is verified again). A leaf for another key is 422 and
 * nothing is stored.
 * 201; 400; 401; 404; 409 invalid_state; 413; 415; 422.
 */
enum MHD_Result
api_orders_upload(struct api_request *req)
{
	struct api_material m;
	struct core_file files[API_MAX_FILES];
	struct core_delivery d = { 0 };
	struct core_upload_result r;
	struct core_problem pb;
	struct core_actor who = api_actor(req);
	const char *sources[CORE_MAX_UPLOAD_CERTS];
	enum MHD_Result res;
	int ret;

	memset(&r, 0, sizeof(r));
	if (!api_material_read(req, &m, true, &res))
		goto out;
	for (size_t i = 0; i < m.nfiles; i++)
		files[i] =
		    (struct core_file){ m.files[i].name, m.files[i].media_type,
			                m.files[i].data, m.files[i].len };
	for (size_t i = 0; i < m.ncerts && i < CORE_MAX_UPLOAD_CERTS; i++)
		sources[i] = m.bundle.certs[i].source;
	d = (struct core_delivery){
		.files = files,
		.nfiles = m.nfiles,
		.certs = m.certs,
		.sources = sources,
		.ncerts = m.ncerts,
		.key = m.bundle.key,
		.key_format = m.bundle.key ? m.bundle.key_format : NULL,
	};
	ret = core_order_upload(&req->srv->core, req->params[0], &d, &who, &r,
	                        &pb);
	if (ret == ERR_INVALID && strcmp(pb.code, "leaf_key_mismatch") == 0 &&
	    !pb.field)
		res = api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                        pb.code, pb.detail, NULL,
		                        json_pack("{s:s, s:o}",
		                                  "order_public_key_sha256",
		                                  pb.order_key, "certificates",
		                                  foreign_leaves(&m)));
	else if (ret < 0)
		res = api_reply_refusal(req, ret, &pb);
	else
		res = api_reply_json(req, MHD_HTTP_CREATED,
		                     upload_json(req->params[0], &m, &r));
out:
	core_upload_result_clear(&r);
	api_material_clear(&m);
	return res;
}

static json_t *
stored_cert_json(const struct db_cert *c, bool with_role)
{
	char nb[32], na[32];
	json_t *j;

	util_time_format(c->not_before, nb, sizeof(nb));
	util_time_format(c->not_after, na, sizeof(na));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, "
	              "s:b}",
	              "sha256", c->sha256, "sha1", c->sha1, "subject",
	              c->subject ? c->subject : "", "issuer",
	              c->issuer ? c->issuer : "", "serial",
	              c->serial ? c->serial : "", "not_before", nb, "not_after",
	              na, "public_key_sha256",
	              c->spki_sha256 ? c->spki_sha256 : "", "sha384", c->sha384,
	              "is_ca", c->is_ca, "self_signed", c->self_signed);
	if (j && with_role) {
		json_object_set_new(j, "role", json_string(c->role));
		json_object_set_new(j, "reason",
		                    c->reason ? json_string(c->reason)
		                              : json_null());
	}
	if (j) {
		char *pem = NULL;
		struct pki_cert *p = NULL;

		if (pki_cert_parse(c->der, c->der_len, &p, NULL) == 0 &&
		    pki_cert_to_pem(p, &pem) == 0)
			json_object_set_new(j, "pem", json_string(pem));
		free(pem);
		pki_cert_free(p);
	}
	return j;
}

/*
 * GET /api/v1/orders/{id}/certificates: what was uploaded for the order,
 * with roles. 200; 401; 404.
 */
enum MHD_Result
api_orders_certificates(struct api_request *req)
{
	struct db_order *o = NULL;
	struct db_cert_list *l = NULL;
	json_t *items;
	int ret = db_order_get(req->srv->cfg.db, req->params[0], &o);

	if (ret == ERR_NOT_FOUND)
		return api_reply_order_not_found(req);
	db_order_free(o);
	if (ret == 0)
		ret = db_order_certs(req->srv->cfg.db, req->params[0], &l);
	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++)
		json_array_append_new(items,
		                      stored_cert_json(&l->items[i], true));
	db_cert_list_free(l);
	return api_reply_json(req, MHD_HTTP_OK,
	                      json_pack("{s:o}", "items", items));
}

/*
 * DELETE /api/v1/orders/{id}/certificates/{sha256}: a certificate uploaded
 * to the wrong order goes; a ready order is verified again.
 * 200 {order, detached}; 401; 404 order_not_found, certificate_not_found;
 * 409 invalid_state, current_leaf.
 */
enum MHD_Result
api_orders_cert_detach(struct api_request *req)
{
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	struct db_order *o = NULL;
	char *role = NULL;
	enum MHD_Result res;
	int ret = core_order_detach(&req->srv->core, req->params[0],
	                            req->params[1], &who, &o, &role, &pb);

	if (ret < 0)
		return api_reply_refusal(req, ret, &pb);
	res = api_reply_json(req, MHD_HTTP_OK,
	                     json_pack("{s:o, s:{s:s, s:s?}}", "order",
	                               api_order_json(o), "detached", "sha256",
	                               req->params[1], "role", role));
	free(role);
	db_order_free(o);
	return res;
}

/* ---- /api/v1/ca-certificates -------------------------------------------- */

/* GET /api/v1/ca-certificates: the global CA pool. 200; 401. */
enum MHD_Result
api_ca_list(struct api_request *req)
{
	struct db_cert_list *l = NULL;
	json_t *items;
	int ret = db_pool_list(req->srv->cfg.db, &l);

	if (ret < 0)
		return api_reply_internal(req, ret);
	items = json_array();
	for (size_t i = 0; items && i < l->count; i++)
		json_array_append_new(items,
		                      stored_cert_json(&l->items[i], false));
	db_cert_list_free(l);
	return api_reply_json(req, MHD_HTTP_OK,
	                      json_pack("{s:o}", "items", items));
}

/*
 * POST /api/v1/ca-certificates: roots and intermediates for every later
 * order (raw or multipart, any format). Only CA certificates are taken.
 * 201; 400; 401; 413; 415; 422 not_a_ca and the intake errors.
 */
enum MHD_Result
api_ca_add(struct api_request *req)
{
	struct api_material m;
	struct core_actor who = api_actor(req);
	struct core_problem pb;
	enum MHD_Result res;
	json_t *listed = NULL;
	size_t added = 0;
	int ret;

	if (!api_material_read(req, &m, true, &res))
		goto out;
	/* The pool keeps no key: refused, not dropped. */
	if (m.bundle.key) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "key_not_accepted",
		    "the CA pool takes certificates only and keeps no private "
		    "key: send the certificates without the key",
		    NULL, NULL);
		goto out;
	}
	ret = core_pool_add(&req->srv->core, m.certs, m.ncerts, &who, &added,
	                    &pb);
	if (ret < 0) {
		res = api_reply_refusal(req, ret, &pb);
		goto out;
	}
	listed = json_array();
	for (size_t i = 0; listed && i < m.ncerts; i++)
		json_array_append_new(listed, api_cert_json(m.certs[i]));
	res =
	    api_reply_json(req, MHD_HTTP_CREATED,
	                   json_pack("{s:o, s:i, s:O}", "certificates", listed,
	                             "added", (int)added, "notes", m.notes));
out:
	api_material_clear(&m);
	return res;
}

/*
 * DELETE /api/v1/ca-certificates/{sha256}: 204; 401; 404.
 */
enum MHD_Result
api_ca_delete(struct api_request *req)
{
	struct core_actor who = api_actor(req);
	int ret = core_pool_remove(&req->srv->core, req->params[0], &who);

	if (ret == ERR_NOT_FOUND)
		return api_reply_problem(req, MHD_HTTP_NOT_FOUND,
		                         "certificate_not_found",
		                         "no CA certificate with this SHA-256 "
		                         "in the pool",
		                         "sha256", NULL);
	if (ret < 0)
		return api_reply_internal(req, ret);
	return api_reply(req, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}
