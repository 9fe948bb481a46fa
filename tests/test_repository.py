"""The repository itself: git tracks no merge leftovers, editor backups or ignored files."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEBRIS = (".orig", ".rej", ".bak", ".swp", ".swo", "~")


def _git(*args: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def test_git_tracks_no_merge_leftovers_or_backups():
    leftovers = [path for path in _git("ls-files") if path.endswith(DEBRIS)]
    assert leftovers == []


def test_git_tracks_nothing_under_an_ignored_path():
    assert _git("ls-files", "--cached", "--ignored", "--exclude-standard") == []
