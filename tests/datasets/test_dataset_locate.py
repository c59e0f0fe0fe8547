"""Search order (root > $SPIKERL_DATA > cache), layouts and missing-file errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from spikerl.datasets import DatasetNotFoundError, IdxLayout, cache_dir, load_split, search_dirs
from spikerl.datasets.locate import download_dir


def test_cache_dir_xdg(tmp_path: Path) -> None:
    assert cache_dir("mnist") == tmp_path / "xdg-cache" / "spikerl" / "mnist"


def test_cache_dir_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("mnist") == tmp_path / "home" / ".cache" / "spikerl" / "mnist"


def test_search_dirs_order(
    layout: IdxLayout, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPIKERL_DATA", str(tmp_path / "env"))
    dirs = [d.path for d in search_dirs(layout, tmp_path / "arg")]
    assert dirs == [
        tmp_path / "arg",
        tmp_path / "arg" / "tiny",
        tmp_path / "env",
        tmp_path / "env" / "tiny",
        cache_dir("tiny"),
    ]
    assert download_dir(layout, tmp_path / "arg") == tmp_path / "arg" / "tiny"
    monkeypatch.delenv("SPIKERL_DATA")
    assert [d.path for d in search_dirs(layout)] == [cache_dir("tiny")]
    assert download_dir(layout) == cache_dir("tiny")


def _three_copies(
    tmp_path: Path, make_arrays: Callable[..., dict[str, np.ndarray]], write: Callable[..., Path]
) -> dict[str, dict[str, np.ndarray]]:
    """Different data in argument root, env root and cache (seed tells them apart)."""
    copies = {"arg": make_arrays(seed=1), "env": make_arrays(seed=2), "cache": make_arrays(seed=3)}
    write(tmp_path / "arg", copies["arg"])
    write(tmp_path / "env" / "tiny", copies["env"])
    write(cache_dir("tiny"), copies["cache"])
    return copies


def test_argument_beats_env_beats_cache(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_arrays: Callable[..., dict[str, np.ndarray]],
    write: Callable[..., Path],
    layout: IdxLayout,
) -> None:
    copies = _three_copies(tmp_path, make_arrays, write)
    monkeypatch.setenv("SPIKERL_DATA", str(tmp_path / "env"))
    key = "train-images-idx3-ubyte"

    def loaded(root: Path | None) -> np.ndarray:
        return load_split(layout, True, root, verify=False).images.numpy()

    np.testing.assert_array_equal(loaded(tmp_path / "arg"), copies["arg"][key])
    np.testing.assert_array_equal(loaded(None), copies["env"][key])
    monkeypatch.delenv("SPIKERL_DATA")
    np.testing.assert_array_equal(loaded(None), copies["cache"][key])


def test_root_falls_back_to_env_when_empty(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arrays: dict[str, np.ndarray],
    write: Callable[..., Path],
    layout: IdxLayout,
) -> None:
    write(tmp_path / "env", arrays)
    monkeypatch.setenv("SPIKERL_DATA", str(tmp_path / "env"))
    split = load_split(layout, False, tmp_path / "empty")
    assert split.images_path.parent == tmp_path / "env"


@pytest.mark.parametrize("sub", ["", "tiny"])
@pytest.mark.parametrize("compress", [True, False])
def test_root_and_subfolder_layouts(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    write: Callable[..., Path],
    layout: IdxLayout,
    sub: str,
    compress: bool,
) -> None:
    folder = write(tmp_path / "data" / sub, arrays, compress=compress)
    split = load_split(layout, True, tmp_path / "data")
    assert split.images_path.parent == folder
    assert split.images_path.name.endswith(".gz") == compress
    np.testing.assert_array_equal(split.images.numpy(), arrays["train-images-idx3-ubyte"])


def test_missing_files_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: IdxLayout
) -> None:
    monkeypatch.setenv("SPIKERL_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_split(layout, False, tmp_path / "arg")
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert "train-images" not in msg
    for d in search_dirs(layout, tmp_path / "arg"):
        assert str(d.path) in msg
    assert "Put the files" in msg and "SPIKERL_DATA" in msg and "download=True" in msg


def test_only_missing_file_named(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, {"train-images-idx3-ubyte": arrays["train-images-idx3-ubyte"]})
    with pytest.raises(DatasetNotFoundError) as info:
        load_split(layout, True, tmp_path)
    msg = str(info.value).splitlines()[0]
    assert "train-labels-idx1-ubyte" in msg and "train-images" not in msg
