r"""A whole modularity curve against its floor: ``layer_graphs`` on a
torchvision ResNet-18 (random init, seed 0, eval mode) against one forward
pass plus the Gram matrix of every chosen layer (DESIGN.md section 6: the
floor for a curve).

Each variant runs in a fresh process (spawn) on the same seeded random
inputs ``[N, 3, S, S]`` (labels ``arange(N) % 10``):

* ``forward``: one forward pass over the N inputs in batches of
  ``--batch-size`` under ``torch.no_grad``, reading nothing.
* ``floors``: row normalisation + ``X @ X.T`` in float32 for every chosen
  layer's features, summed over the layers (the features are made once
  before the timing).
* ``layer_graphs``: ``pyg_dnnmod.layer_graphs(model, x, y, k=3)`` with the
  default layers (stem + 8 residual blocks) and the default budget
  (``max_bytes=None``: half the available memory) and store.
* ``spill_all``: the same with ``max_bytes=1``: every layer goes to the
  disk-backed float32 store in ``--spill-dir`` (the cost of spilling).
* ``passes_2gib``: the same with the former default, ``max_bytes=2 GiB``
  and ``spill=False``: one forward pass per group of layers that fits.

Columns: ``seconds`` (best of ``--repeats``); ``peak_rss_mb``, the
process's high-water resident set above its RSS just before the timed part
(reset by ``/proc/self/clear_refs``; the largest over the repeats), which
counts the page-cache pages of the store while they are mapped;
``peak_anon_mb``, the anonymous memory alone (sampled every 2 ms), which
does not; ``forward_calls`` and ``passes`` (samples through the model / N,
the 2-sample probe included), counted by a forward pre-hook on the model
(a post-hook would miss the passes that stop after the last layer read);
``ratio`` = seconds / (forward + floors).

Run: ``python bench/curve_end_to_end.py`` (N = 300 at 224 x 224) or
``--num-samples 40 --image-size 64 --repeats 1`` for a quick check.
"""
import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import threading
import time

VARIANTS = ('forward', 'floors', 'layer_graphs', 'spill_all', 'passes_2gib')


def status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return None


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def reset_peak():
    # Linux >= 4.0: the high-water mark (VmHWM) drops to the current RSS.
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_mb(resettable):
    hwm = status_kb('VmHWM') if resettable else None
    if hwm is None:  # no reset: the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return hwm / 1024


class AnonSampler:
    # The peak of RssAnon (anonymous memory, no page cache) while running.
    def __init__(self, interval=0.002):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kb('RssAnon') or 0)
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = status_kb('RssAnon') or 0
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_kb('RssAnon') or 0)


def spilled_layers(sizes, budget):
    # The rule of iter_layer_features: in order, a layer stays in memory
    # while it fits what is left of the budget.
    room, count = budget, 0
    for size in sizes:
        if size <= room:
            room -= size
        else:
            count += 1
    return count


def child(variant, args, queue):
    import torch
    import torchvision

    from pyg_dnnmod import layer_graphs
    from pyg_dnnmod.features import extract_features, memory_budget

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    n, size = args.num_samples, args.image_size
    x = torch.rand(n, 3, size, size, generator=torch.Generator()
                   .manual_seed(0))
    y = torch.arange(n) % 10
    dims = [f.size(1) for f in extract_features(model, x[:2]).values()]
    sizes = [n * d * 4 for d in dims]
    note = f'{len(dims)} layers, {sum(sizes) / 2**30:.2f} GiB'

    feats = None
    if variant == 'floors':
        feats = list(extract_features(model, x, batch_size=args.batch_size,
                                      max_bytes=2**62).values())
    kwargs = dict(k=args.k, batch_size=args.batch_size)
    if variant == 'layer_graphs':
        budget = memory_budget()
        note += (f', budget {budget / 2**30:.1f} GiB, '
                 f'{spilled_layers(sizes, budget)} spilled')
    elif variant == 'spill_all':
        kwargs.update(max_bytes=1, spill_dir=args.spill_dir)
        note += f', {len(dims)} spilled'
    elif variant == 'passes_2gib':
        kwargs.update(max_bytes=2 * 1024**3, spill=False)

    counts = {'calls': 0, 'samples': 0}

    def count(module, inputs):
        counts['calls'] += 1
        counts['samples'] += inputs[0].size(0)

    model.register_forward_pre_hook(count)
    best, peak, anon = float('inf'), 0.0, 0.0
    for _ in range(args.repeats):
        counts.update(calls=0, samples=0)
        resettable = reset_peak()
        base, base_anon = rss_mb(), (status_kb('RssAnon') or 0) / 1024
        with AnonSampler() as sampler:
            t0 = time.perf_counter()
            if variant == 'forward':
                with torch.no_grad():
                    for batch in x.split(args.batch_size):
                        model(batch)
            elif variant == 'floors':
                for f in feats:
                    xn = f / f.norm(dim=1, keepdim=True).clamp_min(1e-8)
                    torch.mm(xn, xn.T)  # the Gram matrix, dropped
            else:
                graphs = layer_graphs(model, x, y, **kwargs)
                assert len(graphs) == len(dims)
                del graphs
            seconds = time.perf_counter() - t0
        best = min(best, seconds)
        peak = max(peak, peak_mb(resettable) - base)
        anon = max(anon, sampler.peak / 1024 - base_anon)
    queue.put(dict(variant=variant, seconds=best, peak_rss_mb=peak,
                   peak_anon_mb=anon, forward_calls=counts['calls'],
                   passes=counts['samples'] / n, note=note))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=300)
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--spill-dir', default=tempfile.gettempdir())
    parser.add_argument('--variants', default=','.join(VARIANTS),
                        help=f'comma-separated, of {VARIANTS}')
    args = parser.parse_args()
    variants = args.variants.split(',')
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f'unknown variant(s) {unknown}; choose from {VARIANTS}')

    import pandas as pd
    import torch

    ctx = mp.get_context('spawn')
    rows = []
    for variant in variants:
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(variant, args, queue))
        proc.start()
        rows.append(queue.get())
        proc.join()
        print(f"{variant:>13}: {rows[-1]['seconds']:8.3f} s", flush=True)
    table = pd.DataFrame(rows).set_index('variant')
    if {'forward', 'floors'} <= set(table.index):
        floor = table.loc['forward', 'seconds'] + \
            table.loc['floors', 'seconds']
        table['ratio'] = table['seconds'] / floor
    print(f'\ntorchvision resnet18 (random init), N={args.num_samples}, '
          f'{args.image_size}x{args.image_size}, k={args.k}, batch '
          f'{args.batch_size}, threads={args.threads}, torch '
          f'{torch.__version__}; best of {args.repeats}; ratio = seconds / '
          f'(forward + floors)')
    with pd.option_context('display.width', 200, 'display.max_columns', 20,
                           'display.float_format', '{:.3f}'.format):
        print(table)


if __name__ == '__main__':
    main()
