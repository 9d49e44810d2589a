"""Bad servers and bad disks: ignored stop/n, faults mid-run, unreachable, full disk."""

from __future__ import annotations

import json
import socket

import pytest
from datagen_helpers import FullDisk, lines, make_config, outputs, run

from evolution.datagen import OutputError
from evolution.datagen.writer import Parts
from evolution.testserver import Fault

ITEMS = 6  # 3 requests per arm


@pytest.fixture
def reference(server, tmp_path_factory, benchmark_names) -> dict[str, str]:
    """The outputs of an undisturbed run of both stages."""
    folder = tmp_path_factory.mktemp("reference")
    run(make_config(folder, server.base_url), benchmark_names)
    server.clear_requests()
    return outputs(folder)


def test_a_server_that_ignores_stop_changes_nothing(server, reference, tmp_path, benchmark_names):
    server.inject(Fault.of("ignore_stop", fraction=1.0))
    run(make_config(tmp_path, server.base_url), benchmark_names)
    assert server.faults[0]["fired"] == ITEMS + 3  # every request of both stages
    assert outputs(tmp_path) == reference


def test_a_server_that_ignores_n_is_asked_again(server, tmp_path, benchmark_names):
    server.inject(Fault.of("ignore_n", fraction=1.0, path="/v1/completions"))
    [report] = run(make_config(tmp_path, server.base_url), benchmark_names, stages=("names",))
    assert report.generation is not None and report.generation.done == ITEMS
    raw = lines(tmp_path / "names" / "raw.jsonl")
    assert len(raw) == ITEMS * 4  # four names per request, as asked
    assert len(server.requests) > ITEMS


def test_faults_mid_run_are_retried_and_change_nothing(
    server, reference, tmp_path, benchmark_names
):
    # Spread over the run: each fires on about half of the requests until it fired twice.
    server.inject(
        Fault.http_error(500, fraction=0.5, count=2),
        Fault.http_error(429, retry_after=0, fraction=0.5, count=2),
        Fault.of("drop", fraction=0.5, count=2),
    )
    config = make_config(tmp_path, server.base_url, api={"max_retries": 8})
    names, code = run(config, benchmark_names)
    assert server.faults == []  # all six fired
    assert len(server.requests) == ITEMS + 3 + 6  # each failed attempt was tried again
    assert names.failed == code.failed == 0
    assert outputs(tmp_path) == reference


def test_failed_requests_are_counted_and_a_rerun_fills_the_gaps(
    server, reference, tmp_path, benchmark_names
):
    config = make_config(tmp_path, server.base_url, api={"max_retries": 0})
    server.inject(Fault.http_error(500, count=2), Fault.http_error(429, count=1))
    [first] = run(config, benchmark_names, stages=("names",))
    stats = first.generation
    assert stats is not None
    assert (stats.done, stats.failed, dict(stats.errors)) == (
        3,
        3,
        {"ServerError": 2, "RateLimited": 1},
    )
    assert first.finalized and first.missing_items == 3 and not first.stopped
    metrics = json.loads((tmp_path / "names" / "metrics.json").read_text())
    assert metrics["complete"] is False and metrics["items"] == {"planned": 6, "finished": 3}
    server.clear_requests()
    names, _ = run(config, benchmark_names)
    assert names.generation is not None
    assert (names.generation.skipped, names.generation.done) == (3, 3)
    assert len([b for b in server.bodies() if b["max_tokens"] == 16]) == 3  # only the gaps
    assert outputs(tmp_path) == reference


def test_an_unreachable_endpoint_stops_the_run_and_writes_nothing(tmp_path, benchmark_names):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    config = make_config(tmp_path, f"http://127.0.0.1:{port}/v1", api={"max_retries": 1})
    [report] = run(config, benchmark_names)
    assert report.stopped is not None
    assert f"127.0.0.1:{port}" in report.stopped and "cannot connect" in report.stopped
    assert "Check that the server is running" in report.stopped
    assert not report.finalized
    assert Parts(tmp_path / "names", "raw").files() == []
    assert not (tmp_path / "names" / "raw.jsonl").exists()


def test_errors_in_a_row_stop_the_run(server, tmp_path, benchmark_names):
    server.inject(Fault.http_error(502, fraction=1.0))
    config = make_config(
        tmp_path,
        server.base_url,
        api={"max_retries": 0},
        io={"max_consecutive_errors": 2, "concurrency": 1},
        namegen={"requests_per_arm": 10},
    )
    [report] = run(config, benchmark_names)
    assert report.stopped is not None and report.stopped.startswith("2 requests failed in a row")
    assert "HTTP 502" in report.stopped
    assert len(server.requests) == 2  # it did not go on through the other 18


def test_a_full_disk_mid_run_stops_cleanly_and_the_rerun_completes(
    server, reference, tmp_path, benchmark_names
):
    config = make_config(tmp_path, server.base_url, io={"concurrency": 1})
    # Room for the manifest and about two requests' records: the disk fills mid-group.
    [report] = run(config, benchmark_names, write=FullDisk(room=2500))
    assert report.stopped is not None and "No space left on device" in report.stopped
    assert "run the same command again to resume" in report.stopped
    parts = Parts(tmp_path / "names", "raw")
    for path in parts.files():  # what was written is whole lines of whole groups
        groups: dict[str, int] = {}
        for record in lines(path):
            groups[record["item_id"]] = groups.get(record["item_id"], 0) + 1
        assert set(groups.values()) == {4}
    done_before = len(parts.scan().item_ids)
    assert 0 < done_before < ITEMS
    names, _ = run(config, benchmark_names)
    assert names.generation is not None and names.generation.skipped == done_before
    assert outputs(tmp_path) == reference


def test_a_full_disk_while_merging_keeps_the_previous_outputs(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    run(config, benchmark_names, stages=("names",))
    before = outputs(tmp_path)
    with pytest.raises(OutputError, match=r"No space left on device.*is unchanged"):
        run(config, benchmark_names, stages=("names",), merge_only=True, write=FullDisk(room=300))
    assert outputs(tmp_path) == before
    assert not [p for p in (tmp_path / "names").iterdir() if ".tmp-" in p.name]
