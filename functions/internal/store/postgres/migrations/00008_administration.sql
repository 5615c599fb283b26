-- +goose Up
-- Administration: offices get an address and can be deactivated. (An
-- administrator's change and a reservation racing it are kept apart by the
-- configuration lock, a transaction advisory lock: see package postgres,
-- admin.go and lockConfigurationShared.)

ALTER TABLE offices ADD COLUMN address text NOT NULL DEFAULT '' CHECK (length(address) <= 300);
ALTER TABLE offices ADD COLUMN active boolean NOT NULL DEFAULT true;

-- Closures by office: the administration's lists.
CREATE INDEX closures_office ON closures (office_id, last_day);

-- +goose Down
DROP INDEX closures_office;
ALTER TABLE offices DROP COLUMN active;
ALTER TABLE offices DROP COLUMN address;
