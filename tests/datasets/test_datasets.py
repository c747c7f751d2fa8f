"""featvec.datasets: the MovieLens loaders on fixture files in every format, and synthetic_ratings."""
from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pandas as pd
import pytest

import featvec
from featvec.datasets import MovieLens, default_data_dir, find_data_dir, load_movielens, synthetic_ratings
from featvec.datasets.movielens import OCCUPATIONS_1M, RATING_COLUMNS
from movielens_fixtures import FILES, write_movielens_fixtures

RATING_DTYPES = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}


def _check_rating_frame(df: pd.DataFrame) -> None:
    assert list(df.columns) == RATING_COLUMNS
    assert {c: df[c].dtype for c in df.columns} == {c: np.dtype(t) for c, t in RATING_DTYPES.items()}
    assert isinstance(df.index, pd.RangeIndex) and df.index.start == 0


def _rows(df: pd.DataFrame) -> list[tuple]:
    return [(int(u), int(i), float(r), int(t)) for u, i, r, t in df[RATING_COLUMNS].itertuples(index=False)]


def _items(ml: MovieLens) -> dict:
    """item_id -> (title, year or None, genres)."""
    return {int(r.item_id): (str(r.title), None if pd.isna(r.year) else int(r.year), list(r.genres))
            for r in ml.items.itertuples(index=False)}


@pytest.fixture
def fixture_copy(tmp_path):
    """A private, writable copy of the fixture folder (for tests that break or delete files)."""
    return write_movielens_fixtures(tmp_path / "data")


# ---------------------------------------------------------------------------------------------- formats

def test_ml_100k(movielens_fixtures):
    ml = load_movielens("ml-100k", data_dir=movielens_fixtures)
    assert ml.name == "ml-100k" and ml.path == movielens_fixtures / "ml-100k"
    _check_rating_frame(ml.ratings)
    assert _rows(ml.ratings) == [(1, 1, 5.0, 880000001), (1, 2, 3.0, 880000002), (2, 1, 4.0, 880000003),
                                 (3, 3, 2.0, 880000004), (2, 4, 1.0, 880000005)]
    users = ml.users
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip"]
    assert users["user_id"].tolist() == [1, 2, 3] and users["age"].tolist() == [30, 41, 19]
    assert users["user_id"].dtype == np.int64 and users["age"].dtype == np.int64
    assert users["gender"].tolist() == ["M", "F", "M"]
    assert users["occupation"].tolist() == ["technician", "other", "writer"]
    assert users["zip"].tolist() == ["10001", "10002", "10003"]  # zip codes stay text
    assert list(ml.items.columns) == ["item_id", "title", "year", "genres"]
    assert ml.items["item_id"].dtype == np.int64 and str(ml.items["year"].dtype) == "Int64"
    assert _items(ml) == {
        1: ("Toy Story (1995)", 1995, ["Animation", "Children's", "Comedy"]),
        2: ("Cit\u00e9 des enfants perdus, La (1995)", 1995, ["Adventure", "Sci-Fi"]),  # latin-1 e-acute
        3: ("Some Film", 1997, ["Drama"]),  # no year in the title: taken from the release date
        4: ("unknown", None, ["unknown"]),  # no title year, no date
    }
    assert repr(ml) == "MovieLens(name='ml-100k', ratings=5, users=3, items=4)"


def test_ml_1m(movielens_fixtures):
    ml = load_movielens("ml-1m", data_dir=movielens_fixtures)
    _check_rating_frame(ml.ratings)
    assert _rows(ml.ratings) == [(1, 1193, 5.0, 970000001), (1, 661, 3.0, 970000002), (2, 1193, 4.0, 970000003),
                                 (3, 3, 2.0, 970000004)]
    users = ml.users
    assert list(users.columns) == ["user_id", "gender", "age", "occupation", "zip"]
    assert users["user_id"].tolist() == [1, 2, 3]
    assert users["gender"].tolist() == ["F", "M", "M"]
    assert users["age"].tolist() == [1, 56, 25]  # the 1M age-bucket codes, as given
    # occupation codes 10, 16, 0 mapped to the names of the ml-1m README
    assert users["occupation"].tolist() == ["K-12 student", "self-employed", "other"]
    assert users["zip"].tolist() == ["20001", "20002", "20003"]
    assert _items(ml) == {
        3: ("Grumpier Old Men (1995)", 1995, ["Comedy", "Romance"]),
        661: ("James and the Giant Peach (1996)", 1996, ["Animation", "Children's", "Musical"]),
        1193: ("One Flew Over the Cuckoo's Nest (1975)", 1975, ["Drama"]),
        2000: ("Cr\u00f3nica de una muerte anunciada (1987)", 1987, ["Drama"]),  # latin-1 o-acute
        2001: ("Star Wars: Episode IV - A New Hope (1977)", 1977, ["Action", "Adventure", "Fantasy", "Sci-Fi"]),
    }


def test_occupation_codes_cover_the_readme():
    assert sorted(OCCUPATIONS_1M) == list(range(21))
    assert OCCUPATIONS_1M[0] == "other" and OCCUPATIONS_1M[20] == "writer"


def test_ml_10m_from_the_ml_10M100K_folder(movielens_fixtures):
    ml = load_movielens("ml-10m", data_dir=movielens_fixtures)
    assert ml.path == movielens_fixtures / "ml-10M100K"
    assert ml.users is None
    _check_rating_frame(ml.ratings)
    assert _rows(ml.ratings) == [(1, 122, 5.0, 830000001), (1, 185, 4.5, 830000002), (2, 122, 3.5, 830000003)]
    assert _items(ml) == {
        122: ("Boomerang (1992)", 1992, ["Comedy", "Romance"]),
        185: ("Net, The (1995)", 1995, ["Action", "Crime", "Thriller"]),
        8606: ("Pull My Daisy (1958)", 1958, []),  # "(no genres listed)"
    }
    assert repr(ml) == "MovieLens(name='ml-10m', ratings=3, users=None, items=3)"


def test_ml_20m(movielens_fixtures):
    ml = load_movielens("ml-20m", data_dir=movielens_fixtures)
    assert ml.users is None
    _check_rating_frame(ml.ratings)
    assert _rows(ml.ratings) == [(1, 2, 3.5, 1100000001), (1, 29, 3.5, 1100000002), (2, 2, 4.0, 1100000003)]
    assert _items(ml) == {
        2: ("Jumanji (1995)", 1995, ["Adventure", "Children", "Fantasy"]),
        # quoted title with commas, UTF-8 e-acute, and the year is the last "(dddd)"
        29: ("City of Lost Children, The (Cit\u00e9 des enfants perdus, La) (1995)", 1995,
             ["Adventure", "Drama", "Fantasy", "Mystery", "Sci-Fi"]),
    }


def test_ml_latest_small(movielens_fixtures):
    ml = load_movielens("ml-latest-small", data_dir=movielens_fixtures)
    assert ml.users is None
    _check_rating_frame(ml.ratings)
    assert _rows(ml.ratings) == [(1, 1, 4.0, 1400000001), (1, 3, 4.0, 1400000002), (2, 1, 2.5, 1400000003),
                                 (3, 193609, 0.5, 1400000004)]
    assert _items(ml) == {
        1: ("Toy Story (1995)", 1995, ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]),
        3: ("American President, The (1995)", 1995, ["Comedy", "Drama", "Romance"]),
        193609: ("Babylon 5", None, ["Sci-Fi"]),
        # an en dash year range gives its first year; UTF-8 o-circumflex
        171749: ("Death Note: Desu n\u00f4to (2006\u20132007)", 2006, []),
    }


def test_path_argument_and_FEATVEC_DATA(movielens_fixtures, monkeypatch):
    by_path = load_movielens("ml-1m", path=movielens_fixtures / "ml-1m")
    assert by_path.path == movielens_fixtures / "ml-1m" and len(by_path.ratings) == 4
    monkeypatch.setenv("FEATVEC_DATA", str(movielens_fixtures))
    assert default_data_dir() == movielens_fixtures
    assert find_data_dir() == movielens_fixtures
    by_env = load_movielens("ml-latest-small")
    assert by_env.path == movielens_fixtures / "ml-latest-small"
    pd.testing.assert_frame_equal(by_env.ratings, load_movielens("ml-latest-small", data_dir=movielens_fixtures).ratings)


def test_default_data_dir_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("FEATVEC_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".featvec" / "data"


def test_utf8_fallback_to_latin1_in_dat_movies(fixture_copy):
    """The 10M movies.dat is read as UTF-8, falling back to latin-1 for files that are not valid UTF-8."""
    (fixture_copy / "ml-10M100K" / "movies.dat").write_bytes(b"122::Cr\xf3nica (1987)::Drama\n")
    assert load_movielens("ml-10m", data_dir=fixture_copy).items["title"].tolist() == ["Cr\u00f3nica (1987)"]
    (fixture_copy / "ml-10M100K" / "movies.dat").write_bytes("122::Crónica (1987)::Drama\n".encode("utf-8"))
    assert load_movielens("ml-10m", data_dir=fixture_copy).items["title"].tolist() == ["Cr\u00f3nica (1987)"]


def test_title_containing_the_separator(fixture_copy):
    (fixture_copy / "ml-1m" / "movies.dat").write_bytes(b"7::Title::With::Colons (2001)::Drama|War\n")
    items = load_movielens("ml-1m", data_dir=fixture_copy).items
    assert _items(MovieLens("x", items.iloc[:0], None, items)) == {7: ("Title::With::Colons (2001)", 2001,
                                                                      ["Drama", "War"])}


# ---------------------------------------------------------------------------------------------- require_ratings

@pytest.mark.parametrize("name, folder, ratings_file", [("ml-1m", "ml-1m", "ratings.dat"),
                                                        ("ml-10m", "ml-10M100K", "ratings.dat"),
                                                        ("ml-latest-small", "ml-latest-small", "ratings.csv")])
def test_require_ratings_false(fixture_copy, name, folder, ratings_file):
    with_ratings = load_movielens(name, data_dir=fixture_copy, require_ratings=False)
    assert len(with_ratings.ratings) > 0  # a ratings file that is there is still read

    (fixture_copy / folder / ratings_file).unlink()
    with pytest.raises(FileNotFoundError, match="require_ratings=False"):
        load_movielens(name, data_dir=fixture_copy)
    ml = load_movielens(name, data_dir=fixture_copy, require_ratings=False)
    assert len(ml.ratings) == 0
    _check_rating_frame(ml.ratings)
    pd.testing.assert_frame_equal(ml.items, with_ratings.items)
    if name == "ml-1m":
        pd.testing.assert_frame_equal(ml.users, with_ratings.users)


def test_ml_1m_partial_reads_a_1m_folder_of_that_name(fixture_copy):
    (fixture_copy / "ml-1m").rename(fixture_copy / "ml-1m-partial")
    (fixture_copy / "ml-1m-partial" / "ratings.dat").unlink()
    ml = load_movielens("ml-1m-partial", data_dir=fixture_copy, require_ratings=False)
    assert ml.name == "ml-1m-partial" and len(ml.ratings) == 0
    assert len(ml.users) == 3 and len(ml.items) == 5


# ---------------------------------------------------------------------------------------------- errors

def test_unknown_dataset_name(movielens_fixtures):
    with pytest.raises(ValueError, match=r"unknown MovieLens dataset 'ml-2m'.*ml-100k"):
        load_movielens("ml-2m", data_dir=movielens_fixtures)


def test_missing_folder_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_movielens("ml-10m", data_dir=tmp_path)
    msg = str(e.value)
    assert "ml-10m" in msg and "ratings.dat" in msg and "movies.dat" in msg
    assert str(tmp_path / "ml-10m") in msg and str(tmp_path / "ml-10M100K") in msg  # every folder tried
    for fix in ("data_dir=", "path=", "FEATVEC_DATA", "download=True"):
        assert fix in msg
    err = e.value  # the details as attributes, for callers that word their own message (the CLI)
    assert isinstance(err, featvec.datasets.DatasetNotFoundError) and err.name == "ml-10m"
    assert err.missing == ["ratings.dat", "movies.dat"] and err.folder == "ml-10m"
    assert err.looked == [tmp_path / "ml-10m", tmp_path / "ml-10M100K"]


def test_missing_folder_given_by_path(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_movielens("ml-100k", path=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value) and "u.data" in str(e.value)


def test_missing_one_file(fixture_copy):
    (fixture_copy / "ml-100k" / "u.user").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing u\.user in") as e:
        load_movielens("ml-100k", data_dir=fixture_copy)
    assert "u.data" not in str(e.value).split(" in ")[0]


MALFORMED = [
    # (file, content, expected line, what the message says)
    ("ml-100k/u.data", b"1\t1\t5\t880000001\n2\t2\tx\t880000002\n", 2, "rating"),
    ("ml-100k/u.data", b"1\t1\t5\t880000001\n2\t2\t3\n", 2, "expected 4 fields"),
    ("ml-100k/u.data", b"1\t1\t5\t880000001\n1\t1\t5\t880000001\n2\t2\t3\t4\t5\n", 3, "4 fields"),
    ("ml-100k/u.data", b"1\t1\t5\t880000001\t7\n2\t2\t3\t880000002\n", 1, "expected 4 fields"),
    ("ml-100k/u.user", b"1|30|M|technician|10001\n2|41|F\n", 2, "expected 5 fields"),
    ("ml-100k/u.item", FILES["ml-100k/u.item"] + b"5|Bad|x\n", 5, "expected 24 fields"),
    ("ml-1m/ratings.dat", b"1::1193::5::970000001\n1::661\n", 2, "expected 4 fields"),
    ("ml-1m/ratings.dat", b"1::1193::5::970000001\n1::661::3::97x\n", 2, "timestamp"),
    ("ml-1m/ratings.dat", b"1::1193::5::970000001\n1::661::3::5::6::7\n", 2, "expected 4 fields"),
    ("ml-1m/ratings.dat", b"1::1193::5::970000001\n1:661:3:970000002\n", 2, "expected 4 fields"),
    ("ml-1m/users.dat", b"1::F::1::10::20001\n2::M::56\n", 2, "expected 5 fields"),
    ("ml-1m/movies.dat", b"3::Grumpier Old Men (1995)::Comedy|Romance\nfoo\n", 2, "expected 3 fields"),
    ("ml-10M100K/ratings.dat", b"1::122::5::830000001\n1::185::4.5::830000002::9\n", 2, "expected 4 fields"),
    ("ml-10M100K/ratings.dat", b"1::122::5::830000001\n\n1::185::4.5::x\n", 3, "timestamp"),
    # CSV: the header is line 1, so the second data row is line 3
    ("ml-20m/ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3.5,1\n1,x,3.5,2\n", 3, "item_id"),
    ("ml-20m/ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3.5,1\n1,2,3.5,2,5,6\n", 3, "4 fields"),
    ("ml-latest-small/ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3.5,1\n1,2,,2\n", 3, "rating"),
    ("ml-latest-small/ratings.csv", b"userId,movieId,rating,timestamp\n1,2,3.5,1,9\n1,2,3.5,2\n", 2, "4 fields"),
]


@pytest.mark.parametrize("rel, content, line, what", MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_line_names_file_and_line(fixture_copy, rel, content, line, what):
    (fixture_copy / rel).write_bytes(content)
    name = {"ml-10M100K": "ml-10m"}.get(rel.split("/")[0], rel.split("/")[0])
    with pytest.raises(ValueError) as e:
        load_movielens(name, data_dir=fixture_copy)
    msg = str(e.value)
    assert str(fixture_copy / rel) in msg
    assert f"line {line}" in msg
    assert what in msg


@pytest.mark.parametrize("rel, content, what", [
    ("ml-1m/users.dat", b"1::F::1::99::20001\n", "unknown occupation code 99"),
    ("ml-100k/u.user", b"1|thirty|M|technician|10001\n", "'age' is not an integer"),
    ("ml-latest-small/movies.csv", b"movieId,title,genres\n1,Toy,Comedy\nabc,Foo,Drama\n", "'movieId' is not an integer"),
    ("ml-20m/ratings.csv", b"userId,movieId,rating\n1,2,3.5\n", "missing column(s) ['timestamp']"),
    ("ml-100k/u.item", FILES["ml-100k/u.item"].replace(b"|0|0|0|1|1|1|", b"|0|0|0|1|2|1|", 1), "genre flags"),
])
def test_bad_values_name_the_file(fixture_copy, rel, content, what):
    (fixture_copy / rel).write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_movielens(rel.split("/")[0], data_dir=fixture_copy)
    assert str(fixture_copy / rel) in str(e.value) and what in str(e.value)


def test_blank_lines_are_skipped(fixture_copy):
    (fixture_copy / "ml-1m" / "ratings.dat").write_bytes(b"1::1193::5::970000001\n\n1::661::3::5\n")
    assert _rows(load_movielens("ml-1m", data_dir=fixture_copy).ratings) == [(1, 1193, 5.0, 970000001),
                                                                             (1, 661, 3.0, 5)]


# ---------------------------------------------------------------------------------------------- download

def test_download_without_network_raises_connection_error(tmp_path, monkeypatch):
    calls = []

    def no_network(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(ConnectionError) as e:
        load_movielens("ml-100k", data_dir=tmp_path, download=True)
    assert calls == ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    msg = str(e.value)
    assert calls[0] in msg and "no route to host" in msg and str(tmp_path) in msg and "network" in msg
    assert list(tmp_path.iterdir()) == []  # no partial download left behind


def test_download_not_offered_for_partial(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(ValueError, match="cannot be downloaded"):
        load_movielens("ml-1m-partial", data_dir=tmp_path, download=True)


def test_download_extracts_the_zip(tmp_path, monkeypatch):
    """A (fake, in-memory) ml-100k.zip is fetched once, extracted into data_dir and loaded."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel, data in FILES.items():
            if rel.startswith("ml-100k/"):
                zf.writestr(rel, data)
    urls = []

    def fake_urlopen(url, *args, **kwargs):
        urls.append(url)
        return io.BytesIO(buf.getvalue())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ml = load_movielens("ml-100k", data_dir=tmp_path, download=True)
    assert urls == ["https://files.grouplens.org/datasets/movielens/ml-100k.zip"]
    assert ml.path == tmp_path / "ml-100k" and len(ml.ratings) == 5 and len(ml.users) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k", "ml-100k.zip"]
    # present now: no second download
    load_movielens("ml-100k", data_dir=tmp_path, download=True)
    assert len(urls) == 1


# ---------------------------------------------------------------------------------------------- synthetic

def test_synthetic_shapes_and_dtypes():
    s = synthetic_ratings(n_users=120, n_items=80, n_ratings=3000, rank=3, seed=1)
    r = s.ratings
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"] and len(r) == 3000
    assert r["rating"].dtype == np.float32
    assert r["user_id"].between(1, 120).all() and r["item_id"].between(1, 80).all()
    assert r["rating"].between(1.0, 5.0).all()
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert r["user_id"].nunique() == 120  # every user has a rating
    assert s.user_factors.shape == (120, 3) and s.item_factors.shape == (80, 3)
    assert list(s.user_factors.columns) == ["f0", "f1", "f2"]
    assert s.user_factors.index.tolist() == list(range(1, 121)) and s.item_factors.index.tolist() == list(range(1, 81))
    assert s.user_bias.shape == (120,) and s.item_bias.shape == (80,)
    assert s.global_mean == pytest.approx(3.5) and s.rating_range == (1.0, 5.0) and s.noise_std == 0.5
    assert r["timestamp"].between(946_684_800, 1_577_836_800).all()


def test_synthetic_is_seeded():
    a = synthetic_ratings(n_users=50, n_items=30, n_ratings=600, seed=7)
    b = synthetic_ratings(n_users=50, n_items=30, n_ratings=600, seed=7)
    c = synthetic_ratings(n_users=50, n_items=30, n_ratings=600, seed=8)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.item_factors, b.item_factors)
    assert a.noise_floor_rmse == b.noise_floor_rmse
    assert not a.ratings.equals(c.ratings)


def test_synthetic_truth_and_noise_floor():
    s = synthetic_ratings(n_users=400, n_items=200, n_ratings=20_000, rank=4, seed=3, noise=0.5)
    r = s.ratings
    truth = s.truth(r["user_id"], r["item_id"])
    assert truth.dtype == np.float32 and truth.shape == (len(r),)
    # the documented model, recomputed by hand
    uf = s.user_factors.loc[r["user_id"]].to_numpy(np.float64)
    vf = s.item_factors.loc[r["item_id"]].to_numpy(np.float64)
    raw = (s.global_mean + s.user_bias.loc[r["user_id"]].to_numpy() + s.item_bias.loc[r["item_id"]].to_numpy()
           + np.einsum("ij,ij->i", uf, vf))
    np.testing.assert_allclose(truth, np.clip(raw, 1, 5), atol=1e-5)
    # the floor is the RMSE of the truth against the observed ratings
    floor = np.sqrt(np.mean((truth.astype(np.float64) - r["rating"].to_numpy()) ** 2))
    assert s.noise_floor_rmse == pytest.approx(floor, rel=1e-6)
    # clipping only shrinks errors; away from the clip the error is the N(0, 0.5) noise itself
    assert 0.8 * 0.5 < s.noise_floor_rmse <= 0.5 * 1.03
    inside = (truth > 1) & (truth < 5) & (r["rating"].to_numpy() > 1) & (r["rating"].to_numpy() < 5)
    assert inside.mean() > 0.7
    diff = r["rating"].to_numpy()[inside] - truth[inside].astype(np.float64)
    assert abs(diff.mean()) < 0.02
    assert diff.std() == pytest.approx(0.5, rel=0.05)
    # structure: the factor term carries real variance (std ~0.6 for a 1-5 range)
    assert 0.4 < np.einsum("ij,ij->i", uf, vf).std() < 0.8


def test_synthetic_noise_floor_follows_noise():
    quiet = synthetic_ratings(n_users=200, n_items=100, n_ratings=8000, seed=0, noise=0.1)
    assert quiet.noise_floor_rmse == pytest.approx(0.1, rel=0.05)
    exact = synthetic_ratings(n_users=50, n_items=40, n_ratings=500, seed=0, noise=0.0)
    assert exact.noise_floor_rmse == 0.0
    np.testing.assert_array_equal(exact.truth(exact.ratings["user_id"], exact.ratings["item_id"]),
                                  exact.ratings["rating"].to_numpy())


def test_synthetic_truth_unknown_ids():
    s = synthetic_ratings(n_users=10, n_items=10, n_ratings=30, seed=0)
    assert s.truth([1, 10], [10, 1]).shape == (2,)
    with pytest.raises(ValueError, match="unknown user_id or item_id"):
        s.truth([11], [1])
    with pytest.raises(ValueError, match="unknown user_id or item_id"):
        s.truth([1], [0])


def test_synthetic_discrete_and_rating_range():
    d = synthetic_ratings(n_users=60, n_items=40, n_ratings=900, seed=2, discrete=True)
    assert set(np.unique(d.ratings["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0} and d.discrete
    assert set(np.unique(d.truth(d.ratings["user_id"], d.ratings["item_id"]))) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    h = synthetic_ratings(n_users=60, n_items=40, n_ratings=900, seed=2, rating_range=(0.5, 10))
    assert h.ratings["rating"].between(0.5, 10).all() and h.rating_range == (0.5, 10.0)
    assert h.global_mean == pytest.approx(0.5 + 0.625 * 9.5)


def test_synthetic_popularity_is_zipf_skewed():
    kw = dict(n_users=2000, n_items=200, n_ratings=10_000, rank=2, seed=0)
    skewed = np.sort(synthetic_ratings(zipf=1.0, **kw).ratings["item_id"].value_counts().to_numpy())[::-1]
    flat = np.sort(synthetic_ratings(zipf=0.0, **kw).ratings["item_id"].value_counts().to_numpy())[::-1]
    # 1/rank weights: the top 10% of items get about H(20)/H(200) ~ 61% of the draws; uniform gets 10%
    assert skewed[:20].sum() / skewed.sum() > 0.45
    assert flat[:20].sum() / flat.sum() < 0.15
    assert skewed[0] > 5 * np.median(skewed)
    assert flat.std() / flat.mean() < 0.25  # about Poisson: std ~ sqrt(50) on a mean of 50
    # a heavy-tailed log-log slope near -1 over the head
    slope = np.polyfit(np.log(np.arange(1, 51)), np.log(skewed[:50]), 1)[0]
    assert -1.3 < slope < -0.6


def test_synthetic_sparse_path_and_full_matrix():
    big = synthetic_ratings(n_users=3000, n_items=2000, n_ratings=20_000, rank=2, seed=0)  # > 5M pairs
    assert len(big.ratings) == 20_000 and not big.ratings.duplicated(["user_id", "item_id"]).any()
    assert big.ratings["user_id"].nunique() == 3000
    full = synthetic_ratings(n_users=5, n_items=4, n_ratings=20, rank=1, seed=0)
    pairs = set(zip(full.ratings["user_id"], full.ratings["item_id"]))
    assert pairs == {(u, i) for u in range(1, 6) for i in range(1, 5)}
    one_each = synthetic_ratings(n_users=7, n_items=3, n_ratings=7, rank=1, seed=0)
    assert sorted(one_each.ratings["user_id"]) == list(range(1, 8))


@pytest.mark.parametrize("kwargs, match", [
    (dict(rating_range=(5, 1)), "rating_range"),
    (dict(rating_range=(1, 1)), "rating_range"),
    (dict(n_users=0), ">= 1"),
    (dict(n_items=0), ">= 1"),
    (dict(rank=0), ">= 1"),
    (dict(n_users=10, n_items=5, n_ratings=9), "n_ratings must be between"),
    (dict(n_users=10, n_items=5, n_ratings=51), "n_ratings must be between"),
    (dict(noise=-0.1), "noise and zipf"),
    (dict(zipf=-1), "noise and zipf"),
])
def test_synthetic_argument_errors(kwargs, match):
    args = dict(n_users=10, n_items=5, n_ratings=20)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        synthetic_ratings(**args)


# ---------------------------------------------------------------------------------------------- real data

@pytest.mark.data
def test_real_ml_100k(data_dir):
    ml = load_movielens("ml-100k", data_dir=data_dir)
    _check_rating_frame(ml.ratings)
    assert len(ml.ratings) == 100_000
    assert ml.ratings["user_id"].nunique() == 943 and ml.ratings["item_id"].nunique() == 1682
    assert len(ml.users) == 943 and len(ml.items) == 1682
    assert sorted(ml.ratings["rating"].unique()) == [1, 2, 3, 4, 5]
    assert ml.users["gender"].isin(["M", "F"]).all() and ml.users["occupation"].nunique() == 21
    assert ml.items.set_index("item_id").loc[50, "title"] == "Star Wars (1977)"
    assert ml.items.set_index("item_id").loc[50, "year"] == 1977
    assert "Sci-Fi" in ml.items.set_index("item_id").loc[50, "genres"]
    assert ml.items["year"].isna().sum() <= 1  # only the "unknown" movie


@pytest.mark.data
def test_real_ml_latest_small(data_dir):
    ml = load_movielens("ml-latest-small", data_dir=data_dir)
    _check_rating_frame(ml.ratings)
    assert len(ml.ratings) == 100_836 and ml.ratings["user_id"].nunique() == 610
    assert len(ml.items) == 9_742 and ml.users is None
    assert set(np.unique(ml.ratings["rating"])) == set(np.arange(1, 11) / 2)
    assert ml.items["genres"].map(len).eq(0).sum() > 0  # some "(no genres listed)"
    assert ml.items["year"].notna().mean() > 0.99


@pytest.mark.data
def test_real_ml_1m_partial_users_and_items(data_dir):
    with pytest.raises(FileNotFoundError, match="require_ratings=False"):
        load_movielens("ml-1m-partial", data_dir=data_dir)
    ml = load_movielens("ml-1m-partial", data_dir=data_dir, require_ratings=False)
    assert len(ml.ratings) == 0
    assert len(ml.users) == 6_040 and len(ml.items) == 3_883
    assert set(ml.users["occupation"]) <= set(OCCUPATIONS_1M.values())
    assert set(ml.users["age"]) == {1, 18, 25, 35, 45, 50, 56}
    assert ml.items["year"].notna().all()
