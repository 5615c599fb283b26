-- +goose Up
-- The booking core: offices, services, desks, opening hours, closures,
-- bookings (holds included) and the transactional outbox of CloudEvents.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE offices (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL DEFAULT 0
);

CREATE TABLE services (
    id                    text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    office_id             text NOT NULL REFERENCES offices (id),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description           text NOT NULL DEFAULT '',
    duration_minutes      integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    buffer_minutes        integer NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 240),
    min_notice_minutes    integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes BETWEEN 0 AND 43200),
    horizon_days          integer NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 366),
    cancel_cutoff_minutes integer NOT NULL DEFAULT 0 CHECK (cancel_cutoff_minutes BETWEEN 0 AND 43200),
    what_to_bring         text NOT NULL DEFAULT '',
    active                boolean NOT NULL DEFAULT true,
    position              integer NOT NULL DEFAULT 0
);
CREATE INDEX services_office ON services (office_id);

-- A desk is one unit of parallel capacity of a service: one operator's seat.
CREATE TABLE desks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id text NOT NULL REFERENCES services (id),
    label      text NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    UNIQUE (service_id, label)
);

-- Weekly opening hours, wall-clock times in the municipality's time zone.
-- weekday: 1 = Monday ... 7 = Sunday (ISO 8601).
CREATE TABLE opening_hours (
    service_id text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    weekday    smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens      time NOT NULL,
    closes     time NOT NULL,
    PRIMARY KEY (service_id, weekday, opens),
    CHECK (opens < closes)
);

-- Closures are whole days, both ends included. A NULL office closes them all.
CREATE TABLE closures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id text REFERENCES offices (id),
    first_day date NOT NULL,
    last_day  date NOT NULL,
    reason    text NOT NULL DEFAULT '',
    CHECK (last_day >= first_day)
);

-- A booking starts as a hold; confirm turns it into a booking with the
-- citizen's data. "blocks" is the time the desk is taken: the meeting plus
-- the service's buffer. Holds and confirmed bookings are active: the EXCLUDE
-- constraint makes two active rows on one desk at overlapping times
-- impossible, whatever the code above does. An expired hold is still
-- 'held' until someone marks it 'expired'; every writer does that first for
-- the rows it might collide with, and readers ignore holds past their expiry.
CREATE TABLE bookings (
    id                 uuid PRIMARY KEY,
    service_id         text NOT NULL REFERENCES services (id),
    desk_id            bigint NOT NULL REFERENCES desks (id),
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    blocks             tstzrange NOT NULL,
    status             text NOT NULL CHECK (status IN ('held', 'expired', 'confirmed', 'cancelled', 'completed')),
    hold_secret_hash   bytea NOT NULL,
    hold_expires_at    timestamptz NOT NULL,
    manage_token_hash  bytea UNIQUE,
    sequence           integer NOT NULL DEFAULT 0,
    locale             text NOT NULL DEFAULT 'it' CHECK (locale IN ('it', 'en')),
    given_name         text,
    family_name        text,
    address            text,
    email              text,
    reason             text,
    details            text,
    privacy_consent_at timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    confirmed_at       timestamptz,
    cancelled_at       timestamptz,
    CHECK (ends_at > starts_at),
    CHECK (lower(blocks) = starts_at AND upper(blocks) >= ends_at),
    CHECK (status NOT IN ('confirmed', 'completed') OR (manage_token_hash IS NOT NULL AND email IS NOT NULL AND privacy_consent_at IS NOT NULL)),
    CONSTRAINT bookings_no_double_booking
        EXCLUDE USING gist (desk_id WITH =, blocks WITH &&) WHERE (status IN ('held', 'confirmed'))
);
CREATE INDEX bookings_active_by_service ON bookings (service_id, starts_at) WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_holds_by_expiry ON bookings (hold_expires_at) WHERE status = 'held';

-- The transactional outbox: an event is written in the transaction of the
-- state change it reports, with its CloudEvents id fixed here. The relay
-- delivers it after commit; a sweep redelivers what is left.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL,
    source          text NOT NULL,
    subject         text NOT NULL,
    dataschema      text NOT NULL,
    time            timestamptz NOT NULL,
    data            jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE bookings;
DROP TABLE closures;
DROP TABLE opening_hours;
DROP TABLE desks;
DROP TABLE services;
DROP TABLE offices;
