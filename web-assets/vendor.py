"""Copy the front-end files perfhub ships from ``web-assets/node_modules`` into the package.

``make assets`` runs ``npm ci --prefix web-assets`` and then this script. The copies under
``src/perfhub/web/static/vendor/`` are committed: the wheel is built from tracked files, offline,
without npm. ``vendor/VERSIONS.json`` names each package, its version, its licence and the
SHA-256 of every file copied, so a test can tell a stale or hand-edited copy from a vendored one.

The script owns ``vendor/`` entirely and rebuilds it from scratch on every run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
LOCKFILE = HERE / "package-lock.json"
VENDOR = HERE.parent / "src" / "perfhub" / "web" / "static" / "vendor"
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "COPYING")


@dataclass(frozen=True)
class Package:
    npm_name: str
    directory: str  # under vendor/
    files: dict[str, str]  # name under vendor/<directory>/ -> path inside the npm package


PACKAGES = (
    Package(
        "uplot",
        "uplot",
        {"uPlot.iife.min.js": "dist/uPlot.iife.min.js", "uPlot.min.css": "dist/uPlot.min.css"},
    ),
    Package("htmx.org", "htmx", {"htmx.min.js": "dist/htmx.min.js"}),
)


class VendorError(Exception):
    """Something the person running ``make assets`` has to fix first."""


def locked_version(lock: dict[str, Any], npm_name: str) -> str:
    entry = lock.get("packages", {}).get(f"node_modules/{npm_name}")
    if entry is None:
        raise VendorError(f"{npm_name} is not in {LOCKFILE.name}: add it with npm install --save-exact")
    return str(entry["version"])


def licence_file(package_dir: Path, npm_name: str) -> Path:
    for name in LICENCE_FILES:
        if (package_dir / name).is_file():
            return package_dir / name
    # Every package vendored so far ships its licence. One that does not needs its licence text
    # written by hand (the SPDX text of package.json's "license" with the copyright line from
    # its source header) and this script taught where to find it: guessing here could ship a
    # wrong notice.
    raise VendorError(f"{npm_name} ships no licence file ({', '.join(LICENCE_FILES)})")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor_package(package: Package, lock: dict[str, Any], target: Path) -> dict[str, Any]:
    """Copy one package's files (and its licence) into ``target``; its VERSIONS.json entry."""
    source = NODE_MODULES / package.npm_name
    manifest_path = source / "package.json"
    if not manifest_path.is_file():
        raise VendorError(f"{source} is missing: run npm ci --prefix web-assets")
    manifest = json.loads(manifest_path.read_text())
    version = str(manifest["version"])
    if version != locked_version(lock, package.npm_name):
        raise VendorError(
            f"node_modules has {package.npm_name} {version} but the lockfile says "
            f"{locked_version(lock, package.npm_name)}: run npm ci --prefix web-assets"
        )
    target.mkdir(parents=True)
    copies = {**package.files, "LICENSE": licence_file(source, package.npm_name).name}
    digests: dict[str, str] = {}
    for name, inside in sorted(copies.items()):
        shutil.copyfile(source / inside, target / name)
        digests[name] = sha256(target / name)
    return {
        "directory": package.directory,
        "version": version,
        "license": manifest["license"],
        "files": digests,
    }


def vendor(vendor_dir: Path = VENDOR) -> dict[str, Any]:
    """Rebuild ``vendor_dir``; the VERSIONS.json it wrote."""
    lock = json.loads(LOCKFILE.read_text())
    # Built beside the old copy and swapped in, so a failure leaves the committed files as they were.
    vendor_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=vendor_dir.parent, prefix=".vendor-") as scratch:
        staged = Path(scratch) / "vendor"
        staged.mkdir()
        versions = {
            package.npm_name: vendor_package(package, lock, staged / package.directory)
            for package in PACKAGES
        }
        (staged / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
        if vendor_dir.exists():
            shutil.rmtree(vendor_dir)
        staged.rename(vendor_dir)
    return versions


def main() -> int:
    try:
        versions = vendor()
    except VendorError as exc:
        print(f"vendor.py: {exc}", file=sys.stderr)
        return 1
    for name, entry in versions.items():
        print(f"vendored {name} {entry['version']} ({entry['license']}) into vendor/{entry['directory']}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
