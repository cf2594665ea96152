"""The benchmarks' figures as pictures: one PNG a benchmark, from the JSON it prints.

Each benchmark's ``--plot PATH`` draws its own results here after printing them, and
``python -m bench.plots NAME RESULTS.json PATH`` draws a saved run again. A target is
drawn as a dashed line, so that a reader sees at a glance which bars are on the right
side of it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

MEASURED = "#2f6db3"
SECOND = "#9bbbe0"
TARGET = "#c0392b"


def grid(results: list[dict[str, Any]], path: Path) -> None:
    """The first page's p95 of each case, in both regimes, beside its target."""
    figure = Figure(figsize=(9, 4.5))
    axes = figure.subplots()
    names = [_wrapped(r["name"]) for r in results]
    places = range(len(results))
    first = [r["first_call"]["p95_ms"] for r in results]
    hundredth = [r["hundredth_call"]["p95_ms"] for r in results]
    axes.bar([p - 0.2 for p in places], first, 0.4, color=MEASURED, label="first call")
    axes.bar([p + 0.2 for p in places], hundredth, 0.4, color=SECOND, label="100th")
    for place, result in zip(places, results, strict=True):
        _target(axes, result["target_p95_ms"], place - 0.45, place + 0.45)
    axes.set_xticks(list(places), names, fontsize=8)
    axes.set_ylabel("p95, ms")
    axes.set_title("Grid: first page of an Interactions tab, p95 (target dashed)")
    axes.legend()
    _save(figure, path)


def capture(results: list[dict[str, Any]], path: Path) -> None:
    """Accept rates by round beside the baseline's; capture to stored; the worker."""
    by_name = {r["name"]: r["figures"] for r in results}
    figure = Figure(figsize=(13, 4.2))
    rates, latency, worker = figure.subplots(1, 3)

    accept = by_name.get("capture accept rate vs baseline")
    if accept:
        rounds = range(1, len(accept["capture"]["round_rates"]) + 1)
        rates.plot(rounds, accept["baseline"]["round_rates"], "o-", color=SECOND)
        rates.plot(rounds, accept["capture"]["round_rates"], "o-", color=MEASURED)
        half = [rate / 2 for rate in accept["baseline"]["round_rates"]]
        rates.plot(rounds, half, "--", color=TARGET)
        rates.legend(["baseline", "capture", "half the baseline (target)"], fontsize=8)
        rates.set_xticks(list(rounds))
        rates.set_xlabel("round")
        rates.set_ylabel("accepted requests/s")
        rates.set_title(f"(a) accept rate, ratio {accept['ratio']}")
        rates.set_ylim(bottom=0)

    stored = by_name.get("capture to stored latency")
    if stored:
        rounds = range(1, len(stored["round_medians_ms"]) + 1)
        latency.plot(rounds, stored["round_medians_ms"], "o-", color=MEASURED)
        latency.plot(rounds, stored["round_p95s_ms"], "o-", color=SECOND)
        _target(latency, 50, 0.8, len(rounds) + 0.2)
        _target(latency, 150, 0.8, len(rounds) + 0.2)
        latency.legend(["median", "p95", "targets"], fontsize=8)
        latency.set_xticks(list(rounds))
        latency.set_xlabel("round")
        latency.set_ylabel("ms")
        latency.set_title("(b) capture to stored")
        latency.set_ylim(bottom=0)

    throughput = by_name.get("worker normalize and store throughput")
    if throughput:
        rounds = range(1, len(throughput["round_rates"]) + 1)
        worker.bar(list(rounds), throughput["round_rates"], color=MEASURED)
        _target(worker, 200, 0.5, len(rounds) + 0.5)
        worker.set_xticks(list(rounds))
        worker.set_xlabel("round")
        worker.set_ylabel("messages/s on one core")
        worker.set_title(f"(c) worker, median {throughput['rate']}/s")

    figure.suptitle("Capture (targets dashed)")
    _save(figure, path)


def resend(result: dict[str, Any], path: Path) -> None:
    """What a mailbox saw at its busiest, beside Graph's limits."""
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    labels = ["concurrent requests", "sends in a minute"]
    seen = [
        result["max_concurrent_requests_per_mailbox"],
        result["max_sends_per_minute_per_mailbox"],
    ]
    limits = [
        result["max_concurrent_requests_limit"],
        result["max_sends_per_minute_limit"],
    ]
    axes.bar(range(2), seen, 0.5, color=MEASURED)
    for place, limit in enumerate(limits):
        _target(axes, limit, place - 0.35, place + 0.35)
    axes.set_xticks(range(2), labels)
    axes.set_ylabel("most seen by one mailbox")
    axes.set_title(
        f"Resend: {result['resends']} resends, {result['mailboxes']} mailboxes, "
        f"{result['sends_per_second']} sends/s (Graph's limits dashed)",
        fontsize=10,
    )
    _save(figure, path)


DRAWINGS: dict[str, Callable[[Any, Path], None]] = {
    "grid": grid,
    "capture": capture,
    "resend": resend,
}


def _target(axes: Axes, value: float, start: float, end: float) -> None:
    axes.hlines(value, start, end, colors=TARGET, linestyles="dashed")


def _wrapped(name: str) -> str:
    words = name.split()
    half = (len(words) + 1) // 2
    return " ".join(words[:half]) + "\n" + " ".join(words[half:])


def _save(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=sorted(DRAWINGS))
    parser.add_argument("results", type=Path, help="the JSON the benchmark printed")
    parser.add_argument("png", type=Path)
    args = parser.parse_args(argv)
    DRAWINGS[args.benchmark](json.loads(args.results.read_text()), args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
