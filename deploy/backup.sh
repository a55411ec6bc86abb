#!/usr/bin/env bash
# Logical backup of the supportline database: one pg_dump archive (custom format, compressed),
# checked readable before it counts, then archives older than KEEP_DAYS are pruned.
#
#   DATABASE_URL=postgresql+psycopg://... BACKUP_DIR=/var/backups/supportline KEEP_DAYS=14 deploy/backup.sh
#
# Copy the archives off the host (object storage, another site): a backup on the database's own
# disk is not a backup. See docs/DEPLOY.md ("PostgreSQL backups").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${DATABASE_URL:?DATABASE_URL is not set}"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/supportline}"
KEEP_DAYS="${KEEP_DAYS:-14}"
eval "$(python3 "$here/pgenv.py" "$DATABASE_URL")"

umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$BACKUP_DIR/supportline-$stamp.dump"
partial="$BACKUP_DIR/.supportline-$stamp.dump.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --file="$partial"
pg_restore --list "$partial" > /dev/null   # a readable archive, or this run fails
mv "$partial" "$final"
find "$BACKUP_DIR" -maxdepth 1 -name 'supportline-*.dump' -mtime "+$KEEP_DAYS" -delete
echo "backup written: $final ($(du -h "$final" | cut -f1))"
