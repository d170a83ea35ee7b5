"""The ``gra`` command line: a shell over the library. ``app`` holds the group, ``synth``
and ``models``; every other module here is one subcommand that works on datasets.

Each subcommand module defines one click command named ``command``; ``gra.cli.app``
registers them. Heavy imports (numpy, llama.cpp) stay inside the command functions so that
``gra --help`` stays fast.
"""
