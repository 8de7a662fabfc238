"""The vendored front-end files: present, the locked versions, licensed, and shipped in the wheel."""

from __future__ import annotations

import hashlib
import json
import tomllib
from glob import glob
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "src" / "perfhub"
VENDOR = PACKAGE_DIR / "web" / "static" / "vendor"
LOCKFILE = ROOT / "web-assets" / "package-lock.json"

# What the pages load, by npm package: the base templates point at these paths.
SHIPPED = {
    "uplot": ("uplot/uPlot.iife.min.js", "uplot/uPlot.min.css", "uplot/LICENSE"),
    "htmx.org": ("htmx/htmx.min.js", "htmx/LICENSE"),
}
# Words every copy of each licence carries (the SPDX identifier from package.json).
LICENCE_WORDS = {
    "MIT": ("MIT License", "Permission is hereby granted, free of charge"),
    "0BSD": ("Zero-Clause BSD", "Permission to use, copy, modify, and/or distribute this software"),
}


def versions() -> dict[str, Any]:
    return dict(json.loads((VENDOR / "VERSIONS.json").read_text()))


def test_every_file_the_pages_load_is_shipped() -> None:
    for name in (name for files in SHIPPED.values() for name in files):
        path = VENDOR / name
        assert path.is_file() and path.stat().st_size > 0, f"{path} is missing: run make assets"
    assert set(versions()) == set(SHIPPED)


def test_shipped_versions_are_the_locked_ones() -> None:
    lock = json.loads(LOCKFILE.read_text())["packages"]
    for npm_name, entry in versions().items():
        locked = lock[f"node_modules/{npm_name}"]
        assert (entry["version"], entry["license"]) == (locked["version"], locked["license"]), (
            f"{npm_name}: vendored {entry['version']}, locked {locked['version']}: run make assets"
        )
        assert not locked.get("dev", False), f"{npm_name} is shipped, so it must be a runtime dependency"


# Where each file names its own version: uPlot in its banner, htmx in its `version` property.
VERSION_MARKS = [
    ("uplot", "uplot/uPlot.iife.min.js", "https://github.com/leeoniya/uPlot (v{version})"),
    ("htmx.org", "htmx/htmx.min.js", 'version:"{version}"'),
]


@pytest.mark.parametrize(("npm_name", "main_file", "mark"), VERSION_MARKS)
def test_the_code_itself_says_the_version(npm_name: str, main_file: str, mark: str) -> None:
    expected = mark.format(version=versions()[npm_name]["version"])
    assert expected in (VENDOR / main_file).read_text()


def test_shipped_files_are_the_vendored_ones_unedited() -> None:
    for npm_name, entry in versions().items():
        directory = VENDOR / entry["directory"]
        on_disk = {path.name for path in directory.iterdir()}
        assert on_disk == set(entry["files"]), f"{npm_name}: files not from vendor.py in {directory}"
        for name, digest in entry["files"].items():
            assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, (
                f"{directory / name} differs from what vendor.py copied: run make assets"
            )


def test_each_package_ships_its_licence() -> None:
    for npm_name, entry in versions().items():
        text = (VENDOR / entry["directory"] / "LICENSE").read_text()
        words = LICENCE_WORDS.get(entry["license"])
        assert words is not None, f"{npm_name} is {entry['license']}: add its licence's words to this test"
        for phrase in words:
            assert phrase in text, f"{npm_name}'s LICENSE is not the {entry['license']} licence"


def test_package_data_ships_every_vendored_file() -> None:
    # The same expansion setuptools' build_py applies to package-data: glob(recursive=True)
    # relative to the package directory.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["perfhub"]
    matched = {
        Path(match)
        for pattern in patterns
        for match in glob(pattern, root_dir=PACKAGE_DIR, recursive=True)
        if (PACKAGE_DIR / match).is_file()
    }
    vendored = {path.relative_to(PACKAGE_DIR) for path in VENDOR.rglob("*") if path.is_file()}
    assert vendored, "nothing vendored"
    assert vendored <= matched, f"not in the wheel: {sorted(map(str, vendored - matched))}"
