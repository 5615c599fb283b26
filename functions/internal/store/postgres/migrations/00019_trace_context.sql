-- +goose Up
-- The trace context of the request that wrote an event (issue 15), in its
-- W3C text form, so that the relay sends it as the CloudEvents
-- distributed-tracing extension and the consumer's spans join that trace.
-- Go code writes the columns itself (outbox.Write); the server-side
-- functions (hold_slot, confirm_hold, release_client_holds) leave them to
-- these defaults, which read what the store set for the transaction with
-- set_config('sportello.traceparent', …, true). Unset, or when tracing is
-- off: NULL. current_setting is stable, so existing rows are not rewritten.
ALTER TABLE outbox
    ADD COLUMN traceparent text DEFAULT NULLIF(current_setting('sportello.traceparent', true), ''),
    ADD COLUMN tracestate  text DEFAULT NULLIF(current_setting('sportello.tracestate', true), '');

-- +goose Down
ALTER TABLE outbox DROP COLUMN traceparent, DROP COLUMN tracestate;
