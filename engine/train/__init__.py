"""Training runs: a run is a directory the trainer process writes and the pages read.

config.py     TrainConfig: every setting of a run, validated once
runs.py       start / stop / resume a detached `python -m engine train` process; list and read runs
store.py      checkpoints and JSON files of a run, written atomically
trainer.py    the training loop (resident tensors, on-device augmentation, exact resume, Stop as a signal)
evaluate.py   evaluation, autocast and results.json
checks.py     data/graph fit, device and precision choice, out-of-memory messages
optim.py      optimisers and learning-rate schedules
augment.py    on-device augmentation
log.py        metrics.jsonl: appended, flushed, tailed from an offset
"""
