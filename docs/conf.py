"""Sphinx configuration: numpydoc API pages and a sphinx-gallery of examples.

Set ``NLA_GALLERY_PATTERN`` (a regex on example paths) to execute only some examples while
editing; the full build runs them all.
"""

import os

import nla

project = "nla"
author = "the nla developers"
release = version = nla.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
# Class pages (templates/autosummary/class.rst) render every public method with its parameters.
templates_path = ["_templates"]
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.codeobj.json", "sg_execution_times.rst"]
html_theme = "alabaster"
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": os.environ.get("NLA_GALLERY_PATTERN", r"/plot_"),
    "download_all_examples": False,
    "matplotlib_animations": False,
    "write_computation_times": False,
}


def _skip_generated(app, what, name, obj, skip, options):
    # Methods scikit-learn defines (get_params, set_output, the generated set_fit_request, ...)
    # are scikit-learn's API, documented there; their docstrings cite labels of its docs.
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    if (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_generated)
