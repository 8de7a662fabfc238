"""Account-link hijack (security finding): a link is made only for the browser, or the
authenticated athlete, that started it, and one vendor account belongs to one athlete.

The attack: an attacker starts linking Oura and sends the ``authUrl`` to a victim, who consents
at Oura with their own account; Oura sends the victim's browser to perfhub's callback with a
code for the attacker's state. Before the fix that linked the victim's Oura account to the
attacker, who then received the victim's nights. Each browser here is a client of its own
(its own cookie jar); consenting at the vendor is the Oura fake's authorize endpoint, acting
for whichever Oura user ``fake.oauth.authorize_as`` names. SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import Harness
from tests.fakes.oura import FakeOura, signed_delivery, sleep_doc, webhook_payload
from tests.wearables.conftest import VendorApp, consent

from perfhub.core.db import session_scope
from perfhub.readings.models import HrvDaily
from perfhub.wearables.models import OAuthState, VendorConnection

pytestmark = pytest.mark.backends("sqlite", "postgres")

DAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
PROBLEM = "application/problem+json"


@pytest.fixture
def fake() -> FakeOura:
    return FakeOura()


@pytest.fixture
def harness(vendor_app: VendorApp, fake: FakeOura) -> Iterator[Harness]:
    with vendor_app(fake) as harness:
        # Each test steps the pipeline itself (``drain``), so a backfill is seen queued.
        harness.runtime.bus.stop()
        yield harness


def browser(harness: Harness) -> TestClient:
    """Someone's browser: the same app, a cookie jar of its own."""
    return TestClient(harness.client.app)


def start(client: TestClient, athlete: dict[str, Any], **body: Any) -> tuple[str, str]:
    """POST /link with the athlete's token from ``client``; returns (authUrl, state)."""
    response = client.post("/api/v1/connections/oura/link", headers=athlete["headers"], json=body or None)
    assert response.status_code == 201, response.text
    auth_url = response.json()["authUrl"]
    return auth_url, parse_qs(urlsplit(auth_url).query)["state"][0]


def come_back(client: TestClient, query: dict[str, str]) -> httpx.Response:
    return client.get("/api/v1/connections/oura/callback", params=query)


def complete(harness: Harness, athlete: dict[str, Any], **body: Any) -> httpx.Response:
    return harness.client.post("/api/v1/connections/oura/complete", headers=athlete["headers"], json=body)


def connections(harness: Harness, athlete: dict[str, Any]) -> list[dict[str, Any]]:
    response = harness.client.get("/api/v1/connections", headers=athlete["headers"])
    assert response.status_code == 200
    return list(response.json())


def rows(harness: Harness) -> list[VendorConnection]:
    with harness.runtime.sessions() as session:
        return list(session.scalars(select(VendorConnection).order_by(VendorConnection.id)))


def code_grants(fake: FakeOura, code: str) -> int:
    return sum(1 for r in fake.calls("/oauth/token") if r.form.get("code") == code)


def link_with_cookie(harness: Harness, fake: FakeOura, athlete: dict[str, Any], oura_user: str) -> None:
    own = browser(harness)
    auth_url, _ = start(own, athlete)
    assert come_back(own, consent(fake, auth_url, oura_user)).status_code == 200


def deliver_night(harness: Harness, fake: FakeOura, oura_user: str, record_id: str, hrv: float) -> None:
    record = fake.put(oura_user, "sleep", sleep_doc(DAY, id=record_id, average_hrv=hrv))
    payload = webhook_payload("create", "sleep", record["id"], oura_user)
    headers, body = signed_delivery(payload, fake.client_secret, int(time.time()))
    assert harness.client.post("/api/v1/webhooks/oura", content=body, headers=headers).status_code == 202
    harness.drain()


def hrv_of(harness: Harness, user_id: int) -> list[float | None]:
    with harness.runtime.sessions() as session:
        return list(session.scalars(select(HrvDaily.rmssd_ms).where(HrvDaily.user_id == user_id)))


# --------------------------------------------------------------------------- the attack


def test_a_victims_consent_on_an_attackers_link_links_nothing(harness: Harness, fake: FakeOura) -> None:
    attacker, victim = harness.user(), harness.user()
    victim_oura = fake.add_user()
    attackers_browser, victims_browser = browser(harness), browser(harness)
    auth_url, state = start(attackers_browser, attacker)
    # The victim is signed in and has even started a link of their own: their browser holds a
    # link cookie, just not the one of this state.
    start(victims_browser, victim)

    back = consent(fake, auth_url, victim_oura)  # the victim consents, at Oura, as themselves
    answer = come_back(victims_browser, back)

    assert answer.status_code == 202
    pending = answer.json()
    assert pending["status"] == "pending" and pending["vendor"] == "oura"
    assert "share this with nobody" in pending["detail"]
    assert rows(harness) == []  # nobody is linked
    assert code_grants(fake, back["code"]) == 0  # the victim's code was not even exchanged
    # The attacker holds the state and their own token, but not what only the victim's
    # browser saw: without it the link is cancelled.
    refused = complete(harness, attacker, state=state)
    assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM
    assert "cancelled" in refused.json()["detail"]
    assert complete(harness, attacker, state=state, completion="a-guess-at-it").status_code == 400
    assert come_back(attackers_browser, back).status_code == 400  # and the state is spent
    with harness.runtime.sessions() as session:
        held = session.scalars(select(OAuthState).where(OAuthState.user_id == attacker["id"])).one()
        assert held.used_at is not None and held.held_code is None  # the code is forgotten
    assert connections(harness, attacker) == []
    # Oura's notifications for the victim's account reach nobody.
    deliver_night(harness, fake, victim_oura, "v-1", 61.0)
    assert hrv_of(harness, attacker["id"]) == [] and hrv_of(harness, victim["id"]) == []


def test_only_the_starter_can_complete_a_link(harness: Harness, fake: FakeOura) -> None:
    attacker, victim = harness.user(), harness.user()
    auth_url, state = start(browser(harness), attacker)
    pending = come_back(browser(harness), consent(fake, auth_url, fake.add_user())).json()

    # The victim, signed in, tries the completion their browser was shown: not theirs to
    # complete, and since it was not theirs to start either, it is cancelled for the starter.
    stranger = complete(harness, victim, state=state, completion=pending["completion"])
    assert stranger.status_code == 403 and stranger.headers["content-type"] == PROBLEM
    assert "someone tried to link your Oura account" in stranger.json()["detail"]
    late = complete(harness, attacker, state=state, completion=pending["completion"])
    assert late.status_code == 400 and "already used" in late.json()["detail"]
    assert rows(harness) == []


def test_callback_states_stay_single_use_and_unknown_ones_are_400(harness: Harness, fake: FakeOura) -> None:
    athlete = harness.user()
    own = browser(harness)
    auth_url, _ = start(own, athlete)
    back = consent(fake, auth_url, fake.add_user())
    assert come_back(own, back).status_code == 200
    again = come_back(own, back)
    assert again.status_code == 400 and again.headers["content-type"] == PROBLEM
    assert come_back(own, {"code": "x", "state": "forged-state-value"}).status_code == 400
    assert complete(harness, athlete, state="forged-state-value", completion="x").status_code == 400


# --------------------------------------------------------------------------- legitimate links


def test_the_browser_that_started_the_link_links_at_once(harness: Harness, fake: FakeOura) -> None:
    athlete = harness.user()
    oura_user = fake.add_user()
    own = browser(harness)
    response = own.post("/api/v1/connections/oura/link", headers=athlete["headers"])
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("perfhub_link_oura=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "secure" not in attributes
    assert "Path=/api/v1/connections/oura/callback" in cookie and "SameSite=lax" in cookie
    state = parse_qs(urlsplit(response.json()["authUrl"]).query)["state"][0]
    assert cookie.split(";")[0].split("=", 1)[1] not in (state, "")  # a nonce of its own

    back = consent(fake, response.json()["authUrl"], oura_user)
    linked = come_back(own, back)

    assert linked.status_code == 200 and linked.json() == {"vendor": "oura", "status": "linked"}
    cleared = linked.headers["set-cookie"]
    assert cleared.startswith("perfhub_link_oura=") and "Max-Age=0" in cleared
    (connection,) = rows(harness)
    assert connection.user_id == athlete["id"] and connection.vendor_user_id == oura_user
    assert connections(harness, athlete)[0]["backfill"]["status"] == "queued"
    harness.drain()
    deliver_night(harness, fake, oura_user, "s-1", 57.0)
    assert hrv_of(harness, athlete["id"]) == [57.0]


def test_the_link_cookie_is_secure_behind_https(vendor_app: VendorApp, fake: FakeOura) -> None:
    with vendor_app(fake, base_url="https://hub.example") as harness:
        athlete = harness.user()
        cookie = harness.client.post("/api/v1/connections/oura/link", headers=athlete["headers"]).headers[
            "set-cookie"
        ]
        assert "; Secure" in cookie and "HttpOnly" in cookie


def test_an_app_completes_its_link_with_the_completion_and_its_token(
    harness: Harness, fake: FakeOura
) -> None:
    """A phone app calls POST /link with its token and opens authUrl in an in-app browser,
    which has no cookie: the callback answers 202 there, and the app completes the link."""
    athlete = harness.user()
    oura_user = fake.add_user()
    auth_url, state = start(harness.client, athlete)
    in_app_browser = browser(harness)
    pending = come_back(in_app_browser, consent(fake, auth_url, oura_user))
    assert pending.status_code == 202 and rows(harness) == []

    done = complete(harness, athlete, state=state, completion=pending.json()["completion"])

    assert done.status_code == 200 and done.json() == {"vendor": "oura", "status": "linked"}
    listed = connections(harness, athlete)
    assert [(c["vendor"], c["status"]) for c in listed] == [("oura", "linked")]
    assert listed[0]["backfill"]["status"] == "queued"
    assert complete(harness, athlete, state=state, completion=pending.json()["completion"]).status_code == 400


def test_an_app_that_caught_the_redirect_completes_with_the_code(harness: Harness, fake: FakeOura) -> None:
    athlete = harness.user()
    oura_user = fake.add_user()
    auth_url, state = start(harness.client, athlete)
    back = consent(fake, auth_url, oura_user)  # the app caught Oura's redirect: no callback

    assert complete(harness, athlete, state=state, code=back["code"]).status_code == 200
    assert [c.vendor_user_id for c in rows(harness)] == [oura_user]


def test_a_pending_link_waits_ten_minutes_for_its_starter(harness: Harness, fake: FakeOura) -> None:
    athlete = harness.user()
    start_at = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start_at, tick=False) as clock:
        auth_url, state = start(harness.client, athlete)
        clock.shift(timedelta(minutes=9))  # the state's own 10 minutes are nearly over
        pending = come_back(browser(harness), consent(fake, auth_url, fake.add_user())).json()
        clock.shift(timedelta(minutes=10, seconds=1))  # ... and the held code's
        late = complete(harness, athlete, state=state, completion=pending["completion"])
    assert late.status_code == 400 and "expired" in late.json()["detail"]
    assert rows(harness) == []


# --------------------------------------------------------------------------- one account, one athlete


def test_a_second_athlete_linking_the_same_account_must_confirm_the_move(
    harness: Harness, fake: FakeOura
) -> None:
    first, second = harness.user(), harness.user()
    oura_user = fake.add_user()
    link_with_cookie(harness, fake, first, oura_user)  # its backfill is queued, not run
    assert connections(harness, first)[0]["backfill"]["status"] == "queued"

    seconds_browser = browser(harness)
    auth_url, state = start(seconds_browser, second)
    conflict = come_back(seconds_browser, consent(fake, auth_url, oura_user))

    assert conflict.status_code == 409 and conflict.headers["content-type"] == PROBLEM
    problem = conflict.json()
    assert problem["reason"] == "vendor_account_linked_elsewhere"
    assert (
        "linked to another perfhub athlete" in problem["detail"] and first["email"] not in problem["detail"]
    )
    assert problem["confirm"] == {
        "method": "POST",
        "path": "/api/v1/connections/oura/complete",
        "body": {"state": state, "moveExisting": True},
    }
    assert [(c.user_id, c.status) for c in rows(harness)] == [(first["id"], "linked")]  # nothing moved yet
    unconfirmed = complete(harness, second, state=state)
    assert unconfirmed.status_code == 409  # asks again, and still nothing moves
    assert [(c.user_id, c.status) for c in rows(harness)] == [(first["id"], "linked")]

    moved = complete(harness, second, **problem["confirm"]["body"])

    assert moved.status_code == 200 and moved.json() == {"vendor": "oura", "status": "linked"}
    was, now = rows(harness)
    assert (was.user_id, was.status, was.status_reason) == (first["id"], "revoked", "moved")
    assert was.access_token is None and was.refresh_token is None  # forgotten
    assert (now.user_id, now.status, now.vendor_user_id) == (second["id"], "linked", oura_user)
    (told,) = connections(harness, first)  # the previous holder learns it
    assert (told["status"], told["reason"]) == ("revoked", "moved") and told["revokedAt"] is not None
    assert told["backfill"]["status"] == "failed"
    assert told["backfill"]["error"] == "stopped: the Oura account was linked to another athlete"
    # Webhooks reach the live connection only, and the stopped backfill's chunk does nothing.
    harness.drain()
    deliver_night(harness, fake, oura_user, "s-2", 63.0)
    assert hrv_of(harness, second["id"]) == [63.0] and hrv_of(harness, first["id"]) == []
    assert connections(harness, first)[0]["backfill"]["status"] == "failed"
    assert connections(harness, second)[0]["backfill"]["status"] == "done"
    # The first athlete takes it back the same way.
    auth_url, state = start(browser(harness), first, moveExisting=True)
    back = consent(fake, auth_url, oura_user)
    pending = come_back(browser(harness), back)  # no cookie: still needs the completion
    assert complete(harness, first, state=state, completion=pending.json()["completion"]).status_code == 200
    assert [(c.user_id, c.status) for c in rows(harness)] == [
        (first["id"], "linked"),
        (second["id"], "revoked"),
    ]


def test_asking_to_move_at_the_start_moves_without_a_409(harness: Harness, fake: FakeOura) -> None:
    first, second = harness.user(), harness.user()
    oura_user = fake.add_user()
    link_with_cookie(harness, fake, first, oura_user)
    seconds_browser = browser(harness)
    auth_url, _ = start(seconds_browser, second, moveExisting=True)

    assert come_back(seconds_browser, consent(fake, auth_url, oura_user)).status_code == 200
    assert [(c.user_id, c.status) for c in rows(harness)] == [
        (first["id"], "revoked"),
        (second["id"], "linked"),
    ]


def test_an_unconfirmed_move_expires_and_its_tokens_are_forgotten(harness: Harness, fake: FakeOura) -> None:
    first, second = harness.user(), harness.user()
    oura_user = fake.add_user()
    link_with_cookie(harness, fake, first, oura_user)
    start_at = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start_at, tick=False) as clock:
        seconds_browser = browser(harness)
        auth_url, state = start(seconds_browser, second)
        assert come_back(seconds_browser, consent(fake, auth_url, oura_user)).status_code == 409
        clock.shift(timedelta(minutes=5))
        assert complete(harness, second, state=state).status_code == 409  # asking again ...
        clock.shift(timedelta(minutes=5, seconds=1))  # ... does not keep it longer
        late = complete(harness, second, state=state, moveExisting=True)
        assert late.status_code == 400 and "expired" in late.json()["detail"]
        clock.shift(timedelta(days=1))
        start(harness.client, harness.user())  # any new link sweeps old states away
    with harness.runtime.sessions() as session:
        # The attempt stays countable (who, which vendor, when); what it held is forgotten.
        (kept,) = session.scalars(select(OAuthState).where(OAuthState.user_id == second["id"])).all()
        assert kept.held_tokens is None and kept.held_code is None and kept.code_verifier is None
        assert kept.completion_hash is None and kept.browser_hash is None and kept.held_vendor_user_id is None
    assert [(c.user_id, c.status) for c in rows(harness)] == [(first["id"], "linked")]


def test_relinking_ones_own_account_is_no_move(harness: Harness, fake: FakeOura) -> None:
    athlete = harness.user()
    oura_user = fake.add_user()
    link_with_cookie(harness, fake, athlete, oura_user)
    link_with_cookie(harness, fake, athlete, oura_user)
    assert [(c.user_id, c.status) for c in rows(harness)] == [(athlete["id"], "linked")]


def test_the_database_keeps_one_live_connection_per_vendor_account(harness: Harness) -> None:
    from sqlalchemy.exc import IntegrityError

    first, second, third = harness.user(), harness.user(), harness.user()

    def add(user: dict[str, Any], status: str) -> None:
        with session_scope(harness.runtime.sessions) as session:
            session.add(
                VendorConnection(user_id=user["id"], vendor="oura", status=status, vendor_user_id="o-1")
            )

    add(first, "revoked")
    add(second, "linked")
    with pytest.raises(IntegrityError):
        add(third, "needs_relink")
    with session_scope(harness.runtime.sessions) as session:  # accounts with no id are not matched
        for user in (first, third):
            session.add(VendorConnection(user_id=user["id"], vendor="google", status="linked"))
