r"""The ``pyg-dnnmod`` command line (also ``python -m pyg_dnnmod``).

``pyg-dnnmod curve`` with no arguments runs the embedded default end to end:
the small CNN trained once on the translated digits (cached), its modularity
curve over depth for N=500, k=3, cosine, 5 repeats, written with a figure to
``./pyg_dnnmod_out/<run-name>/``. ``pyg-dnnmod --help`` lists the commands,
``pyg-dnnmod <command> --help`` their options.

**Adding a command.** Every module in :mod:`pyg_dnnmod.cli.commands` whose
name does not start with ``_`` and that defines both

* ``add_parser(subparsers) -> argparse.ArgumentParser``: registers the
  command with ``subparsers.add_parser(name, help=..., description=...)``,
  adds its options and returns the new parser, and
* ``run(args: argparse.Namespace) -> int``: does the work and returns the
  exit code (0 on success),

is found automatically and becomes ``pyg-dnnmod <name>``; nothing else
needs registering. ``--debug`` is added to every command. A parser's
default ``_prepare(args)``, if it sets one, runs after parsing and before
``run`` (the model options fill ``--model`` and ``--dataset`` from what
``--checkpoint`` records there). Keep imports of
torch and the package's heavy modules inside ``run``, so that ``--help``
and the errors found by parsing stay fast: choices and defaults that come
from the library are read from :mod:`pyg_dnnmod.names`, which imports
nothing (``tests/cli/test_cli_startup.py`` checks that parsing imports
neither torch nor PyG). Raise :class:`CLIError` (one line: the problem and
the fix) for anything a person can act on, also from an option's ``type=``;
it, and the :class:`ValueError` / :class:`TypeError` / :class:`OSError` of
the library's input checks, are printed as one line on stderr with exit
code 2 (the traceback only with ``--debug``). Write outputs with
:func:`~pyg_dnnmod.cli._common.finish` so that an error leaves nothing
half-written. :mod:`pyg_dnnmod.cli._common` holds the shared options
(model, data, runtime, output), the wrappers of the library's data and
model functions, and the output folder with its ``run.json``. A module that
fails to import is listed as an unavailable command instead of breaking the
others.
"""
import argparse
import importlib
import pkgutil
import sys
import traceback
from typing import Any, List, Optional, Sequence

from pyg_dnnmod._version import __version__
from pyg_dnnmod.cli._errors import CLIError, one_line

__all__ = ['main', 'build_parser', 'CLIError']

PROG = 'pyg-dnnmod'


def _command_modules() -> List[str]:
    from pyg_dnnmod.cli import commands
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__)
                  if not info.name.startswith('_'))


def _add_debug(parser: argparse.ArgumentParser) -> None:
    try:
        parser.add_argument('--debug', action='store_true',
                            default=argparse.SUPPRESS,
                            help='show the traceback of an error')
    except argparse.ArgumentError:
        pass  # the command defines its own


def _unavailable(subparsers: Any, name: str, error: BaseException) -> None:
    reason = one_line(f'{type(error).__name__}: {error}')
    parser = subparsers.add_parser(
        name.replace('_', '-'), add_help=False,
        help=f'(unavailable: {reason})')

    def run(args: argparse.Namespace) -> int:
        raise CLIError(f"the command '{name}' is unavailable: importing it "
                       f"failed ({reason}); reinstall pyg_dnnmod with the "
                       f"extras it needs") from error

    parser.set_defaults(_run=run, _any_arguments=True)


def build_parser() -> argparse.ArgumentParser:
    r"""The argument parser with every command of
    :mod:`pyg_dnnmod.cli.commands`.

    Example:
        >>> parser = build_parser()
        >>> args = parser.parse_args(['curve', '--k', '3,5'])
        >>> args.command, args.k
        ('curve', [3, 5])
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Deep networks read as dynamic graphs: k-NN snapshots '
                    'of every layer and their modularity (Lu et al., ECCV '
                    '2022). Start with: pyg-dnnmod curve',
        epilog=f"'{PROG} <command> --help' shows a command's options.")
    parser.add_argument('--version', action='version',
                        version=f'%(prog)s {__version__}')
    _add_debug(parser)
    subparsers = parser.add_subparsers(dest='command', metavar='<command>',
                                       title='commands')
    for name in _command_modules():
        try:
            module = importlib.import_module(f'pyg_dnnmod.cli.commands.{name}')
        except Exception as e:  # noqa: BLE001 - keep the other commands
            _unavailable(subparsers, name, e)
            continue
        add_parser = getattr(module, 'add_parser', None)
        run = getattr(module, 'run', None)
        if not (callable(add_parser) and callable(run)):
            continue  # a helper module, not a command
        sub = add_parser(subparsers)
        if not isinstance(sub, argparse.ArgumentParser):
            raise TypeError(f"pyg_dnnmod.cli.commands.{name}.add_parser must "
                            f"return the command's ArgumentParser "
                            f"(got {type(sub).__name__})")
        _add_debug(sub)
        sub.set_defaults(_run=run)
    parser.set_defaults(_commands=tuple(subparsers.choices))
    return parser


def _error_message(error: BaseException) -> str:
    r"""The message of :obj:`error`; for an error re-raised from a
    :class:`~torch.utils.data.DataLoader` worker, only the worker's error
    line, not its traceback.

    Example:
        >>> _error_message(ValueError('Caught ValueError in DataLoader worker '
        ...                           'process 0.\nOriginal Traceback (most '
        ...                           'recent call last):\n  File "x.py"\n'
        ...                           'ValueError: bad image'))
        'bad image'
    """
    message = str(error)
    if message.startswith('Caught ') and 'Original Traceback' in message:
        last = message.rstrip().splitlines()[-1]
        message = last.split(': ', 1)[-1]
    return message or type(error).__name__


def _fail(command: Optional[str], message: str) -> int:
    prefix = f'{PROG} {command}' if command else PROG
    print(f'{prefix}: error: {one_line(message)}', file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    r"""Runs ``pyg-dnnmod`` with :obj:`argv` (by default the process
    arguments) and returns the exit code: 0 on success, 2 for a usage error
    or an error a person can act on (one line on stderr), 130 when
    interrupted. Other exceptions propagate with their traceback.

    Example:
        >>> main(['--version'])  # doctest: +ELLIPSIS
        pyg-dnnmod ...
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        # An unavailable command takes any arguments, to report itself.
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, '_any_arguments', False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, --version or a usage error
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except CLIError as e:  # a bad value of an option's type=
        commands = parser.get_default('_commands')
        return _fail(next((a for a in argv if a in commands), None), str(e))
    if getattr(args, '_run', None) is None:
        parser.print_help(sys.stderr)
        return 2
    args._argv = argv
    debug = getattr(args, 'debug', False)
    command = getattr(args, 'command', None)
    try:
        prepare = getattr(args, '_prepare', None)
        if prepare is not None:  # defaults read from files, e.g. a checkpoint
            prepare(args)
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    except CLIError as e:
        if debug:
            traceback.print_exc()
        return _fail(command, str(e))
    except (ValueError, TypeError, OSError, ImportError, MemoryError,
            RuntimeError) as e:
        out_of_memory = isinstance(e, MemoryError) or \
            type(e).__name__ == 'OutOfMemoryError'
        if isinstance(e, RuntimeError) and not out_of_memory:
            raise  # a failure inside torch, not a bad input
        if debug:
            traceback.print_exc()
        message = _error_message(e)
        if out_of_memory:
            message = (f'out of memory ({message}); lower --batch-size or '
                       f'--num-samples, or use another --device')
        elif not debug:
            message += ' (--debug shows the traceback)'
        return _fail(command, message)
