"""What every admin page shares: the message page and the security headers."""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from web.context import runtime

#: What a page view answers: a page, a page with its status, or a redirect.
Page = str | tuple[str, int] | BaseResponse


def message_page(
    title: str, message: str, status: int, action: tuple[str, str] | None = None
) -> tuple[str, int]:
    """A page that says one thing, with one way on (a label and a URL)."""
    return render_template(
        "message.html", title=title, message=message, action=action
    ), status


#: Sent by the page's script that shows the slider over the page.
SLIDER_HEADER = "X-Slider"


def register(app: Flask) -> None:
    @app.after_request
    def hand_redirects_to_the_slider(response: Response) -> Response:
        """A redirect after the slider saved goes to its script, which follows it
        with a page load: fetch would follow it itself, and consume the page's
        flashed message on the way."""
        if request.headers.get(SLIDER_HEADER) and 300 <= response.status_code < 400:
            response.headers["X-Location"] = response.headers.pop("Location")
            response.status_code = 204
            response.set_data(b"")
        return response

    @app.after_request
    def secure_pages(response: Response) -> Response:
        # The add-in sets its own policy: Outlook frames it.
        if response.mimetype == "text/html" and "Content-Security-Policy" not in (
            response.headers
        ):
            authority = runtime().settings.authority_host
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                f"base-uri 'none'; form-action 'self' {authority}"
            )
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
