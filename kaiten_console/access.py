"""Who is using the console and what they may do: sign-in, roles, the gate.

With no ``[auth]`` in the secrets the console is *open*: everyone is an admin (``kaiten
console`` then serves 127.0.0.1 only) and every page says so in one quiet line. With
``[auth]`` configured, every page needs an OpenID Connect sign-in (``st.login``); the role
comes from the database (``kaiten users add EMAIL --role admin|viewer``) and is looked up on
every call, so a changed or removed role takes effect at the next click. A signed-in email
without a role gets the "no access" page.

A viewer's pages draw no form or button that writes, and :func:`console.session.kaiten`
hands a viewer a ``read_only()`` library handle: a write that slipped through (a stale
widget, a callback) is refused by the library with ``ReadOnlyError``.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

import kaiten_analytics as ka

ADMIN, VIEWER = "admin", "viewer"
OPEN_MODE_NOTE = (":material/lock_open: Open console: no sign-in is configured, so anyone "
                  "who can reach it is an admin. See the README's “Sign-in” to require one.")
ADD_USER = "kaiten users add {email} --role viewer"


def sign_in_configured() -> bool:
    """True when the secrets hold an ``[auth]`` section (what ``st.login`` reads)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signed_in_email() -> str | None:
    """The signed-in user's email claim, or None (not signed in, none given, unverified)."""
    if not st.user.get("is_logged_in", False):
        return None
    if st.user.get("email_verified") is False:  # a provider that says so is believed
        return None
    email = st.user.get("email")
    return email if isinstance(email, str) and email else None


def role(kaiten: ka.Kaiten) -> str | None:
    """The session's role: ``admin``, ``viewer``, or None (signed out, or no role).

    ``kaiten`` is the console's full handle, used for the role lookup only.
    """
    if not sign_in_configured():
        return ADMIN
    email = signed_in_email()
    return kaiten.users.role_of(email) if email else None


def providers() -> list[str | None]:
    """The providers to offer: named ``[auth.<name>]`` sections, else the one in ``[auth]``."""
    auth = st.secrets["auth"]
    named = [name for name, value in auth.items() if isinstance(value, Mapping)]
    return named or [None]


def render_sign_in() -> None:
    """The page a signed-out visitor sees: what this is and the sign-in button(s)."""
    st.title("Kaiten Analytics")
    st.write("Sign in to use the console.")
    for provider in providers():
        label = f"Sign in with {provider.capitalize()}" if provider else "Sign in"
        if st.button(label, icon=":material/login:", type="primary", key=f"login_{provider}"):
            if provider:
                st.login(provider)
            else:
                st.login()


def render_no_access(email: str | None) -> None:
    """The page a signed-in email without a role sees, naming the admin's command."""
    st.title("No access")
    if email:
        st.warning(f"You are signed in as **{email}**, which has no role in this console.",
                   icon=":material/block:")
        st.write("Ask an admin of this console to give you one:")
        st.code(ADD_USER.format(email=email.strip().lower()), language="bash")
        st.caption("`--role viewer` sees every page; `--role admin` can also change things.")
    else:
        st.warning("Your identity provider did not send a verified email address, so this "
                   "console cannot tell who you are.", icon=":material/block:")
    render_sign_out(key="no_access_sign_out")


def render_gate() -> None:
    """What a session without a role sees instead of a page: sign-in, or no access."""
    if st.user.get("is_logged_in", False):
        render_no_access(signed_in_email())
    else:
        render_sign_in()


def render_sign_out(key: str = "sign_out") -> None:
    """The Sign out button (``st.logout``)."""
    if st.button("Sign out", icon=":material/logout:", key=key):
        st.logout()


def render_account(role_: str) -> None:
    """The sidebar's account lines: who is signed in, their role, and Sign out."""
    email = signed_in_email()
    if email is None:
        return
    what = ("can change everything" if role_ == ADMIN
            else "can see every page and change nothing")
    st.caption(f"Signed in as **{email}** · {role_} ({what})")
    render_sign_out()
