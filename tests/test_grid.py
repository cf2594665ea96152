"""A record's Interactions tab: the client roll-up, Show For Last and paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from interactions.services.grid import ShowForLast
from tests.conftest import ApiClient, Factory


def titles(api: ApiClient, record: str, **params: str) -> list[str]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = api.get(f"/api/v1/interactions?record={record}&{query}")
    assert response.status_code == 200, response.json
    return [row["title"] for row in response.json["interactions"]]


def test_a_plan_grid_is_newest_first(api: ApiClient, make: Factory) -> None:
    plan = make.plan(make.client())
    make.interaction(plan, title="older", days_ago=3)
    make.interaction(plan, title="newer", days_ago=1)
    make.interaction(make.plan(make.client("Elsewhere")), title="another plan's")

    assert titles(api, f"plan:{plan.id}") == ["newer", "older"]


def test_a_client_grid_is_the_union_of_its_plans_and_contacts(
    api: ApiClient, make: Factory
) -> None:
    client = make.client()
    plan = make.plan(client)
    second_plan = make.plan(client, "Northwind Cash Balance")
    trustee = make.contact("Trustee", client=client)
    payroll = make.contact("Payroll", plan=second_plan)
    outsider = make.contact("Outsider")
    make.interaction(plan, title="plan", days_ago=5)
    make.interaction(second_plan, title="second plan", days_ago=4)
    make.interaction(trustee, title="client contact", days_ago=3)
    make.interaction(payroll, title="plan contact", days_ago=2)
    make.interaction(plan, trustee, payroll, title="linked thrice", days_ago=1)
    make.interaction(outsider, title="not the client's")

    assert titles(api, f"client:{client.id}") == [
        "linked thrice",
        "plan contact",
        "client contact",
        "second plan",
        "plan",
    ]


def test_a_client_without_plans_or_contacts_has_an_empty_grid(
    api: ApiClient, make: Factory
) -> None:
    assert titles(api, f"client:{make.client().id}") == []


def test_a_project_has_no_grid(api: ApiClient, make: Factory) -> None:
    project = make.record("project")

    response = api.get(f"/api/v1/interactions?record=project:{project.id}")

    assert response.status_code == 422
    assert "plan" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("show_for_last", "expected"),
    [
        (None, ["1 week", "5 months"]),
        ("1m", ["1 week"]),
        ("3m", ["1 week"]),
        ("6m", ["1 week", "5 months"]),
        ("12m", ["1 week", "5 months", "11 months"]),
        ("24m", ["1 week", "5 months", "11 months", "23 months"]),
        ("all", ["1 week", "5 months", "11 months", "23 months", "3 years"]),
    ],
)
def test_show_for_last_filters_by_when_it_occurred(
    api: ApiClient, make: Factory, show_for_last: str | None, expected: list[str]
) -> None:
    plan = make.plan(make.client())
    for title, days in [
        ("1 week", 7),
        ("5 months", 152),
        ("11 months", 335),
        ("23 months", 700),
        ("3 years", 1100),
    ]:
        make.interaction(plan, title=title, days_ago=days)

    params = {"show_for_last": show_for_last} if show_for_last else {}
    response = api.get(
        f"/api/v1/interactions?record=plan:{plan.id}"
        + "".join(f"&{k}={v}" for k, v in params.items())
    )

    assert [row["title"] for row in response.json["interactions"]] == expected
    assert response.json["show_for_last"] == (show_for_last or "6m")


def test_show_for_last_rejects_other_periods(api: ApiClient, make: Factory) -> None:
    plan = make.plan(make.client())

    response = api.get(f"/api/v1/interactions?record=plan:{plan.id}&show_for_last=2m")

    assert response.status_code == 422
    assert response.json["error"]["field"] == "show_for_last"


@pytest.mark.parametrize(
    ("now", "period", "since"),
    [
        (datetime(2026, 8, 31, tzinfo=UTC), "6m", datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), "1m", datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), "24m", datetime(2024, 1, 15, tzinfo=UTC)),
    ],
)
def test_months_are_calendar_months(
    now: datetime, period: str, since: datetime
) -> None:
    assert ShowForLast(period).since(now) == since


@pytest.mark.parametrize("record_kind", ["plan", "client"])
def test_pages_follow_each_other_without_gaps(
    api: ApiClient, make: Factory, record_kind: str
) -> None:
    client = make.client()
    plan = make.plan(client)
    contact = make.contact(client=client)
    for day in range(1, 12):
        make.interaction(plan, contact, title=f"day {day}", days_ago=day)
    record = f"{record_kind}:{client.id if record_kind == 'client' else plan.id}"

    seen: list[str] = []
    cursor = None
    while True:
        suffix = f"&before={cursor}" if cursor else ""
        page = api.get(f"/api/v1/interactions?record={record}&limit=4{suffix}").json
        seen += [row["title"] for row in page["interactions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [f"day {day}" for day in range(1, 12)]


def test_a_client_grid_pages_through_ties_each_interaction_once(
    api: ApiClient, make: Factory
) -> None:
    client = make.client()
    plan = make.plan(client)
    second_plan = make.plan(client, "Northwind Cash Balance")
    trustee = make.contact("Trustee", client=client)
    payroll = make.contact("Payroll", plan=second_plan)
    members = [plan, second_plan, trustee, payroll]
    moment = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    made = []
    for number in range(9):
        # One to three members each: most interactions show on several of them.
        linked = members[number % 4 : number % 4 + 1 + number % 3]
        interaction = make.interaction(*linked, title=f"number {number}")
        interaction.occurred_at = moment
        for link in interaction.links:
            link.occurred_at = moment
        made.append(interaction)
    make.session.flush()

    seen: list[str] = []
    cursor = None
    while True:
        suffix = f"&before={cursor}" if cursor else ""
        page = api.get(
            f"/api/v1/interactions?record=client:{client.id}&show_for_last=all"
            f"&limit=2{suffix}"
        ).json
        seen += [row["title"] for row in page["interactions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    newest_first = sorted(made, key=lambda interaction: interaction.id, reverse=True)
    assert seen == [interaction.title for interaction in newest_first]


@pytest.mark.parametrize(
    ("show_for_last", "expected"),
    [("6m", ["contact's recent"]), ("all", ["contact's recent", "plan's old"])],
)
def test_a_client_grid_shows_for_last_by_when_it_occurred(
    api: ApiClient, make: Factory, show_for_last: str, expected: list[str]
) -> None:
    client = make.client()
    make.interaction(make.plan(client), title="plan's old", days_ago=400)
    make.interaction(make.contact(client=client), title="contact's recent")

    assert titles(api, f"client:{client.id}", show_for_last=show_for_last) == expected


def test_a_broken_cursor_is_refused(api: ApiClient, make: Factory) -> None:
    plan = make.plan(make.client())

    response = api.get(f"/api/v1/interactions?record=plan:{plan.id}&before=nonsense")

    assert response.status_code == 422
    assert response.json["error"]["message"] == "The page cursor is not valid."


def test_grid_rows_carry_what_the_tab_shows(api: ApiClient, make: Factory) -> None:
    plan = make.plan(make.client())
    contact = make.contact()
    interaction = make.interaction(plan, contact, title="Loan policy")
    api.post(
        f"/api/v1/interactions/{interaction.id}/participants",
        {"role": "To", "contact_id": contact.id},
    )

    row = api.get(f"/api/v1/interactions?record=plan:{plan.id}").json["interactions"][0]

    assert row["type_name"] == "Email"
    assert row["is_editable"] is True
    assert [p["display_name"] for p in row["participants"]] == ["Dana Rivera"]
    assert {link["name"] for link in row["links"]} == {
        "Northwind 401(k) Plan",
        "Dana Rivera",
    }
