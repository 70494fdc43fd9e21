r"""A PyG :class:`~torch_geometric.data.InMemoryDataset` whose files cannot
run code and whose damaged files are rebuilt.

PyG's own dataset code fully unpickles :obj:`processed/pre_transform.pt`
and :obj:`processed/pre_filter.pt`, and retries a processed data file with
full unpickling when the safe load fails: a file planted in a folder a user
points the dataset at could run code.
:class:`SafeInMemoryDataset` takes none of those paths: it never reads (nor
writes) the two :obj:`pre_*.pt` files, stores a processed file as plain
dictionaries of tensors, and reads it back with
:func:`~pyg_dnnmod.io.load_tensors` only.
"""
import os
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence

from torch_geometric.data import Data, InMemoryDataset

from pyg_dnnmod.io import (
    DamagedFileError,
    atomic_save,
    atomic_write_json,
    load_json,
    load_tensors,
)

__all__ = ['SafeInMemoryDataset']


class SafeInMemoryDataset(InMemoryDataset):
    r"""Base of the package's on-disk graph datasets: two processed files,
    the graphs (:obj:`processed_paths[0]`, a :obj:`(dict, slices)` pair of
    tensors, the slices :obj:`None` for a single graph) and a JSON side file (:obj:`processed_paths[1]`, read into
    :attr:`meta`).

    A subclass implements :meth:`process` (build the graphs and return them
    with the side file's content, written here atomically) and may extend
    :meth:`check_processed` (raise :class:`~pyg_dnnmod.io.DamagedFileError`
    when what was read does not fit). On construction the processed files
    are read with :obj:`weights_only=True` and checked; a damaged one
    (truncated, empty, random bytes, or holding anything but tensors and
    plain values) is reported with a warning naming it and rebuilt, and
    nothing in it is run.

    Args:
        root (str): The root folder.
        transform (callable, optional): Applied to every item on access.
            (default: :obj:`None`)
        force_reload (bool, optional): Rebuild even if the files are there.
            (default: :obj:`False`)

    Example:
        >>> import tempfile, torch
        >>> class Tiny(SafeInMemoryDataset):
        ...     @property
        ...     def processed_file_names(self):
        ...         return ['tiny.pt', 'tiny.json']
        ...     def process(self):
        ...         return [Data(x=torch.ones(2, 1))], {'n': 1}
        >>> root = tempfile.mkdtemp()
        >>> dataset = Tiny(root)
        >>> len(dataset), dataset.meta
        (1, {'n': 1})
        >>> _ = open(dataset.processed_paths[0], 'wb').write(b'garbage')
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     dataset = Tiny(root)
        >>> len(dataset), 'rebuilding' in str(caught[0].message)
        (1, True)
    """
    #: Where the rebuild warning points: the user's call, seen from
    #: :meth:`_process` (user -> subclass __init__ -> this __init__ ->
    #: PyG's __init__ -> _process).
    _warn_stacklevel = 5

    meta: Dict[str, Any]

    def __init__(self, root: str, transform: Optional[Callable] = None,
                 force_reload: bool = False) -> None:
        super().__init__(root, transform, force_reload=force_reload,
                         log=False)
        # InMemoryDataset.__init__ resets what _process read; set it again.
        self._data, self.slices, self.meta = self._loaded
        self._data_list = None
        del self._loaded

    @property
    def raw_file_names(self) -> List[str]:
        return []

    def download(self) -> None:
        pass

    def process(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # PyG's ``_process`` fully unpickles ``pre_transform.pt`` and
    # ``pre_filter.pt``; this one never touches them.
    def _process(self) -> None:
        paths = self.processed_paths
        if not self.force_reload and all(os.path.exists(p) for p in paths):
            try:
                self._read_processed()
                return
            except DamagedFileError as e:
                warnings.warn(f'{e}; rebuilding it',
                              stacklevel=self._warn_stacklevel)
        os.makedirs(self.processed_dir, exist_ok=True)
        data_list, meta = self.process()
        self.save_processed(data_list, meta)
        self._read_processed()

    def save_processed(self, data_list: Sequence[Data],
                       meta: Dict[str, Any]) -> None:
        r"""Writes the graphs and the side file atomically, the graphs as
        plain dictionaries of tensors (no class is pickled)."""
        data, slices = self.collate(list(data_list))
        atomic_save((data.to_dict(), slices), self.processed_paths[0])
        atomic_write_json(meta, self.processed_paths[1], default=str)

    def _read_processed(self) -> None:
        data_path, meta_path = self.processed_paths[:2]
        stored = load_tensors(data_path, what='processed file')
        if not (isinstance(stored, tuple) and len(stored) == 2
                and isinstance(stored[0], dict)
                and isinstance(stored[1], (dict, type(None)))):
            raise DamagedFileError(f"processed file '{data_path}' does not "
                                   f"hold a (dict, slices) pair")
        meta = load_json(meta_path, what='side file')
        if not isinstance(meta, dict):
            raise DamagedFileError(f"side file '{meta_path}' does not hold "
                                   f"a JSON object")
        self._data = Data.from_dict(stored[0])
        self.slices = stored[1]
        self.meta = meta
        self._data_list = None
        self._loaded = (self._data, self.slices, self.meta)
        try:
            self.check_processed()
        except DamagedFileError:
            raise
        except Exception as e:  # noqa: BLE001 - inconsistent content
            raise DamagedFileError(f"processed files '{data_path}' and "
                                   f"'{meta_path}' do not fit together "
                                   f"({type(e).__name__}: {e})") from e

    def check_processed(self) -> None:
        r"""Raises if the files just read do not fit this dataset; the
        base takes out the first and the last item (slices that do not fit
        the stored tensors fail there), without materialising the rest."""
        for i in {0, len(self) - 1} if len(self) > 0 else ():
            self.get(i)
        self._data_list = None
