"""Sign-in with Microsoft: the two legs of the authorisation-code flow.

``/login/microsoft`` starts it (MSAL makes the state, nonce and PKCE verifier) and sends the
browser to the identity platform; ``/auth/callback`` is the redirect URI it comes back to.

The flow is kept between the legs in a cookie of its own, signed, lasting ten minutes and
sent only to the callback with ``SameSite=Lax``: the session cookie is ``Strict``, so the
browser does not send it on the way back from another site. For the same reason the
callback answers with a page that moves on by itself (``meta refresh``, no script): a
redirect would still belong to the cross-site navigation, and the new session cookie
would not be sent with it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from mobilise.core.errors import NotAuthenticated, NotFound
from mobilise.core.oidc import EntraSignIn
from mobilise.people import logins
from mobilise.web.auth import db, public_route
from mobilise.web.pages.render import login_choices, page

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "mobilise_signin"
FLOW_SECONDS = 600
CALLBACK = "/auth/callback"


def entra(request: Request) -> EntraSignIn:
    sign_in: EntraSignIn | None = getattr(request.app.state, "entra", None)
    if sign_in is None:
        sign_in = request.app.state.entra = EntraSignIn(request.app.state.settings)
    if not sign_in.enabled:
        raise NotFound("sign-in with Microsoft is not configured here")
    return sign_in


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = request.app.state.settings.secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="mobilise-entra-sign-in")


def safe_next(target: str) -> str:
    """Only a path on this site: never an address elsewhere (an open redirect)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@router.get("/login/microsoft", dependencies=[Depends(public_route)])
def start_sign_in(request: Request, next: str = "/") -> Response:
    settings = request.app.state.settings
    redirect_uri = settings.entra_redirect_uri or str(request.url_for("entra_callback"))
    auth_uri, flow = entra(request).begin(redirect_uri)
    response = RedirectResponse(auth_uri, status_code=303)
    response.set_cookie(FLOW_COOKIE, _serializer(request).dumps({**flow, "next": safe_next(next)}),
                        max_age=FLOW_SECONDS, path=CALLBACK, httponly=True,
                        secure=settings.secure_cookies, samesite="lax")
    return response


def _flow(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(FLOW_COOKIE)
    if not raw:
        raise NotAuthenticated("this sign-in was not started here, or took longer than ten "
                               "minutes: start again")
    try:
        flow: dict[str, Any] = _serializer(request).loads(raw, max_age=FLOW_SECONDS)
    except BadSignature as exc:
        raise NotAuthenticated("this sign-in was not started here, or took longer than ten "
                               "minutes: start again") from exc
    return flow


@router.get(CALLBACK, name="entra_callback", dependencies=[Depends(public_route)])
def finish_sign_in(request: Request, session: Session = Depends(db, scope="function")
                   ) -> Response:
    sign_in = entra(request)
    address = request.client.host if request.client else None
    try:
        flow = _flow(request)
        identity = sign_in.finish(flow, dict(request.query_params))
        user = logins.sign_in_with_entra(session, identity, request.app.state.settings,
                                         address)
    except NotAuthenticated as err:
        session.commit()  # keep the refusal's audit entry
        answer = page(request, "login.html", status_code=401, error=err.message, next="/",
                      **login_choices(request))
        answer.delete_cookie(FLOW_COOKIE, path=CALLBACK)
        return answer
    session.commit()  # the login exists before its session does
    request.session.clear()  # a fresh session on sign-in: no fixation
    request.session["user_id"] = user.id
    request.session["epoch"] = user.session_epoch
    answer = page(request, "signed_in.html", target=landing(flow.get("next", "/"), user))
    answer.delete_cookie(FLOW_COOKIE, path=CALLBACK)
    return answer


def landing(target: str, user: Any) -> str:
    """Where a sign-in goes: where it was asked to; an officer with no staff role, from
    the overview (which needs one) to their own page."""
    target = safe_next(str(target))
    if target == "/" and not user.roles and user.person_id is not None:
        return "/me"
    return target

