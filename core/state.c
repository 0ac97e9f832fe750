/*
 * state.c: the order state machine as data (see state.h).
 */
#include "core/state.h"

#include <string.h>

static const char *const state_names[ORDER_STATE_COUNT] = {
	[ORDER_DRAFT] = "draft",
	[ORDER_KEY_READY] = "key_ready",
	[ORDER_SUBMITTED] = "submitted",
	[ORDER_ISSUED] = "issued",
	[ORDER_READY] = "ready",
	[ORDER_DEPLOYED] = "deployed",
	[ORDER_RENEWAL_DUE] = "renewal_due",
	[ORDER_EXPIRED] = "expired",
	[ORDER_REVOKED] = "revoked",
	[ORDER_CANCELLED] = "cancelled",
};

static const char *const trigger_names[ORDER_TRIGGER_COUNT] = {
	[ORDER_T_KEY] = "key",
	[ORDER_T_SUBMIT] = "submit",
	[ORDER_T_UPLOAD_LEAF] = "upload_leaf",
	[ORDER_T_VERIFY_PASS] = "verify_pass",
	[ORDER_T_VERIFY_FAIL] = "verify_fail",
	[ORDER_T_DEPLOY] = "deploy",
	[ORDER_T_EXPIRY_DUE] = "expiry_due",
	[ORDER_T_EXPIRY_PASSED] = "expiry_passed",
	[ORDER_T_REVOKE] = "revoke",
	[ORDER_T_CANCEL] = "cancel",
};

/*
 * Every move an order can make. A (from, trigger) pair appears at most
 * once. deployed -> deployed records one more installation. A failed
 * verification takes a ready order back to issued; the other states keep
 * theirs (a deployed certificate stays deployed while its report says
 * what broke).
 */
static const struct order_transition table[] = {
	{ ORDER_DRAFT, ORDER_T_KEY, ORDER_KEY_READY },
	{ ORDER_DRAFT, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_KEY_READY, ORDER_T_SUBMIT, ORDER_SUBMITTED },
	{ ORDER_KEY_READY, ORDER_T_UPLOAD_LEAF, ORDER_ISSUED },
	{ ORDER_KEY_READY, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_SUBMITTED, ORDER_T_UPLOAD_LEAF, ORDER_ISSUED },
	{ ORDER_SUBMITTED, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_ISSUED, ORDER_T_VERIFY_PASS, ORDER_READY },
	{ ORDER_ISSUED, ORDER_T_REVOKE, ORDER_REVOKED },
	{ ORDER_ISSUED, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_READY, ORDER_T_DEPLOY, ORDER_DEPLOYED },
	{ ORDER_READY, ORDER_T_VERIFY_FAIL, ORDER_ISSUED },
	{ ORDER_READY, ORDER_T_EXPIRY_DUE, ORDER_RENEWAL_DUE },
	{ ORDER_READY, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
	{ ORDER_READY, ORDER_T_REVOKE, ORDER_REVOKED },
	{ ORDER_READY, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_DEPLOYED, ORDER_T_DEPLOY, ORDER_DEPLOYED },
	{ ORDER_DEPLOYED, ORDER_T_EXPIRY_DUE, ORDER_RENEWAL_DUE },
	{ ORDER_DEPLOYED, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
	{ ORDER_DEPLOYED, ORDER_T_REVOKE, ORDER_REVOKED },
	{ ORDER_DEPLOYED, ORDER_T_CANCEL, ORDER_CANCELLED },

	{ ORDER_RENEWAL_DUE, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
	{ ORDER_RENEWAL_DUE, ORDER_T_REVOKE, ORDER_REVOKED },
	{ ORDER_RENEWAL_DUE, ORDER_T_CANCEL, ORDER_CANCELLED },
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

const struct order_transition *
order_transitions(size_t *count)
{
	*count = TABLE_LEN;
	return table;
}

const char *
order_state_name(enum order_state s)
{
	return (unsigned)s < ORDER_STATE_COUNT ? state_names[s] : NULL;
}

const char *
order_trigger_name(enum order_trigger t)
{
	return (unsigned)t < ORDER_TRIGGER_COUNT ? trigger_names[t] : NULL;
}

bool
order_state_parse(const char *name, enum order_state *out)
{
	for (unsigned i = 0; name && i < ORDER_STATE_COUNT; i++) {
		if (strcmp(state_names[i], name) == 0) {
			*out = (enum order_state)i;
			return true;
		}
	}
	return false;
}

bool
order_state_next(enum order_state from, enum order_trigger t,
                 enum order_state *to)
{
	for (size_t i = 0; i < TABLE_LEN; i++) {
		if (table[i].from == from && table[i].trigger == t) {
			*to = table[i].to;
			return true;
		}
	}
	return false;
}

bool
order_state_is_terminal(enum order_state s)
{
	for (size_t i = 0; i < TABLE_LEN; i++) {
		if (table[i].from == s)
			return false;
	}
	return true;
}

bool
order_state_takes_uploads(enum order_state s)
{
	return !order_state_is_terminal(s);
}

bool
order_state_exports_key(enum order_state s)
{
	return s == ORDER_READY || s == ORDER_DEPLOYED ||
	       s == ORDER_RENEWAL_DUE;
}

bool
order_state_is_renewable(enum order_state s)
{
	return s == ORDER_ISSUED || s == ORDER_READY || s == ORDER_DEPLOYED ||
	       s == ORDER_RENEWAL_DUE || s == ORDER_EXPIRED ||
	       s == ORDER_REVOKED;
}

static const char *const group_names[ORDER_GROUP_COUNT] = {
	[ORDER_GROUP_NEEDS_ACTION] = "needs_action",
	[ORDER_GROUP_WAITING] = "waiting",
	[ORDER_GROUP_IN_USE] = "in_use",
	[ORDER_GROUP_CLOSED] = "closed",
};

/*
 * "Needs action first": every state once, first to last. A renewal that
 * is due comes first (the certificate runs out), then what is stuck on a
 * person in the order the work goes: a chain to fix, a CSR to buy, a PFX
 * to deploy; a draft (no key, and no move gives it one) can only be
 * cancelled. Then what waits for the CA, what is in use, and what is over.
 */
static const struct order_attention {
	enum order_state state;
	enum order_group group;
	const char *next_action;
} attention[] = {
	{ ORDER_RENEWAL_DUE, ORDER_GROUP_NEEDS_ACTION, "renew" },
	{ ORDER_ISSUED, ORDER_GROUP_NEEDS_ACTION, "verify" },
	{ ORDER_KEY_READY, ORDER_GROUP_NEEDS_ACTION, "submit" },
	{ ORDER_READY, ORDER_GROUP_NEEDS_ACTION, "deploy" },
	{ ORDER_DRAFT, ORDER_GROUP_NEEDS_ACTION, "cancel" },
	{ ORDER_SUBMITTED, ORDER_GROUP_WAITING, "await_delivery" },
	{ ORDER_DEPLOYED, ORDER_GROUP_IN_USE, "none" },
	{ ORDER_EXPIRED, ORDER_GROUP_CLOSED, "none" },
	{ ORDER_REVOKED, ORDER_GROUP_CLOSED, "none" },
	{ ORDER_CANCELLED, ORDER_GROUP_CLOSED, "none" },
};

_Static_assert(sizeof(attention) / sizeof(attention[0]) == ORDER_STATE_COUNT,
               "every state has one place in needs-action order");

static const struct order_attention *
attention_of(enum order_state s)
{
	for (size_t i = 0; i < ORDER_STATE_COUNT; i++) {
		if (attention[i].state == s)
			return &attention[i];
	}
	return NULL;
}

const char *
order_group_name(enum order_group g)
{
	return (unsigned)g < ORDER_GROUP_COUNT ? group_names[g] : NULL;
}

enum order_group
order_state_group(enum order_state s)
{
	const struct order_attention *a = attention_of(s);

	return a ? a->group : ORDER_GROUP_COUNT;
}

unsigned
order_state_priority(enum order_state s)
{
	const struct order_attention *a = attention_of(s);

	return a ? (unsigned)(a - attention) : ORDER_STATE_COUNT;
}

bool
order_state_at_priority(unsigned p, enum order_state *out)
{
	if (p >= ORDER_STATE_COUNT)
		return false;
	*out = attention[p].state;
	return true;
}

const char *
order_state_next_action(enum order_state s)
{
	const struct order_attention *a = attention_of(s);

	return a ? a->next_action : NULL;
}
