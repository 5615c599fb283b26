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

CREATE FUNCTION bump_configuration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE configuration SET version = version + 1;
    RETURN NULL;
END $$;

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

-- Then hold_slot and confirm_hold: routines/hold_slot_v1.sql, routines/confirm_hold_v1.sql.
