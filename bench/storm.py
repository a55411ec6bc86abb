#!/usr/bin/env python
"""Outage storm benchmark: `python bench/storm.py [options]` (see --help).

The bench itself is the package bench/stormbench/: its docstring says what it measures and how to
run it, and lists its parts (setup, services, callers, the run, figures, report, options).
"""

from __future__ import annotations

import sys

from stormbench.cli import main  # bench/ is sys.path[0] when this file is run

if __name__ == "__main__":
    sys.exit(main())
