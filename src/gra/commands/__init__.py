"""Subcommands of ``gra`` that work on datasets, one module each.

Each module defines one click command named ``command``; ``gra.cli`` registers
them. Heavy imports (numpy, llama.cpp) stay inside the command functions so that
``gra --help`` stays fast.
"""
