"""Import a PyTorch model as a graph file through torch.fx.

importer.py    import_model / map_state_dict: trace, convert, check against torch
builder.py     turns traced calls into catalog nodes, one converter per call
convert.py     the converter tables, filled from every op's OpSpec.fx (and on_module / on_function / on_method
               here), and the Call converters read
recurrent.py, tensor_ops.py   the converters that are not one op's: patterns and calls that become 0 or 2+ ops
rewrites.py    patterns found before the walk (channel shuffle, channel-last blocks, layer scale)
pt2.py         import_pt2: a .pt2 read as data, never through torch.export.load; pt2_aten.py maps its aten ops
"""
from engine.fx.importer import ImportModelError, import_model, map_state_dict

__all__ = ["ImportModelError", "import_model", "map_state_dict"]
