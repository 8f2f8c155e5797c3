"""Which split each number of a run comes from, in words: the results are the test split's, measured once at the
end on the weights the validation split chose (engine.data.base; results.json `split`, `selected_on`, `selection`,
`splits`). Older runs, whose results were measured on the split that also chose the weights, say so."""
from __future__ import annotations


def is_test(res: dict) -> bool:
    return str(res.get("split", "")).startswith("test") and res.get("selected_on") is not None


def prefix(res: dict) -> str:
    """"Test" for a run measured on its test split, else "Validation" (the headline metrics' first word)."""
    return "Test" if is_test(res) else "Validation"


def note(res: dict) -> str:
    """One line under the results heading: where the numbers come from and what chose the weights."""
    n, data, epoch = res.get("n"), res.get("data"), res.get("epoch")
    count = f"{n:,} examples" if isinstance(n, int) else "its examples"
    if not is_test(res):
        return (f"Measured on the {res.get('split', 'validation')} split of {data} ({count}), the same split that "
                f"chose the best weights: an optimistic number. Runs trained now keep a test split apart.")
    sel = {k: v for k, v in (res.get("selection") or {}).items() if isinstance(v, (int, float))}
    chosen = ""
    if "val_acc" in sel:
        chosen = f" (validation accuracy {sel['val_acc']:.2%})"
    if "val_miou" in sel:
        chosen = f" (validation mean IoU {sel['val_miou']:.2%})"
    if "val_map50" in sel:
        chosen = f" (validation mAP@0.5 {sel['val_map50']:.3f})"
    sp = res.get("splits") or {}
    sizes = (f" Splits: {sp['train']:,} train / {sp['validation']:,} validation (from the training set, seed "
             f"{sp.get('seed')}) / {sp['test']:,} test ({sp.get('test_from')}).") if {"train", "validation",
                                                                                     "test"} <= sp.keys() else ""
    return (f"Measured once, at the end, on the {res['split']} of {data} ({count}), with the {res.get('weights', 'best')}"
            f" weights of epoch {epoch}, which the {res['selected_on']} split chose{chosen}.{sizes}")
