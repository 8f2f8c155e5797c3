"""The layer catalog. Importing this package registers every op (one module per family)."""
from engine.catalog import activation, conv, core, norm, pool, recurrent, reshape, unpool  # noqa: F401  (registration side effects)
from engine.catalog.registry import OpSpec, Param, catalog_dict, get_op, has_op, list_ops, register_op

__all__ = ["OpSpec", "Param", "catalog_dict", "get_op", "has_op", "list_ops", "register_op"]
