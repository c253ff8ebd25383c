"""scikit-learn's own random-projection tests, run against nla.

The installed scikit-learn's ``sklearn/tests/test_random_projection.py`` is collected by pytest
in a subprocess, unmodified, with this module loaded as a plugin (``-p``). Its
``pytest_collectstart`` hook imports that test module first and rebinds the two names under
test (``SparseRandomProjection``, ``johnson_lindenstrauss_min_dim``) and the lists its
parametrizations read, in place, before pytest expands the parametrizations. Test bodies look
the names up as module globals at run time, so they all run on nla's objects. Gaussian-only
tests (scikit-learn's ``GaussianRandomProjection`` and ``_gaussian_random_matrix``; nla has no
Gaussian projection estimator) are deselected. A subprocess keeps scikit-learn's conftest
(``global_random_seed`` and other fixtures; pytest finds it beside the file) and its module out
of this test session.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn

SKLEARN_TESTS = Path(sklearn.__file__).parent / "tests" / "test_random_projection.py"


def pytest_collectstart(collector):
    """Rebind the names of scikit-learn's random-projection test module to nla's."""
    if getattr(collector, "path", None) is None or collector.path.name != SKLEARN_TESTS.name:
        return
    if type(collector).__name__ != "Module":
        return
    import nla

    module = collector.obj  # imports the test module (pytest caches it for the collection)
    module.SparseRandomProjection = nla.SparseRandomProjection
    module.johnson_lindenstrauss_min_dim = nla.johnson_lindenstrauss_min_dim
    # The parametrize decorators hold these list objects: change them in place.
    module.all_SparseRandomProjection[:] = [nla.SparseRandomProjection]
    module.all_DenseRandomProjection[:] = []
    module.all_RandomProjection[:] = [nla.SparseRandomProjection]
    module.all_random_matrix[:] = list(module.all_sparse_random_matrix)
    module.all_dense_random_matrix[:] = []
    _REBOUND.append(module.SparseRandomProjection.__module__)


_REBOUND = []


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"rebound to: {_REBOUND}")


@pytest.mark.skipif(not SKLEARN_TESTS.exists(),
                    reason=f"the installed scikit-learn ships no {SKLEARN_TESTS}")
def test_sklearn_random_projection_suite(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", str(SKLEARN_TESTS), "-q", "-p", "no:cacheprovider",
           "-p", Path(__file__).stem, "--rootdir", str(tmp_path),
           "-c", os.devnull, "-k", "not gaussian", "-rf"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    summary = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, summary
    assert " passed" in run.stdout and "failed" not in run.stdout, summary
    # Guard against a silent no-op: the tests really ran on nla's estimator.
    assert "rebound to: ['nla.random_projection._sparse_rp']" in run.stdout, summary
