-- hold_slot, version 1: made by migration 00010, made again by 00014's Down.
-- hold_slot places a hold of service p_service over [p_start, p_block_end)
-- on a free active desk — the least busy that day first, ties at random —
-- and writes its booking.held.v1 outbox row (p_event_data with the desk's
-- label filled in), all in the caller's one statement. It answers:
--   'held'   the hold was placed;
--   'taken'  no desk is free at that time;
--   'lapsed' the only free desks hold holds past their expiry: the caller
--            expires them (with their events) and places the hold itself;
--   'stale'  the slot was checked against configuration version p_version,
--            which is no longer current: the caller reads the service again.
-- The configuration lock is taken shared first, as by every write that
-- places a booking (see the Go store's place.go). The EXCLUDE constraint is
-- the judge: a desk taken meanwhile is skipped (ON CONFLICT DO NOTHING).
CREATE OR REPLACE FUNCTION hold_slot(
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
