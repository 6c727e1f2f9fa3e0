"""`drl-notes rnn` (chapter 04): a quick run in this process, its report folder and its progress lines.

Its bad input is in test_bad_input.py; the gradients, truncation, RTRL, LSTM/GRU and Kalman checks are in the
chapter's notebook, beside their derivations."""
import pandas as pd

from drl_notes.rnn_report import RNN_REPORT_FILES


def test_quick_rnn_run_writes_the_report(tmp_path, cli):
    out = tmp_path/'adding'
    code, stdout, err = cli('rnn', '--T', '10', '--cells', 'rnn', 'lstm_fb1', '--seeds', '0', '1', '--quick', '--out', out)
    assert code == 0, err
    assert [l.split(': ')[0] for l in stdout.splitlines()] == list(RNN_REPORT_FILES)
    res = pd.read_csv(out/'results.csv')
    assert len(res) == 4 and set(res.cell) == {'rnn', 'lstm_fb1'} and (res.epochs <= 3).all() and (res.test_mse > 0).all()
    assert 'QUICK smoke test, not a result' in (out/'table.md').read_text() and 'constant prediction' in (out/'table.md').read_text()
    assert (out/'curves.png').stat().st_size > 1000
    assert 'adding problem · T = 10 · rnn · seed 0' in err and '  epoch 1/3' in err
    code, _, err = cli('rnn', '--T', '10', '--cells', 'rnn', '--quick', '--out', out)
    assert code == 2 and 'already holds results.csv, table.md, curves.png; pass --overwrite' in err


def test_quiet_rnn_run_prints_no_progress(tmp_path, cli):
    code, stdout, err = cli('rnn', '--T', '8', '--cells', 'gru', '--quick', '--quiet', '--out', tmp_path/'q')
    assert code == 0 and err == '' and 'results.csv' in stdout
