"""Text for language models: tokens, vocabulary, the contiguous batching against a hand-written reference, the
sources (bundled sample, PTB, .txt, .zip) and their error messages."""
from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
import torch

from engine.data import DataError, load_data
from engine.data.text import (
    EOS,
    UNK,
    batchify,
    build_vocab,
    load_text,
    need_batches,
    num_windows,
    tokenize,
    window,
)

PTB = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "ptb"


def reference_windows(stream: list[int], B: int, T: int) -> list[tuple[list[list[int]], list[list[int]]]]:
    """The batching written out by hand: B streams of len // B tokens side by side, windows of T in order."""
    L = len(stream) // B
    rows = [stream[b * L:(b + 1) * L] for b in range(B)]
    out = []
    i = 0
    while i + T + 1 <= L:
        out.append(([r[i:i + T] for r in rows], [r[i + 1:i + T + 1] for r in rows]))
        i += T
    return out


@pytest.mark.parametrize("n, B, T", [(103, 4, 5), (100, 4, 5), (61, 3, 4), (40, 1, 7)])
def test_batching_matches_a_hand_written_reference(n, B, T):
    stream = list(range(1000, 1000 + n))
    streams = batchify(torch.tensor(stream), B)
    ref = reference_windows(stream, B, T)
    assert num_windows(streams, T) == len(ref)
    for i, (x, y) in enumerate(ref):
        xb, yb = window(streams, i, T)
        assert xb.tolist() == x and yb.tolist() == y


def test_tokens_end_lines_with_eos_and_rare_words_become_unk():
    toks = tokenize(" the cat sat\n the dog\n")
    assert toks == ["the", "cat", "sat", EOS, "the", "dog", EOS]
    assert build_vocab(toks, 10) == [EOS, "the", "cat", "dog", "sat", UNK]  # by count, then alphabetically
    assert build_vocab(toks, 3) == [EOS, "the", UNK]


def test_bundled_sample_trains_offline_with_the_ptb_vocabulary():
    d = load_data("ptb-sample")
    assert d.task == "language_model" and len(d.vocab) == 10_000
    assert d.vocab[:3] == ["the", UNK, EOS]
    assert len(d.train) > 50_000 and len(d.valid) > 5_000 and len(d.test) > 5_000
    assert d.train.dtype == torch.int64 and int(d.train.max()) < 10_000
    assert int((d.train == d.vocab.index(EOS)).sum()) == 4000  # one <eos> per line


@pytest.mark.skipif(not PTB.is_dir(), reason="needs ../shared/data/ptb")
def test_ptb_has_the_standard_sizes():
    d = load_text("ptb", PTB)
    assert len(d.vocab) == 10_000
    assert (len(d.train), len(d.valid), len(d.test)) == (929_589, 73_760, 82_430)


def test_ptb_reads_plain_files_and_refuses_a_vocabulary_over_the_cap(tmp_path):
    for s in ("train", "valid", "test"):
        (tmp_path / f"ptb.{s}.txt").write_text(" a b c <unk>\n a b\n", encoding="utf-8")
    d = load_text("ptb", tmp_path)
    assert d.vocab == [EOS, "a", "b", "<unk>", "c"]  # by count (2, 2, 2, 1, 1), ties alphabetically
    with pytest.raises(DataError, match="vocabulary has 5 words, over the cap of 4"):
        load_text("ptb", tmp_path, max_vocab=4)
    with pytest.raises(DataError, match="not found in"):
        load_text("ptb", tmp_path / "nowhere")


def test_uploaded_text_splits_90_5_5_and_caps_the_vocabulary(tmp_path):
    f = tmp_path / "story.txt"
    f.write_text("".join(f"w{i % 7} x{i}\n" for i in range(100)), encoding="utf-8")
    d = load_text(str(f), max_vocab=8)
    assert d.info["tokens"] == {"train": 270, "valid": 15, "test": 15}
    assert len(d.vocab) == 8 and d.vocab[-1] == UNK
    # valid is lines 90-94: the five x-words (unseen in train) and w6 (line 90; the cap keeps w0-w5) are <unk>
    assert int((d.valid == d.vocab.index(UNK)).sum()) == 6


def test_uploaded_zip_with_splits(tmp_path):
    z = tmp_path / "corpus.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("corpus/train.txt", "a b c\n" * 10)
        zf.writestr("corpus/valid.txt", "a b\n")
        zf.writestr("corpus/test.txt", "c d\n")
    d = load_text(str(z))
    assert d.vocab == [EOS, "a", "b", "c", UNK]  # the same count each: alphabetically, <unk> last
    assert d.test.tolist() == [d.vocab.index("c"), d.vocab.index(UNK), d.vocab.index(EOS)]  # d: unseen in train


def test_bad_text_gets_clear_messages(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1") * 30)
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 on line 1\)"):
        load_text(str(bad))
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(DataError, match="is empty"):
        load_text(str(empty))
    short = tmp_path / "short.txt"
    short.write_text("one two three\n" * 40, encoding="utf-8")
    d = load_text(str(short))
    with pytest.raises(DataError, match="shorter than one batch: batch size 20"):
        need_batches(d, 20, 35)
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../train.txt", "a b\n")
    with pytest.raises(DataError, match="climbs out of the archive"):
        load_text(str(z))
    z2 = tmp_path / "noval.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("train.txt", "a b\n")
        zf.writestr("test.txt", "a b\n")
    with pytest.raises(DataError, match="has no valid file"):
        load_text(str(z2))
    gz = tmp_path / "ptb.train.txt.gz"
    gz.write_bytes(gzip.compress(b"\xff\xfe"))
    for s in ("valid", "test"):
        (tmp_path / f"ptb.{s}.txt").write_text("a\n", encoding="utf-8")
    with pytest.raises(DataError, match="ptb.train.txt.gz is not UTF-8"):
        load_text("ptb", tmp_path)
