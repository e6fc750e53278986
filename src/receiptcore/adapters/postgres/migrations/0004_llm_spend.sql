-- The LLM spend ledger: USD booked per UTC day by every extractor of every worker host, against one daily cap.
CREATE TABLE llm_spend (
    day date PRIMARY KEY,
    usd numeric NOT NULL CHECK (usd >= 0)
);
