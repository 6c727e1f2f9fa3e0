"""Smoke test of benchmarks/runoff_learner_overhead.py with tiny settings (not a timing test)."""
import json, re, subprocess, sys

from conftest import REPO

SCRIPT = REPO/'benchmarks'/'runoff_learner_overhead.py'


def test_benchmark_script_runs_and_prints_the_ratio():
    r = subprocess.run([sys.executable, str(SCRIPT), '--epochs', '1', '--reps', '1', '--hidden', '8'],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = re.search(r'^ratio \(Learner / plain\): (\S+)$', r.stdout, re.M)
    assert m, r.stdout
    ratio = float(m.group(1))
    assert ratio > 0
    assert re.search(r'^fastai Learner: .* windows/s$', r.stdout, re.M) and re.search(r'^plain PyTorch : .* windows/s$', r.stdout, re.M)
    assert re.search(r'^overhead: [+-]\d+\.\d % -> (meets|MISSES) the target \(overhead <= 15 %\)$', r.stdout, re.M)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary['hidden'] == 8 and summary['epochs'] == 1 and summary['reps'] == 1
    assert abs(summary['ratio'] - ratio) < 1e-3 and summary['windows_per_epoch'] > 0


def test_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(SCRIPT), '--epochs', '0'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--epochs must be at least 1' in r.stderr


VAE_SCRIPT = REPO/'benchmarks'/'vae_learner_overhead.py'


def test_vae_benchmark_script_runs_and_prints_the_ratio():
    r = subprocess.run([sys.executable, str(VAE_SCRIPT), '--epochs', '1', '--reps', '1', '--latent', '4', '--n', '500'],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = re.search(r'^ratio \(Learner / plain\): (\S+)$', r.stdout, re.M)
    assert m and float(m.group(1)) > 0, r.stdout
    assert re.search(r'^fastai Learner: .* images/s$', r.stdout, re.M) and re.search(r'^plain PyTorch : .* images/s$', r.stdout, re.M)
    assert re.search(r'^overhead: [+-]\d+\.\d % -> (meets|MISSES) the target \(overhead <= 15 %\)$', r.stdout, re.M)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary['latent'] == 4 and summary['metrics'] is True and summary['images_per_epoch'] == 300 + 100


def test_vae_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(VAE_SCRIPT), '--latent', '0'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--latent must be at least 1' in r.stderr


EEG_SCRIPT = REPO/'benchmarks'/'eeg_preprocessing.py'


def test_eeg_preprocessing_benchmark_runs_and_prints_its_figures():
    r = subprocess.run([sys.executable, str(EEG_SCRIPT), '--frames', '2000', '--griddata-frames', '20', '--matmul', '256',
                        '--subjects', '2', '--trials', '10', '--reps', '1'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    m = re.search(r'^speed-up: (\d+)x -> (meets|MISSES) the target \(>= 200x\)', out, re.M)
    assert m and int(m.group(1)) > 0, out
    assert re.search(r'^griddata : \S+ ms per frame \(20 frames\)$', out, re.M) and re.search(r'^operator : \S+ µs per frame \(2000 frames', out, re.M)
    assert re.search(r'^max \|operator - griddata\| / max \|values\|: \S+ -> meets the target \(<= 1e-06\)$', out, re.M)   # accuracy must hold
    assert re.search(r'^operator: \S+ GFLOP/s .* = \d+ % of numpy\'s dense matmul$', out, re.M)
    assert re.search(r'^total: \S+ s -> (meets|MISSES) the target \(< 60 s\)$', out, re.M) and re.search(r'^peak memory: ', out, re.M)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary['frames'] == 2000 and summary['e2e_subjects'] == 2 and summary['e2e_frames_shape'] == [20, 63, 3, 32, 32]
    assert summary['meets_diff'] and 0 < summary['max_rel_diff'] <= 1e-6 and summary['speedup'] > 0


def test_eeg_preprocessing_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(EEG_SCRIPT), '--frames', '10', '--griddata-frames', '20'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--griddata-frames must not exceed --frames' in r.stderr
    r = subprocess.run([sys.executable, str(EEG_SCRIPT), '--subjects', '0'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--subjects must be at least 1' in r.stderr


RNN_SCRIPT = REPO/'benchmarks'/'rnn_gradients.py'


def test_rnn_gradient_benchmark_runs_and_prints_the_exponents():
    r = subprocess.run([sys.executable, str(RNN_SCRIPT), '--ns', '4', '8', '--T', '5', '--Ts', '5', '10', '--n', '4', '--reps', '1'],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'seconds per gradient, T = 5:' in r.stdout and 'growth exponents (time ∝ size^e): bptt vs n' in r.stdout
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(summary['exponents']) == {f'{k} vs {s}' for k in ('bptt', 'autograd', 'rtrl') for s in 'nT'}
    assert [row['n'] for row in summary['by_n']] == [4, 8] and all(row['rtrl_s'] > 0 for row in summary['by_T'])


def test_rnn_gradient_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(RNN_SCRIPT), '--ns', '8'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--ns and --Ts need at least two values each' in r.stderr


ENERGY_SCRIPT = REPO/'benchmarks'/'energy_models.py'


def test_energy_benchmark_runs_and_prints_both_ratios():
    r = subprocess.run([sys.executable, str(ENERGY_SCRIPT), '--hidden', '8', '--loop-states', '256', '--rbm-hidden', '8',
                        '--epochs', '1', '--n', '1000'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r'^speed-up \(loop / batched\): \d+x$', r.stdout, re.M), r.stdout
    m = re.search(r'^ratio \(ours / scikit-learn\): (\S+) -> (meets|MISSES) the target \(>= 1: not slower\)$', r.stdout, re.M)
    assert m and float(m.group(1)) > 0, r.stdout
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary['states'] == 256 and summary['rbm_hidden'] == 8 and summary['images'] == 1000
    assert re.search(r'^plain PyTorch, CD-1  : \S+ images/s', r.stdout, re.M) and summary['plain_images_per_s'] > 0


def test_energy_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(ENERGY_SCRIPT), '--hidden', '30'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--hidden must be at most 20' in r.stderr


AE_SCRIPT = REPO/'benchmarks'/'autoencoders.py'


def test_autoencoder_benchmark_runs_and_prints_the_ratio():
    r = subprocess.run([sys.executable, str(AE_SCRIPT), '--k', '2', '--tol', '0.5', '--lr', '1e-2', '--n', '500', '--max-epochs', '50'],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r'^ratio \(autoencoder / PCA, PCA the anchor\): \d+x$', r.stdout, re.M), r.stdout
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary['reached'] and summary['images'] == 500 and summary['ae_error'] <= 1.5*summary['pca_error']


def test_autoencoder_benchmark_rejects_bad_arguments():
    r = subprocess.run([sys.executable, str(AE_SCRIPT), '--tol', '1.5'], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and '--tol must lie in (0, 1)' in r.stderr
