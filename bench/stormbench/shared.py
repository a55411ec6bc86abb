"""What every part of the storm bench shares: where bench/calls.py and the fake carrier come from,
and the names of the storm's own database, Redis db, folder and the service's Redis keys it reads.

bench/calls.py is imported as the module `calls` (as `base`: its setup helpers, servers, signed
transport and percentiles; bench/ is on sys.path because Python puts the running script's folder
there, `python bench/storm.py`) and the fake Twilio REST server from `twilio_doubles.fake_twilio`
(installed with the project, `pip install -e .`). Every other module of the package imports them
from here. Nothing edits sys.path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import calls as base  # bench/calls.py (bench/ is on sys.path: storm.py runs from it): setup, servers, figures

from twilio_doubles.fake_twilio import FakeTwilio, Posted

ROOT = Path(__file__).resolve().parent.parent.parent

__all__ = [
    "AFTER_TALKING",
    "DB_NAME",
    "DEMO_CONTACT_ID",
    "LINE_KEY",
    "MAX_RESTARTS",
    "OFFER_KEYS",
    "PRESENCE_KEY",
    "PRESENCE_REGISTRY",
    "REDIS_DB",
    "ROOT",
    "STORM_DIR",
    "BenchError",
    "FakeTwilio",
    "Posted",
    "base",
]


DB_NAME = "supportline_storm"
REDIS_DB = 13
STORM_DIR = Path(tempfile.gettempdir()) / "supportline_storm"
DEMO_CONTACT_ID = "104233"  # Dana Whitfield: her number and PIN are read from the demo file

MAX_RESTARTS = 3  # times a caller goes back through the greeting; the next time they hang up
AFTER_TALKING = "sent back to the greeting after talking"  # a CallRecord note: the caller hung up

# The service's Redis keys the bench reads.
LINE_KEY = "{sl:queue}:line"
OFFER_KEYS = "{sl:queue}:offer:*"
PRESENCE_KEY = "{{sl:presence}}:advisor:{}"
PRESENCE_REGISTRY = "{sl:presence}:advisors"  # advisors with a presence record (routing.presence)

BenchError = base.BenchError
