/*
 * internal.h: what the files of api/ share. Not for other modules.
 */
#ifndef AMTCERTD_API_INTERNAL_H
#define AMTCERTD_API_INTERNAL_H

#include "api/api.h"

#include "core/core.h"
#include "pki/pki.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define API_MAX_PARAMS 4

struct api_conn; /* server.c: one connection, for the header deadline */

/* Connections with a deadline, the oldest first (server.c). */
struct api_conn_list {
	struct api_conn *head, *tail;
};

struct api_server {
	struct api_config cfg;
	struct MHD_Daemon *mhd;
	int listen_fd;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t idle;  /* signalled when in_flight drops to 0 */
	unsigned in_flight;
	char login_hash[65]; /* SHA-256 hex of the one-time code */
	bool login_armed;

	/*
	 * Hosts accepted in the Host header (DNS rebinding): the listen
	 * names with and without the port, then cfg.allow_hosts.
	 */
	char **hosts;
	size_t nhosts;
	size_t nlisten_hosts; /* the first ones: the listen names */

	/*
	 * Set when a write met a full disk (ERR_FULL), with the space free
	 * then; /healthz answers 503 until more is free (meta.c).
	 */
	bool store_full;
	unsigned long long full_free; /* bytes free when it was set */

	/*
	 * Requests that may block (every method but GET and HEAD) run here,
	 * off the event-loop threads, while their connection is suspended.
	 * NULL once the server stops (read and cleared under lock).
	 */
	struct workq *handlers;

	/*
	 * Connections that owe a request head, oldest deadline first; the
	 * watchdog shuts down each one whose deadline passes.
	 */
	pthread_mutex_t conn_lock;   /* guards the fields below */
	pthread_cond_t conn_wake;    /* wakes the watchdog: stop, trim_due */
	struct api_conn_list heads;  /* owe a request head */
	struct api_conn_list bodies; /* owe the rest of a request body */
	int64_t watchdog_until_ms;   /* when the watchdog wakes next */
	int64_t last_answer_ms;      /* when the last answer went out */
	bool trim_due; /* memory to hand back once traffic stops */
	bool watchdog_stop;
	pthread_t watchdog;
	bool watchdog_running;

	/* the order workflows, set up at start, read-only after */
	struct core core;
};

/* One HTTP request, from its first header call to its completion. */
struct api_request {
	struct api_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	char id[24]; /* request id, also sent as X-Request-Id */
	int64_t started_ms;

	/* body */
	char *body;
	size_t body_len;
	size_t body_cap; /* the limit that applies to this route */
	bool too_large;
	size_t discarded; /* bytes dropped after too_large */
	bool replied;
	bool body_timed;  /* its connection is on the body deadline */
	bool early_reply; /* answered on the socket before its body ended */

	/* routing */
	const char *params[API_MAX_PARAMS];
	char *param_buf; /* storage for params */

	/* authentication */
	char *token_id;
	char *actor; /* "token:<name>" for events */

	/* extra response headers, added by api_add_header() */
	char *hdr_name[8];
	char *hdr_value[8];
	size_t nhdr;

	unsigned status; /* for the access log */
};

typedef enum MHD_Result api_handler_fn(struct api_request *req);

/* ---- router.c --------------------------------------------------------- */

/*
 * Finds the route for method and url. On a match writes the handler, fills
 * req->params and says whether the route needs a token. On no match:
 * 404, or 405 with Allow when the path exists with other methods.
 */
enum MHD_Result api_route_dispatch(struct api_request *req);

/* The JSON body cap of the route that matches method+url. */
size_t api_route_body_cap(const struct api_server *srv, const char *method,
                          const char *url);

/* ---- http.c: replies -------------------------------------------------- */

/*
 * Adds a header to the response this request will get (copied; at most 8;
 * later ones are dropped with a log line).
 */
void api_add_header(struct api_request *req, const char *name,
                    const char *value);

/*
 * Queues a response with the common and the added headers. Copies body.
 */
enum MHD_Result api_reply(struct api_request *req, unsigned status,
                          const char *content_type, const void *body,
                          size_t len);

/* Queues a JSON body (steals the reference to j; NULL j is a 500). */
enum MHD_Result api_reply_json(struct api_request *req, unsigned status,
                               json_t *j);

/*
 * Queues an application/problem+json error (RFC 9457) with a stable code.
 * field may be NULL. extra, when not NULL, is merged in (stolen).
 */
enum MHD_Result api_reply_problem(struct api_request *req, unsigned status,
                                  const char *code, const char *detail,
                                  const char *field, json_t *extra);

/*
 * The JSON text of a problem (RFC 9457), for api_reply_problem and for
 * answers written before libmicrohttpd can queue one. Caller frees.
 */
char *api_problem_text(struct api_request *req, unsigned status,
                       const char *code, const char *detail, const char *field,
                       json_t *extra);

/* The reason phrase of a status this API answers with. */
const char *api_status_title(unsigned status);

/*
 * 500 without echoing internals (the cause is logged by the caller);
 * ERR_FULL is 507 storage_full instead, and marks the store full for
 * /healthz.
 */
enum MHD_Result api_reply_internal(struct api_request *req, int err);

/* Marks the store full (a write met ERR_FULL), for /healthz. */
void api_store_full_mark(struct api_server *srv);

/*
 * The answer to a core/ workflow that returned err < 0: its refusal as
 * problem+json (ERR_NOT_FOUND 404, ERR_CONFLICT 409 with the order's state
 * and, for invalid_transition, the moves allowed from it; ERR_PRECONDITION
 * 412; ERR_INVALID and ERR_PASSWORD 422; ERR_BUSY 503 with Retry-After),
 * anything else 500.
 */
enum MHD_Result api_reply_refusal(struct api_request *req, int err,
                                  const struct core_problem *pb);

/* 404 order_not_found, for the reads that go straight to db/. */
enum MHD_Result api_reply_order_not_found(struct api_request *req);

/* Overwrites a JSON string's bytes (a password) before it is freed. */
void api_json_wipe_string(json_t *v);

/* The moves allowed from s, as a JSON array of state names. */
json_t *api_allowed_transitions(enum order_state s);

/* Who the request acts as, for core/ (the token's name). */
struct core_actor api_actor(const struct api_request *req);

/* ---- http.c: request helpers ------------------------------------------ */

/* A request header or NULL. */
const char *api_header(struct api_request *req, const char *name);

/*
 * true when the request's Content-Type is one of the NULL-terminated
 * media types (parameters such as charset=utf-8 ignored, case-insensitive).
 */
bool api_content_type_is(struct api_request *req, const char *const *types);

/*
 * Parses the body as a JSON object. On failure queues the problem reply
 * (415 wrong media type, 400 not JSON / not an object) and returns NULL with
 * *result set. allow_empty: an empty body yields an empty object.
 */
json_t *api_body_json(struct api_request *req, const char *const *types,
                      bool allow_empty, enum MHD_Result *result);

/*
 * Checks that obj has only the keys in allowed (NULL-terminated); queues
 * 400 unknown_field naming the first other key (prefix + key) otherwise.
 */
bool api_json_only_keys(struct api_request *req, json_t *obj,
                        const char *const *allowed, const char *prefix,
                        enum MHD_Result *result);

/*
 * Refuses query parameters outside allowed (NULL-terminated) with 400.
 */
bool api_query_only(struct api_request *req, const char *const *allowed,
                    enum MHD_Result *result);

/*
 * Whether the request's Host header names this daemon (DNS rebinding):
 * one of srv->hosts, case-insensitive. No Host (HTTP/1.0) is accepted:
 * a browser always sends one.
 */
bool api_host_allowed(const struct api_server *srv, const char *host);

/* ---- auth.c ----------------------------------------------------------- */

/*
 * Checks the bearer token; on failure queues 401 and returns false.
 */
bool api_auth_check(struct api_request *req, enum MHD_Result *result);

/* ---- material.c: CA deliveries in request bodies ---------------------- */

#define API_MAX_FILES 16

struct api_file {
	char *name;       /* the file name given, or NULL */
	char *media_type; /* as sent, or NULL */
	unsigned char *data;
	size_t len;
};

/* A request body read as CA material: raw, or multipart/form-data. */
struct api_material {
	struct api_file files[API_MAX_FILES];
	size_t nfiles;
	char *password;    /* form field "password" or X-PKCS12-Password */
	char *form_at;     /* form field "at" (inspect) */
	char *form_suffix; /* form field "dns_suffix" (inspect) */
	struct pki_bundle bundle;
	struct pki_cert **certs; /* bundle.certs parsed, same order */
	size_t ncerts;
	json_t *notes; /* strings: what was skipped and why */
};

/*
 * Reads the request body as material: splits multipart parts, runs every
 * file through pki_intake_add and parses each certificate found. On
 * failure queues the problem answer (400 empty_upload, invalid_multipart;
 * 415; 422 pkcs12_password, unreadable_upload, upload_limits,
 * no_certificates) and returns false. need_certs: no certificate at all is
 * an error.
 */
bool api_material_read(struct api_request *req, struct api_material *m,
                       bool need_certs, enum MHD_Result *res);
void api_material_clear(struct api_material *m);

struct jtext;
/*
 * A parsed certificate (no role) as JSON text appended to t, its closing
 * brace left for the caller's members. False (t as it was) when out of
 * memory or a string is NULL or not UTF-8 (json_pack would refuse it).
 */
bool api_cert_text(struct jtext *t, const struct pki_cert *c);
/* The same as a Jansson object (for answers built as a tree); NULL on failure.
 */
json_t *api_cert_json(const struct pki_cert *c);

/* ---- verify.c --------------------------------------------------------- */

/* core_report_render_fn: the stored report is the JSON text. */
char *api_report_render(const struct core_evaluation *ev, const char *order_id,
                        void *arg);

/*
 * Reads the verification options shared by verify and inspect:
 * at (RFC 3339), dns_suffix, amt_min, amt_max, from a JSON object (obj)
 * or from strings (at, suffix). Queues 400/422 and returns false on bad
 * input.
 */
bool api_verify_opts_read(struct api_request *req, json_t *obj, const char *at,
                          const char *suffix, struct pki_verify_opts *opts,
                          enum MHD_Result *res);

/* ---- orders.c: shared with lifecycle.c ------------------------------- */

struct db_order;
struct db_order_patch;

/* The JSON view of an order (no key material, ever). */
json_t *api_order_json(const struct db_order *o);

/* 'status' with the order as JSON, its ETag, and warnings when given. */
enum MHD_Result api_reply_order(struct api_request *req, unsigned status,
                                const struct db_order *o, json_t *warnings);

/*
 * Moves order params[0] by trigger t, applying p (may be NULL) in the same
 * transaction, with an event giving reason. 200 order; 404; 409
 * invalid_transition with the allowed ones.
 */
enum MHD_Result api_order_transition(struct api_request *req,
                                     enum order_trigger t, const char *reason,
                                     const struct db_order_patch *p);

/* Handlers of each file, referenced by the route table. */
api_handler_fn api_healthz, api_openapi, api_web, api_login, api_order_states;
api_handler_fn api_orders_create, api_orders_list, api_orders_summary,
    api_orders_get, api_orders_patch, api_orders_cancel, api_orders_csr,
    api_orders_events;
api_handler_fn api_orders_upload, api_orders_certificates,
    api_orders_cert_detach, api_ca_list, api_ca_add, api_ca_delete;
api_handler_fn api_orders_verify, api_orders_verification, api_inspect;
api_handler_fn api_orders_submitted, api_orders_deployed, api_orders_revoked,
    api_orders_renew, api_orders_export, api_jobs_expiry;
api_handler_fn api_roots_list, api_roots_add, api_roots_patch, api_roots_delete,
    api_roots_device;

#endif
