r"""``torchrun ... -m pyg_dnnmod.cli.torchrun``: the modularity curve of
``pyg-dnnmod curve`` with the samples of every draw split over the
processes of ``torchrun``, for models and sample counts too large for one
device. The work is done by
:func:`pyg_dnnmod.distributed.layer_graphs.distributed_layer_graphs`.

``torchrun --nproc_per_node 2 -m pyg_dnnmod.cli.torchrun --model resnet56
--dataset synthetic --num-samples 2000 --repeats 3`` takes the same model,
data, graph and output options as ``pyg-dnnmod curve`` (one value each).
The processes talk over gloo on CPUs and NCCL when every process has a GPU
(``--device auto`` or ``cuda``). Every draw of N samples is shared out by a
:class:`~torch.utils.data.DistributedSampler`, each process reads its share
of the features, and rank 0 assembles the k-NN graphs, which equal the
single-process ones (``--check`` recomputes them in one process and says
whether the curves agree).

Rank 0 writes into the output folder (default
``./pyg_dnnmod_out/torchrun-<model>-<dataset>-N<N>-k<k>/``, with ``-2``,
``-3``, ... appended when taken), as ``pyg-dnnmod curve`` does:
``modularity.csv`` (one row per repeat and layer), ``summary.csv`` (mean /
std / count per layer), ``modularity_curve.png`` and ``run.json`` (with the
world size and the backend). An error a person can act on stops every
process with one line on stderr and exit code 2.
"""
import argparse
import os
import sys
from typing import Any, Callable, List, Optional, Sequence

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'torchrun'
PROG = 'torchrun --nproc_per_node P -m pyg_dnnmod.cli.torchrun'


def build_parser() -> argparse.ArgumentParser:
    r"""The options: those of ``pyg-dnnmod curve`` with one value each,
    plus ``--check``.

    Example:
        >>> args = build_parser().parse_args(['--model', 'resnet20',
        ...                                   '--num-samples', '100'])
        >>> args.model, args.num_samples, args.k, args.repeats, args.check
        ('resnet20', 100, 3, 1, False)
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "The modularity curve of a model (as 'pyg-dnnmod curve') with "
            "the samples of every draw split over the processes of "
            "torchrun: each process extracts the features of its share, "
            "and rank 0 assembles the k-NN graphs (equal to the "
            "single-process ones) and writes modularity.csv, summary.csv, "
            "modularity_curve.png and run.json. With no arguments: the "
            "small CNN trained once on the translated digits (cached), "
            "N=500, k=3, cosine, one draw. Backend: gloo on CPUs, NCCL "
            "when every process has a GPU."))
    common.add_model_arguments(parser)
    common.add_data_arguments(parser)
    graphs = common.add_graph_arguments(parser)
    graphs.add_argument('--repeats', type=int, default=1,
                        help='random draws of the N samples, seeds seed + r '
                             '(default: %(default)s)')
    graphs.add_argument('--check', action='store_true',
                        help='also compute every draw in one process (rank '
                             '0) and report whether the curves are equal')
    common.add_runtime_arguments(parser)
    common.add_output_arguments(parser)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of an error')
    return parser


def _broadcast(value: Any) -> Any:
    r"""Rank 0's :obj:`value`, on every rank."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _rank0_first(fn: Callable[[], Any], others: bool = True) -> Any:
    r"""Runs :obj:`fn` on rank 0, then (with :obj:`others`) on every other
    rank; a failure on rank 0 stops every rank with its message, so that no
    process waits forever for one that gave up."""
    import torch.distributed as dist

    rank = dist.get_rank()
    result, error = None, None
    if rank == 0:
        try:
            result = fn()
        except (CLIError, ValueError, TypeError, OSError) as e:
            error = e
    message = _broadcast(None if error is None else
                         common.one_line(f'{error}'))
    if error is not None:
        raise error
    if message is not None:
        raise CLIError(f'rank 0 failed: {message}')
    if rank != 0 and others:
        result = fn()
    return result


def _check_options(args: argparse.Namespace) -> None:
    common.check_graph_arguments(args)
    common.check_positive(args.repeats, '--repeats')
    common.check_positive(args.batch_size, '--batch-size')


def run(args: argparse.Namespace) -> int:
    r"""The curve over the ranks of the initialised default process group;
    rank 0 writes the outputs. Returns the exit code."""
    import pandas as pd
    import torch
    import torch.distributed as dist

    from pyg_dnnmod.distributed.layer_graphs import distributed_layer_graphs
    from pyg_dnnmod.experiments import CURVE_COLUMNS, summarize

    timer = common.Timer()
    rank, world = dist.get_rank(), dist.get_world_size()
    backend = str(dist.get_backend())
    _check_options(args)
    device = common.resolve_device(args.device)
    if device.type == 'cuda':
        local = int(os.environ.get('LOCAL_RANK', rank))
        device = torch.device('cuda', local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    progress = common.show_progress(args) and rank == 0
    out = _rank0_first(lambda: common.plan_output(
        args.out, common.run_name(NAME, args), args.overwrite), others=False)

    data = common.read_data(args, timer)
    # Rank 0 first: it trains (or loads) the cached default model, which
    # the others then only read.
    model, model_info, names = _rank0_first(
        lambda: common.read_model(args, data, timer, progress))
    config = common.snapshot_config(args)
    whole = config.replace(num_samples=None, progress=False)

    rows: List[Any] = []
    equal: List[bool] = []
    with timer('curves'):
        for r in range(args.repeats):
            index = config.draw(data.labels, r)
            x, y = data.take(index), data.labels[index]
            graphs = distributed_layer_graphs(model, x, y, whole,
                                              device=device)
            if graphs is None:
                continue
            table = graphs.to_dataframe(config.resolution)
            rows.append(table.assign(
                repeat=r, k=config.k, num_samples=index.numel(),
                metric=config.metric, init=model_info['init'],
                seed=config.seed + r)[list(CURVE_COLUMNS)])
            if args.check:
                from pyg_dnnmod.snapshots import layer_graphs
                single = layer_graphs(model, x, y, whole, device=device)
                equal.append(torch.equal(single.modularity(),
                                         graphs.modularity()))
    if rank != 0:
        return 0
    df = pd.concat(rows, ignore_index=True)
    summary = summarize(df)

    with timer('plot'):
        from pyg_dnnmod.plotting import curve_title, plot_modularity_curve
        model_title = common.model_title(args, model_info)
        data_title = f'{data.title} ({data.split})'
        fig = plot_modularity_curve(
            summary, title=curve_title(summary, model_title, data_title)
            + f', {world} process{"es" if world != 1 else ""} ({backend})')

    check = None if not args.check else all(equal)
    paths = common.finish(
        NAME, args, out, timer, device,
        files={'modularity.csv': lambda p: df.to_csv(p, index=False),
               'summary.csv': lambda p: summary.to_csv(p, index=False)},
        figures={'modularity_curve.png': fig},
        model=model_info, data=data.describe(), layers=names,
        curves=[model_info['init']], repeats=args.repeats,
        sample_seeds=[args.seed + r for r in range(args.repeats)],
        world_size=world, backend=backend,
        equal_to_single_process=check)

    print(f"{args.model} ({model_info.get('weights', '')}) on {data.title} "
          f"({data.split}): {len(names)} layers, N = {args.num_samples}, "
          f"k = {args.k}, {args.repeats} repeat(s), world size {world} "
          f"({backend})")
    print(summary[['layer_index', 'layer', 'mean', 'std']].to_string(
        index=False, float_format=lambda v: f'{v:.4f}'))
    if check is not None:
        print(f'equal to the single-process curve: {check}')
    common.print_written(paths)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    r"""Parses :obj:`argv` (by default the process arguments), joins the
    process group of ``torchrun`` (its environment variables; gloo on
    CPUs, NCCL on GPUs) unless one is initialised already, and runs
    :func:`run`. Returns the exit code: 0 on success, 2 for a usage error
    or an error a person can act on (one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or a usage error
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except CLIError as e:
        return _fail(str(e))
    args._argv = argv

    import torch
    import torch.distributed as dist

    joined = not dist.is_initialized()
    if joined:
        try:
            device = common.resolve_device(args.device)
        except CLIError as e:
            return _fail(str(e))
        dist.init_process_group('nccl' if device.type == 'cuda' and
                                torch.cuda.is_available() else 'gloo')
    try:
        return run(args)
    except (CLIError, ValueError, TypeError, OSError) as e:
        if args.debug:
            import traceback
            traceback.print_exc()
        return _fail(str(e), dist.get_rank())
    finally:
        if joined:
            dist.destroy_process_group()


def _fail(message: str, rank: Optional[int] = None) -> int:
    where = '' if rank is None else f' (rank {rank})'
    print(f'pyg-dnnmod {NAME}{where}: error: {common.one_line(message)}',
          file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
