"""Training runs: a run is a directory the trainer process writes and the pages read.

config.py     TrainConfig: every setting of a run, validated once
rundir.py     RunDir: the one class that knows a run's file names; status, metrics, checkpoints, results
runs.py       start / stop / resume a detached `python -m engine train` process; list runs, load a trained model
store.py      JSON written atomically and read forgivingly, safetensors weights, does a checkpoint fit a graph
trainer.py    train / resume: every outcome of a run becomes a readable status.json
loop.py       the training loop, Run (resident tensors, on-device augmentation, exact resume, Stop as a signal)
tasks/        runner_for(task): the Run subclass of a task that trains differently
evaluate.py   evaluation, autocast and results.json
checks.py     data/graph fit, device and precision choice, out-of-memory messages
optim.py      optimisers and learning-rate schedules
augment.py    on-device augmentation
log.py        the metrics log: appended and flushed line by line, mirrored to TensorBoard
"""
