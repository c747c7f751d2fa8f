"""The embedding explorer: a page (static files shipped in the package, no CDN) that maps a model's vector
tables in 2-D, searches ids and values with completion and shows neighbours, users' histories and top-K,
probabilities and look-alike scores. ``write_explorer`` writes it for saved models; ``featvec serve`` serves
it at /explore."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from featvec.explore.data import explorer_data
from featvec.io.folders import written_folder

STATIC = ("index.html", "explorer.js", "explorer.css")

__all__ = ["explorer_data", "write_explorer", "static_file", "models_script", "data_script"]


def static_file(name: str) -> bytes:
    """One of the page's files, from the package."""
    if name not in STATIC:
        raise KeyError(name)
    return resources.files("featvec.explore").joinpath("static", name).read_bytes()


def models_script(names) -> str:
    return "window.FEATVEC_MODELS = " + json.dumps(list(names)) + ";\n"


def data_script(name: str, payload: dict) -> str:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return ("window.FEATVEC_DATA = window.FEATVEC_DATA || {};\n"
            f"window.FEATVEC_DATA[{json.dumps(name)}] = {body};\n")


def write_explorer(payloads: dict, out) -> Path:
    """Write the page for ``payloads`` (name -> ``explorer_data(...)``) into the folder ``out``: index.html,
    its script and style, models.js and data/NAME.js. Opens from disk (file://) or any static server.
    Written beside and renamed into place, so a failed write leaves no half page."""
    for name in payloads:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"model name {name!r} cannot name a file")
    with written_folder(out, "explorer") as tmp:
        (tmp / "data").mkdir()
        for f in STATIC:
            (tmp / f).write_bytes(static_file(f))
        (tmp / "models.js").write_text(models_script(payloads), encoding="utf-8")
        for name, payload in payloads.items():
            (tmp / "data" / f"{name}.js").write_text(data_script(name, payload), encoding="utf-8")
    return Path(out)
