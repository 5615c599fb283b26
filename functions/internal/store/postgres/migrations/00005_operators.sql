-- +goose Up
-- The offices' side: operator accounts, the offices each one serves, their
-- sign-in sessions, and the outcome of an appointment on the booking.

-- An operator signs in with an email and a password. password_hash is an
-- argon2id PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"), never
-- the password. failed_logins counts consecutive failed sign-ins; after
-- LOGIN_MAX_FAILURES of them the account is locked until locked_until and
-- the count starts again. An administrator sees and manages every office;
-- an operator only the offices in operator_offices.
CREATE TABLE operators (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role          text NOT NULL CHECK (role IN ('operator', 'administrator')),
    active        boolean NOT NULL DEFAULT true,
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL
);

CREATE TABLE operator_offices (
    operator_id uuid NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    office_id   text NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    PRIMARY KEY (operator_id, office_id)
);
CREATE INDEX operator_offices_office ON operator_offices (office_id);

-- A session is a random 256-bit token carried by an HttpOnly cookie and
-- stored as its SHA-256; csrf_hash is the SHA-256 of the session's CSRF
-- token, required in X-CSRF-Token on every unsafe request. A session ends
-- at expires_at (SESSION_TTL after sign-in) or after SESSION_IDLE without
-- requests since last_seen_at, whichever comes first.
CREATE TABLE operator_sessions (
    token_hash   bytea PRIMARY KEY,
    operator_id  uuid NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_hash    bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- The outcome of an appointment. A held appointment is status 'completed'
-- with outcome 'completed'; a no-show is also status 'completed' (the
-- appointment is over and its slot is history), with outcome 'no_show'.
-- outcome_by is the operator who recorded it, NULL when the system did (a
-- no-show found by housekeeping). The note is the operator's, at most 500
-- characters, and is personal data: it is purged with the rest.
-- (Migration 00006 adds the same columns IF NOT EXISTS, so either order of
-- development works; here the constraints are added by name.)
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS outcome text CHECK (outcome IN ('completed', 'no_show'));
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS outcome_note text;
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS outcome_at timestamptz;
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS outcome_by uuid;
ALTER TABLE bookings ADD CONSTRAINT bookings_outcome_note_length CHECK (char_length(outcome_note) <= 500);
ALTER TABLE bookings ADD CONSTRAINT bookings_outcome_by_operator FOREIGN KEY (outcome_by) REFERENCES operators (id);
ALTER TABLE bookings ADD CONSTRAINT bookings_outcome_when_completed
    CHECK (outcome IS NULL OR (status = 'completed' AND outcome_at IS NOT NULL));

-- The agenda: active and past bookings of a service by start.
CREATE INDEX bookings_agenda ON bookings (service_id, starts_at) WHERE status IN ('confirmed', 'completed');

-- +goose Down
DROP INDEX bookings_agenda;
ALTER TABLE bookings DROP CONSTRAINT bookings_outcome_when_completed;
ALTER TABLE bookings DROP CONSTRAINT bookings_outcome_by_operator;
ALTER TABLE bookings DROP CONSTRAINT bookings_outcome_note_length;
ALTER TABLE bookings DROP COLUMN outcome_by;
ALTER TABLE bookings DROP COLUMN outcome_at;
ALTER TABLE bookings DROP COLUMN outcome_note;
ALTER TABLE bookings DROP COLUMN outcome;
DROP TABLE operator_sessions;
DROP TABLE operator_offices;
DROP TABLE operators;
