"""Import a PyTorch model as a graph file through torch.fx.

importer.py    import_model / map_state_dict: trace, convert, check against torch
builder.py     turns traced calls into catalog nodes, one converter per call
convert.py     the converter registry (on_module / on_function / on_method) and the facts converters read
layers.py, recurrent.py, tensor_ops.py   converters for nn layers, recurrent layers and tensor functions
"""
from engine.fx.importer import ImportModelError, import_model, map_state_dict

__all__ = ["ImportModelError", "import_model", "map_state_dict"]
