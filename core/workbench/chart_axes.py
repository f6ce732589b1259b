"""Time axes that read well for one day and for a year (the Overview's charts).

Plotly, left to itself, gives a chart with one day of data a time axis in fractions of a
millisecond ("23:59:59.9996"): a bar at a single x has no spacing to size itself from. Days are
bucketed by date, the axis is a date axis over whole days (half a day of margin each side), bars are
most of a day wide, and the ticks are days for short ranges, months or years for long ones. Pure
values (plotly's layout keys), so core stays free of any UI library and this is testable alone.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

DAY_MS = 86_400_000
BAR_WIDTH_MS = int(DAY_MS * 0.8)


def _as_date(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def day_axis(days: list[str] | list[date]) -> dict[str, Any]:
    """plotly `xaxis` settings for bars bucketed by day (days as dates or 'YYYY-MM-DD')."""
    if not days:
        return {"type": "date"}
    parsed = [_as_date(d) for d in days]
    first, last = min(parsed), max(parsed)
    span = (last - first).days + 1
    if span <= 31:
        ticks: dict[str, Any] = {"dtick": DAY_MS if span <= 14 else 7 * DAY_MS, "tickformat": "%d %b"}
    elif span <= 400:
        ticks = {"dtick": "M1", "tickformat": "%b %Y"}
    elif span <= 1500:
        ticks = {"dtick": "M3", "tickformat": "%b %Y"}
    else:
        ticks = {"dtick": "M12", "tickformat": "%Y"}
    start = datetime.combine(first, datetime.min.time()) - timedelta(hours=12)
    end = datetime.combine(last, datetime.min.time()) + timedelta(hours=12)
    return {"type": "date", "range": [start.isoformat(), end.isoformat()], "tick0": first.isoformat(), "ticklabelmode": "instant",
            "title": {"text": "day (UTC)"}, **ticks}


def count_axis(values: list[int] | list[float]) -> dict[str, Any]:
    """plotly `yaxis` settings for counts: whole numbers only. Left to itself plotly labels a chart
    whose bars reach 2 with 0, 0.5, 1, 1.5, 2; counts of questions or documents have no halves."""
    top = max([0, *values])
    settings: dict[str, Any] = {"rangemode": "tozero", "tickformat": ",d"}
    if top <= 10:  # small counts: a tick at every whole number (above 10 plotly's own steps are whole)
        settings |= {"tick0": 0, "dtick": 1}
    return settings
