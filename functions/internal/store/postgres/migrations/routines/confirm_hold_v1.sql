-- confirm_hold, version 1: made by migration 00010, made again by 00012's Down.
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
CREATE OR REPLACE FUNCTION confirm_hold(
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
