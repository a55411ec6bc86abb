#!/usr/bin/env bash
# Restore test: load a backup archive into a scratch database, check that it is the service's data
# and that the service can read it, then drop the scratch database. Run it monthly, and after any
# change to how backups are taken. Exit status 0 means the backup restores.
#
#   RESTORE_ADMIN_URL=postgresql://postgres@db.internal/postgres deploy/restore-test.sh [ARCHIVE]
#
# ARCHIVE defaults to the newest supportline-*.dump in BACKUP_DIR. RESTORE_ADMIN_URL is a role that
# may CREATE DATABASE (on a spare server, ideally: a restore test must not load the live one).
# SUPPORTLINE (default /opt/supportline/.venv/bin/supportline) reads the restored routing tables.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${RESTORE_ADMIN_URL:?RESTORE_ADMIN_URL is not set (a role that may create databases)}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/supportline}"
SUPPORTLINE="${SUPPORTLINE:-/opt/supportline/.venv/bin/supportline}"
archive="${1:-$(ls -1t "$BACKUP_DIR"/supportline-*.dump 2>/dev/null | head -n 1)}"
[ -n "$archive" ] && [ -f "$archive" ] || { echo "restore-test: no archive found" >&2; exit 1; }

eval "$(python3 "$here/pgenv.py" "$RESTORE_ADMIN_URL")"
scratch="supportline_restore_test_$(date -u +%Y%m%d%H%M%S)"
admin_db="${PGDATABASE:-postgres}"
cleanup() { psql -X -q -d "$admin_db" -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" || true; }
trap cleanup EXIT

psql -X -q -v ON_ERROR_STOP=1 -d "$admin_db" -c "CREATE DATABASE \"$scratch\""
started=$(date +%s)
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$scratch" "$archive"
echo "restored $archive into $scratch in $(( $(date +%s) - started )) s"

q() { psql -X -A -t -v ON_ERROR_STOP=1 -d "$scratch" -c "$1"; }
echo "schema revision: $(q 'SELECT version_num FROM alembic_version')"
for table in districts contacts advisors cases call_log audit_log incidents; do
  printf '%-12s %s rows\n' "$table" "$(q "SELECT count(*) FROM $table")"
done
[ "$(q 'SELECT count(*) FROM districts')" -gt 0 ] || { echo "restore-test: no districts: not the service's data" >&2; exit 1; }
echo "newest case: $(q 'SELECT max(created_at) FROM cases')"

# The service itself reads the restored routing tables (read-only: export writes nothing).
if [ -x "$SUPPORTLINE" ]; then
  url="postgresql+psycopg://${PGUSER:+$PGUSER${PGPASSWORD:+:$PGPASSWORD}@}${PGHOST:-localhost}${PGPORT:+:$PGPORT}/$scratch"
  DATABASE_URL="$url" "$SUPPORTLINE" export --format json > /dev/null
  echo "supportline export: the routing tables read back"
fi
echo "restore-test: OK"
