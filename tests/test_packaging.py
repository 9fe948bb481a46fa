"""Packaging: the wheel holds axonnx and its sub-packages, and no generic top-level names."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
    )
    (path,) = out.glob("axonnx-*.whl")
    return zipfile.ZipFile(path)


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    return set(wheel.namelist())


def test_wheel_has_no_generic_top_level_packages(wheel_names):
    tops = {name.split("/")[0] for name in wheel_names}
    assert {t for t in tops if not t.startswith("axonnx")} == set()


def test_every_source_package_is_in_the_wheel(wheel_names):
    mapping = {
        "axonnx": ROOT / "axonnx",
        "axonnx/converters": ROOT / "converters",
        "axonnx/cli": ROOT / "cli",
    }
    for prefix, folder in mapping.items():
        for source in folder.rglob("*.py"):
            relative = source.relative_to(folder).as_posix()
            if prefix == "axonnx" and relative.split("/")[0] in ("converters", "cli"):
                continue
            assert f"{prefix}/{relative}" in wheel_names, f"{prefix}/{relative} missing"


def test_console_script_points_at_the_cli(wheel, wheel_names):
    (entry_points,) = [n for n in wheel_names if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "axonnx = axonnx.cli.main:main" in text
