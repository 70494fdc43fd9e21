r"""A zoo generator killed with SIGKILL leaves no process behind, and its
resumption loses and duplicates nothing."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from pyg_dnnmod.weights.zoo import (
    ZooSpace,
    finished_networks,
    generate_zoo,
    read_record,
    record_path,
)

SETTINGS = dict(epochs=3, snapshot_epochs=1, max_train_samples=200,
                space=ZooSpace(architectures=['lenet5'], widths=[0.5]))

_GENERATOR = textwrap.dedent('''
    import sys
    from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo
    generate_zoo(sys.argv[1], 8, epochs=3, snapshot_epochs=1,
                 max_train_samples=200, num_workers=2,
                 space=ZooSpace(architectures=['lenet5'], widths=[0.5]))
''')


@pytest.mark.slow
def test_sigkill_leaves_no_orphans(tmp_path):
    root = tmp_path / 'zoo'
    proc = subprocess.Popen([sys.executable, '-c', _GENERATOR, str(root)],
                            start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    children = []
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.time() + 300
        # Two workers (and multiprocessing's resource tracker) at work.
        while not (finished_networks(root)
                   and len(parent.children(recursive=True)) >= 2):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, 'no network finished in 300 s'
            time.sleep(0.02)
        children = parent.children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as a user's kill
        proc.wait()
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    survived = finished_networks(root)
    assert 1 <= len(survived) < 8, survived
    time.sleep(1.0)  # nothing writes after the kill
    assert finished_networks(root) == survived
    before = {i: record_path(root, i).read_bytes() for i in survived}

    summary = generate_zoo(root, 8, num_workers=1, **SETTINGS)
    assert summary['index'].tolist() == list(range(8))
    assert [read_record(root, i)['index'] for i in range(8)] == \
        list(range(8))
    assert not list((root / 'raw').glob('.*.tmp*'))
    for i in survived:  # nothing finished was redone
        assert record_path(root, i).read_bytes() == before[i]
