/*
 * auth.c: bearer tokens (only their SHA-256 is stored) and the one-time
 * dashboard login code printed at start.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "pki/pki.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TOKEN_MAX_LEN 256

static enum MHD_Result
reply_unauthorized(struct api_request *req, const char *detail)
{
	api_add_header(req, "WWW-Authenticate", "Bearer realm=\"amtcertd\"");
	return api_reply_problem(req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
	                         detail, NULL, NULL);
}

bool
api_auth_check(struct api_request *req, enum MHD_Result *result)
{
	const char *h = api_header(req, "Authorization");
	char hash[PKI_SHA256_HEX_LEN + 1];
	struct db_token *tok = NULL;
	size_t n;
	int ret;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		*result = reply_unauthorized(
		    req, "send an API token as \"Authorization: Bearer "
		         "<token>\"");
		return false;
	}
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	if (n == 0 || n > TOKEN_MAX_LEN || pki_sha256_hex(h, n, hash) < 0) {
		*result = reply_unauthorized(req, "the token is not valid");
		return false;
	}
	ret = db_token_lookup(req->srv->cfg.db, hash, util_now(), &tok);
	if (ret == ERR_NOT_FOUND) {
		*result = reply_unauthorized(
		    req, "the token is not valid or was revoked");
		return false;
	}
	if (ret < 0) {
		*result = api_reply_internal(req, ret);
		return false;
	}
	req->token_id = strdup(tok->id);
	req->actor = malloc(strlen(tok->name) + 7);
	if (req->actor)
		snprintf(req->actor, strlen(tok->name) + 7, "token:%s",
		         tok->name);
	db_token_free(tok);
	if (!req->token_id || !req->actor) {
		*result = api_reply_internal(req, ERR_NOMEM);
		return false;
	}
	return true;
}

int
api_server_set_login_code(struct api_server *srv, const char *code)
{
	char hash[PKI_SHA256_HEX_LEN + 1];
	int ret = pki_sha256_hex(code, strlen(code), hash);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&srv->lock);
	memcpy(srv->login_hash, hash, sizeof(hash));
	srv->login_armed = true;
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

/*
 * Whether hash is that of the code `amtcertd login-link` left in the state
 * directory, unexpired; the file is removed when it is (one time only) or
 * has expired. Holds srv->lock.
 */
static bool
login_file_take_locked(struct api_server *srv, const char *hash)
{
	char path[1100], text[128], fhash[PKI_SHA256_HEX_LEN + 1];
	long long expiry = 0;
	ssize_t n;
	int fd, w;
	bool ok;

	if (!srv->cfg.state_dir)
		return false;
	w = snprintf(path, sizeof(path), "%s/%s", srv->cfg.state_dir,
	             API_LOGIN_CODE_FILE);
	if (w < 0 || (size_t)w >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	if (sscanf(text, "%64[0-9a-f] %lld", fhash, &expiry) != 2)
		return false;
	ok = strcmp(fhash, hash) == 0 && util_now() <= expiry;
	if (ok || util_now() > expiry)
		unlink(path);
	return ok;
}

/*
 * POST /api/v1/login {"code": "..."}: exchanges the one-time code printed
 * at start, or one minted by `amtcertd login-link`, for a new API token
 * named "dashboard-<time>".
 * 201 token; 400 invalid_json/unknown_field; 401 bad or used code;
 * 415; 413.
 */
enum MHD_Result
api_login(struct api_request *req)
{
	static const char *const types[] = { "application/json", NULL };
	static const char *const keys[] = { "code", NULL };
	enum MHD_Result res;
	json_t *body = NULL, *code;
	char hash[PKI_SHA256_HEX_LEN + 1];
	struct core_token tok;
	bool ok;
	int ret;

	body = api_body_json(req, types, false, &res);
	if (!body)
		return res;
	if (!api_json_only_keys(req, body, keys, "", &res))
		goto done;
	code = json_object_get(body, "code");
	if (!json_is_string(code) || json_string_length(code) == 0 ||
	    json_string_length(code) > TOKEN_MAX_LEN) {
		res = api_reply_problem(
		    req, MHD_HTTP_BAD_REQUEST, "invalid_type",
		    "code must be a non-empty string", "code", NULL);
		goto done;
	}
	if (pki_sha256_hex(json_string_value(code), json_string_length(code),
	                   hash) < 0) {
		res = api_reply_internal(req, ERR_CRYPTO);
		goto done;
	}
	pthread_mutex_lock(&req->srv->lock);
	ok = req->srv->login_armed && strcmp(hash, req->srv->login_hash) == 0;
	if (ok)
		req->srv->login_armed = false; /* one time only */
	else
		ok = login_file_take_locked(req->srv, hash);
	pthread_mutex_unlock(&req->srv->lock);
	if (!ok) {
		res = reply_unauthorized(req, "the login code is wrong, "
		                              "expired or was used already; "
		                              "run amtcertd login-link for a "
		                              "new one");
		goto done;
	}
	ret = core_token_issue(&req->srv->core, NULL, true, &tok);
	if (ret < 0) {
		res = api_reply_internal(req, ret);
		goto done;
	}
	log_info("auth: login code exchanged for token %s", tok.id);
	res = api_reply_json(req, MHD_HTTP_CREATED,
	                     json_pack("{s:s, s:s, s:s}", "id", tok.id, "name",
	                               tok.name, "token", tok.token));
	core_token_wipe(&tok);
done:
	json_decref(body);
	return res;
}
