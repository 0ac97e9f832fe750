/*
 * state.h: the one order state machine of amtcertd.
 *
 * Every layer that moves an order or decides what an order may do asks
 * this table: core/ for the workflows, db/ inside the transaction that
 * moves the row, api/ to list the allowed moves, and the dashboard through
 * GET /api/v1/order-states. Nothing else keeps a list of states.
 *
 * This file has no dependency but the C library, so db/ may link it
 * without depending on the rest of core/.
 */
#ifndef AMTCERTD_CORE_STATE_H
#define AMTCERTD_CORE_STATE_H

#include <stdbool.h>
#include <stddef.h>

enum order_state {
	ORDER_DRAFT,
	ORDER_KEY_READY,
	ORDER_SUBMITTED,
	ORDER_ISSUED,
	ORDER_READY,
	ORDER_DEPLOYED,
	ORDER_RENEWAL_DUE,
	ORDER_EXPIRED,
	ORDER_REVOKED,
	ORDER_CANCELLED,
	ORDER_STATE_COUNT
};

/* What moves an order: an explicit call or the result of some work. */
enum order_trigger {
	ORDER_T_KEY,           /* a key and CSR were made or imported */
	ORDER_T_SUBMIT,        /* the CSR went to the CA */
	ORDER_T_UPLOAD_LEAF,   /* a delivery held the leaf for the key */
	ORDER_T_VERIFY_PASS,   /* a verification found no failed check */
	ORDER_T_VERIFY_FAIL,   /* a verification found a failed check */
	ORDER_T_DEPLOY,        /* installed at a console (again) */
	ORDER_T_EXPIRY_DUE,    /* the sweep: within the renewal window */
	ORDER_T_EXPIRY_PASSED, /* the sweep: the leaf or chain expired */
	ORDER_T_REVOKE,        /* the CA revoked the certificate */
	ORDER_T_CANCEL,        /* given up */
	ORDER_TRIGGER_COUNT
};

struct order_transition {
	enum order_state from;
	enum order_trigger trigger;
	enum order_state to;
};

/* The table itself, for listing (the API renders it). Can't fail. */
const struct order_transition *order_transitions(size_t *count);

/* "key_ready" for ORDER_KEY_READY; NULL for a value out of range. */
const char *order_state_name(enum order_state s);
const char *order_trigger_name(enum order_trigger t);

/* Parses a state name; false when name is NULL or no state. */
bool order_state_parse(const char *name, enum order_state *out);

/*
 * Where trigger t leads from state from. true and *to when the table has
 * that move; false (and *to untouched) when t does not apply in from.
 */
bool order_state_next(enum order_state from, enum order_trigger t,
                      enum order_state *to);

/* No move leads out of s. */
bool order_state_is_terminal(enum order_state s);

/* An order in s takes a CA delivery (every state that is not terminal). */
bool order_state_takes_uploads(enum order_state s);

/*
 * The order's key may leave in a PFX: only once its chain verified
 * (ready, deployed, renewal_due).
 */
bool order_state_exports_key(enum order_state s);

/* A renewal may be made of an order in s (it had a certificate). */
bool order_state_is_renewable(enum order_state s);

/*
 * What an order asks of a person, for the order list and its counts. Each
 * state is in one group, has one place in "needs action first" (0 first;
 * every state its own place, so that order is total and a list sorted by
 * it can be paged by state) and names the next step a person takes.
 */
enum order_group {
	ORDER_GROUP_NEEDS_ACTION, /* the next step is a person's */
	ORDER_GROUP_WAITING,      /* the next step is the CA's */
	ORDER_GROUP_IN_USE,       /* deployed; the sweep says when to renew */
	ORDER_GROUP_CLOSED,       /* over: nothing more happens to it */
	ORDER_GROUP_COUNT
};

/* "needs_action" for ORDER_GROUP_NEEDS_ACTION; NULL out of range. */
const char *order_group_name(enum order_group g);

/* The group of s; ORDER_GROUP_COUNT for a value out of range. */
enum order_group order_state_group(enum order_state s);

/*
 * The place of s in "needs action first", 0..ORDER_STATE_COUNT-1, no two
 * states alike; ORDER_STATE_COUNT for a value out of range.
 */
unsigned order_state_priority(enum order_state s);

/* The state at place p of "needs action first"; false when p is too big. */
bool order_state_at_priority(unsigned p, enum order_state *out);

/*
 * The next step for an order in s, a stable code: "renew", "verify",
 * "submit", "deploy", "cancel", "await_delivery" or "none"; NULL out of
 * range.
 */
const char *order_state_next_action(enum order_state s);

#endif
