"""Writing figures: atomic PNG/PDF/SVG files and RGB arrays (for wandb images)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray


def save_figure(
    fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None, **savefig_kwargs: Any
) -> Path:
    """Write ``fig`` to ``path`` atomically, creating parent folders.

    The figure is written to a temporary file in the same folder and renamed over
    ``path`` (:func:`os.replace`), so readers never see a half-written file. The format
    follows the suffix (``.png``, ``.pdf``, ``.svg``, ...).

    Args:
        fig: The figure.
        path: Destination file.
        dpi: Resolution (default: the figure's).
        **savefig_kwargs: Passed to :meth:`Figure.savefig` (e.g. ``pil_kwargs``).

    Returns:
        The destination path.

    Raises:
        ValueError: If ``path`` has no suffix to choose the format from.
    """
    dest = Path(path)
    fmt = dest.suffix.lstrip(".").lower()
    if not fmt:
        raise ValueError(f"save_figure: path needs a suffix such as .png, got {str(dest)!r}")
    resolution: float | str = dpi if dpi is not None else "figure"
    return atomic_write(
        dest, lambda fh: fig.savefig(fh, format=fmt, dpi=resolution, **savefig_kwargs)
    )


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``.

    Parent folders are created; on any error the temporary file is removed and ``path``
    is left as it was.

    Args:
        path: Destination file.
        write: Writes the content into the open binary file it is given.

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def figure_to_array(fig: Figure) -> NDArray[np.uint8]:
    """Render ``fig`` to an RGB image array ``[H, W, 3]`` of ``uint8``.

    Pass the result to e.g. ``wandb.Image`` to log the same figure that is saved to disk.
    The figure's own canvas is used when it is Agg-based (any interactive Agg window
    too); otherwise a temporary Agg canvas renders it and the original canvas is
    restored.

    Args:
        fig: The figure.

    Returns:
        A new C-contiguous array ``[H, W, 3]`` (height and width in pixels at the
        figure's dpi).
    """
    canvas = fig.canvas
    if isinstance(canvas, FigureCanvasAgg):
        canvas.draw()
        return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])
    agg = FigureCanvasAgg(fig)  # attaches itself to fig
    try:
        agg.draw()
        return np.ascontiguousarray(np.asarray(agg.buffer_rgba())[..., :3])
    finally:
        fig.set_canvas(canvas)
