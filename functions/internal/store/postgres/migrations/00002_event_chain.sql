-- +goose Up
-- The event chain: links mailed to citizens, the consumers' inbox, reminders,
-- video rooms, documents, and the erasure of personal data.

-- A booking can have several manage tokens: the one confirm shows once, and
-- one in every mail that send-email writes (it cannot read the first: only
-- its hash is kept). Each is 256 random bits, stored as its SHA-256.
CREATE TABLE manage_tokens (
    token_hash bytea PRIMARY KEY,
    booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    issued_by  text NOT NULL,
    issued_at  timestamptz NOT NULL
);
CREATE INDEX manage_tokens_booking ON manage_tokens (booking_id);
INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at)
SELECT manage_token_hash, id, 'confirm', coalesce(confirmed_at, created_at)
FROM bookings WHERE manage_token_hash IS NOT NULL;
-- Dropping the column drops the CHECK that named it; its successor follows.
ALTER TABLE bookings DROP COLUMN manage_token_hash;

-- Personal data are erased after the retention period; the booking stays.
ALTER TABLE bookings ADD COLUMN purged_at timestamptz;
ALTER TABLE bookings ADD CONSTRAINT bookings_confirmed_has_citizen
    CHECK (status NOT IN ('confirmed', 'completed') OR purged_at IS NOT NULL
           OR (email IS NOT NULL AND privacy_consent_at IS NOT NULL));

-- The inbox of the event consumers: a consumer records (source, id) in the
-- transaction of its side effect, so a redelivered event has no second
-- effect.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    source       text NOT NULL,
    id           text NOT NULL,
    type         text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, source, id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- Reminders sent, one of each kind per booking and start time.
CREATE TABLE reminders (
    booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('24h', '1h')),
    starts_at  timestamptz NOT NULL,
    queued_at  timestamptz NOT NULL,
    PRIMARY KEY (booking_id, kind, starts_at)
);

-- The LiveKit room of a booking.
CREATE TABLE rooms (
    booking_id uuid PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    name       text NOT NULL UNIQUE,
    opens_at   timestamptz NOT NULL,
    closes_at  timestamptz NOT NULL,
    sequence   integer NOT NULL,
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL
);

-- Documents exchanged for a booking. The bytes live in S3 (MinIO) under
-- object_key; a row is 'pending' from the presigned upload until the upload
-- is checked, then 'uploaded'.
CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    booking_id   uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    object_key   text NOT NULL UNIQUE,
    filename     text,
    content_type text NOT NULL,
    size         bigint,
    uploaded_by  text NOT NULL CHECK (uploaded_by IN ('citizen', 'office')),
    status       text NOT NULL CHECK (status IN ('pending', 'uploaded', 'deleted')),
    created_at   timestamptz NOT NULL,
    uploaded_at  timestamptz
);
CREATE INDEX documents_booking ON documents (booking_id, created_at);

-- +goose Down
DROP TABLE documents;
DROP TABLE rooms;
DROP TABLE reminders;
DROP TABLE processed_events;
ALTER TABLE bookings DROP CONSTRAINT bookings_confirmed_has_citizen;
ALTER TABLE bookings DROP COLUMN purged_at;
ALTER TABLE bookings ADD COLUMN manage_token_hash bytea UNIQUE;
UPDATE bookings b SET manage_token_hash = (SELECT token_hash FROM manage_tokens t
    WHERE t.booking_id = b.id ORDER BY issued_at LIMIT 1);
-- The CHECK that dropping the column dropped, under its name in 00001. A
-- confirmed booking purged since has neither token nor email: version 1
-- cannot hold it, and this refuses to go down.
ALTER TABLE bookings ADD CONSTRAINT bookings_check2
    CHECK (status NOT IN ('confirmed', 'completed') OR (manage_token_hash IS NOT NULL AND email IS NOT NULL AND privacy_consent_at IS NOT NULL));
DROP TABLE manage_tokens;
