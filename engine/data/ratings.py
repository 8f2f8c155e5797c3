"""Movie ratings for the recommendation task: MovieLens and user uploads, as user × movie vectors.

Sources:
- `movielens-small`: GroupLens' ml-latest-small.zip (610 users, 9,742 movies, 100,836 ratings) from the data
  root, ../shared/data/movielens or the data cache. Read from the zip in memory, never extracted.
- `movielens-sample`: 150 of its users with all their ratings and the titles of their movies, bundled in
  assets/movielens_sample.zip (same format, same terms) so the app works offline.
- an upload: a `ratings.csv` (userId, movieId, rating; other columns ignored) and optionally a `movies.csv`
  (movieId, title, genres) beside it, or a .zip / folder holding both. Every problem names the file, the row
  (the line number, the header is line 1) and the column.

Each user becomes one visible vector: the ratings of every movie divided by 5, 0 where the user did not rate it
(the seed tutorial's encoding). The graph's Input size M picks the M most-rated movies. Users are split three
ways: a fixed 10% are test users (the same for every run), `val_fraction` of the others (by the seed) are
validation users, the rest train; 20% of each validation or test user's ratings (at least one) are held out: the
model sees the other 80% and is judged on the held-out ones (engine.train.rec_metrics). Validation picks the best
weights; the test users are measured once, at the end.
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.base import TEST_FRACTION, TEST_SEED, Data, DataError, default_cache

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PATH = ROOT / "assets" / "movielens_sample.zip"
SMALL_NAME = "ml-latest-small.zip"
SOURCES = ("movielens-sample", "movielens-small")
MIN_RATING, MAX_RATING = 0.5, 5.0
HOLDOUT = 0.2  # of each test user's ratings
MAX_FILE_BYTES = 64 * 2**20  # one ratings.csv or movies.csv; ml-latest-small's is 2.4 MB, ml-25m's 650 MB
MAX_CELLS = 60_000_000  # users × movies of the dense matrix (240 MB of float32)
RATINGS_COLUMNS = ("userId", "movieId", "rating")
MOVIES_COLUMNS = ("movieId", "title")


@dataclass
class RatingTable:
    """Ratings as a dense users × movies matrix of stars (0 = not rated), with the movies' titles and genres."""

    user_ids: np.ndarray  # int64 (U,)
    movie_ids: np.ndarray  # int64 (M,)
    stars: np.ndarray  # float32 (U, M), 0 where not rated
    titles: list[str]
    genres: list[str]
    name: str = "ratings"

    @property
    def n_ratings(self) -> int:
        return int((self.stars > 0).sum())


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{name} is not UTF-8 text: byte {e.start} (row {line}) is {raw[e.start:e.start + 1]!r}. "
                        f"Save the file as UTF-8 (in a spreadsheet: CSV UTF-8).") from None


def _rows(raw: bytes, name: str, required: tuple[str, ...]) -> tuple[dict[str, int], csv.reader]:
    if len(raw) > MAX_FILE_BYTES:
        raise DataError(f"{name} is too large: {len(raw) / 2**20:.1f} MB, over the limit of "
                        f"{MAX_FILE_BYTES / 2**20:.0f} MB. Keep fewer users or movies.")
    reader = csv.reader(io.StringIO(_text(raw, name), newline=""))
    header = next(reader, None)
    if not header:
        raise DataError(f"{name} is empty: it needs a header row with the columns {', '.join(required)}.")
    cols = {h.strip(): i for i, h in enumerate(header)}
    missing = [c for c in required if c not in cols]
    if missing:
        raise DataError(f"{name} is missing the column(s) {', '.join(missing)} (row 1, the header). It needs "
                        f"{', '.join(required)}. Received: {', '.join(h.strip() for h in header)}.")
    return cols, reader


def read_ratings_csv(raw: bytes, name: str = "ratings.csv") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, movie ids, stars) of every rating in a ratings.csv; DataError naming the row and column of the
    first bad value, and both rows of a duplicate (user, movie) pair."""
    cols, reader = _rows(raw, name, RATINGS_COLUMNS)
    iu, im, ir = (cols[c] for c in RATINGS_COLUMNS)
    users, movies, stars = [], [], []
    seen: dict[tuple[int, int], int] = {}
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(iu, im, ir):
            raise DataError(f"{name} row {line} has {len(row)} column(s) but the header has {len(cols)}. "
                            f"Received: {','.join(row)!r}.")
        u = _int(row[iu], name, line, "userId")
        m = _int(row[im], name, line, "movieId")
        try:
            r = float(row[ir])
        except ValueError:
            raise DataError(f"{name} row {line}, column rating: {row[ir]!r} is not a number. Ratings are "
                            f"{MIN_RATING:g} to {MAX_RATING:g} stars.") from None
        if not MIN_RATING <= r <= MAX_RATING:
            raise DataError(f"{name} row {line}, column rating: {row[ir]!r} is out of range; ratings are "
                            f"{MIN_RATING:g} to {MAX_RATING:g} stars.")
        if (u, m) in seen:
            raise DataError(f"{name} row {line}: user {u} rated movie {m} twice (rows {seen[(u, m)]} and {line}). "
                            f"Keep one rating per (userId, movieId).")
        seen[(u, m)] = line
        users.append(u)
        movies.append(m)
        stars.append(r)
    if not users:
        raise DataError(f"{name} holds no ratings: add rows of userId,movieId,rating below the header.")
    return np.array(users, np.int64), np.array(movies, np.int64), np.array(stars, np.float32)


def _int(text: str, name: str, line: int, col: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DataError(f"{name} row {line}, column {col}: {text!r} is not a whole number.") from None


def read_movies_csv(raw: bytes, name: str = "movies.csv") -> dict[int, tuple[str, str]]:
    """movieId -> (title, genres) of a movies.csv (genres '|'-separated, optional column)."""
    cols, reader = _rows(raw, name, MOVIES_COLUMNS)
    ig = cols.get("genres")
    out: dict[int, tuple[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(cols["movieId"], cols["title"]):
            raise DataError(f"{name} row {line} has {len(row)} column(s) but the header has {len(cols)}.")
        m = _int(row[cols["movieId"]], name, line, "movieId")
        if m in out:
            raise DataError(f"{name} row {line}: movieId {m} appears twice. Keep one row per movie.")
        genres = row[ig] if ig is not None and ig < len(row) else ""
        out[m] = (row[cols["title"]].strip(), "" if genres == "(no genres listed)" else genres)
    return out


def build_table(users: np.ndarray, movies: np.ndarray, stars: np.ndarray,
                info: dict[int, tuple[str, str]] | None, name: str) -> RatingTable:
    """The dense matrix, users and movies in ascending id order; titles from movies.csv (else 'movie <id>')."""
    uid, ui = np.unique(users, return_inverse=True)
    mid, mi = np.unique(movies, return_inverse=True)
    if len(uid) * len(mid) > MAX_CELLS:
        raise DataError(f"{name} is too large: {len(uid):,} users × {len(mid):,} movies is over the limit of "
                        f"{MAX_CELLS:,} cells. Keep fewer users or movies.")
    R = np.zeros((len(uid), len(mid)), np.float32)
    R[ui, mi] = stars
    info = info or {}
    titles = [info.get(int(m), (f"movie {m}", ""))[0] for m in mid]
    genres = [info.get(int(m), ("", ""))[1] for m in mid]
    return RatingTable(uid, mid, R, titles, genres, name)


# ---- reading a source: a zip, a folder, or a ratings.csv ---------------------------------------------------
def _zip_members(path: Path) -> dict[str, bytes]:
    """ratings.csv and movies.csv from a zip (at any depth, e.g. ml-latest-small/ratings.csv), read in memory
    after their entries are checked; other entries are ignored but must be safe too."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path.name} is not a readable zip file ({e}).") from None
    out: dict[str, bytes] = {}
    with zf:
        for info in zf.infolist():
            entry = info.filename
            parts = [p for p in re.split(r"[/\\]", entry) if p]
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(f"{path.name} is refused: '{entry}' is a symbolic link.")
            if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
                raise DataError(f"{path.name} is refused: '{entry}' points outside the archive.")
            base = parts[-1] if parts else ""
            if info.is_dir() or base not in ("ratings.csv", "movies.csv") or parts[0] == "__MACOSX":
                continue
            if base in out:
                raise DataError(f"{path.name} holds two {base} files; keep one.")
            if info.file_size > MAX_FILE_BYTES:
                raise DataError(f"{path.name}:{entry} is too large: {info.file_size / 2**20:.1f} MB, over the limit "
                                f"of {MAX_FILE_BYTES / 2**20:.0f} MB.")
            with zf.open(info) as f:  # bounded read: a lying size header cannot make us read more
                raw = f.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                raise DataError(f"{path.name}:{entry} is larger than its header says; refused.")
            out[base] = raw
    return out


def _file(path: Path) -> bytes:
    if path.is_symlink():
        raise DataError(f"{path} is a symbolic link; pass the file itself.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path.name} is too large: {size / 2**20:.1f} MB, over the limit of "
                        f"{MAX_FILE_BYTES / 2**20:.0f} MB. Keep fewer users or movies.")
    return path.read_bytes()


def is_ratings_source(path: Path) -> bool:
    """A ratings.csv, a folder holding one, or a zip with one (so load_data can tell it from image data)."""
    if path.is_file() and path.suffix.lower() == ".csv":
        return True
    if path.is_dir():
        return (path / "ratings.csv").is_file()
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                return any(n.rsplit("/", 1)[-1] == "ratings.csv" for n in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def read_table(path: str | os.PathLike, name: str | None = None) -> RatingTable:
    """A ratings source on disk (zip, folder, or ratings.csv with an optional movies.csv beside it)."""
    path = Path(path)
    name = name or path.name
    if path.is_dir():
        files = {n: _file(path / n) for n in ("ratings.csv", "movies.csv") if (path / n).is_file()}
    elif path.suffix.lower() == ".csv":
        files = {"ratings.csv": _file(path)}
        if (path.parent / "movies.csv").is_file() and path.name != "movies.csv":
            files["movies.csv"] = _file(path.parent / "movies.csv")
    else:
        files = _zip_members(path)
    if "ratings.csv" not in files:
        raise DataError(f"{path} holds no ratings.csv. Upload a ratings.csv with the columns userId, movieId, "
                        f"rating (and optionally a movies.csv with movieId, title, genres).")
    users, movies, stars = read_ratings_csv(files["ratings.csv"])
    info = read_movies_csv(files["movies.csv"]) if "movies.csv" in files else None
    return build_table(users, movies, stars, info, name)


def table_from_bytes(ratings: bytes, movies: bytes | None = None, name: str = "upload") -> RatingTable:
    """An upload's ratings.csv (and movies.csv) bytes -> RatingTable (the same checks as a file on disk)."""
    users, mv, stars = read_ratings_csv(ratings)
    return build_table(users, mv, stars, read_movies_csv(movies) if movies else None, name)


def find_movielens_small(root: str | os.PathLike | None) -> Path:
    """ml-latest-small.zip: in root (a folder or the zip itself), else ../shared/data/movielens, else the cache."""
    candidates = []
    if root:
        r = Path(root).expanduser()
        candidates += [r, r / SMALL_NAME, r / "movielens" / SMALL_NAME]
    candidates += [ROOT.parent / "shared" / "data" / "movielens" / SMALL_NAME,
                   default_cache() / "movielens" / SMALL_NAME]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"movielens-small needs {SMALL_NAME} (from https://grouplens.org/datasets/movielens/). Put it "
                    f"in {default_cache() / 'movielens'} or pass its folder as the data root, or train on "
                    f"'movielens-sample', which is bundled.")


def load_table(source: str, root: str | os.PathLike | None = None) -> RatingTable:
    if source == "movielens-sample":
        if not SAMPLE_PATH.is_file():
            raise DataError(f"the bundled MovieLens sample is missing: {SAMPLE_PATH}. Rebuild it with "
                            f"python scripts/make_movielens_sample.py.")
        return read_table(SAMPLE_PATH, "movielens-sample")
    if source == "movielens-small":
        return read_table(find_movielens_small(root), "movielens-small")
    return read_table(source)


# ---- from a table to the model's vectors ---------------------------------------------------------------------
def top_movies(table: RatingTable, m: int) -> RatingTable:
    """The m most-rated movies (ties: smaller movieId first), in movieId order; users left with no rating stay
    (they simply have empty vectors)."""
    M = len(table.movie_ids)
    if m > M:
        raise DataError(f"{table.name} has {M:,} movies but the graph's Input asks for {m:,}. Set the Input shape "
                        f"to [{M}] (or fewer: the most-rated movies are kept).")
    if m == M:
        return table
    counts = (table.stars > 0).sum(0)
    keep = np.sort(np.lexsort((table.movie_ids, -counts))[:m])
    return RatingTable(table.user_ids, table.movie_ids[keep], table.stars[:, keep], [table.titles[i] for i in keep],
                       [table.genres[i] for i in keep], table.name)


def split_users(n_users: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train user rows, test user rows), each ascending; the test users are a seeded random val_fraction."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive). Received: val_fraction={val_fraction}.")
    n_val = max(1, int(round(n_users * val_fraction)))
    if n_users - n_val < 1:
        raise DataError(f"{n_users} user(s) are too few to keep {val_fraction:.0%} as test users and train on the "
                        f"rest: upload ratings of at least 2 users.")
    perm = np.random.default_rng(seed).permutation(n_users)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def hold_out(stars: np.ndarray, seed: int, fraction: float = HOLDOUT) -> tuple[np.ndarray, np.ndarray]:
    """Split each row's ratings into (visible, held-out) matrices: round(fraction·n) of a user's n ratings, at
    least one when the user has two or more, chosen by the seed, are held out."""
    rng = np.random.default_rng(seed + 1)
    visible, held = stars.copy(), np.zeros_like(stars)
    for u in range(len(stars)):
        rated = np.flatnonzero(stars[u] > 0)
        n = len(rated)
        k = max(1, int(round(fraction * n))) if n >= 2 else 0
        pick = rng.choice(rated, size=k, replace=False) if k else rated[:0]
        held[u, pick] = stars[u, pick]
        visible[u, pick] = 0.0
    return visible, held


def ratings_data(table: RatingTable, *, movies: int | None = None, val_fraction: float = 0.1,
                 seed: int = 0) -> Data:
    """Train users' vectors (x_train; y_train is empty: CD learns from x alone); validation users' visible (x_val)
    and held-out (y_val) vectors, which pick the best weights; test users' (x_test, y_test), measured once at the
    end. The test users are a fixed TEST_FRACTION (the same for every run of the data), the validation users
    val_fraction of the others by the seed. Each vector is stars / 5 as float32; the movies' titles are `classes`,
    their ids and genres in `info`."""
    if movies is not None:
        table = top_movies(table, movies)
    n = len(table.user_ids)
    if n < 3:
        raise DataError(f"{n} user(s) are too few to keep test and validation users apart and train on the rest: "
                        f"upload ratings of at least 3 users.")
    rest, te = split_users(n, TEST_FRACTION, TEST_SEED)
    tr_i, va_i = split_users(len(rest), val_fraction, seed)
    tr, va = rest[tr_i], rest[va_i]
    visible, held = hold_out(table.stars[va], seed)
    t_visible, t_held = hold_out(table.stars[te], TEST_SEED)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a / MAX_RATING, dtype=np.float32))
    x_train = t(table.stars[tr])
    splits = {"train": len(tr), "validation": len(va), "test": len(te), "seed": seed, "val_fraction": val_fraction,
              "validation_from": "training users",
              "test_from": f"held-out {TEST_FRACTION:.0%} of the users (fixed seed {TEST_SEED})"}
    info = {"movie_ids": table.movie_ids.tolist(), "genres": table.genres,
            "train_users": table.user_ids[tr].tolist(), "val_users": table.user_ids[va].tolist(),
            "test_users": table.user_ids[te].tolist(), "ratings": table.n_ratings, "held_out": int((held > 0).sum()),
            "test_held_out": int((t_held > 0).sum()), "holdout_fraction": HOLDOUT, "splits": splits}
    return Data(table.name, table.titles, x_train, torch.zeros(len(x_train), 0), t(visible), t(held),
                task="recommendation", val_name=f"held-out {HOLDOUT:.0%} of {len(va)} validation users' ratings",
                info=info, x_test=t(t_visible), y_test=t(t_held),
                test_name=f"held-out {HOLDOUT:.0%} of {len(te)} test users' ratings")


def load_ratings(source: str, root: str | os.PathLike | None = None, *, input_shape: tuple[int, ...] | None = None,
                 val_fraction: float = 0.1, seed: int = 0) -> Data:
    """A ratings source -> Data for the recommendation task; the Input (M,) keeps the M most-rated movies."""
    if input_shape is not None and len(input_shape) != 1:
        raise DataError(f"ratings are one vector per user (one value per movie), but the graph's Input is "
                        f"{'×'.join(map(str, input_shape))}. Set the Input shape to [number of movies], e.g. [1000].")
    table = load_table(source, root)
    return ratings_data(table, movies=input_shape[0] if input_shape else None, val_fraction=val_fraction, seed=seed)
