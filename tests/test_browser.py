"""The console in a real headless Chromium: pages render, deep links work, the form writes.

Screenshots land in ``artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    PAGE_TIMEOUT_MS,
    build_demo,
    chromium_or_skip,
    console_server,
    screenshot,
    wait_for_app,
)

import kaiten_analytics as ka

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BROWSER_ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    """A demo SQLite database built by ``kaiten demo``."""
    path = tmp_path_factory.mktemp("browser") / "demo.db"
    url = f"sqlite:///{path}"
    build_demo(url)
    return url


@pytest.fixture(scope="module")
def console(demo_url, tmp_path_factory):
    """The base URL of ``kaiten console`` serving the demo database."""
    executable = chromium_or_skip()
    log = tmp_path_factory.mktemp("browser-log") / "console.log"
    with console_server(demo_url, log) as base:
        yield base, executable


@pytest.fixture(scope="module")
def browser(console):
    from playwright.sync_api import sync_playwright

    _, executable = console
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser session in the Berlin time zone, 1440×1000."""
    from playwright.sync_api import expect

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  timezone_id=BROWSER_ZONE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def library(demo_url):
    handle = ka.connect(demo_url)
    yield handle
    handle.close()


def open_page(page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    wait_for_app(page)
    assert_no_exception(page)


def assert_no_exception(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


def choose(container, page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (type to filter, then click)."""
    box = container.get_by_test_id("stSelectbox").filter(has_text=label)
    box.click()
    page.keyboard.type(option.split(" ")[0])
    page.get_by_role("option", name=option).click()


def test_instances_page_lists_the_demo_instances(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    open_page(page, base, "/")
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    count = len(library.instances.list())
    expect(page.get_by_text(f"{count} of {count} instances")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Time zone")).to_be_visible()
    screenshot(page, "instances")


def test_instance_detail_deep_link_shows_the_overview_in_the_browsers_zone(console, page,
                                                                           library):
    from playwright.sync_api import expect

    base, _ = console
    instance = library.instances.get(library.instances.list()["slug"].iloc[0])
    open_page(page, base, f"/instance?instance={instance.slug}")
    expect(page.get_by_role("heading", name=instance.name, exact=True)).to_be_visible()
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["Overview", "Feature Flags", "Entitlements", "Audit Trail"])
    expect(page.get_by_test_id("stMetric").first).to_be_visible()
    created = instance.created_at.astimezone(ZoneInfo(BROWSER_ZONE))
    expect(page.get_by_text(created.strftime("%Y-%m-%d %H:%M:%S %Z")).first).to_be_visible()
    screenshot(page, "instance-detail")

    page.get_by_role("tab", name="Feature Flags").click()
    expect(page).to_have_url(re.compile(r"tab=Feature"))
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "instance-flags")


def test_unknown_instance_link_says_so(console, page):
    from playwright.sync_api import expect

    base, _ = console
    open_page(page, base, "/instance?instance=no-such-instance")
    expect(page.get_by_text("instance 'no-such-instance' does not exist")).to_be_visible()


def test_create_instance_through_the_form(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    open_page(page, base, "/")
    page.get_by_role("button", name="New instance").click()
    form = page.get_by_test_id("stForm")
    expect(form).to_be_visible()
    customer = library.customers.list().iloc[0]
    license = library.licenses.list().iloc[0]
    choose(form, page, "Customer", f"{customer['name']} ({customer['slug']})")
    form.get_by_role("textbox", name="Name", exact=True).fill("Browser Edge")
    form.get_by_role("textbox", name="Description").fill("Made by the browser test")
    choose(form, page, "License", f"{license['name']} ({license['slug']})")
    form.get_by_role("textbox", name="Metadata (JSON object)").fill('{"made_by": "playwright"}')
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Created instance")).to_be_visible()
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "instances-created")

    created = library.instances.get("browser-edge")  # the slug was derived from the name
    assert (created.customer, created.license, created.description, created.metadata) == (
        customer["slug"], license["slug"], "Made by the browser test", {"made_by": "playwright"})

    # a refused input: the library's message beside the form, the input kept, nothing written
    page.get_by_role("button", name="New instance").click()
    choose(form, page, "Customer", f"{customer['name']} ({customer['slug']})")
    form.get_by_role("textbox", name="Name", exact=True).fill("Broken metadata")
    choose(form, page, "License", f"{license['name']} ({license['slug']})")
    form.get_by_role("textbox", name="Metadata (JSON object)").fill("[1]")
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_text("must be a JSON object")).to_be_visible()
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_have_value("Broken metadata")
    wait_for_app(page)
    screenshot(page, "instances-create-error")
    with pytest.raises(ka.NotFoundError):
        library.instances.get("broken-metadata")


def test_selected_row_opens_its_metadata_and_its_detail_page(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    open_page(page, base, "/")
    first = library.instances.list().iloc[0]
    grid = page.get_by_test_id("stDataFrame")
    box = grid.bounding_box()
    # the grid is a canvas: click the first row's selection box (left column, second row band)
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)
    expect(page.get_by_text(f"Selected: {first['name']} ({first['slug']})")).to_be_visible()
    page.get_by_role("button", name="View metadata").click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible()
    key = next(iter(first["metadata"]))
    expect(dialog.get_by_text(f'"{key}"').first).to_be_visible()
    wait_for_app(page)
    screenshot(page, "instances-metadata-dialog")

    dialog.get_by_label("Close").click()  # the X: the dismiss callback clears the flag
    expect(dialog).to_have_count(0)
    page.get_by_role("button", name="Open details").click()
    expect(page).to_have_url(re.compile(rf"/instance\?instance={first['slug']}$"))
    expect(page.get_by_role("heading", name=first["name"], exact=True)).to_be_visible()
    wait_for_app(page)
    assert_no_exception(page)
