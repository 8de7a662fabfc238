"""Security review, low finding: the SQLite file was created world-readable, beside the key.

Data files are now the owner's alone: the database and its ``-wal``/``-shm`` files 0600 in a
0700 directory, whatever the umask; files an earlier version left world-readable lose that.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from perfhub.core.db import make_engine
from perfhub.core.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    # The usual 022 would already keep others from writing; 0 shows nothing relies on the umask.
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_new_database_and_its_wal_are_private(tmp_path: Path, loose_umask: None) -> None:
    database = tmp_path / "var" / "perfhub.db"
    upgrade(f"sqlite:///{database}")  # migrations create the file, as `perfhub db upgrade` does
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        with engine.connect() as reader:  # keeps the WAL and shared-memory files in place
            reader.execute(text("SELECT x FROM probe")).all()
            files = {path.name: mode(path) for path in database.parent.iterdir()}
    finally:
        engine.dispose()
    assert mode(database.parent) == 0o700
    assert files == {"perfhub.db": 0o600, "perfhub.db-wal": 0o600, "perfhub.db-shm": 0o600}


def test_world_access_is_removed_from_existing_files(tmp_path: Path) -> None:
    database = tmp_path / "perfhub.db"
    make_engine(f"sqlite:///{database}").dispose()
    database.chmod(0o644)
    wal = tmp_path / "perfhub.db-wal"
    wal.write_bytes(b"")
    wal.chmod(0o664)
    make_engine(f"sqlite:///{database}").dispose()
    # Group access is the operator's choice (a backup group, say); the world's never is.
    assert mode(database) == 0o640 and mode(wal) == 0o660


def test_an_existing_directory_is_left_as_it_is(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    make_engine(f"sqlite:///{tmp_path / 'perfhub.db'}").dispose()
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "perfhub.db") == 0o600


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_databases_create_no_files(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    assert list(tmp_path.iterdir()) == []
