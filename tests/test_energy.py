"""`drl-notes rbm` (chapter 05): a quick run in a subprocess, its report folder, its progress lines and --quiet.

Its bad input is in test_bad_input.py; the enumeration checks (conditionals, free energy, log Z, the BM and RBM
gradients, CD-k's expectation, AIS against the exact value, the DBN bound, the DBM's mean field) are in the chapter's
notebook, beside their derivations."""
import pandas as pd

from conftest import run_cli_subprocess as _drl_notes
from drl_notes.rbm_report import RBM_REPORT_FILES


def test_quick_rbm_run_writes_the_report(tmp_path):
    out = tmp_path/'rbm'
    r = _drl_notes('rbm', '--data', 'digits', '--method', 'pcd', '--hidden', '6', '--seeds', '0', '1', '--quick', '--out', out)
    assert r.returncode == 0, r.stderr
    assert [l.split(': ')[0] for l in r.stdout.splitlines()] == list(RBM_REPORT_FILES)
    res = pd.read_csv(out/'results.csv')
    assert list(res.seed) == [0, 1] and set(res.method) == {'PCD-1'} and (res.epochs <= 3).all()
    assert (res.test_ll < 0).all() and (abs(res.test_ll_ais - res.test_ll) < 1).all()     # exact and AIS agree roughly
    table = (out/'table.md').read_text()
    assert 'QUICK smoke test, not a result' in table and 'independent pixels (baseline)' in table
    assert all((out/f).stat().st_size > 1000 for f in ('filters.png', 'samples.png'))
    assert 'RBM · digits · PCD-1 · 6 hidden · seed 0' in r.stderr and '  epoch 1/3' in r.stderr
    again = _drl_notes('rbm', '--data', 'digits', '--quick', '--out', out)
    assert again.returncode == 2 and 'already holds results.csv, table.md, filters.png, samples.png; pass --overwrite' in again.stderr


def test_quiet_rbm_run_prints_no_progress(tmp_path, cli):
    code, stdout, err = cli('rbm', '--data', 'digits', '--hidden', '4', '--k', '2', '--quick', '--quiet', '--out', tmp_path/'q')
    assert code == 0 and err == '' and 'results.csv' in stdout
    assert set(pd.read_csv(tmp_path/'q'/'results.csv').method) == {'CD-2'}
