"""Console sign-in and roles (AppTest): open mode, signed out, no role, viewer, admin.

Sign-in itself (``st.login``) needs a real identity provider and browser: that is
``tests/test_browser_sign_in.py``. Here ``at.user`` plays the signed-in user and
``at.secrets["auth"]`` the configured sign-in, as Streamlit's AppTest documents. The
page-by-page matrices run on SQLite only (the role lookup is tested on both engines in
``test_users.py``, and the refusals below run on both).
"""

from __future__ import annotations

import pytest
from console_support import INSTANCE_PAGE, texts
from streamlit.testing.v1 import AppTest

from kaiten_console import page_paths

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "c0ffee" * 8,
    "client_id": "kaiten-console",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ADMIN, VIEWER, STRANGER = "ada@example.com", "victor@example.com", "sam@example.com"
ADMIN_PAGES = [page_paths.API_KEYS, page_paths.WEBHOOKS]  # not in a viewer's navigation
VIEWER_PAGES = [page_paths.INSTANCES, INSTANCE_PAGE, page_paths.FLAGS, page_paths.REPORT_USAGE,
                page_paths.FLEET, page_paths.CUSTOMERS, page_paths.CUSTOMER]
PAGES = VIEWER_PAGES + ADMIN_PAGES
INSTANCE_TABS = ["Overview", "Feature Flags", "Entitlements", "Audit Trail"]
# every button or form submit that writes, on any page
WRITE_LABELS = {"New instance", "Edit", "Delete", "Create", "Save changes", "Delete instance",
                "Enable", "Disable", "Delete for good", "Create flag", "Report usage",
                "New customer", "Create customer", "Create key", "Revoke", "Revoke key",
                "Add endpoint", "Send test event", "Rotate secret", "Remove",
                "Remove endpoint", "Retry"}


@pytest.fixture
def console(catalogue, console_for):
    """The catalogue with a flag and two console users; ``make(user)`` opens the console."""
    catalogue.flags.create("new-billing", "New billing", "boolean", False)
    catalogue.users.add(ADMIN, "admin")
    catalogue.users.add(VIEWER, "viewer")

    def make(email: str | None, sign_in: bool = True) -> AppTest:
        at = console_for(catalogue)
        if sign_in:
            at.secrets["auth"] = dict(AUTH)
            at.user = ({"is_logged_in": True, "email": email, "email_verified": True}
                       if email else {"is_logged_in": False})
        return at

    return make


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the console, then open ``page`` (the detail page on acme-prod, report usage too;
    the customer detail on acme)."""
    at.run()
    if page in (INSTANCE_PAGE, page_paths.REPORT_USAGE):
        at.query_params["instance"] = "acme-prod"
    if page == page_paths.CUSTOMER:
        at.query_params["customer"] = "acme"
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def write_widgets(at: AppTest) -> set[str]:
    """The labels of the write buttons and form submits the run drew, and "(form)" for any
    form (no read on any page is a form)."""
    labels = {button.label for button in at.button} & WRITE_LABELS
    return labels | ({"(form)"} if at.get("form") else set())


def all_text(at: AppTest) -> str:
    return " ".join(texts(at.markdown) + texts(at.caption) + texts(at.warning) + texts(at.info)
                    + texts(at.title) + [code.value for code in at.code])


@pytest.mark.parametrize("page", PAGES)
def test_open_mode_says_anyone_is_an_admin_on_every_page_sqlite_only(console, page):
    at = open_page(console(None, sign_in=False), page)
    assert any("anyone who can reach it is an admin" in c for c in texts(at.caption))
    assert "Sign out" not in texts(at.button)


@pytest.mark.parametrize("page", PAGES)
def test_signed_out_visitor_gets_the_sign_in_page_on_every_page_sqlite_only(console, page):
    at = open_page(console(None), page)
    assert texts(at.title) == ["Kaiten Analytics"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and not write_widgets(at)


@pytest.mark.parametrize("page", PAGES)
def test_email_without_a_role_gets_no_access_naming_the_admin_command_sqlite_only(console, page):
    at = open_page(console(STRANGER.upper()), page)
    assert texts(at.title) == ["No access"]
    assert [code.value for code in at.code] == [f"kaiten users add {STRANGER} --role viewer"]
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.dataframe and not write_widgets(at)


def test_unverified_email_gets_no_access_even_with_a_role(console):
    at = console(ADMIN)
    at.user = {"is_logged_in": True, "email": ADMIN, "email_verified": False}
    at.run()
    assert texts(at.title) == ["No access"]
    assert "did not send a verified email" in all_text(at)


@pytest.mark.parametrize("page", VIEWER_PAGES)
def test_viewer_sees_every_page_without_anything_that_writes_sqlite_only(console, page):
    at = open_page(console(VIEWER), page)
    assert texts(at.title) and texts(at.title) != ["No access"]
    assert write_widgets(at) == set()
    assert not any("anyone who can reach it" in c for c in texts(at.caption))


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_viewer_has_no_admin_page_and_its_script_refuses_one_sqlite_only(console, page):
    at = console(VIEWER).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)  # a viewer's navigation does not declare it
    # and the page itself, run however it is reached, draws nothing that writes
    direct = AppTest.from_file(page, default_timeout=30)
    direct.secrets, direct.user = at.secrets, at.user
    direct.run()
    assert not direct.exception, [e.value for e in direct.exception]
    assert "managed by admins" in all_text(direct)
    assert write_widgets(direct) == set() and not direct.dataframe


@pytest.mark.parametrize("page", PAGES)
def test_admin_sees_every_page_and_its_writes_sqlite_only(console, page):
    at = open_page(console(ADMIN), page)
    expected = {page_paths.INSTANCES: {"New instance", "Edit", "Delete"},
                page_paths.FLAGS: {"Create flag"},
                page_paths.REPORT_USAGE: {"Report usage"},
                page_paths.CUSTOMERS: {"New customer"},
                page_paths.CUSTOMER: {"New instance", "Edit", "Delete"},
                page_paths.API_KEYS: {"Create key"},
                page_paths.WEBHOOKS: {"Add endpoint"}}.get(page, set())
    assert expected <= write_widgets(at)
    assert texts(at.title) and texts(at.title) != ["No access"]


def test_viewer_sees_each_instance_tab_and_the_flag_rules_read_only_sqlite_only(console):
    at = open_page(console(VIEWER), INSTANCE_PAGE)
    for tab in INSTANCE_TABS:
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception and write_widgets(at) == set(), tab
    flags = open_page(console(VIEWER), page_paths.FLAGS)
    assert [tab.label for tab in flags.tabs] == ["Rules", "Exposure"]
    assert flags.selectbox(key="flag").options == ["New billing (new-billing)"]
    report = open_page(console(VIEWER), page_paths.REPORT_USAGE)
    assert "Reporting usage needs the admin role" in all_text(report)


def test_viewer_asking_for_a_form_through_session_state_gets_none(console, catalogue):
    at = console(VIEWER)
    at.session_state["instances_mode"] = "delete"
    at.session_state["instances_target"] = "acme-prod"
    at.run()
    assert write_widgets(at) == set()
    assert "acme-prod" in set(catalogue.instances.list()["slug"])


def test_a_write_from_a_demoted_admins_stale_button_is_refused_by_the_library(console,
                                                                              catalogue):
    at = open_page(console(ADMIN), page_paths.FLAGS)
    at.selectbox(key="flag").set_value("new-billing").run()
    disable = next(button for button in at.button if button.label == "Disable")
    catalogue.users.add(ADMIN, "viewer")  # demoted while the page is open
    disable.click()
    at.run()
    assert catalogue.flags.get("new-billing").enabled is True
    assert any("read-only" in error.value for error in at.error)


def viewer_session_script():
    import streamlit as st

    import kaiten_analytics as ka
    from kaiten_console import session

    try:
        session.kaiten().instances.delete("acme-prod")
    except ka.ReadOnlyError as error:
        st.error(f"refused: {error}")
    else:
        st.success("deleted")


@pytest.mark.parametrize(("email", "outcome"), [(VIEWER, "refused"), (ADMIN, "deleted")])
def test_the_consoles_handle_refuses_a_viewers_write(console, catalogue, email, outcome):
    base = console(email)
    at = AppTest.from_function(viewer_session_script, default_timeout=30)
    at.secrets, at.user = base.secrets, base.user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at.error) + texts(at.success)
    assert [text.split(":")[0] for text in shown] == [outcome]
    live = set(catalogue.instances.list()["slug"])
    assert ("acme-prod" in live) is (outcome == "refused")


def test_sidebar_names_the_user_and_sign_out_signs_out(console):
    at = console(VIEWER).run()
    assert any(VIEWER in caption and "viewer" in caption for caption in texts(at.sidebar.caption))
    sign_out = [button for button in at.sidebar.button if button.label == "Sign out"]
    assert len(sign_out) == 1
    sign_out[0].click()
    at.run()
    assert at.user == {"is_logged_in": False}
    at.run()  # the browser reloads after the logout redirect
    assert [b.label for b in at.button] == ["Sign in"]


def test_removed_role_takes_effect_at_the_next_run(console, catalogue):
    at = console(VIEWER).run()
    assert texts(at.title) == ["Instances"]
    catalogue.users.remove(VIEWER)
    at.run()
    assert texts(at.title) == ["No access"]
