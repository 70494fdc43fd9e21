r"""The error text of the command line: :class:`CLIError` and the
translation of the library's messages, which name arguments, into messages
that name the options.

The library names an argument in three ways: quoted (:obj:`'spec'`), as a
keyword with its value (:obj:`spec=vgg16`, :obj:`root='/data'`) and as a
flag (:obj:`random_init=True`). :func:`name_options` rewrites them into
:obj:`--model`, :obj:`--model vgg16`, :obj:`--data-root '/data'` and
:obj:`--random-init`; :func:`options_named` does so for the errors raised
in a block.
"""
import contextlib
import re
from typing import Iterator, Mapping, Tuple, Type


class CLIError(Exception):
    r"""An error a person can act on: the message names the problem and the
    fix in one line; the command exits with code 2."""


#: The library errors :func:`options_named` rewrites.
LIBRARY_ERRORS: Tuple[Type[BaseException], ...] = (ValueError, TypeError,
                                                   ImportError, OSError)


def one_line(text: object) -> str:
    r"""Collapses all whitespace, newlines included.

    Example:
        >>> one_line('a\n  b ')
        'a b'
    """
    return ' '.join(str(text).split())


def name_options(message: str, options: Mapping[str, str]) -> str:
    r"""The library's :obj:`message` with every argument of :obj:`options`
    (argument name to option) named as the option.

    Example:
        >>> options = {'spec': '--model', 'random_init': '--random-init',
        ...            'weight_decay': '--weight-decay'}
        >>> name_options("spec=vgg16 has no weights: pass random_init=True",
        ...              options)
        '--model vgg16 has no weights: pass --random-init'
        >>> name_options("'weight_decay' must be >= 0 (got -1)", options)
        '--weight-decay must be >= 0 (got -1)'
    """
    message = one_line(message)
    for name, option in options.items():
        start = rf"(?<![\w.'-]){re.escape(name)}"
        message = re.sub(rf"{start}=True\b", lambda _: option, message)
        message = re.sub(rf"{start}=", lambda _: option + ' ', message)
        message = message.replace(f"'{name}'", option)
    return message


@contextlib.contextmanager
def options_named(**options: str) -> Iterator[None]:
    r"""Turns a library error raised in the block whose message names one
    of :obj:`options` (argument name to option) into a :class:`CLIError`
    naming the option; any other error passes unchanged.

    Example:
        >>> with options_named(num_classes='--num-classes'):
        ...     raise ValueError("'num_classes' must be >= 1 (got 0)")
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._errors.CLIError: --num-classes must be >= 1 (got 0)
    """
    try:
        yield
    except LIBRARY_ERRORS as e:
        message = name_options(str(e), options)
        if message == one_line(e):
            raise
        raise CLIError(message) from e
