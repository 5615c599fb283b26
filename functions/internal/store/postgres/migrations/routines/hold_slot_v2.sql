-- hold_slot, version 2: made by migration 00014, made again by 00016's Down.
-- hold_slot as in 00010, counting the request against the client's and
-- the address's limits first ('limited_client', 'limited_address'), and
-- recording the client of a hold placed, releasing its older ones.
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
