"""The old home of the `supportline` command, which is `cli.main` now; nothing but the name `main`.

Kept only because tests/test_transcripts.py, pinned word for word during issue #14, imports `main`
from here. Delete this module when that test's import is moved to `cli.main`.
"""

from cli.main import main

__all__ = ["main"]
