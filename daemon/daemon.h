/*
 * daemon.h: process life: configuration from flags and the environment,
 * the state directory, the master key and the first admin token.
 */
#ifndef AMTCERTD_DAEMON_H
#define AMTCERTD_DAEMON_H

#include "pki/pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/*
 * max_per_ip when no flag set it: none on a loopback address (every client
 * there is 127.0.0.1 or ::1, so a per-address limit would only be a second
 * global one), DAEMON_PER_IP_DEFAULT elsewhere.
 */
#define DAEMON_PER_IP_AUTO    0xffffffffu
#define DAEMON_PER_IP_DEFAULT 256u

struct daemon_config {
	char listen_host[256];
	uint16_t listen_port;
	char state_dir[1024];
	char web_dir[1024]; /* "" = embedded */
	size_t max_body;
	size_t max_upload;
	unsigned renewal_days;   /* renewal window of the expiry sweep */
	char system_roots[1024]; /* "" = no system trust store */
	unsigned workers;
	unsigned threads;         /* event-loop threads of the server */
	unsigned max_connections; /* open at once */
	unsigned max_per_ip;      /* 0: none; DAEMON_PER_IP_AUTO: by address */
	unsigned header_timeout;  /* seconds to send a request head */
	char log_level[8];
	char credentials_dir[1024]; /* systemd CREDENTIALS_DIRECTORY or "" */
};

/* Fills cfg with the embedded defaults, then the environment. */
int daemon_config_defaults(struct daemon_config *cfg, const char **why);

/*
 * Applies one flag (argv[*i], and its value in argv[*i + 1] unless given
 * as --flag=value). Advances *i past what it used. ERR_INVALID with *why
 * for an unknown flag or a bad value.
 */
int daemon_config_flag(struct daemon_config *cfg, int argc, char **argv, int *i,
                       const char **why);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT". ERR_INVALID. */
int daemon_parse_listen(const char *s, char *host, size_t host_size,
                        uint16_t *port);

/* Creates the state directory 0700 (and tightens an existing one). */
int daemon_state_dir_prepare(const char *dir);

/*
 * Loads the 32-byte master key: CREDENTIALS_DIRECTORY/master.key when
 * present, else STATE_DIR/master.key, created 0600 on first start.
 * Raw 32 bytes or 64 hex characters. ERR_IO, ERR_INVALID.
 */
int daemon_master_key_load(const struct daemon_config *cfg,
                           unsigned char key[PKI_MASTER_KEY_LEN]);

/*
 * When no live admin token exists, creates one named "admin" and writes it
 * to STATE_DIR/admin.token (0600). *created tells whether it did.
 */
int daemon_admin_token_ensure(struct db *db, const char *state_dir,
                              bool *created);

/*
 * Puts the built-in seed list of AMT root hashes into the database
 * (entries already there keep the user's enabled choice). Cited entries
 * start disabled.
 */
int daemon_roots_seed(struct db *db);

/* Whether host (a --listen host) is a loopback address or "localhost". */
bool daemon_host_is_loopback(const char *host);

/* Opens STATE_DIR/amtcertd.db. */
int daemon_db_open(const char *state_dir, struct db **out);

#endif
