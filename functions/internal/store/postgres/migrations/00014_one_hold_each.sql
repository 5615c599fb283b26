-- +goose Up
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
-- +goose StatementBegin
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
-- +goose StatementEnd

-- release_client_holds releases the live holds of client p_client beyond
-- its p_max newest, never p_keep, each with its booking.released.v1 outbox
-- row (times in zone p_time_zone). It answers how many it released.
-- +goose StatementBegin
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
-- +goose StatementEnd

-- hold_slot as in 00010, counting the request against the client's and
-- the address's limits first ('limited_client', 'limited_address'), and
-- recording the client of a hold placed, releasing its older ones.
DROP FUNCTION hold_slot(uuid, text, timestamptz, timestamptz, timestamptz, bytea, timestamptz, text, timestamptz,
    timestamptz, timestamptz, bigint, uuid, text, text, text, jsonb);
-- +goose StatementBegin
CREATE FUNCTION hold_slot(
    p_id uuid, p_service text, p_start timestamptz, p_end timestamptz, p_block_end timestamptz,
    p_secret_hash bytea, p_expires timestamptz, p_locale text, p_now timestamptz,
    p_day_start timestamptz, p_day_end timestamptz, p_version bigint,
    p_event_id uuid, p_event_type text, p_event_source text, p_event_schema text, p_event_data jsonb,
    p_client uuid, p_address text, p_max_holds integer, p_client_limit integer, p_address_limit integer,
    p_time_zone text, p_released_type text, p_released_schema text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d record;
    lapsed boolean := false;
BEGIN
    -- One client's holds one at a time: two racing requests of a client
    -- cannot both keep a hold past its limit.
    IF p_client IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('sportello.client:' || p_client::text, 0));
    END IF;
    IF count_request('client:' || p_client::text, p_now, p_client_limit) THEN
        RETURN 'limited_client';
    END IF;
    IF count_request('address:' || p_address, p_now, p_address_limit) THEN
        RETURN 'limited_address';
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('sportello.configuration', 0));
    IF (SELECT version FROM configuration) <> p_version THEN
        RETURN 'stale';
    END IF;
    FOR d IN
        WITH load AS ( -- the day's bookings of each desk, from the service's index
            SELECT b.desk_id, count(*) AS n FROM bookings b
            WHERE b.service_id = p_service AND b.status IN ('held', 'confirmed')
              AND b.starts_at >= p_day_start AND b.starts_at < p_day_end
            GROUP BY b.desk_id)
        SELECT k.id, k.label,
               EXISTS (SELECT 1 FROM bookings b
                       WHERE b.desk_id = k.id AND b.status = 'held' AND b.hold_expires_at <= p_now
                         AND b.blocks && tstzrange(p_start, p_block_end)) AS lapsed
        FROM desks k LEFT JOIN load l ON l.desk_id = k.id
        WHERE k.service_id = p_service AND k.active
          AND NOT EXISTS (
                SELECT 1 FROM bookings b
                WHERE b.desk_id = k.id AND b.status IN ('held', 'confirmed')
                  AND (b.status <> 'held' OR b.hold_expires_at > p_now)
                  AND b.blocks && tstzrange(p_start, p_block_end))
        ORDER BY coalesce(l.n, 0), random()
    LOOP
        IF d.lapsed THEN
            lapsed := true;
            CONTINUE;
        END IF;
        INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status,
                              hold_secret_hash, hold_expires_at, locale, created_at, updated_at, client_id)
        VALUES (p_id, p_service, d.id, p_start, p_end, tstzrange(p_start, p_block_end), 'held',
                p_secret_hash, p_expires, p_locale, p_now, p_now, p_client)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
            VALUES (p_event_id, p_event_type, p_event_source, p_id::text, p_event_schema, p_now,
                    jsonb_set(p_event_data, '{desk}', to_jsonb(d.label)), p_now);
            IF p_client IS NOT NULL THEN
                PERFORM release_client_holds(p_client, p_id, p_max_holds, p_now, p_time_zone,
                                             p_released_type, p_event_source, p_released_schema);
            END IF;
            RETURN 'held';
        END IF;
    END LOOP;
    IF lapsed THEN
        RETURN 'lapsed';
    END IF;
    RETURN 'taken';
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION hold_slot(uuid, text, timestamptz, timestamptz, timestamptz, bytea, timestamptz, text, timestamptz,
    timestamptz, timestamptz, bigint, uuid, text, text, text, jsonb,
    uuid, text, integer, integer, integer, text, text, text);
-- +goose StatementBegin
CREATE FUNCTION hold_slot(
    p_id uuid, p_service text, p_start timestamptz, p_end timestamptz, p_block_end timestamptz,
    p_secret_hash bytea, p_expires timestamptz, p_locale text, p_now timestamptz,
    p_day_start timestamptz, p_day_end timestamptz, p_version bigint,
    p_event_id uuid, p_event_type text, p_event_source text, p_event_schema text, p_event_data jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d record;
    lapsed boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('sportello.configuration', 0));
    IF (SELECT version FROM configuration) <> p_version THEN
        RETURN 'stale';
    END IF;
    FOR d IN
        WITH load AS ( -- the day's bookings of each desk, from the service's index
            SELECT b.desk_id, count(*) AS n FROM bookings b
            WHERE b.service_id = p_service AND b.status IN ('held', 'confirmed')
              AND b.starts_at >= p_day_start AND b.starts_at < p_day_end
            GROUP BY b.desk_id)
        SELECT k.id, k.label,
               EXISTS (SELECT 1 FROM bookings b
                       WHERE b.desk_id = k.id AND b.status = 'held' AND b.hold_expires_at <= p_now
                         AND b.blocks && tstzrange(p_start, p_block_end)) AS lapsed
        FROM desks k LEFT JOIN load l ON l.desk_id = k.id
        WHERE k.service_id = p_service AND k.active
          AND NOT EXISTS (
                SELECT 1 FROM bookings b
                WHERE b.desk_id = k.id AND b.status IN ('held', 'confirmed')
                  AND (b.status <> 'held' OR b.hold_expires_at > p_now)
                  AND b.blocks && tstzrange(p_start, p_block_end))
        ORDER BY coalesce(l.n, 0), random()
    LOOP
        IF d.lapsed THEN
            lapsed := true;
            CONTINUE;
        END IF;
        INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status,
                              hold_secret_hash, hold_expires_at, locale, created_at, updated_at)
        VALUES (p_id, p_service, d.id, p_start, p_end, tstzrange(p_start, p_block_end), 'held',
                p_secret_hash, p_expires, p_locale, p_now, p_now)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
            VALUES (p_event_id, p_event_type, p_event_source, p_id::text, p_event_schema, p_now,
                    jsonb_set(p_event_data, '{desk}', to_jsonb(d.label)), p_now);
            RETURN 'held';
        END IF;
    END LOOP;
    IF lapsed THEN
        RETURN 'lapsed';
    END IF;
    RETURN 'taken';
END $$;
-- +goose StatementEnd
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
