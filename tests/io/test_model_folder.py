"""A model folder that is damaged is refused by one error naming the file (ModelFormatError), and a save
killed at any moment -- also between its two renames -- leaves a model that loads."""
from __future__ import annotations

import json
import os
import random
import signal
import time

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec import ModelFormatError
from featvec.io import persistence
from cli_helpers import assert_one_line_error, run

RATINGS = pd.DataFrame({"user_id": np.repeat(np.arange(30), 5), "item_id": np.tile(np.arange(10), 15),
                        "rating": np.random.default_rng(0).integers(1, 6, 150).astype(float)})


@pytest.fixture(scope="module")
def models():
    a = featvec.MatrixFactorization(dim=4, epochs=2, seed=0).fit(RATINGS)
    b = featvec.MatrixFactorization(dim=4, epochs=2, seed=1).fit(RATINGS)
    return a, b


def _saved(models, tmp_path):
    return models[0].save(tmp_path / "m")


def _edit_config(path, fn):
    meta = json.loads((path / persistence.CONFIG_FILE).read_text())
    fn(meta)
    (path / persistence.CONFIG_FILE).write_text(json.dumps(meta))


def _truncate(path, n):
    f = path / persistence.TENSOR_FILE
    f.write_bytes(f.read_bytes()[:n])


DAMAGE = {
    "config not JSON": (lambda p: (p / persistence.CONFIG_FILE).write_text("{not json"), "featvec.json is not valid JSON"),
    "config empty": (lambda p: (p / persistence.CONFIG_FILE).write_text(""), "featvec.json is not valid JSON"),
    "config a list": (lambda p: (p / persistence.CONFIG_FILE).write_text("[1, 2]"), "must hold a JSON object"),
    "config binary": (lambda p: (p / persistence.CONFIG_FILE).write_bytes(b"\xff\xfe\x00"), "not valid JSON"),
    "no kind": (lambda p: _edit_config(p, lambda m: m.pop("kind")), "lacks ['kind']"),
    "no config": (lambda p: _edit_config(p, lambda m: m.pop("config")), "lacks ['config']"),
    "no version": (lambda p: _edit_config(p, lambda m: m.pop("format_version")), "lacks ['format_version']"),
    "future version": (lambda p: _edit_config(p, lambda m: m.update(format_version=99)), "upgrade featvec"),
    "version a string": (lambda p: _edit_config(p, lambda m: m.update(format_version="1")), "format version '1'"),
    "unknown kind": (lambda p: _edit_config(p, lambda m: m.update(kind="Nope")), "unknown model kind 'Nope'"),
    "config keys missing": (lambda p: _edit_config(p, lambda m: m["config"].pop("users")), "do not describe one"),
    "tensors missing": (lambda p: (p / persistence.TENSOR_FILE).unlink(), "model.safetensors is missing"),
    "tensors truncated": (lambda p: _truncate(p, 100), "model.safetensors cannot be read"),
    "tensors empty": (lambda p: _truncate(p, 0), "model.safetensors cannot be read"),
    "tensors header only": (lambda p: _truncate(p, 8), "model.safetensors cannot be read"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_folder_raises_one_error_naming_the_file(models, tmp_path, damage):
    path = _saved(models, tmp_path)
    fn, message = DAMAGE[damage]
    fn(path)
    with pytest.raises(ModelFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        featvec.load(path)


def test_tensors_of_the_wrong_shape_or_name(models, tmp_path):
    from safetensors.torch import load_file, save_file

    path = _saved(models, tmp_path)
    tensors = load_file(str(path / persistence.TENSOR_FILE))
    name = next(k for k in tensors if k.startswith("net.") and tensors[k].ndim == 2 and tensors[k].shape[1] > 2)
    bad = dict(tensors)
    bad[name] = tensors[name][:, :2].contiguous()
    save_file(bad, str(path / persistence.TENSOR_FILE))
    with pytest.raises(ModelFormatError, match=f"do not describe one MatrixFactorization.*{name[4:]}"):
        featvec.load(path)
    bad = {k: v for k, v in tensors.items() if k != name}
    save_file(bad, str(path / persistence.TENSOR_FILE))
    with pytest.raises(ModelFormatError, match="do not describe one MatrixFactorization"):
        featvec.load(path)


def test_the_command_line_prints_one_line(models, tmp_path, capsys):
    path = _saved(models, tmp_path)
    (path / persistence.CONFIG_FILE).write_text("{")
    status, _, err = run(capsys, "recommend", "--model-dir", path, "--users", "1")
    assert_one_line_error(status, err, "featvec.json is not valid JSON")


def _kill_child_during_save(model, path, when):
    """Fork a process that saves ``model`` to ``path`` and is killed by SIGKILL: ``when`` is "between
    renames" (just before the new folder is renamed into place) or a delay in seconds."""
    pid = os.fork()
    if pid == 0:  # the child: save, and die as told
        try:
            if when == "between renames":
                real = os.replace

                def replace(src, dst):
                    if str(src).rpartition("/")[2].startswith(f".{path.name}.tmp-") and str(dst) == str(path):
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(src, dst)

                os.replace = replace
            else:
                deadline = time.perf_counter() + when
                while time.perf_counter() < deadline + 1.0:
                    model.save(path)
            model.save(path)
        finally:
            os._exit(0)
    if when != "between renames":
        time.sleep(when)
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _predicts_as(model, others) -> bool:
    x = model.predict(RATINGS.iloc[:20])
    return any(np.array_equal(x, o.predict(RATINGS.iloc[:20])) for o in others)


def test_a_save_killed_between_its_renames_leaves_a_model_that_loads(models, tmp_path):
    a, b = models
    path = a.save(tmp_path / "m")
    _kill_child_during_save(b, path, "between renames")
    assert not path.exists() and len(os.listdir(tmp_path)) == 2  # the old and the new folder, both hidden
    loaded = featvec.load(path)
    assert _predicts_as(loaded, [b])  # the complete new model is put in place
    assert os.listdir(tmp_path) == ["m"]  # and the leftovers removed


def test_kill_9_at_random_moments_always_leaves_a_loadable_model(models, tmp_path):
    """200 saves killed at random moments (each child saves over and over until it is killed)."""
    a, b = models
    path = a.save(tmp_path / "m")
    rng = random.Random(0)
    for i in range(200):
        _kill_child_during_save(b if i % 2 else a, path, rng.uniform(0.0, 0.03))
        loaded = featvec.load(path)
        assert _predicts_as(loaded, [a, b]), i
    assert os.listdir(tmp_path) == ["m"] or all(n == "m" or n.startswith(".m.") for n in os.listdir(tmp_path))
    a.save(path)
    assert os.listdir(tmp_path) == ["m"]  # a save removes what killed saves left
