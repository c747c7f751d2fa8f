"""The Localytics events of notebook 001 (protocol L, ``featvec lookalike``): their column names, the event
that counts as the action, and the cleaning they need; the arguments of ``featvec.audience.pipeline`` for them."""
from __future__ import annotations

ENTITY = "session_id"
ATTRIBUTES = ["gender", "age", "marital_status", "device", "location_state", "location_city",
              "location_latitude", "location_longitude"]
CATEGORICAL = ["gender", "age", "marital_status", "device", "location_state"]
GEO = ["location_latitude", "location_longitude"]

# audience_from_events(events, **EVENTS): who did "Fund Project" in which category; gender "U" is a placeholder
EVENTS = {"entity": ENTITY, "attributes": ATTRIBUTES, "category": "category", "event_col": "event_name",
          "action": "Fund Project", "amount": "amount", "placeholders": {"gender": ["U"]}}
# embed_users(train, funded, everyone, **USERS): one block per categorical attribute plus the geo block
USERS = {"entity": ENTITY, "categorical": CATEGORICAL, "geo": GEO}
