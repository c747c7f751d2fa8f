"""Generated Localytics-shaped events (notebook 001) for the audience, service and explorer tests."""
from __future__ import annotations

import numpy as np

STATES = {"CO": (39.7, -105.0), "IN": (39.8, -86.2), "OR": (45.5, -122.7), "GA": (33.7, -84.4), "TX": (30.3, -97.7)}


def make_events(n_users: int = 300, seed: int = 0) -> list[dict]:
    """Young users fund Games, older ones Sports; every user views; some have an unknown gender ("U") in
    one event and a few have conflicting genders."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        age = rng.choice(["18-24", "25-34", "55+"])
        gender = rng.choice(["M", "F"])
        state = rng.choice(list(STATES))
        lat, lon = STATES[state]
        base = {"session_id": f"s{u:04d}", "age": str(age), "marital_status": str(rng.choice(["single", "married"])),
                "device": str(rng.choice(["iOS", "android"])),
                "location": {"latitude": lat + rng.normal(0, 0.3), "longitude": lon + rng.normal(0, 0.3),
                             "state": str(state), "city": f"{state}-city", "zip_code": "01234"}}
        likes = "Games" if age == "18-24" else ("Sports" if age == "55+" else rng.choice(["Games", "Sports"]))
        for k in range(4):
            g = "U" if (k == 0 and u % 7 == 0) else ("F" if (k == 1 and u % 50 == 0 and gender == "M") else gender)
            cat = likes if rng.random() < 0.8 else ("Sports" if likes == "Games" else "Games")
            ev = {**base, "gender": g, "category": cat, "client_time": 1000 * u + 10 * k}
            if k % 2:
                out.append({**ev, "event_name": "Fund Project", "amount": int(rng.integers(1, 50))})
            else:
                out.append({**ev, "event_name": "View Project"})
    return out


def save_lookalike_index(root, n_users: int) -> None:
    """Write generated events under ``root`` and save their look-alike index (Games funders) to root/audience
    with ``featvec lookalike --save``."""
    import gzip
    import json

    from featvec.cli import main

    events = root / "events.json.gz"
    with gzip.open(events, "wt") as fh:
        json.dump({"data": make_events(n_users)}, fh)
    assert main(["lookalike", str(events), "--category", "Games", "--out", str(root / "map.html"),
                 "--save", str(root / "audience")]) == 0
