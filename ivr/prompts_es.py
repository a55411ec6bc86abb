"""The Spanish (es-US) catalogue: every key of `ivr.prompts.PROMPTS`, with the same fields."""

from __future__ import annotations

PROMPTS_ES: dict[str, str] = {}
