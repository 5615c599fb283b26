-- +goose Up
-- Failed operator sign-ins per network address (issue 13), so that trying
-- one password on many accounts from one address is slowed as trying many
-- passwords on one account is (operators.failed_logins). A sign-in counts
-- here before its password is checked and is taken off again in the
-- transaction that opens its session: racing attempts each get their own
-- count, and n is the failures (and attempts under way) since the window
-- began. The window ends at ends_at (LOGIN_LOCKOUT after its first
-- failure); the attempt that reaches LOGIN_MAX_FAILURES_PER_ADDRESS moves
-- it to LOGIN_LOCKOUT after itself, and until then every sign-in from the
-- address is refused, whatever the account. A window that ended starts
-- again at 1. Unlogged, as rate_counters: a crash that empties it forgives
-- a lockout. housekeeping deletes the windows that ended.
CREATE UNLOGGED TABLE sign_in_failures (
    address text PRIMARY KEY,
    n       integer NOT NULL,
    ends_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE sign_in_failures;
