-- confirm_hold, version 2: made by migration 00012.
-- confirm_hold finds the hold by its key alone. Its UPDATE named the hold's
-- status and expiry too, and PostgreSQL's generic plan for it (the one a
-- plpgsql function keeps after five calls) could pick the index of live
-- holds by expiry, bookings_holds_by_expiry, and read every live hold to
-- find one: measured, a confirmation cost 330 µs of database CPU instead
-- of 180, and more with every hold taken on a click day.
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
    -- The booking by its key alone, locked. With the hold's other
    -- conditions in the WHERE clause, a generic plan may scan
    -- bookings_holds_by_expiry (hold_expires_at > p_now) and so read every
    -- live hold: on a click day, thousands for each confirmation.
    SELECT * INTO b FROM bookings WHERE bookings.id = p_id FOR UPDATE;
    IF NOT FOUND OR b.hold_secret_hash <> p_secret_hash THEN
        RETURN;
    END IF;
    IF b.status = 'held' AND b.hold_expires_at > p_now THEN
        UPDATE bookings SET status = 'confirmed', locale = p_locale,
               given_name = p_given_name, family_name = p_family_name, address = p_address, email = p_email,
               reason = p_reason, details = p_details, privacy_consent_at = p_now, confirmed_at = p_now, updated_at = p_now
        WHERE bookings.id = p_id
        RETURNING * INTO b;
        result := 'confirmed';
        INSERT INTO manage_tokens (token_hash, booking_id, issued_by, issued_at)
        VALUES (p_token_hash, p_id, p_issued_by, p_now);
    ELSE
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
