"""`drl-notes gan` (chapter 07): a quick run in a subprocess, its report folder, its progress lines and --quiet.

Its bad input is in test_bad_input.py; the checks of the chapter's mathematics (D* against a trained discriminator,
C(G) = −log 4 + 2 JSD, the saturating gradient, InfoGAN's ½, W₁ three ways) are in the chapter's notebook, beside their
derivations."""
import pandas as pd

from conftest import run_cli_subprocess as _drl_notes
from drl_notes.gan_report import GAN_REPORT_FILES


def test_quick_ring_run_writes_the_report(tmp_path):
    out = tmp_path/'ring'
    r = _drl_notes('gan', '--data', 'ring', '--loss', 'wgan-gp', '--seeds', '0', '1', '--quick', '--out', out)
    assert r.returncode == 0, r.stderr
    assert [l.split(': ')[0] for l in r.stdout.splitlines()] == list(GAN_REPORT_FILES)
    res = pd.read_csv(out/'results.csv')
    assert list(res.seed) == [0, 1] and (res.g_steps == 100).all() and res.modes.between(0, 8).all() and res.hq.between(0, 1).all()
    hist = pd.read_csv(out/'history.csv')
    assert set(hist.seed) == {0, 1} and (hist.groupby('seed').epoch.max() == res.set_index('seed').epochs).all()
    table = (out/'table.md').read_text()
    assert 'QUICK smoke test, not a result' in table and 'one Gaussian fitted to the data (baseline)' in table
    assert (out/'samples.png').stat().st_size > 1000
    assert 'GAN · ring · wgan-gp · seed 0' in r.stderr and '  epoch ' in r.stderr
    again = _drl_notes('gan', '--quick', '--out', out)
    assert again.returncode == 2 and 'already holds results.csv, table.md, history.csv, samples.png; pass --overwrite' in again.stderr


def test_quiet_dcgan_run_prints_no_progress(tmp_path, cli):
    code, stdout, err = cli('gan', '--data', 'mnist', '--arch', 'dcgan', '--quick', '--quiet', '--out', tmp_path/'q')
    assert code == 0 and err == '' and 'results.csv' in stdout
    res = pd.read_csv(tmp_path/'q'/'results.csv')
    assert list(res.model) == ['DCGAN'] and (res.epochs <= 2).all() and res.fd.gt(0).all()
    assert 'Gaussian in 32 principal components (baseline)' in (tmp_path/'q'/'table.md').read_text()
