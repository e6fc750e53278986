-- The transactional outbox: a user change and its domain event commit together; the relay publishes unsent rows
-- to the event bus after commit and marks them sent (at least once).
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    event jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
