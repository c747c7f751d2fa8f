"""The README's Python blocks run, in order, as a user would paste them (on the real datasets)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_its_python_blocks():
    code = blocks()
    assert len(code) >= 5 and all(b.strip() for b in code)
    for b in code:
        compile(b, "README.md", "exec")  # at least valid Python everywhere


@pytest.mark.data
def test_every_readme_block_runs(data_dir, tmp_path, monkeypatch):
    localytics = data_dir / "localytics-data-viz-challenge" / "data.json.gz"
    if not localytics.is_file():
        pytest.skip(f"the Localytics events are not in {data_dir}")
    monkeypatch.chdir(tmp_path)  # the blocks write model folders, factors, segment maps where they run
    scope: dict = {"__name__": "readme"}
    for i, code in enumerate(blocks()):
        code = code.replace('"../shared/data"', repr(str(data_dir))).replace('"data.json.gz"', repr(str(localytics)))
        exec(compile(code, f"README.md block {i + 1}", "exec"), scope)
    assert (tmp_path / "segment.html").is_file() and (tmp_path / "ml100k-model" / "featvec.json").is_file()
    assert scope["model"].recipe_ == "small_data"  # the last block: the UserModel with its defaults
    assert list(scope["model"].predict_proba(scope["users"].head())["gender"].index) == [1, 2, 3, 4, 5]
