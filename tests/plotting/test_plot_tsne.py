import pandas as pd
import pytest

from pyg_dnnmod.plotting import plot_tsne_grid


def _points(num_layers: int, num_classes: int = 3) -> pd.DataFrame:
    rows = []
    for t in range(num_layers):
        for i in range(12):
            rows.append(dict(layer_index=t, layer=f'features.{t}', sample=i,
                             label=i % num_classes, x=float(i),
                             y=float(i % 4), modularity=0.1 * t))
    return pd.DataFrame(rows)


def test_one_panel_per_layer_titled_with_modularity():
    fig = plot_tsne_grid(_points(5), title='t')
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 8  # 2 rows of 4
    assert [ax.get_title() for ax in visible] == [
        f'features.{t}\nQ = {0.1 * t:.3f}' for t in range(5)]
    assert all(len(ax.collections[0].get_offsets()) == 12 for ax in visible)
    # Colours by class: three distinct colours per panel.
    colours = visible[0].collections[0].get_facecolors()
    assert len({tuple(c) for c in colours.tolist()}) == 3
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ['0', '1', '2']
    assert fig.get_suptitle() == 't'


def test_class_names_and_columns():
    fig = plot_tsne_grid(_points(2), ncols=1, class_names=['a', 'b', 'c'])
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ['a', 'b',
                                                                  'c']
    no_q = plot_tsne_grid(_points(1).drop(columns='modularity'))
    assert no_q.axes[0].get_title() == 'features.0'


def test_bad_input():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['x'\]"):
        plot_tsne_grid(_points(1).drop(columns='x'))
    with pytest.raises(ValueError, match=r"'ncols' must be an integer >= 1 "
                       r"\(got 0\)"):
        plot_tsne_grid(_points(1), ncols=0)
    with pytest.raises(ValueError, match=r"'class_names' must name all 3 "):
        plot_tsne_grid(_points(1), class_names=['a'])
