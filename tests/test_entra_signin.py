"""Signing in with MSAL's authorization-code flow and PKCE against the simulator.

The test plays the browser: it opens the sign-in page MSAL points at, presses a demo
user's button and hands the redirect back to MSAL, as the web admin page will.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import jwt
import lxml.html
import msal
import pytest
import requests

import simulator
from interactions.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from simulator.client import SimulatorSession
from simulator.directory import Directory, DirectoryUser
from tests.conftest import ACME, USERS, RunningSimulator
from web.devcert import LocalTLS

REDIRECT_URI = "https://localhost:3000/auth/callback"
API_SCOPE = f"api://{DEMO_CLIENT_ID}/access_as_user"


@pytest.fixture
def browser(
    running_simulator: RunningSimulator, tls: LocalTLS
) -> Iterator[requests.Session]:
    """A session that trusts the simulator, as a browser (and MSAL) would."""
    with SimulatorSession(running_simulator.url, str(tls.ca_path)) as session:
        yield session


def application(
    simulator_url: str,
    http_client: requests.Session,
    tenant: str = "organizations",
    client_id: str = DEMO_CLIENT_ID,
) -> Any:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=DEMO_CLIENT_SECRET,
        authority=f"{simulator_url}/{tenant}",
        instance_discovery=False,  # no asking login.microsoftonline.com
        http_client=http_client,
    )


@pytest.fixture
def msal_app(running_simulator: RunningSimulator, browser: requests.Session) -> Any:
    return application(running_simulator.url, browser)


def start(app: Any, scopes: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Start MSAL's flow; form_post unless told, as MSAL recommends (and warns)."""
    kwargs.setdefault("response_mode", "form_post")
    flow: dict[str, Any] = app.initiate_auth_code_flow(
        scopes or [], redirect_uri=REDIRECT_URI, **kwargs
    )
    return flow


def edited(uri: str, **changes: str | None) -> str:
    """``uri`` with query parameters replaced, or removed where the value is None."""
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query)) | changes
    kept = {name: value for name, value in query.items() if value is not None}
    return urlunsplit(parts._replace(query=urlencode(kept)))


def answer_of(response: requests.Response) -> dict[str, str]:
    """What the browser brings back to the redirect URI: a redirect's query, or the
    fields of the form that posts itself there."""
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith(REDIRECT_URI + "?")
        return dict(parse_qsl(urlsplit(location).query))

    form = sign_in_form(response)
    assert (form.method, form.action) == ("POST", REDIRECT_URI)
    return dict(form.form_values())


def sign_in_form(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return lxml.html.fromstring(response.text).forms[0]


def button_names(form: Any) -> list[str]:
    """The names on the user buttons, in order."""
    return [
        button.xpath("string(span[1])")
        for button in form.xpath(".//button[@name='object_id']")
    ]


def press(
    browser: requests.Session, auth_uri: str, button: dict[str, str]
) -> requests.Response:
    """Open the sign-in page and press a button; the answer, not followed."""
    page = browser.get(auth_uri)
    form = sign_in_form(page)
    fields = dict(form.form_values()) | button
    return browser.post(
        urljoin(page.url, form.action), data=fields, allow_redirects=False
    )


def choose(user: DirectoryUser) -> dict[str, str]:
    return {"object_id": user.object_id}


CANCEL = {"cancel": "true"}


def signed_in(
    app: Any, browser: requests.Session, handle: str = "admin", **kwargs: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """A started flow and the auth response the browser brought back for it."""
    flow = start(app, **kwargs)
    return flow, answer_of(press(browser, flow["auth_uri"], choose(USERS[handle])))


# -- signing in ------------------------------------------------------------------


@pytest.mark.parametrize("handle", ["admin", "other"])
def test_signing_in_gives_the_users_identity_and_the_nonce(
    msal_app: Any, browser: requests.Session, handle: str
) -> None:
    flow, auth_response = signed_in(msal_app, browser, handle)

    # MSAL itself refuses an id token whose nonce is not the one it sent.
    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)

    claims = result["id_token_claims"]
    user = USERS[handle]
    assert (claims["oid"], claims["tid"]) == (user.object_id, user.tenant.tenant_id)
    assert claims["aud"] == DEMO_CLIENT_ID
    assert claims["nonce"] == dict(parse_qsl(urlsplit(flow["auth_uri"]).query))["nonce"]


def test_the_id_token_issuer_fits_the_multi_tenant_discovery(
    msal_app: Any,
    browser: requests.Session,
    running_simulator: RunningSimulator,
) -> None:
    flow, auth_response = signed_in(msal_app, browser, "other")
    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)
    discovery = browser.get(
        f"{running_simulator.url}/organizations/v2.0/.well-known/openid-configuration"
    ).json()

    claims = running_simulator.entra.keys.verify(
        result["id_token"],
        DEMO_CLIENT_ID,
        discovery["issuer"].replace("{tenantid}", result["id_token_claims"]["tid"]),
    )

    assert claims["oid"] == USERS["other"].object_id


@pytest.mark.parametrize(
    ("scopes", "audience", "scp"),
    [
        ([], DEMO_CLIENT_ID, ""),
        ([API_SCOPE], DEMO_CLIENT_ID, "access_as_user"),
        (["User.Read"], "https://graph.microsoft.com", "User.Read"),
    ],
)
def test_the_access_token_is_for_the_scopes_asked(
    msal_app: Any,
    browser: requests.Session,
    scopes: list[str],
    audience: str,
    scp: str,
) -> None:
    flow, auth_response = signed_in(msal_app, browser, scopes=scopes)

    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)

    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["scp"]) == (audience, scp)


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")
@pytest.mark.parametrize("mode", ["form_post", "query"])
def test_the_answer_comes_in_the_response_mode_asked(
    msal_app: Any, browser: requests.Session, mode: str
) -> None:
    flow = start(msal_app, response_mode=mode)

    response = press(browser, flow["auth_uri"], choose(USERS["admin"]))

    assert response.status_code == {"form_post": 200, "query": 302}[mode]
    result = msal_app.acquire_token_by_auth_code_flow(flow, answer_of(response))
    assert result["id_token_claims"]["oid"] == USERS["admin"].object_id


# -- the token endpoint's refusals ---------------------------------------------------


def test_a_tampered_code_verifier_is_refused(
    msal_app: Any, browser: requests.Session
) -> None:
    flow, auth_response = signed_in(msal_app, browser)
    flow["code_verifier"] = "x" * 43

    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert result["error"] == "invalid_grant"
    assert "AADSTS501481" in result["error_description"]


def redeem(
    app: Any, sim: RunningSimulator, flow: dict[str, Any], answer: dict[str, str]
) -> None:
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), answer)


def expire(
    app: Any, sim: RunningSimulator, flow: dict[str, Any], answer: dict[str, str]
) -> None:
    sim.entra.authorization_codes[answer["code"]].expires_at = 0


@pytest.mark.parametrize("spoil", [redeem, expire], ids=["used", "expired"])
def test_a_spent_code_is_refused(
    msal_app: Any,
    browser: requests.Session,
    running_simulator: RunningSimulator,
    spoil: Any,
) -> None:
    flow, auth_response = signed_in(msal_app, browser)
    spoil(msal_app, running_simulator, flow, auth_response)

    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert result["error"] == "invalid_grant"
    assert "AADSTS70008" in result["error_description"]


def test_a_different_redirect_uri_is_refused(
    msal_app: Any, browser: requests.Session
) -> None:
    flow, auth_response = signed_in(msal_app, browser)
    flow["redirect_uri"] = "https://localhost:3000/elsewhere"

    result = msal_app.acquire_token_by_auth_code_flow(flow, auth_response)

    assert result["error"] == "invalid_grant"
    assert "AADSTS50011" in result["error_description"]


def test_a_code_is_not_redeemed_without_the_client_secret(
    msal_app: Any, browser: requests.Session, running_simulator: RunningSimulator
) -> None:
    flow, auth_response = signed_in(msal_app, browser)

    response = browser.post(
        f"{running_simulator.url}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": DEMO_CLIENT_ID,
            "code": auth_response["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["code_verifier"],
        },
    )

    assert response.status_code == 401
    assert "AADSTS7000218" in response.json()["error_description"]


# -- the authorize endpoint's refusals -----------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, "AADSTS700016"),
        ({"redirect_uri": "http://attacker.example/callback"}, "AADSTS50011"),
        ({"redirect_uri": "javascript:alert(1)"}, "AADSTS50011"),
    ],
)
def test_an_unknown_client_or_unsafe_redirect_gets_a_page_not_a_redirect(
    msal_app: Any, browser: requests.Session, changes: dict[str, str], code: str
) -> None:
    response = browser.get(
        edited(start(msal_app)["auth_uri"], **changes), allow_redirects=False
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert code in response.text


def test_an_unknown_tenant_gets_a_page(
    running_simulator: RunningSimulator, browser: requests.Session
) -> None:
    app = application(running_simulator.url, browser, tenant="consumers")

    response = browser.get(start(app)["auth_uri"], allow_redirects=False)

    assert response.status_code == 400
    assert "AADSTS90002" in response.text


@pytest.mark.parametrize(
    "changes",
    [{"code_challenge": None}, {"code_challenge_method": "plain"}],
    ids=["no challenge", "plain"],
)
def test_a_request_without_s256_pkce_is_sent_back_as_invalid(
    msal_app: Any, browser: requests.Session, changes: dict[str, str | None]
) -> None:
    flow = start(msal_app)

    response = browser.get(edited(flow["auth_uri"], **changes), allow_redirects=False)

    answer = answer_of(response)
    assert answer["error"] == "invalid_request"
    assert answer["state"] == flow["state"]
    assert "code_challenge" in answer["error_description"]


def test_cancel_sends_back_access_denied(
    msal_app: Any, browser: requests.Session
) -> None:
    flow = start(msal_app)

    answer = answer_of(press(browser, flow["auth_uri"], CANCEL))

    assert msal_app.acquire_token_by_auth_code_flow(flow, answer)["error"] == (
        "access_denied"
    )


def test_an_unknown_sign_in_request_gets_a_page(
    msal_app: Any, browser: requests.Session, running_simulator: RunningSimulator
) -> None:
    response = browser.post(
        f"{running_simulator.url}/organizations/oauth2/v2.0/authorize",
        data={"request_id": "forged", "object_id": USERS["admin"].object_id},
        allow_redirects=False,
    )

    assert response.status_code == 400
    assert "not found or has expired" in response.text


def test_a_sign_in_page_is_answered_once(
    msal_app: Any, browser: requests.Session
) -> None:
    page = browser.get(start(msal_app)["auth_uri"])
    form = sign_in_form(page)
    fields = dict(form.form_values()) | choose(USERS["admin"])
    action = urljoin(page.url, form.action)
    assert "code" in answer_of(browser.post(action, data=fields, allow_redirects=False))

    again = browser.post(action, data=fields, allow_redirects=False)

    assert again.status_code == 400


# -- the sign-in page ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "handles"),
    [
        (ACME.tenant_id, ["admin", "editor", "deleter", "reader"]),
        ("organizations", list(USERS)),
        ("common", list(USERS)),
    ],
)
def test_the_sign_in_page_lists_who_may_sign_in_at_the_authority(
    running_simulator: RunningSimulator,
    browser: requests.Session,
    tenant: str,
    handles: list[str],
) -> None:
    app = application(running_simulator.url, browser, tenant=tenant)

    page = browser.get(start(app)["auth_uri"])

    assert "<title>Sign in — Microsoft Entra ID simulator</title>" in page.text
    assert sorted(button_names(sign_in_form(page))) == sorted(
        USERS[handle].name for handle in handles
    )


def test_the_login_hint_comes_first(msal_app: Any, browser: requests.Session) -> None:
    page = browser.get(start(msal_app, login_hint=USERS["reader"].email)["auth_uri"])

    assert button_names(sign_in_form(page))[0] == USERS["reader"].name


def test_the_sign_in_page_escapes_what_it_shows() -> None:
    mallory = DirectoryUser(
        ACME,
        "7d3c4b0e-1111-4222-8333-444455556666",
        "mallory@acme.test",
        "<script>alert(1)</script>",
        "secret",
        (),
    )
    app = simulator.create_app("https://sim.test", DEMO_CLIENT_ID, Directory([mallory]))
    query = {
        "client_id": DEMO_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }

    page = app.test_client().get(
        f"/{ACME.tenant_id}/oauth2/v2.0/authorize?{urlencode(query)}"
    )

    text = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# -- discovery and signing out -------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "issuer_tenant"),
    [
        ("organizations", "{tenantid}"),
        ("common", "{tenantid}"),
        (ACME.tenant_id, ACME.tenant_id),
    ],
)
def test_discovery_names_the_issuer_and_the_logout_endpoint(
    running_simulator: RunningSimulator,
    browser: requests.Session,
    tenant: str,
    issuer_tenant: str,
) -> None:
    url = running_simulator.url

    discovery = browser.get(f"{url}/{tenant}/v2.0/.well-known/openid-configuration")

    assert discovery.json()["issuer"] == f"{url}/{issuer_tenant}/v2.0"
    assert discovery.json()["end_session_endpoint"] == (
        f"{url}/{tenant}/oauth2/v2.0/logout"
    )


@pytest.mark.parametrize(
    ("return_to", "linked"),
    [
        ("https://localhost:3000/", True),
        ("http://localhost:3000/", True),
        ("https://admin.example.com/signed-out", True),
        ("http://attacker.example/", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_the_logout_page_links_back_only_to_a_safe_address(
    running_simulator: RunningSimulator,
    browser: requests.Session,
    return_to: str | None,
    linked: bool,
) -> None:
    query = {} if return_to is None else {"post_logout_redirect_uri": return_to}

    page = browser.get(
        f"{running_simulator.url}/organizations/oauth2/v2.0/logout", params=query
    )

    assert page.status_code == 200
    assert "You are signed out" in page.text
    links = lxml.html.fromstring(page.text).xpath("//a/@href")
    assert links == ([return_to] if linked else [])
