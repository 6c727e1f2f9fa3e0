#!/usr/bin/env python
"""What does it cost to find PCA's subspace by gradient descent? One ratio, measured in one run.

Chapter 06, section 1: a linear autoencoder trained with squared error reaches PCA's reconstruction error. Here, on
MNIST's t10k training split (6,000 images), `sklearn.decomposition.PCA` is fitted at --k components (the anchor),
and chapter 06's linear autoencoder is trained through a fastai Learner (`drl_notes.autoencoders.train_ae`'s
settings: Adam, batch --bs, learning rate --lr) one epoch at a time until its training error is within --tol
(default 1 %) of PCA's; only the training epochs are timed. Both libraries get the same number of threads.
Printed: both times, the epochs, the ratio (autoencoder / PCA; PCA is the anchor, so the ratio is the price of
gradient descent), and one JSON line with everything. Run from the repository root:
    python benchmarks/autoencoders.py [--k 10] [--tol 0.01] [--lr 1e-3] [--bs 100] [--max-epochs 500] [--n 0] [--threads 1]
"""
import argparse, io, json, sys, time, warnings
from contextlib import redirect_stdout
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # use this checkout's drl_notes
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')
from _compare import check_positive, set_threads


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Time chapter 06's linear autoencoder reaching PCA's error against scikit-learn's PCA.")
    p.add_argument('--k', type=int, default=10, help='code size and PCA components (default 10)')
    p.add_argument('--tol', type=float, default=0.01, help="relative distance to PCA's training error that counts as reached (default 0.01)")
    p.add_argument('--lr', type=float, default=1e-3, help='Adam learning rate (default 1e-3, as the chapter)')
    p.add_argument('--bs', type=int, default=100, help='batch size (default 100, as the chapter)')
    p.add_argument('--max-epochs', type=int, default=500, help='give up after this many epochs (default 500)')
    p.add_argument('--n', type=int, default=0, help='training images (default 0: the whole t10k training split)')
    p.add_argument('--threads', type=int, default=1, help="CPU threads of PyTorch and of numpy's BLAS alike (default 1; 0 keeps the defaults)")
    a = p.parse_args(argv)
    check_positive(p, a, 'k', 'bs', 'max_epochs')
    if not 0 < a.tol < 1: p.error('--tol must lie in (0, 1)')
    if not a.lr > 0: p.error('--lr must be positive')
    if a.n < 0: p.error('--n must be 0 or more')
    return a


def main(argv=None):
    a = parse_args(argv)
    import numpy as np, torch
    set_threads(a.threads)                       # both libraries get the same number of threads
    from fastai.learner import Learner
    from fastai.optimizer import Adam
    from sklearn.decomposition import PCA
    from drl_notes.autoencoders import mlp_ae, mnist_gray, sse
    from drl_notes.core import seed_everything, tensor_dls
    seed_everything(0)
    d = mnist_gray(a.n or None)
    x, xv = d['train'][0], d['valid'][0]
    xn = x.numpy()
    t = time.perf_counter()
    pca = PCA(a.k).fit(xn)
    t_pca = time.perf_counter() - t
    pca_err = float(((xn - pca.inverse_transform(pca.transform(xn)))**2).sum(1).mean())
    ae = mlp_ae(x.shape[1], a.k)
    learn = Learner(tensor_dls((x, x), (xv, xv), a.bs), ae, loss_func=sse, opt_func=partial(Adam, sqr_mom=0.999, eps=1e-8, wd=0.))
    t_ae, epochs, err = 0., 0, float('inf')
    with learn.no_bar(), learn.no_logging(), redirect_stdout(io.StringIO()):
        while epochs < a.max_epochs and err > (1 + a.tol)*pca_err:
            t = time.perf_counter()
            learn.fit(1, a.lr)                   # the optimiser's state carries over from one call to the next
            t_ae += time.perf_counter() - t
            epochs += 1
            with torch.no_grad(): err = float(sse(ae(x), x))
    reached = err <= (1 + a.tol)*pca_err
    ratio = t_ae/t_pca
    print(f"scikit-learn PCA, {a.k} components, {len(x):,} images × {x.shape[1]}: {t_pca*1e3:.1f} ms; training error {pca_err:.4f}")
    print(f"linear autoencoder (fastai Learner): {t_ae:.2f} s over {epochs} epochs to training error {err:.4f} "
          f"({err/pca_err - 1:+.2%} from PCA's; {'reached' if reached else 'NOT reached'} the {a.tol:.0%} tolerance)")
    print(f'ratio (autoencoder / PCA, PCA the anchor): {ratio:.0f}x')
    print(json.dumps(dict(k=a.k, tol=a.tol, images=len(x), pca_s=t_pca, pca_error=pca_err, ae_s=t_ae, ae_epochs=epochs,
                          ae_error=err, reached=reached, ratio=ratio, lr=a.lr, bs=a.bs, threads=a.threads)))
    if not reached: sys.exit(f'the autoencoder did not reach {a.tol:.0%} of PCA\'s error within {a.max_epochs} epochs')


if __name__ == '__main__': main()
