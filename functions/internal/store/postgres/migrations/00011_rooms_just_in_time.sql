-- +goose Up
-- Rooms just in time: a booking's LiveKit room exists only during its
-- window. provision-room records the window when the booking is confirmed
-- or moved; housekeeping's tick creates the room when the window opens
-- (opened_at; the first join may have made it already), warns the
-- participants shortly before it closes (warned_at), and deletes it when it
-- closes (closed_at). A new window (a reschedule) starts the three over.
ALTER TABLE rooms ADD COLUMN opened_at timestamptz;
ALTER TABLE rooms ADD COLUMN warned_at timestamptz;
ALTER TABLE rooms ADD COLUMN closed_at timestamptz;
-- The rooms made before this migration exist on LiveKit already.
UPDATE rooms SET opened_at = updated_at WHERE deleted_at IS NULL;
CREATE INDEX rooms_to_open ON rooms (opens_at) WHERE opened_at IS NULL AND deleted_at IS NULL;
CREATE INDEX rooms_to_close ON rooms (closes_at) WHERE closed_at IS NULL AND deleted_at IS NULL;

-- +goose Down
DROP INDEX rooms_to_close;
DROP INDEX rooms_to_open;
ALTER TABLE rooms DROP COLUMN closed_at;
ALTER TABLE rooms DROP COLUMN warned_at;
ALTER TABLE rooms DROP COLUMN opened_at;
