r"""The API reference builds from the docstrings without a warning."""
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / 'docs'


@pytest.mark.slow
def test_sphinx_builds_warning_free(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b',
         'html', '-d', str(tmp_path / 'doctrees'), str(DOCS),
         str(tmp_path / 'html')], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / 'html' / 'api.html').exists()
