r"""Start-up of ``pyg-dnnmod``: parsing, ``--help`` and the errors found from
the arguments alone import neither torch nor PyG, and ``import pyg_dnnmod``
loads its names on first access (issue 20, point 7).

The checks run in a fresh interpreter and read ``sys.modules``, the
untimed form of "``--help`` answers in well under a second".
"""
import json
import os
import subprocess
import sys

import pytest

import pyg_dnnmod
from pyg_dnnmod import names

#: What the parser must not import.
HEAVY = ('torch', 'torch_geometric', 'numpy', 'scipy', 'sklearn', 'pandas',
         'matplotlib')


def python(code: str, *options: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *options, '-c', code],
                          capture_output=True, text=True, env=env,
                          timeout=300)


def heavy_after(code: str) -> dict:
    r"""Runs :obj:`code` in a fresh interpreter, where :obj:`record(label)`
    notes the heavy modules imported so far; returns them by label."""
    result = python(
        "import io, json, sys, contextlib\n"
        f"HEAVY = {HEAVY!r}\n"
        "seen = {}\n"
        "def record(label):\n"
        "    seen[label] = [m for m in HEAVY if m in sys.modules]\n"
        "def quiet(call):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), \\\n"
        "            contextlib.redirect_stderr(io.StringIO()):\n"
        "        return call()\n"
        f"{code}\n"
        "print(json.dumps(seen))\n")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_help_and_argument_errors_import_nothing_heavy():
    seen = heavy_after(
        "import pyg_dnnmod.cli as cli\n"
        "record('import')\n"
        "codes = {}\n"
        "codes['--help'] = quiet(lambda: cli.main(['--help']))\n"
        "record('--help')\n"
        "commands = cli.build_parser().get_default('_commands')\n"
        "assert len(commands) > 10, commands\n"
        "for name in commands:\n"
        "    label = name + ' --help'\n"
        "    codes[label] = quiet(lambda: cli.main([name, '--help']))\n"
        "    record(label)\n"
        "for argv in (['curve', '--k', 'abc'], ['curve', '--dataset', 'x'],\n"
        "             ['curve', '--metric', 'l3'],\n"
        "             ['train', '--recipe', 'x'],\n"
        "             ['prune', '--selector', 'x'], ['predict', '--T', 'x'],\n"
        "             ['zoo', '--optimizers', 'adam'], ['nope']):\n"
        "    codes[' '.join(argv)] = quiet(lambda: cli.main(argv))\n"
        "    record(' '.join(argv))\n"
        "seen['codes'] = codes\n")
    codes = seen.pop('codes')
    assert {label: code for label, code in codes.items()
            if code != (0 if label.endswith('--help') else 2)} == {}
    assert 'curve --help' in seen and 'zoo --help' in seen
    assert {label: heavy for label, heavy in seen.items() if heavy} == {}


def test_console_entry_point_errors_before_importing_torch():
    # The real entry point, `python -m pyg_dnnmod`, with its import log.
    result = python('import runpy, sys; '
                    "sys.argv = ['pyg-dnnmod', 'curve', '--k', 'abc']; "
                    "runpy.run_module('pyg_dnnmod', run_name='__main__')",
                    '-X', 'importtime')
    assert result.returncode == 2
    assert ("pyg-dnnmod curve: error: --k must be an integer or a "
            "comma-separated list of integers (got 'abc')") in result.stderr
    imported = {line.split('|')[-1].strip()
                for line in result.stderr.splitlines()
                if line.startswith('import time:')}
    # (importlib.import_module, which finds the commands, is not logged.)
    assert 'pyg_dnnmod.cli._common' in imported
    assert sorted(m for m in imported if m.split('.')[0] in HEAVY) == []


def test_import_pyg_dnnmod_is_light_and_names_load_on_access():
    seen = heavy_after(
        "import pyg_dnnmod\n"
        "record('import')\n"
        "assert 'layer_graphs' in dir(pyg_dnnmod)\n"
        "assert pyg_dnnmod.__version__\n"
        "record('version')\n"
        "from pyg_dnnmod import layer_graphs, modularity, SnapshotConfig\n"
        "from pyg_dnnmod.snapshots import layer_graphs as original\n"
        "assert layer_graphs is original is pyg_dnnmod.layer_graphs\n"
        "assert pyg_dnnmod.utils.modularity is modularity\n"
        "record('access')\n")
    assert seen['import'] == seen['version'] == []
    assert 'torch' in seen['access']


def test_every_name_of_all_resolves():
    for name in pyg_dnnmod.__all__:
        assert getattr(pyg_dnnmod, name) is not None, name
        assert name in dir(pyg_dnnmod)
    namespace = {}
    exec('from pyg_dnnmod import *', namespace)
    assert set(pyg_dnnmod.__all__) <= set(namespace)
    assert namespace['SnapshotConfig'] is pyg_dnnmod.snapshots.SnapshotConfig
    assert namespace['weights'] is pyg_dnnmod.weights
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        pyg_dnnmod.nonexistent


def test_light_names_are_the_registries_names():
    # The parser's choices come from pyg_dnnmod.names; the registries are
    # keyed by the same names (and check it when they are built).
    from pyg_dnnmod import datasets, pretrained, pruning, weights
    from pyg_dnnmod.cli import _common, _options
    from pyg_dnnmod.similarity._gram import GRAM_METRICS
    from pyg_dnnmod.snapshots._config import METRICS
    from pyg_dnnmod.utils.knn_kernel import METRICS as KNN_METRICS
    from pyg_dnnmod.weights.zoo import ZOO_ARCHITECTURES, ZOO_OPTIMIZERS

    assert names.DATASET_NAMES == tuple(datasets.list_datasets())
    assert names.DEFAULT_DATASET == datasets.DEFAULT_DATASET
    assert names.DEFAULT_MODEL == pretrained.DEFAULT_MODEL
    assert names.DEFAULT_MODEL == pretrained.DIGITS_RECIPE['model']
    assert names.TRAIN_RECIPE_NAMES == tuple(pretrained.TRAIN_RECIPES)
    assert names.FINETUNE_RECIPE_NAMES == tuple(pretrained.FINETUNE_RECIPES)
    assert names.SELECTOR_NAMES == tuple(pruning.SELECTORS)
    assert names.NODE_STATISTICS is weights.NODE_STATISTICS
    assert (names.ZOO_ARCHITECTURES, names.ZOO_OPTIMIZERS) == (
        ZOO_ARCHITECTURES, ZOO_OPTIMIZERS)
    assert names.METRICS is METRICS is KNN_METRICS
    assert names.METRICS == GRAM_METRICS
    assert _options.DATASETS == tuple(datasets.list_datasets())
    assert _options.RECIPES == tuple(pretrained.TRAIN_RECIPES)
    assert (_common.DEFAULT_MODEL, _common.DEFAULT_DATASET) == (
        pretrained.DEFAULT_MODEL, datasets.DEFAULT_DATASET)
    # The library names the CLI re-exports load on access.
    assert _common.DataSource is datasets.DataSource
    assert _common.model_kind('torchvision:resnet18') == 'torchvision'


def test_a_registry_built_from_other_names_fails():
    with pytest.raises(RuntimeError, match=r"SELECTORS is keyed \('gain',\)"):
        names.check_registry({'gain': 1}, names.SELECTOR_NAMES, 'SELECTORS')
