"""Build assets/movielens_sample.zip: 150 users of GroupLens' ml-latest-small picked at random (seed 0), all their
ratings (the original rows), the movies.csv rows of the movies they rated, and MovieLens' own README.txt (the
terms: research use with acknowledgement, no commercial use, redistribution under the same terms).

    python scripts/make_movielens_sample.py [--src ../shared/data/movielens/ml-latest-small.zip]
"""
from __future__ import annotations

import argparse
import csv
import io
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
USERS = 150
NOTE = """Convas bundles this sample so the recommendation task works offline. It is a subset of ml-latest-small
(150 of its 610 users, picked at random with seed 0, with all their ratings, and the titles and genres of the
movies they rated), made by scripts/make_movielens_sample.py. The data are GroupLens' MovieLens data, under the
terms in README.txt below: research use, acknowledgement (F. Maxwell Harper and Joseph A. Konstan. 2015. The
MovieLens Datasets: History and Context. ACM TiiS 5, 4: 19:1-19:19), no commercial use without permission, and
redistribution only under the same terms.

"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=str(ROOT.parent / "shared" / "data" / "movielens" / "ml-latest-small.zip"))
    ap.add_argument("--out", default=str(ROOT / "assets" / "movielens_sample.zip"))
    a = ap.parse_args()
    with zipfile.ZipFile(a.src) as zf:
        ratings = zf.read("ml-latest-small/ratings.csv").decode("utf-8")
        movies = zf.read("ml-latest-small/movies.csv").decode("utf-8")
        readme = zf.read("ml-latest-small/README.txt").decode("utf-8")
    rows = list(csv.reader(io.StringIO(ratings)))
    users = sorted({int(r[0]) for r in rows[1:]})
    keep = set(np.random.default_rng(0).choice(users, size=USERS, replace=False).tolist())
    kept = [rows[0]] + [r for r in rows[1:] if int(r[0]) in keep]
    rated = {int(r[1]) for r in kept[1:]}
    mrows = list(csv.reader(io.StringIO(movies)))
    mkept = [mrows[0]] + [r for r in mrows[1:] if int(r[0]) in rated]

    def text(rs):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rs)
        return buf.getvalue()

    with zipfile.ZipFile(a.out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        out.writestr("movielens-sample/ratings.csv", text(kept))
        out.writestr("movielens-sample/movies.csv", text(mkept))
        out.writestr("movielens-sample/README.txt", NOTE + readme)
    print(f"{a.out}: {len(keep)} users, {len(kept) - 1} ratings, {len(mkept) - 1} movies")


if __name__ == "__main__":
    main()
