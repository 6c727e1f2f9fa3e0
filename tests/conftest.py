"""Shared settings and helpers for the pytest suite.

The suite must stay fast on a small, possibly shared CPU machine:

* PyTorch is limited to one intra-op thread (unless OMP_NUM_THREADS is already set). On a 2-core machine that
  another training job keeps busy, PyTorch's default of one OpenMP thread per core makes a small LSTM's
  forward/backward pass about 100x slower (the threads spin-wait on each other), which turned a one-epoch test
  from a fraction of a second into minutes. The setting is inherited by the subprocesses the tests start.
* Matplotlib draws off screen.
* Caches (trained models, EEG frames) go to a temporary folder, never to the user's `~/.cache/drl_notes`.
"""
import io, os, subprocess, sys, tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', os.environ['OMP_NUM_THREADS'])
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ['DRL_NOTES_CACHE'] = tempfile.mkdtemp(prefix='drl_notes_test_cache_')   # tests never write into the user's cache

import pandas as pd
import pytest
import torch

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

REPO = Path(__file__).resolve().parents[1]
ERR = 'drl-notes runoff: error:'  # how the CLI starts every data-error message


def run_cli(*args) -> tuple[int, str, str]:
    """Run `drl-notes ARGS` in this process; return (exit code, stdout, stderr) like a subprocess would.

    `SystemExit('message')` (a string code) is what Python turns into exit status 1 with the message on stderr;
    it is mapped the same way here."""
    from drl_notes.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args]); code = 0
        except SystemExit as e:
            if e.code is None: code = 0
            elif isinstance(e.code, int): code = e.code
            else: code = 1; print(e.code, file=err)
    return code, out.getvalue(), err.getvalue()


def run_cli_subprocess(*args) -> subprocess.CompletedProcess:
    "Run `python -m drl_notes.cli ARGS` in a subprocess, as a user's shell would (stdout and stderr captured as text)."
    return subprocess.run([sys.executable, '-m', 'drl_notes.cli', *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ})


@pytest.fixture(scope='session')
def cli():
    "The in-process `drl-notes` runner `run_cli`."
    return run_cli


@pytest.fixture(scope='session')
def leaf_frame() -> pd.DataFrame:
    "The shipped Leaf River observations (columns Date, E0, P, Qo) as strings, exactly as in the file."
    from drl_notes.core import package_data
    return pd.read_csv(package_data('holmes_hydro', 'Leaf_Observations.csv'), dtype=str)


@pytest.fixture
def daily_csv(tmp_path):
    """Factory: a valid daily CSV of `n` days from `start` (flows 1.0, 1.1, …), after `edit(df)` may spoil it.

    Returns the path. `edit` gets a DataFrame of strings with columns date, flow and returns the one to write."""
    def make(n=400, start='2000-01-01', edit=None, name='flows.csv', date_col='date', flow_col='flow'):
        idx = pd.date_range(start, periods=n, freq='D')
        df = pd.DataFrame({'date': idx.strftime('%Y-%m-%d'), 'flow': [f'{1 + 0.1*(k % 50):.1f}' for k in range(n)]})
        if edit is not None: df = edit(df)
        path = tmp_path/name
        df.rename(columns={'date': date_col, 'flow': flow_col}).to_csv(path, index=False)
        return path
    return make
