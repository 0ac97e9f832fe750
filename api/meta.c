/*
 * meta.c: the routes that are not about orders: health, the OpenAPI
 * document and the dashboard's static files.
 */
#include "api/internal.h"

#include "common/embedded.h"
#include "common/err.h"
#include "common/log.h"
#include "db/db.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define WEB_FILE_MAX (4u << 20)

/*
 * Below this many bytes free on the disk of the state directory, the
 * store is taken as full: a write may need a few pages of WAL.
 */
#define STORE_LOW_FREE (64ull << 10)

/*
 * Bytes the process may still write on the disk of dir (root may use
 * the blocks reserved for it). false when it cannot be told.
 */
static bool
free_bytes(const char *dir, unsigned long long *out)
{
	struct statvfs sv;

	if (!dir || statvfs(dir, &sv) != 0)
		return false;
	*out = (unsigned long long)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) *
	       (unsigned long long)sv.f_frsize;
	return true;
}

void
api_store_full_mark(struct api_server *srv)
{
	unsigned long long avail = 0;

	free_bytes(srv->cfg.state_dir, &avail);
	pthread_mutex_lock(&srv->lock);
	if (!srv->store_full)
		log_error("store: the disk holding %s is full (%llu bytes "
		          "free): writes fail until space is freed",
		          srv->cfg.state_dir ? srv->cfg.state_dir : "the state",
		          avail);
	srv->store_full = true;
	srv->full_free = avail;
	pthread_mutex_unlock(&srv->lock);
}

/*
 * Whether the store can write: not when the disk has less than
 * STORE_LOW_FREE bytes free, nor after a write met a full disk until
 * STORE_LOW_FREE more than then is free.
 */
static bool
store_writable(struct api_server *srv)
{
	unsigned long long avail = 0;
	bool known = free_bytes(srv->cfg.state_dir, &avail), ok;

	pthread_mutex_lock(&srv->lock);
	if (srv->store_full && known &&
	    avail >= srv->full_free + STORE_LOW_FREE) {
		srv->store_full = false;
		log_info("store: %llu bytes free again on the disk holding "
		         "the state; writes may resume",
		         avail);
	}
	ok = !srv->store_full && (!known || avail >= STORE_LOW_FREE);
	pthread_mutex_unlock(&srv->lock);
	return ok;
}

/*
 * GET /healthz: 200 {"status":"ok"} when the database answers and its
 * disk has room; 503 unavailable when the database does not answer,
 * 503 storage_full when the disk holding the state directory is full.
 * No token needed.
 */
enum MHD_Result
api_healthz(struct api_request *req)
{
	int version = 0;

	if (db_schema_version(req->srv->cfg.db, &version) < 0)
		return api_reply_problem(
		    req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
		    "the database does not answer", NULL, NULL);
	if (!store_writable(req->srv))
		return api_reply_problem(
		    req, MHD_HTTP_SERVICE_UNAVAILABLE, "storage_full",
		    "the disk holding the state directory is full: the "
		    "store cannot write until space is freed there",
		    NULL, NULL);
	return api_reply_json(req, MHD_HTTP_OK,
	                      json_pack("{s:s, s:s, s:i}", "status", "ok",
	                                "version", AMTCERTD_VERSION,
	                                "schema_version", version));
}

/* GET /openapi.yaml: the repository's openapi.yaml, built in. 200. */
enum MHD_Result
api_openapi(struct api_request *req)
{
	return api_reply(req, MHD_HTTP_OK, "application/yaml", embedded_openapi,
	                 embedded_openapi_len);
}

static const char *
media_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

/* Reads web_dir/name (name is a checked plain file name). */
static int
read_web_file(const char *dir, const char *name, unsigned char **out,
              size_t *len)
{
	char path[4096];
	struct stat st;
	unsigned char *buf;
	ssize_t got;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return ERR_NOT_FOUND;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ERR_NOT_FOUND;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)WEB_FILE_MAX) {
		close(fd);
		return ERR_NOT_FOUND;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return ERR_NOMEM;
	}
	got = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (got != (ssize_t)st.st_size) {
		free(buf);
		return ERR_IO;
	}
	*out = buf;
	*len = (size_t)got;
	return 0;
}

/*
 * GET / and GET /<file>: the dashboard, embedded at build time or read
 * from --web-dir. 200, 404.
 */
enum MHD_Result
api_web(struct api_request *req)
{
	const char *path =
	    strcmp(req->url, "/") == 0 ? "/index.html" : req->url;
	enum MHD_Result res;

	if (req->srv->cfg.web_dir) {
		unsigned char *buf = NULL;
		size_t len = 0;
		int ret =
		    read_web_file(req->srv->cfg.web_dir, path + 1, &buf, &len);

		if (ret == ERR_NOT_FOUND)
			return api_reply_problem(
			    req, MHD_HTTP_NOT_FOUND, "not_found",
			    "no such resource", NULL, NULL);
		if (ret < 0)
			return api_reply_internal(req, ret);
		res = api_reply(req, MHD_HTTP_OK, media_type(path), buf, len);
		free(buf);
		return res;
	}
	for (const struct embedded_file *f = embedded_web; f->path; f++) {
		if (strcmp(f->path, path) == 0)
			return api_reply(req, MHD_HTTP_OK, media_type(path),
			                 f->data, f->len);
	}
	return api_reply_problem(req, MHD_HTTP_NOT_FOUND, "not_found",
	                         "no such resource", NULL, NULL);
}

/*
 * GET /api/v1/order-states: the order state machine, so that clients (the
 * dashboard first) never keep a copy of it. 200; 401.
 */
enum MHD_Result
api_order_states(struct api_request *req)
{
	size_t n;
	const struct order_transition *t = order_transitions(&n);
	json_t *states = json_array(), *moves = json_array();

	for (int s = 0; states && s < ORDER_STATE_COUNT; s++) {
		enum order_state st = (enum order_state)s;

		json_array_append_new(
		    states,
		    json_pack("{s:s, s:b, s:o, s:b, s:b, s:b, s:s, s:s, s:i}",
		              "name", order_state_name(st), "terminal",
		              order_state_is_terminal(st), "next",
		              api_allowed_transitions(st), "takes_uploads",
		              order_state_takes_uploads(st), "exports_key",
		              order_state_exports_key(st), "renewable",
		              order_state_is_renewable(st), "group",
		              order_group_name(order_state_group(st)),
		              "next_action", order_state_next_action(st),
		              "priority", (int)order_state_priority(st)));
	}
	for (size_t i = 0; moves && i < n; i++)
		json_array_append_new(
		    moves, json_pack("{s:s, s:s, s:s}", "from",
		                     order_state_name(t[i].from), "to",
		                     order_state_name(t[i].to), "trigger",
		                     order_trigger_name(t[i].trigger)));
	return api_reply_json(
	    req, MHD_HTTP_OK,
	    json_pack("{s:o, s:o}", "states", states, "transitions", moves));
}
