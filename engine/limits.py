"""What Convas refuses: every size limit on graph files and uploads, in one place.

The README's "What Convas refuses, and why" lists these values (tests/engine/test_limits.py keeps it true). A
limit exists so that a hostile or broken file gets a clear message instead of exhausting the recursion limit,
memory or time; each is far above what a real design or dataset needs.
"""
from __future__ import annotations

# ---- graph files (engine.graph, engine.wiring, engine.shapes) ----
MAX_GRAPH_BYTES = 16 * 2**20  # a graph file (or uploaded text); a 1,000-layer design is about 0.3 MB
MAX_NESTING = 32  # lists/objects inside one another; a graph file needs 6 (params hold flat lists)
MAX_NODES = 50_000  # nodes in one design; the largest imported torchvision models have about 700
MAX_INPUTS = 256  # inputs of one merge node (Add, Multiply, Concat, ...)
MAX_LIST = 64  # values in one list param (a shape, a pair)
MAX_NUMBER = 2**53  # magnitude of any number in params: integers up to 2^53 are exact as JSON doubles
MAX_RANK = 8  # dimensions of a tensor, batch excluded
MAX_ELEMENTS = 2**32  # elements of one node's output for one sample (16 GiB of float32)

# ---- "did you mean" hints ----
MAX_HINT_LENGTH = 64  # a name longer than this gets no suggestion (comparing long strings is quadratic)
MAX_HINT_CANDIDATES = 32  # names compared per suggestion, the nearest in sorted order (by prefix and by suffix)
MAX_HINT_COMPARISONS = 2_000  # comparisons one check spends on suggestions in all; then problems come without

# ---- uploads: image folders and zips (engine.data.files) ----
MAX_DATA_BYTES = 2 * 2**30  # the files of one dataset together, unpacked (counted while reading, not declared)
MAX_IMAGE_BYTES = 64 * 2**20  # one image file, unpacked
MAX_PIXELS = 40_000_000  # one image, decided from its header before decoding (PIL only warns below ~89 M)
MAX_DECODED_BYTES = 2 * 2**30  # the decoded dataset (images × C×H×W bytes), refused before allocating
