"""Print `export PG...=...` lines for a SQLAlchemy-style DATABASE_URL, for libpq tools (pg_dump,
pg_restore, psql): they do not know the `+psycopg` driver suffix, and a password passed in the
environment stays out of the process list. Used by backup.sh and restore-test.sh.

    eval "$(python3 deploy/pgenv.py "$DATABASE_URL")"
"""

import shlex
import sys
from urllib.parse import parse_qsl, unquote, urlsplit


def main(url: str) -> None:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit(f"not a PostgreSQL URL: {parts.scheme}://...")
    values = {
        "PGHOST": parts.hostname or "",
        "PGPORT": str(parts.port or ""),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for key, value in parse_qsl(parts.query):
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "host"):
            values["PG" + ("CONNECT_TIMEOUT" if key == "connect_timeout" else key.upper())] = value
    for key, value in values.items():
        if value:
            print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main(sys.argv[1])
