"""Prometheus metrics at /metrics: captures, resends, queue depth, Graph throttling,
and the API's refusals over its rate limits.

Off unless METRICS_TOKEN is set; then a scrape sends it as a bearer token.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from interactions.rate_limits import Budget
from interactions.services import metrics
from web.context import rate_limits, runtime

blueprint = Blueprint("metrics", __name__)


class _Figures:
    """A collector that reads the figures once per scrape."""

    def collect(self) -> list[Metric]:
        with runtime().sessions() as session:
            found = metrics.figures(session)

        def family(name: str, text: str, label: str, values: dict[str, int]) -> Metric:
            gauge = GaugeMetricFamily(name, text, labels=[label])
            for key, value in sorted(values.items()):
                gauge.add_metric([key], value)
            return gauge

        refused = GaugeMetricFamily(
            "interactions_api_refused_requests",
            "API requests refused with 429 over a rate limit, by budget.",
            labels=["budget"],
        )
        for budget in Budget:
            refused.add_metric([budget.value], rate_limits().refusals(budget))
        throttled = GaugeMetricFamily(
            "interactions_graph_throttled_sends",
            "Sends Graph answered with 429 (Retry-After waited in full).",
            value=found.resend_attempts.get("throttled", 0),
        )
        return [
            family(
                "interactions_captures", "Captures by status.", "status", found.captures
            ),
            family(
                "interactions_resends", "Resends by status.", "status", found.resends
            ),
            family(
                "interactions_resend_attempts",
                "Calls to send, by how they ended.",
                "outcome",
                found.resend_attempts,
            ),
            family(
                "interactions_queue_depth",
                "Captures and resends a worker has yet to finish.",
                "kind",
                found.queue_depth,
            ),
            throttled,
            refused,
        ]


@blueprint.get("/metrics")
def scrape() -> Response:
    token = runtime().settings.metrics_token
    if not token:
        abort(404)
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip(), token):
        abort(401)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures())
    return Response(
        generate_latest(registry),
        mimetype="text/plain",
        headers={"Cache-Control": "no-store"},
    )
