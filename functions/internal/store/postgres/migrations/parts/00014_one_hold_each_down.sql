DROP FUNCTION hold_slot(uuid, text, timestamptz, timestamptz, timestamptz, bytea, timestamptz, text, timestamptz,
    timestamptz, timestamptz, bigint, uuid, text, text, text, jsonb,
    uuid, text, integer, integer, integer, text, text, text);
DROP FUNCTION release_client_holds;
DROP FUNCTION count_request;
DROP TABLE rate_counters;
ALTER TABLE offices DROP COLUMN holds_per_minute_per_address;
ALTER TABLE offices DROP COLUMN holds_per_minute_per_client;
ALTER TABLE offices DROP COLUMN max_holds_per_client;
DROP INDEX bookings_holds_by_client;
UPDATE bookings SET status = 'expired' WHERE status = 'released';
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('held', 'expired', 'confirmed', 'cancelled', 'completed'));
ALTER TABLE bookings DROP COLUMN client_id;
-- Then hold_slot version 1 again: routines/hold_slot_v1.sql.
