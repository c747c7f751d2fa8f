"""The presets that are not recommenders (Feat2Vec, TabularModel, UserModel) against the shared estimator
contract (estimator_contract.py); the recommenders pass it through TopKContract (test_contract.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from featvec import Bag, Categorical, Feat2Vec, Numeric, TabularModel, UserModel
from estimator_contract import EstimatorContract


def records(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Users, items with a genre and a rating; users of one group like one genre's items."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 40, n)
    item = (user % 4) * 10 + rng.integers(0, 10, n)
    return pd.DataFrame({"user": user, "item": item, "genre": [f"g{i // 10}" for i in item],
                         "rating": rng.integers(1, 6, n), "x": rng.normal(size=n)})


class TestFeat2Vec(EstimatorContract):
    def make_model(self):
        return Feat2Vec(groups=["user", "item", "genre", "rating"], dim=6, epochs=3, seed=0)

    def make_train(self):
        return records()

    def outputs(self, model, frame):
        return model.score(frame)


class TestTabularModel(EstimatorContract):
    def make_model(self):
        return TabularModel(categorical=["user", "genre"], numeric=["x"], target="rating", layers=(16,),
                            epochs=3, batch_size=64, seed=0)

    def make_train(self):
        return records()

    def outputs(self, model, frame):
        return model.predict(frame)


class TestTabularModelClassifier(TestTabularModel):
    def make_model(self):
        return TabularModel(categorical=["user", "item"], numeric=["x"], target="genre", layers=(16,),
                            epochs=3, batch_size=64, seed=0)

    def outputs(self, model, frame):
        return model.predict_proba(frame)


class TestUserModel(EstimatorContract):
    def make_model(self):
        return UserModel(bags=["items", Bag("genres", weights="weights")], attributes=[Numeric(["tenure"])],
                         targets=["group", "band"], layers=(16,), epochs=3, batch_size=32, seed=0)

    def make_train(self):
        rng = np.random.default_rng(1)
        group = rng.integers(0, 3, 120)
        items = [[f"i{g}{k}" for k in rng.integers(0, 5, rng.integers(1, 8))] for g in group]
        genres = [[f"g{g}", "gx"] for g in group]
        return pd.DataFrame({"items": items, "genres": genres, "weights": [[2.0, 1.0]] * len(group),
                             "tenure": rng.normal(size=len(group)), "group": [f"G{g}" for g in group],
                             "band": rng.choice(["a", "b"], len(group))}, index=pd.RangeIndex(500, 620))

    def outputs(self, model, frame):
        return model.predict_proba(frame)


def test_the_parameter_codec_gives_back_equal_values():
    import json

    from featvec import Categorical
    from featvec.io import persistence

    params = {"groups": ["user", Categorical("item", dim=4), Bag("tags", weights="w")], "layers": (16, 8),
              "tie": (("a", "b"),), "dim": {"user": 3}, "lr": np.float32(0.5), "flag": None, "name": "x"}
    back = persistence.params_from_json(json.loads(json.dumps(persistence.params_to_json(params))))
    assert back == params and type(back["layers"]) is tuple and type(back["tie"][0]) is tuple


def test_models_saved_before_the_codec_still_load(tmp_path):
    """featvec.json written before the parameter codec (plain JSON, features as dicts) loads the same."""
    import json

    import featvec
    from featvec import MatrixFactorization
    from featvec.schema import feature_to_dict

    data = records()
    for model, out in ((Feat2Vec(groups=["user", "item", Categorical("genre")], dim=4, epochs=2, seed=0).fit(data),
                        lambda m: m.score(data)),
                       (MatrixFactorization(dim=4, epochs=2, seed=0, item_features=[Categorical("genre")]).fit(
                           data.rename(columns={"user": "user_id", "item": "item_id"}),
                           item_features=data[["item", "genre"]].drop_duplicates("item").rename(columns={"item": "item_id"})),
                        lambda m: m.predict(data.rename(columns={"user": "user_id", "item": "item_id"})))):
        path = model.save(tmp_path / type(model).__name__)
        meta = json.loads((path / "featvec.json").read_text(encoding="utf-8"))
        old = persistence_old(model.get_params(), feature_to_dict)
        meta["config"]["params"] = old
        if isinstance(model, Feat2Vec):  # its features were stored in the parameters then
            del meta["config"]["features"]
        (path / "featvec.json").write_text(json.dumps(meta), encoding="utf-8")
        np.testing.assert_array_equal(out(featvec.load(path)), out(model))


def persistence_old(params: dict, feature_to_dict) -> dict:
    """The parameters as they were written before the codec."""
    from featvec.schema import KINDS

    out = {k: v for k, v in params.items() if k != "callbacks"}
    for k, v in out.items():
        if isinstance(v, (list, tuple)):
            out[k] = [feature_to_dict(f if isinstance(f, tuple(KINDS.values())) else Categorical(f))
                      if k in ("groups", "user_features", "item_features") else (list(f) if isinstance(f, tuple) else f)
                      for f in v]
    return out
