/*
 * http.c: building responses (JSON, problem+json, common headers) and
 * reading requests (headers, media types, JSON bodies, query strings).
 */
#include "api/internal.h"
#include "api/jsontext.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSP_API "default-src 'none'; frame-ancestors 'none'"
#define CSP_HTML                                                      \
	"default-src 'none'; script-src 'self'; style-src 'self'; "   \
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; " \
	"manifest-src 'self'; base-uri 'none'; form-action 'self'; "  \
	"frame-ancestors 'none'"

void
api_add_header(struct api_request *req, const char *name, const char *value)
{
	size_t n = req->nhdr;

	if (n >= sizeof(req->hdr_name) / sizeof(req->hdr_name[0])) {
		log_warn("api: too many response headers, dropped %s", name);
		return;
	}
	req->hdr_name[n] = strdup(name);
	req->hdr_value[n] = strdup(value);
	if (!req->hdr_name[n] || !req->hdr_value[n]) {
		free(req->hdr_name[n]);
		free(req->hdr_value[n]);
		return;
	}
	req->nhdr++;
}

enum MHD_Result
api_reply(struct api_request *req, unsigned status, const char *content_type,
          const void *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	bool html = content_type && strncmp(content_type, "text/html", 9) == 0;

	resp = MHD_create_response_from_buffer(len, (void *)body,
	                                       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        html ? CSP_HTML : CSP_API);
	if (strncmp(req->url, "/api/", 5) == 0)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	for (size_t i = 0; i < req->nhdr; i++)
		MHD_add_response_header(resp, req->hdr_name[i],
		                        req->hdr_value[i]);
	ret = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	req->status = status;
	req->replied = true;
	return ret;
}

enum MHD_Result
api_reply_json(struct api_request *req, unsigned status, json_t *j)
{
	char *text;
	size_t len = 0;
	enum MHD_Result ret;

	if (!j)
		return api_reply_internal(req, ERR_NOMEM);
	/* json_dumps' text in one pass, or json_dumps where it gives up */
	text = jtext_dump(j, &len);
	json_decref(j);
	if (!text)
		return api_reply_internal(req, ERR_NOMEM);
	ret = api_reply(req, status, "application/json", text, len);
	free(text);
	return ret;
}

const char *
api_status_title(unsigned status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 421:
		return "Misdirected Request";
	case 422:
		return "Unprocessable Content";
	case 428:
		return "Precondition Required";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return "Internal Server Error";
	}
}

char *
api_problem_text(struct api_request *req, unsigned status, const char *code,
                 const char *detail, const char *field, json_t *extra)
{
	json_t *j;
	char *text;
	char type[128];

	snprintf(type, sizeof(type), "https://amtcertd.invalid/problems/%s",
	         code);
	j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title",
	              api_status_title(status), "status", (int)status, "code",
	              code, "detail", detail, "request_id", req->id);
	if (j && field)
		json_object_set_new(j, "field", json_string(field));
	if (j && extra)
		json_object_update(j, extra);
	json_decref(extra);
	text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	return text;
}

enum MHD_Result
api_reply_problem(struct api_request *req, unsigned status, const char *code,
                  const char *detail, const char *field, json_t *extra)
{
	char *text;
	enum MHD_Result ret;

	text = api_problem_text(req, status, code, detail, field, extra);
	if (!text)
		return MHD_NO;
	if (status >= 400 && status < 500)
		log_info("api: %u %s: %s%s%s", status, code, detail,
		         field ? " field=" : "", field ? field : "");
	ret = api_reply(req, status, "application/problem+json", text,
	                strlen(text));
	free(text);
	return ret;
}

enum MHD_Result
api_reply_internal(struct api_request *req, int err)
{
	if (err == ERR_FULL) {
		api_store_full_mark(req->srv);
		return api_reply_problem(
		    req, MHD_HTTP_INSUFFICIENT_STORAGE, "storage_full",
		    "the disk holding the state directory is full; nothing "
		    "was changed. Free space there and retry",
		    NULL, NULL);
	}
	log_error("api: internal error: %s", err_str(err));
	return api_reply_problem(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
	                         "internal",
	                         "the server failed; see its log for this "
	                         "request id",
	                         NULL, NULL);
}

enum MHD_Result
api_reply_order_not_found(struct api_request *req)
{
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "order_not_found",
	                         "there is no order with this id", "id", NULL);
}

void
api_json_wipe_string(json_t *v)
{
	/* jansson keeps its own copy of a string: overwrite it in place */
	if (json_is_string(v))
		util_wipe((char *)(uintptr_t)json_string_value(v),
		          json_string_length(v));
}

json_t *
api_allowed_transitions(enum order_state s)
{
	size_t n;
	const struct order_transition *t = order_transitions(&n);
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (t[i].from == s)
			json_array_append_new(
			    a, json_string(order_state_name(t[i].to)));
	}
	return a;
}

struct core_actor
api_actor(const struct api_request *req)
{
	struct core_actor a = { req->actor ? req->actor : "anonymous" };

	return a;
}

enum MHD_Result
api_reply_refusal(struct api_request *req, int err,
                  const struct core_problem *pb)
{
	json_t *extra = NULL;
	unsigned status;

	switch (err) {
	case ERR_NOT_FOUND:
		status = MHD_HTTP_NOT_FOUND;
		break;
	case ERR_CONFLICT:
		status = MHD_HTTP_CONFLICT;
		break;
	case ERR_PRECONDITION:
		status = MHD_HTTP_PRECONDITION_FAILED;
		break;
	case ERR_INVALID:
	case ERR_PASSWORD:
		status = MHD_HTTP_UNPROCESSABLE_CONTENT;
		break;
	case ERR_BUSY:
		api_add_header(req, "Retry-After", "5");
		return api_reply_problem(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		                         "busy",
		                         "too much slow work (keys, PFX files) "
		                         "is running; retry in a few seconds",
		                         NULL, NULL);
	default:
		return api_reply_internal(req, err);
	}
	if (!pb || !pb->code)
		return api_reply_internal(req, err);
	if (pb->has_state) {
		extra =
		    json_pack("{s:s}", "state", order_state_name(pb->state));
		if (extra && pb->has_requested) {
			json_object_set_new(
			    extra, "requested",
			    json_string(order_state_name(pb->requested)));
			json_object_set_new(extra, "allowed_transitions",
			                    api_allowed_transitions(pb->state));
		}
	}
	return api_reply_problem(req, status, pb->code, pb->detail, pb->field,
	                         extra);
}

/* Whether a host name ends in ":PORT" ("[v6]:PORT" or "name:PORT"). */
static bool
host_has_port(const char *h)
{
	const char *rb = h[0] == '[' ? strchr(h, ']') : NULL;

	return rb ? rb[1] == ':' : strchr(h, ':') != NULL;
}

bool
api_host_allowed(const struct api_server *srv, const char *host)
{
	if (!host)
		return true;
	for (size_t i = 0; i < srv->nhosts; i++) {
		const char *h = srv->hosts[i];
		size_t n = strlen(h);

		if (strncasecmp(host, h, n) != 0)
			continue;
		if (host[n] == '\0')
			return true;
		/* a name the admin added without a port: any port */
		if (i >= srv->nlisten_hosts && host[n] == ':' && host[n + 1] &&
		    !host_has_port(h) &&
		    strspn(host + n + 1, "0123456789") == strlen(host + n + 1))
			return true;
	}
	return false;
}

const char *
api_header(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool
api_content_type_is(struct api_request *req, const char *const *types)
{
	const char *ct = api_header(req, "Content-Type");
	size_t n;

	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; types[i]; i++) {
		if (strlen(types[i]) == n && strncasecmp(ct, types[i], n) == 0)
			return true;
	}
	return false;
}

json_t *
api_body_json(struct api_request *req, const char *const *types,
              bool allow_empty, enum MHD_Result *result)
{
	json_t *j;
	json_error_t jerr;
	char detail[256];

	if (allow_empty && req->body_len == 0)
		return json_object();
	if (!api_content_type_is(req, types)) {
		snprintf(detail, sizeof(detail),
		         "send the body as %s (Content-Type header)", types[0]);
		*result = api_reply_problem(
		    req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", detail, NULL, NULL);
		return NULL;
	}
	j = json_loadb(req->body ? req->body : "", req->body_len,
	               JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(detail, sizeof(detail),
		         "body is not valid JSON: %s (line %d, column %d)",
		         jerr.text, jerr.line, jerr.column);
		*result = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                            "invalid_json", detail, NULL, NULL);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*result =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST, "invalid_json",
		                      "body must be a JSON object", NULL, NULL);
		return NULL;
	}
	return j;
}

bool
api_json_only_keys(struct api_request *req, json_t *obj,
                   const char *const *allowed, const char *prefix,
                   enum MHD_Result *result)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		char field[128], detail[192];

		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (ok)
			continue;
		snprintf(field, sizeof(field), "%s%.64s", prefix, key);
		snprintf(detail, sizeof(detail), "unknown field \"%s\"", field);
		*result =
		    api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
		                      "unknown_field", detail, field, NULL);
		return false;
	}
	return true;
}

struct query_check {
	const char *const *allowed;
	const char *bad;
};

static enum MHD_Result
query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
           const char *value)
{
	struct query_check *qc = cls;

	(void)kind;
	(void)value;
	for (size_t i = 0; qc->allowed[i]; i++) {
		if (strcmp(key, qc->allowed[i]) == 0)
			return MHD_YES;
	}
	qc->bad = key;
	return MHD_NO;
}

bool
api_query_only(struct api_request *req, const char *const *allowed,
               enum MHD_Result *result)
{
	struct query_check qc = { .allowed = allowed, .bad = NULL };
	char detail[160];

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_iter,
	                          &qc);
	if (!qc.bad)
		return true;
	snprintf(detail, sizeof(detail), "unknown query parameter \"%.64s\"",
	         qc.bad);
	*result = api_reply_problem(req, MHD_HTTP_BAD_REQUEST,
	                            "unknown_parameter", detail, qc.bad, NULL);
	return false;
}
