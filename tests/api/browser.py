"""Headless Debian chromium (``/usr/bin/chromium``) driven by Playwright, for the dashboard tests.

Never ``playwright install``: the system browser is launched by path with the flags CI uses.
"""

from __future__ import annotations

from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def new_page(browser, timeout_ms: int = 15_000):
    """A page in a fresh context (browser in UTC: the dashboard must label site time anyway); page errors and
    failed requests (except aborted ones) fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: None if "ABORTED" in (req.failure or "") else errors.append(
        f"request failed: {req.url} {req.failure}"))
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def fill_token(page, token: str) -> None:
    """On the sign-in page: open "sign in with an API token" and paste ``token``."""
    page.click("#token-box summary")
    page.fill("#token", token)


def login(page, url: str, token: str, target: str = "/", password: str | None = None) -> None:
    """Open ``target``, get sent to the sign-in page, sign in (``token`` is the user name when ``password`` is
    given, else an API token), land on ``target``."""
    page.goto(url + target)
    assert page.url.startswith(url + "/login?next=")
    if password is None:
        fill_token(page, token)
    else:
        page.fill("#user", token)
        page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(url + target)
