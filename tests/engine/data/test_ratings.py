"""Ratings data: uploads checked with messages naming row and column, the user split and the 20% hold-out on tiny
hand-made tables, the bundled sample and MovieLens-small."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.data import DataError, load_data
from engine.data import ratings as R

SMALL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "movielens" / "ml-latest-small.zip"

RATINGS = b"""userId,movieId,rating,timestamp
1,10,4.0,0
1,20,2.5,0
2,10,5,0
2,30,1,0
3,20,0.5,0
"""
MOVIES = b"""movieId,title,genres
10,"Heat, The (1995)",Action|Crime
20,Up (2009),Animation
30,Alien (1979),(no genres listed)
"""


def test_table_from_csv_is_the_users_by_movies_matrix():
    t = R.table_from_bytes(RATINGS, MOVIES)
    assert t.user_ids.tolist() == [1, 2, 3] and t.movie_ids.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(t.stars, [[4.0, 2.5, 0], [5, 0, 1], [0, 0.5, 0]])
    assert t.titles == ["Heat, The (1995)", "Up (2009)", "Alien (1979)"]
    assert t.genres == ["Action|Crime", "Animation", ""]
    assert R.table_from_bytes(RATINGS).titles == ["movie 10", "movie 20", "movie 30"]


@pytest.mark.parametrize("raw,words", [
    (b"user,movieId,rating\n1,2,3\n", ["missing the column(s) userId", "row 1"]),
    (b"userId,movieId,rating\n1,2,3\n1,5,6\n", ["row 3", "column rating", "'6'", "out of range"]),
    (b"userId,movieId,rating\n1,2,0\n", ["row 2", "column rating", "out of range"]),
    (b"userId,movieId,rating\n1,2,good\n", ["row 2", "column rating", "not a number"]),
    (b"userId,movieId,rating\n1,x2,3\n", ["row 2", "column movieId", "not a whole number"]),
    (b"userId,movieId,rating\n1,2,3\n4,2,3\n1,2,4\n", ["row 4", "rated movie 2 twice", "rows 2 and 4"]),
    (b"userId,movieId,rating\n1,2,3\n7,\xe9,3\n", ["not UTF-8", "row 3"]),
    (b"userId,movieId,rating\n", ["holds no ratings"]),
    (b"userId,movieId,rating\n1,2\n", ["row 2", "2 column(s)"]),
])
def test_bad_uploads_are_refused_naming_row_and_column(raw, words):
    with pytest.raises(DataError) as e:
        R.read_ratings_csv(raw)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_too_large_files_are_refused(monkeypatch):
    monkeypatch.setattr(R, "MAX_FILE_BYTES", 40)
    with pytest.raises(DataError, match="too large"):
        R.read_ratings_csv(RATINGS)
    monkeypatch.setattr(R, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(R, "MAX_CELLS", 8)
    with pytest.raises(DataError, match="3 users × 3 movies"):
        R.table_from_bytes(RATINGS)


def test_movies_csv_problems():
    with pytest.raises(DataError, match="missing the column"):
        R.read_movies_csv(b"movieId,name\n1,x\n")
    with pytest.raises(DataError, match="row 3: movieId 1 appears twice"):
        R.read_movies_csv(b"movieId,title\n1,a\n1,b\n")


def test_zip_upload_is_read_in_memory_and_checked(tmp_path):
    z = tmp_path / "mine.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data/ratings.csv", RATINGS)
        zf.writestr("data/movies.csv", MOVIES)
        zf.writestr("data/notes.txt", "ignored")
    d = load_data(str(z), val_fraction=0.34, seed=0)
    assert d.task == "recommendation" and d.input_shape == (3,) and d.classes[0] == "Heat, The (1995)"
    assert list(tmp_path.iterdir()) == [z]  # nothing extracted
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../ratings.csv", RATINGS)
    with pytest.raises(DataError, match="outside the archive"):
        load_data(str(bad))
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(RATINGS)
    assert load_data(str(folder), val_fraction=0.34).info["ratings"] == 5
    assert load_data(str(folder / "ratings.csv"), val_fraction=0.34).info["ratings"] == 5


def test_hold_out_keeps_a_fifth_of_each_users_ratings_deterministically():
    stars = np.zeros((4, 12), np.float32)
    stars[0, :10] = 4  # 10 ratings -> 2 held out
    stars[1, :5] = 3  # 5 -> 1
    stars[2, :1] = 5  # 1 -> 0 (nothing left to see otherwise)
    stars[3, :2] = 2  # 2 -> 1 (at least one)
    vis, held = R.hold_out(stars, seed=3)
    assert ((held > 0).sum(1)).tolist() == [2, 1, 0, 1]
    np.testing.assert_array_equal(vis + held, stars)  # a partition: nothing lost, nothing shared
    assert not ((vis > 0) & (held > 0)).any()
    vis2, held2 = R.hold_out(stars, seed=3)
    np.testing.assert_array_equal(held, held2)
    assert any(not np.array_equal(held, R.hold_out(stars, seed=s)[1]) for s in range(4, 10))


def test_user_split_and_vectors_are_ratings_over_five():
    tr, va = R.split_users(10, 0.2, seed=1)
    assert len(va) == 2 and len(tr) == 8 and sorted(tr.tolist() + va.tolist()) == list(range(10))
    assert R.split_users(10, 0.2, seed=1)[1].tolist() == va.tolist()
    t = R.table_from_bytes(RATINGS, MOVIES)
    d = R.ratings_data(t, val_fraction=0.34, seed=0)  # 1 test user of 3, then 1 validation user of the other 2
    assert len(d.x_train) == 1 and len(d.x_val) == 1 and len(d.x_test) == 1
    users = d.info["train_users"] + d.info["val_users"] + d.info["test_users"]
    assert sorted(users) == [1, 2, 3]  # disjoint, and every user once
    u = d.info["test_users"][0]
    np.testing.assert_allclose((d.x_test + d.y_test).numpy()[0] * 5, t.stars[t.user_ids.tolist().index(u)])
    assert R.ratings_data(t, val_fraction=0.5, seed=1).info["test_users"] == d.info["test_users"]  # fixed
    for row, u in zip(d.x_train.numpy(), d.info["train_users"]):
        np.testing.assert_allclose(row * 5, t.stars[t.user_ids.tolist().index(u)])
    u = d.info["val_users"][0]
    np.testing.assert_allclose((d.x_val + d.y_val).numpy()[0] * 5, t.stars[t.user_ids.tolist().index(u)])
    with pytest.raises(DataError, match="at least 2 users"):
        R.split_users(1, 0.5, 0)
    with pytest.raises(DataError, match="at least 3 users"):
        R.ratings_data(R.table_from_bytes(b"userId,movieId,rating\n1,10,4\n2,10,3\n", None))


def test_input_size_keeps_the_most_rated_movies():
    t = R.table_from_bytes(RATINGS + b"4,30,3,0\n", MOVIES)  # counts: 10 -> 2, 20 -> 2, 30 -> 2; ties by id
    assert R.top_movies(t, 2).movie_ids.tolist() == [10, 20]
    t = R.table_from_bytes(RATINGS + b"4,30,3,0\n5,30,3,0\n", MOVIES)
    assert R.top_movies(t, 2).movie_ids.tolist() == [10, 30]
    with pytest.raises(DataError, match=r"Set the Input shape to \[3\]"):
        R.top_movies(t, 4)
    with pytest.raises(DataError, match="one vector per user"):
        R.load_ratings("movielens-sample", input_shape=(1, 28, 28))


def test_bundled_sample_is_real_movielens_with_titles():
    d = load_data("movielens-sample", input_shape=(1000,), val_fraction=0.1, seed=0)
    assert d.input_shape == (1000,) and len(d.x_train) + len(d.x_val) + len(d.x_test) == 150
    assert "Toy Story (1995)" in d.classes
    x = d.x_train.numpy()
    assert x.max() == 1.0 and set(np.unique(x * 2 * 5).round().astype(int)) <= set(range(11))
    with zipfile.ZipFile(R.SAMPLE_PATH) as zf:
        assert "GroupLens" in zf.read("movielens-sample/README.txt").decode()


@pytest.mark.skipif(not SMALL.is_file(), reason="needs ../shared/data/movielens")
def test_movielens_small_has_its_published_counts():
    t = R.read_table(SMALL)
    assert t.n_ratings == 100_836 and len(t.user_ids) == 610
    d = R.ratings_data(t, val_fraction=0.1, seed=0)
    assert len(d.x_test) == 61 and len(d.x_val) == 55  # 10% of 610 users for testing, then 10% of the 549 left
    assert d.info["held_out"] == sum(max(1, round(0.2 * n)) for n in (t.stars[np.isin(t.user_ids, d.info["val_users"])] > 0).sum(1))
