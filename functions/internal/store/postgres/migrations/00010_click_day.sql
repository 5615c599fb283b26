-- +goose Up
-- Click day: a hold and a confirmation in one round trip each.

-- Fewer indexes on bookings, so that confirming a hold (an update no index
-- can skip: its status is in their predicates) writes five index entries,
-- not seven. The service's bookings by start serve the calendar (held and
-- confirmed) and the agenda (confirmed and completed) alike; the bookings
-- by end not yet purged serve the purge and the no-shows alike.
DROP INDEX bookings_agenda;
DROP INDEX bookings_active_by_service;
CREATE INDEX bookings_by_service ON bookings (service_id, starts_at) WHERE status IN ('held', 'confirmed', 'completed');
DROP INDEX bookings_confirmed_by_end;
--
-- The configuration version. Every change to what can be booked (offices,
-- services, desks, opening hours, closures) bumps it in its own
-- transaction, whoever makes it (the administration, the demo data, a
-- migration, psql). Functions keep the services they read in memory with
-- the version they read them at; hold_slot refuses to place a hold checked
-- against an older version ('stale'), and the function reads the service
-- again.
CREATE TABLE configuration (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO configuration (version) VALUES (1);

-- +goose StatementBegin
CREATE FUNCTION bump_configuration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE configuration SET version = version + 1;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER offices_configuration AFTER INSERT OR UPDATE OR DELETE ON offices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_configuration();
CREATE TRIGGER services_configuration AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION bump_configuration();
CREATE TRIGGER desks_configuration AFTER INSERT OR UPDATE OR DELETE ON desks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_configuration();
CREATE TRIGGER opening_hours_configuration AFTER INSERT OR UPDATE OR DELETE ON opening_hours
    FOR EACH STATEMENT EXECUTE FUNCTION bump_configuration();
CREATE TRIGGER closures_configuration AFTER INSERT OR UPDATE OR DELETE ON closures
    FOR EACH STATEMENT EXECUTE FUNCTION bump_configuration();

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

-- confirm_hold turns the hold p_id, whose secret hashes to p_secret_hash,
-- into a confirmed booking of the citizen given, with a manage token
-- (p_token_hash), its booking.confirmed.v1 outbox row and its audit row,
-- in one statement. The event's data are the booking as events carry it,
-- its times written in the zone p_time_zone. It answers one row: the
-- result, then the booking as the store's recordSelect reads it.
--   'confirmed' the hold is now a booking;
--   'again'     the hold was confirmed before with exactly these data: a
--               retry after a lost answer. A new manage token is issued;
--               nothing else is written (no second event, no second mail);
--   'conflict'  it was confirmed before with other data, or has ended;
--   'expired'   the hold lapsed.
-- No hold with this id and secret: no row.
-- +goose StatementBegin
CREATE FUNCTION confirm_hold(
    p_id uuid, p_secret_hash bytea, p_token_hash bytea, p_issued_by text, p_now timestamptz,
    p_locale text, p_given_name text, p_family_name text, p_address text, p_email text,
    p_reason text, p_details text, p_time_zone text,
    p_event_id uuid, p_event_type text, p_event_source text, p_event_schema text)
RETURNS TABLE (
    result text, id uuid, service_id text, office_id text, service_name text, office_name text,
    what_to_bring text, cancel_cutoff_minutes integer, desk_id bigint, desk text,
    starts_at timestamptz, ends_at timestamptz, hold_expires_at timestamptz, status text,
    hold_secret_hash bytea, sequence integer, locale text, given_name text, family_name text,
    address text, email text, reason text, details text, confirmed_at timestamptz, cancelled_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    b bookings%ROWTYPE;
    svc record;
    data jsonb;
BEGIN
    -- The common case first, in one statement: a live hold of this secret.
    UPDATE bookings SET status = 'confirmed', locale = p_locale,
           given_name = p_given_name, family_name = p_family_name, address = p_address, email = p_email,
           reason = p_reason, details = p_details, privacy_consent_at = p_now, confirmed_at = p_now, updated_at = p_now
    WHERE bookings.id = p_id AND bookings.hold_secret_hash = p_secret_hash
      AND bookings.status = 'held' AND bookings.hold_expires_at > p_now
    RETURNING * INTO b;
    IF FOUND THEN
        result := 'confirmed';
        INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at)
        VALUES (p_token_hash, p_id, p_issued_by, p_now);
    ELSE
        SELECT * INTO b FROM bookings WHERE bookings.id = p_id AND bookings.hold_secret_hash = p_secret_hash FOR UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        IF b.status = 'confirmed' AND b.purged_at IS NULL AND b.locale = p_locale
           AND b.given_name = p_given_name AND b.family_name = p_family_name AND b.address = p_address
           AND b.email = p_email AND b.reason = p_reason AND b.details = p_details THEN
            INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at)
            VALUES (p_token_hash, p_id, p_issued_by, p_now);
            result := 'again';
        ELSIF b.status IN ('confirmed', 'completed', 'cancelled') THEN
            result := 'conflict';
        ELSE
            result := 'expired';
        END IF;
    END IF;
    SELECT s.office_id, s.name AS service_name, o.name AS office_name, s.what_to_bring, s.cancel_cutoff_minutes, d.label
      INTO svc
      FROM services s JOIN offices o ON o.id = s.office_id, desks d
     WHERE s.id = b.service_id AND d.id = b.desk_id;
    IF result = 'confirmed' THEN
        PERFORM set_config('TimeZone', p_time_zone, true);
        data := jsonb_build_object('booking_id', b.id, 'office_id', svc.office_id, 'service_id', b.service_id,
                                   'desk', svc.label, 'start', to_json(b.starts_at), 'end', to_json(b.ends_at),
                                   'sequence', b.sequence, 'locale', b.locale);
        INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
        VALUES (p_event_id, p_event_type, p_event_source, p_id::text, p_event_schema, p_now, data, p_now);
        INSERT INTO audit_log (at, actor_kind, actor_id, action, target_kind, target_id, office_id, detail)
        VALUES (p_now, 'citizen', NULL, 'booking.confirmed', 'booking', p_id::text, svc.office_id, data);
    END IF;
    RETURN QUERY SELECT result, b.id, b.service_id, svc.office_id, svc.service_name, svc.office_name, svc.what_to_bring,
        svc.cancel_cutoff_minutes, b.desk_id, svc.label, b.starts_at, b.ends_at, b.hold_expires_at, b.status,
        b.hold_secret_hash, b.sequence, b.locale, b.given_name, b.family_name, b.address, b.email,
        b.reason, b.details, b.confirmed_at, b.cancelled_at;
END $$;
-- +goose StatementEnd

-- +goose Down
CREATE INDEX bookings_confirmed_by_end ON bookings (ends_at) WHERE status = 'confirmed';
DROP INDEX bookings_by_service;
CREATE INDEX bookings_active_by_service ON bookings (service_id, starts_at) WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_agenda ON bookings (service_id, starts_at) WHERE status IN ('confirmed', 'completed');
DROP FUNCTION confirm_hold;
DROP FUNCTION hold_slot;
DROP TRIGGER closures_configuration ON closures;
DROP TRIGGER opening_hours_configuration ON opening_hours;
DROP TRIGGER desks_configuration ON desks;
DROP TRIGGER services_configuration ON services;
DROP TRIGGER offices_configuration ON offices;
DROP FUNCTION bump_configuration;
DROP TABLE configuration;
