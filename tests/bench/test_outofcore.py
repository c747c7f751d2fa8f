"""Protocol O (featvec.bench.outofcore): every stage at the smallest size, each in a fresh process."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")


def test_protocol_o_runs_every_stage(tmp_path):
    from featvec.bench.outofcore import STAGES, run_protocol_o

    lines = []
    rows = run_protocol_o("100K", seeds=0, root=tmp_path / "work", out_dir=tmp_path, emit=lines.append)
    assert [r["system"] for r in rows] == [f"featvec.{s}" for s in STAGES]
    assert [json.loads(x) for x in lines] == rows
    by = {r["system"].split(".")[1]: r for r in rows}
    assert not any("error" in r for r in rows)
    assert by["generate"]["train_rows"] + by["generate"]["test_rows"] == 100_000
    assert by["ingest"]["rows"] == by["generate"]["train_rows"] and by["ingest"]["users"] == 1_000
    for kind in ("als", "bpr"):
        assert 0 < by[f"evaluate_{kind}"]["recall@20"] <= 1 and by[f"evaluate_{kind}"]["n_users"] > 900
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > 50 for r in rows)
    assert "| featvec.fit_als |" in (tmp_path / "O.md").read_text()
    # the ALS fit in two processes, on the same folder: the same scores to the bit
    two = run_protocol_o("100K", seeds=0, root=tmp_path / "work", out_dir=None, emit=None,
                         stages=("fit_als_2proc", "evaluate_als_2proc"))
    assert two[0]["params"]["nproc"] == 2 and "error" not in two[1]
    assert {k: two[1][k] for k in ("recall@20", "ndcg@20")} == {k: by["evaluate_als"][k] for k in ("recall@20", "ndcg@20")}
    with pytest.raises(ValueError, match="unknown stage"):
        run_protocol_o("100K", root=tmp_path / "work", out_dir=None, stages=("fit_nothing",))


def test_held_out_takes_a_fifth_of_each_users_rows():
    from featvec.bench.outofcore import _held_out

    users = np.repeat(np.arange(4), [10, 4, 5, 20])
    mask = _held_out(users, np.random.default_rng(0))
    assert [int(mask[users == u].sum()) for u in range(4)] == [2, 0, 1, 4]


def test_interaction_blocks_are_distinct_pairs_with_one_popularity():
    from featvec.datasets.synthetic import interaction_blocks

    blocks = list(interaction_blocks(2_500, 300, 40_000, seed=1, block_users=1_000))
    assert [b["user_id"].min() for b in blocks] == [1, 1_001, 2_001] and sum(map(len, blocks)) == 40_000
    for b in blocks:
        assert not b.duplicated().any() and b["user_id"].max() <= 2_500 and b["item_id"].between(1, 300).all()
    top = [set(b["item_id"].value_counts().index[:5]) for b in blocks]
    assert len(top[0] & top[1]) >= 3  # the same items are popular in every block
