-- +goose Up
-- Delivered events are forgotten after OUTBOX_RETENTION (housekeeping,
-- Store.ForgetDelivered): this index finds them oldest first without
-- reading the whole outbox every tick. Partial, so a new event (not yet
-- delivered) writes no entry in it: the request that emits one pays
-- nothing for it; the relay's update that marks it delivered does. On an
-- outbox already large the build holds writes to it for a moment (about a
-- second for a million delivered rows).
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP INDEX outbox_delivered;
