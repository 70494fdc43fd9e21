import subprocess
import sys
import textwrap

import pytest

from pyg_dnnmod.cli import build_parser, main
from pyg_dnnmod.cli import commands


def test_commands_are_discovered(run_cli):
    code, out, _ = run_cli('--help')
    assert code == 0
    for name in ('curve', 'tsne', 'train', 'layers'):
        assert f'    {name} ' in out or f'    {name}\n' in out


def test_no_command_prints_help_and_exits_2(run_cli):
    code, _, err = run_cli()
    assert code == 2
    assert 'usage: pyg-dnnmod' in err


def test_usage_error_exits_2(run_cli):
    code, _, err = run_cli('curve', '--dataset', 'kmnist')
    assert code == 2
    assert "invalid choice: 'kmnist'" in err


def test_version(run_cli):
    import pyg_dnnmod
    code, out, _ = run_cli('--version')
    assert code == 0
    assert out.strip() == f'pyg-dnnmod {pyg_dnnmod.__version__}'


@pytest.fixture
def extra_commands(tmp_path, monkeypatch):
    r"""A folder added to the commands package, as another person's command
    module would be."""
    monkeypatch.setattr(commands, '__path__',
                        list(commands.__path__) + [str(tmp_path)])
    yield tmp_path
    for name in ('hello', 'broken', 'helper'):
        sys.modules.pop(f'pyg_dnnmod.cli.commands.{name}', None)


def test_contract_any_module_with_add_parser_and_run(extra_commands, run_cli):
    (extra_commands / 'hello.py').write_text(textwrap.dedent('''
        from pyg_dnnmod.cli._common import CLIError

        def add_parser(subparsers):
            parser = subparsers.add_parser('hello', help='greets')
            parser.add_argument('--name', default='world')
            return parser

        def run(args):
            if args.name == 'bad':
                raise CLIError("--name bad is bad; pass another --name")
            if args.name == 'value':
                raise ValueError("'x' must be > 0 (got 0)")
            print(f'hello {args.name}')
            return 0
    '''))
    (extra_commands / 'helper.py').write_text('VALUE = 1\n')
    code, out, _ = run_cli('hello', '--name', 'you')
    assert (code, out) == (0, 'hello you\n')
    assert 'helper' not in build_parser().format_help()

    code, out, err = run_cli('hello', '--name', 'bad')
    assert code == 2 and out == ''
    assert err == ('pyg-dnnmod hello: error: --name bad is bad; pass another '
                   '--name\n')
    # A library ValueError is one line too; --debug adds the traceback.
    code, _, err = run_cli('hello', '--name', 'value')
    assert code == 2
    assert err == ("pyg-dnnmod hello: error: 'x' must be > 0 (got 0) "
                   "(--debug shows the traceback)\n")
    code, _, err = run_cli('hello', '--name', 'bad', '--debug')
    assert code == 2
    assert err.startswith('Traceback (most recent call last):')
    assert err.endswith('pyg-dnnmod hello: error: --name bad is bad; pass '
                        'another --name\n')


def test_broken_module_does_not_break_the_others(extra_commands, run_cli):
    (extra_commands / 'broken.py').write_text(
        'import a_module_that_does_not_exist\n')
    code, out, _ = run_cli('--help')
    assert code == 0 and 'unavailable' in out and 'curve' in out
    code, _, err = run_cli('broken', '--anything')
    assert code == 2
    assert "the command 'broken' is unavailable" in err
    assert "No module named 'a_module_that_does_not_exist'" in err


def test_internal_errors_keep_their_traceback(extra_commands):
    (extra_commands / 'hello.py').write_text(textwrap.dedent('''
        def add_parser(subparsers):
            return subparsers.add_parser('hello')

        def run(args):
            raise RuntimeError('a bug')
    '''))
    with pytest.raises(RuntimeError, match='a bug'):
        main(['hello'])


@pytest.mark.slow
def test_python_dash_m_entry_point(tmp_path):
    # One subprocess through 'python -m pyg_dnnmod': an actionable error is
    # one line on stderr, exit code 2, no traceback.
    proc = subprocess.run(
        [sys.executable, '-m', 'pyg_dnnmod', 'curve', '--dataset', 'cifar10',
         '--data-root', str(tmp_path / 'missing')],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ''
    assert proc.stderr.count('\n') == 1
    assert proc.stderr.startswith(
        f"pyg-dnnmod curve: error: --data-root '{tmp_path / 'missing'}' is "
        f"not a folder; point it at the folder holding cifar-10-batches-py/")
    assert 'Traceback' not in proc.stderr
    assert list(tmp_path.iterdir()) == []
