"""The benchmarks draw their results: a PNG from the JSON each one prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

GRID = [
    {
        "name": f"client roll-up, {window}",
        "target_p95_ms": 50,
        "first_call": {"p95_ms": p95},
        "hundredth_call": {"p95_ms": p95 / 2},
    }
    for window, p95 in (("last 6 months", 12.5), ("all", 30.1))
]
CAPTURE = [
    {
        "name": "capture accept rate vs baseline",
        "figures": {
            "ratio": 0.52,
            "capture": {"round_rates": [410.0, 398.5, 402.0]},
            "baseline": {"round_rates": [790.0, 801.2, 776.9]},
        },
    },
    {
        "name": "capture to stored latency",
        "figures": {
            "round_medians_ms": [21.0, 22.4, 20.9],
            "round_p95s_ms": [27.1, 29.0, 26.5],
        },
    },
    {
        "name": "worker normalize and store throughput",
        "figures": {"rate": 216.0, "round_rates": [214.2, 216.0, 230.1]},
    },
]
RESEND = {
    "resends": 1000,
    "mailboxes": 100,
    "sends_per_second": 39.0,
    "max_concurrent_requests_per_mailbox": 4,
    "max_concurrent_requests_limit": 4,
    "max_sends_per_minute_per_mailbox": 30,
    "max_sends_per_minute_limit": 30,
}


@pytest.mark.parametrize(
    ("name", "results"), [("grid", GRID), ("capture", CAPTURE), ("resend", RESEND)]
)
def test_each_benchmark_draws_a_png(name: str, results: Any, tmp_path: Path) -> None:
    png = tmp_path / "figures" / f"{name}.png"

    plots.DRAWINGS[name](results, png)

    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert png.stat().st_size > 10_000


def test_a_saved_run_is_drawn_again_from_its_json(tmp_path: Path) -> None:
    saved = tmp_path / "capture.json"
    saved.write_text(json.dumps(CAPTURE[2:]))
    png = tmp_path / "capture.png"

    assert plots.main(["capture", str(saved), str(png)]) == 0
    assert png.read_bytes().startswith(PNG_SIGNATURE)
