"""`python -m translator`: the same as the `translator` command."""

from translator.cli import entry_point

entry_point()
