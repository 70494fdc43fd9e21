import errno
import os
import tempfile
from pathlib import Path

import pytest

from pyg_dnnmod.cli import _common as common


@pytest.fixture
def no_work(monkeypatch):
    r"""Makes any data loading or training fail loudly, so that a test sees
    whether a command got past its output check."""
    import pyg_dnnmod.weights.zoo as zoo

    def work(*args, **kwargs):
        raise AssertionError('the command started working')

    monkeypatch.setattr(common, 'load_data', work)
    monkeypatch.setattr(zoo, 'generate_zoo', work)


def _message(path, problem, option='--out'):
    return (f"{option} '{path}': cannot write there ({problem}); pass a "
            f"folder you can write to")


def _deny(monkeypatch, folder):
    r"""Makes :obj:`folder` look read-only to os.access (tests run as root,
    where permission bits do not stop writes)."""
    access = os.access

    def fake(path, mode, *args, **kwargs):
        if Path(path).resolve() == Path(folder).resolve() and mode & os.W_OK:
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, 'access', fake)


@pytest.mark.parametrize('command', [
    ['curve'], ['cka'], ['train', '--dataset', 'digits'],
])
def test_out_under_a_file_fails_before_the_work(tmp_path, run_cli, no_work,
                                                command):
    (tmp_path / 'file.txt').write_text('mine')
    out = tmp_path / 'file.txt' / 'sub'
    code, stdout, err = run_cli(*command, '--out', out)
    assert code == 2 and stdout == ''
    assert _message(out, f"'{tmp_path / 'file.txt'}' is not a folder") in err
    assert err.count('\n') == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file.txt']


def test_zoo_root_under_a_file(tmp_path, run_cli, no_work):
    (tmp_path / 'file.txt').write_text('mine')
    root = tmp_path / 'file.txt' / 'zoo'
    code, _, err = run_cli('zoo', '--root', root)
    assert code == 2
    assert _message(root, f"'{tmp_path / 'file.txt'}' is not a folder",
                    '--root') in err


@pytest.mark.parametrize('command', [['curve'], ['train']])
def test_out_without_permission(tmp_path, run_cli, monkeypatch, no_work,
                                command):
    _deny(monkeypatch, tmp_path)
    out = tmp_path / 'a' / 'b'
    code, _, err = run_cli(*command, '--out', out)
    assert code == 2
    assert _message(out, 'Permission denied') in err
    assert list(tmp_path.iterdir()) == []  # no folder left behind


def test_read_only_existing_folder_with_overwrite(tmp_path, run_cli,
                                                  monkeypatch, no_work):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'run.json').write_text('{}')
    _deny(monkeypatch, out)
    for command in (['curve'], ['train']):
        code, _, err = run_cli(*command, '--out', out, '--overwrite')
        assert code == 2
        assert _message(out, 'Permission denied') in err
    assert [p.name for p in out.iterdir()] == ['run.json']


def test_read_only_mount(tmp_path, run_cli, monkeypatch, no_work):
    # What os.access does not see: the probe file cannot be created.
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, 'NamedTemporaryFile', read_only)
    out = tmp_path / 'out'
    code, _, err = run_cli('curve', '--out', out)
    assert code == 2
    assert _message(out, 'Read-only file system') in err


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='no /proc')
def test_out_in_proc(run_cli, no_work):
    code, _, err = run_cli('curve', '--out', '/proc/pyg_dnnmod_out')
    assert code == 2
    assert "--out '/proc/pyg_dnnmod_out': cannot write there (" in err


def test_writable_out_leaves_no_probe(tmp_path):
    out = tmp_path / 'a' / 'b'
    assert common.plan_output(str(out), 'run', False) == out
    assert list(tmp_path.iterdir()) == []
