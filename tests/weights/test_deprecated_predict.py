import subprocess
import sys

import pytest

import pyg_dnnmod.experiments.final_accuracy  # noqa: F401
import pyg_dnnmod.plotting as plotting
import pyg_dnnmod.weights as weights
from pyg_dnnmod.weights import predict

EXPERIMENT = sys.modules['pyg_dnnmod.experiments.final_accuracy']

# Every public name of the old module, 0.1.0.
OLD_NAMES = ['FEATURE_SETS', 'MODELS', 'parameter_statistics',
             'graph_features', 'accuracy_features', 'hyperparameter_features',
             'weight_statistics_features', 'quantile_bins', 'cross_validate',
             'prediction_metrics', 'feature_table', 'non_degenerate',
             'accuracy_prediction', 'width_transfer', 'time_savings',
             'metric_vs_T', 'plot_predicted_vs_true', 'plot_confusion',
             'plot_metric_vs_T']


@pytest.mark.parametrize('name', OLD_NAMES)
def test_old_module_forwards_with_a_warning(name):
    new = plotting if name.startswith('plot_') else EXPERIMENT
    with pytest.warns(DeprecationWarning) as caught:
        obj = getattr(predict, name)
    assert obj is getattr(new, name)
    message = str(caught[0].message)
    assert message.startswith(f'pyg_dnnmod.weights.predict.{name} is '
                              f'deprecated')
    assert message.endswith(f'use {new.__name__}.{name}')
    # The warning points at the caller, not at the shim.
    assert caught[0].filename == __file__


@pytest.mark.parametrize('name', ['accuracy_prediction', 'cross_validate',
                                  'quantile_bins', 'parameter_statistics',
                                  'width_transfer', 'time_savings'])
def test_weights_package_forwards_with_a_warning(name):
    with pytest.warns(DeprecationWarning, match=f'pyg_dnnmod.weights.{name} '
                      f'is deprecated.*use pyg_dnnmod.experiments.'
                      f'final_accuracy.{name}'):
        obj = getattr(weights, name)
    assert obj is getattr(EXPERIMENT, name)
    assert name not in weights.__all__


def test_unknown_names_still_fail():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        predict.nope
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        weights.nope


def test_weights_does_not_import_experiments():
    code = ('import sys, pyg_dnnmod.weights, pyg_dnnmod.weights.predict; '
            'print(sorted(m for m in sys.modules '
            'if m.startswith("pyg_dnnmod.experiments")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == '[]'
