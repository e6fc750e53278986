-- A user's preferences (issue 12): the ISO-4217 currency assumed for their receipts that print none; NULL follows
-- the install's RECEIPTCORE_DEFAULT_CURRENCY.
ALTER TABLE users ADD COLUMN default_currency text CHECK (default_currency ~ '^[A-Z]{3}$');
