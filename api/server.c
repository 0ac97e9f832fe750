/*
 * server.c: the libmicrohttpd glue. A few event-loop threads on epoll
 * (--threads) serve every connection; they never wait for slow work.
 * GET and HEAD requests (reads), and inspections of a few PEM
 * certificates (see inspect_runs_inline()), are answered on them. Every
 * other request may block (key generation and PKCS#12 on the worker
 * queue, PFX files read on upload, the database writer and its fsync), so
 * its connection is suspended and the request runs on a bounded pool of
 * handler threads, which queues the answer and resumes the connection.
 *
 * Connections that do not send a complete request head within
 * --header-timeout seconds (from connecting, or from their previous
 * answer), or a request's whole body within --body-timeout seconds of its
 * head, are shut down by a watchdog: slow, idle or trickling clients
 * cannot hold connection slots for long. Once traffic stops, the watchdog
 * also hands the memory a burst left free back to the system.
 *
 * A request whose Host header is not one of this daemon's names is
 * answered 421 (DNS rebinding: a page on evil.example that re-points its
 * name at 127.0.0.1 still sends "Host: evil.example"). Request bodies are
 * capped per route (Content-Length and chunked alike), an access log line
 * is written per request, and a graceful stop lets in-flight requests
 * finish.
 */
#include "api/internal.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Bytes of an over-cap chunked body read and dropped (after its 413 was
 * sent) before the connection is closed anyway.
 */
#define DISCARD_LIMIT (16u << 20)

/* Milliseconds without an answer after which the watchdog trims memory. */
#define QUIET_MS 2000

/* Seconds a connection may sit idle while a request is under way. */
#define IDLE_TIMEOUT_S 30

/* Pending connections the kernel keeps before we accept them. */
#define LISTEN_BACKLOG 1024

/* Requests that wait for a handler thread before we answer 503. */
#define HANDLER_QUEUE 256

/* One accepted connection, from accept to close. */
struct api_conn {
	struct api_conn *prev, *next; /* in *on, when on a list */
	int64_t deadline_ms;          /* for its request head or body */
	MHD_socket fd;
	struct api_conn_list *on; /* srv->heads, srv->bodies or NULL */
};

/*
 * The server's view of a request: what the handlers see (req, first) and
 * what the hand-over to a handler thread needs.
 */
struct srv_request {
	struct api_request req;
	bool offloaded;         /* ran on a handler thread */
	enum MHD_Result result; /* what the handler returned there */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The srv_request req is the first member of. */
static struct srv_request *
srv_request_of(struct api_request *req)
{
	return (struct srv_request *)(void *)req;
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
	free(srv_request_of(req));
}

/* Writes all of buf to a non-blocking socket that has room: false if not. */
static bool
send_all_now(MHD_socket fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * 413 for a chunked body that passed its cap while it arrives.
 * libmicrohttpd 0.9.75 queues a response only before the body or after
 * all of it (MHD_queue_response refuses one in between), so the answer is
 * written on the socket here, by the event-loop thread that owns the
 * connection and has sent nothing yet (a 100 Continue is complete). It
 * says "Connection: close"; the caller then reads and drops the rest of
 * the body (at most DISCARD_LIMIT bytes, within the body deadline) so that
 * closing does not reset the connection under the client's feet and lose
 * the answer. false when it could not be written: close at once.
 */
static bool
reply_too_large_now(struct api_request *req)
{
	struct api_conn *c = NULL;
	char detail[128], head[512];
	char *body;
	int hn;
	bool ok;

	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    req->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		c = ci ? ci->socket_context : NULL;
	}
	if (!c)
		return false;
	snprintf(detail, sizeof(detail),
	         "request body is larger than the limit of %zu bytes",
	         req->body_cap);
	body = api_problem_text(req, MHD_HTTP_CONTENT_TOO_LARGE,
	                        "body_too_large", detail, NULL, NULL);
	if (!body)
		return false;
	hn = snprintf(head, sizeof(head),
	              "HTTP/1.1 413 %s\r\n"
	              "Connection: close\r\n"
	              "Content-Type: application/problem+json\r\n"
	              "Content-Length: %zu\r\n"
	              "X-Content-Type-Options: nosniff\r\n"
	              "Referrer-Policy: no-referrer\r\n"
	              "X-Frame-Options: DENY\r\n"
	              "Content-Security-Policy: default-src 'none'; "
	              "frame-ancestors 'none'\r\n"
	              "Cache-Control: no-store\r\n"
	              "X-Request-Id: %s\r\n\r\n",
	              api_status_title(MHD_HTTP_CONTENT_TOO_LARGE),
	              strlen(body), req->id);
	ok = hn > 0 && (size_t)hn < sizeof(head) &&
	     send_all_now(c->fd, head, (size_t)hn) &&
	     send_all_now(c->fd, body, strlen(body));
	free(body);
	log_info("api: 413 body_too_large: %s", detail);
	req->status = MHD_HTTP_CONTENT_TOO_LARGE;
	req->replied = true;
	req->early_reply = true;
	return ok;
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

/*
 * A request id: 48 random bits from a per-thread generator (splitmix64)
 * seeded once from the system, so that a request costs no system call
 * for it. Ids name log lines; they are not secrets.
 */
static void
request_id_bytes(unsigned char raw[6])
{
	static _Thread_local uint64_t state;
	static _Thread_local bool seeded;
	uint64_t z;

	if (!seeded) {
		if (util_random(&state, sizeof(state)) < 0)
			state =
			    (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)&state;
		seeded = true;
	}
	state += 0x9e3779b97f4a7c15ull;
	z = state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(z >> (8 * i));
}

static struct api_request *
request_new(struct api_server *srv, struct MHD_Connection *conn,
            const char *url, const char *method)
{
	struct srv_request *sr = calloc(1, sizeof(*sr));
	struct api_request *req = sr ? &sr->req : NULL;
	unsigned char raw[6];

	if (!req)
		return NULL;
	req->srv = srv;
	req->conn = conn;
	req->url = url;
	req->method = method;
	req->started_ms = now_ms();
	request_id_bytes(raw);
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

/* ---- the request-head and body deadlines ----------------------------- */

/*
 * Appends c to list l with a deadline timeout_s from now. Holds
 * conn_lock. Each list is sorted: its deadlines are all now + the same
 * timeout. The watchdog is woken when it sleeps past the new deadline
 * (the two timeouts differ).
 */
static void
conn_wait_locked(struct api_server *srv, struct api_conn *c,
                 struct api_conn_list *l, unsigned timeout_s)
{
	c->deadline_ms = now_ms() + (int64_t)timeout_s * 1000;
	c->on = l;
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	if (c->deadline_ms < srv->watchdog_until_ms) {
		srv->watchdog_until_ms = c->deadline_ms;
		pthread_cond_signal(&srv->conn_wake);
	}
}

/* Takes c off its list, if it is on one. Holds conn_lock. */
static void
conn_unwait_locked(struct api_conn *c)
{
	struct api_conn_list *l = c->on;

	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->on = NULL;
}

static struct api_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* What a connection owes next, for its deadline. */
enum conn_owes {
	OWES_NOTHING, /* a request runs: no deadline */
	OWES_HEAD,    /* an answer was sent: the next head is due */
	OWES_BODY,    /* a head arrived: the rest of its body is due */
};

static void
conn_set_owes(struct api_server *srv, struct MHD_Connection *conn,
              enum conn_owes owes)
{
	struct api_conn *c = conn_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&srv->conn_lock);
	conn_unwait_locked(c);
	if (owes == OWES_BODY)
		conn_wait_locked(srv, c, &srv->bodies, srv->cfg.body_timeout);
	if (owes == OWES_HEAD) {
		conn_wait_locked(srv, c, &srv->heads, srv->cfg.header_timeout);
		srv->last_answer_ms = now_ms();
		if (!srv->trim_due) {
			/* the first answer after a quiet spell: once */
			srv->trim_due = true;
			pthread_cond_signal(&srv->conn_wake);
		}
	}
	pthread_mutex_unlock(&srv->conn_lock);
}

/* libmicrohttpd: a connection was accepted, or is about to be closed. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *srv = cls;
	struct api_conn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		/* without one, only the idle timeout applies to it */
		c = calloc(1, sizeof(*c));
		if (!c || !ci) {
			free(c);
			return;
		}
		c->fd = ci->connect_fd;
		*socket_context = c;
		pthread_mutex_lock(&srv->conn_lock);
		conn_wait_locked(srv, c, &srv->heads, srv->cfg.header_timeout);
		pthread_mutex_unlock(&srv->conn_lock);
		return;
	}
	if (!c)
		return;
	/* before libmicrohttpd closes the socket: the watchdog lets go of it */
	pthread_mutex_lock(&srv->conn_lock);
	conn_unwait_locked(c);
	pthread_mutex_unlock(&srv->conn_lock);
	*socket_context = NULL;
	free(c);
}

/*
 * Hands the memory that a burst of requests left free in the allocator's
 * per-thread arenas back to the system, so that the daemon's size returns
 * to about what it was before the burst.
 */
static void
memory_trim(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Shuts down the connections of l whose deadline passed. Holds conn_lock. */
static unsigned
conn_expire_locked(struct api_conn_list *l, int64_t now)
{
	unsigned closed = 0;

	while (l->head && l->head->deadline_ms <= now) {
		struct api_conn *c = l->head;

		conn_unwait_locked(c);
		shutdown(c->fd, SHUT_RDWR);
		closed++;
	}
	return closed;
}

/*
 * Shuts down every connection whose request head or body is overdue. The
 * socket stays libmicrohttpd's: shutdown() makes its next read see the
 * end, and it closes the connection as if the client had. A connection is
 * on a list only between its accept and the close notification, which
 * takes the same lock, so the descriptor is never one reused by another
 * connection.
 */
static void *
watchdog_main(void *arg)
{
	struct api_server *srv = arg;
	unsigned shortest = srv->cfg.header_timeout < srv->cfg.body_timeout
	                        ? srv->cfg.header_timeout
	                        : srv->cfg.body_timeout;

	pthread_mutex_lock(&srv->conn_lock);
	while (!srv->watchdog_stop) {
		int64_t now = now_ms(), wait;
		unsigned heads = conn_expire_locked(&srv->heads, now);
		unsigned bodies = conn_expire_locked(&srv->bodies, now);
		struct timespec until;

		if (heads || bodies) {
			pthread_mutex_unlock(&srv->conn_lock);
			if (heads)
				log_info("server: closed %u connection(s) that "
				         "sent no request within %us",
				         heads, srv->cfg.header_timeout);
			if (bodies)
				log_info(
				    "server: closed %u connection(s) whose "
				    "request body did not arrive within "
				    "%us",
				    bodies, srv->cfg.body_timeout);
			pthread_mutex_lock(&srv->conn_lock);
			continue; /* the lists may have changed meanwhile */
		}
		if (srv->trim_due && now >= srv->last_answer_ms + QUIET_MS) {
			srv->trim_due = false;
			pthread_mutex_unlock(&srv->conn_lock);
			memory_trim();
			pthread_mutex_lock(&srv->conn_lock);
			continue;
		}
		wait = (int64_t)shortest * 1000;
		if (srv->heads.head &&
		    srv->heads.head->deadline_ms - now < wait)
			wait = srv->heads.head->deadline_ms - now;
		if (srv->bodies.head &&
		    srv->bodies.head->deadline_ms - now < wait)
			wait = srv->bodies.head->deadline_ms - now;
		if (srv->trim_due &&
		    srv->last_answer_ms + QUIET_MS - now < wait)
			wait = srv->last_answer_ms + QUIET_MS - now;
		srv->watchdog_until_ms = now + wait;
		/* conn_wake runs on CLOCK_MONOTONIC, like now_ms() */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(wait / 1000);
		until.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->conn_wake, &srv->conn_lock,
		                       &until);
	}
	pthread_mutex_unlock(&srv->conn_lock);
	return NULL;
}

/* ---- requests ----------------------------------------------------------- */

/*
 * Reads (GET, HEAD) never wait on anything slow: they are answered on the
 * event-loop thread. Everything else may.
 */
static bool
runs_inline(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/*
 * POST /api/v1/inspect of a few PEM certificates is answered on the event
 * loop too. Handing a request to a handler thread costs two thread
 * wake-ups and a suspend and resume of its connection (a quarter of an
 * inspection's CPU was the kernel switching threads), and an inspection
 * of a chain is a read: nothing is stored, it waits on no lock a writer
 * holds (the token is checked on a reader connection, the CA pool is the
 * shared in-memory snapshot). What must not happen is slow work stalling
 * the other connections of this event loop, so the work must be bounded
 * before it starts, by what the body is, not by its declared size alone:
 *
 *  - the whole body is in and at most INLINE_INSPECT_MAX_BODY bytes
 *    (counted, so a chunked body is held to it too);
 *  - it is not a form and has no PKCS#12 password header: no PFX key
 *    derivation (whose iteration count the uploader chooses), no zip;
 *  - pki_intake_is_cheap(): PEM of at most INLINE_INSPECT_MAX_CERTS
 *    CERTIFICATE blocks and nothing else, each within the DER bounds of
 *    pki/der.h, each key RSA of at most 4,096 bits with an exponent of at
 *    most 64 bits, a named EC curve or EdDSA.
 *
 * So the intake parses at most 8 certificates of at most 12 KiB of DER in
 * all, and the chain evaluation checks signatures between at most 8
 * uploaded certificates and the pool's, each check an RSA-4096 public
 * operation or less: a few milliseconds in the worst case, the cost of a
 * GET of an order's verification, which already runs here. The check
 * itself is one pass over at most 16 KiB. Everything else (a zip, a PFX,
 * a PKCS#7, a 1,000-certificate PEM, DER, a key that makes a signature
 * check slow, any text around the blocks) runs on the handler pool as
 * before, and so does every other POST.
 */
#define INLINE_INSPECT_MAX_BODY  (16 * 1024)
#define INLINE_INSPECT_MAX_CERTS 8

static bool
inspect_runs_inline(const struct api_request *req)
{
	const char *ct;

	if (strcmp(req->method, MHD_HTTP_METHOD_POST) != 0 ||
	    strcmp(req->url, "/api/v1/inspect") != 0 || !req->body ||
	    req->body_len == 0 || req->body_len > INLINE_INSPECT_MAX_BODY)
		return false;
	ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	                                 "Content-Type");
	if (ct && strncasecmp(ct, "multipart/", 10) == 0)
		return false;
	if (MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	                                "X-PKCS12-Password"))
		return false;
	return pki_intake_is_cheap((const unsigned char *)req->body,
	                           req->body_len, INLINE_INSPECT_MAX_CERTS);
}

/* A handler thread: runs the request, queues its answer, resumes. */
static void
run_offloaded(void *arg)
{
	struct srv_request *sr = arg;
	struct MHD_Connection *conn = sr->req.conn;

	log_set_request_id(sr->req.id);
	sr->result = api_route_dispatch(&sr->req);
	log_set_request_id(NULL);
	/* from here on the event loop owns sr again (and may free it) */
	MHD_resume_connection(conn);
}

/*
 * Suspends the connection and hands the request to a handler thread; a
 * suspended connection's answer may be queued from any thread. When the
 * handler queue is full: 503 with Retry-After.
 */
static enum MHD_Result
dispatch_offloaded(struct srv_request *sr)
{
	struct api_request *req = &sr->req;
	enum MHD_Result res;
	int ret;

	sr->offloaded = true;
	MHD_suspend_connection(req->conn);
	/* under the lock: api_server_stop frees the pool once it is NULL */
	pthread_mutex_lock(&req->srv->lock);
	ret = req->srv->handlers
	          ? workq_submit(req->srv->handlers, run_offloaded, sr)
	          : ERR_BUSY;
	pthread_mutex_unlock(&req->srv->lock);
	if (ret == 0)
		return MHD_YES;
	log_warn("server: %s %s refused: the handler queue is full",
	         req->method, req->url);
	sr->result = MHD_YES;
	res = api_reply_refusal(req, ERR_BUSY, NULL);
	MHD_resume_connection(req->conn);
	return res;
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
		const char *cl, *host;

		req = request_new(srv, conn, url, method);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		log_set_request_id(req->id);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 "Content-Length");
		/* a body is on its way: it is due within the body timeout */
		req->body_timed =
		    (cl && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                "Transfer-Encoding");
		conn_set_owes(srv, conn,
		              req->body_timed ? OWES_BODY : OWES_NOTHING);
		host =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
		if (!api_host_allowed(srv, host)) {
			char detail[256];

			snprintf(detail, sizeof(detail),
			         "this daemon does not answer for the host "
			         "\"%.64s\": open it by the address it listens "
			         "on, or name the host with --allow-host",
			         host);
			return api_reply_problem(
			    req, MHD_HTTP_MISDIRECTED_REQUEST, "wrong_host",
			    detail, NULL, NULL);
		}
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
		if (req->early_reply) {
			/* the 413 is out: drop the rest, then close */
			req->discarded += n;
			return req->discarded > DISCARD_LIMIT ? MHD_NO
			                                      : MHD_YES;
		}
		if (req->replied || req->body_cap == 0)
			return MHD_YES; /* discard what we will not read */
		if (req->too_large || !body_append(req, upload_data, n)) {
			req->too_large = true;
			req->discarded = n;
			return reply_too_large_now(req) ? MHD_YES : MHD_NO;
		}
		return MHD_YES;
	}
	if (req->body_timed) {
		/* the whole body is in */
		req->body_timed = false;
		conn_set_owes(srv, conn, OWES_NOTHING);
	}
	if (req->early_reply)
		return MHD_NO; /* answered already: close */
	if (req->replied)
		return MHD_YES;
	if (srv_request_of(req)->offloaded) {
		/* resumed without an answer: close, as the handler asked */
		if (srv_request_of(req)->result == MHD_NO)
			return MHD_NO;
		log_error("server: %s %s: the handler queued no answer",
		          req->method, req->url);
		return api_reply_problem(req, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                         "internal",
		                         "the server failed; see its log for "
		                         "this request id",
		                         NULL, NULL);
	}
	if (req->too_large)
		return reply_too_large(req);
	if (runs_inline(method) || inspect_runs_inline(req))
		return api_route_dispatch(req);
	return dispatch_offloaded(srv_request_of(req));
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct api_server *srv = cls;
	struct api_request *req = *con_cls;

	if (!req)
		return;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_set_owes(srv, conn, OWES_HEAD); /* the next head is due */
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
		    listen(fd, LISTEN_BACKLOG) == 0)
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

/* Handler threads: enough that slow work (bounded by the worker queue) does
 * not hold up the other writes for long. */
static unsigned
handler_threads(unsigned threads)
{
	unsigned n = threads * 4;

	return n < 16 ? 16 : n > 128 ? 128 : n;
}

/* Adds one accepted Host value (copied). */
static int
hosts_add(struct api_server *srv, const char *name, unsigned port)
{
	char buf[300];
	char **nh;
	int n = port ? snprintf(buf, sizeof(buf), "%s:%u", name, port)
	             : snprintf(buf, sizeof(buf), "%s", name);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return ERR_INVALID;
	nh = realloc(srv->hosts, (srv->nhosts + 1) * sizeof(*nh));
	if (!nh)
		return ERR_NOMEM;
	srv->hosts = nh;
	nh[srv->nhosts] = strdup(buf);
	if (!nh[srv->nhosts])
		return ERR_NOMEM;
	srv->nhosts++;
	return 0;
}

/*
 * The Host values this daemon answers: 127.0.0.1, localhost, [::1] and
 * the listen host (an IPv6 one in brackets), each with and without the
 * bound port, then the names the admin added.
 */
static int
hosts_build(struct api_server *srv, const char *listen_host, uint16_t port)
{
	const char *names[] = { "127.0.0.1", "localhost", "[::1]", NULL };
	char lh[300];
	int ret = 0;

	if (strchr(listen_host, ':'))
		snprintf(lh, sizeof(lh), "[%s]", listen_host);
	else
		snprintf(lh, sizeof(lh), "%s", listen_host);
	names[3] = lh;
	for (size_t i = 0; i < 4 && ret == 0; i++) {
		ret = hosts_add(srv, names[i], 0);
		if (ret == 0)
			ret = hosts_add(srv, names[i], port);
	}
	srv->nlisten_hosts = srv->nhosts;
	for (size_t i = 0;
	     ret == 0 && srv->cfg.allow_hosts && srv->cfg.allow_hosts[i]; i++)
		ret = hosts_add(srv, srv->cfg.allow_hosts[i], 0);
	return ret;
}

static void
server_free(struct api_server *srv)
{
	if (srv->watchdog_running) {
		pthread_mutex_lock(&srv->conn_lock);
		srv->watchdog_stop = true;
		pthread_cond_signal(&srv->conn_wake);
		pthread_mutex_unlock(&srv->conn_lock);
		pthread_join(srv->watchdog, NULL);
	}
	pthread_cond_destroy(&srv->conn_wake);
	pthread_mutex_destroy(&srv->conn_lock);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	for (size_t i = 0; i < srv->nhosts; i++)
		free(srv->hosts[i]);
	free(srv->hosts);
	free(srv);
}

int
api_server_start(const struct api_config *cfg, const char *host, uint16_t port,
                 struct api_server **out, uint16_t *bound_port)
{
	struct api_server *srv;
	struct MHD_OptionItem opts[3];
	size_t nopts = 0;
	pthread_condattr_t ca;
	uint16_t bound = 0;
	unsigned threads = cfg->threads ? cfg->threads : 1;
	int fd = -1, ret;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ERR_NOMEM;
	srv->cfg = *cfg;
	if (srv->cfg.header_timeout == 0)
		srv->cfg.header_timeout = 20;
	if (srv->cfg.body_timeout == 0)
		srv->cfg.body_timeout = 20;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->idle, NULL);
	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->conn_wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) != 0) {
		log_error("server: cannot start the connection watchdog");
		server_free(srv);
		return ERR_IO;
	}
	srv->watchdog_running = true;
	ret = workq_create(handler_threads(threads), HANDLER_QUEUE, 0,
	                   &srv->handlers);
	if (ret < 0) {
		server_free(srv);
		return ret;
	}
	ret = listen_on(host, port, &fd, &bound);
	if (ret < 0) {
		workq_destroy(srv->handlers);
		server_free(srv);
		return ret;
	}
	srv->listen_fd = fd;
	if (hosts_build(srv, host, bound) < 0) {
		close(fd);
		workq_destroy(srv->handlers);
		server_free(srv);
		return ERR_NOMEM;
	}
	srv->core = (struct core){
		.db = cfg->db,
		.master_key = cfg->master_key,
		.slow = cfg->slow,
		.renewal_days = cfg->renewal_days,
		.render_report = api_report_render,
	};
	core_system_roots_load(&srv->core, cfg->system_roots);
	/* a pool of one is no pool: libmicrohttpd warns about it */
	if (threads > 1)
		opts[nopts++] =
		    (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
			                     (intptr_t)threads, NULL };
	if (cfg->max_per_ip > 0)
		opts[nopts++] =
		    (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			                     (intptr_t)cfg->max_per_ip, NULL };
	opts[nopts] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
	        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv,
	    /* first, so that every MHD message goes to our log */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_ARRAY,
	    opts, MHD_OPTION_END);
	if (!srv->mhd) {
		log_error("server: MHD_start_daemon failed");
		close(fd);
		core_system_roots_free(&srv->core);
		workq_destroy(srv->handlers);
		server_free(srv);
		return ERR_IO;
	}
	log_info("server: %u event-loop thread(s), %u handler threads, at "
	         "most %u connections (%u per address, 0: no limit), a request "
	         "head within %us, its body within %us more",
	         threads, handler_threads(threads), cfg->max_connections,
	         cfg->max_per_ip, srv->cfg.header_timeout,
	         srv->cfg.body_timeout);
	*out = srv;
	*bound_port = bound;
	return 0;
}

void
api_server_stop(struct api_server *srv, unsigned grace_ms)
{
	struct timespec deadline;
	struct workq *handlers;
	MHD_socket lfd;

	if (!srv)
		return;
	/*
	 * No new connections: the listening socket stops listening at once
	 * (connecting is refused), but it is closed only once libmicrohttpd
	 * has stopped, as its threads may still hold it.
	 */
	lfd = MHD_quiesce_daemon(srv->mhd);
	if (lfd != MHD_INVALID_SOCKET)
		shutdown(lfd, SHUT_RDWR);
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
	/*
	 * Every suspended connection must be resumed before libmicrohttpd
	 * stops: the handlers finish what they hold (and what is queued);
	 * a request that comes after is answered 503.
	 */
	pthread_mutex_lock(&srv->lock);
	handlers = srv->handlers;
	srv->handlers = NULL;
	pthread_mutex_unlock(&srv->lock);
	workq_destroy(handlers);
	MHD_stop_daemon(srv->mhd);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	core_system_roots_free(&srv->core);
	server_free(srv);
}
