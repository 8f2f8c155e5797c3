"""The Inspect page's run helpers (designer/inspect/runs.py) without a browser."""
from __future__ import annotations


def test_views_open_on_the_first_activation_layer():
    """Activations and channel ascent open on the first layer of the catalog's Activation category (after the
    non-linearity), whichever activation the design uses; a network without one opens on its first layer."""
    from pathlib import Path

    import engine
    from designer.inspect.runs import LoadedRun
    from engine.visualise import taps

    def loaded(act: str) -> LoadedRun:
        g = engine.load_graph({"format": "convas-graph", "version": 1, "nodes": [
            {"id": "x", "op": "Input", "params": {"shape": [1, 8, 8]}},
            {"id": "c", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3}, "inputs": ["x"]},
            {"id": "a", "op": act, "inputs": ["c"]}], "outputs": ["a"]})
        m = engine.build_module(g)
        return LoadedRun("r", Path("."), "", g, m, (1, 8, 8), [], taps(g, m), {})

    for act in ("ReLU", "Tanh", "ELU"):
        run = loaded(act)
        names = list(run.taps)
        assert names[run.first_activation(names)] == "a", act
    run = loaded("Identity")
    assert run.first_activation(list(run.taps)) == 0
