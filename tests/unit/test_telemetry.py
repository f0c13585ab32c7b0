"""/metrics counters are summed over every worker process and exact under threads."""

from __future__ import annotations

import os
import threading

from pyconnector.telemetry import Telemetry


def metric_value(text: str, line_start: str) -> float:
    return float(next(line for line in text.splitlines() if line.startswith(line_start + " ")).split()[-1])


def test_threads_lose_no_increment(tmp_path):
    telemetry = Telemetry(tmp_path)

    def work():
        for _ in range(5000):
            telemetry.inc("promscale_ingest_samples_total", 2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metric_value(telemetry.render(), "promscale_ingest_samples_total") == 80_000


def test_forked_workers_are_summed_and_gauges_only_count_live_workers(tmp_path):
    telemetry = Telemetry(tmp_path)
    telemetry.inc("promscale_ingest_requests_total", 3)
    pid = os.fork()
    if pid == 0:  # a worker that counts, then exits
        telemetry.inc("promscale_ingest_requests_total", 4)
        telemetry.set("promscale_series_cache_entries", 100)
        os._exit(0)
    os.waitpid(pid, 0)
    telemetry.set("promscale_series_cache_entries", 7)
    text = telemetry.render()
    assert metric_value(text, "promscale_ingest_requests_total") == 7
    assert metric_value(text, "promscale_series_cache_entries") == 7
    assert "# TYPE promscale_http_request_duration_seconds histogram" in text


def test_request_durations_fill_cumulative_buckets(tmp_path):
    telemetry = Telemetry(tmp_path)
    telemetry.observe_duration("write", 0.003)
    telemetry.observe_duration("write", 100.0)
    text = telemetry.render()
    assert metric_value(text, 'promscale_http_request_duration_seconds_bucket{handler="write",le="+Inf"}') == 2
    assert metric_value(text, 'promscale_http_request_duration_seconds_count{handler="write"}') == 2
    assert metric_value(text, 'promscale_http_request_duration_seconds_sum{handler="write"}') == 100.003
