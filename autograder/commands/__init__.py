"""The commands of ``python -m autograder``: one module per command (``cli.py`` parses
the command line and calls them)."""
