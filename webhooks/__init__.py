"""The HTTP edge: Flask app factory, blueprints, Twilio signature checks, the `supportline` CLI.

`gunicorn 'webhooks:create_app()'` serves the whole service.
"""

from webhooks.app import create_app

__all__ = ["create_app"]
