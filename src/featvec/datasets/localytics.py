"""The Localytics events of notebook 001 (protocol L, ``featvec lookalike``): their column names, the event
that counts as the action, and the cleaning they need; the arguments of ``featvec.audience.pipeline`` for them."""
from __future__ import annotations

ENTITY = "session_id"
ATTRIBUTES = ["gender", "age", "marital_status", "device", "location_state", "location_city",
              "location_latitude", "location_longitude"]
CATEGORICAL = ["gender", "age", "marital_status", "device", "location_state"]
GEO = ["location_latitude", "location_longitude"]

# the flat CSV export names the location columns without their "location_" prefix (city, state, ...)
FLAT_NAMES = {"city": "location_city", "state": "location_state", "zip_code": "location_zip_code",
              "latitude": "location_latitude", "longitude": "location_longitude"}


def standard_columns(events, rename: dict | None = None):
    """``events`` with ``rename`` (file column -> the name used here) applied, then the flat export's location
    names mapped to ``location_*`` where those are absent. Returns (frame, the renames made)."""
    rename = dict(rename or {})
    unknown = [c for c in rename if c not in events.columns]
    if unknown:
        raise ValueError(f"--column names column(s) {unknown} that the events do not have; they have "
                         f"{list(events.columns)[:20]}")
    done = dict(rename)
    for flat, name in FLAT_NAMES.items():
        if name not in events.columns and name not in done.values() and flat in events.columns and flat not in done:
            done[flat] = name
    return events.rename(columns=done), done


# audience_from_events(events, **EVENTS): who did "Fund Project" in which category; gender "U" is a placeholder
EVENTS = {"entity": ENTITY, "attributes": ATTRIBUTES, "category": "category", "event_col": "event_name",
          "action": "Fund Project", "amount": "amount", "placeholders": {"gender": ["U"]}}
# embed_users(train, funded, everyone, **USERS): one block per categorical attribute plus the geo block
USERS = {"entity": ENTITY, "categorical": CATEGORICAL, "geo": GEO}
