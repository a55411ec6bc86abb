"""The Twilio-facing HTTP edge and the app factory: voice, SMS and paging webhooks, Twilio
signature checks, the fallback URL, health, metrics and logs; `create_app` registers the console
(`console/`) and the JSON API (`api/`) beside them.

`gunicorn 'webhooks:create_app()'` serves the whole service.
"""

from webhooks.app import create_app

__all__ = ["create_app"]
