"""Every Python block of the README runs as written (in order, as one session)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_python_blocks() -> None:
    assert len(_blocks()) >= 4


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks share one namespace, like a reader pasting them into one session; files they
    write go to a temporary folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", os.environ.get("WANDB_MODE", "offline"))
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for i, block in enumerate(_blocks()):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message names the block
            raise AssertionError(f"README python block {i} fails: {exc!r}\n{block}") from exc
