"""Execute the chapter notebooks top to bottom at full size and save their outputs in place (the committed docs outputs).

    python tools/run_notebooks.py                   # every notebook in nbs/
    python tools/run_notebooks.py 00_lstm_runoff    # only those whose name starts with one of the arguments

Needs $DRL_NOTES_DATA (the data directory, e.g. ../shared/data). Runs nbdev-clean afterwards.
"""
import os, subprocess, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

def main(prefixes):
    root = Path(__file__).resolve().parents[1]
    if not os.environ.get('DRL_NOTES_DATA'):
        shared = root.parent/'shared'/'data'
        if not shared.is_dir(): sys.exit('set $DRL_NOTES_DATA to the data directory (e.g. ../shared/data)')
        os.environ['DRL_NOTES_DATA'] = str(shared)
    os.environ['DRL_NOTES_QUICK'] = '0'      # full size, even if a caller exported the quick switch
    os.environ.pop('IN_TEST', None)
    nbs = sorted(p for p in (root/'nbs').glob('*.ipynb') if not prefixes or p.name.startswith(tuple(prefixes)))
    if not nbs: sys.exit(f'no notebook in nbs/ starts with {prefixes}')
    for p in nbs:
        t = time.time(); print(f'running {p.name} …', flush=True)
        nb = nbformat.read(p, as_version=4)
        def progress(cell, cell_index, **kw):
            if cell.cell_type == 'code': print(f'  cell {cell_index:3d}/{len(nb.cells)} done at {time.time()-t:6.0f} s', flush=True)
        try: NotebookClient(nb, timeout=None, kernel_name='python3', resources={'metadata': {'path': str(p.parent)}},
                            on_cell_executed=progress).execute()
        except Exception:
            failed = Path('/tmp' if os.access('/tmp', os.W_OK) else root)/f'{p.stem}.failed.ipynb'
            nbformat.write(nb, failed)
            print(f'  FAILED after {time.time()-t:.0f} s; the partial run is in {failed}; {p.name} is unchanged', flush=True)
            raise
        tmp = p.with_name(f'.{p.name}.tmp'); nbformat.write(nb, tmp); os.replace(tmp, p)
        print(f'  done in {time.time()-t:.0f} s', flush=True)
    clean = Path(sys.executable).parent/'nbdev-clean'        # the venv's, whether or not the venv is activated
    subprocess.run([str(clean) if clean.exists() else 'nbdev-clean'], cwd=root, check=True)

if __name__ == '__main__': main(sys.argv[1:])
