import pytest

from pyg_dnnmod.cli import main


@pytest.fixture
def run_cli(capsys):
    r"""Runs ``pyg-dnnmod`` in this process with the given arguments
    (converted to str) and returns the exit code, stdout and stderr."""
    def run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run
