/*
 * Unit tests of core/state.c: the one order state machine. The names, the
 * shape of the table and the moves every other layer relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/state.h"

#include <string.h>

#define NSTATES   ((int)ORDER_STATE_COUNT)
#define NTRIGGERS ((int)ORDER_TRIGGER_COUNT)

/* Whether the table has a move (from, t), and where to. */
static bool
table_has(enum order_state from, enum order_trigger t, enum order_state *to)
{
	size_t n = 0;
	const struct order_transition *tab = order_transitions(&n);

	for (size_t i = 0; i < n; i++) {
		if (tab[i].from == from && tab[i].trigger == t) {
			if (to)
				*to = tab[i].to;
			return true;
		}
	}
	return false;
}

static void
test_state_names_parse_back(void **state)
{
	enum order_state got;

	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		const char *name = order_state_name((enum order_state)s);

		assert_non_null(name);
		assert_true(*name != '\0');
		got = ORDER_STATE_COUNT;
		assert_true(order_state_parse(name, &got));
		assert_int_equal(got, s);
		for (int o = 0; o < s; o++)
			assert_string_not_equal(
			    name, order_state_name((enum order_state)o));
	}
	/* The names the API, the events and the schema use. */
	assert_string_equal(order_state_name(ORDER_DRAFT), "draft");
	assert_string_equal(order_state_name(ORDER_KEY_READY), "key_ready");
	assert_string_equal(order_state_name(ORDER_RENEWAL_DUE), "renewal_due");
	assert_string_equal(order_state_name(ORDER_CANCELLED), "cancelled");
	assert_null(order_state_name(ORDER_STATE_COUNT));
	assert_null(order_state_name((enum order_state) - 1));

	/* Not a state: false, out untouched. */
	got = ORDER_STATE_COUNT;
	assert_false(order_state_parse(NULL, &got));
	assert_false(order_state_parse("", &got));
	assert_false(order_state_parse("bogus", &got));
	assert_false(order_state_parse("Draft", &got));
	assert_false(order_state_parse("draft ", &got));
	assert_false(order_state_parse("key_ready\n", &got));
	assert_int_equal(got, ORDER_STATE_COUNT);
}

static void
test_trigger_names(void **state)
{
	(void)state;
	for (int t = 0; t < NTRIGGERS; t++) {
		const char *name = order_trigger_name((enum order_trigger)t);

		assert_non_null(name);
		assert_true(*name != '\0');
		for (int o = 0; o < t; o++)
			assert_string_not_equal(
			    name, order_trigger_name((enum order_trigger)o));
	}
	assert_string_equal(order_trigger_name(ORDER_T_UPLOAD_LEAF),
	                    "upload_leaf");
	assert_null(order_trigger_name(ORDER_TRIGGER_COUNT));
	assert_null(order_trigger_name((enum order_trigger) - 1));
}

/* In range, each (from, trigger) at most once, and next() agrees. */
static void
test_table_well_formed(void **state)
{
	size_t n = 0;
	const struct order_transition *tab = order_transitions(&n);

	(void)state;
	assert_non_null(tab);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		enum order_state to = ORDER_STATE_COUNT;

		assert_true((unsigned)tab[i].from < ORDER_STATE_COUNT);
		assert_true((unsigned)tab[i].to < ORDER_STATE_COUNT);
		assert_true((unsigned)tab[i].trigger < ORDER_TRIGGER_COUNT);
		for (size_t j = 0; j < i; j++)
			assert_false(tab[j].from == tab[i].from &&
			             tab[j].trigger == tab[i].trigger);
		assert_true(order_state_next(tab[i].from, tab[i].trigger, &to));
		assert_int_equal(to, tab[i].to);
	}
	/* A pair the table lacks has no move, and *to stays untouched. */
	for (int s = 0; s < NSTATES; s++) {
		for (int t = 0; t < NTRIGGERS; t++) {
			enum order_state to = ORDER_STATE_COUNT;

			if (table_has((enum order_state)s,
			              (enum order_trigger)t, NULL))
				continue;
			assert_false(order_state_next(
			    (enum order_state)s, (enum order_trigger)t, &to));
			assert_int_equal(to, ORDER_STATE_COUNT);
		}
	}
	/* Out of range: nothing. */
	{
		enum order_state to = ORDER_STATE_COUNT;

		assert_false(
		    order_state_next(ORDER_STATE_COUNT, ORDER_T_CANCEL, &to));
		assert_false(
		    order_state_next(ORDER_DRAFT, ORDER_TRIGGER_COUNT, &to));
		assert_int_equal(to, ORDER_STATE_COUNT);
	}
}

/* Terminal means no move at all; exactly expired, revoked, cancelled. */
static void
test_terminal_states(void **state)
{
	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		bool any = false;

		for (int t = 0; t < NTRIGGERS; t++) {
			enum order_state to;

			any =
			    any || order_state_next((enum order_state)s,
			                            (enum order_trigger)t, &to);
		}
		assert_int_equal(order_state_is_terminal((enum order_state)s),
		                 !any);
		/* Every state that is not terminal takes a delivery. */
		assert_int_equal(order_state_takes_uploads((enum order_state)s),
		                 any);
		/* ... and may be given up. */
		if (any) {
			enum order_state to = ORDER_STATE_COUNT;

			assert_true(order_state_next((enum order_state)s,
			                             ORDER_T_CANCEL, &to));
			assert_int_equal(to, ORDER_CANCELLED);
		}
	}
	assert_true(order_state_is_terminal(ORDER_EXPIRED));
	assert_true(order_state_is_terminal(ORDER_REVOKED));
	assert_true(order_state_is_terminal(ORDER_CANCELLED));
	for (int s = ORDER_DRAFT; s <= ORDER_RENEWAL_DUE; s++)
		assert_false(order_state_is_terminal((enum order_state)s));
}

/* Every state can be reached from draft, the state an order starts in. */
static void
test_every_state_reachable(void **state)
{
	bool seen[ORDER_STATE_COUNT] = { false };
	size_t n = 0;
	const struct order_transition *tab = order_transitions(&n);
	bool grew = true;

	(void)state;
	seen[ORDER_DRAFT] = true;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (seen[tab[i].from] && !seen[tab[i].to]) {
				seen[tab[i].to] = true;
				grew = true;
			}
		}
	}
	for (int s = 0; s < NSTATES; s++)
		assert_true(seen[s]);
}

/*
 * "Needs action first" puts every state in one place, its groups follow
 * one another, closed is exactly the terminal states, and each next
 * action is a move the table has from that state.
 */
static void
test_needs_action_order(void **state)
{
	static const struct {
		const char *action;
		enum order_trigger t; /* ORDER_TRIGGER_COUNT: no move */
	} acts[] = {
		{ "submit", ORDER_T_SUBMIT },
		{ "verify", ORDER_T_VERIFY_PASS },
		{ "deploy", ORDER_T_DEPLOY },
		{ "cancel", ORDER_T_CANCEL },
		{ "await_delivery", ORDER_T_UPLOAD_LEAF },
		{ "renew", ORDER_TRIGGER_COUNT },
		{ "none", ORDER_TRIGGER_COUNT },
	};
	bool seen[ORDER_STATE_COUNT] = { false };
	enum order_group last = ORDER_GROUP_NEEDS_ACTION;
	enum order_state s = ORDER_STATE_COUNT, to;

	(void)state;
	for (unsigned p = 0; p < ORDER_STATE_COUNT; p++) {
		const char *a;
		enum order_group g;
		size_t k;

		assert_true(order_state_at_priority(p, &s));
		assert_false(seen[s]);
		seen[s] = true;
		assert_int_equal(order_state_priority(s), p);
		g = order_state_group(s);
		assert_true(g >= last && g < ORDER_GROUP_COUNT);
		last = g;
		assert_int_equal(g == ORDER_GROUP_CLOSED,
		                 order_state_is_terminal(s));
		a = order_state_next_action(s);
		assert_non_null(a);
		assert_int_equal(strcmp(a, "none") == 0,
		                 g == ORDER_GROUP_IN_USE ||
		                     g == ORDER_GROUP_CLOSED);
		for (k = 0; k < sizeof(acts) / sizeof(acts[0]); k++) {
			if (strcmp(acts[k].action, a) == 0)
				break;
		}
		assert_true(k < sizeof(acts) / sizeof(acts[0]));
		if (acts[k].t != ORDER_TRIGGER_COUNT)
			assert_true(order_state_next(s, acts[k].t, &to));
		if (strcmp(a, "renew") == 0)
			assert_true(order_state_is_renewable(s));
	}
	assert_false(order_state_at_priority(ORDER_STATE_COUNT, &s));
	assert_int_equal(order_state_priority(ORDER_STATE_COUNT),
	                 ORDER_STATE_COUNT);
	assert_int_equal(order_state_group(ORDER_STATE_COUNT),
	                 ORDER_GROUP_COUNT);
	assert_null(order_state_next_action(ORDER_STATE_COUNT));
	assert_null(order_group_name(ORDER_GROUP_COUNT));
	assert_int_equal(order_state_priority(ORDER_RENEWAL_DUE), 0);
	assert_string_equal(order_group_name(ORDER_GROUP_NEEDS_ACTION),
	                    "needs_action");
	assert_string_equal(order_group_name(ORDER_GROUP_WAITING), "waiting");
	assert_string_equal(order_group_name(ORDER_GROUP_IN_USE), "in_use");
	assert_string_equal(order_group_name(ORDER_GROUP_CLOSED), "closed");
}

struct move {
	enum order_state from;
	enum order_trigger t;
	enum order_state to; /* ORDER_STATE_COUNT: no such move */
};

static void
test_expected_moves(void **state)
{
	static const struct move moves[] = {
		{ ORDER_DRAFT, ORDER_T_KEY, ORDER_KEY_READY },
		{ ORDER_KEY_READY, ORDER_T_SUBMIT, ORDER_SUBMITTED },
		/* a leaf may come without the CSR being marked submitted */
		{ ORDER_KEY_READY, ORDER_T_UPLOAD_LEAF, ORDER_ISSUED },
		{ ORDER_SUBMITTED, ORDER_T_UPLOAD_LEAF, ORDER_ISSUED },
		{ ORDER_ISSUED, ORDER_T_VERIFY_PASS, ORDER_READY },
		{ ORDER_READY, ORDER_T_VERIFY_FAIL, ORDER_ISSUED },
		{ ORDER_READY, ORDER_T_DEPLOY, ORDER_DEPLOYED },
		/* one more installation */
		{ ORDER_DEPLOYED, ORDER_T_DEPLOY, ORDER_DEPLOYED },
		{ ORDER_READY, ORDER_T_EXPIRY_DUE, ORDER_RENEWAL_DUE },
		{ ORDER_DEPLOYED, ORDER_T_EXPIRY_DUE, ORDER_RENEWAL_DUE },
		{ ORDER_READY, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
		{ ORDER_DEPLOYED, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
		{ ORDER_RENEWAL_DUE, ORDER_T_EXPIRY_PASSED, ORDER_EXPIRED },
		{ ORDER_ISSUED, ORDER_T_REVOKE, ORDER_REVOKED },
		{ ORDER_DEPLOYED, ORDER_T_REVOKE, ORDER_REVOKED },
		{ ORDER_RENEWAL_DUE, ORDER_T_REVOKE, ORDER_REVOKED },
		{ ORDER_SUBMITTED, ORDER_T_CANCEL, ORDER_CANCELLED },
		/* no move: */
		{ ORDER_DRAFT, ORDER_T_UPLOAD_LEAF, ORDER_STATE_COUNT },
		{ ORDER_DRAFT, ORDER_T_SUBMIT, ORDER_STATE_COUNT },
		{ ORDER_KEY_READY, ORDER_T_KEY, ORDER_STATE_COUNT },
		{ ORDER_SUBMITTED, ORDER_T_SUBMIT, ORDER_STATE_COUNT },
		{ ORDER_KEY_READY, ORDER_T_VERIFY_PASS, ORDER_STATE_COUNT },
		{ ORDER_ISSUED, ORDER_T_DEPLOY, ORDER_STATE_COUNT },
		{ ORDER_ISSUED, ORDER_T_UPLOAD_LEAF, ORDER_STATE_COUNT },
		{ ORDER_READY, ORDER_T_UPLOAD_LEAF, ORDER_STATE_COUNT },
		{ ORDER_READY, ORDER_T_VERIFY_PASS, ORDER_STATE_COUNT },
		/* a failed check keeps the state outside ready */
		{ ORDER_ISSUED, ORDER_T_VERIFY_FAIL, ORDER_STATE_COUNT },
		{ ORDER_DEPLOYED, ORDER_T_VERIFY_FAIL, ORDER_STATE_COUNT },
		{ ORDER_RENEWAL_DUE, ORDER_T_VERIFY_FAIL, ORDER_STATE_COUNT },
		/* only a verified certificate is installed or swept */
		{ ORDER_RENEWAL_DUE, ORDER_T_DEPLOY, ORDER_STATE_COUNT },
		{ ORDER_ISSUED, ORDER_T_EXPIRY_DUE, ORDER_STATE_COUNT },
		{ ORDER_RENEWAL_DUE, ORDER_T_EXPIRY_DUE, ORDER_STATE_COUNT },
		{ ORDER_SUBMITTED, ORDER_T_REVOKE, ORDER_STATE_COUNT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		enum order_state to = ORDER_STATE_COUNT;
		bool has = order_state_next(moves[i].from, moves[i].t, &to);

		if (has != (moves[i].to != ORDER_STATE_COUNT) ||
		    to != moves[i].to)
			fail_msg("%s + %s: got %s, want %s",
			         order_state_name(moves[i].from),
			         order_trigger_name(moves[i].t),
			         has ? order_state_name(to) : "no move",
			         moves[i].to != ORDER_STATE_COUNT
			             ? order_state_name(moves[i].to)
			             : "no move");
	}
	/* Cancelled, expired and revoked have no move at all. */
	for (int t = 0; t < NTRIGGERS; t++) {
		enum order_state to = ORDER_STATE_COUNT;

		assert_false(order_state_next(ORDER_CANCELLED,
		                              (enum order_trigger)t, &to));
		assert_false(order_state_next(ORDER_EXPIRED,
		                              (enum order_trigger)t, &to));
		assert_false(order_state_next(ORDER_REVOKED,
		                              (enum order_trigger)t, &to));
		assert_int_equal(to, ORDER_STATE_COUNT);
	}
}

/* The key leaves in a PFX only once the chain verified. */
static void
test_exports_and_renewals(void **state)
{
	static const bool exports[ORDER_STATE_COUNT] = {
		[ORDER_READY] = true,
		[ORDER_DEPLOYED] = true,
		[ORDER_RENEWAL_DUE] = true,
	};
	static const bool renewable[ORDER_STATE_COUNT] = {
		[ORDER_ISSUED] = true,   [ORDER_READY] = true,
		[ORDER_DEPLOYED] = true, [ORDER_RENEWAL_DUE] = true,
		[ORDER_EXPIRED] = true,  [ORDER_REVOKED] = true,
	};

	(void)state;
	for (int s = 0; s < NSTATES; s++) {
		assert_int_equal(order_state_exports_key((enum order_state)s),
		                 exports[s]);
		assert_int_equal(order_state_is_renewable((enum order_state)s),
		                 renewable[s]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names_parse_back),
		cmocka_unit_test(test_trigger_names),
		cmocka_unit_test(test_table_well_formed),
		cmocka_unit_test(test_terminal_states),
		cmocka_unit_test(test_every_state_reachable),
		cmocka_unit_test(test_needs_action_order),
		cmocka_unit_test(test_expected_moves),
		cmocka_unit_test(test_exports_and_renewals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
