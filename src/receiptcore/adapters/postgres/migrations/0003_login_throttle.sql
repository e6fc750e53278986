-- Login attempt counters (the ThrottleStore port), shared by every auth instance: N wrong passwords spread over
-- several instances slow an account down exactly as they would on one.
CREATE TABLE login_throttle (
    key bytea PRIMARY KEY,  -- the key's UTF-8 bytes: keys are opaque, and text cannot hold a NUL
    attempts integer NOT NULL,
    last_at timestamptz NOT NULL,
    forget_at timestamptz NOT NULL
);
CREATE INDEX login_throttle_forget_at ON login_throttle (forget_at);
