#!/usr/bin/env python
"""`python cli.py ...` from a clone: the same as the installed `translator` command (translator/cli/)."""
from translator.cli import cli, entry_point, main  # noqa: F401  (cli, main: for tests and scripts)

if __name__ == "__main__":
    entry_point()
