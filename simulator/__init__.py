"""A local stand-in for Microsoft Entra ID and Graph, for the demo and the tests."""

from __future__ import annotations

from flask import Flask

from simulator import entra
from simulator.directory import Directory, demo_directory


def create_app(
    base_url: str, client_id: str, directory: Directory | None = None
) -> Flask:
    """The simulator's app, answering as if it were served at ``base_url``."""
    app = Flask(__name__)
    app.extensions["entra"] = entra.Entra(
        directory or demo_directory(), base_url.rstrip("/"), client_id
    )
    app.register_blueprint(entra.blueprint)

    return app
