"""The 7-day revenue chart as server-rendered SVG: axes, gridlines, a <title> per bar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for base in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = base.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def _short(value: Decimal) -> str:
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def revenue_chart(days: list[tuple[str, str]]) -> Chart:
    """`days` as the API gives them: (ISO date, USDT string), oldest first."""
    amounts = [Decimal(v) for _, v in days]
    top = _nice_ceiling(max(amounts, default=Decimal(0)))
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
        Tick(y=round(bottom_y - plot_h * i / TICKS, 2), label=_short(top * i / TICKS))
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
