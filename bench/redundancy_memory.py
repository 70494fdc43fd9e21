r"""Memory of :func:`pyg_dnnmod.redundancy.layer_redundancy_report` on a
12-block transformer: GPT-2's default configuration (124 M parameters,
random init, built offline) over 256 sequences of 128 tokens (a quarter of
them right-padded to 96 real tokens), labels ``arange(256) % 4``.

Runs in a fresh process (spawn). Columns: ``model_mb`` (RSS after the
model is built, above the process before it), ``peak_above_model_mb`` (the
high-water resident set during the report above the RSS just before it,
reset by ``/proc/self/clear_refs``), ``peak_anon_above_model_mb``
(anonymous memory only, sampled every 2 ms), ``seconds``, and the
memory bound the reader states: one batch's :math:`L + 1` states
(``batch_states_mb``) plus the pooled states of every sample
(``pooled_mb``). The acceptance of the transformers issue: below 2 GiB
above the model on the CPU.

Run: ``python bench/redundancy_memory.py`` (``--batch-size 32``,
``--threads 2``); ``--samples 64`` for a quick check.
"""
import argparse
import multiprocessing as mp
import os
import time

from curve_end_to_end import AnonSampler, peak_mb, reset_peak, rss_mb


def child(args, queue):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    from pyg_dnnmod.redundancy import layer_redundancy_report

    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    before = rss_mb()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    model_mb = rss_mb() - before
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50257, (args.samples, args.tokens), generator=gen)
    mask = torch.ones_like(ids)
    mask[::4, 96:] = 0
    labels = torch.arange(args.samples) % 4
    base = rss_mb()
    resettable = reset_peak()
    start = time.perf_counter()
    with AnonSampler() as anon:
        report = layer_redundancy_report(
            model, {'input_ids': ids, 'attention_mask': mask}, labels,
            budget=2, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    dim, layers = 768, 12
    queue.put(dict(
        blocks=len(report), samples=args.samples, tokens=args.tokens,
        batch_size=args.batch_size, model_mb=round(model_mb),
        peak_above_model_mb=round(peak_mb(resettable) - base),
        peak_anon_above_model_mb=round(anon.peak / 1024 - base),
        batch_states_mb=round(args.batch_size * args.tokens * dim *
                              (layers + 1) * 4 / 2**20),
        pooled_mb=round(args.samples * dim * (layers + 1) * 4 / 2**20),
        seconds=round(seconds, 1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--samples', type=int, default=256)
    parser.add_argument('--tokens', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    args = parser.parse_args()
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(args, queue))
    proc.start()
    row = queue.get()
    proc.join()
    import torch
    print(f'GPT-2 default config (12 blocks, random init), torch '
          f'{torch.__version__}, threads={args.threads}')
    width = max(map(len, row))
    for key, value in row.items():
        print(f'{key:>{width}}: {value}')
    limit = 2048
    verdict = 'below' if row['peak_above_model_mb'] < limit else 'ABOVE'
    print(f'peak above the model {verdict} 2 GiB')


if __name__ == '__main__':
    main()
