"""The command line (``python -m nla``) and the Numba cache location of read-only installs."""

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from nla import _compile
from nla.__main__ import main
from nla._tour import AREAS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "nla", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_no_arguments_prints_plain_help():
    out = _cli()
    assert out.returncode == 0, out.stderr
    assert "python -m nla tour" in out.stdout and "python -m nla compile" in out.stdout
    assert "``" not in out.stdout and ":func:" not in out.stdout  # no reStructuredText


@pytest.mark.parametrize("command", ["tour", "compile"])
def test_unknown_area_lists_the_valid_ones(command):
    out = _cli(command, "bogus-area")
    assert out.returncode == 2
    assert "bogus-area" in out.stderr
    assert all(area in out.stderr for area in AREAS)


@pytest.mark.parametrize("command", ["tour", "compile"])
def test_help_of_subcommands(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert all(area in text for area in AREAS) and "``" not in text


def test_compile_command_reports_each_area(capsys):
    assert main(["compile", "chebtucker"]) == 0
    out = capsys.readouterr().out
    assert "chebtucker" in out and "total" in out


def test_compile_areas_refuses_unknown_area():
    with pytest.raises(ValueError, match="areas"):
        _compile.compile_areas(["nope"], verbose=False)


def _uncompiled(area):
    """Numba dispatchers defined in ``nla.<area>`` that have no compiled signature (those
    inlined into their callers never get one of their own, so they are left out)."""
    from numba.core.registry import CPUDispatcher

    package = importlib.import_module(f"nla.{area}")
    missing = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"nla.{area}.{info.name}")
        for name, obj in vars(module).items():
            if (isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__
                    and obj.targetoptions.get("inline", "never") == "never" and not obj.overloads):
                missing.append(f"{module.__name__}.{name}")
    return missing


@pytest.mark.parametrize("area", ["chebtucker"])  # the cheap one; the others take minutes
def test_warmup_reaches_every_kernel(area):
    _compile.compile_areas([area], verbose=False)
    assert _uncompiled(area) == []


# -- the cache of a read-only install --------------------------------------------------------

def _blocked(path):
    # A regular file where a directory is expected: no one (root included) can create the
    # directory, which is what a read-only install or home directory amounts to for Numba.
    with open(path, "w"):
        pass


@pytest.fixture
def readonly_install():
    """A copy of the package whose ``__pycache__`` directories cannot be created."""
    base = tempfile.mkdtemp(prefix="nla-ro-")
    try:
        shutil.copytree(os.path.join(ROOT, "nla"), os.path.join(base, "pkg", "nla"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for folder, _, _ in os.walk(os.path.join(base, "pkg", "nla")):
            _blocked(os.path.join(folder, "__pycache__"))
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


_PROBE = ("import os, numpy as np, nla\n"
          "from nla.chebtucker._kernels import _vandermonde, vandermonde\n"
          "assert nla.__file__.startswith(os.environ['PYTHONPATH'])\n"
          "T = vandermonde(np.array([0.5, -0.25]), 3)\n"
          "assert np.allclose(T, [[1, 0.5, -0.5], [1, -0.25, -0.875]])\n"
          "print(os.environ.get('NUMBA_CACHE_DIR'), sum(_vandermonde.stats.cache_hits.values()))\n")


def _probe(base, home, xdg=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(PYTHONPATH=os.path.join(base, "pkg"), HOME=home,
               TMPDIR=os.path.join(base, "tmp"))
    if xdg:
        env["XDG_CACHE_HOME"] = xdg
    os.makedirs(env["TMPDIR"], exist_ok=True)
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env=env, cwd=base, timeout=300)
    assert out.returncode == 0, out.stderr
    cache, hits = out.stdout.split()
    return cache, int(hits)


def test_readonly_install_caches_in_user_dir(readonly_install):
    xdg = os.path.join(readonly_install, "xdg")
    first = _probe(readonly_install, readonly_install, xdg)
    second = _probe(readonly_install, readonly_install, xdg)
    assert first == (os.path.join(xdg, "nla", "numba"), 0)
    assert second == (first[0], 1)  # the second process loads the kernel from that cache


def test_readonly_install_and_home_fall_back_to_tempdir(readonly_install):
    # Without a writable home either, Numba alone refuses to decorate cached functions.
    home = os.path.join(readonly_install, "home")
    os.makedirs(home)
    _blocked(os.path.join(home, ".cache"))
    cache, hits = _probe(readonly_install, home)
    assert os.path.dirname(cache) == os.path.join(readonly_install, "tmp")
    assert os.path.isdir(cache) and hits == 0


def test_user_numba_cache_dir_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _compile.configure_cache() == str(tmp_path)


def test_user_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _compile.user_cache_dir() == os.path.join(str(tmp_path), "nla", "numba")
