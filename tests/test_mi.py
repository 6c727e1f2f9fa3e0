"""Chapter 02 (`drl_notes.mi`): the MI indicator against closed-form mutual information, the upper-bound property,
invariances, streaming, and bad input."""
import math

import pytest
import torch

from drl_notes.mi import MIAccumulator, check_posteriors, fit_qstar, linear_gaussian_encoder, mi_indicator, mi_indicator_by_kl, vae_mi
from drl_notes.vae import BetaVAE, kl_decomposition


def test_closed_form_gaussian_encoder():
    a = torch.tensor([[2., 0, 0], [0.5, 0.5, 0], [0., 0, 0]]); s2 = torch.tensor([0.5, 1., 1.])
    mu, lv, true = linear_gaussian_encoder(100_000, a, s2, seed=1)
    torch.testing.assert_close(true, torch.tensor([0.5*math.log(1 + 4/0.5), 0.5*math.log(1.5), 0.], dtype=torch.float64))
    assert (mi_indicator(mu, lv) - true).abs().max() < 0.01                   # stated tolerance: 0.01 nats at M = 100,000


def test_two_forms_agree_and_qstar():
    torch.manual_seed(0)
    mu, lv = torch.randn(500, 6), torch.randn(500, 6)
    torch.testing.assert_close(mi_indicator(mu, lv), mi_indicator_by_kl(mu, lv))
    torch.testing.assert_close(fit_qstar(mu, lv), (lv.double().exp() + mu.double()**2).mean(0))


def test_upper_bound_on_a_mixture():
    torch.manual_seed(0)
    x = torch.tensor([-3., 3.]).repeat(1000)[:, None]
    lv = torch.full_like(x, 2*math.log(0.3))
    est, mc = mi_indicator(x, lv).item(), kl_decomposition(x, lv, n_samples=4).mi[0]
    assert abs(mc - math.log(2)) < 0.02 and est > mc + 1


def test_invariances():
    torch.manual_seed(1)
    mu, lv = torch.randn(300, 5, dtype=torch.float64), torch.randn(300, 5, dtype=torch.float64)
    p = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(mi_indicator(mu[:, p], lv[:, p]), mi_indicator(mu, lv)[p])
    torch.testing.assert_close(mi_indicator(7*mu, lv + 2*math.log(7)), mi_indicator(mu, lv))


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


@pytest.mark.parametrize('mu,lv,msg', [
    (torch.zeros(3, 2), torch.zeros(3, 3), r'mu has shape \(3, 2\) but logvar has \(3, 3\)'),
    (torch.zeros(3), torch.zeros(3), 'mu: expected a 2-D tensor'),
    (torch.zeros(3, 2), torch.tensor([[0., float('nan')]] * 3), 'logvar: 3 value'),
    (torch.tensor([[float('inf'), 0.]]), torch.zeros(1, 2), 'mu: 1 value'),
    (torch.zeros(0, 2), torch.zeros(0, 2), 'no data points'),
])
def test_bad_inputs(mu, lv, msg):
    with pytest.raises(ValueError, match=msg): check_posteriors(mu, lv)
    with pytest.raises(ValueError, match=msg): mi_indicator(mu, lv)
    with pytest.raises(ValueError, match='no batches'): MIAccumulator().mi
