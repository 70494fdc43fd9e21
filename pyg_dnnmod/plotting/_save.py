r"""Writing a figure to a file without :mod:`matplotlib.pyplot`."""
from pathlib import Path
from typing import Optional, Union

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pyg_dnnmod.io import atomic_write


def save_figure(fig: Figure, path: Union[str, Path], dpi: int = 150,
                format: Optional[str] = None) -> Path:
    r"""Renders :obj:`fig` through the Agg canvas and writes it to
    :obj:`path` atomically (a reader never sees half an image); no pyplot
    state and no backend switch (no :obj:`matplotlib.use`) are involved.

    Args:
        fig (matplotlib.figure.Figure): The figure, e.g. of
            :func:`plot_modularity_curve`.
        path (str or Path): The file.
        dpi (int, optional): Dots per inch. (default: :obj:`150`)
        format (str, optional): The image format. (default: the suffix of
            :obj:`path`, e.g. :obj:`"png"`)

    Returns:
        pathlib.Path: The file written.

    Example:
        >>> import tempfile
        >>> fig = Figure(figsize=(2, 1))
        >>> _ = fig.add_subplot().plot([0, 1], [1, 0])
        >>> path = save_figure(fig, Path(tempfile.mkdtemp()) / 'a.png', dpi=50)
        >>> path.read_bytes()[1:4]
        b'PNG'
    """
    path = Path(path)
    format = format or path.suffix.lstrip('.') or 'png'
    canvas = FigureCanvasAgg(fig)  # becomes fig.canvas
    return atomic_write(path, lambda tmp: canvas.print_figure(
        tmp, dpi=dpi, format=format))
