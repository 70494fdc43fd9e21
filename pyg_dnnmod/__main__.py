r"""``python -m pyg_dnnmod``: the same as the ``pyg-dnnmod`` command."""
from pyg_dnnmod.cli import main

if __name__ == '__main__':
    raise SystemExit(main())
