"""The report charts: a loss curve's points and axes come from the data."""

from __future__ import annotations

import re

from evaluation.svg import line_chart


def test_a_line_chart_places_every_value_and_labels_its_range():
    svg = line_chart([4.0, 3.0, 2.5, 2.0], x_first=1, x_step=10, x_label="step", title="Loss")
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None
    ys = [float(pair.split(",")[1]) for pair in points.group(1).split()]
    assert len(ys) == 4 and ys == sorted(ys)  # a falling loss is drawn going down the page
    assert ">4<" in svg and ">2<" in svg  # the highest and lowest values
    assert ">step 31<" in svg  # the last x: 1 + 3 * 10


def test_a_flat_or_empty_series_is_drawn_without_dividing_by_zero():
    flat = line_chart([1.5, 1.5, 1.5])
    assert flat.count("<polyline") == 1
    assert "no data" in line_chart([]) and "<polyline" not in line_chart([])
