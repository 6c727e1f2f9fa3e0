#!/usr/bin/env python
"""Render the committed, executed notebooks to a self-contained static HTML site that works offline.

    python tools/render_docs.py                    # nbs/ -> _offline_docs/
    python tools/render_docs.py --nbs X --out Y    # another notebook tree / output folder

Then open `_offline_docs/index.html` in a browser: no page loads anything from the network.

How it works (no Quarto needed):
1. The page order comes from `nbs/sidebar.yml` (the same file the Quarto site uses); every
   notebook it lists must exist. Notebooks in `nbs/` that it does not list are rendered too
   (as Quarto would) but get no navigation entry.
2. Each notebook is processed with nbdev's own docs processors (`nbdev.processors.FilterDefaults`,
   what `nbdev-docs` / `nbdev-proc-nbs` use): `#| hide` and `#| export` cells are dropped,
   exported functions and classes get their `show_doc` documentation, `#| exports` cells are shown
   without directives, etc. Like nbdev, this *executes* exported cells, import cells and `show_doc`
   cells (never the rest: committed outputs are used as they are). `--no-exec` skips that
   (then no `show_doc` documentation).
3. The Quarto-only syntax nbdev leaves is turned into what nbconvert can show: frontmatter becomes
   the page title and description, `#| echo: false` / `output: false` / `include: false` /
   `code-fold` / `fig-cap` cell options are applied, `::: {.callout-*}` blocks become boxes,
   `{#id}` heading attributes become anchors, links to `*.ipynb` point to the rendered pages.
4. nbconvert's HTMLExporter renders each page with `tools/docs/templates/offline` (JupyterLab
   template minus its CDN scripts), PNG figures are embedded as base64, local images referenced from
   markdown are inlined, and math is typeset by a local MathJax 3 (`tools/docs/package.json`,
   installed with `npm ci --prefix tools/docs` when missing) copied to `<out>/mathjax/`.
5. Every produced page is checked: any script/stylesheet/image/frame source that is a remote URL
   is an error.
"""
from __future__ import annotations

import argparse, base64, html, mimetypes, os, re, shutil, subprocess, sys, warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TOOLS = Path(__file__).resolve().parent
DOCS_TOOLS = TOOLS / 'docs'
TEMPLATES = DOCS_TOOLS / 'templates'
TEMPLATE_NAME = 'offline'
SITE_CSS = DOCS_TOOLS / 'offline.css'
MATHJAX_PKG = DOCS_TOOLS / 'node_modules' / 'mathjax'
# Parts of mathjax/es5 the pages need: the combined TeX->CommonHTML component, its fonts, and the
# components its menu / accessibility features load on demand.
MATHJAX_PARTS = ['tex-chtml-full.js', 'output/chtml.js', 'output/chtml', 'input', 'ui', 'a11y', 'adaptors', 'sre']
MARKER = '.offline_docs'  # marks an output folder this script made (and so may delete)


class DocsError(Exception):
    "A problem the user has to fix; reported without a traceback."


def log(*a): print('[render_docs]', *a, flush=True)


# ----------------------------------------------------------------------------------------- config
def find_config_root(nbs: Path) -> Path:
    "The project root above `nbs`: the folder whose pyproject.toml has a [tool.nbdev] table (or settings.ini)."
    for d in [nbs, *nbs.parents]:
        pp = d / 'pyproject.toml'
        if pp.exists() and re.search(r'^\[tool\.nbdev\]', pp.read_text(encoding='utf-8'), re.M): return d
        if (d / 'settings.ini').exists(): return d
    raise DocsError(f'no nbdev project (pyproject.toml with [tool.nbdev]) found at or above {nbs}')


def load_yaml(p: Path) -> dict:
    if not p.exists(): return {}
    try: return yaml.safe_load(p.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as e: raise DocsError(f'{p} is not valid YAML: {e}')


def site_settings(nbs: Path) -> dict:
    "Site title, url, repo url, description from _quarto.yml and nbdev.yml (nbdev.yml wins, as in Quarto's merge)."
    res = {}
    for name in ('_quarto.yml', 'nbdev.yml'):
        ws = (load_yaml(nbs / name).get('website') or {})
        for k in ('title', 'site-url', 'repo-url', 'description'):
            if ws.get(k): res[k] = str(ws[k])
    res.setdefault('title', nbs.resolve().parent.name)
    return res


# ---------------------------------------------------------------------------------------- sidebar
@dataclass
class Page:
    src: str                 # notebook path relative to nbs, posix
    text: str | None = None  # link text from sidebar.yml (else the page title)


@dataclass
class Section:
    title: str
    items: list = field(default_factory=list)
    href: str | None = None


def _parse_entries(entries, where) -> list:
    res = []
    for e in entries or []:
        if isinstance(e, str):
            if e == 'auto' or '*' in e:
                raise DocsError(f'{where}: "{e}": automatic/glob sidebar entries are not supported; list the notebooks')
            res.append(Page(e))
        elif isinstance(e, dict) and 'section' in e:
            res.append(Section(str(e['section']), _parse_entries(e.get('contents'), where), e.get('href')))
        elif isinstance(e, dict) and (e.get('href') or e.get('file')):
            res.append(Page(str(e.get('href') or e.get('file')), e.get('text')))
        elif isinstance(e, dict) and 'text' in e and len(e) == 1: continue  # a plain label: nothing to render
        else: raise DocsError(f'{where}: cannot understand sidebar entry {e!r}')
    return res


def read_sidebar(nbs: Path) -> list:
    p = nbs / 'sidebar.yml'
    if not p.exists(): raise DocsError(f'{p} not found: it defines the page order of the docs')
    sb = (load_yaml(p).get('website') or {}).get('sidebar')
    if isinstance(sb, list): sb = sb[0] if sb else {}
    if not isinstance(sb, dict) or not sb.get('contents'): raise DocsError(f'{p}: no website.sidebar.contents')
    return _parse_entries(sb['contents'], p)


def flat_pages(entries) -> list[Page]:
    res = []
    for e in entries:
        if isinstance(e, Page): res.append(e)
        else:
            if e.href: res.append(Page(e.href, e.title))
            res += flat_pages(e.items)
    return res


def all_notebooks(nbs: Path) -> list[str]:
    "Notebooks nbdev would render: skips files and folders starting with `_` or `.`."
    res = []
    for p in sorted(nbs.rglob('*.ipynb')):
        rel = p.relative_to(nbs)
        if any(part[0] in '_.' for part in rel.parts): continue
        res.append(rel.as_posix())
    return res


def out_name(rel: str) -> str:
    "Rendered page path for a notebook: nbdev/Quarto's name (numeric prefix stripped, lower case)."
    from nbdev.config import nbpath2html
    return nbpath2html(Path(rel)).as_posix()


# ------------------------------------------------------------------------------------- processing
_re_opt = re.compile(r'^\s*#\|\s*([^\s:]+)\s*:?\s*(.*?)\s*$')


def split_options(src: str):
    "Leading `#| key: value` lines of a code cell -> (options dict, remaining source)."
    lines, opts, i = src.splitlines(), {}, 0
    while i < len(lines) and (m := _re_opt.match(lines[i])):
        k, v = m.groups()
        try: v = yaml.safe_load(v) if v else True
        except yaml.YAMLError: pass
        opts[k] = v
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')


def _false(v): return v is False or str(v).strip().lower() == 'false'


def _attrs(s: str):
    "Pandoc attributes `#id .class key=val` -> (id, classes, {key: val})."
    ident, classes, kv = None, [], {}
    for m in re.finditer(r'(#[\w:.-]+)|(\.[\w-]+)|([\w-]+)=("[^"]*"|\'[^\']*\'|\S+)', s):
        if m.group(1): ident = m.group(1)[1:]
        elif m.group(2): classes.append(m.group(2)[1:])
        else: kv[m.group(3)] = m.group(4).strip('"\'')
    return ident, classes, kv


_re_fence = re.compile(r'^\s*(```|~~~)')
_re_div_open = re.compile(r'^\s*:{3,}\s*(?:\{(.*)\}|([\w-]+))\s*$')
_re_div_close = re.compile(r'^\s*:{3,}\s*$')
_re_head_attr = re.compile(r'^(#{1,6}\s+.*?)\s*\{([^{}]*)\}\s*$')
_re_img_attr = re.compile(r'(!\[[^\]]*\]\([^)\s]+(?:\s+"[^"]*")?\))\{[^{}]*\}')


def quarto_md(src: str) -> str:
    "Turn Quarto-only markdown (fenced divs / callouts, heading and image attributes) into HTML/markdown nbconvert shows."
    out, in_code = [], False
    for line in src.splitlines():
        if _re_fence.match(line): in_code = not in_code
        if in_code: out.append(line); continue
        if m := _re_div_open.match(line):
            ident, classes, kv = _attrs(m.group(1) or '.' + m.group(2))
            if any(c.startswith('callout') for c in classes): classes = ['callout'] + classes
            idattr = f' id="{html.escape(ident)}"' if ident else ''
            out += ['', f'<div class="{html.escape(" ".join(classes))}"{idattr}>', '']
            if kv.get('title'): out += [f'<div class="callout-title">{html.escape(kv["title"])}</div>', '']
            continue
        if _re_div_close.match(line): out += ['', '</div>', '']; continue
        if m := _re_head_attr.match(line):
            ident, _, _ = _attrs(m.group(2))
            if ident: out += [f'<div id="{html.escape(ident)}"></div>', '']
            out.append(m.group(1)); continue
        out.append(_re_img_attr.sub(r'\1', line))
    return '\n'.join(out)


def nbdev_process(src: Path, exec_docs: bool):
    "Run nbdev's docs processors on notebook `src` (cwd: its folder); return an nbformat notebook."
    import nbformat
    from fastcore.nbio import read_nb, nb2str
    from nbdev.processors import FilterDefaults

    class Procs(FilterDefaults):
        def base_procs(self):
            ps = super().base_procs()
            return ps if exec_docs else [p for p in ps if p.__name__ != 'exec_show_docs']

    nb = read_nb(src)
    cwd, env = os.getcwd(), os.environ.get('IN_TEST')
    os.chdir(src.parent); os.environ['IN_TEST'] = '1'
    try: Procs()(nb)
    except Exception as e: raise DocsError(f'nbdev could not process {src}: {type(e).__name__}: {e}') from e
    finally:
        os.chdir(cwd)
        if env is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = env
    return nbformat.reads(nb2str(nb), as_version=4)


_CELL_KEYS = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}


def to_nbconvert(nb, fallback_title: str):
    "Apply the Quarto options nbdev leaves in the notebook; return (notebook, title, description, frontmatter)."
    fm, cells = {}, []
    for cell in nb.cells:
        src = cell.get('source', '')
        if cell.cell_type == 'raw':
            m = re.match(r'^\s*---\s*\n(.*?)\n---\s*$', src, re.S)
            if m and not fm:
                try: fm = yaml.safe_load(m.group(1)) or {}
                except yaml.YAMLError: fm = {}
                continue
            if (cell.metadata.get('raw_mimetype') or '').lower() not in ('text/html', ''): continue
            cells.append(cell); continue
        if cell.cell_type == 'markdown':
            if re.fullmatch(r'\s*<!--.*?-->\s*', src, re.S): continue  # nbdev's "autogenerated" comment
            cell.source = quarto_md(src)
            cells.append(cell); continue
        if cell.cell_type != 'code': continue
        opts, code = split_options(src)
        if _false(opts.get('include', True)): continue
        od = {}
        tags = list(cell.metadata.get('tags', []))
        if code.lstrip().startswith('show_doc('): tags.append('od-showdoc')
        if _false(opts.get('output', True)): cell.outputs = []
        if _false(opts.get('echo', True)) or not code.strip():
            cell.metadata['transient'] = {'remove_source': True}
        fold = opts.get('code-fold')
        if fold is True or str(fold).lower() in ('true', 'show'):
            od['fold'] = 'show' if str(fold).lower() == 'show' else 'hide'
            od['summary'] = str(opts.get('code-summary', 'Code'))
        if opts.get('fig-cap'): od['fig_cap'] = str(opts['fig-cap'])
        if cell.metadata.get('transient') and not cell.outputs: continue  # nothing left to show
        cell.source = code
        if od: cell.metadata['od'] = od
        if tags: cell.metadata['tags'] = tags
        cells.append(cell)
    for c in cells:  # drop nbdev's private cell attributes (e.g. `has_sd`) so the notebook validates
        for k in [k for k in c if k not in _CELL_KEYS]: del c[k]
        c.get('metadata', {}).pop('execution', None)  # execnb's timings (floats) fail nbformat's schema
    for k in [k for k in nb if k not in ('cells', 'metadata', 'nbformat', 'nbformat_minor')]: del nb[k]
    nb.cells = cells
    title = str(fm.get('title') or fallback_title)
    return nb, title, str(fm.get('description') or ''), fm


# ------------------------------------------------------------------------------------------- html
def rel_href(target: str, from_page: str) -> str:
    "Relative URL from page `from_page` to `target` (both relative to the site root, posix)."
    return os.path.relpath(target, os.path.dirname(from_page) or '.').replace(os.sep, '/')


def sidebar_html(entries, titles: dict, out_of: dict, page: str) -> str:
    def item(p: Page):
        href = out_of[p.src]
        cls = ' class="active" aria-current="page"' if href == page else ''
        text = p.text or titles.get(p.src, p.src)
        return f'<li><a href="{rel_href(href, page)}"{cls}>{html.escape(str(text))}</a></li>'

    def walk(es):
        parts = ['<ul>']
        for e in es:
            if isinstance(e, Page): parts.append(item(e))
            else:
                head = (f'<a class="od-section-title" href="{rel_href(out_of[e.href], page)}">{html.escape(e.title)}</a>'
                        if e.href else f'<span class="od-section-title">{html.escape(e.title)}</span>')
                parts.append(f'<li class="od-section">{head}{walk(e.items)}</li>')
        parts.append('</ul>')
        return ''.join(parts)
    return walk(entries)


_re_heading = re.compile(r'<h([23])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def toc_html(body: str) -> str:
    main = body.split('<main class="od-content">', 1)[-1].split('</main>', 1)[0]
    items = []
    for level, ident, inner in _re_heading.findall(main):
        text = html.unescape(re.sub(r'<[^>]+>', '', inner)).replace('¶', '').strip()
        if text: items.append(f'<li class="od-toc-h{level}"><a href="#{ident}">{html.escape(text)}</a></li>')
    if not items: return ''
    return '<div class="od-toc-title">On this page</div><ul>' + ''.join(items) + '</ul>'


def fix_links(body: str, page: str, nb_dir: Path, nb_rel_dir: str, out_of: dict, site_url: str) -> str:
    "Point .ipynb and own-site links at the rendered pages; inline local images as data URIs."
    site = site_url.rstrip('/') + '/' if site_url else None

    def sub(m):
        pre, tag, attr, q, url = m.group(1), m.group(2).lower(), m.group(3).lower(), m.group(4), m.group(5)
        if url.startswith(('data:', '#', 'mailto:', 'javascript:')): return m.group(0)
        path, _, frag = url.partition('#')
        frag = '#' + frag if frag else ''
        def put(new): return f'{pre} {m.group(3)}={q}{new}{q}'
        if attr == 'href' and site and (url + '/').startswith(site):
            target = path[len(site):] or 'index.html'
            if target.endswith('.html.md'): target = target[:-3]  # nbdev links to the .html.md alternates
            return put(rel_href(target, page) + frag)
        if re.match(r'^[a-z][\w+.-]*:', url) or url.startswith('//'): return m.group(0)
        if attr == 'href' and path.endswith('.ipynb'):
            key = os.path.normpath(os.path.join(nb_rel_dir, path)).replace(os.sep, '/')
            if key in out_of: return put(rel_href(out_of[key], page) + frag)
            warnings.warn(f'{page}: link to unknown notebook {url}')
        if attr == 'src' and tag == 'img' and path:
            f = (nb_dir / path).resolve()
            if f.is_file():
                mime = mimetypes.guess_type(f.name)[0] or 'application/octet-stream'
                return put(f'data:{mime};base64,' + base64.b64encode(f.read_bytes()).decode())
            warnings.warn(f'{page}: image not found: {url}')
        return m.group(0)
    return re.sub(r'(<(\w+)\b[^>]*?)\s(href|src)=(["\'])(.*?)\4', sub, body, flags=re.S)


# tags whose src/href/data/poster/srcset load something when the page opens
_re_remote_attr = re.compile(
    r'<(script|link|img|iframe|frame|source|embed|object|video|audio|track|image|use|input|base)\b[^>]*?'
    r'\s(src|href|xlink:href|data|poster|srcset)\s*=\s*["\']?\s*((?:https?:)?//[^"\'\s>]*)', re.I | re.S)
_re_remote_css = re.compile(r'(?:url\(\s*["\']?|@import\s+["\'])\s*((?:https?:)?//[^"\')\s]*)', re.I)


def remote_refs(text: str) -> list[str]:
    res = [f'<{m.group(1)} {m.group(2)}="{m.group(3)}">' for m in _re_remote_attr.finditer(text)]
    res += [f'css url({m.group(1)})' for m in _re_remote_css.finditer(text)]
    return res


# ---------------------------------------------------------------------------------------- mathjax
def ensure_mathjax() -> Path:
    es5 = MATHJAX_PKG / 'es5'
    if not (es5 / 'tex-chtml-full.js').exists():
        npm = shutil.which('npm')
        if not npm: raise DocsError('MathJax is not installed and npm is missing: install Node.js/npm, then run '
                                    '`npm ci --prefix tools/docs`')
        log('installing MathJax 3: npm ci --prefix', DOCS_TOOLS)
        r = subprocess.run([npm, 'ci', '--prefix', str(DOCS_TOOLS), '--no-audit', '--no-fund'])
        if r.returncode or not (es5 / 'tex-chtml-full.js').exists():
            raise DocsError('`npm ci --prefix tools/docs` failed: MathJax 3 is needed for offline math')
    return es5


def copy_mathjax(es5: Path, dest: Path):
    for part in MATHJAX_PARTS:
        s, d = es5 / part, dest / part
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir(): shutil.copytree(s, d, dirs_exist_ok=True)
        elif s.exists(): shutil.copy2(s, d)
        else: raise DocsError(f'MathJax file missing: {s} (run `npm ci --prefix tools/docs`)')


# ------------------------------------------------------------------------------------------- main
def prepare_out(out: Path):
    if out.exists():
        if not out.is_dir(): raise DocsError(f'--out {out} exists and is not a folder')
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise DocsError(f'--out {out} is a non-empty folder this script did not make; refusing to delete it')
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text('made by tools/render_docs.py; deleted and rebuilt on every run\n')


def render(nbs: Path, out: Path, exec_docs: bool = True) -> list[Path]:
    nbs = nbs.resolve()
    if not nbs.is_dir(): raise DocsError(f'--nbs {nbs} is not a folder')
    root = find_config_root(nbs)
    entries = read_sidebar(nbs)
    nav = flat_pages(entries)
    for p in nav:
        if not p.src.endswith('.ipynb'):
            raise DocsError(f'{nbs / "sidebar.yml"}: {p.src}: only notebooks can be rendered offline')
    missing = [p.src for p in nav if not (nbs / p.src).is_file()]
    if missing:
        raise DocsError(f'{nbs / "sidebar.yml"} lists notebook(s) that do not exist in {nbs}: ' + ', '.join(missing))
    listed = [p.src for p in nav]
    extra = [n for n in all_notebooks(nbs) if n not in listed]
    if extra: log('not in sidebar.yml (rendered, but not in the navigation):', ', '.join(extra))
    if 'index.ipynb' not in listed + extra: raise DocsError(f'{nbs / "index.ipynb"} is missing: it is the home page')
    srcs = list(dict.fromkeys(listed + extra))
    out_of = {s: out_name(s) for s in srcs}

    site = site_settings(nbs)
    es5 = ensure_mathjax()
    out = out.resolve()
    if out == nbs or out == root or nbs.is_relative_to(out) or root.is_relative_to(out):
        raise DocsError(f'--out {out} would overwrite the project')
    prepare_out(out)
    copy_mathjax(es5, out / 'mathjax')

    # the notebooks' code (show_doc, imports) must import the project's package without installing it
    if str(root) not in sys.path: sys.path.insert(0, str(root))
    os.environ.setdefault('MPLBACKEND', 'Agg')

    pages = {}
    for s in srcs:
        log('processing', s)
        nb = nbdev_process(nbs / s, exec_docs)
        fallback = Path(s).stem
        pages[s] = to_nbconvert(nb, re.sub(r'^\d+[a-zA-Z0-9]*_', '', fallback).replace('_', ' ').capitalize())
    titles = {s: pages[s][1] for s in srcs}

    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input_prompt=True, exclude_output_prompt=True)
    site_css = SITE_CSS.read_text(encoding='utf-8')
    user_css = (nbs / 'styles.css').read_text(encoding='utf-8') if (nbs / 'styles.css').exists() else ''
    nav_hrefs = [out_of[p.src] for p in nav]
    written, problems = [], []
    for s in srcs:
        nb, title, desc, fm = pages[s]
        page = out_of[s]
        i = nav_hrefs.index(page) if page in nav_hrefs else None
        def link(j): return {'href': rel_href(nav_hrefs[j], page), 'text': titles[nav[j].src]}
        od = dict(root='../' * page.count('/'), site_title=site['title'], repo_url=site.get('repo-url', ''),
                  title=title, description=desc, site_css=site_css, user_css=user_css,
                  sidebar_html=sidebar_html(entries, titles, out_of, page),
                  prev=link(i - 1) if i else None,
                  next=link(i + 1) if i is not None and i + 1 < len(nav) else None)
        nb.metadata['title'] = title if s == 'index.ipynb' and title == site['title'] else f'{title} – {site["title"]}'
        resources = {'od': od, 'metadata': {'name': title, 'path': str((nbs / s).parent)}}
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        body = fix_links(body, page, (nbs / s).parent, os.path.dirname(s), out_of, site.get('site-url', ''))
        body = body.replace('<!--OD-TOC-->', toc_html(body))
        dest = out / page
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(body, encoding='utf-8')
        written.append(dest)
        log('wrote', dest.relative_to(out), f'({title})')

    for f in sorted(out.rglob('*')):
        if f.suffix in ('.html', '.htm', '.css') and f.is_file():
            problems += [f'{f.relative_to(out)}: {r}' for r in remote_refs(f.read_text(encoding='utf-8', errors='replace'))]
    if problems:
        raise DocsError('pages reference remote URLs (they must work offline):\n  ' + '\n  '.join(problems))
    log(f'done: {len(written)} pages, open {out / "index.html"}')
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--nbs', default='nbs', help='notebook folder with sidebar.yml (default: nbs)')
    ap.add_argument('--out', default='_offline_docs', help='output folder, rebuilt on each run (default: _offline_docs)')
    ap.add_argument('--no-exec', action='store_true',
                    help="don't execute exported/import/show_doc cells (nbdev does, for show_doc); API docs are then left out")
    a = ap.parse_args(argv)
    try: render(Path(a.nbs), Path(a.out), exec_docs=not a.no_exec)
    except DocsError as e:
        print(f'render_docs: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__': sys.exit(main())
