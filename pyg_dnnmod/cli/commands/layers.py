r"""``pyg-dnnmod layers``: the modules of a model that can be read as layers,
with their types, output shapes and which ones are read by default (the
names and indices ``--layers`` accepts). Uses
:func:`pyg_dnnmod.features.list_layers`; builds the architecture only, so
nothing is trained or loaded."""
import argparse
from typing import Any

from pyg_dnnmod.cli import _common as common

NAME = 'layers'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help="list a model's layers (what --layers accepts)",
        description=(
            "Lists every module of --model with its type, its output shape "
            "on one sample of --dataset and whether it is among the layers "
            "read by default (the paper's: every conv of a VGG, the stem "
            "and the residual blocks of a ResNet); 'index' is its position "
            "among those, as --layers takes it."))
    common.add_model_arguments(parser, checkpoint=False, random_init=False)
    common.add_data_arguments(parser, split=None, image_size=True)
    parser.add_argument('--all', action='store_true',
                        help='list every module, not only those with a '
                             'tensor output')
    return parser


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from pyg_dnnmod.features import list_layers

    data = common.load_data(args.dataset, args.data_root, 'test', args.model,
                            image_size=args.image_size)
    model = common.build_model(args.model, data, args.num_classes)
    common.check_model_input(model, data, args.model)
    example = data.take(torch.arange(1))
    df = list_layers(model, example)
    if not args.all:
        df = df[df['shape'].notna()]
    with pd.option_context('display.max_rows', None, 'display.width', 200):
        print(df.to_string(index=False))
    print(f"\n{int(df['default'].sum())} default layers "
          f"(rule: {df.attrs.get('rule')})")
    return 0
