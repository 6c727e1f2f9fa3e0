"""The `drl-notes` command: help, one quick end-to-end run on the shipped Leaf River series, and a user CSV (bad input
of every kind is in test_bad_input.py).

Most calls run `drl_notes.cli.main` in this process (`run_cli` in conftest.py maps SystemExit to an exit code);
the installed console script is run as a real subprocess for the help texts and one data error."""
import shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ERR
from drl_notes.runoff import runoff_metrics
from drl_notes.runoff_data import load_series
from drl_notes.runoff_report import REPORT_FILES

EXE = Path(sys.executable).parent/'drl-notes'
needs_exe = pytest.mark.skipif(not EXE.exists(), reason=f'console script not installed next to the interpreter ({EXE})')

RUNOFF_OPTIONS = ['--series', '--csv', '--date-col', '--flow-col', '--comment', '--skip-rows', '--encoding', '--gaps', '--inputs', '--simulate',
                  '--train', '--valid', '--test', '--models', '--seeds', '--min-obs', '--hidden', '--layers', '--seq-len',
                  '--n-pred', '--stride', '--lr', '--bs', '--epochs', '--patience', '--quiet', '--out', '--overwrite', '--quick']
COLUMNS = ['model', 'seed', 'period', 'm', 's', 'MAX+', 'MAX-', 'r', 'NSE', 'KGE', 'RMSE', 'SS', 'lag', 'n', 'n_rel']


def sh(*args, timeout=120):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- help

def test_help(cli):
    code, out, _ = cli('--help')
    assert code == 0 and 'usage: drl-notes' in out and 'runoff' in out


def test_runoff_help_documents_every_option(cli):
    code, out, _ = cli('runoff', '--help')
    assert code == 0 and 'usage: drl-notes runoff' in out
    for opt in RUNOFF_OPTIONS: assert opt in out, opt
    for word in ('leaf', 'interpolate', 'DRL_NOTES_DATA', 'metrics.csv', 'predictions.csv', 'config.json', 'hydrograph.png'):
        assert word in out, word


def test_no_command_is_a_usage_error(cli):
    code, _, err = cli()
    assert code == 2 and 'usage: drl-notes' in err


@needs_exe
@pytest.mark.parametrize('args', [['--help'], ['runoff', '--help']], ids=['drl-notes --help', 'drl-notes runoff --help'])
def test_installed_script_help(args):
    r = sh(EXE, *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('usage: drl-notes')
    if args[0] == 'runoff':
        for opt in RUNOFF_OPTIONS: assert opt in r.stdout, opt


@needs_exe
def test_installed_script_data_error_exit_code(tmp_path):
    r = sh(EXE, 'runoff', '--csv', tmp_path/'nope.csv', '--out', tmp_path/'out')
    assert r.returncode == 2 and r.stdout == ''
    # the last line: importing fastai may print a third-party FutureWarning before it
    assert r.stderr.splitlines()[-1] == f'{ERR} {tmp_path/"nope.csv"}: no such file', r.stderr
    assert not (tmp_path/'out').exists()


def test_python_m_cli_help():
    r = sh(sys.executable, '-m', 'drl_notes.cli', '--help')
    assert r.returncode == 0 and r.stdout.startswith('usage: drl-notes')


# ---------------------------------------------------------------- one quick run on the shipped series

@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    "`drl-notes runoff --quick --models deep_lstm persistence --out TMP/leaf`, once for the module."
    from conftest import run_cli
    out = tmp_path_factory.mktemp('cli')/'leaf'
    args = ['runoff', '--quick', '--models', 'deep_lstm', 'persistence', '--out', out]
    code, stdout, err = run_cli(*args)
    assert code == 0, err
    return dict(out=out, args=args, stdout=stdout, stderr=err)


def test_quick_run_writes_the_report(quick_run):
    out = quick_run['out']
    for f in REPORT_FILES:
        assert (out/f).is_file() and (out/f).stat().st_size > 0, f
        assert f'{f}: {out/f}' in quick_run['stdout']
    for f in ('hydrograph.png', 'curves.png'): assert (out/f).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(out.glob('.*.tmp'))                      # atomic writes left no temporary files
    md = (out/'metrics.md').read_text()
    assert md.startswith('# Leaf River') and 'QUICK smoke test' in md
    assert 'train 1974-01-01…1983-12-31, valid 1984-01-01…1984-12-31, test 1985-01-01…1987-12-31' in md


def test_quick_run_metrics_csv(quick_run):
    df = pd.read_csv(quick_run['out']/'metrics.csv')
    assert list(df.columns) == COLUMNS
    assert set(df.model) == {'deep_lstm', 'persistence'} and set(df.seed) == {0}
    whole = df[df.period == 'whole test period'].set_index('model')
    assert sorted(whole.index) == ['deep_lstm', 'persistence']
    assert whole.loc['persistence', 'SS'] == 0 and whole.loc['persistence', 'lag'] == 1
    assert (whole.n == 1095).all() and (whole.n_rel == 1095).all()    # 1985 … 1987, every day has flow > 0
    assert whole.loc['deep_lstm', ['m', 's', 'NSE', 'KGE', 'RMSE']].notna().all()
    # persistence needs no training: its whole-period scores must equal yesterday's flow scored directly
    s = load_series('leaf')
    want = runoff_metrics(s['1985':'1987'].to_numpy(), s.shift(1)['1985':'1987'].to_numpy())
    for k in ('m', 's', 'MAX+', 'MAX-', 'r', 'NSE', 'KGE', 'RMSE'):
        assert whole.loc['persistence', k] == pytest.approx(want[k], rel=1e-9), k
    # flood-month rows come before the two summary rows, for each model
    assert list(df[df.model == 'persistence'].period)[-2:] == ['flood-month mean', 'whole test period']


def test_second_run_needs_overwrite(quick_run, tmp_path, cli):
    out = tmp_path/'leaf'
    shutil.copytree(quick_run['out'], out)
    args = [str(out) if a == quick_run['out'] else a for a in quick_run['args']]
    before = (out/'metrics.csv').read_bytes()
    code, stdout, err = cli(*args)
    assert code == 2 and stdout == ''
    assert err.startswith(ERR) and f'{out} already holds {", ".join(REPORT_FILES)}; pass --overwrite' in err
    assert '--overwrite' in err
    assert (out/'metrics.csv').read_bytes() == before              # nothing touched
    # with --overwrite it runs (persistence only, to stay quick) and replaces the table
    code, _, err = cli('runoff', '--models', 'persistence', '--out', out, '--overwrite')
    assert code == 0, err
    assert set(pd.read_csv(out/'metrics.csv').model) == {'persistence'}
    assert not (out/'curves.png').exists()                         # no stale file from the earlier run is left behind


def test_metrics_files_are_tidy(quick_run):
    df = pd.read_csv(quick_run['out']/'metrics.csv', dtype=str)
    assert df.n.str.fullmatch(r'\d+').all() and df.n_rel.str.fullmatch(r'\d+').all()   # day counts are integers
    rows = [l for l in (quick_run['out']/'metrics.md').read_text().splitlines() if l.startswith('|')]
    assert [c.strip() for c in rows[0].strip('|').split('|')] == ['model', 'period', 'seeds', 'm', 's', 'MAX+', 'MAX-', 'r', 'NSE', 'KGE', 'RMSE', 'SS', 'lag']
    assert any(r.startswith('| deep LSTM 2×128') for r in rows) and "('" not in ''.join(rows)


# ---------------------------------------------------------------- a user's CSV

@pytest.fixture
def leaf_slice_csv(leaf_frame, tmp_path):
    "Eight years (1978 … 1985) of the shipped Leaf River file as a user CSV with columns date, flow."
    df = leaf_frame[(leaf_frame.Date >= '1978-01-01') & (leaf_frame.Date <= '1985-12-31')]
    path = tmp_path/'leaf_slice.csv'
    df[['Date', 'Qo']].rename(columns={'Date': 'date', 'Qo': 'flow'}).to_csv(path, index=False)
    return path


def test_user_csv_with_automatic_periods(leaf_slice_csv, tmp_path, cli):
    out = tmp_path/'out'
    code, _, err = cli('runoff', '--csv', leaf_slice_csv, '--models', 'persistence', '--out', out)
    assert code == 0, err
    md = (out/'metrics.md').read_text()
    assert md.startswith('# leaf_slice.csv')
    assert 'train 1978-01-01…1981-12-31, valid 1982-01-01…1982-12-31, test 1983-01-01…1985-12-31' in md
    df = pd.read_csv(out/'metrics.csv')
    assert list(df.columns) == COLUMNS
    assert df.set_index('period').loc['whole test period', 'n'] == 1096           # 1983 … 1985 (1984 is a leap year)
    assert (out/'hydrograph.png').is_file() and not (out/'curves.png').exists()  # nothing was trained


def test_user_csv_with_own_columns_and_periods(leaf_frame, tmp_path, cli):
    path = tmp_path/'leaf.csv'
    leaf_frame.to_csv(path, index=False)                                            # columns Date, E0, P, Qo
    code, _, err = cli('runoff', '--csv', path, '--date-col', 'Date', '--flow-col', 'Qo', '--models', 'persistence',
                       '--train', '1960-01-01', '1969-12-31', '--valid', '1970-01-01', '1970-12-31',
                       '--test', '1971-01-01', '1972-12-31', '--out', tmp_path/'out')
    assert code == 0, err
    whole = pd.read_csv(tmp_path/'out'/'metrics.csv').set_index('period').loc['whole test period']
    assert whole.n == 731


def test_gaps_option(leaf_frame, tmp_path, cli):
    df = leaf_frame[(leaf_frame.Date >= '1978-01-01') & (leaf_frame.Date <= '1985-12-31')]
    df = df[~df.Date.isin(['1979-03-02', '1979-03-03'])]                            # a two-day gap
    path = tmp_path/'gappy.csv'
    df[['Date', 'Qo']].rename(columns={'Date': 'date', 'Qo': 'flow'}).to_csv(path, index=False)
    code, _, err = cli('runoff', '--csv', path, '--models', 'persistence', '--out', tmp_path/'a')
    assert code == 2 and err.startswith(ERR)
    assert '2 missing day(s) (missing dates or NaN), first 1979-03-02, longest gap 2 day(s)' in err
    code, _, err = cli('runoff', '--csv', path, '--models', 'persistence', '--out', tmp_path/'b', '--gaps', 'interpolate')
    assert code == 0, err


# ---------------------------------------------------------------- progress, the run folder, rainfall inputs

def test_quick_run_prints_progress_to_stderr(quick_run):
    err = quick_run['stderr'].splitlines()
    assert err[0] == 'leaf · deep LSTM 2×128 · seed 0' and err[1].startswith('  epoch 1/3  train_loss')
    assert 'leaf · persistence' in err and quick_run['stdout'].splitlines()[0].startswith('metrics.csv: ')


def test_quiet_prints_nothing_to_stderr(tmp_path, cli):
    code, stdout, err = cli('runoff', '--quick', '--models', 'deep_lstm', 'persistence', '--quiet', '--out', tmp_path/'out')
    assert code == 0 and err == '' and 'metrics.csv' in stdout


def test_quick_run_writes_predictions_and_config(quick_run):
    import json
    out = quick_run['out']
    pred = pd.read_csv(out/'predictions.csv', parse_dates=['date'], index_col='date')
    assert list(pred.columns) == ['observed', 'deep_lstm:0', 'persistence:0'] and len(pred) == 1095
    s = load_series('leaf')
    assert (pred['observed'] == s['1985':'1987']).all() and (pred['persistence:0'] == s.shift(1)['1985':'1987']).all()
    cfg = json.loads((out/'config.json').read_text())
    assert cfg['source']['series'] == 'leaf' and cfg['inputs'] == ['flow (day before)'] and cfg['quick'] is True
    assert cfg['periods']['train'] == ['1974-01-01', '1983-12-31'] and cfg['lstm']['lr'] == 1e-3
    assert cfg['windows'] == {'seq_len': 90, 'n_pred': 30, 'stride': 5} and cfg['drl_notes']


def test_rainfall_inputs_on_the_leaf_river(tmp_path, cli):
    import json
    out = tmp_path/'rain'
    code, _, err = cli('runoff', '--inputs', 'P', 'E0', '--models', 'ar', 'persistence', '--quiet', '--out', out)
    assert code == 0, err
    assert json.loads((out/'config.json').read_text())['inputs'] == ['flow (day before)', 'P', 'E0']
    whole = pd.read_csv(out/'metrics.csv').query("period == 'whole test period'").set_index('model')
    assert whole.loc['ar', 'SS'] > 0.3               # the ARX with rain beats persistence clearly
    assert 'P, E0' in (out/'metrics.md').read_text()


def test_training_settings_reach_the_run(tmp_path, cli):
    import json
    out = tmp_path/'out'
    code, _, err = cli('runoff', '--models', 'deep_lstm', '--hidden', '8', '--layers', '3', '--seq-len', '40', '--n-pred', '10',
                       '--stride', '20', '--lr', '0.01', '--bs', '16', '--epochs', '2', '--patience', '1', '--quiet', '--out', out)
    assert code == 0, err
    cfg = json.loads((out/'config.json').read_text())
    assert cfg['lstm'] == {'lr': 0.01, 'max_epochs': 2, 'patience': 1, 'bs': 16, 'n_hidden': 8, 'deep_layers': 3}
    assert cfg['windows'] == {'seq_len': 40, 'n_pred': 10, 'stride': 20}
    assert 1 <= cfg['chosen']['epochs_run']['deep_lstm:0'] <= 2


# ---------------------------------------------------------------- rivers that are not like the Leaf

def _leaf_csv(leaf_frame, path, edit=None, units_row=None):
    "Leaf River 1978 … 1985 as a user CSV with columns date, flow, P, E0; `edit(df)` may change it."
    df = leaf_frame[(leaf_frame.Date >= '1978-01-01') & (leaf_frame.Date <= '1985-12-31')]
    df = df.rename(columns={'Date': 'date', 'Qo': 'flow'})[['date', 'flow', 'P', 'E0']].reset_index(drop=True)
    if edit is not None: df = edit(df)
    text = df.to_csv(index=False)
    if units_row:
        head, rest = text.split('\n', 1)
        text = f'{head}\n{units_row}\n{rest}'
    path.write_text(text)
    return path


def test_zero_flow_days_leave_only_the_relative_errors(leaf_frame, tmp_path, cli):
    def dry(df):
        df = df.copy()
        df.loc[df.date.between('1985-08-01', '1985-08-20'), 'flow'] = '0'
        return df
    path = _leaf_csv(leaf_frame, tmp_path/'dry.csv', dry)
    code, _, err = cli('runoff', '--csv', path, '--models', 'ar', 'persistence', '--quiet', '--out', tmp_path/'out')
    assert code == 0, err
    whole = pd.read_csv(tmp_path/'out'/'metrics.csv').query("period == 'whole test period'").set_index('model')
    assert (whole.n == 1096).all() and (whole.n_rel == 1096 - 20).all()
    assert whole[['NSE', 'KGE', 'SS', 'm', 's']].notna().all().all()


def test_units_row_under_the_header(leaf_frame, tmp_path, cli):
    path = _leaf_csv(leaf_frame, tmp_path/'units.csv', units_row='#,mm/d,mm/d,mm/d')
    code, _, err = cli('runoff', '--csv', path, '--models', 'persistence', '--out', tmp_path/'a')
    assert code == 2 and "line 2: cannot read '#' as a date" in err and '--skip-rows 1' in err and "--comment '#'" in err
    for opt in (['--skip-rows', '1'], ['--comment', '#']):
        out = tmp_path/opt[0].strip('-')
        code, _, err = cli('runoff', '--csv', path, *opt, '--inputs', 'P', 'E0', '--models', 'ar', 'persistence', '--quiet', '--out', out)
        assert code == 0, err
        assert (out/'metrics.csv').is_file()

