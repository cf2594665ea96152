"""The admin page's own pages; for now the home page, which says who you are."""

from __future__ import annotations

from flask import Blueprint, render_template, session

from interactions.errors import Unauthenticated
from interactions.models import Right
from interactions.services.access import Actor, actor_for
from web.context import db
from web.signin import USER

blueprint = Blueprint("pages", __name__)


def page_actor() -> Actor | None:
    """The signed-in person with their rights as they are now, or None."""
    user: dict[str, str] | None = session.get(USER)
    if user is None:
        return None

    try:
        return actor_for(db(), user["tenant_id"], user["object_id"])
    except Unauthenticated:
        # Deactivated or removed since signing in.
        session.clear()
        return None


@blueprint.get("/")
def home() -> str:
    actor = page_actor()
    if actor is None:
        return render_template("welcome.html")

    return render_template(
        "home.html",
        actor=actor,
        rights=[right.value for right in Right if right in actor.rights],
    )
