"""The outside check printed in docs/audit.md, run as written (standard library only),
agrees with ``tocsin audit verify`` on an intact and on a tampered store."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from router.store import SqliteStore
from tests.unit.test_sqlite_store import new_alert

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def _script(tmp_path: Path) -> Path:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert code is not None
    path = tmp_path / "recompute.py"
    path.write_text(code.group(1), encoding="utf-8")
    return path


def _run(script: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(script), str(db)], capture_output=True,
                          text=True, timeout=60, check=False)


async def test_the_documented_check_recomputes_the_chain(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    for name in ("nl-alert-fire.xml", "nl-alert-fire-update.xml", "nl-alert-fire-cancel.xml"):
        await store.accept(new_alert(name))
    await store.close()
    script = _script(tmp_path)
    intact = _run(script, store.path)
    assert (intact.returncode, intact.stdout.strip()) == (0, "intact"), intact.stderr
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE audit_log SET subject = 'someone else' WHERE seq = 3")
    conn.commit()
    conn.close()
    broken = _run(script, store.path)
    assert (broken.returncode, broken.stdout.strip()) == (1, "broken at entry 3")
