/*
 * material.c: request bodies that carry what a CA delivered. A raw body
 * (any media type but JSON and url-encoded forms: the content decides), or
 * multipart/form-data with one or more files and an optional "password".
 */
#include "api/internal.h"
#include "api/jsontext.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_MAX 256

static const struct pki_intake_limits intake_limits_base = {
	.max_total = 64u << 20,
	.max_entries = 256,
	.max_ratio = 200,
	.max_depth = 2,
	.max_certs = 64,
};

void
api_material_clear(struct api_material *m)
{
	/* a delivery may hold a private key (PKCS#12, PEM): wipe it */
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i].name);
		free(m->files[i].media_type);
		if (m->files[i].data)
			util_wipe(m->files[i].data, m->files[i].len);
		free(m->files[i].data);
	}
	if (m->password) {
		memset(m->password, 0, strlen(m->password));
		free(m->password);
	}
	free(m->form_at);
	free(m->form_suffix);
	for (size_t i = 0; i < m->ncerts; i++)
		pki_cert_free(m->certs[i]);
	free(m->certs);
	pki_bundle_clear(&m->bundle);
	json_decref(m->notes);
	memset(m, 0, sizeof(*m));
}

/* State of the multipart iterator. */
struct parts {
	struct api_material *m;
	char *key;      /* current part */
	char *filename; /* current part */
	bool is_file;
	size_t field_len;
	char **field; /* the current field's destination, or NULL */
	const char *error;
};

static bool
same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static char **
field_slot(struct api_material *m, const char *key)
{
	if (strcmp(key, "password") == 0)
		return &m->password;
	if (strcmp(key, "at") == 0)
		return &m->form_at;
	if (strcmp(key, "dns_suffix") == 0)
		return &m->form_suffix;
	return NULL;
}

static enum MHD_Result
part_iter(void *cls, enum MHD_ValueKind kind, const char *key,
          const char *filename, const char *content_type,
          const char *transfer_encoding, const char *data, uint64_t off,
          size_t size)
{
	struct parts *p = cls;
	struct api_material *m = p->m;

	(void)kind;
	(void)transfer_encoding;
	if (!key)
		return MHD_YES;
	/* A new part starts at offset 0 or with another key/filename. */
	if (off == 0 || !same(key, p->key) || !same(filename, p->filename)) {
		free(p->key);
		free(p->filename);
		p->key = strdup(key);
		p->filename = filename ? strdup(filename) : NULL;
		p->field = filename ? NULL : field_slot(m, key);
		p->is_file = filename || !p->field;
		p->field_len = 0;
		if (p->is_file) {
			struct api_file *f;

			if (m->nfiles >= API_MAX_FILES) {
				p->error = "at most 16 files per upload";
				return MHD_NO;
			}
			f = &m->files[m->nfiles++];
			f->name = filename ? strdup(filename) : strdup(key);
			f->media_type =
			    content_type ? strdup(content_type) : NULL;
		} else if (*p->field) {
			p->error = "a form field is given twice";
			return MHD_NO;
		}
	}
	if (p->is_file) {
		struct api_file *f = &m->files[m->nfiles - 1];
		unsigned char *nd = realloc(f->data, f->len + size + 1);

		if (!nd) {
			p->error = "out of memory";
			return MHD_NO;
		}
		memcpy(nd + f->len, data, size);
		f->data = nd;
		f->len += size;
		return MHD_YES;
	}
	if (p->field_len + size > FIELD_MAX) {
		p->error = "a form field is longer than 256 bytes";
		return MHD_NO;
	}
	{
		char *nv = realloc(*p->field, p->field_len + size + 1);

		if (!nv) {
			p->error = "out of memory";
			return MHD_NO;
		}
		memcpy(nv + p->field_len, data, size);
		p->field_len += size;
		nv[p->field_len] = '\0';
		*p->field = nv;
	}
	return MHD_YES;
}

static bool
read_multipart(struct api_request *req, struct api_material *m,
               enum MHD_Result *res)
{
	struct parts p = { .m = m };
	struct MHD_PostProcessor *pp;
	enum MHD_Result ok;

	pp = MHD_create_post_processor(req->conn, 64 * 1024, part_iter, &p);
	if (!pp) {
		*res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_multipart",
		    "the multipart body has no boundary", NULL, NULL);
		return false;
	}
	ok = MHD_post_process(pp, req->body, req->body_len);
	if (MHD_destroy_post_processor(pp) != MHD_YES && ok == MHD_YES &&
	    !p.error)
		p.error = "the multipart body ends before its last boundary";
	free(p.key);
	free(p.filename);
	if (ok != MHD_YES || p.error) {
		char detail[160];

		snprintf(detail, sizeof(detail), "multipart body: %s",
		         p.error ? p.error : "malformed");
		*res =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                      "invalid_multipart", detail, NULL, NULL);
		return false;
	}
	return true;
}

static bool
read_raw(struct api_request *req, struct api_material *m)
{
	const char *pw = api_header(req, "X-PKCS12-Password");
	const char *name = api_header(req, "X-Filename");
	const char *ct = api_header(req, "Content-Type");
	struct api_file *f = &m->files[0];

	f->data = malloc(req->body_len + 1);
	if (!f->data)
		return false;
	memcpy(f->data, req->body, req->body_len);
	f->len = req->body_len;
	f->name = strdup(name && strlen(name) < FIELD_MAX ? name : "upload");
	f->media_type = ct ? strdup(ct) : NULL;
	m->nfiles = 1;
	if (pw && strlen(pw) <= FIELD_MAX)
		m->password = strdup(pw);
	return f->name != NULL;
}

static enum MHD_Result
intake_problem(struct api_request *req, int ret, const char *file,
               const char *why)
{
	char detail[512];

	snprintf(detail, sizeof(detail), "%.128s: %s", file,
	         why ? why : err_str(ret));
	if (ret == ERR_PASSWORD)
		return api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "pkcs12_password", detail, "password",
		                         NULL);
	if (ret == ERR_TOO_LARGE)
		return api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "upload_limits", detail, NULL, NULL);
	if (ret == ERR_INVALID)
		return api_reply_problem(req, MHD_HTTP_UNPROCESSABLE_CONTENT,
		                         "unreadable_upload", detail, NULL,
		                         NULL);
	return api_reply_internal(req, ret);
}

bool
api_material_read(struct api_request *req, struct api_material *m,
                  bool need_certs, enum MHD_Result *res)
{
	static const char *const multipart[] = { "multipart/form-data", NULL };
	static const char *const refused[] = {
		"application/json", "application/x-www-form-urlencoded", NULL
	};
	struct pki_intake_limits lim = intake_limits_base;

	memset(m, 0, sizeof(*m));
	pki_bundle_init(&m->bundle);
	m->notes = json_array();
	if (req->body_len == 0) {
		*res =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST, "empty_upload",
		                      "the body is empty: send the CA's "
		                      "files (zip, PEM, DER, p7b, PFX)",
		                      NULL, NULL);
		return false;
	}
	if (api_content_type_is(req, refused)) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type",
		    "send the files as the raw body (any file media type) "
		    "or as multipart/form-data",
		    NULL, NULL);
		return false;
	}
	if (api_content_type_is(req, multipart)) {
		if (!read_multipart(req, m, res))
			return false;
	} else if (!read_raw(req, m)) {
		*res = api_reply_internal(req, ERR_NOMEM);
		return false;
	}
	if (m->nfiles == 0) {
		*res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "empty_upload",
		    "the multipart body holds no file", NULL, NULL);
		return false;
	}
	if (m->password && !*m->password) { /* an empty field: none given */
		free(m->password);
		m->password = NULL;
	}
	lim.max_input = req->body_cap;
	for (size_t i = 0; i < m->nfiles; i++) {
		const char *why = NULL;
		int ret;

		if (m->files[i].len == 0)
			continue;
		ret = pki_intake_add(&m->bundle, m->files[i].data,
		                     m->files[i].len, m->files[i].name,
		                     m->password, &lim, &why);
		if (ret < 0) {
			*res = intake_problem(req, ret, m->files[i].name, why);
			return false;
		}
	}
	for (size_t i = 0; i < m->bundle.note_count; i++)
		json_array_append_new(
		    m->notes,
		    json_pack("{s:s, s:s}", "source", m->bundle.notes[i].source,
		              "message", m->bundle.notes[i].message));
	m->certs =
	    calloc(m->bundle.count ? m->bundle.count : 1, sizeof(*m->certs));
	if (!m->certs) {
		*res = api_reply_internal(req, ERR_NOMEM);
		return false;
	}
	for (size_t i = 0; i < m->bundle.count; i++) {
		struct pki_found_cert *f = &m->bundle.certs[i];
		const char *why = NULL;
		struct pki_cert *c = f->cert; /* the intake parsed it */

		f->cert = NULL;
		/* else parsed again, for the reason it is unreadable */
		if (!c && pki_cert_parse(f->der, f->der_len, &c, &why) < 0) {
			json_array_append_new(
			    m->notes,
			    json_pack("{s:s, s:s+}", "source", f->source,
			              "message", "unreadable certificate: ",
			              why ? why : "invalid"));
			continue;
		}
		m->certs[m->ncerts++] = c;
	}
	if (need_certs && m->ncerts == 0) {
		*res = api_reply_problem(
		    req, MHD_HTTP_UNPROCESSABLE_CONTENT, "no_certificates",
		    "no certificate found in the upload", NULL,
		    json_pack("{s:O}", "notes", m->notes));
		return false;
	}
	return true;
}

bool
api_cert_text(struct jtext *t, const struct pki_cert *c)
{
	char nb[32], na[32];
	size_t mark = t->len;
	bool ok = true;

	util_time_format(c->not_before, nb, sizeof(nb));
	util_time_format(c->not_after, na, sizeof(na));
	JTEXT_MEMBER(t, "{\"subject\":", c->subject, &ok);
	JTEXT_MEMBER(t, ",\"issuer\":", c->issuer, &ok);
	if (c->common_name)
		JTEXT_MEMBER(t, ",\"common_name\":", c->common_name, &ok);
	else
		JTEXT_LIT(t, ",\"common_name\":null");
	JTEXT_MEMBER(t, ",\"serial\":", c->serial, &ok);
	JTEXT_MEMBER(t, ",\"not_before\":", nb, &ok);
	JTEXT_MEMBER(t, ",\"not_after\":", na, &ok);
	JTEXT_MEMBER(t, ",\"key\":{\"algorithm\":", c->key_algorithm, &ok);
	JTEXT_LIT(t, ",\"bits\":");
	jtext_int(t, (int)c->key_bits);
	JTEXT_MEMBER(t, "},\"signature_algorithm\":", c->sig_algorithm, &ok);
	JTEXT_MEMBER(t, ",\"sha1\":", c->sha1, &ok);
	JTEXT_MEMBER(t, ",\"sha256\":", c->sha256, &ok);
	JTEXT_MEMBER(t, ",\"sha384\":", c->sha384, &ok);
	JTEXT_MEMBER(t, ",\"public_key_sha256\":", c->spki_sha256, &ok);
	JTEXT_LIT(t, ",\"is_ca\":");
	jtext_bool(t, c->is_ca);
	JTEXT_LIT(t, ",\"self_signed\":");
	jtext_bool(t, c->self_signed);
	JTEXT_LIT(t, ",\"dns_names\":[");
	for (size_t i = 0; i < c->dns_count; i++) {
		size_t at = t->len;

		if (i && at > 0 && t->p[at - 1] != '[')
			JTEXT_LIT(t, ",");
		/* json_array_append_new dropped a name json_string refused */
		if (!jtext_str_strict(t, c->dns_names[i]))
			jtext_truncate(t, at);
	}
	JTEXT_LIT(t, "]");
	if (ok && !t->failed)
		return true;
	jtext_truncate(t, mark);
	return false;
}

json_t *
api_cert_json(const struct pki_cert *c)
{
	struct jtext t = { 0 };
	json_t *o = NULL;

	if (api_cert_text(&t, c)) {
		JTEXT_LIT(&t, "}");
		if (!t.failed)
			o = json_loadb(t.p, t.len, 0, NULL);
	}
	jtext_free(&t);
	return o;
}
