"""`drl-notes ae` (chapter 06): a quick run in a subprocess, its report folder, its progress lines and --quiet.

Its bad input is in test_bad_input.py; the checks of the chapter's mathematics (PCA's error, 002's corrected δ against
autograd, Tweedie's formula, 003's worked convolution, the pooling backward pass) are in the chapter's notebook,
beside their derivations."""
import pandas as pd

from conftest import run_cli_subprocess as _drl_notes
from drl_notes.ae_report import AE_REPORT_FILES


def test_quick_ae_run_writes_the_report(tmp_path):
    out = tmp_path/'ae'
    r = _drl_notes('ae', '--data', 'digits', '--kind', 'denoising', '--corruption', 'salt_pepper', '--level', '0.1', '--k', '4',
                   '--seeds', '0', '1', '--quick', '--out', out)
    assert r.returncode == 0, r.stderr
    assert [l.split(': ')[0] for l in r.stdout.splitlines()] == list(AE_REPORT_FILES)
    res = pd.read_csv(out/'results.csv')
    assert list(res.seed) == [0, 1] and (res.epochs <= 3).all() and (res.test_sse > 0).all() and (res.knn > 0.1).all()
    table = (out/'table.md').read_text()
    assert 'QUICK smoke test, not a result' in table and 'PCA, 4 components (baseline)' in table
    assert 'corruption salt_pepper 0.1' in table
    assert all((out/f).stat().st_size > 1000 for f in ('reconstructions.png', 'codes.png'))
    assert 'AE · digits · denoising · k = 4 · seed 0' in r.stderr and '  epoch 1/3' in r.stderr
    again = _drl_notes('ae', '--data', 'digits', '--quick', '--out', out)
    assert again.returncode == 2 and 'already holds results.csv, table.md, reconstructions.png, codes.png; pass --overwrite' in again.stderr


def test_quiet_conv_ae_run_prints_no_progress(tmp_path, cli):
    code, stdout, err = cli('ae', '--data', 'mnist', '--kind', 'conv', '--k', '8', '--quick', '--quiet', '--out', tmp_path/'q')
    assert code == 0 and err == '' and 'results.csv' in stdout
    assert len(pd.read_csv(tmp_path/'q'/'results.csv')) == 1
