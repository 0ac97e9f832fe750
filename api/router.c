/*
 * router.c: the routing table is data. A pattern is a path whose "{name}"
 * segments match one segment of [A-Za-z0-9_-]; 404 and 405 are told apart.
 * openapi.yaml lists exactly these routes (tests/api checks it).
 */
#include "api/internal.h"

#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum route_auth {
	ROUTE_PUBLIC = 0,
	ROUTE_TOKEN = 1,
};

enum route_body {
	BODY_NONE = 0,   /* a body is read and dropped */
	BODY_JSON = 1,   /* capped by max_json_body */
	BODY_UPLOAD = 2, /* CA material, capped by max_upload_body */
};

struct route {
	const char *method;
	const char *pattern;
	api_handler_fn *handler;
	enum route_auth auth;
	enum route_body body;
};

static const struct route routes[] = {
	{ "GET", "/healthz", api_healthz, ROUTE_PUBLIC, BODY_NONE },
	{ "GET", "/openapi.yaml", api_openapi, ROUTE_PUBLIC, BODY_NONE },
	{ "POST", "/api/v1/login", api_login, ROUTE_PUBLIC, BODY_JSON },
	{ "GET", "/api/v1/order-states", api_order_states, ROUTE_TOKEN,
	  BODY_NONE },
	{ "POST", "/api/v1/orders", api_orders_create, ROUTE_TOKEN, BODY_JSON },
	{ "GET", "/api/v1/orders", api_orders_list, ROUTE_TOKEN, BODY_NONE },
	{ "GET", "/api/v1/orders/summary", api_orders_summary, ROUTE_TOKEN,
	  BODY_NONE },
	{ "GET", "/api/v1/orders/{id}", api_orders_get, ROUTE_TOKEN,
	  BODY_NONE },
	{ "PATCH", "/api/v1/orders/{id}", api_orders_patch, ROUTE_TOKEN,
	  BODY_JSON },
	{ "POST", "/api/v1/orders/{id}/cancel", api_orders_cancel, ROUTE_TOKEN,
	  BODY_JSON },
	{ "GET", "/api/v1/orders/{id}/csr", api_orders_csr, ROUTE_TOKEN,
	  BODY_NONE },
	{ "GET", "/api/v1/orders/{id}/events", api_orders_events, ROUTE_TOKEN,
	  BODY_NONE },
	{ "POST", "/api/v1/orders/{id}/uploads", api_orders_upload, ROUTE_TOKEN,
	  BODY_UPLOAD },
	{ "GET", "/api/v1/orders/{id}/certificates", api_orders_certificates,
	  ROUTE_TOKEN, BODY_NONE },
	{ "DELETE", "/api/v1/orders/{id}/certificates/{sha256}",
	  api_orders_cert_detach, ROUTE_TOKEN, BODY_NONE },
	{ "POST", "/api/v1/orders/{id}/verify", api_orders_verify, ROUTE_TOKEN,
	  BODY_JSON },
	{ "GET", "/api/v1/orders/{id}/verification", api_orders_verification,
	  ROUTE_TOKEN, BODY_NONE },
	{ "POST", "/api/v1/orders/{id}/exports", api_orders_export, ROUTE_TOKEN,
	  BODY_JSON },
	{ "POST", "/api/v1/orders/{id}/submitted", api_orders_submitted,
	  ROUTE_TOKEN, BODY_JSON },
	{ "POST", "/api/v1/orders/{id}/deployed", api_orders_deployed,
	  ROUTE_TOKEN, BODY_JSON },
	{ "POST", "/api/v1/orders/{id}/revoked", api_orders_revoked,
	  ROUTE_TOKEN, BODY_JSON },
	{ "POST", "/api/v1/orders/{id}/renew", api_orders_renew, ROUTE_TOKEN,
	  BODY_JSON },
	{ "POST", "/api/v1/jobs/expiry-check", api_jobs_expiry, ROUTE_TOKEN,
	  BODY_JSON },
	{ "POST", "/api/v1/inspect", api_inspect, ROUTE_TOKEN, BODY_UPLOAD },
	{ "GET", "/api/v1/ca-certificates", api_ca_list, ROUTE_TOKEN,
	  BODY_NONE },
	{ "POST", "/api/v1/ca-certificates", api_ca_add, ROUTE_TOKEN,
	  BODY_UPLOAD },
	{ "DELETE", "/api/v1/ca-certificates/{sha256}", api_ca_delete,
	  ROUTE_TOKEN, BODY_NONE },
	{ "GET", "/api/v1/amt/trusted-roots", api_roots_list, ROUTE_TOKEN,
	  BODY_NONE },
	{ "POST", "/api/v1/amt/trusted-roots", api_roots_add, ROUTE_TOKEN,
	  BODY_JSON },
	{ "POST", "/api/v1/amt/trusted-roots/device-list", api_roots_device,
	  ROUTE_TOKEN, BODY_JSON },
	{ "PATCH", "/api/v1/amt/trusted-roots/{id}", api_roots_patch,
	  ROUTE_TOKEN, BODY_JSON },
	{ "DELETE", "/api/v1/amt/trusted-roots/{id}", api_roots_delete,
	  ROUTE_TOKEN, BODY_NONE },
};

static bool
segment_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * Matches url against pattern. On a match, when params is not NULL, copies
 * the parameter segments into buf (size >= strlen(url)+1) and points
 * params at them.
 */
static bool
match(const char *pattern, const char *url, const char **params, char *buf)
{
	const char *p = pattern, *u = url;
	size_t np = 0;

	while (*p && *u) {
		if (*p == '{') {
			const char *start = u;
			while (*u && *u != '/') {
				if (!segment_char_ok(*u))
					return false;
				u++;
			}
			if (u == start || u - start > 64 ||
			    np >= API_MAX_PARAMS)
				return false;
			if (params) {
				size_t n = (size_t)(u - start);
				memcpy(buf, start, n);
				buf[n] = '\0';
				params[np] = buf;
				buf += n + 1;
			}
			np++;
			p = strchr(p, '}');
			if (!p)
				return false;
			p++;
			continue;
		}
		if (*p != *u)
			return false;
		p++;
		u++;
	}
	return *p == '\0' && *u == '\0';
}

/* Web files: "/" and "/<name>" with a plain file name, GET only. */
static bool
is_web_path(const char *url)
{
	if (strcmp(url, "/") == 0)
		return true;
	if (url[0] != '/' || strchr(url + 1, '/') || url[1] == '.')
		return false;
	if (strncmp(url, "/api", 4) == 0)
		return false;
	for (const char *c = url + 1; *c; c++) {
		if (!segment_char_ok(*c) && *c != '.')
			return false;
	}
	return true;
}

static const struct route *
find(const char *method, const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].method, method) == 0 &&
		    match(routes[i].pattern, url, NULL, NULL))
			return &routes[i];
	}
	return NULL;
}

size_t
api_route_body_cap(const struct api_server *srv, const char *method,
                   const char *url)
{
	const struct route *r = find(method, url);

	if (!r)
		return 0;
	if (r->body == BODY_UPLOAD)
		return srv->cfg.max_upload_body;
	return r->body == BODY_JSON ? srv->cfg.max_json_body : 0;
}

enum MHD_Result
api_route_dispatch(struct api_request *req)
{
	const struct route *r = find(req->method, req->url);
	enum MHD_Result res;
	char allow[64] = "";
	size_t used = 0;
	bool held;

	if (r) {
		req->param_buf = malloc(strlen(req->url) + 1);
		if (!req->param_buf)
			return api_reply_internal(req, -1);
		match(r->pattern, req->url, req->params, req->param_buf);
		if (r->auth != ROUTE_TOKEN)
			return r->handler(req);
		/* a read: its token check and its answer in one transaction */
		held = (strcmp(req->method, "GET") == 0 ||
		        strcmp(req->method, "HEAD") == 0) &&
		       db_read_begin(req->srv->cfg.db) == 0;
		if (api_auth_check(req, &res))
			res = r->handler(req);
		if (held)
			db_read_end(req->srv->cfg.db);
		return res;
	}
	if (is_web_path(req->url)) {
		if (strcmp(req->method, "GET") == 0 ||
		    strcmp(req->method, "HEAD") == 0)
			return api_web(req);
		used = (size_t)snprintf(allow, sizeof(allow), "GET, HEAD");
	} else {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]);
		     i++) {
			if (!match(routes[i].pattern, req->url, NULL, NULL))
				continue;
			int n =
			    snprintf(allow + used, sizeof(allow) - used, "%s%s",
			             used ? ", " : "", routes[i].method);
			if (n > 0 && (size_t)n < sizeof(allow) - used)
				used += (size_t)n;
		}
	}
	if (allow[0]) {
		json_t *extra = json_pack("{s:s}", "allow", allow);
		char detail[128];

		snprintf(detail, sizeof(detail),
		         "%s is not allowed here; use %s", req->method, allow);
		api_add_header(req, "Allow", allow);
		return api_reply_problem(req, MHD_HTTP_METHOD_NOT_ALLOWED,
		                         "method_not_allowed", detail, NULL,
		                         extra);
	}
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "not_found",
	                         "no such resource", NULL, NULL);
}
