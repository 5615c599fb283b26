-- +goose Up
-- Attendance: who was in a booking's video room and when, from LiveKit's
-- verified webhooks (function livekit-webhook). One row per session of one
-- participant: joined_at is LiveKit's own join time of that connection, so
-- the participant_joined and participant_left webhooks of one session meet
-- on the same row whatever order they arrive in; a participant who comes
-- back has a second row. left_at is NULL while the session is open.
--
-- The identity is the LiveKit identity, which carries no personal data:
-- citizen-<booking_id> or operator-<operator_id>. The display name is never
-- stored. Whether the citizen came is a query on this table (EXISTS a
-- citizen row): no copy of it is kept on bookings.
CREATE TABLE attendance (
    booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    identity   text NOT NULL,
    role       text NOT NULL CHECK (role IN ('citizen', 'operator')),
    joined_at  timestamptz NOT NULL,
    left_at    timestamptz,
    PRIMARY KEY (booking_id, identity, joined_at),
    CHECK (left_at IS NULL OR left_at >= joined_at)
);

-- The no-show scan (MarkNoShows, on every housekeeping tick): confirmed
-- bookings by end. The outcome columns it sets come from 00005.
CREATE INDEX bookings_confirmed_by_end ON bookings (ends_at) WHERE status = 'confirmed';

-- +goose Down
DROP INDEX bookings_confirmed_by_end;
DROP TABLE attendance;
