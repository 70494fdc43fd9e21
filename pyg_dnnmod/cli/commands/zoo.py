r"""``pyg-dnnmod zoo``: trains a population of small networks on the
translated digits for predicting final accuracy from the first epochs
(Vahedian et al., 2021; Unterthiner et al., 2020). The work is done by
:func:`pyg_dnnmod.weights.generate_zoo`.

The zoo folder (``--root``, default ``./pyg_dnnmod_out/zoo``) is written
network by network and is resumable: run the same command again after an
interruption and only the missing networks are trained; a larger
``--num-networks`` extends the zoo. It holds ``raw/zoo.json`` (the
settings), ``raw/net_XXXXX.pt`` (one record per network), and, after every
completed run, ``zoo.csv`` (one row per network) and ``run.json``.
"""
import argparse
import json
import os
from pathlib import Path
from typing import Any, Callable, List

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.names import ZOO_ARCHITECTURES, ZOO_DATA, ZOO_OPTIMIZERS

NAME = 'zoo'

#: The default zoo folder.
DEFAULT_ROOT = os.path.join(common.OUTPUT_ROOT, 'zoo')


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='train a resumable population of small networks '
                   '(for pyg-dnnmod predict)',
        description=(
            "Trains --num-networks small networks (LeNet-5 style and a "
            "small VGG, with width multipliers) on the digits (centred on "
            "a 16x16 canvas by default), "
            "each with a learning rate (log-uniform), dropout, weight "
            "decay (log-uniform), optimizer and seed drawn from the zoo "
            "seed and its index, and keeps the weights of its first "
            "--snapshot-epochs epochs and its test accuracy after --epochs. "
            "Every finished network is written at once, so a killed run "
            "resumes where it stopped: run the same command again."))
    parser.add_argument('--root', default=DEFAULT_ROOT, metavar='DIR',
                        help='the zoo folder (default: %(default)s)')
    parser.add_argument('--num-networks', type=int, default=120, metavar='N',
                        help='the population size (default: %(default)s)')
    group = parser.add_argument_group('training')
    group.add_argument('--epochs', type=int, default=15,
                       help='the full budget (default: %(default)s)')
    group.add_argument('--snapshot-epochs', type=int, default=5, metavar='T',
                       help='keep the weights of epochs 0..T '
                            '(default: %(default)s)')
    group.add_argument('--milestones', metavar='E[,E...]',
                       type=common.list_of(common.parse_int_list,
                                           '--milestones'),
                       help='epochs after which the learning rate is divided '
                            'by 10 (default: after two thirds of --epochs)')
    group.add_argument('--data', default='centred-digits',
                       choices=ZOO_DATA,
                       help="centred-digits: scikit-learn's 8x8 digits "
                            "centred on a 16x16 canvas; translated-digits: "
                            "the package's default data, the same digits "
                            "at random offsets, which the zoo's networks "
                            "barely learn in 15 epochs (zoos made before "
                            "issue 20 used it); fashion-mnist: a class-"
                            "balanced subset of 2,000 training and 2,000 "
                            "test images of the real Fashion-MNIST resized "
                            "to 16x16, from its local IDX files "
                            "(default: %(default)s)")
    group.add_argument('--max-train-samples', type=int, metavar='M',
                       help='train on a random subset of M images (default: '
                            'all 899 digits, or the 2,000 Fashion-MNIST '
                            'images)')
    space = parser.add_argument_group('hyperparameter space')
    space.add_argument('--architectures', default='lenet5,small_vgg',
                       type=common.list_of(common.parse_choice_list,
                                           '--architectures',
                                           ZOO_ARCHITECTURES),
                       help='drawn uniformly (default: %(default)s)')
    space.add_argument('--widths', default='0.5,0.75,1,1.5,2',
                       type=common.list_of(common.parse_float_list,
                                           '--widths'),
                       help='width multipliers, drawn uniformly '
                            '(default: %(default)s)')
    space.add_argument('--lr', default='0.003,0.1', metavar='LOW,HIGH',
                       type=_pair('--lr'),
                       help='learning rate, log-uniform; with momentum the '
                            'step is ten times larger, and above 0.1 most '
                            'such networks diverge (zoos made before issue '
                            '20 used 0.003,0.3) (default: %(default)s)')
    space.add_argument('--dropout', default='0,0.5', metavar='LOW,HIGH',
                       type=_pair('--dropout'),
                       help='uniform (default: %(default)s)')
    space.add_argument('--weight-decay', default='1e-5,1e-2',
                       metavar='LOW,HIGH', type=_pair('--weight-decay'),
                       help='log-uniform (default: %(default)s)')
    space.add_argument('--optimizers', default='sgd,momentum,nesterov',
                       type=common.list_of(common.parse_choice_list,
                                           '--optimizers', ZOO_OPTIMIZERS),
                       help='SGD without momentum, with momentum 0.9, with '
                            'Nesterov momentum 0.9; drawn uniformly '
                            '(default: %(default)s)')
    space.add_argument('--batch-sizes', default='32',
                       type=common.list_of(common.parse_int_list,
                                           '--batch-sizes'),
                       help='drawn uniformly (default: %(default)s)')
    runtime = parser.add_argument_group('runtime')
    runtime.add_argument('--seed', type=int, default=0,
                         help='the zoo seed (default: %(default)s)')
    runtime.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                         help='processes training at once, one torch thread '
                              'each (default: the CPU count, %(default)s)')
    common.add_progress_argument(runtime)
    return parser


def _pair(option: str) -> Callable[[str], List[float]]:
    return common.list_of(common.parse_float_list, option, 2)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pyg_dnnmod.io import atomic_write
    from pyg_dnnmod.weights.zoo import (
        ZooSpace,
        finished_networks,
        generate_zoo,
    )
    timer = common.Timer()
    common.check_positive(args.num_networks, '--num-networks')
    common.check_positive(args.workers, '--workers')
    space = ZooSpace(
        architectures=args.architectures, widths=args.widths, lr=args.lr,
        dropout=args.dropout, weight_decay=args.weight_decay,
        optimizers=args.optimizers, batch_sizes=args.batch_sizes)
    root = Path(args.root).expanduser()
    common.check_writable(root, '--root', replace=False)
    before = len(finished_networks(root))
    with timer('train'):
        summary = generate_zoo(
            root, args.num_networks, epochs=args.epochs,
            snapshot_epochs=args.snapshot_epochs, milestones=args.milestones,
            space=space, seed=args.seed,
            max_train_samples=args.max_train_samples, data=args.data,
            num_workers=args.workers, progress=common.show_progress(args))
    trained = len(summary) - before

    acc = summary['final_test_acc']
    with open(root / 'raw' / 'zoo.json') as f:
        chance = 1.0 / json.load(f)['num_classes']
    record = dict(
        root=str(root), networks=len(summary), trained_now=trained,
        resumed_from=before, workers=args.workers,
        final_test_acc=dict(min=float(acc.min()), median=float(acc.median()),
                            max=float(acc.max()),
                            above_chance=int((acc > chance + 0.05).sum())),
        train_seconds_sum=float(summary['train_seconds'].sum()))
    csv, run_json = root / 'zoo.csv', root / common.RUN_JSON
    atomic_write(csv, lambda p: summary.to_csv(p, index=False))
    common.write_json(common.run_record(NAME, args, timer.total(), 'cpu',
                                        **record), run_json)

    by_arch = summary.groupby('architecture')['final_test_acc'].describe()
    print(f"zoo '{root}': {len(summary)} networks ({trained} trained now, "
          f"{before} already there) in {timer.total()['total']:.1f} s with "
          f"{args.workers} worker(s)")
    with pd.option_context('display.precision', 3):
        print(by_arch[['count', 'min', '50%', 'max']].to_string())
    above = record['final_test_acc']['above_chance']
    print(f'above chance + 5 points: {above} of {len(summary)}')
    print(f'wrote {csv}')
    print(f'wrote {run_json}')
    return 0
