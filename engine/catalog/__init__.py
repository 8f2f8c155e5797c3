"""The layer catalog. Importing this package registers every op (one module per family, in palette order within
each category); categories.py holds the categories as data. How to add an op: docs/adding-an-op.md."""
from engine.catalog import (  # noqa: F401  (registration side effects)
    activation,
    conv,
    dense,
    detect,
    dropout,
    inputs,
    merge,
    norm,
    pool,
    rbm,
    recurrent,
    reshape,
    unpool,
)
from engine.catalog.registry import OpSpec, Param, catalog_dict, get_op, has_op, list_ops, register_op

__all__ = ["OpSpec", "Param", "catalog_dict", "get_op", "has_op", "list_ops", "register_op"]
