"""engine.filenames.safe_filename: the one rule for run folders, the bundle's folder and download names."""
from __future__ import annotations

import pytest

from engine.export.bundle import folder_name
from engine.filenames import safe_filename
from engine.graph import load_graph


@pytest.mark.parametrize("name,sep,want", [
    ("My Net: v2!", "-", "My-Net-v2"),
    ("MNIST CNN (TensorFlow tutorial)", "_", "MNIST_CNN_TensorFlow_tutorial"),
    ("LeNet-5", "_", "LeNet-5"),
    ("a/../../b", "_", "a_b"),  # no path can escape the folder it is made in
    ("Réseau à 2 couches", "_", "R_seau_2_couches"),  # ASCII only: every file system and zip tool takes it
    ("__x__", "-", "x"),
    ("!!!", "_", "model"),
    ("", "-", "model"),
])
def test_safe_filename(name, sep, want):
    assert safe_filename(name, "model", sep=sep) == want


def test_the_cut_never_leaves_a_separator_at_the_end():
    assert safe_filename("abcd efgh", "run", sep="-", max_len=5) == "abcd"
    assert len(safe_filename("x" * 100, "run")) == 60


def test_a_separator_other_than_dash_or_underscore_is_refused():
    with pytest.raises(ValueError, match="sep must be '-' or '_'. Received: sep='.'."):
        safe_filename("a b", "model", sep=".")


def test_the_bundle_folder_uses_it(template_path):
    assert folder_name(load_graph(template_path("lenet5"))) == "LeNet-5_bundle"
