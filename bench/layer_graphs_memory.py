r"""Peak memory and time of `layer_graphs` on a CIFAR ResNet18, against
holding every layer's features at once (what the paper's code does).

Each variant runs in a fresh process (spawn) on the same seeded random
32x32 inputs; peak = the process's high-water RSS above its RSS after the
model and inputs were made. Run: ``python bench/layer_graphs_memory.py``
(N=5000) or ``--num-samples 1000``.
"""
import argparse
import multiprocessing as mp
import resource
import time


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(variant, n, k, threads, queue):
    import torch

    from pyg_dnnmod import layer_graphs
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.models import get_model
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = get_model('resnet18').eval()
    x = torch.rand(n, 3, 32, 32)
    y = torch.arange(n) % 10
    base = rss_mb()
    t0 = time.perf_counter()
    if variant == 'layer_graphs':
        q = layer_graphs(model, x, y, k=k, progress=True).modularity()
        info = f'{len(q)} snapshots, Q[-1]={float(q[-1]):.4f}'
    else:  # every layer's features held at once, no graph at all
        feats = extract_features(model, x, max_bytes=2**62)
        info = f'{len(feats)} layers, ' + \
            f'{sum(f.numel() for f in feats.values()) * 4 / 2**30:.2f} GiB'
    queue.put((time.perf_counter() - t0, peak_mb() - base, info))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=5000)
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    ctx = mp.get_context('spawn')
    rows = []
    for variant in ('layer_graphs', 'all_features_at_once'):
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(variant, args.num_samples,
                                               args.k, args.threads, queue))
        proc.start()
        seconds, mem, info = queue.get()
        proc.join()
        rows.append((variant, seconds, mem, info))
        print(f'{variant:>22}: {seconds:7.1f} s, peak +{mem / 1024:.2f} GiB '
              f'({info})', flush=True)
    ratio = rows[1][2] / rows[0][2]
    print(f'\nCIFAR ResNet18, N={args.num_samples}, k={args.k}: '
          f'layer_graphs peak {rows[0][2] / 1024:.2f} GiB; holding all '
          f'layers at once {rows[1][2] / 1024:.2f} GiB ({ratio:.2f}x)')


if __name__ == '__main__':
    main()
