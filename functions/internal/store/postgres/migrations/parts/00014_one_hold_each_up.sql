-- Click day, fair: one client, one hold. reserve issues every browser a
-- signed client token (a random id: no personal data) and records the
-- client of each hold (bookings.client_id). A client holds at most
-- MAX_HOLDS_PER_CLIENT slots (an office may set its own): a new hold
-- releases the oldest beyond, in the same statement, with a
-- booking.released.v1 each. DELETE /api/holds/{id} gives a hold back.
-- Holds asked for per minute are counted per client and per network
-- address in rate_counters, which every instance shares; a request over the
-- limit is refused before it touches the bookings.
ALTER TABLE bookings ADD COLUMN client_id uuid;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('held', 'expired', 'released', 'confirmed', 'cancelled', 'completed'));
CREATE INDEX bookings_holds_by_client ON bookings (client_id) WHERE status = 'held';

-- An office's own limits; NULL: the counter's defaults (reserve's
-- MAX_HOLDS_PER_CLIENT, HOLDS_PER_MINUTE_PER_CLIENT,
-- HOLDS_PER_MINUTE_PER_ADDRESS).
ALTER TABLE offices ADD COLUMN max_holds_per_client integer CHECK (max_holds_per_client BETWEEN 1 AND 100);
ALTER TABLE offices ADD COLUMN holds_per_minute_per_client integer CHECK (holds_per_minute_per_client BETWEEN 1 AND 10000);
ALTER TABLE offices ADD COLUMN holds_per_minute_per_address integer CHECK (holds_per_minute_per_address BETWEEN 1 AND 1000000);

-- Requests per key (client:<id>, address:<ip>) per minute. Unlogged: the
-- counts of the current minute are all it has to remember, and a crash
-- that empties it forgives a minute. housekeeping deletes past minutes.
CREATE UNLOGGED TABLE rate_counters (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    n            integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- count_request counts one request of key in p_now's minute and tells
-- whether it goes over p_limit. A NULL key or a limit of 0 counts nothing.
CREATE FUNCTION count_request(p_key text, p_now timestamptz, p_limit integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    used integer;
BEGIN
    IF p_key IS NULL OR coalesce(p_limit, 0) <= 0 THEN
        RETURN false;
    END IF;
    INSERT INTO rate_counters AS r (key, window_start, n) VALUES (p_key, date_trunc('minute', p_now), 1)
    ON CONFLICT (key, window_start) DO UPDATE SET n = r.n + 1
    RETURNING r.n INTO used;
    RETURN used > p_limit;
END $$;

-- release_client_holds releases the live holds of client p_client beyond
-- its p_max newest, never p_keep, each with its booking.released.v1 outbox
-- row (times in zone p_time_zone). It answers how many it released.
CREATE FUNCTION release_client_holds(p_client uuid, p_keep uuid, p_max integer, p_now timestamptz,
    p_time_zone text, p_type text, p_source text, p_schema text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    h record;
    data jsonb;
    n integer := 0;
BEGIN
    IF p_client IS NULL OR coalesce(p_max, 0) <= 0 THEN
        RETURN 0;
    END IF;
    PERFORM set_config('TimeZone', p_time_zone, true);
    FOR h IN
        SELECT b.id FROM bookings b
        WHERE b.client_id = p_client AND b.status = 'held' AND b.id <> p_keep
        ORDER BY b.created_at DESC, b.id
        OFFSET p_max - 1
    LOOP
        UPDATE bookings b SET status = 'released', updated_at = p_now
        FROM services s, desks d
        WHERE b.id = h.id AND s.id = b.service_id AND d.id = b.desk_id
        RETURNING jsonb_build_object('booking_id', b.id, 'office_id', s.office_id, 'service_id', b.service_id,
                                     'desk', d.label, 'start', to_json(b.starts_at), 'end', to_json(b.ends_at),
                                     'sequence', b.sequence, 'locale', b.locale) INTO data;
        INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
        VALUES (gen_random_uuid(), p_type, p_source, h.id::text, p_schema, p_now, data, p_now);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- hold_slot gives way to its version 2 (routines/hold_slot_v2.sql), whose
-- arguments differ.
DROP FUNCTION hold_slot(uuid, text, timestamptz, timestamptz, timestamptz, bytea, timestamptz, text, timestamptz,
    timestamptz, timestamptz, bigint, uuid, text, text, text, jsonb);
