r"""The cells of notebooks/01_quick_start.ipynb (see ../make_notebooks.py)."""
NAME = '01_quick_start.ipynb'

CELLS = [
    ('md', '''# 01: Quick start: a network's modularity curve, t-SNE per layer, ablations

Lu et al. (ECCV 2022) read a trained network as a dynamic graph: at every
layer, N labelled samples become the nodes of a k-NN graph of their
features, and the modularity of the class partition tells how well the layer
separates the classes. This notebook runs the embedded default (a small CNN
trained on scikit-learn's bundled digits, translated in a 16x16 canvas; no
download), the same as `pyg-dnnmod curve`.'''),
    ('code', '''from pyg_dnnmod.experiments import modularity_curves, summarize, tsne_panels
from pyg_dnnmod.plotting import plot_modularity_curve, plot_tsne_grid
from pyg_dnnmod.pretrained import digits_data, digits_model, pretrained_digits_cnn

model, info = pretrained_digits_cnn()   # trained once (about 20 s), then cached
x, y = digits_data('test')
print(f"test accuracy {info['test_acc']:.3f}")'''),
    ('md', '''## The curve: 5 random draws of N = 500 samples, k = 3, cosine'''),
    ('code', '''curves = modularity_curves(model, x, y, k=3, num_samples=500, repeats=5)
summary = summarize(curves)
summary'''),
    ('code', '''plot_modularity_curve(summary, model='DigitsCNN', data='translated digits')'''),
    ('md', '''## t-SNE of every layer, titled with its modularity (Fig. 1, left)'''),
    ('code', '''points = tsne_panels(model, x, y, num_samples=300)
plot_tsne_grid(points)'''),
    ('md', '''## Ablations: k, and a random-init network (appendix A)

One parameter at a time may take several values; several models go in a
dict, whose keys label the curves. Colours follow k, and every model has its
own line style and marker (here the trained network solid with circles, the
random-init one dashed with squares). At random initialisation the curve
stays flat near the raw-pixel value.'''),
    ('code', '''ablation = modularity_curves(
    {'trained': model, 'random init': digits_model(random_init=True)},
    x, y, k=[3, 5, 10], num_samples=300, repeats=2)
plot_modularity_curve(summarize(ablation), model='DigitsCNN',
                      data='translated digits')'''),
    ('code', '''summarize(ablation).pivot_table(index=['init', 'k'], columns='layer',
                                values='mean', sort=False).round(3)'''),
]
