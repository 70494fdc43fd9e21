r"""``pyg-dnnmod attack``: modularity curves of adversarial inputs beside the
clean curve (the paper's section 4.2, Fig. 6a), with the paper's six
AdverTorch attacks at AdverTorch's defaults (CW with 200 iterations, JSMA
aimed at class (y + 1) mod C), every parameter overridable with ``--param``.
The work is done by
:func:`pyg_dnnmod.experiments.adversarial.adversarial_curves`.

Only correctly classified samples are attacked, and the successful
adversarial examples are kept until N are collected; the success rate and
the time of every attack are reported. Adversarial sets are cached on disk
(``--cache-dir``, keyed by model, data, attack, parameters and seed).

Writes into the output folder (default
``./pyg_dnnmod_out/attack-<model>-<dataset>-N<N>-k<k>-<attacks>/``, with
``-2``, ``-3``, ... appended when taken): ``modularity.csv`` (one row per
set and layer; the set is ``clean`` or the attack), ``attacks.csv`` (one row
per set: peak modularity, success rate, examples collected and attacked,
perturbation sizes, seconds, target rule, note, parameters),
``adversarial_curves.png`` and ``run.json``.
"""
import argparse
import json
from typing import Any, Dict, List

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'attack'
#: The attacks run without ``--attacks``: the two fast ones, whose curves
#: the paper's finding is about; ``--attacks all`` runs all six.
DEFAULT_ATTACKS = 'fgsm,pgd'
_ALL = ('fgsm', 'pgd', 'jsma', 'cw', 'single_pixel', 'local_search')


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='modularity curves of adversarial inputs vs clean',
        description=(
            "Attacks the correctly classified samples with AdverTorch until N "
            "successful adversarial examples per attack are collected, then "
            "draws the modularity curve (true labels) of the clean samples "
            "and of every adversarial set on one figure (Lu et al., ECCV "
            "2022, Fig. 6a). Inputs are attacked in pixel space [0, 1]; the "
            "model normalises them itself. With no arguments: the small CNN "
            "trained once on the translated digits (cached), FGSM and PGD at "
            "AdverTorch's defaults (eps 0.3), N=500, k=3."))
    graphs = common.add_snapshot_arguments(
        parser, seed_help='the seed of the clean draw, of the order in which '
                          'samples are attacked and of the attacks\' random '
                          'draws (default: %(default)s)')
    common.add_calibration_arguments(graphs)
    group = parser.add_argument_group('attacks')
    group.add_argument(
        '--attacks', default=DEFAULT_ATTACKS, metavar='A[,A...]',
        type=parse_attacks,
        help=f"comma-separated among {', '.join(_ALL)}, or 'all' (the "
             f"paper's six; cw, single_pixel and local_search take minutes "
             f"on a CPU) (default: %(default)s)")
    group.add_argument(
        '--param', action='append', default=[], metavar='ATTACK.NAME=VALUE',
        help="override a parameter of an AdverTorch attack, e.g. "
             "fgsm.eps=0.1 or cw.max_iterations=50 (VALUE is read as JSON: "
             "numbers, true, false, null; otherwise as text); repeatable")
    group.add_argument('--attack-batch-size', type=int, default=64,
                       metavar='B',
                       help='largest chunk of samples attacked at once '
                            '(default: %(default)s)')
    group.add_argument(
        '--cache-dir', metavar='DIR',
        help='where adversarial sets are cached (default: the user cache '
             'folder of pyg_dnnmod, adversarial/)')
    group.add_argument('--no-cache', action='store_true',
                       help='neither read nor write the cache')
    return parser


def parse_attacks(text: str) -> List[str]:
    r"""``--attacks`` as a list of attack names.

    Example:
        >>> parse_attacks('FGSM, pgd')
        ['fgsm', 'pgd']
        >>> len(parse_attacks('all'))
        6
    """
    if text.strip().lower() == 'all':
        return list(_ALL)
    return common.parse_choice_list(text.replace(' ', '').lower(),
                                    '--attacks', _ALL)


def parse_params(items: List[str], attacks: List[str]) -> Dict[str, Dict]:
    r"""``--param ATTACK.NAME=VALUE`` items as :obj:`{attack: {name:
    value}}`.

    Example:
        >>> parse_params(['fgsm.eps=0.1', 'cw.abort_early=false'],
        ...              ['fgsm', 'cw'])
        {'fgsm': {'eps': 0.1}, 'cw': {'abort_early': False}}
    """
    params: Dict[str, Dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition('=')
        attack, dot, name = key.strip().partition('.')
        attack = attack.lower()
        if not sep or not dot or not name:
            raise CLIError(f"--param must look like ATTACK.NAME=VALUE, e.g. "
                           f"fgsm.eps=0.1 (got {item!r})")
        if attack not in attacks:
            raise CLIError(f"--param {item}: attack '{attack}' is not run; "
                           f"add it to --attacks (running "
                           f"{', '.join(attacks)})")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        params.setdefault(attack, {})[name.strip()] = value
    return params


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.adversarial import attack_params
    from pyg_dnnmod.experiments.adversarial import adversarial_curves
    from pyg_dnnmod.pretrained import cache_dir

    timer = common.Timer()
    attacks = args.attacks
    params = parse_params(args.param, attacks)
    common.check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    common.check_positive(args.attack_batch_size, '--attack-batch-size')
    common.check_permutations(args)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    name = '-'.join([NAME, common.slug(args.model), args.dataset,
                     f'N{args.num_samples}', f'k{args.k}',
                     'all' if attacks == list(_ALL) else
                     common.values_slug(attacks)] +
                    (['random'] if args.random_init else []) +
                    common.checkpoint_part(args) +
                    (['calibrated'] if args.calibrate else []))
    out = common.plan_output(args.out, name, args.overwrite)

    data = common.read_data(args, timer)
    if not data.in_memory:
        raise CLIError(f"--dataset {args.dataset} is read lazily; 'attack' "
                       f"needs an in-memory dataset (translated-digits, "
                       f"digits, cifar10, cifar100, fashion-mnist, mnist, "
                       f"mnist-5k, synthetic; without --image-size)")
    for attack, given in params.items():
        try:
            attack_params(attack, tuple(data.input_shape), data.num_classes,
                          **given)
        except (ValueError, TypeError) as e:
            raise CLIError(f"--param: {common.one_line(e)}") from e
    model, model_info, names = common.read_model(args, data, timer,
                                                 progress)
    cache = None if args.no_cache else (
        args.cache_dir if args.cache_dir else cache_dir() / 'adversarial')

    with timer('attacks_and_graphs'):
        curves, summary = adversarial_curves(
            model, data.inputs, data.labels, attacks,
            common.snapshot_config(args), device=device, params=params,
            cache_dir=cache, attack_batch_size=args.attack_batch_size,
            progress=progress, calibrate=args.calibrate,
            num_permutations=args.permutations)
    for _, row in summary.iterrows():
        if row['set'] != 'clean':
            timer.timings[f"attack_{row['set']}"] = float(row['seconds'])

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_adversarial_curves
        fig = plot_adversarial_curves(
            curves, summary, model=common.model_title(args, model_info),
            data=f'{data.title} ({data.split})')

    paths = common.finish(
        NAME, args, out, timer, device,
        files={'modularity.csv': lambda p: curves.to_csv(p, index=False),
               'attacks.csv': lambda p: summary.to_csv(p, index=False)},
        figures={'adversarial_curves.png': fig},
        model=model_info, data=data.describe(), layers=names,
        attacks={row['set']: dict(
            params=json.loads(row['params']) if row['params'] else {},
            success_rate=row['success_rate'],
            num_collected=int(row['num_collected']),
            num_attacked=int(row['num_attacked']),
            seconds=row['seconds'], target_rule=row['target_rule'],
            note=row['note'])
            for _, row in summary.iterrows() if row['set'] != 'clean'},
        cache_dir=None if cache is None else str(cache),
        num_samples=args.num_samples, k=args.k)

    table = curves.pivot_table(index=['layer_index', 'layer'], columns='set',
                               values='modularity', sort=False)
    table.columns.name = None
    shown = summary[['set', 'peak_modularity', 'peak_layer', 'success_rate',
                     'num_collected', 'num_attacked', 'linf_mean',
                     'seconds']]
    print(f"{args.model} ({model_info.get('weights', '')}) on {data.title} "
          f"({data.split}): modularity (true labels) of N = "
          f"{args.num_samples} clean and adversarial samples, k = {args.k}")
    print(table.to_string(float_format=lambda v: f'{v:.3f}'))
    print()
    print(shown.to_string(index=False, float_format=lambda v: f'{v:.3f}',
                          na_rep='-'))
    for _, row in summary.iterrows():
        if row['note']:
            print(f"note: {row['set']}: {row['note']}")
        if isinstance(row['target_rule'], str):
            print(f"note: {row['set']} is targeted at class "
                  f"{row['target_rule']}")
    common.print_written(paths)
    return 0
