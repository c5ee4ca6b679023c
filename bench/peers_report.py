"""The figures of one side in one round, and the markdown report over every round.

Each workload is a ``Metric``: how to read it from a side's figures, whether higher is better,
and its target (on the ratio ours / PocketBase of the same round, and for memory also on our
own figure). The report shows, per metric, the median of each side's figures over the rounds
and the median of the per-round ratios; then each round's ratios with the load average.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from httpbench_load import FanoutResult, percentile
from peers_live import IdleMemory
from peers_reconnect import ReconnectResult
from peers_wrk import WrkResult

TARGET_CREATES = 1.5
TARGET_UPDATES = 2.5
TARGET_P99_RATIO = 0.1
TARGET_IDLE_KB = 10.0
TARGET_IDLE_RATIO = 0.2


@dataclass
class Figures:
    """Everything measured on one server in one round."""

    name: str
    durability: str
    idle_memory: IdleMemory | None = None
    creates: WrkResult | None = None
    updates: WrkResult | None = None
    hot: WrkResult | None = None
    latency: dict[float, FanoutResult] = field(default_factory=dict)
    reconnect: ReconnectResult | None = None


@dataclass(frozen=True)
class RoundFigures:
    number: int
    order: list[str]
    load_average: tuple[float, float]
    pocketbase: Figures
    ours: Figures


@dataclass(frozen=True)
class Metric:
    label: str
    read: Callable[[Figures], float]
    unit: str
    target: str = ""
    # Whether the target is met, given the median ratio and our median figure.
    is_met: Callable[[float, float], bool] | None = None


def _wrk(name: str) -> Callable[[Figures], float]:
    def read(figures: Figures) -> float:
        result: WrkResult | None = getattr(figures, name)
        return result.rate if result else float("nan")

    return read


def _latency(rate: float, q: float) -> Callable[[Figures], float]:
    def read(figures: Figures) -> float:
        result = figures.latency.get(rate)
        if result is None or not result.latencies_ms:
            return float("nan")
        if q >= 100:
            return max(result.latencies_ms)
        return percentile(result.latencies_ms, q)

    return read


def lost_events(result: FanoutResult) -> int:
    """Acknowledged updates that never reached their (single) subscriber."""
    acknowledged = result.writer.sent - result.writer.errors
    return max(0, acknowledged - result.events)


def _lost(rate: float) -> Callable[[Figures], float]:
    def read(figures: Figures) -> float:
        result = figures.latency.get(rate)
        return float("nan") if result is None else float(lost_events(result))

    return read


def _idle_kb(figures: Figures) -> float:
    return figures.idle_memory.per_stream_kb if figures.idle_memory else float("nan")


def metrics(sessions: int, subscribers: int, idle: int, rates: tuple[float, ...]) -> list[Metric]:
    rows = [
        Metric(
            "creates/s",
            _wrk("creates"),
            "{:,.0f}",
            f">= {TARGET_CREATES}x",
            lambda ratio, _: ratio >= TARGET_CREATES,
        ),
        Metric(
            f"progress updates/s over {sessions:,} sessions",
            _wrk("updates"),
            "{:,.0f}",
            f">= {TARGET_UPDATES}x",
            lambda ratio, _: ratio >= TARGET_UPDATES,
        ),
        Metric(
            "updates/s on one hot session",
            _wrk("hot"),
            "{:,.0f}",
            f">= {TARGET_UPDATES}x",
            lambda ratio, _: ratio >= TARGET_UPDATES,
        ),
    ]
    for rate in rates:
        where = f"{subscribers:,} SSE subscribers, {rate:,.0f} writes/s"
        rows += [
            Metric(f"write -> subscriber p50, {where}", _latency(rate, 50), "{:.1f} ms"),
            Metric(
                f"write -> subscriber p99, {where}",
                _latency(rate, 99),
                "{:.1f} ms",
                f"<= {TARGET_P99_RATIO}x",
                lambda ratio, _: ratio <= TARGET_P99_RATIO,
            ),
            Metric(f"write -> subscriber max, {where}", _latency(rate, 100), "{:.1f} ms"),
            Metric(f"events lost, {where}", _lost(rate), "{:,.0f}"),
        ]
    rows.append(
        Metric(
            f"server memory per idle SSE stream ({idle:,} streams, fresh server)",
            _idle_kb,
            "{:.1f} KB",
            f"<= {TARGET_IDLE_KB:g} KB and <= {TARGET_IDLE_RATIO}x",
            lambda ratio, ours: ours <= TARGET_IDLE_KB and ratio <= TARGET_IDLE_RATIO,
        )
    )
    return rows


def _median(values: list[float]) -> float:
    finite = [value for value in values if value == value]
    return statistics.median(finite) if finite else float("nan")


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


def _cores(results: list[WrkResult | None]) -> str:
    shares = [result.server_cpu_share for result in results if result]
    return f"{min(shares):.2f} to {max(shares):.2f}" if shares else "?"


def print_report(
    settings: list[str],
    shape: tuple[int, int, int, tuple[float, ...]],
    rounds: list[RoundFigures],
    seconds: float,
) -> None:
    """The whole report in markdown: settings, the table, each round, the details."""
    sessions, subscribers, idle, rates = shape
    for line in settings:
        print(line)
    print(f"PocketBase durability: {rounds[0].pocketbase.durability}")
    print(f"ours durability: {rounds[0].ours.durability}\n")
    rows = metrics(sessions, subscribers, idle, rates)
    print("| workload | PocketBase | ours | ours / PocketBase | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    ratios_by_round: dict[str, list[float]] = {}
    for metric in rows:
        theirs = [metric.read(r.pocketbase) for r in rounds]
        ours = [metric.read(r.ours) for r in rounds]
        ratios = [_ratio(a, b) for a, b in zip(ours, theirs, strict=True)]
        ratios_by_round[metric.label] = ratios
        ratio, our_median = _median(ratios), _median(ours)
        met = (
            ""
            if metric.is_met is None
            else ("yes" if metric.is_met(ratio, our_median) else "**no**")
        )
        shown = "" if metric.label.startswith("events lost") else f"{ratio:.2f}x"
        print(
            f"| {metric.label} | {metric.unit.format(_median(theirs))} | "
            f"{metric.unit.format(our_median)} | {shown} | {metric.target} | {met} |"
        )
    _print_rounds(rows, rounds, ratios_by_round)
    _print_details(rounds, rates)
    print(f"\ntotal run time: {seconds:.0f} s")


def _print_rounds(
    rows: list[Metric], rounds: list[RoundFigures], ratios: dict[str, list[float]]
) -> None:
    shown = [metric for metric in rows if metric.is_met is not None]
    print(
        "\nEach round, ours / PocketBase (the load average is the machine's 1-minute figure "
        "at the round's start and end, on 2 CPUs):\n"
    )
    print("| round | order | load average | " + " | ".join(m.label for m in shown) + " |")
    print("| --- | --- | --- | " + " | ".join("---:" for _ in shown) + " |")
    for index, one in enumerate(rounds):
        cells = " | ".join(f"{ratios[m.label][index]:.2f}x" for m in shown)
        load = f"{one.load_average[0]:.1f} -> {one.load_average[1]:.1f}"
        print(f"| {one.number} | {' then '.join(one.order)} | {load} | {cells} |")


def _print_details(rounds: list[RoundFigures], rates: tuple[float, ...]) -> None:
    print("\n| detail | PocketBase | ours |\n| --- | --- | --- |")
    for name in ("creates", "updates", "hot"):
        theirs = [getattr(r.pocketbase, name) for r in rounds]
        ours = [getattr(r.ours, name) for r in rounds]
        print(f"| server CPU (cores) during {name} | {_cores(theirs)} | {_cores(ours)} |")
        p99s = [[r.p99_ms for r in side if r] for side in (theirs, ours)]
        errors = [sum(r.errors for r in side if r) for side in (theirs, ours)]
        print(
            f"| wrk p99 during {name} (median over rounds); errors (all rounds) | "
            f"{_median(p99s[0]):.1f} ms; {errors[0]} | {_median(p99s[1]):.1f} ms; {errors[1]} |"
        )
    for rate in rates:
        cells = []
        for side in ("pocketbase", "ours"):
            results = [getattr(r, side).latency.get(rate) for r in rounds]
            sent = sum(x.writer.sent for x in results if x)
            writer_errors = sum(x.writer.errors for x in results if x)
            received = sum(x.events for x in results if x)
            lag = max((x.writer.max_lag_ms for x in results if x), default=0.0)
            achieved = _median([x.writer.rate for x in results if x])
            cells.append(
                f"{sent:,} updates sent ({writer_errors} errors), {received:,} received; "
                f"the writer kept {achieved:,.0f} writes/s (median), pacing lag up to "
                f"{lag:.0f} ms"
            )
        print(f"| at {rate:,.0f} writes/s, all rounds | {cells[0]} | {cells[1]} |")
    reconnects = [(r.pocketbase.reconnect, r.ours.reconnect) for r in rounds]
    cells = []
    for index in (0, 1):
        results = [pair[index] for pair in reconnects if pair[index]]
        if not results:
            cells.append("?")
            continue
        first = results[0]
        cells.append(
            f"{first.changes_while_away:,} changes to {first.subscribers} sessions while their "
            f"subscribers were away, each round; after reconnecting, "
            f"{sum(x.delivered for x in results):,} events delivered within "
            f"{first.window_seconds:g} s over all rounds; subscribers then holding the last "
            f"change: {sum(x.up_to_date for x in results):,} of "
            f"{sum(x.subscribers for x in results):,}"
        )
    print(f"| reconnect, all rounds | {cells[0]} | {cells[1]} |")
    memory = [(r.pocketbase.idle_memory, r.ours.idle_memory) for r in rounds]
    cells = []
    for index in (0, 1):
        values = [m for pair in memory if (m := pair[index]) is not None]
        cells.append(
            "; ".join(
                f"{m.before_kb / 1024:.1f} -> {m.during_kb / 1024:.1f} MiB "
                f"({m.opened:,} open, {m.failed} failed)"
                for m in values
            )
        )
    print(f"| VmRSS before -> with the idle streams, each round | {cells[0]} | {cells[1]} |")
