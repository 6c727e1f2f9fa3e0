"""Chapter 02 (`drl_notes.mi`) from outside the notebook: bad posteriors refused by every entry point, and `drl-notes mi`
as a subprocess (quick mode, errors, the benchmark script). The estimator's maths is checked in the notebook itself,
beside each definition, and runs in quick mode under `nbdev-test`."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from drl_notes.mi import MI_REPORT_FILES, MIAccumulator, check_posteriors, mi_indicator


# ---------------------------------------------------------------- bad posteriors

@pytest.mark.parametrize('kw,msg', [
    (dict(mu=torch.zeros(3, 2), logvar=torch.zeros(3, 3)), r'mu has shape \(3, 2\) but logvar has \(3, 3\)'),
    (dict(mu=torch.zeros(3, 2), var=torch.ones(2, 2)), r'mu has shape \(3, 2\) but var has \(2, 2\)'),
    (dict(mu=torch.zeros(3), logvar=torch.zeros(3)), 'mu: expected a 2-D tensor'),
    (dict(mu=torch.zeros(3, 2), logvar=torch.tensor([[0., float('nan')]] * 3)), 'logvar: 3 value'),
    (dict(mu=torch.tensor([[float('inf'), 0.]]), logvar=torch.zeros(1, 2)), 'mu: 1 value'),
    (dict(mu=torch.zeros(2, 2), var=torch.tensor([[1., -0.5], [0., 2.]])), 'var: 2 value.*zero or negative'),
    (dict(mu=torch.zeros(2, 2), var=torch.tensor([[1., float('nan')], [1., 2.]])), 'var: 1 value.*NaN'),
    (dict(mu=torch.zeros(0, 2), logvar=torch.zeros(0, 2)), 'no data points'),
    (dict(mu=torch.zeros(2, 2)), 'exactly one of logvar'),
    (dict(mu=torch.zeros(2, 2), logvar=torch.zeros(2, 2), var=torch.ones(2, 2)), 'exactly one of logvar'),
    (dict(mu=[[0., 0.]], logvar=torch.zeros(1, 2)), 'mu: expected a 2-D tensor or numpy array.*got list'),
    (dict(mu=np.zeros(2), logvar=np.zeros(2)), r'mu: expected a 2-D tensor or numpy array.*got shape \(2,\)'),
    (dict(mu=torch.zeros(2, 2, dtype=torch.bool), logvar=torch.zeros(2, 2)), 'mu: expected real numbers, got torch.bool'),
    (dict(mu=torch.zeros(2, 2, dtype=torch.complex64), logvar=torch.zeros(2, 2)), 'mu: expected real numbers, got torch.complex64'),
    (dict(mu=torch.zeros(2, 2), var=np.ones((2, 2), dtype=complex)), 'var: expected real numbers, got torch.complex128'),
])
def test_bad_inputs(kw, msg):
    with pytest.raises(ValueError, match=msg): check_posteriors(**kw)
    with pytest.raises(ValueError, match=msg): mi_indicator(**kw)
    with pytest.raises(ValueError, match=msg): MIAccumulator().update(**kw)


def test_numpy_posteriors_give_the_tensor_result():
    rng = np.random.default_rng(0)
    mu, lv = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    torch.testing.assert_close(mi_indicator(mu, lv), mi_indicator(torch.from_numpy(mu), torch.from_numpy(lv)))
    torch.testing.assert_close(MIAccumulator().update(mu, var=np.exp(lv)).mi, mi_indicator(mu, lv))


# ---------------------------------------------------------------- `drl-notes mi`

@pytest.fixture(scope='module')
def shapes_checkpoint(tmp_path_factory):
    from conftest import run_cli
    out = tmp_path_factory.mktemp('vae')
    code, _, err = run_cli('vae', '--data', 'shapes', '--quick', '--latent', '16', '--out', out)
    assert code == 0, err
    return out/'vae.pt'


def test_cli_mi_quick(cli, shapes_checkpoint, tmp_path):
    out = tmp_path/'mi'
    code, stdout, err = cli('mi', shapes_checkpoint, '--data', 'shapes', '--quick', '--out', out)
    assert code == 0, err
    for f in MI_REPORT_FILES: assert (out/f).stat().st_size > 0 and f in stdout
    ind = pd.read_csv(out/'indicators.csv', index_col='factor')
    assert len(ind) == 16 and list(ind.columns) == ['mi_train', 'mi', 'mi_mc', 'variance', 'activity', 'kl']
    assert (ind.mi >= -1e-9).all() and (ind.mi >= ind.mi_mc - 0.1).all()
    s = json.loads((out/'summary.json').read_text())
    assert s['factors'] == 16 and s['points'] == 200 and s['quick'] and s['influential'] == [int(h) for h in ind.mi.sort_values(ascending=False).index if ind.mi[h] > 0.5]
    topk = pd.read_csv(out/'topk.csv')
    assert set(topk.ranking) == {'MI', 'variance', 'activity'} and topk.groupby('ranking').factors.first().eq(16).all()
    code, _, err = cli('mi', shapes_checkpoint, '--data', 'shapes', '--quick', '--out', out)        # never overwrites silently
    assert code == 2 and 'already holds' in err


@pytest.mark.parametrize('args,msg', [
    (('--data', 'mnist'), "takes images of shape (1, 32, 32), but data set 'mnist' has (1, 28, 28)"),
])
def test_cli_mi_errors(cli, shapes_checkpoint, tmp_path, args, msg):
    code, _, err = cli('mi', shapes_checkpoint, '--quick', '--out', tmp_path/'o', *args)
    assert code == 2 and msg in err, err


def test_cli_mi_missing_checkpoint(cli, tmp_path):
    code, _, err = cli('mi', tmp_path/'nothing.pt', '--data', 'shapes', '--quick', '--out', tmp_path/'o')
    assert code == 2 and 'nothing.pt does not exist' in err


# ---------------------------------------------------------------- the benchmark script (a smoke run, not a timing test)

def test_mi_benchmark_runs_small_and_rejects_bad_arguments():
    import re, subprocess, sys
    from conftest import REPO
    script = REPO/'benchmarks'/'mi_estimator.py'
    r = subprocess.run([sys.executable, str(script), '--m', '300', '--h', '8', '--reps', '1', '--mc-points', '50'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r'^vectorised mi_indicator : +\d+\.\d+ ms$', r.stdout, re.M) and 'M =     50:' in r.stdout
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s['m'] == 300 and s['h'] == 8 and s['max_difference'] < 1e-9 and set(s['monte_carlo_s']) == {'50'}
    r = subprocess.run([sys.executable, str(script), '--m', '0'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--m must be at least 1' in r.stderr
