"""Optional access control for a shared server (README: "Run it for a class"). Off unless configured:

- A shared access token: CONVAS_ACCESS_TOKEN in the environment, or `access_token` in .streamlit/secrets.toml.
  A visitor types it once (or opens a link with ?access=<token>); the browser then keeps a cookie holding a hash
  of it, so reloads and tabs do not ask again. Changing the token signs everyone out.
- Streamlit's OIDC login (st.login), when .streamlit/secrets.toml has an [auth] section: a visitor signs in with
  the identity provider, and their workspace follows them from browser to browser (designer.workspace.choose).

Both may be on at once: the login first, then the token.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import streamlit as st

from designer.workspace import keep_cookie, sent_cookie

ENV_TOKEN = "CONVAS_ACCESS_TOKEN"
COOKIE = "convas_access"
PARAM = "access"


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, RuntimeError, ValueError):
        return None
    except Exception:  # streamlit raises its own StreamlitSecretNotFoundError without a secrets.toml
        return None


def access_token() -> str | None:
    token = os.environ.get(ENV_TOKEN) or _secret("access_token")
    return str(token) if token else None


def login_configured() -> bool:
    return bool(_secret("auth"))


def _proof(token: str) -> str:
    """What the cookie keeps: a hash of the token, not the token."""
    return hashlib.sha256(f"convas-access:{token}".encode()).hexdigest()


def _check(typed: str | None, token: str) -> bool:
    return bool(typed) and hmac.compare_digest(typed.encode("utf-8"), token.encode("utf-8"))


def gate() -> None:
    """Let the session in, or draw a sign-in form and stop the script. Nothing else (no workspace, no file) is
    touched before a visitor is let in."""
    ss = st.session_state
    if login_configured() and not st.user.is_logged_in:
        st.title("Convas", anchor=False)
        st.write("This Convas server asks you to sign in first.")
        st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")
        st.stop()
    if login_configured():
        st.sidebar.button("Sign out", icon=":material/logout:", on_click=st.logout, width="stretch")
    token = access_token()
    if token is None:
        return
    proof = _proof(token)
    if not ss.get("access_ok"):
        sent = sent_cookie(COOKIE) or ""
        typed = st.query_params.get(PARAM)
        if typed is not None:
            del st.query_params[PARAM]  # not left in the address bar
        if hmac.compare_digest(sent.encode(), proof.encode()) or _check(typed, token):
            ss.access_ok = True
    if ss.get("access_ok"):
        with st.sidebar:
            keep_cookie(COOKIE, proof, "access_cookie")
        return
    st.title("Convas", anchor=False)
    with st.form("access_form"):
        typed = st.text_input("Access token", type="password",
                              help="The person who runs this server gives it to you.")
        if st.form_submit_button("Enter", type="primary", icon=":material/key:"):
            if _check(typed, token):
                ss.access_ok = True
                st.rerun()
            st.error("That is not this server's access token. Check it with the person who runs the server.",
                     icon=":material/key_off:")
    st.stop()
