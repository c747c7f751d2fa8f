"""Protocol W (featvec.bench.serving): a real `featvec serve` process on loopback under a small load."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")


def test_protocol_w_rows_and_report(tmp_path):
    from featvec.bench.serving import run_protocol_w

    lines = []
    rows = run_protocol_w(datasets=["synthetic-3K-items"], requests=120, clients=3, out_dir=tmp_path,
                          emit=lines.append, time_limit=60)
    assert [r["system"] for r in rows] == ["featvec.serve[recommend]", "featvec.serve[similar]"]
    assert [json.loads(x) for x in lines] == rows
    for r in rows:
        assert r["protocol"] == "W" and r["errors"] == 0 and r["requests"] == 120
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] and r["req_per_s"] > 0
        assert 2_000 < r["n_items"] <= 3_000 and r["server_peak_rss_mb"] > 100
    md = (tmp_path / "W.md").read_text(encoding="utf-8")
    assert "| featvec.serve[recommend] | 0 | 120 |" in md and "p99 ms" in md and "127.0.0.1" in md
