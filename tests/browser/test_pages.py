"""The explorer (written by featvec explore, and served at /explore) and the report, in a real browser."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import featvec
from featvec.cli import main

from explore_fixtures import build

pytestmark = pytest.mark.browser

ISOLATED = """(table) => {  // the shown point farthest from every other, so a click there can only mean it
  const st = featvecExplorer.state, t = st.data.tables.find((x) => x.name === table);
  let best = null, bd = -1;
  for (const id of t.ids) {
    const p = featvecExplorer.screenPosition(table, id);
    let d = Infinity;
    for (const o of t.ids) if (o !== id) { const q = featvecExplorer.screenPosition(table, o); d = Math.min(d, Math.hypot(p.x - q.x, p.y - q.y)); }
    if (d > bd && p.x > 20 && p.y > 60) { bd = d; best = {id: id, x: p.x, y: p.y}; }
  }
  return best;
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    saved = build(tmp_path_factory.mktemp("pages"))
    root = saved["root"]
    assert main(["explore", str(root / "mf"), str(root / "users"), "--meta", f"items={root / 'items.csv'}",
                 "--records", str(root / "users.csv"), "--bags", "pages", "--out", str(root / "page")]) == 0
    assert main(["report", str(root / "mf"), "--meta", f"items={root / 'items.csv'}", "--out",
                 str(root / "report.html")]) == 0
    return saved


def _ready(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def _titles(ids):
    return [f"Movie {i}" for i in ids]


def test_explorer_search_click_neighbours_and_user_lists(page, site):
    p, root = page.page, site["root"]
    mf = featvec.load(root / "mf")
    _ready(p, (root / "page" / "index.html").as_uri())
    assert p.locator("#model option").all_text_contents() == ["mf", "users"]
    assert p.locator("#table").input_value() == "items"
    # search with completion, then Enter
    p.fill("#search", "movie 137")
    p.wait_for_selector("#suggestions li")
    assert p.locator("#suggestions li").first.locator("span").text_content() == "Movie 137"
    p.keyboard.press("Enter")
    assert p.locator("#selected").text_content() == "Movie 137"
    want = mf.similar_items([137], k=10)["similar_item_id"].tolist()
    assert p.locator("#neighbours > li > a").all_text_contents() == _titles(want)
    # a neighbour's link selects it
    p.locator("#neighbours > li > a").first.click()
    assert p.locator("#selected").text_content() == f"Movie {want[0]}"
    # hover shows the label, a click on a point selects it
    point = p.evaluate(ISOLATED, "items")
    p.mouse.move(point["x"], point["y"])
    p.wait_for_selector("#tooltip:not([hidden])")
    assert p.locator("#tooltip").text_content().startswith(f"Movie {point['id']}")
    p.mouse.click(point["x"], point["y"])
    assert p.locator("#selected").text_content() == f"Movie {point['id']}"
    near = mf.similar_items([point["id"]], k=10)["similar_item_id"].tolist()
    assert p.locator("#neighbours > li > a").all_text_contents() == _titles(near)
    # colour by a metadata column
    p.select_option("#color", "genre")
    assert "Drama" in p.locator("#legend").text_content()
    # zoom with the wheel
    p.mouse.move(400, 400)
    p.mouse.wheel(0, -400)
    assert p.evaluate("featvecExplorer.state.view.scale") > 1.5
    # a user: history beside their top-K
    p.fill("#search", "17")
    p.wait_for_selector("#suggestions li")
    assert p.locator("#suggestions li").first.locator("small").text_content() == "users"
    p.keyboard.press("Enter")
    assert p.locator("#table").input_value() == "users" and p.locator("#selected").text_content() == "17"
    r = site["ratings"]
    history = sorted(_titles(r.loc[r["user_id"] == 17, "item_id"]))
    assert sorted(p.locator("#history > li > a").all_text_contents()) == history
    top = mf.recommend([17], k=10)["item_id"].tolist()
    assert p.locator("#recommended > li > a").all_text_contents() == _titles(top)
    # another table while a row beyond its size is selected: its own points, no selection
    p.evaluate("featvecExplorer.select('users', featvecExplorer.state.table.ids.at(-1))")
    assert p.evaluate("featvecExplorer.state.selected") >= 60
    p.select_option("#table", "items")
    assert p.locator("#details .hint").count() == 1
    assert p.locator("#status").text_content().startswith("items: ")


def test_explorer_user_model_probabilities(page, site):
    p, root = page.page, site["root"]
    _ready(p, (root / "page" / "index.html").as_uri() + "?model=users")
    assert p.locator("#table").input_value() == "users"
    p.fill("#search", "u5")
    p.wait_for_selector("#suggestions li")
    p.keyboard.press("Enter")
    assert p.locator("#selected").text_content() == "u5"
    bars = p.locator("#probabilities .bar")
    assert bars.count() == 2
    proba = featvec.load(root / "users").predict_proba(site["users"].iloc[[5]])["gender"]
    shown = {t.split("\n")[0]: t for t in bars.all_inner_texts()}
    assert any(f"{100 * proba['F'].iloc[0]:.1f}%" in t for t in shown.values()), shown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(site):
    root, port = site["root"], _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "featvec.cli", "serve", str(root / "mf"), str(root / "users"),
                             str(root / "audience"), "--meta", f"items={root / 'items.csv'}", "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                assert json.load(r)["models"] == 3
            break
        except OSError:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_served_explorer_segment_map_of_a_lookalike_index(page, server):
    p = page.page
    _ready(p, server + "/explore/")
    assert p.locator("#model option").all_text_contents() == ["mf", "users", "audience"]
    p.select_option("#model", "audience")
    p.wait_for_function("featvecExplorer.state.name === 'audience'")
    assert p.locator("#table").input_value() == "segment map"
    assert p.locator("#color").input_value() == "match: Games"
    assert "match: Games" in p.locator("#legend").text_content()
    point = p.evaluate(ISOLATED, "segment map")
    p.mouse.click(point["x"], point["y"])
    assert p.locator("#selected").text_content() == str(point["id"])
    assert p.locator("#neighbours > li").count() == 10
    p.locator("#neighbours > li > a").first.click()
    assert p.locator("#selected").text_content() != str(point["id"])
    # the same page for a recommender, served
    p.select_option("#model", "mf")
    p.wait_for_function("featvecExplorer.state.name === 'mf'")
    p.fill("#search", "movie 101")
    p.wait_for_selector("#suggestions li")
    p.keyboard.press("Enter")
    assert p.locator("#selected").text_content() == "Movie 101"


def test_report_renders(page, site):
    p = page.page
    p.goto((site["root"] / "report.html").as_uri())
    assert p.locator("svg").count() == 2
    assert p.locator("#neighbours tr").count() == 13
    assert p.locator("#config th").first.text_content() == "dim"
    box = p.locator("#factors svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
