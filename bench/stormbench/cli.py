"""The command line: the options (and their checks) and `main`, which runs the bench and turns
its failures into exit statuses (2: setup or server problem, 130: interrupted, 3: --strict and a
target missed)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from . import __doc__ as BENCH_DOC
from .run import run_bench
from .setup import use_storm_database
from .shared import STORM_DIR, BenchError, base


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=BENCH_DOC.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--calls", type=int, default=1000, help="calls in the storm (default 1000)")
    p.add_argument("--advisors", type=int, default=50, help="advisors signed in (default 50)")
    p.add_argument(
        "--arrival-seconds", type=float, default=60.0, help="the calls arrive within this many seconds (default 60)"
    )
    p.add_argument(
        "--talk",
        type=float,
        default=20.0,
        help="mean talk seconds per call, +/-50%% (default 20: a long line forms and "
        "drains in about 8 minutes with the defaults)",
    )
    p.add_argument("--wrap-up", type=float, default=2.0, help="advisors' wrap-up seconds (default 2)")
    p.add_argument(
        "--callback-share",
        type=float,
        default=0.05,
        help="share of callers who ask for a callback after 60-240 s in line (default 0.05)",
    )
    p.add_argument(
        "--hangup-share",
        type=float,
        default=0.05,
        help="share of callers who hang up after 20-180 s in line (default 0.05)",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=900.0,
        help="a caller still in line after this many seconds hangs up and counts as stuck (default 900)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for arrivals, talk and patience (default 1)")
    p.add_argument(
        "--port", type=int, default=5087, help="service port (default 5087); with --processes N, PORT..PORT+N-1"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="gunicorn services (each --workers x --threads) on one database and Redis, "
        "behind one PUBLIC_BASE_URL; requests go to them round-robin (default 1)",
    )
    p.add_argument(
        "--restart-redis-at",
        type=float,
        default=None,
        metavar="SECONDS",
        help="run on a private redis-server, SIGKILL it SECONDS into the storm and start "
        "it again, empty, --redis-downtime seconds later (default: no restart)",
    )
    p.add_argument(
        "--redis-downtime", type=float, default=3.0, help="seconds Redis stays down with --restart-redis-at (default 3)"
    )
    p.add_argument(
        "--private-redis",
        action="store_true",
        help="run on a private redis-server on a free port (implied by --restart-redis-at)",
    )
    p.add_argument(
        "--replay-wait",
        type=float,
        default=75.0,
        help="after the storm, seconds to wait at most for the worker to replay spooled "
        "call-log records (default 75: two of its 30 s sweeps)",
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    p.add_argument(
        "--dispatch-interval", type=float, default=0.5, help="seconds between dispatcher passes (default 0.5)"
    )
    p.add_argument("--progress", type=float, default=15.0, help="seconds between progress lines (default 15; 0: none)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    p.add_argument("--skip-setup", action="store_true", help="reuse the storm database and secrets of an earlier run")
    p.add_argument(
        "--strict", action="store_true", help="exit 3 when a target is missed (errors, double bookings, stuck callers)"
    )
    args = p.parse_args(argv)
    if args.calls < 1 or args.advisors < 1 or args.arrival_seconds < 0 or args.talk < 0:
        p.error("--calls and --advisors must be at least 1; --arrival-seconds and --talk not negative")
    if not 0 <= args.callback_share + args.hangup_share <= 1:
        p.error("--callback-share + --hangup-share must be between 0 and 1")
    if (
        args.processes < 1
        or (args.restart_redis_at is not None and args.restart_redis_at < 0)
        or args.redis_downtime < 0
    ):
        p.error("--processes must be at least 1; --restart-redis-at and --redis-downtime not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, base._interrupt)  # SIGTERM behaves like Ctrl-C
    use_storm_database()
    STORM_DIR.mkdir(parents=True, exist_ok=True)
    threading.stack_size(512 * 1024)  # up to --calls caller threads
    cleanup: list[Callable[[], None]] = []  # stops what was started, last first
    try:
        return run_bench(args, cleanup)
    except BenchError as exc:
        print(f"storm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("storm: interrupted", file=sys.stderr)
        return 130
    finally:
        for stop in reversed(cleanup):
            stop()
