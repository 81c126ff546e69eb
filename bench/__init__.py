"""fasthttpd's benchmark suite: `python -m bench` (see bench/__main__.py).

The package imports nothing at load time, so `python -m bench` can start with a bare
interpreter and move itself into its own virtual environment first.
"""
