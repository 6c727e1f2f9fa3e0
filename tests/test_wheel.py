"""The package as a user gets it: `pip wheel .` builds a wheel that, installed in a fresh virtual environment, runs
`drl-notes runoff --quick` from outside the repository on the series shipped inside the wheel.

The fresh environment installs only the wheel (`--no-deps`); its dependencies (torch, fastai, …, several GB) are
borrowed from the test environment through a `.pth` path line, which adds their folder but runs none of its `.pth`
files — so the editable install of this checkout is not visible there, and `drl_notes` must come from the wheel."""
import shutil, subprocess, sys, sysconfig, zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args, cwd=None, timeout=600):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert r.returncode == 0, f'{args}\n{r.stdout}\n{r.stderr}'
    return r


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    src, dist = tmp_path/'src', tmp_path/'dist'               # build from a copy: setuptools writes build/ beside the sources
    shutil.copytree(REPO/'drl_notes', src/'drl_notes', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('pyproject.toml', 'README.md', 'LICENSE'): shutil.copy(REPO/f, src/f)
    run(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', dist, src)
    wheel, = dist.glob('drl_notes-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    for f in ('drl_notes/runoff.py', 'drl_notes/runoff_data.py', 'drl_notes/data/holmes_hydro/Leaf_Observations.csv',
              'drl_notes/data/holmes_hydro/LICENSE'):
        assert f in names, f
    assert any(n.endswith('licenses/LICENSE') for n in names), 'the Apache-2.0 licence travels in the wheel'
    venv = tmp_path/'venv'
    run(sys.executable, '-m', 'venv', venv)
    py = venv/'bin'/'python'
    site = Path(run(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    (site/'borrowed_dependencies.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    run(py, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', wheel)
    where = run(py, '-c', 'import drl_notes; print(drl_notes.__file__)', cwd=tmp_path).stdout.strip()
    assert where.startswith(str(site)), where                       # the wheel's copy, not this checkout
    out = tmp_path/'leaf'
    r = run(venv/'bin'/'drl-notes', 'runoff', '--quick', '--models', 'deep_lstm', 'persistence', '--quiet', '--out', out, cwd=tmp_path)
    assert (out/'metrics.csv').is_file() and (out/'config.json').is_file() and 'metrics.csv' in r.stdout
