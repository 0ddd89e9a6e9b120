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


def select_first_row(page) -> None:
    """Tick the first row of the page's first table (the grid is a canvas)."""
    box = page.get_by_test_id("stDataFrame").first.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)


def test_a_selection_does_not_move_to_another_row_after_a_filter_or_a_write(console, page,
                                                                              library):
    """A table selection is a row position that the browser keeps: after the rows change
    (a search, a saved edit) no row is selected, rather than whichever now sits there."""
    from playwright.sync_api import expect

    base, _ = console
    open_page(page, base, "/")
    listed = library.instances.list()
    first, other = listed.iloc[0], listed.iloc[1]
    nothing = page.get_by_text("Select a row to view its metadata", exact=False)
    select_first_row(page)
    expect(page.get_by_text(f"Selected: {first['name']} ({first['slug']})")).to_be_visible()
    search = page.get_by_role("textbox", name="Search")
    search.fill(other["slug"])
    search.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text(f"1 of {len(listed)} instances")).to_be_visible()
    expect(nothing).to_be_visible()  # not "Selected: <other>"
    expect(page.get_by_text("Selected:", exact=False)).to_have_count(0)

    select_first_row(page)
    expect(page.get_by_text(f"Selected: {other['name']} ({other['slug']})")).to_be_visible()
    page.get_by_role("button", name="Edit").click()
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Description").fill("Edited by the browser test")
    form.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Saved", exact=False).first).to_be_visible()
    wait_for_app(page)
    expect(nothing).to_be_visible()
    expect(page.get_by_text("Selected:", exact=False)).to_have_count(0)
    assert library.instances.get(other["slug"]).description == "Edited by the browser test"
    assert_no_exception(page)


def busiest_instance(library) -> str:
    """The demo instance with the most audit events (it has rejections and NUMBER usage)."""
    slugs = list(library.instances.list()["slug"])
    return max(slugs, key=lambda slug: library.audit.stats(slug).total)


def expect_drawn_charts(page, at_least: int) -> None:
    """Expect ``at_least`` Vega-Lite charts, each rendered to a canvas or an SVG."""
    from playwright.sync_api import expect

    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts.nth(at_least - 1)).to_be_visible()
    for index in range(charts.count()):
        expect(charts.nth(index).locator("canvas, svg").first).to_be_visible()


def test_audit_trail_tab_deep_link_shows_cards_charts_and_the_event_log(console, page,
                                                                        library):
    from playwright.sync_api import expect

    base, _ = console
    slug = busiest_instance(library)
    page.set_viewport_size({"width": 1440, "height": 2400})  # the whole tab in one shot
    open_page(page, base, f"/instance?instance={slug}&tab=Audit%20Trail")
    expect(page.get_by_role("tab", name="Audit Trail")).to_have_attribute("aria-selected",
                                                                         "true")
    cards = page.get_by_test_id("stMetric")
    expect(cards).to_have_count(4)
    stats = library.audit.stats(slug, tz=BROWSER_ZONE)
    expect(cards.filter(has_text="Total Events")).to_contain_text(f"{stats.total:,}")
    expect(cards.filter(has_text="Rejected")).to_contain_text(f"{stats.rejected:,}")
    expect(cards.filter(has_text="Today")).to_contain_text("Europe/Berlin")
    expect_drawn_charts(page, 2)  # the activity timeline and value over time
    log = page.get_by_test_id("stDataFrame")
    expect(log).to_be_visible()
    expect(page.get_by_text("newest first")).to_be_visible()
    expect(page.get_by_text("How it works")).to_be_visible()
    expect(page.get_by_test_id("stPagination")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "instance-audit-trail")

    # select the newest event (the grid is a canvas: its first row's selection box), open it
    newest = library.audit.events(slug, limit=1).iloc[0]
    box = log.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)
    view = page.get_by_role("button", name="View payload")
    expect(view).to_be_enabled()
    view.click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(newest["id"])).to_be_visible()
    expect(dialog.get_by_text('"aggregation_method"').or_(
        dialog.get_by_text('"entitlement"')).first).to_be_visible()
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "instance-audit-payload")
    dialog.get_by_test_id("stBaseButton-secondary").filter(has_text="Close").click()
    expect(dialog).to_have_count(0)


def test_audit_trail_filters_and_pause(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    slug = busiest_instance(library)
    open_page(page, base, f"/instance?instance={slug}&tab=Audit%20Trail")
    page.get_by_role("radio", name="7 days").click()
    expect(page.get_by_role("radio", name="7 days")).to_have_attribute("aria-checked", "true")
    wait_for_app(page)
    page.get_by_test_id("stCheckbox").filter(has_text="Live").click()  # pause the refresh
    expect(page.get_by_role("switch", name="Live")).not_to_be_checked()
    wait_for_app(page)
    choose(page, page, "Status", "Rejected")
    rejected = library.audit.count(slug, status="REJECTED")
    expect(page.get_by_text(f"of {rejected.count:,}, newest first").or_(
        page.get_by_text("No events match these filters."))).to_be_visible()
    wait_for_app(page)
    assert_no_exception(page)
    expect_drawn_charts(page, 1)


def test_entitlements_tab_shows_usage_against_limits(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    slug = busiest_instance(library)
    page.set_viewport_size({"width": 1440, "height": 2000})
    open_page(page, base, f"/instance?instance={slug}&tab=Entitlements")
    tables = page.get_by_test_id("stDataFrame")
    expect(tables.first).to_be_visible()
    summary = library.usage.summary(slug)
    expect(page.get_by_text(f"{len(summary)} entitlements in this license")).to_be_visible()
    expect_drawn_charts(page, 1)
    expect(page.get_by_text("Latest audit entries")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "instance-entitlements")


def test_audit_trail_tab_shows_a_new_report_without_a_click(console, page, library):
    from playwright.sync_api import expect

    base, _ = console
    slug = busiest_instance(library)
    open_page(page, base, f"/instance?instance={slug}&tab=Audit%20Trail")
    total = page.get_by_test_id("stMetric").filter(has_text="Total Events")
    before = library.audit.stats(slug).total
    expect(total).to_contain_text(f"{before:,}")
    entitlement = library.usage.summary(slug).query("type == 'NUMBER'")["entitlement"].iloc[0]
    library.usage.get_value(slug, entitlement)  # a read: one more event, usage unchanged
    # the Live fragment reruns every 5 s; nothing is clicked
    expect(total).to_contain_text(f"{before + 1:,}", timeout=15_000)
    assert_no_exception(page)


def test_a_deep_link_as_the_first_request_to_a_new_server_gets_the_whole_console(
        console, browser, demo_url, library, tmp_path):
    """The first page a fresh server serves is a deep link, not ``/``.

    Streamlit decides once per process whether the app uses a ``pages/`` directory (the legacy
    multipage mode); a deep link served before the router ever ran must still be routed by
    ``st.navigation``: the sidebar holds the navigation titles and the time-zone picker.
    """
    from playwright.sync_api import expect

    slug = busiest_instance(library)
    with console_server(demo_url, tmp_path / "console.log") as base:
        context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                      timezone_id=BROWSER_ZONE)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            page = context.new_page()
            open_page(page, base, f"/instance?instance={slug}&tab=Audit%20Trail")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("Time zone")).to_be_visible()
            navigation = page.get_by_test_id("stSidebarNav")
            expect(navigation.get_by_text("Instance detail")).to_be_visible()
            expect(navigation.get_by_text("streamlit app")).to_have_count(0)
            expect(page.get_by_role("tab", name="Audit Trail")).to_have_attribute(
                "aria-selected", "true")
            expect(page.get_by_test_id("stMetric")).to_have_count(4)
            screenshot(page, "deep-link-first-request")
        finally:
            context.close()
