"""``featvec lookalike``: events -> cleaned users -> embeddings -> look-alikes of a category's funders
(or its top funder) -> a segment map."""
from __future__ import annotations

import json

HELP = "users most like a category's funders (or its top funder), with a segment map"
EXAMPLES = ("examples:\n  featvec lookalike events.json.gz --category Games --top 0.25 --out segment.html\n"
            "  featvec lookalike events.csv.gz --category Sports --seed-user top --weight geo=0.5 --csv sports.csv\n"
            "  featvec lookalike my_events.csv --category Games --column sid=session_id region=location_state")


def add_parser(sub, formatter) -> None:
    p = sub.add_parser("lookalike", formatter_class=formatter, help=HELP,
                       description="Clean the events (a user's unknown gender taken from their other events, "
                                   "conflicts reported), learn attribute embeddings, and rank every other user by "
                                   "similarity to the category's funders, every attribute block normalised so "
                                   "none dominates by scale. Prints the cleaning report and each block's share.",
                       epilog=EXAMPLES)
    p.add_argument("events", metavar="EVENTS", help="event log: JSON ({\"data\": [...]}), JSON lines, CSV or Parquet, "
                   "optionally .gz")
    p.add_argument("--category", required=True, help="the category whose funders are the seed")
    p.add_argument("--stream", action="store_true",
                   help="read EVENTS (a file or a folder of files) chunk by chunk, keeping per-user counts only: "
                        "for logs larger than memory; the same audience")
    p.add_argument("--column", nargs="+", default=[], metavar="FILE_COLUMN=NAME",
                   help="map the file's column names to the ones used here (session_id, event_name, category, amount, "
                        "gender, age, marital_status, device, location_state, location_city, location_latitude, "
                        "location_longitude); the flat CSV's city/state/latitude/longitude are mapped by themselves")
    p.add_argument("--seed-user", metavar="ID", help="one seed user instead of all the category's funders "
                   "('top': the top funder by amount, as in notebook 001)")
    p.add_argument("--top", type=float, default=0.25, help="fraction (<= 1) or number of users to return")
    p.add_argument("--weight", nargs="+", default=[], metavar="BLOCK=W",
                   help="block weights (blocks: gender age marital_status device location_state geo); default 1")
    p.add_argument("--color-by", nargs="+", default=["age", "gender", "marital_status", "device"],
                   help="attributes the map can colour by")
    p.add_argument("--out", default="segment.html", metavar="FILE", help="the segment map (self-contained HTML)")
    p.add_argument("--png", metavar="FILE", help="also a PNG of the map")
    p.add_argument("--csv", metavar="FILE", help="write the matches with their block contributions")
    p.add_argument("--save", metavar="DIR", help="also save the look-alike index (users' vectors, attributes, "
                   "each category's funders as a segment) for featvec serve / explore")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=cmd_lookalike)


def _weights(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--weight {item!r}: use BLOCK=NUMBER") from None
        if not sep:
            raise ValueError(f"--weight {item!r}: use BLOCK=NUMBER")
    return out


def _columns(items: list[str]) -> dict:
    out = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not (sep and old and new):
            raise ValueError(f"--column {item!r}: use FILE_COLUMN=NAME, e.g. state=location_state")
        out[old] = new
    return out


def cmd_lookalike(args) -> int:
    from featvec.audience.pipeline import audience_from_events, embed_users
    from featvec.datasets.localytics import EVENTS, GEO, USERS, standard_columns
    from featvec.io.readers import read_events
    from featvec.audience.lookalike import block_shares, lookalikes
    from featvec.audience.segment_map import segment_map

    if args.stream:  # chunk by chunk: per-user counts in memory, not the events
        from featvec.audience.streaming import audience_from_event_files

        rename = _columns(args.column)
        aud = audience_from_event_files(args.events, transform=lambda ch: standard_columns(ch, rename)[0], **EVENTS)
    else:
        events, renamed = standard_columns(read_events(args.events), _columns(args.column))
        if renamed:
            print("columns: " + ", ".join(f"{a} -> {b}" for a, b in renamed.items()))
        aud = audience_from_events(events, **EVENTS)
    print(aud.report.text())
    if args.category not in aud.funded.columns:
        raise ValueError(f"unknown category {args.category!r}; categories: {list(aud.funded.columns)}")
    weights = _weights(args.weight)
    uv, _ = embed_users(aud.users, aud.funded, aud.users, weights=weights or None, seed=args.seed, **USERS)
    against = None
    if args.seed_user == "top":
        seed = [aud.amounts[args.category].idxmax()]
    elif args.seed_user:
        seed = [args.seed_user]
    else:  # the category's funders, contrasted with the users who did not fund it
        did = aud.funded[args.category].to_numpy()
        seed, against = list(aud.users["session_id"][did]), list(aud.users["session_id"][~did])
    top = args.top if args.top <= 1 else int(args.top)
    matches = lookalikes(uv, seed, top=top, exclude_seed=True, against=against)
    blocks = list(uv.blocks)
    shares = block_shares(matches, blocks)
    print(f"\n{len(matches):,} users most like {len(seed):,} seed user(s) of {args.category}"
          + (f" (contrasted with {len(against):,} who did not fund it)" if against else "") + "; "
          "each block's share of the match scores: " + ", ".join(f"{b} {v:.0%}" for b, v in shares.items()))
    users = aud.users.set_index("session_id")
    shown = matches.join(users, on="id")
    print(shown.head(10)[["id", "score", *[c for c in args.color_by if c in shown.columns]]].to_string(index=False))
    if args.csv:
        shown.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    path = segment_map(shown, lat=GEO[0], lon=GEO[1], color_by=tuple(args.color_by),
                       title=f"Users most like {args.category} funders", out=args.out, png=args.png, label="id")
    print(f"wrote {path}" + (f" and {args.png}" if args.png else ""))
    if args.save:
        from featvec.audience.saved import LookalikeIndex

        segments = {c: list(aud.users["session_id"][aud.funded[c].to_numpy()]) for c in aud.funded.columns}
        LookalikeIndex(uv, users, segments).save(args.save)
        print(f"saved the look-alike index to {args.save}")
    print(json.dumps({"matches": len(matches), "block_share": {b: round(float(v), 3) for b, v in shares.items()}}))
    return 0
