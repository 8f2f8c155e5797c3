"""python -m engine faithfulness RUN_DIR [--images 100] [--methods Saliency "Guided Backprop" ...]
[--shuffled RUN_DIR2 | --train-shuffled] [--json]: the faithfulness lab of a trained image classifier on its
validation/test images: deletion and insertion against random orders, cascading model randomisation and, with a
run trained on shuffled labels, the data-randomisation test; each score with its 95% interval, one verdict line per
method. --train-shuffled starts that shuffled-label run (same design and settings) and exits."""
from __future__ import annotations

import json


def add_parser(sub) -> None:
    from engine.visualise.faithfulness import MIN_IMAGES

    p = sub.add_parser("faithfulness", help="saliency faithfulness lab of a trained image classifier")
    p.add_argument("run", help="run directory of a trained image classifier")
    p.add_argument("--images", type=int, default=MIN_IMAGES, help=f"test images (default {MIN_IMAGES})")
    p.add_argument("--methods", nargs="+", default=["Saliency", "Grad-CAM", "Guided Backprop"],
                   help="saliency methods (default: Saliency, Grad-CAM, Guided Backprop)")
    p.add_argument("--shuffled", help="a run of the same design trained on shuffled labels (data randomisation)")
    p.add_argument("--train-shuffled", action="store_true",
                   help="start training this run's design on shuffled labels beside it, then exit")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _interval(iv) -> dict:
    return {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "n": iv.n, "undefined": iv.undefined}


def run(args) -> int:
    from engine.data import DataError, load_data, to_float
    from engine.shapes import check
    from engine.train.rundir import RunDir
    from engine.train.runs import load_trained
    from engine.train.twin import start_shuffled_twin
    from engine.visualise import METHODS, FaithfulnessLab

    if args.train_shuffled:
        try:
            path = start_shuffled_twin(args.run)
        except (OSError, ValueError) as e:
            print(f"error: cannot start the shuffled-label run: {e}")
            return 2
        print(f"training {path} on shuffled labels; then: python -m engine faithfulness {args.run} "
              f"--shuffled {path}")
        return 0
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        print(f"error: unknown method(s) {', '.join(unknown)}. Known: {', '.join(METHODS)}.")
        return 2
    if args.images < 2:
        print(f"error: --images must be at least 2 (100 or more for the verdicts). Received: {args.images}.")
        return 2
    try:
        graph, model = load_trained(args.run)
        shuffled = load_trained(args.shuffled)[1] if args.shuffled else None
        cfg = RunDir(args.run).config()
        report = check(graph)
        shape = next(report.nodes[n.id].shape for n in graph.nodes if n.op == "Input")
        data = load_data(cfg.data, cfg.data_root, input_shape=shape, val_fraction=cfg.val_fraction, seed=cfg.seed)
    except (OSError, ValueError, DataError) as e:
        print(f"error: {e}")
        return 2
    if data.task != "classification" or len(shape) != 3:
        print(f"error: the lab explains image classifiers; {args.run} is a {data.task} run on "
              f"{'×'.join(map(str, shape))} inputs.")
        return 2
    images = to_float(data.x_val[:args.images])
    results = FaithfulnessLab(model, graph, shuffled=shuffled).run(images, args.methods)
    if args.json:
        out = {m: {"images": r.n_images, "deletion": _interval(r.deletion),
                   "deletion_random": _interval(r.deletion_random), "insertion": _interval(r.insertion),
                   "insertion_random": _interval(r.insertion_random),
                   "cascade": {"layers": r.cascade.layers, "abs_rho": [_interval(s.interval) for s in r.cascade.steps],
                               "verdict": r.cascade.verdict, "reason": r.cascade.final.reason},
                   "data_randomisation": None if r.data is None else
                   {"verdict": r.data.verdict, "reason": r.data.reason},
                   "verdict": r.verdict, "seconds": r.seconds} for m, r in results.items()}
        print(json.dumps(out, indent=2, ensure_ascii=False, allow_nan=True))
        return 0
    print(f"{len(images)} images of {data.name} ({data.val_name}); 95% intervals")
    for r in results.values():
        print(f"\n{r.verdict}")
        print(f"  deletion  {r.deletion.text()}  random {r.deletion_random.text()}  (lower is better)")
        print(f"  insertion {r.insertion.text()}  random {r.insertion_random.text()}  (higher is better)")
        steps = ", ".join(f"+{layer} {s.interval.text(2)}" for layer, s in zip(r.cascade.layers, r.cascade.steps))
        print(f"  cascade mean |ρ|: {steps}")
        if r.data is not None:
            print(f"  shuffled labels: {r.data.reason}")
        print(f"  {r.seconds:.1f} s")
    return 0
