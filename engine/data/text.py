"""Text for language models: a word vocabulary, token streams and the standard contiguous batching.

Sources (`load_text(source, root, max_vocab)`):
- `ptb`: Penn Treebank (Mikolov's version) from a folder holding ptb.{train,valid,test}.txt, plain or gzipped:
  one sentence a line, `<eos>` appended at each line end, the files' own `<unk>`.
- `ptb-sample`: a few thousand real PTB lines bundled in assets/ptb_sample (train offline), with the full PTB
  vocabulary (vocab.txt.gz), so a model sized for PTB trains on it unchanged.
- an uploaded UTF-8 `.txt` (its lines split 90/5/5 into train/valid/test, in order), or a `.zip` holding
  train/valid/test text files (checked like image zips: no symlinks, absolute paths, `..`, oversize content).

The vocabulary of an upload is the training split's words by falling count (ties alphabetically), as the
TensorFlow PTB reader orders them, then `<unk>`; over `max_vocab` words, the rarest become `<unk>`. A source that fixes its own vocabulary
(PTB: its words are the vocabulary) over the cap is refused. Batching (`batchify`, `window`) is the standard
contiguous layout: the stream is cut into B parallel streams, read in windows of T steps in order, and the target
of every token is the next one in its stream.
"""
from __future__ import annotations

import gzip
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.data.base import DataError, default_cache
from engine.data.files import MAX_BYTES, check_zip_entries, open_zip, read_zip_entry

EOS, UNK = "<eos>", "<unk>"
ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "assets" / "ptb_sample"
SPLITS = ("train", "valid", "test")
TEXT_EXTS = {".txt"}
UPLOAD_SPLIT = (0.90, 0.05)  # train, valid; test is the rest
MAX_TEXT_BYTES = 512 * 2**20  # the largest text we read into memory


@dataclass
class TextData:
    """Token streams (1-D int64) of the three splits and the vocabulary (id -> word)."""

    name: str
    vocab: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    task: str = "language_model"
    val_name: str = "validation"
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.vocab)

    def to(self, device: torch.device | str) -> TextData:
        return TextData(self.name, self.vocab, self.train.to(device), self.valid.to(device), self.test.to(device),
                        self.task, self.val_name, dict(self.info))


def tokenize(text: str) -> list[str]:
    """Words split on whitespace, `<eos>` at the end of every line (as the PTB reader does)."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(line.split())
        out.append(EOS)
    return out


def build_vocab(tokens: list[str], max_vocab: int) -> list[str]:
    """Words by falling count, then alphabetically, the most frequent max_vocab − 1 of them and `<unk>` last (it
    stands for the rarer words and for the words of valid/test that train never has)."""
    counts = Counter(tokens)
    words = sorted((w for w in counts if w != UNK), key=lambda w: (-counts[w], w))
    return words[:max_vocab - 1] + [UNK]


def encode(tokens: list[str], vocab: list[str]) -> torch.Tensor:
    """Token ids (int64); a word outside the vocabulary is `<unk>` (which must then be in it)."""
    index = {w: i for i, w in enumerate(vocab)}
    unk = index.get(UNK)
    ids = []
    for w in tokens:
        i = index.get(w, unk)
        if i is None:
            raise DataError(f"the word {w!r} is not in the vocabulary, which has no {UNK} to stand for it. Add "
                            f"{UNK} to the vocabulary file.")
        ids.append(i)
    return torch.tensor(ids, dtype=torch.int64)


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(B, L): the stream cut into B contiguous parallel streams of L = len // B tokens; the rest is dropped."""
    L = len(stream) // batch_size
    return stream[:L * batch_size].view(batch_size, L)


def num_windows(streams: torch.Tensor, steps: int) -> int:
    """Full windows of `steps` tokens per epoch (each needs the next token as its last target)."""
    return (streams.shape[1] - 1) // steps


def window(streams: torch.Tensor, i: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Window i: inputs (B, T) and targets (B, T), the same tokens one step later."""
    s = i * steps
    return streams[:, s:s + steps], streams[:, s + 1:s + 1 + steps]


def need_batches(data: TextData, batch_size: int, steps: int) -> None:
    """Refuse a split too short for one batch of B streams × T steps (+1 target)."""
    need = batch_size * (steps + 1)
    for split in SPLITS:
        n = len(getattr(data, split))
        if n < need:
            raise DataError(f"the {split} text of {data.name} has {n:,} tokens, shorter than one batch: batch size "
                            f"{batch_size} × ({steps} steps + 1) = {need:,} tokens. Use more text, a smaller batch "
                            f"size or fewer steps (the Input's length).")


# ---- reading ------------------------------------------------------------------------------------------------------
def _decode(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{name} is not UTF-8 text (byte {raw[e.start]:#04x} on line {line}). Save it as UTF-8 "
                        f"(most editors: Save as… → Encoding: UTF-8).") from None
    if not text.strip():
        raise DataError(f"{name} is empty: it holds no words. Upload a text file with some.")
    return text


def _read_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise DataError(f"{path.name} is larger than the limit of {MAX_TEXT_BYTES // 2**20} MB of text.")
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read(MAX_TEXT_BYTES + 1)
            if len(raw) > MAX_TEXT_BYTES:
                raise DataError(f"{path.name} unpacks to more than the limit of {MAX_TEXT_BYTES // 2**20} MB.")
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}.") from None
    return _decode(raw, path.name)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _fixed_vocab(words: list[str], name: str, max_vocab: int) -> list[str]:
    if len(words) > max_vocab:
        raise DataError(f"{name}'s vocabulary has {len(words):,} words, over the cap of {max_vocab:,} (the graph's "
                        f"vocabulary size V). Set the task's vocabulary size (and the Embedding's num_embeddings and "
                        f"the output's size) to {len(words):,}.")
    return words


def _make(name: str, texts: dict[str, str], max_vocab: int, vocab: list[str] | None = None,
          info: dict | None = None) -> TextData:
    tokens = {s: tokenize(texts[s]) for s in SPLITS}
    words = vocab if vocab is not None else build_vocab(tokens["train"], max_vocab)
    streams = {s: encode(tokens[s], words) for s in SPLITS}
    return TextData(name, words, streams["train"], streams["valid"], streams["test"],
                    info={**(info or {}), "tokens": {s: len(tokens[s]) for s in SPLITS}})


def load_ptb(root: str | Path | None, max_vocab: int = 10_000, name: str = "ptb") -> TextData:
    """PTB from a folder with ptb.{train,valid,test}.txt(.gz); its vocabulary is every word of the train file
    (10,000 with `<unk>`), or vocab.txt(.gz) when the folder has one (the bundled sample)."""
    folder = Path(root) if root else default_cache() / "ptb"
    paths = {s: _find(folder, f"ptb.{s}.txt") for s in SPLITS}
    missing = [f"ptb.{s}.txt" for s, p in paths.items() if p is None]
    if missing:
        raise DataError(f"{name}: {', '.join(missing)} (plain or .gz) not found in {folder}. Put the Penn Treebank "
                        f"files there (or pass --data-root DIR with them), or train on 'ptb-sample', which is bundled.")
    texts = {s: _read_file(p) for s, p in paths.items()}
    vocab_path = _find(folder, "vocab.txt")
    if vocab_path is not None:
        words = [w for w in _read_file(vocab_path).split("\n") if w.strip()]
    else:
        counts = Counter(tokenize(texts["train"]))
        words = sorted(counts, key=lambda w: (-counts[w], w))
    words = _fixed_vocab(words, name, max_vocab)
    return _make(name, texts, max_vocab, vocab=words, info={"root": str(folder)})


def load_ptb_sample(max_vocab: int = 10_000) -> TextData:
    if not SAMPLE_DIR.is_dir():
        raise DataError(f"the bundled PTB sample is missing: {SAMPLE_DIR}. Rebuild it with "
                        f"python scripts/make_ptb_sample.py --data-root DIR_WITH_PTB_FILES.")
    data = load_ptb(SAMPLE_DIR, max_vocab, name="ptb-sample")
    data.info.pop("root", None)
    return data


def split_lines(text: str) -> dict[str, str]:
    """A text's lines in order: the first 90% train, the next 5% valid, the last 5% test."""
    lines = text.splitlines()
    n = len(lines)
    a, b = int(n * UPLOAD_SPLIT[0]), int(n * (UPLOAD_SPLIT[0] + UPLOAD_SPLIT[1]))
    if not (0 < a < b < n):
        raise DataError(f"the text has {n} line(s): too few to split 90/5/5 into train, valid and test (at least "
                        f"20 lines). Upload more text, or a zip with train.txt, valid.txt and test.txt.")
    return {"train": "\n".join(lines[:a]), "valid": "\n".join(lines[a:b]), "test": "\n".join(lines[b:])}


def _split_of(stem: str) -> str | None:
    stem = stem.lower()
    for split, names in (("train", ("train",)), ("valid", ("valid", "val", "validation", "dev")),
                         ("test", ("test",))):
        if stem in names or any(stem.endswith(f".{n}") or stem.endswith(f"_{n}") for n in names):
            return split
    return None


def load_text_zip(path: Path, max_vocab: int) -> TextData:
    """A zip of train/valid/test .txt files (ptb.train.txt, train.txt, val.txt, ... anywhere in it)."""
    with open_zip(path) as zf:
        entries = check_zip_entries(zf, path, MAX_TEXT_BYTES, exts=TEXT_EXTS, what="a .txt file",
                                    max_entry=MAX_TEXT_BYTES)
        found: dict[str, zipfile.ZipInfo] = {}
        for parts, info in entries:
            split = _split_of(Path(parts[-1]).stem)
            if split is None:
                raise DataError(f"{path.name}: '{info.filename}' is not a train, valid or test file. Name the files "
                                f"train.txt, valid.txt and test.txt.")
            if split in found:
                raise DataError(f"{path.name} holds two {split} files: '{found[split].filename}' and "
                                f"'{info.filename}'. Keep one.")
            found[split] = info
        missing = [s for s in SPLITS if s not in found]
        if missing:
            raise DataError(f"{path.name} has no {' or '.join(missing)} file. Put train.txt, valid.txt and test.txt "
                            f"in the zip.")
        texts = {}
        for s, info in found.items():
            try:
                raw = read_zip_entry(zf, info, MAX_TEXT_BYTES)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DataError(f"'{info.filename}' cannot be read ({type(e).__name__}: {e}).") from None
            texts[s] = _decode(raw, f"{path.name}:{info.filename}")
    return _make(path.name, texts, max_vocab, info={"path": str(path)})


def load_text(source: str, root: str | Path | None = None, max_vocab: int = 10_000) -> TextData:
    """`ptb`, `ptb-sample`, or the path of a .txt or .zip (see the module docstring)."""
    if max_vocab < 2:
        raise DataError(f"the vocabulary cap must be at least 2 (a word and {UNK}). Received: max_vocab={max_vocab}.")
    if source == "ptb":
        return load_ptb(root, max_vocab)
    if source == "ptb-sample":
        return load_ptb_sample(max_vocab)
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"unknown text source '{source}': not ptb or ptb-sample, and no such file. Received: "
                        f"data={source!r}.")
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        if path.stat().st_size > MAX_BYTES:
            raise DataError(f"{path.name} is larger than the limit of {MAX_BYTES // 2**20} MB.")
        return load_text_zip(path, max_vocab)
    if path.suffix.lower() != ".txt":
        raise DataError(f"{path.name} is neither a .txt file nor a .zip of train/valid/test .txt files.")
    return _make(path.name, split_lines(_read_file(path)), max_vocab, info={"path": str(path)})


__all__ = ["EOS", "UNK", "TextData", "batchify", "build_vocab", "encode", "load_text", "need_batches",
           "num_windows", "tokenize", "window"]
