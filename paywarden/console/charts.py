"""Charts as server-rendered SVG (axes, gridlines, a <title> per mark, readable without
JavaScript): the gateway's 7-day revenue bars and the cards dashboard's 30-day series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from paywarden.console import i18n
from paywarden.console.web import usdt

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 16, 40
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day under the bar
    title: str  # shown on hover: day and amount
    value: str  # the API string


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    bottom_y: float
    right_x: float
    bars: list[Bar]
    ticks: list[Tick]
    empty: bool


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for base in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = base.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def short_number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def revenue_chart(days: list[tuple[str, str]]) -> Chart:
    """`days` as the API gives them: (ISO date, USDT string), oldest first."""
    amounts = [Decimal(v) for _, v in days]
    top = nice_ceiling(max(amounts, default=Decimal(0)))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom_y = TOP + plot_h
    slot = plot_w / max(1, len(days))
    bars = []
    for i, ((day, value), amount) in enumerate(zip(days, amounts, strict=True)):
        h = float(amount / top) * plot_h if top else 0.0
        label = i18n.format_day(date.fromisoformat(day))
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.15, 2),
                y=round(bottom_y - h, 2),
                width=round(slot * 0.7, 2),
                height=round(h, 2),
                label=label,
                title=f"{day}: {usdt(value)}",
                value=value,
            )
        )
    ticks = [
        Tick(y=round(bottom_y - plot_h * i / TICKS, 2), label=short_number(top * i / TICKS))
        for i in range(TICKS + 1)
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        bottom_y=bottom_y,
        right_x=WIDTH - RIGHT,
        bars=bars,
        ticks=ticks,
        empty=all(a == 0 for a in amounts),
    )


# --- series charts: bars per day, one or more series, side by side or stacked ----------------

# Series charts are drawn at about a phone's width, so their 10 px labels stay readable at 390 px.
S_WIDTH, S_HEIGHT = 360, 200
S_LEFT, S_RIGHT, S_TOP, S_BOTTOM = 48, 16, 10, 24


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    css: str  # the series' class (its colour)
    day: str  # shown on hover with the series' label and the value
    label: str
    value: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class SeriesChart:
    id: str
    title: str
    title_args: dict[str, str]
    width: int
    height: int
    left: int
    top: int
    right_x: int
    bottom_y: int
    marks: list[Mark]
    ticks: list[Label]
    days: list[Label]
    legend: list[tuple[str, str]]  # (class, label)
    empty: bool


def series_chart(
    id_: str,
    title: str,
    title_args: dict[str, str],
    dates: list[str],
    series: list[tuple[str, str, list[Decimal | None]]],
    *,
    stacked: bool = False,
    top: Decimal | None = None,
    counts: bool = False,
    fmt: Any = short_number,
) -> SeriesChart:
    """Bars per day: `series` as (class, label, one value per day; None: nothing to show),
    side by side or `stacked`; `top` fixes the scale (100 for a rate)."""
    plot_w, plot_h = S_WIDTH - S_LEFT - S_RIGHT, S_HEIGHT - S_TOP - S_BOTTOM
    bottom_y = S_TOP + plot_h
    if stacked:
        highest = max(
            (sum((s[2][i] or Decimal(0)) for s in series) for i in range(len(dates))),
            default=Decimal(0),
        )
    else:
        highest = max((v for s in series for v in s[2] if v is not None), default=Decimal(0))
    if top is not None:
        scale = top
    elif counts:  # whole numbers on every tick
        step = max(
            Decimal(1), nice_ceiling(Decimal(highest) / TICKS).to_integral_value(ROUND_CEILING)
        )
        scale = step * TICKS
    else:
        scale = nice_ceiling(Decimal(highest))
    slot = plot_w / max(1, len(dates))
    marks: list[Mark] = []
    for i, day in enumerate(dates):
        x0 = S_LEFT + i * slot + slot * 0.1
        inner = slot * 0.8
        base = float(bottom_y)
        for n, (css, label, values) in enumerate(series):
            value = values[i]
            if value is None:
                continue
            h = float(value / scale) * plot_h if scale else 0.0
            if stacked:
                x, w, y = x0, inner, base - h
                base -= h
            else:
                w = inner / len(series)
                x, y = x0 + n * w, bottom_y - h
            marks.append(
                Mark(
                    round(x, 2), round(y, 2), round(w, 2), round(h, 2), css, day, label, fmt(value)
                )
            )
    ticks = [
        Label(
            S_LEFT - 6, round(bottom_y - plot_h * i / TICKS + 4, 2), short_number(scale * i / TICKS)
        )
        for i in range(TICKS + 1)
    ]
    day_labels = [
        Label(round(S_LEFT + i * slot + slot / 2, 2), bottom_y + 16, day[5:])
        for i, day in enumerate(dates)
        if i % 5 == (len(dates) - 1) % 5
    ]
    empty = all(not v for s in series for v in s[2])
    return SeriesChart(
        id=id_,
        title=title,
        title_args=title_args,
        width=S_WIDTH,
        height=S_HEIGHT,
        left=S_LEFT,
        top=S_TOP,
        right_x=S_WIDTH - S_RIGHT,
        bottom_y=bottom_y,
        marks=marks,
        ticks=ticks,
        days=day_labels,
        legend=[(css, label) for css, label, _ in series],
        empty=empty,
    )
