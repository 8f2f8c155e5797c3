"""The browser's side of workspaces (engine.workspace): which workspace a session works in, the cookie that keeps
it across reloads and tabs, and share links.

A session takes its workspace from the cookie `convas_ws` its browser sent (st.context.cookies: the cookies of the
request that opened the session). A browser without it (a newcomer) gets a new workspace, and a tiny Components v2
element (inline JavaScript, no iframe) stores the id in the cookie, so the next reload and every other tab of that
browser open the same workspace. A cookie rather than a query parameter: the id is a bearer secret and must not
travel with a copied URL. Cookies are per browser, so tabs share a workspace and two browsers (or a private window)
do not.

A share link is the app's URL with ?share=<token>: it opens a copy of the design (engine.workspace.Workspaces.
share_design) in whoever's workspace opens it, and the parameter is removed again.
"""
from __future__ import annotations

from functools import cache

import streamlit as st

from engine.workspace import Workspace, WorkspaceError, Workspaces

COOKIE = "convas_ws"
COOKIE_DAYS = 400  # browsers cap a cookie's life at 400 days
SHARE_PARAM = "share"

_JS = """
export default function (component) {
  const { data } = component;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${data.name}=${data.value}; Path=/; Max-Age=${data.max_age}; SameSite=Lax${secure}`;
}
"""


@cache
def _cookie_setter():
    return st.components.v2.component("convas.workspace_cookie", js=_JS)


def sent_cookie(name: str) -> str | None:
    """The cookie the browser sent when it opened this session, or None (also without a browser behind it)."""
    try:
        value = st.context.cookies.get(name)
    except (AttributeError, RuntimeError):
        return None
    return value if isinstance(value, str) else None


def browser_workspace_id() -> str | None:
    """The workspace id this browser sent, as it came (engine.workspace validates it before any use)."""
    return sent_cookie(COOKIE)


def signed_in_user() -> str | None:
    """Who signed in through Streamlit's OIDC login (st.login), as issuer|subject; None without a login."""
    try:
        if not st.user.is_logged_in:
            return None
        return f"{st.user.get('iss', '')}|{st.user.get('sub', '')}"
    except (AttributeError, KeyError, RuntimeError):
        return None


def choose(wss: Workspaces) -> Workspace:
    """The session's workspace: with an OIDC login, the signed-in person's (from any browser); else the one the
    browser's cookie names; else a new one."""
    user = signed_in_user()
    if user:
        return wss.for_user(user)
    return wss.open(browser_workspace_id())


def keep_cookie(name: str, value: str, key: str) -> None:
    """Have the browser keep a cookie (mounted only while the cookie it sent says otherwise). `value` must be
    cookie-safe (hex here)."""
    if sent_cookie(name) != value:
        _cookie_setter()(key=key, data={"name": name, "value": value, "max_age": COOKIE_DAYS * 86400})


def remember(ws: Workspace) -> None:
    """Have the browser keep the workspace id, so reloads and its other tabs open the same workspace."""
    keep_cookie(COOKIE, ws.id, "workspace_cookie")


def share_url(token: str, page: str = "") -> str:
    """The link for a share token: the app's address (a page of it, for a run) with ?share=<token>."""
    base = (st.context.url or "").rstrip("/")
    return f"{base}/{page}?{SHARE_PARAM}={token}"


def shared_item(wss: Workspaces) -> tuple[dict | None, str | None]:
    """What a ?share= link in this session's URL names ({kind: "design", graph} or {kind: "run", run_dir}), or
    (None, why not); (None, None) when the URL has none. The parameter is removed, so a reload does not open the
    copy again."""
    token = st.query_params.get(SHARE_PARAM)
    if token is None:
        return None, None
    del st.query_params[SHARE_PARAM]
    try:
        return wss.shared(token), None
    except WorkspaceError as e:
        return None, str(e)
