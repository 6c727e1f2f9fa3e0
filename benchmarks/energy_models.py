#!/usr/bin/env python
"""What do chapter 05's exact log Z and CD-1 training cost? Two ratios, each measured in one run.

1. Exact log Z of an RBM on MNIST's 784 pixels: `RBM.log_z`, a log-sum-exp over all 2^H hidden states in batched
   chunks, against a Python loop over the same states (one free-energy term per state), at --hidden H (default 14:
   16,384 states). Both must agree to 1e-9; the loop's time is measured on --loop-states states and scaled.
2. CD-1 training throughput on binarised MNIST (t10k training split, 6,000 images): our RBM trained through a fastai
   Learner (`drl_notes.energy.train_energy_model`'s Learner, without early stopping) against scikit-learn's
   BernoulliRBM (its PCD-1: one Gibbs step per update, as CD-1) with the same hidden units, batch size, epochs and
   float32 images.
   Target: ours not slower (ratio ≥ 1).

Printed: both timings, both ratios with the target, and one JSON line with everything. Run from the repository root:
    python benchmarks/energy_models.py [--hidden 14] [--loop-states 2048] [--rbm-hidden 256] [--epochs 3] [--bs 100] [--threads 1]
"""
import argparse, io, json, math, sys, time, warnings
from contextlib import redirect_stdout
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
from _compare import check_positive, set_threads


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time chapter 05's batched exact log Z against a loop, and its CD-1 training against scikit-learn's BernoulliRBM.")
    p.add_argument('--hidden', type=int, default=14, help='hidden units of the log Z comparison (default 14: 2^14 states)')
    p.add_argument('--loop-states', type=int, default=2048, help='states the Python loop is timed on (default 2048)')
    p.add_argument('--rbm-hidden', type=int, default=256, help='hidden units of the training comparison (default 256, as E4 pretrains)')
    p.add_argument('--epochs', type=int, default=3, help='training epochs timed (default 3)')
    p.add_argument('--bs', type=int, default=100, help='batch size of both trainers (default 100)')
    p.add_argument('--n', type=int, default=0, help='training images (default 0: the whole t10k training split)')
    p.add_argument('--threads', type=int, default=1, help="CPU threads of PyTorch and of numpy's BLAS alike (default 1; 0 keeps the defaults)")
    a = p.parse_args(argv)
    check_positive(p, a, 'hidden', 'loop_states', 'rbm_hidden', 'epochs', 'bs')
    if a.hidden > 20: p.error('--hidden must be at most 20 (2^20 states)')
    if a.n < 0: p.error('--n must be 0 or more')
    return a


def main(argv=None):
    a = parse_args(argv)
    import numpy as np, torch
    import torch.nn.functional as F
    set_threads(a.threads)                       # both libraries get the same number of threads
    from drl_notes.energy import RBM, all_states, binary_images, _dls, _loss
    from drl_notes.core import seed_everything
    seed_everything(0)

    # 1. exact log Z: batched chunks vs a loop over states
    rbm = RBM(784, a.hidden, scale=0.05).double()
    with torch.no_grad():
        rbm.b.normal_(0, 0.1)
        rbm.c.normal_(0, 0.1)
    t = time.perf_counter()
    batched = float(rbm.log_z())
    t_batched = time.perf_counter() - t
    W, b, c = (x.detach() for x in (rbm.W, rbm.b, rbm.c))
    n_loop = min(a.loop_states, 2**a.hidden)
    t = time.perf_counter()
    terms = []
    for s in range(n_loop):
        h = all_states(a.hidden, s, s + 1)[0]
        terms.append(float(h @ c + F.softplus(b + W @ h).sum()))
    t_loop = (time.perf_counter() - t)*2**a.hidden/n_loop
    if n_loop == 2**a.hidden:
        err = abs(float(torch.logsumexp(torch.tensor(terms, dtype=torch.float64), 0)) - batched)
        if err > 1e-9: sys.exit(f'the loop and the batched log Z disagree by {err:.2e}')
    z_ratio = t_loop/t_batched
    print(f'exact log Z, {2**a.hidden:,} hidden states × 784 visible: batched {t_batched*1e3:.1f} ms; '
          f'loop {t_loop*1e3:.0f} ms ({"all" if n_loop == 2**a.hidden else f"{n_loop:,} timed, scaled"})')
    print(f'speed-up (loop / batched): {z_ratio:.0f}x')

    # 2. CD-1 throughput: fastai Learner vs scikit-learn
    from fastai.learner import Learner
    from fastai.optimizer import Adam
    from sklearn.neural_network import BernoulliRBM
    d = binary_images('mnist', a.n or None)
    x, xv = d['train'][0], d['valid'][0][:a.bs]
    ours = RBM(784, a.rbm_hidden, k=1)
    learn = Learner(_dls(x, xv, a.bs), ours, loss_func=_loss, opt_func=partial(Adam, sqr_mom=0.999, eps=1e-8, wd=0.))
    ours.log_z_value = None                      # validation: reconstruction error of one batch (no log Z)
    with learn.no_bar(), learn.no_logging(), redirect_stdout(io.StringIO()):
        t = time.perf_counter()
        learn.fit(a.epochs, 1e-3)
        t_ours = time.perf_counter() - t
    n_imgs = (len(x)//a.bs)*a.bs*a.epochs        # fastai drops the last partial batch
    plain = RBM(784, a.rbm_hidden, k=1)          # the same forward and optimiser in a bare PyTorch loop
    opt = torch.optim.Adam(plain.parameters(), 1e-3, betas=(0.9, 0.999), eps=1e-8)
    t = time.perf_counter()
    for _ in range(a.epochs):
        for i in torch.randperm(len(x))[:(len(x)//a.bs)*a.bs].view(-1, a.bs):
            loss = plain(x[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    t_plain = time.perf_counter() - t
    sk = BernoulliRBM(n_components=a.rbm_hidden, batch_size=a.bs, n_iter=a.epochs, learning_rate=0.1, random_state=0)
    xn = x.numpy()                               # the same float32 images
    t = time.perf_counter()
    sk.fit(xn)
    t_sk = time.perf_counter() - t
    ratio = (n_imgs/t_ours)/(len(x)*a.epochs/t_sk)
    print(f'fastai Learner, CD-1 : {n_imgs/t_ours:,.0f} images/s ({a.rbm_hidden} hidden, batch {a.bs}, {a.epochs} epochs)')
    print(f'plain PyTorch, CD-1  : {n_imgs/t_plain:,.0f} images/s (the same RBM.forward and Adam, no Learner)')
    print(f'scikit-learn, PCD-1  : {len(x)*a.epochs/t_sk:,.0f} images/s')
    print(f'ratio (ours / scikit-learn): {ratio:.2f} -> {"meets" if ratio >= 1 else "MISSES"} the target (>= 1: not slower)')
    print(json.dumps(dict(hidden=a.hidden, states=2**a.hidden, batched_s=t_batched, loop_s=t_loop, logz_speedup=z_ratio,
                          rbm_hidden=a.rbm_hidden, epochs=a.epochs, bs=a.bs, images=len(x), ours_images_per_s=n_imgs/t_ours,
                          sklearn_images_per_s=len(x)*a.epochs/t_sk, plain_images_per_s=n_imgs/t_plain, ratio=ratio, threads=a.threads)))


if __name__ == '__main__': main()
