"""The Outlook add-in manifest for one environment, rendered from ``manifest.xml``.

Outlook loads every page and icon of an add-in from the absolute URLs in its manifest,
so each environment (the embedded run, staging, production) gets its own copy:

    python -m addin.manifest --base-url https://addin.example.com --out manifest.xml
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from interactions.config import ConfigError, load_settings

TEMPLATE_PATH = Path(__file__).with_name("manifest.xml")

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
# A DNS name or a dotted IPv4 address: a host Outlook can trust a certificate for.
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_HTTPS_PORT = 443


class ManifestError(ValueError):
    """The manifest cannot be rendered as asked; the message says why."""


def render_manifest(base_url: str, client_id: str) -> str:
    """The manifest served from ``base_url`` for the API registered as ``client_id``.

    ``base_url`` is an https origin (a trailing slash is fine, a path is not);
    ``client_id`` is the application (client) id of the API's Entra registration.
    """
    origin, host = _origin(base_url)
    values = {"BASE_URL": origin, "HOST": host, "CLIENT_ID": _client_id(client_id)}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ManifestError(f"The template has an unknown placeholder {name}.")

        # The checks above leave nothing to escape; escaping all the same keeps the
        # template safe if a later placeholder admits free text.
        return escape(values[name], {'"': "&quot;"})

    return _PLACEHOLDER.sub(fill, TEMPLATE_PATH.read_text(encoding="utf-8"))


def _origin(base_url: str) -> tuple[str, str]:
    """The normalized origin of ``base_url`` and its host (with the port, if any)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme.lower() != "https":
        raise ManifestError(
            f"The base URL must start with https:// (Outlook loads add-ins only over "
            f"https), not {base_url!r}."
        )

    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ManifestError(
            f"The base URL must be an origin such as https://addin.example.com, "
            f"without a path, query or fragment, not {base_url!r}."
        )

    hostname = parts.hostname or ""
    if parts.username is not None or not _HOSTNAME.fullmatch(hostname):
        raise ManifestError(
            f"The base URL must name a host, without a user or password, "
            f"not {base_url!r}."
        )

    try:
        port = parts.port
    except ValueError:
        raise ManifestError(f"The base URL has a bad port: {base_url!r}.") from None

    host = hostname if port in (None, _HTTPS_PORT) else f"{hostname}:{port}"

    return f"https://{host}", host


def _client_id(client_id: str) -> str:
    try:
        return str(uuid.UUID(client_id.strip()))
    except ValueError:
        raise ManifestError(
            f"The client id must be the API's application (client) id, a GUID, "
            f"not {client_id!r}."
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m addin.manifest",
        description="Write the Outlook add-in manifest for one environment.",
    )
    parser.add_argument(
        "--base-url",
        help="https origin that serves the add-in (default: https://localhost:WEB_PORT)",
    )
    parser.add_argument(
        "--client-id",
        help="the API's Entra application id (default: the API_CLIENT_ID setting)",
    )
    parser.add_argument(
        "--out", type=Path, help="file to write (default: standard output)"
    )
    args = parser.parse_args(argv)

    base_url: str | None = args.base_url
    client_id: str | None = args.client_id
    if base_url is None or client_id is None:
        # Only read the settings for what the command line leaves out, so that a
        # manifest for another environment needs nothing of this one.
        try:
            settings = load_settings()
        except ConfigError as error:
            parser.error(str(error))

        base_url = base_url or f"https://localhost:{settings.web_port}"
        client_id = client_id or settings.client_id

    try:
        manifest = render_manifest(base_url, client_id)
    except ManifestError as error:
        parser.error(str(error))

    if args.out is None:
        sys.stdout.write(manifest)
    else:
        args.out.write_text(manifest, encoding="utf-8")
        print(f"Wrote the manifest for {base_url} to {args.out}.", file=sys.stderr)

    return 0


if __name__ == "__main__":
    sys.exit(main())
