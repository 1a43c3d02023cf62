"""Documentation checks that run with the normal test command.

1. The API reference (``doc/reference/*.rst``) lists every public name of ``spgrad``,
   ``spgrad.linalg`` and ``spgrad.csgraph``, and every name of SciPy's ``scipy.sparse.linalg``
   (which ``spgrad.linalg`` is implementing); no page lists a name its module lacks (except the
   not-yet-available names of ``spgrad.linalg``, which the Sphinx build moves into a note).
2. The Examples sections of the docstrings of the *installed* package run as doctests, one test
   per module (``doctest.DocTestFinder`` on the imported module objects).
3. The ``>>>`` examples of the user guide (``doc/user_guide/*.rst``) run as doctests, and the
   ``.. code-block:: python`` snippets of ``doc/index.rst`` and the user guide run as scripts.
4. The gallery scripts (``examples/plot_*.py``) run and print the number they achieve (the
   Sphinx build runs them too; this catches a failure without building the site).

Checks that read ``doc/`` skip when the source tree is not next to this file (an installed test
run without the checkout). Examples that use torch skip when torch is not installed; the
gallery scripts also need matplotlib (the ``doc`` extra).
"""

import doctest
import importlib
import importlib.util
import os
import pkgutil
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import spgrad

DOC = Path(__file__).resolve().parent.parent / "doc"
REFERENCE = DOC / "reference"
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
HAVE_TORCH = importlib.util.find_spec("torch") is not None

# torch's forward-mode AD (used by some examples) imports its jvp decompositions through
# torch.jit.script, which warns in torch 2.13; pytest turns warnings into errors.
JIT_WARNING = "ignore:`torch.jit.script` is deprecated:DeprecationWarning"

needs_doc = pytest.mark.skipif(not REFERENCE.is_dir(), reason="doc/ source tree not present")


# --------------------------------------------------------------------------------------------
# 1. every public name appears in the reference
# --------------------------------------------------------------------------------------------

PAGES = {"spgrad": "spgrad.rst", "spgrad.linalg": "linalg.rst", "spgrad.csgraph": "csgraph.rst",
         "spgrad.ad": "ad.rst"}

_AUTOSUMMARY = re.compile(r"^(\s*)\.\.\s+autosummary::")
_ITEM = re.compile(r"^\s+~?([A-Za-z_][\w.]*)\s*$")
_LITERAL = re.compile(r"``([A-Za-z_]\w*)``")


def autosummary_names(text):
    """Names listed in the ``.. autosummary::`` blocks of an .rst text (options skipped)."""
    names, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _AUTOSUMMARY.match(lines[i])
        i += 1
        if not m:
            continue
        indent = m.group(1)
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
            item = _ITEM.match(lines[i])
            if item and not lines[i].strip().startswith(":"):
                names.append(item.group(1))
            i += 1
    return names


def public_names(module_name):
    """The module's ``__all__``; for a package without one (``spgrad.linalg`` while it is being
    assembled), the union of its submodules' ``__all__`` lists."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for info in pkgutil.iter_modules(module.__path__, module_name + "."):
        names += getattr(importlib.import_module(info.name), "__all__", [])
    return names


def test_autosummary_names_parser():
    text = (".. currentmodule:: spgrad\n\nText ``find``.\n\n.. autosummary::\n   :toctree: "
            "generated/\n\n   csr_array\n   ~spgrad.eye\n\nAfter the block:\n\n   indented\n")
    assert autosummary_names(text) == ["csr_array", "spgrad.eye"]
    assert _LITERAL.findall(text) == ["find"]


@needs_doc
@pytest.mark.parametrize("module_name", sorted(PAGES))
def test_reference_lists_every_public_name(module_name):
    text = (REFERENCE / PAGES[module_name]).read_text(encoding="utf-8")
    listed = set(autosummary_names(text))
    missing = sorted(set(public_names(module_name)) - listed)
    assert not missing, (f"public names of {module_name} missing from the autosummary tables "
                         f"of doc/reference/{PAGES[module_name]}: {missing}")


@needs_doc
def test_reference_lists_scipy_linalg():
    """Every name of SciPy's ``scipy.sparse.linalg``: in a table, or (the deprecated submodule
    aliases) named in the text."""
    import scipy.sparse.linalg

    text = (REFERENCE / "linalg.rst").read_text(encoding="utf-8")
    mentioned = set(autosummary_names(text)) | set(_LITERAL.findall(text))
    missing = sorted(set(scipy.sparse.linalg.__all__) - mentioned)
    assert not missing, f"scipy.sparse.linalg names missing from doc/reference/linalg.rst: {missing}"


@needs_doc
@pytest.mark.parametrize("module_name", ["spgrad", "spgrad.csgraph", "spgrad.ad"])
def test_reference_names_exist(module_name):
    """A table entry that the module does not have would be a build error; say which."""
    module = importlib.import_module(module_name)
    text = (REFERENCE / PAGES[module_name]).read_text(encoding="utf-8")
    stale = [name for name in autosummary_names(text) if not hasattr(module, name)]
    assert not stale, f"doc/reference/{PAGES[module_name]} lists names {module_name} lacks: {stale}"


@needs_doc
def test_differences_page_covers_known_differences():
    """Every deviation registered in conftest.KNOWN_DIFFERENCES is on the "Differences from
    SciPy" page: its key is in the page's list of covered keys (an rst comment)."""
    from conftest import KNOWN_DIFFERENCES

    text = (DOC / "user_guide" / "differences.rst").read_text(encoding="utf-8")
    covered, in_comment = set(), False
    for line in text.splitlines():
        if line == "..":                       # the comment block that lists the keys
            in_comment = True
        elif in_comment and line.strip() and not line.startswith("   "):
            break
        elif in_comment and line.strip() and " " not in line.strip():
            covered.add(line.strip())
    missing = sorted(set(KNOWN_DIFFERENCES) - covered)
    assert not missing, ("KNOWN_DIFFERENCES keys not covered by doc/user_guide/differences.rst "
                         f"(describe them there, then add the keys to its list): {missing}")


# --------------------------------------------------------------------------------------------
# 2. the Examples sections of the installed package
# --------------------------------------------------------------------------------------------

def _resolve(module, test_name):
    """The object whose docstring ``test_name`` (``module.Class.method``) comes from."""
    obj = module
    for part in test_name[len(module.__name__):].split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _is_scipy_docstring(obj):
    """A wrapper that shows SciPy's docstring verbatim (``spgrad.csgraph``, SciPy-backed parts of
    ``spgrad.linalg``): its examples are SciPy's, tested by SciPy under SciPy's doctest settings
    (legacy print options, its own output checker), so they are not run here."""
    wrapped = getattr(obj, "__wrapped__", None)
    return wrapped is not None and getattr(obj, "__doc__", None) == getattr(wrapped, "__doc__", 0)


# an example needs torch if it names it, or uses differentiable mode through spgrad's API alone
_TORCH_WORDS = re.compile(r"\btorch\b|requires_grad|\.grad\b|to_torch|from_torch")


def _uses_torch(test):
    return any(_TORCH_WORDS.search(example.source) for example in test.examples)


def _module_names():
    return ["spgrad"] + sorted(
        info.name for info in pkgutil.walk_packages(spgrad.__path__, "spgrad.")
    )


# Modules whose examples fail for a reason outside this test's reach: module name -> the failing
# examples. The module's test is then an expected failure (not strict, so that a fix does not
# fail the suite; remove the entry when it passes). Empty: every module passes.
KNOWN_DOCTEST_FAILURES = {}


def _examples(module_name):
    """The docstring tests of a module that are spgrad's own, with at least one example."""
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, module_name) if t.examples]
    return [t for t in tests if not _is_scipy_docstring(_resolve(module, t.name))]


def _doctest_params():
    # one case per module that has examples (a module without any would only be a skip)
    params = []
    for name in _module_names():
        marks = []
        try:
            if not _examples(name):
                continue
        except ImportError:
            # the torch bridge modules import torch; without it they are skipped, with it an
            # import error is a failure of this module's case (the test body imports again)
            if not HAVE_TORCH:
                marks.append(pytest.mark.skip(reason=f"{name} needs torch"))
        reason = KNOWN_DOCTEST_FAILURES.get(name)
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=False))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def run_doctests(tests, name):
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} failing examples in {name}:\n" + "".join(report)
    return result.attempted


@pytest.mark.filterwarnings(JIT_WARNING)
@pytest.mark.parametrize("module_name", _doctest_params())
def test_docstring_examples(module_name):
    tests = _examples(module_name)
    if not HAVE_TORCH:
        tests = [t for t in tests if not _uses_torch(t)]
        if not tests:
            pytest.skip(f"every example of {module_name} needs torch")
    run_doctests(tests, module_name)


# --------------------------------------------------------------------------------------------
# 3. the user guide's examples
# --------------------------------------------------------------------------------------------

def _guide_doctest(page):
    path = DOC / "user_guide" / page
    return doctest.DocTestParser().get_doctest(
        path.read_text(encoding="utf-8"), {"__name__": "__doc__"}, page, str(path), 0)


def _guide_pages():
    """The user-guide pages that have ``>>>`` examples."""
    folder = DOC / "user_guide"
    pages = sorted(p.name for p in folder.glob("*.rst")) if folder.is_dir() else []
    return [page for page in pages if _guide_doctest(page).examples]


@needs_doc
@pytest.mark.filterwarnings(JIT_WARNING)
@pytest.mark.parametrize("page", _guide_pages())
def test_user_guide_examples(page):
    test = _guide_doctest(page)
    if _uses_torch(test) and not HAVE_TORCH:
        pytest.skip(f"{page} needs torch")
    run_doctests([test], page)


_CODE_BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", re.MULTILINE)


def _python_blocks(path):
    """The ``.. code-block:: python`` blocks of an .rst page, dedented, in order."""
    return ["\n".join(line[3:] for line in block.splitlines())
            for block in _CODE_BLOCK.findall(path.read_text(encoding="utf-8"))]


def _pages_with_code():
    pages = [DOC / "index.rst"] + sorted((DOC / "user_guide").glob("*.rst"))
    return [p.relative_to(DOC).as_posix() for p in pages if p.is_file() and _python_blocks(p)]


def test_python_blocks_parser(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text("Text\n\n.. code-block:: python\n\n   a = 1\n\n   b = a + 1\n\nAfter.\n"
                    "\n.. code-block:: sh\n\n   ls\n")
    assert _python_blocks(page) == ["a = 1\n\nb = a + 1\n"]


def _gpu_for_snippets(monkeypatch, tmp_path):
    """Real CuPy with a GPU if there is one, else the emulated CuPy of the GPU tests."""
    import emulated_cupy
    from cuda_support import build_emulation, real_cupy

    if real_cupy() is not None:
        return

    backend = build_emulation(tmp_path)
    if backend is None:
        pytest.skip("no GPU and no C++ compiler to emulate one")
    emulated_cupy.install(monkeypatch, backend)


@needs_doc
@pytest.mark.filterwarnings(JIT_WARNING)
@pytest.mark.parametrize("page", _pages_with_code())
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    """The ``.. code-block:: python`` snippets of a page run, one after the other (those that
    import CuPy on an emulated one when there is no GPU)."""
    blocks = _python_blocks(DOC / page)
    if any(re.search(r"^import cupy", b, re.MULTILINE) for b in blocks):
        _gpu_for_snippets(monkeypatch, tmp_path)
    if not HAVE_TORCH:
        # without torch, run the snippets before the first one that needs it
        first = next((i for i, b in enumerate(blocks) if _TORCH_WORDS.search(b)), len(blocks))
        blocks = blocks[:first]
        if not blocks:
            pytest.skip(f"{page} needs torch")
    code = "\n".join(blocks)
    script = tmp_path / (Path(page).stem + "_snippets.py")
    script.write_text(code, encoding="utf-8")
    runpy.run_path(str(script), run_name="__doc__")


# --------------------------------------------------------------------------------------------
# 4. the gallery scripts (the Sphinx build runs them too; this catches a failure without it)
# --------------------------------------------------------------------------------------------

def _gallery_scripts():
    folder = DOC.parent / "examples"
    return sorted(p.name for p in folder.glob("plot_*.py")) if folder.is_dir() else []


def _jacobi_at_optimum(stdout):
    errors = [float(m) for m in re.findall(r"max \|w - [0-9/]+\| = (\S+)", stdout)]
    return len(errors) == 2 and max(errors) < 1e-4


def _pcg_beats_cg(stdout):
    m = re.search(r"learned PCG (\S+), CG (\S+), ratio", stdout)
    return m is not None and float(m.group(1)) < 0.75 * float(m.group(2))


def _heavy_ball_beats_analytic(stdout):
    m = re.search(r"learned / analytic = (\S+)", stdout)
    return m is not None and float(m.group(1)) <= 1.0


def _gcn_uses_the_graph(stdout):
    m = re.search(r"GCN (\S+), without the graph (\S+)", stdout)
    return m is not None and float(m.group(1)) > 0.9 > float(m.group(2))


def _benchmark_reports_ratios(stdout):
    # timings are not asserted (a shared machine); the script must measure and report them
    m = re.search(r"SciPy time (\S+), torch.sparse / spgrad forward (\S+), spgrad "
                  r"\(forward \+ backward\) / forward (\S+)", stdout)
    return m is not None and all(float(v) > 0 for v in m.groups())


def _smoother_improves_the_cycle(stdout):
    m = re.search(r"weighted Jacobi \(ω = 2/3\) (\S+), learned sparse smoother (\S+)", stdout)
    return m is not None and float(m.group(2)) < 0.5 * float(m.group(1))


def _sparse_ad_solves(stdout):
    colours = re.search(r"Brusselator n = \d+: \d+ nonzeros, (\d+) colours", stdout)
    status = re.search(r"solve_ivp BDF .* status (-?\d+)", stdout)
    residual = re.search(r"least_squares residual (\S+)", stdout)
    error = re.search(r"trust-constr error (\S+)", stdout)
    return (None not in (colours, status, residual, error) and int(colours.group(1)) <= 12
            and status.group(1) == "0" and float(residual.group(1)) < 1e-6
            and float(error.group(1)) < 1e-6)


# script -> a check of the number it prints (each gallery example prints what it achieves)
GALLERY_CHECKS = {
    "plot_learned_jacobi_weights.py": _jacobi_at_optimum,
    "plot_learned_pcg.py": _pcg_beats_cg,
    "plot_heavy_ball.py": _heavy_ball_beats_analytic,
    "plot_gcn_planted_partition.py": _gcn_uses_the_graph,
    "plot_benchmark_spmv.py": _benchmark_reports_ratios,
    "plot_learned_smoother.py": _smoother_improves_the_cycle,
    "plot_sparse_ad.py": _sparse_ad_solves,
}


@needs_doc
@pytest.mark.skipif(not HAVE_TORCH, reason="the gallery scripts need torch")
@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="the gallery scripts need matplotlib (the doc extra)")
@pytest.mark.parametrize("script", _gallery_scripts())
def test_gallery_script_runs(script, tmp_path):
    # cwd=tmp_path: the source tree's spgrad/ folder (no compiled kernels) must not shadow the
    # installed package
    proc = subprocess.run([sys.executable, str(DOC.parent / "examples" / script)], check=False,
                          cwd=tmp_path, env=dict(os.environ, MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = GALLERY_CHECKS.get(script)
    assert check is not None, f"add a check of what {script} prints to GALLERY_CHECKS"
    assert check(proc.stdout), proc.stdout


def test_module_list_covers_the_public_modules():
    names = _module_names()
    for required in ("spgrad", "spgrad._csr", "spgrad.csgraph", "spgrad.linalg"):
        assert required in names
    assert all(name == "spgrad" or name.startswith("spgrad.") for name in names)
