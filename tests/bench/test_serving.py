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
    assert "| featvec.serve[recommend] | 0 | exact | - | 120 |" in md and rows[0]["server_cpu_ms"] > 0 and "p99 ms" in md and "127.0.0.1" in md


def test_ann_recall_reports_the_index_and_its_recall(tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    import featvec.ann
    from featvec.bench.serving import ann_recall, build_model

    path, users, items = build_model("synthetic-3K-items", None, tmp_path, 0)
    assert ann_recall(path, users, items, 0) == {"index": "exact"}  # below featvec.ann.MIN_ROWS
    monkeypatch.setattr(featvec.ann, "MIN_ROWS", 1000)
    got = ann_recall(path, users, items, 0, n=50)
    assert got["index"] == "faiss IVF" and 0.8 <= got["recall_recommend"] <= 1 and 0.8 <= got["recall_similar"] <= 1
