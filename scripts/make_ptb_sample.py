"""Build assets/ptb_sample: the first lines of the real PTB train/valid/test files (gzipped) and the full PTB
vocabulary (vocab.txt.gz, by falling count as the reader orders it), so the app trains a PTB-sized model offline.

    python scripts/make_ptb_sample.py --data-root ../shared/data/ptb
"""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

from engine.data.text import SAMPLE_DIR, load_ptb

LINES = {"train": 4000, "valid": 400, "test": 400}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True, help="folder with ptb.{train,valid,test}.txt(.gz)")
    args = ap.parse_args()
    full = load_ptb(args.data_root)  # checks the files; its vocabulary is the train file's words by count
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(args.data_root)
    for split, n in LINES.items():
        src = root / f"ptb.{split}.txt.gz"
        opener = gzip.open if src.is_file() else open
        src = src if src.is_file() else root / f"ptb.{split}.txt"
        with opener(src, "rt", encoding="utf-8") as f:
            lines = [next(f) for _ in range(n)]
        with gzip.GzipFile(SAMPLE_DIR / f"ptb.{split}.txt.gz", "wb", mtime=0) as out:
            out.write("".join(lines).encode("utf-8"))
    with gzip.GzipFile(SAMPLE_DIR / "vocab.txt.gz", "wb", mtime=0) as out:
        out.write(("\n".join(full.vocab) + "\n").encode("utf-8"))
    print(f"wrote {SAMPLE_DIR}: {', '.join(f'{k} {v} lines' for k, v in LINES.items())}, vocabulary "
          f"{len(full.vocab):,} words")


if __name__ == "__main__":
    main()
