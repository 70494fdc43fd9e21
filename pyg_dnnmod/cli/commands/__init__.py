r"""The ``pyg-dnnmod`` commands, one module each, found automatically: see
:mod:`pyg_dnnmod.cli` for the contract (``add_parser(subparsers)`` and
``run(args) -> int``)."""
