-- +goose Up
-- Indexes for housekeeping's scans, which run on every tick: confirmed
-- bookings by start (reminders), bookings still holding personal data by
-- end (purge), and recently purged bookings (late uploads).
CREATE INDEX bookings_confirmed_by_start ON bookings (starts_at) WHERE status = 'confirmed';
CREATE INDEX bookings_to_purge_by_end ON bookings (ends_at)
    WHERE purged_at IS NULL AND status IN ('confirmed', 'cancelled', 'completed');
CREATE INDEX bookings_purged ON bookings (purged_at) WHERE purged_at IS NOT NULL;

-- +goose Down
DROP INDEX bookings_purged;
DROP INDEX bookings_to_purge_by_end;
DROP INDEX bookings_confirmed_by_start;
