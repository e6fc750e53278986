#!/bin/sh
# Create the secret files docker/compose.yaml mounts (random passwords, mode 0600) unless they exist already.
# Run once before the first `docker compose up`; re-running keeps existing secrets (the databases hold them).
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
umask 077
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
keep_or_write() {  # name value
    if [ ! -s "$dir/$1" ]; then printf '%s' "$2" > "$dir/$1"; echo "created $dir/$1"; fi
}
keep_or_write postgres_password "$(random)"
keep_or_write mongo_password "$(random)"
keep_or_write redis_password "$(random)"
keep_or_write receiptcore_postgres_url "postgresql://receiptcore:$(cat "$dir/postgres_password")@postgres:5432/receiptcore"
keep_or_write receiptcore_mongo_url "mongodb://receiptcore:$(cat "$dir/mongo_password")@mongo:27017/receiptcore?authSource=admin"
keep_or_write receiptcore_redis_url "redis://:$(cat "$dir/redis_password")@redis:6379/0"
# the MAC key of list cursors: the receipt API replicas share no data dir, so they share this secret
keep_or_write receiptcore_cursor_secret "$(random)"
# the services run as uid 10001 and read the files through Docker's bind mount of each secret
chmod 644 "$dir"/postgres_password "$dir"/mongo_password "$dir"/redis_password "$dir"/receiptcore_*
echo "secrets in $dir (keep them out of version control and backups of the repository)"
