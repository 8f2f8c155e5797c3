"""Data sources, each its own module, all returning `Data` (base.py); `load_data` (load.py) picks one by name.

base.py     Data, DataError, to_float, split_holdout: what every source shares
builtin.py  the bundled MNIST sample, MNIST / Fashion-MNIST idx files, CIFAR through torchvision
files.py    an image folder or .zip of one (checked, never extracted)
seg.py      mnist-seg: digits on a larger canvas, every pixel labelled
text.py     text for language models: vocabulary, ptb / ptb-sample / .txt / .zip, contiguous batching
load.py     load_data(source, ...) and BUILTIN, the names the app offers
"""
from engine.data.base import Data, DataError, split_holdout, to_float
from engine.data.load import BUILTIN, TEXT_BUILTIN, load_data
from engine.data.text import TextData

__all__ = ["BUILTIN", "TEXT_BUILTIN", "Data", "DataError", "TextData", "load_data", "split_holdout", "to_float"]
