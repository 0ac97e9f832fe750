/*
 * server.c: the libmicrohttpd glue. One thread per connection (so a
 * request waiting for key generation holds only its own thread), request
 * bodies capped per route (Content-Length and chunked alike), an access log
 * line per request, and a graceful stop that lets in-flight requests
 * finish.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bytes of an over-cap chunked body read and dropped before giving up. */
#define DISCARD_LIMIT (16u << 20)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
request_free(struct api_request *req)
{
	if (!req)
		return;
	/* bodies carry PFX files and passwords: wipe them all */
	if (req->body)
		util_wipe(req->body, req->body_len);
	free(req->body);
	free(req->param_buf);
	free(req->token_id);
	free(req->actor);
	for (size_t i = 0; i < req->nhdr; i++) {
		free(req->hdr_name[i]);
		free(req->hdr_value[i]);
	}
	free(req);
}

static enum MHD_Result
reply_too_large(struct api_request *req)
{
	char detail[128];

	req->too_large = true;
	snprintf(detail, sizeof(detail),
	         "request body is larger than the limit of %zu bytes",
	         req->body_cap);
	return api_reply_problem(req, MHD_HTTP_CONTENT_TOO_LARGE,
	                         "body_too_large", detail, NULL, NULL);
}

static struct api_request *
request_new(struct api_server *srv, struct MHD_Connection *conn,
            const char *url, const char *method)
{
	struct api_request *req = calloc(1, sizeof(*req));
	unsigned char raw[6];

	if (!req)
		return NULL;
	req->srv = srv;
	req->conn = conn;
	req->url = url;
	req->method = method;
	req->started_ms = now_ms();
	if (util_random(raw, sizeof(raw)) < 0)
		memset(raw, 0, sizeof(raw));
	memcpy(req->id, "r-", 2);
	util_hex(raw, sizeof(raw), req->id + 2);
	req->body_cap = api_route_body_cap(srv, method, url);
	pthread_mutex_lock(&srv->lock);
	srv->in_flight++;
	pthread_mutex_unlock(&srv->lock);
	return req;
}

/* Appends upload data, or reports that the cap was passed. */
static bool
body_append(struct api_request *req, const char *data, size_t n)
{
	char *nb;

	if (n > req->body_cap - req->body_len)
		return false;
	nb = realloc(req->body, req->body_len + n + 1);
	if (!nb)
		return false;
	memcpy(nb + req->body_len, data, n);
	req->body = nb;
	req->body_len += n;
	req->body[req->body_len] = '\0';
	return true;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_request *req = *con_cls;

	(void)version;
	if (!req) {
		const char *cl;

		req = request_new(srv, conn, url, method);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		log_set_request_id(req->id);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 "Content-Length");
		if (cl && req->body_cap > 0) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno || *end || end == cl || v > req->body_cap)
				return reply_too_large(req);
		}
		return MHD_YES;
	}
	log_set_request_id(req->id);
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (req->replied || req->body_cap == 0)
			return MHD_YES; /* discard what we will not read */
		if (req->too_large || !body_append(req, upload_data, n)) {
			/*
			 * libmicrohttpd 0.9.75 cannot queue a reply while a
			 * chunked body is still arriving: drop the rest and
			 * answer 413 at its end, but close the connection on
			 * a client that keeps sending far past the cap.
			 */
			req->too_large = true;
			req->discarded += n;
			if (req->discarded > DISCARD_LIMIT)
				return MHD_NO;
		}
		return MHD_YES;
	}
	if (req->replied)
		return MHD_YES;
	if (req->too_large)
		return reply_too_large(req);
	return api_route_dispatch(req);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct api_server *srv = cls;
	struct api_request *req = *con_cls;

	(void)conn;
	if (!req)
		return;
	log_set_request_id(req->id);
	log_info("http: %s %s %u %lldms%s", req->method, req->url, req->status,
	         (long long)(now_ms() - req->started_ms),
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
	                                                    : " (aborted)");
	log_set_request_id(NULL);
	request_free(req);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->lock);
	if (--srv->in_flight == 0)
		pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_warn("mhd: %s", msg);
}

/* Binds and listens on host:port; returns the fd and the bound port. */
static int
listen_on(const char *host, uint16_t port, int *fd_out, uint16_t *bound)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[8];
	int fd = -1, one = 1, gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		log_error("server: cannot resolve %s: %s", host,
		          gai_strerror(gai));
		return ERR_IO;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_error("server: cannot listen on %s:%u: %s", host,
		          (unsigned)port, strerror(errno));
		return ERR_IO;
	}
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
			close(fd);
			return ERR_IO;
		}
		if (ss.ss_family == AF_INET)
			*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else
			*bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	*fd_out = fd;
	return 0;
}

int
api_server_start(const struct api_config *cfg, const char *host, uint16_t port,
                 struct api_server **out, uint16_t *bound_port)
{
	struct api_server *srv;
	uint16_t bound = 0;
	int fd = -1, ret;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ERR_NOMEM;
	srv->cfg = *cfg;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->idle, NULL);
	ret = listen_on(host, port, &fd, &bound);
	if (ret < 0)
		goto fail;
	srv->listen_fd = fd;
	srv->core = (struct core){
		.db = cfg->db,
		.master_key = cfg->master_key,
		.slow = cfg->slow,
		.renewal_days = cfg->renewal_days,
		.render_report = api_report_render,
	};
	core_system_roots_load(&srv->core, cfg->system_roots);
	srv->mhd = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	        MHD_USE_ITC | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv,
	    /* first, so that every MHD message goes to our log */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_END);
	if (!srv->mhd) {
		log_error("server: MHD_start_daemon failed");
		close(fd);
		core_system_roots_free(&srv->core);
		ret = ERR_IO;
		goto fail;
	}
	*out = srv;
	*bound_port = bound;
	return 0;
fail:
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return ret;
}

void
api_server_stop(struct api_server *srv, unsigned grace_ms)
{
	struct timespec deadline;
	MHD_socket lfd;

	if (!srv)
		return;
	lfd = MHD_quiesce_daemon(srv->mhd);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += grace_ms / 1000;
	deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&srv->lock);
	while (srv->in_flight > 0) {
		if (pthread_cond_timedwait(&srv->idle, &srv->lock, &deadline) ==
		    ETIMEDOUT) {
			log_warn("server: %u request(s) still running at "
			         "shutdown",
			         srv->in_flight);
			break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	MHD_stop_daemon(srv->mhd);
	core_system_roots_free(&srv->core);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
