/*
 * orders.c: an order's life: creation (key and CSR, or a CSR made
 * elsewhere), the explicit moves, renewal, and detaching a certificate.
 */
#include "core/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes a key of bits, its CSR and the sealed key for order id. */
static int
key_and_csr(struct core *c, const char *id, unsigned bits,
            const struct pki_secret *reuse, const struct pki_subject *subj,
            const char *const *san, size_t nsan, char **csr_pem, char *spki,
            unsigned char **sealed, size_t *sealed_len)
{
	struct pki_secret *key = NULL;
	const struct pki_secret *k = reuse;
	int ret = 0;

	if (!k) {
		ret = core_key_generate(c, bits, &key);
		k = key;
	}
	if (ret == 0)
		ret = pki_csr_create(k, subj, san, nsan, csr_pem, spki);
	if (ret == 0)
		ret = pki_seal(c->master_key, id, k->data, k->len, sealed,
		               sealed_len);
	pki_secret_free(key);
	return ret;
}

int
core_order_create(struct core *c, const struct db_order *tmpl,
                  const struct pki_subject *subj, const char *const *san,
                  size_t nsan, const char *idem_key, const char *idem_hash,
                  const struct core_actor *who, struct db_order **out)
{
	struct db_order o = *tmpl;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char id[40], spki[PKI_SHA256_HEX_LEN + 1], *csr_pem = NULL;
	int ret = util_id_new("ord", id, sizeof(id));

	o.id = id;
	o.state = ORDER_KEY_READY;
	if (ret == 0 && !tmpl->csr_pem) {
		ret = key_and_csr(c, id, o.key_bits, NULL, subj, san, nsan,
		                  &csr_pem, spki, &sealed, &sealed_len);
		o.has_key = true;
		o.csr_source = (char *)"generated";
		o.csr_pem = csr_pem;
		o.public_key_sha256 = spki;
	} else if (ret == 0) {
		o.has_key = false;
		o.csr_source = (char *)"imported";
	}
	if (ret == 0)
		ret = db_order_insert(c->db, &o, sealed, sealed_len, who->name,
		                      idem_key, idem_hash, util_now());
	if (ret == 0)
		ret = db_order_get(c->db, id, out);
	if (ret == 0)
		log_info("orders: created %s (%s, %s %u)", id, o.csr_source,
		         o.key_algorithm, o.key_bits);
	free(csr_pem);
	free(sealed);
	return ret;
}

int
core_order_transition(struct core *c, const char *id, enum order_trigger t,
                      const struct db_order_patch *p, const char *reason,
                      const struct core_actor *who, struct db_order **out,
                      struct core_problem *pb)
{
	enum order_state cur = ORDER_DRAFT;
	int ret = db_order_transition(c->db, id, t, p, who->name, reason,
	                              util_now(), out, &cur);

	if (ret == ERR_NOT_FOUND)
		return core_refuse(pb, ret, "order_not_found", "id",
		                   "there is no order with this id");
	if (ret == ERR_CONFLICT) {
		core_refuse_state(pb, ret, "invalid_transition", cur,
		                  "the order is %s; it cannot be moved by %s",
		                  order_state_name(cur), order_trigger_name(t));
		if (pb) {
			/* where t leads from any state: the state asked for */
			size_t n;
			const struct order_transition *tab =
			    order_transitions(&n);

			for (size_t i = 0; i < n && !pb->has_requested; i++) {
				if (tab[i].trigger == t) {
					pb->has_requested = true;
					pb->requested = tab[i].to;
				}
			}
			if (pb->has_requested)
				snprintf(
				    pb->detail, sizeof(pb->detail),
				    "the order is %s; it cannot move to %s",
				    order_state_name(cur),
				    order_state_name(pb->requested));
		}
	}
	return ret;
}

int
core_order_renew(struct core *c, const char *id, bool reuse_key,
                 const struct core_actor *who, struct db_order **out,
                 struct core_problem *pb)
{
	struct db_order *old = NULL, n;
	struct pki_secret *key = NULL;
	struct pki_subject subj;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char nid[40], detail[200], spki[PKI_SHA256_HEX_LEN + 1];
	char *csr_pem = NULL;
	unsigned bits;
	int ret = core_order_load(c, id, &old, pb);

	if (ret < 0)
		return ret;
	if (!order_state_is_renewable(old->state)) {
		ret = core_refuse_state(pb, ERR_CONFLICT, "invalid_state",
		                        old->state,
		                        "only an order that was issued can be "
		                        "renewed; this one has no certificate "
		                        "yet");
		goto out;
	}
	if (reuse_key && !old->has_key) {
		ret = core_refuse(pb, ERR_CONFLICT, "no_key", "reuse_key",
		                  "the order's key is not stored here, so it "
		                  "cannot be reused");
		goto out;
	}
	ret = util_id_new("ord", nid, sizeof(nid));
	if (ret == 0 && reuse_key)
		ret = core_order_key(c, old->id, &key);
	bits = reuse_key || old->key_bits == 3072 || old->key_bits == 4096
	           ? old->key_bits
	           : 2048;
	subj =
	    (struct pki_subject){ old->common_name,         old->organization,
		                  old->organizational_unit, old->locality,
		                  old->state_province,      old->country };
	if (ret == 0)
		ret = key_and_csr(c, nid, bits, key, &subj,
		                  (const char *const *)old->san, old->san_count,
		                  &csr_pem, spki, &sealed, &sealed_len);
	if (ret < 0)
		goto out;
	n = *old;
	n.id = nid;
	n.state = ORDER_KEY_READY;
	n.has_key = true;
	/* a reused key keeps its origin */
	n.key_origin = reuse_key ? old->key_origin : NULL;
	n.csr_source = (char *)"generated";
	n.key_algorithm = (char *)"rsa";
	n.key_bits = bits;
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
	ret = db_order_insert(c->db, &n, sealed, sealed_len, who->name, NULL,
	                      NULL, util_now());
	if (ret == 0)
		ret = db_order_get(c->db, nid, out);
	if (ret == 0)
		log_info("orders: %s renewed as %s (%s key)", old->id, nid,
		         reuse_key ? "old" : "new");
out:
	free(csr_pem);
	free(sealed);
	pki_secret_free(key);
	db_order_free(old);
	return ret;
}

int
core_order_detach(struct core *c, const char *id, const char *sha256,
                  const struct core_actor *who, struct db_order **out,
                  char **role, struct core_problem *pb)
{
	struct db_order *o = NULL;
	struct core_verify_result vr = { 0 };
	struct pki_verify_opts opts = { 0 };
	int ret = core_order_load(c, id, &o, pb);

	if (ret < 0)
		return ret;
	ret = db_order_cert_detach(c->db, id, sha256, who->name, util_now(),
	                           role);
	if (ret == ERR_NOT_FOUND) {
		ret = core_refuse(pb, ret, "certificate_not_found", "sha256",
		                  "the order has no certificate with this "
		                  "SHA-256");
		goto out;
	}
	if (ret == ERR_CONFLICT) {
		ret =
		    order_state_is_terminal(o->state)
		        ? core_refuse_state(pb, ret, "invalid_state", o->state,
		                            "the order is closed: its "
		                            "certificates stay as they are")
		        : core_refuse_state(pb, ret, "current_leaf", o->state,
		                            "this is the order's certificate: "
		                            "upload the right one first, then "
		                            "detach this one");
		goto out;
	}
	if (ret < 0)
		goto out;
	/* The chain that made it ready may have needed what is gone. */
	if (o->state == ORDER_READY) {
		opts.at = util_now();
		ret = core_verify_loaded(c, o, &opts, who, &vr, pb);
		free(vr.report);
		if (ret < 0)
			log_warn("orders: %s: verification after detach: %s",
			         id, err_str(ret));
		ret = 0;
	}
	db_order_free(o);
	o = NULL;
	ret = db_order_get(c->db, id, out);
out:
	db_order_free(o);
	return ret;
}

int
core_expiry_sweep(struct core *c, int64_t at, bool dry_run,
                  const struct core_actor *who, struct db_sweep *out)
{
	return db_orders_expiry_sweep(c->db, at,
	                              (int64_t)c->renewal_days * 86400,
	                              who->name, dry_run, out);
}

int
core_order_patch(struct core *c, const char *id, int64_t expected_version,
                 const struct db_order_patch *p, const struct core_actor *who,
                 struct db_order **out, struct core_problem *pb)
{
	int ret = db_order_update(c->db, id, expected_version, p, who->name,
	                          util_now(), out);

	if (ret == ERR_NOT_FOUND)
		return core_refuse(pb, ret, "order_not_found", "id",
		                   "there is no order with this id");
	if (ret == ERR_PRECONDITION)
		return core_refuse(
		    pb, ret, "etag_mismatch", "If-Match",
		    "the order changed since you read it; GET it "
		    "again and retry");
	return ret;
}
