"""Undo / redo snapshots."""
from designer.design.history import History


def g(v: int) -> dict:
    return {"name": str(v), "nodes": []}


def test_undo_redo_walk_back_and_forth():
    h = History()
    assert h.record(g(0), g(1)) and h.record(g(1), g(2))
    assert h.undo(g(2)) == g(1) and h.undo(g(1)) == g(0)
    assert h.undo(g(0)) is None and not h.can_undo
    assert h.redo(g(0)) == g(1) and h.redo(g(1)) == g(2)
    assert h.redo(g(2)) is None


def test_a_new_edit_clears_redo_and_no_op_edits_are_not_recorded():
    h = History()
    h.record(g(0), g(1))
    h.undo(g(1))
    assert h.can_redo
    assert not h.record(g(0), g(0))
    assert h.can_redo  # a non-edit does not throw the redo away
    h.record(g(0), g(5))
    assert not h.can_redo


def test_snapshots_are_the_graphs_themselves_and_the_limit_holds():
    h = History(limit=3)
    before, after = g(0), g(1)
    h.record(before, after)
    assert h.undo(after) is before  # no copy: stored graphs are never mutated (designer/design/session.py)
    assert h.redo(before) is after
    assert before == g(0) and after == g(1)  # and the history did not touch them
    for i in range(10):
        h.record(g(i), g(i + 1))
    assert len(h.undo_stack) == 3
    assert h.undo(g(10)) == g(9)
