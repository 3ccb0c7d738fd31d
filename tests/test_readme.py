"""The README's commands, as a newcomer copies them: every `translator` line of its shell blocks names a command
and options that exist, and the quick ones run, in order, from a folder of their own, and succeed.

Quick: those that need neither the shared corpora (the real trainings and evaluations take minutes to hours) nor
a server left running (`serve`: tests/test_serve.py and tests/test_package.py run it)."""

import re
import shlex
import subprocess
import sys

import click
import pytest

from conftest import REPO
from translator.cli import cli

README = REPO / "README.md"


def shell_lines() -> list[str]:
    blocks = re.findall(r"^```\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def command_lines() -> list[str]:
    """The lines that run `translator`, alone or at the end of a pipe."""
    return [line for line in shell_lines() if translator_part(line).startswith("translator ")]


def translator_part(line: str) -> str:
    """`translator ...` of a line, without what is piped into it or where its output is redirected."""
    return line.rpartition("|")[2].partition(">")[0].strip()


def quick(line: str) -> bool:
    return "../shared" not in line and not translator_part(line).startswith(("translator serve", "translator compare"))


def command_of(words: list[str]) -> click.Command:
    """The click command a line's words name (through its groups)."""
    command, rest = cli, words
    while isinstance(command, click.Group):
        command, rest = command.commands[rest[0]], rest[1:]
    return command


def test_the_readme_has_commands_and_runs_some():
    assert len(command_lines()) >= 10 and sum(map(quick, command_lines())) >= 6


@pytest.mark.parametrize("line", command_lines())
def test_each_readme_command_names_options_that_exist(line):
    words = shlex.split(translator_part(line))[1:]
    command = command_of(words)
    known = {opt for param in command.params for opt in param.opts + param.secondary_opts} | {"--help", "-h"}
    used = {word.split("=")[0] for word in words if word.startswith("--")}
    assert used - known == set(), f"{line}: no such option"


@pytest.mark.slow
def test_the_quick_readme_commands_run_in_order(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    (tmp_path / "sentences.txt").write_text("Hace frío.\n¿Quieres un café?\n", encoding="utf-8")
    define = f"translator() {{ {shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'cli.py'))} \"$@\"; }}"
    for line in filter(quick, command_lines()):
        result = subprocess.run(["bash", "-c", f"{define}\n{line}"], cwd=tmp_path, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=600)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    assert len((tmp_path / "translations.txt").read_text(encoding="utf-8").splitlines()) == 2
    assert (tmp_path / "piped.txt").read_text(encoding="utf-8") == (tmp_path / "translations.txt").read_text(encoding="utf-8")
    assert (tmp_path / "runs" / "toy" / "model.weights.h5").is_file()
