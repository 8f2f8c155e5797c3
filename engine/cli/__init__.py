"""Subcommands of `python -m engine`, one module each (see engine/__main__.py)."""
