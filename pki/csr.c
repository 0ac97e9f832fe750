/*
 * csr.c: PKCS#10 certificate requests: making ours, reading anyone's.
 *
 * pki_csr_parse() reads untrusted input (HTTP bodies). It never trusts a
 * length it did not check: the input is capped, the PEM block is located
 * here, its body decoded by pki_base64_decode() (GnuTLS's decoder), the DER
 * handed to GnuTLS only when pki/der.c reads it as exactly one SEQUENCE,
 * and every string it returns (read by cert.c's shared readers) is checked
 * for embedded NULs. Failures on such input are the caller's fault, so
 * they are logged at debug level only.
 */
#include "pki/pki.h"
#include "pki/der.h"
#include "pki/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Far above any real CSR (a few KiB) and above the API's 64 KiB body cap. */
#define CSR_MAX_INPUT (1024 * 1024)
/* Bounds what pki_csr_create() passes to GnuTLS as unsigned lengths. */
#define CSR_MAX_STRING 65536

#define PEM_LABEL "CERTIFICATE REQUEST"

void
pki_subject_clear(struct pki_subject *s)
{
	if (!s)
		return;
	free(s->common_name);
	free(s->organization);
	free(s->organizational_unit);
	free(s->locality);
	free(s->state);
	free(s->country);
	memset(s, 0, sizeof(*s));
}

void
pki_csr_info_free(struct pki_csr_info *info)
{
	if (!info)
		return;
	pki_subject_clear(&info->subject);
	if (info->san) {
		for (size_t i = 0; i < info->san_count; i++)
			free(info->san[i]);
		free(info->san);
	}
	free(info->key_algorithm);
	free(info->sig_algorithm);
	free(info->pem);
	free(info);
}

/*
 * Hex SHA-256 of the DER SubjectPublicKeyInfo of crq's key into hex (65
 * bytes). ERR_INVALID when GnuTLS cannot represent the key, ERR_NOMEM,
 * ERR_CRYPTO.
 */
static int
csr_spki_sha256(gnutls_x509_crq_t crq, char *hex)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	int ret;

	ret = gnutls_pubkey_init(&pub);
	if (ret < 0) {
		log_error("pki: pubkey_init: %s", gnutls_strerror(ret));
		return pki_err_from_gnutls(ret);
	}
	ret = gnutls_pubkey_import_x509_crq(pub, crq, 0);
	if (ret < 0) {
		log_debug("pki: pubkey_import_x509_crq: %s",
		          gnutls_strerror(ret));
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
		goto cleanup;
	}
	ret = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
	if (ret < 0) {
		log_debug("pki: pubkey_export2: %s", gnutls_strerror(ret));
		spki.data = NULL;
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
		goto cleanup;
	}
	ret = pki_sha256_hex(spki.data, spki.size, hex);
cleanup:
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(pub);
	return ret;
}

/* ---- create ----------------------------------------------------------- */

static bool
str_in_list_ci(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

static bool
str_fits(const char *s)
{
	return strlen(s) <= CSR_MAX_STRING;
}

static int
csr_add_san(gnutls_x509_crq_t crq, const char *name, bool first)
{
	int ret;

	ret = gnutls_x509_crq_set_subject_alt_name(
	    crq, GNUTLS_SAN_DNSNAME, name, (unsigned)strlen(name),
	    first ? GNUTLS_FSAN_SET : GNUTLS_FSAN_APPEND);
	if (ret < 0) {
		log_error("pki: crq_set_subject_alt_name: %s",
		          gnutls_strerror(ret));
		return ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
	}
	return 0;
}

int
pki_csr_create(const struct pki_secret *key, const struct pki_subject *subj,
               const char *const *san, size_t nsan, char **pem_out,
               char *spki_sha256)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_privkey_t pkey = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t der = { NULL, 0 };
	char hex[PKI_SHA256_HEX_LEN + 1];
	char *pem = NULL;
	bool first = true;
	int ret;

	if (!key || !key->data || key->len == 0 || key->len > UINT_MAX ||
	    !subj || util_str_empty(subj->common_name) || (nsan > 0 && !san) ||
	    !pem_out || !spki_sha256)
		return ERR_INVALID;

	/* Subject in the order C, ST, L, O, OU, CN (most general first). */
	const char *const dn[][2] = {
		{ GNUTLS_OID_X520_COUNTRY_NAME, subj->country },
		{ GNUTLS_OID_X520_STATE_OR_PROVINCE_NAME, subj->state },
		{ GNUTLS_OID_X520_LOCALITY_NAME, subj->locality },
		{ GNUTLS_OID_X520_ORGANIZATION_NAME, subj->organization },
		{ GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
		  subj->organizational_unit },
		{ GNUTLS_OID_X520_COMMON_NAME, subj->common_name },
	};

	for (size_t i = 0; i < sizeof(dn) / sizeof(dn[0]); i++) {
		if (dn[i][1] && !str_fits(dn[i][1]))
			return ERR_INVALID;
	}
	for (size_t i = 0; i < nsan; i++) {
		if (util_str_empty(san[i]) || !str_fits(san[i]))
			return ERR_INVALID;
	}

	ret = pki_xkey_import(key, &xkey);
	if (ret < 0) {
		xkey = NULL;
		goto cleanup;
	}
	ret = gnutls_privkey_init(&pkey);
	if (ret < 0) {
		log_error("pki: privkey_init: %s", gnutls_strerror(ret));
		pkey = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_privkey_import_x509(pkey, xkey, 0);
	if (ret < 0) {
		log_error("pki: privkey_import_x509: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}

	ret = gnutls_x509_crq_init(&crq);
	if (ret < 0) {
		log_error("pki: crq_init: %s", gnutls_strerror(ret));
		crq = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof(dn) / sizeof(dn[0]); i++) {
		if (util_str_empty(dn[i][1]))
			continue;
		ret = gnutls_x509_crq_set_dn_by_oid(crq, dn[i][0], 0, dn[i][1],
		                                    (unsigned)strlen(dn[i][1]));
		if (ret < 0) {
			log_error("pki: crq_set_dn_by_oid %s: %s", dn[i][0],
			          gnutls_strerror(ret));
			ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM
			                                   : ERR_INVALID;
			goto cleanup;
		}
	}
	ret = gnutls_x509_crq_set_version(crq, 1);
	if (ret < 0) {
		log_error("pki: crq_set_version: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = gnutls_x509_crq_set_key(crq, xkey);
	if (ret < 0) {
		log_error("pki: crq_set_key: %s", gnutls_strerror(ret));
		ret = ret == GNUTLS_E_MEMORY_ERROR ? ERR_NOMEM : ERR_INVALID;
		goto cleanup;
	}

	/* CAs copy the CN into the SANs anyway; doing it here keeps the CSR
	 * and the certificate we get back in agreement. */
	if (!str_in_list_ci(subj->common_name, san, nsan)) {
		ret = csr_add_san(crq, subj->common_name, first);
		if (ret < 0)
			goto cleanup;
		first = false;
	}
	for (size_t i = 0; i < nsan; i++) {
		ret = csr_add_san(crq, san[i], first);
		if (ret < 0)
			goto cleanup;
		first = false;
	}

	ret = gnutls_x509_crq_privkey_sign(crq, pkey, GNUTLS_DIG_SHA256, 0);
	if (ret < 0) {
		log_error("pki: crq_privkey_sign: %s", gnutls_strerror(ret));
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	/* GnuTLS's own PEM says "NEW CERTIFICATE REQUEST": encode it here. */
	ret = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der);
	if (ret < 0) {
		log_error("pki: crq_export2: %s", gnutls_strerror(ret));
		der.data = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	ret = pki_pem_encode(PEM_LABEL, der.data, der.size, &pem);
	if (ret < 0)
		goto cleanup;
	ret = csr_spki_sha256(crq, hex);
	if (ret < 0) {
		ret = ret == ERR_INVALID ? ERR_CRYPTO : ret;
		goto cleanup;
	}

	memcpy(spki_sha256, hex, sizeof(hex));
	*pem_out = pem;
	pem = NULL;
	ret = 0;
cleanup:
	free(pem);
	gnutls_free(der.data);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	if (pkey)
		gnutls_privkey_deinit(pkey);
	if (xkey)
		gnutls_x509_privkey_deinit(xkey);
	return ret;
}

/* ---- parse ------------------------------------------------------------ */

struct pem_marker {
	const char *begin;
	const char *end;
};

static const struct pem_marker csr_markers[] = {
	{ "-----BEGIN " PEM_LABEL "-----", "-----END " PEM_LABEL "-----" },
	{ "-----BEGIN NEW " PEM_LABEL "-----",
	  "-----END NEW " PEM_LABEL "-----" },
};

/*
 * Finds the first CSR PEM block of in[0..len) and sets [*body, *body_end)
 * to the text between its BEGIN and END lines. NULL or a static reason.
 */
static const char *
pem_find_block(const char *in, size_t len, const char **body,
               const char **body_end)
{
	const struct pem_marker *m = NULL;
	const char *start = NULL;
	const char *b, *e;

	for (size_t i = 0; i < sizeof(csr_markers) / sizeof(csr_markers[0]);
	     i++) {
		const char *p = (const char *)pki_find_bytes(
		    (const unsigned char *)in, len, csr_markers[i].begin);
		if (p && (!start || p < start)) {
			start = p;
			m = &csr_markers[i];
		}
	}
	if (!start)
		return "no CERTIFICATE REQUEST PEM block found";
	b = start + strlen(m->begin);
	e = (const char *)pki_find_bytes((const unsigned char *)b,
	                                 (size_t)(in + len - b), m->end);
	if (!e)
		return "CERTIFICATE REQUEST PEM block has no matching END line";
	*body = b;
	*body_end = e;
	return NULL;
}

/* gnutls_x509_crq_get_dn_by_oid() as a pki_dn_getter. */
static int
crq_dn_by_oid(void *obj, const char *oid, unsigned idx, void *buf, size_t *size)
{
	return gnutls_x509_crq_get_dn_by_oid((gnutls_x509_crq_t)obj, oid, idx,
	                                     0, buf, size);
}

static int
csr_get_subject(gnutls_x509_crq_t crq, struct pki_subject *subj,
                const char **why)
{
	struct {
		const char *oid;
		char **dst;
	} fields[] = {
		{ GNUTLS_OID_X520_COMMON_NAME, &subj->common_name },
		{ GNUTLS_OID_X520_ORGANIZATION_NAME, &subj->organization },
		{ GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
		  &subj->organizational_unit },
		{ GNUTLS_OID_X520_LOCALITY_NAME, &subj->locality },
		{ GNUTLS_OID_X520_STATE_OR_PROVINCE_NAME, &subj->state },
		{ GNUTLS_OID_X520_COUNTRY_NAME, &subj->country },
	};
	int ret;

	/* The first value of each; an absent one stays NULL. */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		ret = pki_dn_value(crq_dn_by_oid, crq, fields[i].oid, 0,
		                   PKI_OBJ_CSR, fields[i].dst, why);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The dNSName SANs, in order; other SAN types are skipped. */
static int
csr_get_sans(gnutls_x509_crq_t crq, char ***out, size_t *out_count,
             const char **why)
{
	gnutls_datum_t ext = { NULL, 0 };
	unsigned critical = 0;
	int ret;

	ret = gnutls_x509_crq_get_extension_by_oid2(crq, GNUTLS_X509EXT_OID_SAN,
	                                            0, &ext, &critical);
	return pki_san_dns_names(ret, &ext, PKI_OBJ_CSR, out, out_count, why);
}

static int
csr_fill_info(gnutls_x509_crq_t crq, const gnutls_datum_t *der,
              struct pki_csr_info *info, const char **why)
{
	const char *sig_name;
	unsigned bits = 0;
	int pk, sig, ret;

	ret = csr_get_subject(crq, &info->subject, why);
	if (ret < 0)
		return ret;
	ret = csr_get_sans(crq, &info->san, &info->san_count, why);
	if (ret < 0)
		return ret;

	pk = gnutls_x509_crq_get_pk_algorithm(crq, &bits);
	if (pk <= 0) {
		*why = "CSR public key algorithm is not supported";
		return ERR_INVALID;
	}
	info->key_algorithm = strdup(pki_pk_name(pk));
	info->key_bits = bits;

	sig = gnutls_x509_crq_get_signature_algorithm(crq);
	sig_name =
	    sig > 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
	info->sig_algorithm = strdup(sig_name ? sig_name : "unknown");
	if (!info->key_algorithm || !info->sig_algorithm)
		return ERR_NOMEM;

	/* The bytes we verified, re-armoured: re-encoding could change them. */
	ret = pki_pem_encode(PEM_LABEL, der->data, der->size, &info->pem);
	if (ret < 0)
		return ret;
	ret = csr_spki_sha256(crq, info->spki_sha256);
	if (ret == ERR_INVALID)
		*why = "CSR public key algorithm is not supported";
	return ret;
}

int
pki_csr_parse(const char *pem, size_t len, struct pki_csr_info **out,
              const char **why)
{
	gnutls_x509_crq_t crq = NULL;
	struct pki_csr_info *info = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	const char *body, *body_end;
	const char *reason = NULL;
	struct der_tlv tlv;
	gnutls_datum_t d;
	int ret;

	if (!pem || !out) {
		reason = "no input";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (len > CSR_MAX_INPUT) {
		reason = "CSR input is too large";
		ret = ERR_INVALID;
		goto cleanup;
	}
	if (memchr(pem, 0, len)) {
		reason = "CSR input contains a NUL byte";
		ret = ERR_INVALID;
		goto cleanup;
	}
	reason = pem_find_block(pem, len, &body, &body_end);
	if (reason) {
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = pki_base64_decode((const unsigned char *)body,
	                        (size_t)(body_end - body), &der, &der_len);
	if (ret < 0) {
		if (ret == ERR_INVALID)
			reason = "CSR PEM body is not valid base64";
		goto cleanup;
	}
	if (pki_der_one(der, der_len, DER_SEQUENCE, 0, &tlv) < 0 ||
	    der_len > UINT_MAX) {
		reason = "CSR is not valid DER";
		ret = ERR_INVALID;
		goto cleanup;
	}

	ret = gnutls_x509_crq_init(&crq);
	if (ret < 0) {
		log_error("pki: crq_init: %s", gnutls_strerror(ret));
		crq = NULL;
		ret = pki_err_from_gnutls(ret);
		goto cleanup;
	}
	d.data = der;
	d.size = (unsigned)der_len;
	ret = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER);
	if (ret < 0) {
		log_debug("pki: crq_import: %s", gnutls_strerror(ret));
		if (ret == GNUTLS_E_MEMORY_ERROR) {
			ret = ERR_NOMEM;
		} else {
			reason = "CSR is not valid DER";
			ret = ERR_INVALID;
		}
		goto cleanup;
	}
	/* GnuTLS imports an empty SEQUENCE: make sure there is a key. */
	ret = gnutls_x509_crq_get_pk_algorithm(crq, NULL);
	if (ret <= 0) {
		log_debug("pki: crq_get_pk_algorithm: %s",
		          ret < 0 ? gnutls_strerror(ret) : "unknown");
		reason = ret < 0 ? "CSR is not valid DER"
		                 : "CSR public key algorithm is not supported";
		ret = ERR_INVALID;
		goto cleanup;
	}
	ret = gnutls_x509_crq_verify(crq, 0);
	if (ret < 0) {
		log_debug("pki: crq_verify: %s", gnutls_strerror(ret));
		if (ret == GNUTLS_E_MEMORY_ERROR) {
			ret = ERR_NOMEM;
		} else {
			reason = "CSR signature does not verify";
			ret = ERR_INVALID;
		}
		goto cleanup;
	}

	info = calloc(1, sizeof(*info));
	if (!info) {
		ret = ERR_NOMEM;
		goto cleanup;
	}
	ret = csr_fill_info(crq, &d, info, &reason);
	if (ret < 0)
		goto cleanup;
	*out = info;
	info = NULL;
	ret = 0;
cleanup:
	if (ret == ERR_INVALID && why)
		*why = reason ? reason : "CSR is invalid";
	pki_csr_info_free(info);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	free(der);
	return ret;
}
