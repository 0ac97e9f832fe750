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

/* An order may take a delivery until it is cancelled or over. */
static const char *const upload_states[] = { "draft",       "key_ready",
	                                     "submitted",   "issued",
	                                     "ready",       "deployed",
	                                     "renewal_due", NULL };
static const char *const to_issued[] = { "key_ready", "submitted", NULL };

static enum MHD_Result
reply_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "order_not_found",
	                         "there is no order with this id", "id", NULL);
}

static bool
state_in(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

/* Fills a db_cert's borrowed fields from a parsed certificate. */
static void
db_cert_from(struct db_cert *d, const struct pki_cert *c)
{
	d->sha256 = (char *)c->sha256;
	d->der = c->der;
	d->der_len = c->der_len;
	d->sha1 = (char *)c->sha1;
	d->sha384 = (char *)c->sha384;
	d->subject = c->subject;
	d->issuer = c->issuer;
	d->serial = c->serial;
	d->not_before = c->not_before;
	d->not_after = c->not_after;
	d->spki_sha256 = (char *)c->spki_sha256;
	d->is_ca = c->is_ca;
	d->self_signed = c->self_signed;
}

/* The 422 for a delivery whose end-entity certificates fit another key. */
static enum MHD_Result
reply_wrong_key(struct api_request *req, const struct db_order *o,
                const struct api_material *m)
{
	json_t *certs = json_array();
	char detail[400];
	const struct pki_cert *first = NULL;

	for (size_t i = 0; i < m->ncerts; i++) {
		const struct pki_cert *c = m->certs[i];

		if (c->is_ca || c->self_signed)
			continue;
		if (!first)
			first = c;
		json_array_append_new(
		    certs, json_pack("{s:s, s:s, s:s}", "subject", c->subject,
		                     "sha256", c->sha256, "public_key_sha256",
		                     c->spki_sha256));
	}
	snprintf(detail, sizeof(detail),
	         "the certificate %.120s is for another key (public key "
	         "SHA-256 %s) than this order's (%s): it belongs to another "
	         "CSR",
	         first->subject, first->spki_sha256, o->public_key_sha256);
	return api_reply_problem(
	    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "leaf_key_mismatch", detail,
	    NULL,
	    json_pack("{s:s, s:o}", "order_public_key_sha256",
	              o->public_key_sha256, "certificates", certs));
}

/*
 * POST /api/v1/orders/{id}/uploads: the CA's delivery (raw or multipart).
 * Every certificate is classified and stored with the raw files; the leaf
 * for the order's key moves it to issued. A leaf for another key is 422
 * and nothing is stored.
 * 201; 400; 401; 404; 409 invalid_state; 413; 415; 422.
 */
enum MHD_Result
api_orders_upload(struct api_request *req)
{
	struct api_material m;
	struct db_order *o = NULL, *after = NULL;
	struct db_cert_list *known = NULL;
	struct pki_cert **context = NULL;
	struct db_upload ups[API_MAX_FILES];
	struct db_cert *dcs = NULL;
	char upload_ids[API_MAX_FILES][40], hashes[API_MAX_FILES][65];
	enum pki_role roles[64];
	char *reasons[64] = { NULL };
	unsigned char *sealed = NULL;
	size_t sealed_len = 0, nctx = 0;
	struct db_order_upload u;
	enum MHD_Result res;
	json_t *listed = NULL;
	char detail[256], key_spki[PKI_SHA256_HEX_LEN + 1];
	long leaf = -1;
	bool key_used = false;
	int ret;

	memset(&m, 0, sizeof(m));
	memset(&u, 0, sizeof(u));
	ret = db_order_get(req->srv->cfg.db, req->params[0], &o);
	if (ret == ERR_NOT_FOUND)
		return reply_not_found(req);
	if (ret < 0)
		return api_reply_internal(req, ret);
	if (!state_in(o->state, upload_states)) {
		res = api_reply_problem(req, MHD_HTTP_CONFLICT, "invalid_state",
		                        "the order is closed and takes no "
		                        "delivery",
		                        NULL,
		                        json_pack("{s:s}", "state", o->state));
		goto out;
	}
	if (!api_material_read(req, &m, true, &res))
		goto out;
	if (m.ncerts > 64) {
		res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "upload_limits",
		    "at most 64 certificates per upload", NULL, NULL);
		goto out;
	}
	for (size_t i = 0; i < m.ncerts; i++) {
		if (o->public_key_sha256 &&
		    strcmp(m.certs[i]->spki_sha256, o->public_key_sha256) ==
		        0 &&
		    !m.certs[i]->is_ca) {
			leaf = (long)i;
			break;
		}
	}
	if (leaf < 0) {
		for (size_t i = 0; i < m.ncerts; i++) {
			if (!m.certs[i]->is_ca && !m.certs[i]->self_signed) {
				res = reply_wrong_key(req, o, &m);
				goto out;
			}
		}
	}
	/* A PKCS#12 may bring the key of an order made around a CSR. */
	if (m.bundle.key && pki_key_spki_sha256(m.bundle.key, key_spki) == 0) {
		if (strcmp(key_spki, o->public_key_sha256) != 0) {
			res = api_reply_problem(
			    req, MHD_HTTP_UNPROCESSABLE_CONTENT,
			    "leaf_key_mismatch",
			    "the private key in the PKCS#12 is not the "
			    "key of this order",
			    "password",
			    json_pack("{s:s, s:s}", "order_public_key_sha256",
			              o->public_key_sha256,
			              "uploaded_key_public_key_sha256",
			              key_spki));
			goto out;
		}
		if (!o->has_key) {
			ret = pki_seal(req->srv->cfg.master_key, o->id,
			               m.bundle.key->data, m.bundle.key->len,
			               &sealed, &sealed_len);
			if (ret < 0) {
				res = api_reply_internal(req, ret);
				goto out;
			}
			key_used = true;
		}
	}
	ret = db_order_certs(req->srv->cfg.db, o->id, &known);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	context = calloc(known->count + 1, sizeof(*context));
	if (!context) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < known->count; i++) {
		if (pki_cert_parse(known->items[i].der, known->items[i].der_len,
		                   &context[nctx], NULL) == 0)
			nctx++;
	}
	ret = pki_classify((const struct pki_cert *const *)m.certs, m.ncerts,
	                   leaf, (const struct pki_cert *const *)context, nctx,
	                   roles, reasons);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	dcs = calloc(m.ncerts + 1, sizeof(*dcs));
	listed = json_array();
	if (!dcs || !listed) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < m.nfiles; i++) {
		if (util_id_new("upl", upload_ids[i], sizeof(upload_ids[i])) <
		        0 ||
		    pki_sha256_hex(m.files[i].data ? m.files[i].data
		                                   : (unsigned char *)"",
		                   m.files[i].len, hashes[i]) < 0) {
			res = api_reply_internal(req, ERR_IO);
			goto out;
		}
		ups[i] = (struct db_upload){
			upload_ids[i],   m.files[i].name, m.files[i].media_type,
			m.files[i].data, m.files[i].len,  hashes[i],
		};
	}
	for (size_t i = 0; i < m.ncerts; i++) {
		bool dup = false;
		json_t *c;

		for (size_t k = 0; k < known->count && !dup; k++)
			dup = strcmp(known->items[k].sha256,
			             m.certs[i]->sha256) == 0;
		db_cert_from(&dcs[i], m.certs[i]);
		dcs[i].role = (char *)pki_role_name(roles[i]);
		dcs[i].reason = reasons[i];
		dcs[i].upload_id = upload_ids[0];
		c = api_cert_json(m.certs[i]);
		json_object_set_new(
		    c, "role",
		    json_string(dup ? "duplicate" : pki_role_name(roles[i])));
		json_object_set_new(
		    c, "reason",
		    json_string(dup ? "already uploaded for this order"
		                    : reasons[i]));
		json_object_set_new(c, "source",
		                    json_string(m.bundle.certs[i].source));
		json_array_append_new(listed, c);
	}
	snprintf(detail, sizeof(detail), "%zu file(s), %zu certificate(s)%s%s",
	         m.nfiles, m.ncerts, leaf >= 0 ? ", leaf " : "",
	         leaf >= 0 ? m.certs[leaf]->sha256 : "");
	u.uploads = ups;
	u.nuploads = m.nfiles;
	u.certs = dcs;
	u.ncerts = m.ncerts;
	u.leaf_sha256 = leaf >= 0 ? m.certs[leaf]->sha256 : NULL;
	u.from_states = leaf >= 0 ? to_issued : NULL;
	u.to_state = leaf >= 0 ? "issued" : NULL;
	u.sealed_key = sealed;
	u.sealed_key_len = sealed_len;
	u.detail = detail;
	ret = db_order_upload_apply(req->srv->cfg.db, o->id, &u, req->actor,
	                            util_now(), NULL);
	if (ret == ERR_CONFLICT) /* the order moved on meanwhile */
		ret = 0;
	if (ret == 0)
		ret = db_order_get(req->srv->cfg.db, o->id, &after);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	log_info("uploads: %s: %s", o->id, detail);
	res = api_reply_json(
	    req, MHD_HTTP_CREATED,
	    json_pack("{s:s, s:s, s:o, s:O, s:i, s:b, s:s?}", "order_id", o->id,
	              "state", after->state, "certificates", listed, "notes",
	              m.notes, "duplicates_in_upload", (int)m.bundle.duplicates,
	              "key_imported", key_used, "leaf_sha256",
	              leaf >= 0 ? m.certs[leaf]->sha256 : NULL));
	listed = NULL;
out:
	json_decref(listed);
	for (size_t i = 0; i < 64; i++)
		free(reasons[i]);
	for (size_t i = 0; i < nctx; i++)
		pki_cert_free(context[i]);
	free(context);
	free(dcs);
	free(sealed);
	db_cert_list_free(known);
	db_order_free(after);
	db_order_free(o);
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
		return reply_not_found(req);
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
	struct db_cert *dcs = NULL;
	enum MHD_Result res;
	json_t *listed = NULL;
	size_t added = 0;
	int ret;

	if (!api_material_read(req, &m, true, &res))
		goto out;
	for (size_t i = 0; i < m.ncerts; i++) {
		if (!m.certs[i]->is_ca && !m.certs[i]->self_signed) {
			char detail[300];

			snprintf(detail, sizeof(detail),
			         "%.200s is not a CA certificate: the pool "
			         "holds roots and intermediates only",
			         m.certs[i]->subject);
			res = api_reply_problem(req,
			                        MHD_HTTP_UNPROCESSABLE_CONTENT,
			                        "not_a_ca", detail, NULL, NULL);
			goto out;
		}
	}
	dcs = calloc(m.ncerts, sizeof(*dcs));
	listed = json_array();
	if (!dcs || !listed) {
		res = api_reply_internal(req, ERR_NOMEM);
		goto out;
	}
	for (size_t i = 0; i < m.ncerts; i++) {
		db_cert_from(&dcs[i], m.certs[i]);
		json_array_append_new(listed, api_cert_json(m.certs[i]));
	}
	ret = db_pool_add(req->srv->cfg.db, dcs, m.ncerts, req->actor,
	                  util_now(), &added);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto out;
	}
	res =
	    api_reply_json(req, MHD_HTTP_CREATED,
	                   json_pack("{s:o, s:i, s:O}", "certificates", listed,
	                             "added", (int)added, "notes", m.notes));
	listed = NULL;
out:
	json_decref(listed);
	free(dcs);
	api_material_clear(&m);
	return res;
}

/*
 * DELETE /api/v1/ca-certificates/{sha256}: 204; 401; 404.
 */
enum MHD_Result
api_ca_delete(struct api_request *req)
{
	int ret = db_pool_remove(req->srv->cfg.db, req->params[0]);

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
