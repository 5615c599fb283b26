-- hold_slot, version 5: made by migration 00020.
-- hold_slot looks for a lapsed hold on a desk only when its insert there
-- is refused, instead of for every free desk before trying it: a lapsed
-- hold in the way is rare (housekeeping marks them expired every minute),
-- and the look was a GiST probe of its own for each free desk, about
-- 37 µs of PostgreSQL's time each (pgbench, one client, generic plans: a
-- hold placed on a 3-desk service from 0.75-0.79 to 0.64-0.69 ms). The
-- outcome is the same: the insert cannot succeed where a lapsed hold
-- overlaps, since the EXCLUDE constraint covers every held row, and a
-- desk with one is passed over for the next; 'lapsed' when no desk took
-- the hold and one had a lapsed hold in the way.
CREATE OR REPLACE FUNCTION hold_slot(
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
    over_client boolean;
    over_address boolean;
BEGIN
    -- One client's holds one at a time: two racing requests of a client
    -- cannot both keep a hold past its limit (a new client has none).
    IF p_client IS NOT NULL AND p_max_holds > 0 THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('sportello.client:' || p_client::text, 0));
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('sportello.configuration', 0));
    IF (SELECT version FROM configuration) <> p_version THEN
        RETURN 'stale';
    END IF;
    FOR d IN
        -- The free desks, the least busy that day first: the day's load is
        -- counted only for a desk found free (on a click day most requests
        -- find none, and count nothing).
        SELECT k.id, k.label
        FROM desks k
        WHERE k.service_id = p_service AND k.active
          AND NOT EXISTS (
                SELECT 1 FROM bookings b
                WHERE b.desk_id = k.id AND b.status IN ('held', 'confirmed')
                  AND (b.status <> 'held' OR b.hold_expires_at > p_now)
                  AND b.blocks && tstzrange(p_start, p_block_end))
        ORDER BY (SELECT count(*) FROM bookings b
                  WHERE b.desk_id = k.id AND b.status IN ('held', 'confirmed')
                    AND b.blocks && tstzrange(p_day_start, p_day_end)), random()
    LOOP
        INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status,
                              hold_secret_hash, hold_expires_at, locale, created_at, updated_at, client_id)
        VALUES (p_id, p_service, d.id, p_start, p_end, tstzrange(p_start, p_block_end), 'held',
                p_secret_hash, p_expires, p_locale, p_now, p_now, p_client)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            -- The hold counts against the client's and the address's holds
            -- of this minute, in one statement; over either, it goes again.
            WITH c AS (
                INSERT INTO rate_counters AS r (key, window_start, n)
                SELECT k, date_trunc('minute', p_now), 1
                FROM (VALUES (CASE WHEN p_client_limit > 0 THEN 'client:' || p_client::text END),
                             (CASE WHEN p_address_limit > 0 THEN 'address:' || p_address END)) v(k)
                WHERE k IS NOT NULL
                ON CONFLICT (key, window_start) DO UPDATE SET n = r.n + 1
                RETURNING r.key, r.n)
            SELECT coalesce(bool_or(c.key LIKE 'client:%' AND c.n > p_client_limit), false),
                   coalesce(bool_or(c.key LIKE 'address:%' AND c.n > p_address_limit), false)
              INTO over_client, over_address
              FROM c;
            IF over_client OR over_address THEN
                DELETE FROM bookings WHERE id = p_id;
                RETURN CASE WHEN over_client THEN 'limited_client' ELSE 'limited_address' END;
            END IF;
            INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
            VALUES (p_event_id, p_event_type, p_event_source, p_id::text, p_event_schema, p_now,
                    jsonb_set(p_event_data, '{desk}', to_jsonb(d.label)), p_now);
            IF p_client IS NOT NULL THEN
                PERFORM release_client_holds(p_client, p_id, p_max_holds, p_now, p_time_zone,
                                             p_released_type, p_event_source, p_released_schema);
            END IF;
            RETURN 'held';
        END IF;
        -- Refused: a racing hold got there first, or a lapsed one is in
        -- the way (a hold past its expiry is still in the EXCLUDE
        -- constraint until it is marked expired).
        IF EXISTS (SELECT 1 FROM bookings b
                   WHERE b.desk_id = d.id AND b.status = 'held' AND b.hold_expires_at <= p_now
                     AND b.blocks && tstzrange(p_start, p_block_end)) THEN
            lapsed := true;
        END IF;
    END LOOP;
    IF lapsed THEN
        RETURN 'lapsed';
    END IF;
    RETURN 'taken';
END $$;
