r"""``torchrun --nproc_per_node 2 -m pyg_dnnmod.distributed``: the
command lives in :mod:`pyg_dnnmod.cli.torchrun`."""
from pyg_dnnmod.cli.torchrun import main

if __name__ == '__main__':
    main()
