"""Users as dots on a map of the US states, coloured by segment (or any attribute).

:func:`segment_map` writes one self-contained HTML file (inline SVG, CSS and a little
JavaScript; nothing is fetched, so it works offline) and, optionally, a static PNG
drawn with matplotlib's Agg backend.

The state outlines come from ``featvec/audience/us_states.json``: the US Census Bureau's
cartographic boundary file ``cb_2016_us_state_500k`` (public domain, a work of the US
federal government), simplified to about 100 KB; the file itself records its source,
licence and how it was simplified.

Projection: Albers equal-area conic (standard parallels 29.5N/45.5N, centre 96W/37.5N)
for the lower 48 states; Alaska and Hawaii are drawn in insets at the bottom left with
their own Albers projections, Alaska at 0.35 of the main scale (as in d3's albersUsa).
"""
from __future__ import annotations

import html
import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["segment_map", "project", "map_size", "load_states"]

WIDTH = 960.0  # SVG viewBox width; the height follows from the lower 48's aspect ratio
_PAD = 12.0
MAX_CATEGORIES = 12  # legend entries for a categorical attribute, "other" included
CATEGORICAL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                      "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#8c6d31")
OTHER_COLOR = "#b8b8b8"
MISSING_COLOR = "#e6e6e6"
# matplotlib's viridis at 0, 0.1, ..., 1
RAMP = ("#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
        "#44bf70", "#7ad151", "#bddf26", "#fde725")
_RAMP_STEPS = 64


# ----------------------------------------------------------------------------- projection
def _albers(lon, lat, lon0: float, lat0: float, phi1: float, phi2: float):
    """Spherical Albers equal-area conic; returns (x, y) on the unit sphere, y pointing north."""
    lam, phi = np.radians(np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    p1, p2, p0, l0 = map(math.radians, (phi1, phi2, lat0, lon0))
    n = (math.sin(p1) + math.sin(p2)) / 2
    c = math.cos(p1) ** 2 + 2 * n * math.sin(p1)
    rho = np.sqrt(np.maximum(c - 2 * n * np.sin(phi), 0.0)) / n
    rho0 = math.sqrt(c - 2 * n * math.sin(p0)) / n
    theta = n * (lam - l0)
    return rho * np.sin(theta), rho0 - rho * np.cos(theta)


@dataclass(frozen=True)
class _Region:
    """One projection plus the affine map into SVG coordinates: svg = (x*s + tx, ty - y*s)."""
    lon0: float
    lat0: float
    phi1: float
    phi2: float
    s: float = 1.0
    tx: float = 0.0
    ty: float = 0.0

    def raw(self, lon, lat):
        return _albers(lon, lat, self.lon0, self.lat0, self.phi1, self.phi2)

    def svg(self, lon, lat):
        x, y = self.raw(lon, lat)
        return x * self.s + self.tx, self.ty - y * self.s


_L48 = _Region(-96.0, 37.5, 29.5, 45.5)
_AK = _Region(-154.0, 58.5, 55.0, 65.0)
_HI = _Region(-157.0, 19.9, 8.0, 18.0)


@lru_cache(maxsize=1)
def load_states() -> dict:
    """The bundled state outlines: ``{"states": [{"name", "postal", "fips", "rings"}], ...}``."""
    ref = resources.files("featvec.audience") / "us_states.json"
    try:
        return json.loads(ref.read_text(encoding="utf-8"))
    except FileNotFoundError as e:  # pragma: no cover - packaging error
        raise RuntimeError("featvec/audience/us_states.json is missing from this installation") from e


def _rings(state: dict) -> list[np.ndarray]:
    return [np.asarray(r, float).reshape(-1, 2) for r in state["rings"]]


def _bbox(region: _Region, states: Iterable[dict]):
    xs, ys = [], []
    for st in states:
        for r in _rings(st):
            x, y = region.raw(r[:, 0], r[:, 1])
            xs.append(x)
            ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x.min(), x.max(), y.min(), y.max()


@lru_cache(maxsize=1)
def _layout():
    """Fit the lower 48 into the viewBox and place the Alaska and Hawaii insets; returns (regions, height)."""
    states = load_states()["states"]
    by = {"AK": [], "HI": [], "L48": []}
    for st in states:
        by[st["postal"] if st["postal"] in ("AK", "HI") else "L48"].append(st)
    x0, x1, y0, y1 = _bbox(_L48, by["L48"])
    s = (WIDTH - 2 * _PAD) / (x1 - x0)
    height = round(float((y1 - y0) * s + 2 * _PAD), 1)
    l48 = _Region(_L48.lon0, _L48.lat0, _L48.phi1, _L48.phi2, s, _PAD - x0 * s, _PAD + y1 * s)
    # Alaska at 0.35 of the main scale, bottom-left corner; Hawaii at full scale to its right.
    ax0, ax1, ay0, ay1 = _bbox(_AK, by["AK"])
    sa = 0.35 * s
    ak = _Region(_AK.lon0, _AK.lat0, _AK.phi1, _AK.phi2, sa, _PAD - ax0 * sa, height - _PAD + ay0 * sa)
    hx0, hx1, hy0, hy1 = _bbox(_HI, by["HI"])
    hi_left = _PAD + (ax1 - ax0) * sa + 2 * _PAD
    hi = _Region(_HI.lon0, _HI.lat0, _HI.phi1, _HI.phi2, s, hi_left - hx0 * s, height - _PAD + hy0 * s)
    boxes = {"AK": (_PAD - 4, height - _PAD - (ay1 - ay0) * sa - 4, (ax1 - ax0) * sa + 8, (ay1 - ay0) * sa + 8),
             "HI": (hi_left - 4, height - _PAD - (hy1 - hy0) * s - 4, (hx1 - hx0) * s + 8, (hy1 - hy0) * s + 8)}
    return {"L48": l48, "AK": ak, "HI": hi}, height, boxes


def map_size() -> tuple[float, float]:
    """(width, height) of the SVG viewBox; the height follows from the bundled outlines."""
    return WIDTH, _layout()[1]


def project(lat, lon):
    """Project latitude/longitude (degrees) to SVG coordinates of the map.

    Returns ``(x, y, visible)``: arrays of the SVG coordinates and a mask of the points
    that fall inside the map (the viewBox ``0 0 *map_size()``). Points in Alaska
    (north of 50.5N and west of 129.5W, or east of 170E) and Hawaii go to the insets.
    """
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    regions, height, _ = _layout()
    x = np.full(lat.shape, np.nan)
    y = np.full(lat.shape, np.nan)
    ak = (lat >= 50.5) & ((lon <= -129.5) | (lon >= 170))
    hi = (lat >= 18.5) & (lat <= 22.8) & (lon >= -161.0) & (lon <= -154.3)
    l48 = ~(ak | hi)
    for mask, key, lo in ((l48, "L48", lon), (ak, "AK", np.where(lon > 0, lon - 360, lon)), (hi, "HI", lon)):
        if mask.any():
            x[mask], y[mask] = regions[key].svg(lo[mask], lat[mask])
    visible = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= WIDTH) & (y >= 0) & (y <= height)
    return x, y, visible


@lru_cache(maxsize=1)
def _state_shapes():
    """[(postal, name, [ring (n, 2) arrays in SVG coordinates])] for every state."""
    regions, _, _ = _layout()
    out = []
    for st in load_states()["states"]:
        region = regions.get(st["postal"], regions["L48"])
        rings = []
        for r in _rings(st):
            x, y = region.svg(r[:, 0], r[:, 1])
            rings.append(np.column_stack([x, y]))
        out.append((st["postal"], st["name"], rings))
    return out


def _path_d(rings: Sequence[np.ndarray]) -> str:
    parts = []
    for r in rings:
        pts = np.round(r, 1)
        keep = np.r_[True, np.any(np.diff(pts, axis=0) != 0, axis=1)]
        pts = pts[keep]
        if len(pts) < 3:
            continue
        parts.append("M" + " ".join(f"{a:g},{b:g}" for a, b in pts) + "Z")
    return "".join(parts)


# ----------------------------------------------------------------------------- colouring
def _hex_to_rgb(h: str):
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


def _ramp(t: np.ndarray) -> list[str]:
    """Colours along the viridis ramp for values t in [0, 1]."""
    stops = np.array([_hex_to_rgb(c) for c in RAMP], float)
    pos = np.linspace(0, 1, len(RAMP))
    rgb = np.column_stack([np.interp(t, pos, stops[:, k]) for k in range(3)])
    return ["#%02x%02x%02x" % tuple(int(round(v)) for v in row) for row in rgb]


def _is_numeric(s: pd.Series) -> bool:
    """Float columns and integer columns with more than MAX_CATEGORIES values get a colour ramp."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return False
    if pd.api.types.is_integer_dtype(s):
        return s.nunique(dropna=True) > MAX_CATEGORIES
    return True


def _sorted_values(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _encode(name: str, s: pd.Series) -> dict:
    """Per-point colour indices, a legend and tooltip values for one attribute."""
    s = s.reset_index(drop=True)
    missing = s.isna().to_numpy()
    n_missing = int(missing.sum())
    if _is_numeric(s):
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
        v[~np.isfinite(v)] = np.nan
        missing = np.isnan(v)
        n_missing = int(missing.sum())
        finite = v[~missing]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        t = np.full(v.shape, 0.5) if hi <= lo else (v - lo) / (hi - lo)
        idx = np.clip(np.round(np.nan_to_num(t) * (_RAMP_STEPS - 1)), 0, _RAMP_STEPS - 1).astype(int)
        palette = _ramp(np.linspace(0, 1, _RAMP_STEPS)) + [MISSING_COLOR]
        idx[missing] = _RAMP_STEPS
        values = [None if np.isnan(x) else float(f"{x:.6g}") for x in v]
        return {"name": name, "kind": "numeric", "palette": palette, "ci": idx.tolist(), "values": values,
                "min": lo, "max": hi, "missing": n_missing}
    text = s.map(lambda x: None if pd.isna(x) else str(x))
    counts = text[~missing].value_counts(sort=True)
    if len(counts) <= MAX_CATEGORIES:
        shown = [str(c) for c in _sorted_values(list(s[~missing].unique()))]
        shown = list(dict.fromkeys(shown))  # distinct values whose str() coincide
        other = 0
    else:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [k for k, _ in ranked[:MAX_CATEGORIES - 1]]
        other = int(sum(c for _, c in ranked[MAX_CATEGORIES - 1:]))
    pos = {v: i for i, v in enumerate(shown)}
    palette = [CATEGORICAL_COLORS[i % len(CATEGORICAL_COLORS)] for i in range(len(shown))] + [OTHER_COLOR, MISSING_COLOR]
    other_i, missing_i = len(shown), len(shown) + 1
    idx = np.array([missing_i if x is None else pos.get(x, other_i) for x in text], int)
    legend = [(v, palette[i], int(counts.get(v, 0))) for v, i in pos.items()]
    if other:
        legend.append(("other", OTHER_COLOR, other))
    names = list(dict.fromkeys(x for x in text if x is not None))
    code = {v: i for i, v in enumerate(names)}
    return {"name": name, "kind": "categorical", "palette": palette, "ci": idx.tolist(),
            "names": names, "codes": [-1 if x is None else code[x] for x in text],
            "legend": legend, "missing": n_missing}


# ----------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 8px}
.fv-controls{margin:0 0 8px;font-size:14px}
.fv-wrap{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
#fv-map{width:100%;max-width:1100px;height:auto;flex:1 1 640px;background:#fafcff;border:1px solid #e3e6ea;border-radius:4px}
.fv-state{fill:#eef0f2;stroke:#9aa3ad;stroke-width:0.6;stroke-linejoin:round;fill-rule:nonzero}
.fv-state:hover{fill:#e2e6ea}
.fv-inset{fill:none;stroke:#c5cbd2;stroke-width:0.8;stroke-dasharray:4 3}
#fv-dots circle{fill-opacity:0.85;stroke:#fff;stroke-width:0.4}
#fv-dots circle:hover{stroke:#000;stroke-width:1.2}
#fv-legends{flex:0 0 220px;font-size:13px}
.fv-legend h2{font-size:14px;margin:0 0 6px}
.fv-legend ul{list-style:none;margin:0;padding:0}
.fv-legend li{margin:2px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.fv-sw{display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:6px;vertical-align:-1px;border:1px solid #0002}
.fv-n{color:#777}
.fv-bar{height:12px;width:200px;border:1px solid #0002}
.fv-mm{display:flex;justify-content:space-between;width:202px;color:#444}
#fv-tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #999;border-radius:3px;padding:4px 6px;font-size:12px;box-shadow:0 1px 4px #0003;max-width:320px}
footer{margin-top:8px;font-size:12px;color:#666}
"""

_JS = """
(function(){
var D=JSON.parse(document.getElementById('fv-data').textContent);
var dots=document.getElementById('fv-dots').getElementsByTagName('circle');
var sel=document.getElementById('fv-colorby'),tip=document.getElementById('fv-tip');
var legends=document.querySelectorAll('.fv-legend');
function show(k){var a=D.attrs[k],p=a.palette,ci=a.ci;
 for(var i=0;i<dots.length;i++){dots[i].setAttribute('fill',p[ci[i]]);}
 for(var j=0;j<legends.length;j++){legends[j].hidden=(j!==k);}}
sel.addEventListener('change',function(){show(+sel.value);});
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
function val(a,i){if(a.kind==='numeric'){var v=a.values[i];return v===null?'(missing)':v;}
 var c=a.codes[i];return c<0?'(missing)':a.names[c];}
var svg=document.getElementById('fv-dots');
svg.addEventListener('mousemove',function(e){var t=e.target;if(t.tagName.toLowerCase()!=='circle'){return;}
 var i=+t.getAttribute('data-i');var h='<b>'+esc(D.labels[i])+'</b>';
 for(var k=0;k<D.attrs.length;k++){h+='<br>'+esc(D.attrs[k].name)+': '+esc(val(D.attrs[k],i));}
 tip.innerHTML=h;tip.hidden=false;tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
svg.addEventListener('mouseout',function(){tip.hidden=true;});
})();
"""


def _legend_html(k: int, a: dict) -> str:
    e = html.escape
    out = [f'<div class="fv-legend" data-attr="{e(a["name"])}"{"" if k == 0 else " hidden"}>',
           f"<h2>{e(a['name'])}</h2>"]
    if a["kind"] == "numeric":
        grad = ",".join(RAMP)
        out.append(f'<div class="fv-bar" style="background:linear-gradient(to right,{grad})"></div>')
        out.append(f'<div class="fv-mm"><span class="fv-min">{a["min"]:.4g}</span>'
                   f'<span class="fv-max">{a["max"]:.4g}</span></div>')
        out.append("<ul>")
    else:
        out.append("<ul>")
        for value, color, n in a["legend"]:
            out.append(f'<li title="{e(value)}"><span class="fv-sw" style="background:{color}"></span>'
                       f'{e(value)} <span class="fv-n">({n})</span></li>')
    if a["missing"]:
        out.append(f'<li><span class="fv-sw" style="background:{MISSING_COLOR}"></span>missing '
                   f'<span class="fv-n">({a["missing"]})</span></li>')
    out.append("</ul></div>")
    return "".join(out)


def _script_json(obj) -> str:
    """JSON safe to embed in a <script> element."""
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _radius(n: int) -> float:
    return 4.0 if n <= 300 else 3.0 if n <= 2000 else 2.2 if n <= 10000 else 1.6


# ----------------------------------------------------------------------------- main entry
def segment_map(users: pd.DataFrame, lat: str = "latitude", lon: str = "longitude",
                color_by: str | Sequence[str] = ("segment",), title: str = "",
                out: str | Path = "segment.html", png: str | Path | None = None,
                label: str | None = None, max_points: int | None = None) -> Path:
    """Write a self-contained HTML map of users as dots over the US states; returns its path.

    users: one row per user with latitude/longitude columns (degrees) and the attribute
        columns named in ``color_by``.
    color_by: one column name or several; a select box in the page switches between them.
        Text, categorical, boolean and integer columns with at most 12 distinct values get
        one colour per value (the 11 most frequent plus "other" beyond 12); other numeric
        columns get a continuous viridis ramp with min/max in the legend.
    title: heading of the page (and of the PNG).
    out: the HTML file to write (parent folders are created).
    png: if given, also write a static PNG of the same map coloured by ``color_by[0]``.
    label: column shown as each dot's name in its tooltip; the frame's index when None.
    max_points: draw at most this many users, a deterministic random sample (seed 0).

    Rows whose latitude or longitude is missing, not a number or out of range are dropped,
    counted in the page footer (``data-dropped``) and reported with a UserWarning; so are
    points that fall outside the map (``data-outside``). Raises ValueError for an empty
    frame, missing columns, or no row with usable coordinates.
    """
    attrs = _check_map_args(users, lat, lon, color_by, label, max_points)

    la = pd.to_numeric(users[lat], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lo = pd.to_numeric(users[lon], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
    n_total, n_dropped = len(users), int((~ok).sum())
    if not ok.any():
        raise ValueError(f"segment_map: none of the {n_total} rows has a usable {lat}/{lon}")
    x, y, visible = project(la, lo)
    keep = ok & visible
    n_outside = int((ok & ~visible).sum())
    rows = np.flatnonzero(keep)
    n_located = len(rows)
    if max_points is not None and len(rows) > max_points:
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(rows, size=int(max_points), replace=False))
    sub = users.iloc[rows]
    px, py = x[rows], y[rows]

    notes = _notes(n_total, n_dropped, n_outside, len(rows), n_located, f"{lat}/{lon}", max_points)

    encoded = [_encode(str(a), sub[a]) for a in attrs]
    labels_src = sub.index if label is None else sub[label]
    labels = ["" if pd.isna(v) else str(v) for v in labels_src]

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_html(title, encoded, labels, px, py, notes,
                         n_total=n_total, n_dropped=n_dropped, n_outside=n_outside), encoding="utf-8")
    if png is not None:
        _png(Path(png), title, encoded[0], px, py)
    return out


def _check_map_args(users, lat, lon, color_by, label, max_points) -> list:
    """segment_map's arguments checked; the attribute columns to colour by, each once."""
    if not isinstance(users, pd.DataFrame):
        raise TypeError(f"users must be a pandas DataFrame, got {type(users).__name__}")
    single = (isinstance(color_by, (str, bytes)) or not np.iterable(color_by)
              or (isinstance(color_by, tuple) and color_by in users.columns))  # a MultiIndex column name
    attrs = [color_by] if single else list(color_by)
    if not attrs:
        raise ValueError("color_by must name at least one column")
    attrs = list(dict.fromkeys(attrs))
    needed = [lat, lon, *attrs] + ([label] if label is not None else [])
    missing_cols = [c for c in dict.fromkeys(needed) if c not in users.columns]
    if missing_cols:
        raise ValueError(f"segment_map: missing column(s) {missing_cols}; available: {list(users.columns)}")
    if len(users) == 0:
        raise ValueError("segment_map: users is empty")
    if max_points is not None and (not isinstance(max_points, (int, np.integer)) or max_points < 1):
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    return attrs


def _notes(n_total: int, n_dropped: int, n_outside: int, n_shown: int, n_located: int, coords: str,
           max_points) -> list[str]:
    """The page footer's notes; the dropped and outside users are also warned about."""
    notes = []
    if n_dropped:
        notes.append(f"{n_dropped} of {n_total} users dropped: missing or invalid {coords}.")
    if n_outside:
        notes.append(f"{n_outside} users lie outside the map area and are not shown.")
    if n_dropped or n_outside:
        warnings.warn("segment_map: " + " ".join(notes), UserWarning, stacklevel=3)
    if n_shown < n_located:
        notes.append(f"Showing a sample of {n_shown} of {n_located} users (max_points={max_points}).")
    return notes


def _html(title, encoded, labels, px, py, notes, *, n_total, n_dropped, n_outside) -> str:
    e = html.escape
    _, height, boxes = _layout()
    r = _radius(len(px))
    first = encoded[0]
    states = "".join(f'<path class="fv-state" data-state="{e(code)}" d="{_path_d(rings)}"><title>{e(name)}</title></path>'
                     for code, name, rings in _state_shapes())
    insets = "".join(f'<rect class="fv-inset" x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{bh:.1f}" rx="3"/>'
                     for bx, by, bw, bh in boxes.values())
    fills = [first["palette"][c] for c in first["ci"]]
    dots = "".join(f'<circle data-i="{i}" cx="{a:.1f}" cy="{b:.1f}" r="{r:g}" fill="{f}"/>'
                   for i, (a, b, f) in enumerate(zip(px.tolist(), py.tolist(), fills)))
    options = "".join(f'<option value="{k}">{e(a["name"])}</option>' for k, a in enumerate(encoded))
    legends = "".join(_legend_html(k, a) for k, a in enumerate(encoded))
    data = {"labels": labels, "attrs": [{k: v for k, v in a.items() if k != "legend"} for a in encoded]}
    heading = f"<h1>{e(title)}</h1>" if title else ""
    summary = f"{len(px)} users shown."
    footer = " ".join([summary] + [e(n) for n in notes])
    page_title = e(title) if title else "Users by " + e(", ".join(a["name"] for a in encoded))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{page_title}</title><style>{_CSS}</style></head><body>\n"
        f"{heading}\n"
        f'<div class="fv-controls"><label>Colour by <select id="fv-colorby">{options}</select></label></div>\n'
        f'<div class="fv-wrap"><svg id="fv-map" viewBox="0 0 {WIDTH:g} {height:g}" role="img" '
        f'aria-label="Map of the US states with {len(px)} users">'
        f'<g class="fv-states">{states}</g><g class="fv-insets">{insets}</g>\n'
        f'<g id="fv-dots">{dots}</g></svg>\n'
        f'<div id="fv-legends">{legends}</div></div>\n'
        '<div id="fv-tip" hidden></div>\n'
        f'<footer id="fv-footer" data-total="{n_total}" data-shown="{len(px)}" data-dropped="{n_dropped}" '
        f'data-outside="{n_outside}">{footer} State outlines: US Census Bureau cartographic boundaries '
        "(public domain).</footer>\n"
        f'<script type="application/json" id="fv-data">{_script_json(data)}</script>\n'
        f"<script>{_JS}</script>\n</body></html>\n"
    )


# ----------------------------------------------------------------------------- PNG
def _png(path: Path, title: str, attr: dict, px, py) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    _, height, boxes = _layout()
    verts, codes = [], []
    for _code, _name, rings in _state_shapes():
        for ring in rings:
            verts.extend(ring.tolist())
            verts.append(ring[0].tolist())
            codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 1) + [MplPath.CLOSEPOLY])
    map_w, side = 10.0, 2.4  # inches: the map, and a column on its right for the legend
    top = 0.5 if title else 0.15
    map_h = map_w * height / WIDTH
    fig_w, fig_h = map_w + side, map_h + top + 0.15
    fig = Figure(figsize=(fig_w, fig_h), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1 / fig_w, 0.15 / fig_h, map_w / fig_w, map_h / fig_h))
    ax.add_artist(PathPatch(MplPath(verts, codes), facecolor="#eef0f2", edgecolor="#9aa3ad", linewidth=0.5))
    for bx, by, bw, bh in boxes.values():
        ax.add_artist(PathPatch(MplPath([(bx, by), (bx + bw, by), (bx + bw, by + bh), (bx, by + bh), (bx, by)],
                                       [1, 2, 2, 2, 79]), fill=False, edgecolor="#c5cbd2", linewidth=0.6, linestyle="--"))
    colors = [attr["palette"][c] for c in attr["ci"]]
    size = (_radius(len(px)) * 1.1) ** 2
    ax.scatter(px, py, c=colors, s=size, linewidths=0.2, edgecolors="white", alpha=0.9, zorder=3)
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=14)
    if attr["kind"] == "numeric":
        cmap = LinearSegmentedColormap.from_list("featvec_ramp", list(RAMP))
        lo, hi = attr["min"], attr["max"]
        sm = ScalarMappable(norm=Normalize(lo, hi if hi > lo else lo + 1), cmap=cmap)
        cax = fig.add_axes(((map_w + 0.5) / fig_w, 0.25, 0.25 / fig_w, 0.5))
        cb = fig.colorbar(sm, cax=cax, orientation="vertical")
        cb.set_label(attr["name"], fontsize=9)
        cb.ax.tick_params(labelsize=8)
    else:
        handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=c, markeredgecolor="none",
                          label=f"{v} ({n})") for v, c, n in attr["legend"]]
        if attr["missing"]:
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=MISSING_COLOR,
                                  markeredgecolor="#999", label=f"missing ({attr['missing']})"))
        ax.legend(handles=handles, title=attr["name"], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  fontsize=9, title_fontsize=10, frameon=False, alignment="left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
