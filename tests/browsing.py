"""A browser played by Flask's test client (our site) and requests (the simulator)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests
from flask.testing import FlaskClient

from tests.conftest import USERS, RunningSimulator

SITE = "https://localhost"


class Forms(HTMLParser):
    """The forms of a page: their action, hidden fields and buttons with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({**found, "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and found.get("type") == "hidden":
            self.forms[-1]["fields"][found.get("name", "")] = found.get("value", "")
        elif tag == "button" and self.forms:
            self._button = {**found, "text": ""}
            self.forms[-1]["buttons"].append(self._button)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data


class Browser:
    """Just enough of a browser to walk the sign-in, our site and the simulator's."""

    def __init__(self, client: FlaskClient, simulator: RunningSimulator, ca: str):
        self.client = client
        self.simulator = requests.Session()
        self.simulator.trust_env = False
        self.simulator.verify = ca
        self.simulator_url = simulator.url

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=SITE)

    def post(self, path: str, data: dict[str, str]) -> Any:
        return self.client.post(path, data=data, base_url=SITE)

    def sign_in_page(self, start: str = "/sign-in") -> requests.Response:
        started = self.get(start)
        assert started.status_code == 302
        authorize = started.headers["Location"]
        assert authorize.startswith(self.simulator_url)
        page = self.simulator.get(authorize)
        assert page.status_code == 200, page.text
        return page

    def choose(self, page: requests.Response, label: str) -> str:
        """Press the page's button whose text or value names ``label``; our URL."""
        forms = Forms()
        forms.feed(page.text)
        for form in forms.forms:
            for button in form["buttons"]:
                if label in button["text"]:
                    data = dict(form["fields"])
                    if button.get("name"):
                        data[button["name"]] = button.get("value", "")
                    action = form.get("action") or page.url
                    if action.startswith("/"):
                        action = self.simulator_url + action
                    answer = self.simulator.post(
                        action, data=data, allow_redirects=False
                    )
                    assert answer.status_code == 302, answer.text
                    return answer.headers["Location"]

        raise AssertionError(f"no button for {label!r} on the sign-in page")

    def back_to_site(self, location: str) -> Any:
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == SITE, location
        return self.get(f"{parts.path}?{parts.query}")

    def sign_in(self, handle: str, start: str = "/sign-in") -> Any:
        location = self.choose(self.sign_in_page(start), USERS[handle].email)
        return self.back_to_site(location)
