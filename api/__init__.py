"""The JSON API for supervisors and the live board (`/api/...`) and its OpenAPI document.

`bp` is the API's blueprint, and importing this package puts every route on it, in this order:
`api.views` (the line, presence, tasks, incidents, case status; it creates `bp` and the token
check `permit`), then `api.records` (cases and the call log, read only), then `api.tables` (the
routing tables and `/api/openapi.json`, described by `api.openapi`). The app factory (`webhooks.app`) registers `bp`.
"""

from api import records, tables, views

bp = views.bp

__all__ = ["bp", "records", "tables", "views"]
