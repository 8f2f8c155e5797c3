"""The README's "What Convas refuses, and why" states the limits engine/limits.py sets: one place, kept true."""
from __future__ import annotations

from engine import limits
from engine.data import files
from tests.conftest import ROOT


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## What Convas refuses, and why")
    return text[start:text.index("\n## ", start + 1)]


def row(what: str) -> str:
    (line,) = [ln for ln in section().splitlines() if ln.startswith(f"| {what}")]
    return line


def size(n: int) -> str:
    return f"{n // 2**30} GiB" if n % 2**30 == 0 else f"{n // 2**20} MiB"


def test_the_readme_states_the_limits_the_code_applies():
    assert size(limits.MAX_GRAPH_BYTES) in row("A graph file")
    assert f"{limits.MAX_NESTING} levels" in row("Lists and objects nested")
    assert f"{limits.MAX_NODES:,}" in row("Nodes in a design")
    assert f"| {limits.MAX_INPUTS} |" in row("Inputs of one node")
    assert f"| {limits.MAX_LIST} |" in row("Values in one list parameter")
    assert limits.MAX_NUMBER == 2**53 and f"{limits.MAX_NUMBER:,}" in row("Any number in a parameter")
    assert f"| {limits.MAX_RANK} |" in row("Dimensions of a node's output")
    assert limits.MAX_ELEMENTS == 2**32 and f"{limits.MAX_ELEMENTS:,}" in row("Values of a node's output")
    assert (f"names up to {limits.MAX_HINT_LENGTH} characters, {limits.MAX_HINT_CANDIDATES} compared per hint, "
            f"{limits.MAX_HINT_COMPARISONS:,} comparisons per check") in row('"Did you mean"')
    assert size(limits.MAX_DATA_BYTES) in row("A dataset, unpacked")
    assert size(limits.MAX_IMAGE_BYTES) in row("One image file") and size(files.CHUNK) in row("One image file")
    assert f"{limits.MAX_PIXELS:,} pixels" in row("One image |")
    assert size(limits.MAX_DECODED_BYTES) in row("The decoded dataset")
    methods = ", ".join(list(files.ZIP_METHODS.values())[:-1]) + " or " + list(files.ZIP_METHODS.values())[-1]
    assert methods in " ".join(section().split())


def test_the_engine_reads_its_limits_from_one_place():
    assert files.MAX_BYTES == limits.MAX_DATA_BYTES and files.MAX_PIXELS == limits.MAX_PIXELS
    assert files.MAX_IMAGE_BYTES == limits.MAX_IMAGE_BYTES and files.MAX_DECODED_BYTES == limits.MAX_DECODED_BYTES
