import pandas as pd
import pytest

from pyg_dnnmod.plotting import plot_modularity_curve
from pyg_dnnmod.plotting._axes import DisplayFigure
from pyg_dnnmod.plotting._curve import MIN_Q_SPAN

RESNET18 = ['conv1', 'layer1.0', 'layer1.1', 'layer2.0', 'layer2.1',
            'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1', 'fc']
VIT = [f'blocks.{i}' for i in range(9)] + ['head']


def _summary(inits=('trained', 'random init'), ks=(3, ), layers=None,
             flat=False) -> pd.DataFrame:
    layers = layers or ['conv1', 'conv2', 'fc']
    rows = []
    for j, init in enumerate(inits):
        for k in ks:
            for t, layer in enumerate(layers):
                mean = 0.5 if flat else 0.1 + 0.2 * t + 0.05 * j - k / 100
                rows.append(dict(init=init, k=k, num_samples=300,
                                 metric='cosine', layer_index=t, layer=layer,
                                 mean=mean, std=0.01, count=2))
    return pd.DataFrame(rows)


def _styles(lines):
    return [(line.get_color(), line.get_linestyle(), line.get_marker())
            for line in getattr(lines, 'lines', lines)]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_notebook_ablation_every_curve_distinct():
    # Notebook 01's ablation: 'trained' and 'random init' over k = 3, 5, 10.
    fig = plot_modularity_curve(_summary(ks=(3, 5, 10)))
    ax = fig.axes[0]
    styles = _styles(ax)
    assert len(styles) == 6 and len(set(styles)) == 6
    # Colour per k, line style and marker per model label.
    assert [c for c, _, _ in styles[:3]] == [c for c, _, _ in styles[3:]]
    assert len({c for c, _, _ in styles}) == 3
    assert {(s, m) for _, s, m in styles[:3]} == {('-', 'o')}
    assert {(s, m) for _, s, m in styles[3:]} == {('--', 's')}
    assert _legend(ax) == ['k = 3, trained', 'k = 5, trained',
                           'k = 10, trained', 'k = 3, random init',
                           'k = 5, random init', 'k = 10, random init']


def test_models_without_ablation_differ_in_colour_and_style():
    fig = plot_modularity_curve(_summary(inits=('seed 0', 'seed 1',
                                                'random')))
    ax = fig.axes[0]
    styles = _styles(ax)
    assert len({c for c, _, _ in styles}) == 3
    assert len({s for _, s, _ in styles}) == 3
    assert _legend(ax) == ['seed 0', 'seed 1', 'random init']


def test_colliding_labels_are_spelled_out():
    # 'random' reads as 'random init': both would have the same entry.
    summary = _summary(inits=('random', 'random init'))
    ax = plot_modularity_curve(summary).axes[0]
    assert _legend(ax) == ['init = random', 'init = random init']
    assert len(set(_styles(ax))) == 2


def test_many_curves_and_labels_stay_distinct():
    inits = [f'model {i}' for i in range(6)]
    fig = plot_modularity_curve(_summary(inits=inits, ks=range(3, 15)))
    ax = fig.axes[0]
    styles = _styles(ax)
    assert len(styles) == 72 and len(set(styles)) == 72
    assert len({str(c) for c, _, _ in styles}) == 12  # beyond ten colours
    labels = _legend(ax)
    assert len(set(labels)) == 72 and labels[-1] == 'k = 14, model 5'


def test_calibrated_z_panel_follows_the_curve_style():
    summary = _summary().assign(null_mean=0.0, null_std=0.01, z_mean=5.0)
    fig = plot_modularity_curve(summary)
    top, bottom = fig.axes[:2]
    curves = [line for line in top.lines if line.get_linestyle() != ':']
    z = [line for line in bottom.lines if line.get_color() != '0.4']
    assert _styles(z) == _styles(curves)
    assert len(set(_styles(z))) == 2


def test_different_layer_lists_refused():
    summary = pd.concat([_summary(inits=('resnet18', ), layers=RESNET18),
                         _summary(inits=('vit', ), layers=VIT)])
    with pytest.raises(ValueError) as info:
        plot_modularity_curve(summary)
    assert str(info.value) == (
        "'summary' holds curves over different layers, which one x axis "
        "cannot show: 'resnet18' has ['conv1', 'layer1.0', 'layer1.1', ..., "
        "'layer4.1', 'fc'] (10 layers) and 'vit' has ['blocks.0', "
        "'blocks.1', 'blocks.2', ..., 'blocks.8', 'head'] (10 layers); plot "
        "each model in its own figure or axes (argument 'ax')")
    # A shorter list, e.g. a model with a layer fewer, is refused too.
    summary = pd.concat([_summary(inits=('a', )),
                         _summary(inits=('b', ), layers=['conv1', 'fc'])])
    with pytest.raises(ValueError, match=r"'a' has \['conv1', 'conv2', "
                       r"'fc'\] and 'b' has \['conv1', 'fc'\]"):
        plot_modularity_curve(summary)


def test_two_tables_with_one_label_refused():
    # Two models summarized apart keep the label 'trained': one curve
    # would zigzag through both.
    summary = pd.concat([_summary(inits=('trained', )),
                         _summary(inits=('trained', ))])
    with pytest.raises(ValueError, match=r"^'summary' holds more than one "
                       r"row of the curve 'modularity' at layer_index 0; "
                       r"give every model its own label"):
        plot_modularity_curve(summary)


def test_flat_curve_looks_flat():
    fig = plot_modularity_curve(_summary(inits=('trained', ), flat=True)
                                .assign(mean=[0.8986, 0.9000, 0.8993]))
    low, high = fig.axes[0].get_ylim()
    assert MIN_Q_SPAN == 0.1
    assert high - low == pytest.approx(MIN_Q_SPAN)
    assert (low + high) / 2 == pytest.approx(0.8993, abs=1e-3)
    # A curve that spans more keeps its own range.
    fig = plot_modularity_curve(_summary(inits=('trained', )))
    low, high = fig.axes[0].get_ylim()
    assert low < 0.06 and high > 0.48 and high - low > MIN_Q_SPAN


def test_flat_curve_in_given_axes():
    fig = DisplayFigure()
    ax = fig.add_subplot()
    plot_modularity_curve(_summary(flat=True).assign(std=0.0), ax=ax)
    low, high = ax.get_ylim()
    assert high - low >= MIN_Q_SPAN


def test_returned_figure_renders_itself():
    fig = plot_modularity_curve(_summary())
    assert isinstance(fig, DisplayFigure)
    assert fig._repr_png_()[:8] == b'\x89PNG\r\n\x1a\n'
    assert DisplayFigure()._repr_png_() is None  # no blank image
