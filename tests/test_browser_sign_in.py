"""A real sign-in: the console behind OpenID Connect, driven by Chromium.

``oidc-provider-mock`` is the identity provider, a real server on a free loopback port; its
authorization form lets the test say who signs in (the subject, whose ``email`` claim is the
same unless the test stored other claims for it). ``kaiten console`` runs as a subprocess in
a start directory whose ``.streamlit/secrets.toml`` holds the ``[auth]`` table pointing at it,
so Streamlit's own ``st.login`` (Authlib) does the code flow; roles come from ``kaiten users
add``. Screenshots land in ``artifacts/screenshots/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import urllib.request
from urllib.parse import quote

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    KAITEN,
    PAGE_TIMEOUT_MS,
    build_demo,
    chromium_or_skip,
    console_server,
    free_port,
    screenshot,
    stop,
    wait_for_app,
    wait_until_answers,
)

import kaiten_analytics as ka

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ADMIN, VIEWER = "ada.admin@example.com", "victor.viewer@example.com"
STRANGER, UNVERIFIED = "sam.stranger@example.com", "una.unverified@example.com"
# every button that writes, on any page (the AppTest matrix checks each widget; here the
# browser shows what a person gets)
ADMIN_ONLY_PAGES = ["API keys", "Webhooks"]
WRITE_BUTTONS = ["New instance", "Edit", "Delete", "Create flag", "Report usage"]


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> str:
    """The identity provider's base URL: ``oidc-provider-mock`` on a free loopback port."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("provider") / "provider.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{base}/.well-known/openid-configuration", server, log_path)
        yield base
    finally:
        stop(server)


def set_claims(provider: str, subject: str, claims: dict) -> None:
    """Store the claims the provider sends for ``subject`` (its documented ``PUT /users``)."""
    request = urllib.request.Request(f"{provider}/users/{quote(subject)}", method="PUT",
                                     data=json.dumps(claims).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def kaiten(url: str, *args: str) -> str:
    """Run ``kaiten --url URL ARGS`` and return what it printed."""
    return subprocess.run([KAITEN, "--url", url, *args], check=True, capture_output=True,
                          text=True, timeout=120).stdout


@pytest.fixture(scope="module")
def console(provider, tmp_path_factory):
    """(base URL, database URL, Chromium) of ``kaiten console`` with sign-in configured."""
    executable = chromium_or_skip()
    root = tmp_path_factory.mktemp("signed-in")
    url = f"sqlite:///{root / 'kaiten.db'}"
    build_demo(url)
    assert kaiten(url, "users", "add", ADMIN, "--role", "admin").strip() == (
        f"{ADMIN} is a console admin")
    kaiten(url, "users", "add", VIEWER, "--role", "viewer")
    kaiten(url, "users", "add", UNVERIFIED, "--role", "admin")
    set_claims(provider, VIEWER, {"email": VIEWER, "email_verified": True,
                                  "name": "Victor Viewer"})
    set_claims(provider, UNVERIFIED, {"email": UNVERIFIED, "email_verified": False})

    port = free_port()
    start, home = root / "start", root / "home"
    (start / ".streamlit").mkdir(parents=True)
    home.mkdir()
    (start / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(48)}"\n'
        'client_id = "kaiten-console"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    # a home of its own: no ~/.streamlit/secrets.toml of the person running the tests
    with console_server(url, root / "console.log", cwd=start, port=port,
                        env={"HOME": str(home)}) as base:
        yield base, url, executable


@pytest.fixture(scope="module")
def browser(console):
    from playwright.sync_api import sync_playwright

    _, _, executable = console
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser session (no cookies), 1440×1000."""
    from playwright.sync_api import expect

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def open_page(page, base: str, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}{path}")
    wait_for_app(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def sign_in(page, base: str, provider: str, subject: str, shot: str | None = None) -> None:
    """Click Sign in, type ``subject`` into the provider's form, authorize, come back."""
    from playwright.sync_api import expect

    open_page(page, base, "/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider}/oauth2/authorize?*")
    expect(page.get_by_text("Client ID: kaiten-console")).to_be_visible()
    page.get_by_placeholder("sub").fill(subject)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**")
    wait_for_app(page)


def expect_signed_out(page, base: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Kaiten Analytics")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect(page.get_by_role("button", name="New instance")).to_have_count(0)


def sign_out(page, base: str, provider: str) -> None:
    """Click Sign out; end the session at the provider, which sends the browser back."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{provider}/oauth2/end_session?*")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/"))
    wait_for_app(page)


def first_slug(url: str) -> str:
    library = ka.connect(url)
    try:
        return library.instances.list()["slug"].iloc[0]
    finally:
        library.close()


def expect_no_write_button(page) -> None:
    from playwright.sync_api import expect

    for label in WRITE_BUTTONS:
        expect(page.get_by_role("button", name=label, exact=True)).to_have_count(0)


def test_an_admin_signs_in_sees_the_write_buttons_and_signs_out(console, provider, page):
    from playwright.sync_api import expect

    base, url, _ = console
    open_page(page, base, "/fleet")  # a deep link while signed out: the sign-in page
    expect_signed_out(page, base)
    expect(page.get_by_text("Sign in to use the console.")).to_be_visible()
    screenshot(page, "screenshots/signin-signed-out")

    sign_in(page, base, provider, ADMIN, shot="screenshots/signin-provider-form")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"Signed in as {ADMIN} · admin (can change everything)")
           ).to_be_visible()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    expect(page.get_by_role("button", name="New instance")).to_be_visible()
    expect(page.get_by_text("Open console")).to_have_count(0)  # sign-in is configured
    page.get_by_role("button", name="New instance").click()
    expect(page.get_by_test_id("stForm")).to_be_visible()
    wait_for_app(page)
    screenshot(page, "screenshots/signin-admin-instances")

    open_page(page, base, f"/report_usage?instance={first_slug(url)}")
    expect(page.get_by_role("button", name="Report usage")).to_be_visible()
    navigation = page.get_by_test_id("stSidebarNav")
    for title in ADMIN_ONLY_PAGES:
        expect(navigation.get_by_text(title, exact=True)).to_be_visible()
    open_page(page, base, "/api_keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()

    sign_out(page, base, provider)
    expect_signed_out(page, base)
    open_page(page, base, "/report_usage")  # the identity cookie is gone
    expect_signed_out(page, base)
    screenshot(page, "screenshots/signin-after-sign-out")
    library = ka.connect(url)
    try:
        assert library.users.role_of(ADMIN) == "admin"  # signing out changes no role
    finally:
        library.close()


def test_a_viewer_sees_every_page_without_a_write_button(console, provider, page):
    from playwright.sync_api import expect

    base, url, _ = console
    sign_in(page, base, provider, VIEWER)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"Signed in as {VIEWER} · viewer")).to_be_visible()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    expect_no_write_button(page)
    expect(page.get_by_role("button", name="View metadata")).to_be_visible()  # reads stay
    screenshot(page, "screenshots/signin-viewer-instances")

    navigation = page.get_by_test_id("stSidebarNav")
    for title in ["Customers", "Instances", "Instance detail", "Flags", "Report usage",
                  "Fleet"]:
        expect(navigation.get_by_text(title, exact=True)).to_be_visible()
    for title in ADMIN_ONLY_PAGES:
        expect(navigation.get_by_text(title, exact=True)).to_have_count(0)

    # every page of the menu (pages added later too), then the instance detail of one
    links = navigation.get_by_role("link")
    expect(links.first).to_be_visible()
    paths = [link.get_attribute("href").removeprefix(base) for link in links.all()]
    assert len(paths) >= 5 and "/fleet" in paths, paths
    slug = first_slug(url)
    for path in [*paths, f"/instance?instance={slug}"]:
        open_page(page, base, path)
        expect_no_write_button(page)
        expect(page.get_by_test_id("stSidebar").get_by_text("· viewer")).to_be_visible()
    open_page(page, base, f"/report_usage?instance={slug}")
    expect(page.get_by_text("Reporting usage needs the admin role")).to_be_visible()
    expect_no_write_button(page)
    screenshot(page, "screenshots/signin-viewer-report-usage")
    open_page(page, base, "/api_keys")  # an admin's page: not served to a viewer
    dialog = page.get_by_test_id("stDialog")
    expect(dialog.get_by_text("Page not found")).to_be_visible()
    expect(page.get_by_role("heading", name="API keys")).to_have_count(0)
    screenshot(page, "screenshots/signin-viewer-admin-page")
    dialog.get_by_label("Close").click()
    expect(dialog).to_have_count(0)

    sign_out(page, base, provider)
    expect_signed_out(page, base)


def test_an_email_without_a_role_gets_no_access_naming_the_admin_command(console, provider,
                                                                         page):
    from playwright.sync_api import expect

    base, _, _ = console
    sign_in(page, base, provider, STRANGER)
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_text(f"You are signed in as {STRANGER}")).to_be_visible()
    expect(page.get_by_test_id("stCode")).to_contain_text(
        f"kaiten users add {STRANGER} --role viewer")
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect(page.get_by_role("heading", name="Instances")).to_have_count(0)
    screenshot(page, "screenshots/signin-no-access")

    open_page(page, base, "/flags")  # a deep link gets the same page, not the flags
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_role("heading", name="Flags")).to_have_count(0)
    sign_out(page, base, provider)
    expect_signed_out(page, base)


def test_an_email_the_provider_says_is_unverified_gets_no_access(console, provider, page):
    """Even an admin's address: the provider's ``email_verified: false`` is believed."""
    from playwright.sync_api import expect

    base, _, _ = console
    sign_in(page, base, provider, UNVERIFIED)
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_text("did not send a verified email address")).to_be_visible()
    expect(page.get_by_role("button", name="New instance")).to_have_count(0)
