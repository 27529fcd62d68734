"""Sphinx configuration for the sknlp_rnn documentation.

Build (runs the gallery examples; needs the ``docs`` extra):

    python -m sphinx -W -b html docs docs/_build/html

Quick build that does not execute the gallery (CI-friendly):

    python -m sphinx -W -b html -D plot_gallery=0 docs docs/_build/html

or set ``SKNLP_RNN_DOCS_QUICK=1``.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sknlp_rnn  # noqa: E402

project = "sknlp_rnn"
author = "the sknlp_rnn developers"
copyright = "the sknlp_rnn developers"  # noqa: A001
release = version = sknlp_rnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"
html_static_path = []
autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Inherited scikit-learn docstrings (e.g. ``score``) use :ref: labels of the
# scikit-learn site, which cannot resolve here (no intersphinx: builds are
# offline).
suppress_warnings = ["ref.ref"]

# -- the API table is built from the package's own __all__ lists -------------


def _api_rst():
    """The autosummary tables of api.rst, one per public namespace.

    Each section lists, from its module's ``__all__``, the classes (``True``),
    the functions (``False``), every callable (``None``) or the names given (a
    tuple).
    """
    import sknlp_rnn.datasets
    import sknlp_rnn.exceptions
    import sknlp_rnn.nn
    import sknlp_rnn.text

    sections = [
        ("Estimators and transformers", "sknlp_rnn", sknlp_rnn, "class.rst", True),
        (
            "Saving and loading",
            "sknlp_rnn",
            sknlp_rnn,
            "function.rst",
            ("load", "save"),
        ),
        ("Training helpers", "sknlp_rnn", sknlp_rnn, "function.rst", ("lr_find",)),
        ("Language models", "sknlp_rnn.text", sknlp_rnn.text, "function.rst", False),
        ("Data sets", "sknlp_rnn.datasets", sknlp_rnn.datasets, "function.rst", None),
        (
            "Warnings and errors",
            "sknlp_rnn.exceptions",
            sknlp_rnn.exceptions,
            "class.rst",
            None,
        ),
        ("Torch modules", "sknlp_rnn.nn", sknlp_rnn.nn, "module_class.rst", True),
        ("Torch helpers", "sknlp_rnn.nn", sknlp_rnn.nn, "function.rst", False),
    ]
    lines = []
    for title, modname, module, template, which in sections:
        names = []
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue
            if isinstance(which, tuple):
                if name not in which:
                    continue
            elif which is not None and isinstance(obj, type) != which:
                continue
            names.append(name)
        if not names:
            continue
        lines += [title, "-" * len(title), "", f".. currentmodule:: {modname}", ""]
        lines += [
            ".. autosummary::",
            "   :toctree: generated/",
            f"   :template: {template}",
            "",
        ]
        lines += [f"   {name}" for name in names] + [""]
    return "\n".join(lines)


(Path(__file__).parent / "_api_tables.rst").write_text(_api_rst())

# -- gallery ------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "download_all_examples": False,
    "plot_gallery": "False" if os.environ.get("SKNLP_RNN_DOCS_QUICK") else "True",
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}
