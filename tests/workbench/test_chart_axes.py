"""The Overview's day axis (core/workbench/chart_axes.py): dates, never a time axis in fractions of a millisecond."""
from __future__ import annotations

from datetime import date, timedelta

import plotly.express as px
import pytest

from core.workbench.chart_axes import BAR_WIDTH_MS, DAY_MS, day_axis


def test_one_day_is_a_date_axis_with_a_day_tick_centred_on_the_bar() -> None:
    axis = day_axis(["2026-12-01"])
    assert axis["type"] == "date" and axis["tickformat"] == "%d %b" and axis["dtick"] == DAY_MS
    assert axis["range"] == ["2026-11-30T12:00:00", "2026-12-01T12:00:00"]


@pytest.mark.parametrize(("days", "dtick", "fmt"), [(7, DAY_MS, "%d %b"), (30, 7 * DAY_MS, "%d %b"), (365, "M1", "%b %Y"),
                                                   (900, "M3", "%b %Y"), (3000, "M12", "%Y")])
def test_ticks_widen_with_the_range(days: int, dtick: object, fmt: str) -> None:
    start = date(2025, 1, 1)
    axis = day_axis([start, start + timedelta(days=days - 1)])
    assert (axis["dtick"], axis["tickformat"]) == (dtick, fmt)


def test_a_plotly_bar_of_one_day_keeps_the_settings() -> None:
    import pandas as pd

    frame = pd.DataFrame({"day": pd.to_datetime(["2026-12-01"]), "questions": [4], "role": ["employee"]})
    fig = px.bar(frame, x="day", y="questions", color="role")
    fig.update_xaxes(**day_axis(list(frame["day"])))
    fig.update_traces(width=BAR_WIDTH_MS)
    layout = fig.to_plotly_json()["layout"]["xaxis"]
    assert layout["type"] == "date" and layout["tickformat"] == "%d %b" and fig.data[0].width == BAR_WIDTH_MS


@pytest.mark.parametrize(("values", "dtick"), [([1, 2], 1), ([0], 1), ([10], 1), ([], 1), ([37, 4], None)])
def test_count_axes_have_whole_number_ticks(values: list[int], dtick: int | None) -> None:
    from core.workbench.chart_axes import count_axis

    axis = count_axis(values)
    assert axis["tickformat"] == ",d" and axis["rangemode"] == "tozero" and axis.get("dtick") == dtick
    fig = px.bar(x=["a", "b"][: len(values)] or ["a"], y=values or [0])
    fig.update_yaxes(**axis)  # plotly validates every key
    assert fig.layout.yaxis.tickformat == ",d"
