"""Apply and inspect Alembic migrations from code (`kravflyt db ...`, tests, the demo).

Every command checks the schema before it works (`ensure_current`): that check reads the
version table and the revision files' own `revision` / `down_revision` lines without Alembic,
whose import alone is a tenth of a second of CPU in each `kravflyt company list` (issue 22:
a listing asked again and again during a bank import). Alembic is imported to migrate only;
tests/integration/store/test_migrations.py checks that both read the same revisions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, String, column, inspect, select, table

from adapter.errors import SchemaOutOfDate
from adapter.store.engine import READ_ONLY

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# `revision = "0022c"` and `down_revision = "0022b"` (or None, or a tuple for a merge), as
# Alembic's template writes them at the top of each revision file.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision() -> str:
    """The newest revision in the code: the one no other revision names as its
    `down_revision`."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        lines = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in lines:
            raise RuntimeError(f"{path.name} names no revision")
        revisions.add(ast.literal_eval(lines["revision"]))
        down = ast.literal_eval(lines.get("down_revision", "None"))
        followed.update([down] if isinstance(down, str) else down or ())
    heads = sorted(revisions - followed)
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when empty)."""
    with engine.connect() as conn:
        # A read: on SQLite it must not begin IMMEDIATE, or every command would wait for
        # whoever writes (a bank import publishing) before it could even check the schema.
        conn.execution_options(**{READ_ONLY: True})
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        version = column("version_num", String)
        found = list(conn.execute(select(version).select_from(table(VERSION_TABLE))).scalars())
    if len(found) > 1:
        raise RuntimeError(f"the database is at {len(found)} revisions at once: {found}")
    return found[0] if found else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    from alembic import command

    with engine.begin() as conn:
        cfg = _config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` ("base" empties it)."""
    from alembic import command

    with engine.begin() as conn:
        cfg = _config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema does not match the code."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at revision {current or 'none (empty)'}, this version needs {head}: "
            "run `kravflyt db upgrade`"
        )
