"""Helpers for admin-console tests: accounts for every role and a signed-in browser-like client.

Use the fixtures by importing them in a test module:

    from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)

`browser.login("admin" | "supervisor" | "viewer")`, then `browser.get(path)` and
`browser.post(path, data)` (which adds the CSRF token and the Referer a real browser sends).
"""

from __future__ import annotations

import re

import pytest

from auth.admins import hash_password
from casestore.models import AdminUser
from casestore.types import AdminRole

PASSWORD = "correct horse battery staple"


@pytest.fixture
def accounts(session):
    digest = hash_password(PASSWORD)
    for role in AdminRole:
        session.add(AdminUser(username=role.value, password_hash=digest, role=role, active=True))
    session.commit()


class Browser:
    """The test client over https (the session cookie is Secure), keeping the CSRF token."""

    def __init__(self, client) -> None:
        self.client = client

    def get(self, path: str, **kw):
        return self.client.get(path, base_url="https://localhost", **kw)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            page = self.get("/admin/login" if path.startswith("/admin/login") else "/admin/advisors")
            found = re.search(
                r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.get_data(as_text=True)
            ) or re.search(
                r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)
            )
            if found:
                data["csrf_token"] = found.group(1)
        # Browsers send the Referer; Flask-WTF checks it on https (same-origin posts only).
        return self.client.post(
            path, data=data, base_url="https://localhost", headers={"Referer": "https://localhost/admin/"}, **kw
        )

    def login(self, username: str, password: str = PASSWORD):
        page = self.get("/admin/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return self.client.post(
            "/admin/login",
            base_url="https://localhost",
            headers={"Referer": "https://localhost/admin/login"},
            data={"username": username, "password": password, "csrf_token": token},
        )


@pytest.fixture
def browser(client, accounts, world):
    return Browser(client)
