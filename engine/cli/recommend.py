"""python -m engine recommend RUN_DIR [--user ID] [-k 10] [--feature J] [--json]: a trained RBM recommender's
top-k movies for a user (default: the first test user), with what they rated; or what hidden unit J learned."""
from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("recommend", help="recommendations of a trained RBM (task recommendation) for a user")
    p.add_argument("run", help="run directory of a recommendation run")
    p.add_argument("--user", type=int, help="userId (default: the first test user)")
    p.add_argument("-k", type=int, default=10, help="how many movies (default 10)")
    p.add_argument("--feature", type=int, help="instead: the movies hidden unit FEATURE weighs most")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.visualise.recommender import load_recommender

    try:
        rec = load_recommender(args.run)
    except (OSError, ValueError, StopIteration) as e:
        print(f"error: {args.run} is not a trained recommendation run ({e}).")
        return 2
    if args.feature is not None:
        if not 0 <= args.feature < rec.rbm.hidden:
            print(f"error: --feature must be 0 to {rec.rbm.hidden - 1}. Received: {args.feature}.")
            return 2
        rows = rec.feature(args.feature, args.k)
        out = {"feature": args.feature, "movies": rows}
        lines = [f"hidden unit {args.feature}: the movies it weighs most"] + \
                [f"  {r['weight']:+.3f}  {r['title']}  ({r['genres']})" for r in rows]
    else:
        user = args.user if args.user is not None else rec.users()[0][0]
        try:
            rated, recs = rec.rated(user), rec.recommend(user, args.k)
        except KeyError as e:
            print(f"error: {e.args[0]}.")
            return 2
        out = {"user": user, "rated": rated, "recommendations": recs}
        lines = [f"user {user} rated {len(rated)} movies, e.g. " + "; ".join(
                 f"{r['title']} {r['stars']:g}★" for r in rated[:5]), f"top {args.k} recommendations:"]
        lines += [f"  {r['rank']:2d}. {r['score']:.2f}★  {r['title']}" +
                  (f"  (held out: rated {r['held_out']:g}★)" if r["held_out"] else "") for r in recs]
    print(json.dumps(out, indent=2, ensure_ascii=False) if args.json else "\n".join(lines))
    return 0
