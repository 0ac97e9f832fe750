/*
 * api.h: the HTTP server: routing, authentication, JSON <-> structs and
 * status codes. api/ is the only module that knows HTTP and JSON.
 */
#ifndef AMTCERTD_API_H
#define AMTCERTD_API_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct workq;

struct api_config {
	struct db *db;                   /* borrowed */
	struct workq *slow;              /* borrowed: key generation etc. */
	const unsigned char *master_key; /* borrowed, PKI_MASTER_KEY_LEN */
	const char *web_dir;             /* NULL: serve the embedded files */
	size_t max_json_body;            /* cap for JSON request bodies */
	size_t max_upload_body;          /* cap for uploads (CA material) */
	const char *system_roots; /* PEM bundle of the system trust store,
	                             or NULL for none */
	unsigned max_connections;
	unsigned renewal_days; /* the expiry sweep's renewal window */
	unsigned threads;      /* event-loop threads (>= 1) */
	unsigned max_per_ip;   /* connections per client address, 0: no limit */
	unsigned header_timeout; /* seconds to send a request head */
	unsigned body_timeout;   /* seconds to send a body, after its head */
	const char *state_dir;   /* for free space and the login-link file */
	/*
	 * Host header values accepted besides the listen names (127.0.0.1,
	 * localhost, [::1] and the listen host, with and without the port):
	 * NULL-terminated, borrowed. A name without a port also matches
	 * NAME:any-port.
	 */
	const char *const *allow_hosts;
};

struct api_server;

/*
 * Binds host:port (port 0 = any free port), starts serving, and writes the
 * port actually bound. ERR_IO when the address can't be bound, ERR_NOMEM.
 */
int api_server_start(const struct api_config *cfg, const char *host,
                     uint16_t port, struct api_server **out,
                     uint16_t *bound_port);

/*
 * The file in the state directory where `amtcertd login-link` leaves the
 * SHA-256 (hex) of a fresh one-time login code and its expiry (Unix
 * seconds), "HASH EXPIRY\n"; POST /api/v1/login accepts that code once
 * and removes the file.
 */
#define API_LOGIN_CODE_FILE "login-code"

/* Seconds a code minted by `amtcertd login-link` stays valid. */
#define API_LOGIN_CODE_TTL 600

/*
 * Sets the one-time dashboard login code (copied; only its hash is kept).
 * The first successful POST /api/v1/login with it consumes it.
 */
int api_server_set_login_code(struct api_server *srv, const char *code);

/*
 * Stops accepting connections, waits up to grace_ms for in-flight requests
 * to finish, then stops the server and frees it. NULL is a no-op.
 */
void api_server_stop(struct api_server *srv, unsigned grace_ms);

#endif
