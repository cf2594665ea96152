"""A local stand-in for Microsoft Entra ID and Graph, for the demo and the tests."""

from __future__ import annotations

from flask import Flask

from interactions.config import DEMO_CLIENT_SECRET
from simulator import entra, graph
from simulator.directory import Directory, demo_directory


def create_app(
    base_url: str,
    client_id: str,
    directory: Directory | None = None,
    client_secret: str = DEMO_CLIENT_SECRET,
) -> Flask:
    """The simulator's app, answering as if it were served at ``base_url``."""
    app = Flask(__name__)
    state = entra.Entra(
        directory or demo_directory(),
        base_url.rstrip("/"),
        client_id,
        client_secret=client_secret,
    )
    app.extensions["entra"] = state
    app.register_blueprint(entra.blueprint)
    graph.init_app(app, state)

    return app
