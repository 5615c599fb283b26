-- +goose Up
-- Some services work on public holidays (an on-call registry office, a
-- test service): they ignore the holiday calendar, not their closures.
ALTER TABLE services ADD COLUMN open_on_holidays boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE services DROP COLUMN open_on_holidays;
