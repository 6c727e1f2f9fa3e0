"""Chapter 02 (`drl_notes.mi`): the MI indicator against closed-form mutual information, the upper-bound property,
invariances, streaming, bad input, the top-k% tools, the model cache, and `drl-notes mi` in quick mode."""
import json, math

import numpy as np
import pandas as pd
import pytest
import torch

from drl_notes.mi import (MI_REPORT_FILES, MIAccumulator, check_posteriors, factor_indicators, fit_qstar, keep_factors,
                          linear_gaussian_encoder, mi_indicator, mi_indicator_by_kl, n_kept, top_factors, topk_classification,
                          topk_reconstruction, vae_mi)
from drl_notes.vae import BetaVAE, ImageData, VAEConfig, kl_decomposition, make_shapes, to_float_images


# ---------------------------------------------------------------- the estimator against known values

def test_closed_form_gaussian_encoder():
    a = torch.tensor([[2., 0, 0], [0.5, 0.5, 0], [0., 0, 0]]); s2 = torch.tensor([0.5, 1., 1.])
    mu, lv, true = linear_gaussian_encoder(100_000, a, s2, seed=1)
    torch.testing.assert_close(true, torch.tensor([0.5*math.log(1 + 4/0.5), 0.5*math.log(1.5), 0.], dtype=torch.float64))
    assert (mi_indicator(mu, lv) - true).abs().max() < 0.01                   # stated tolerance: 0.01 nats at M = 100,000
    assert (mi_indicator(mu[:100], lv[:100]) - true).abs().max() > 0.01        # …which a small sample does not reach


def test_two_forms_agree_variance_form_and_qstar():
    torch.manual_seed(0)
    mu, lv = torch.randn(500, 6), torch.randn(500, 6)
    torch.testing.assert_close(mi_indicator(mu, lv), mi_indicator_by_kl(mu, lv))
    torch.testing.assert_close(mi_indicator(mu, var=lv.exp()), mi_indicator(mu, lv))
    torch.testing.assert_close(fit_qstar(mu, lv), (lv.double().exp() + mu.double()**2).mean(0))


@pytest.mark.parametrize('s,min_gap', [(0.1, 2.0), (0.5, 1.0)])
def test_upper_bound_on_a_mixture(s, min_gap):
    torch.manual_seed(0)
    x = torch.tensor([-3., 3.]).repeat(1000)[:, None]
    lv = torch.full_like(x, 2*math.log(s))
    est, mc = mi_indicator(x, lv).item(), kl_decomposition(x, lv, n_samples=4).mi[0]
    assert abs(mc - math.log(2)) < 0.02 and est > mc + min_gap


def test_invariances():
    torch.manual_seed(1)
    mu, lv = torch.randn(300, 5, dtype=torch.float64), torch.randn(300, 5, dtype=torch.float64)
    p = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(mi_indicator(mu[:, p], lv[:, p]), mi_indicator(mu, lv)[p])
    for c in (7., 0.01):                                                      # z → c z: μ → c μ, σ → c² σ
        torch.testing.assert_close(mi_indicator(c*mu, lv + 2*math.log(c)), mi_indicator(mu, lv))
    torch.testing.assert_close(mi_indicator(torch.cat([mu, mu]), torch.cat([lv, lv])), mi_indicator(mu, lv))   # duplicating the data


def test_streaming_matches_batch_and_vae_mi():
    torch.manual_seed(2)
    mu, lv = torch.randn(1000, 4), torch.randn(1000, 4)
    acc = MIAccumulator()
    for i in range(0, 1000, 97): acc.update(mu[i:i+97], lv[i:i+97])
    torch.testing.assert_close(acc.mi, mi_indicator(mu, lv))
    v = BetaVAE('mnist28', 8).eval(); x = torch.rand(50, 1, 28, 28)
    with torch.no_grad(): m, l = v.encode(x)
    torch.testing.assert_close(vae_mi(v, x, bs=16).mi, mi_indicator(m, l))
    torch.testing.assert_close(vae_mi(v, [(x[:20], x[:20]), (x[20:], x[20:])]).mi, mi_indicator(m, l))


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
    (dict(mu=np.zeros((2, 2)), logvar=torch.zeros(2, 2)), 'mu: expected a 2-D tensor'),
])
def test_bad_inputs(kw, msg):
    with pytest.raises(ValueError, match=msg): check_posteriors(**kw)
    with pytest.raises(ValueError, match=msg): mi_indicator(**kw)
    with pytest.raises(ValueError, match=msg): MIAccumulator().update(**kw)


def test_accumulator_errors():
    with pytest.raises(ValueError, match='no batches'): MIAccumulator().mi
    acc = MIAccumulator().update(torch.zeros(3, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match='earlier batches had 4'): acc.update(torch.zeros(3, 5), torch.zeros(3, 5))


def test_factor_indicators_columns_on_a_gaussian_encoder():
    a = torch.tensor([[1.5, 0], [0, 0]]); mu, lv, true = linear_gaussian_encoder(3000, a, torch.ones(2), seed=1)
    ind = factor_indicators(mu, lv, mc_samples=2)
    assert list(ind.columns) == ['mi', 'mi_mc', 'variance', 'activity', 'kl']
    np.testing.assert_allclose(ind.mi, true.numpy(), atol=0.05); np.testing.assert_allclose(ind.mi_mc, true.numpy(), atol=0.05)
    np.testing.assert_allclose(ind.activity, [2.25, 0], atol=0.15); np.testing.assert_allclose(ind.variance, [3.25, 1], atol=0.15)
    assert 'mi_mc' not in factor_indicators(mu, lv, mc_samples=0)


# ---------------------------------------------------------------- top-k factors

def test_n_kept_follows_the_authors_rule():
    assert [n_kept(k, 128) for k in (1, .5, .2, .1, .07, .05, .04, .03, .02, .01, 0)] == [128, 64, 26, 13, 9, 7, 6, 4, 3, 2, 0]
    for bad in (-0.1, 1.5, 7):
        with pytest.raises(ValueError, match='between 0 and 1'): n_kept(bad, 128)


def test_top_and_keep_factors():
    assert top_factors([0.1, 3., 0.5, 3., 2.], 0.4).tolist() == [1, 3]
    assert top_factors([0.1, 3., 0.5, 3., 2.], 0).tolist() == []
    with pytest.raises(ValueError, match='finite'): top_factors([1., float('nan')], 0.5)
    mu = torch.arange(8.).view(2, 4)
    torch.testing.assert_close(keep_factors(mu, [1, 3]), torch.tensor([[0., 1, 0, 3], [0, 5, 0, 7]]))
    assert (keep_factors(mu, []) == 0).all() and (mu != 0).sum() == 7      # a copy: `mu` itself is unchanged


def test_topk_reconstruction_extremes():
    torch.manual_seed(0)
    v = BetaVAE('mnist28', 8).eval(); x = torch.rand(20, 1, 28, 28)
    r = topk_reconstruction(v, x, {'a': np.arange(8.)}, np.ones(8), ks=(1, 0.5, 0))
    with torch.no_grad():
        full = ((v.decode(v.encode(x)[0]) - x)**2).flatten(1).sum(1).mean().item()
        none = ((v.decode(torch.zeros(20, 8)) - x)**2).flatten(1).sum(1).mean().item()
    assert r.factors.tolist() == [8, 4, 0] and r.I_used.tolist() == [8, 4, 0]
    np.testing.assert_allclose(r.sse.iloc[[0, 2]], [full, none], rtol=1e-5)


def test_topk_classification_finds_the_informative_factor():
    torch.manual_seed(0)
    z = {s: torch.randn(300, 6) for s in ('train', 'valid', 'test')}
    y = {s: (z[s][:, 2] > 0).long().numpy() for s in z}
    r = topk_classification(z, y, score=[0, 0, 1, 0, 0, 0], ks=(1, 1/6, 0), epochs=10)
    acc = r.set_index(['protocol', 'factors']).accuracy
    assert r.factors.tolist() == [6, 6, 1, 1, 0, 0]
    assert acc['retrained per k', 1] > 90 and acc['trained once', 1] > 80 and acc['retrained per k', 0] < 70


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
