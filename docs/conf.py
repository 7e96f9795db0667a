"""Sphinx configuration for scgenome."""

from __future__ import annotations

import scgenome

project = "scgenome"
author = "scgenome developers"
copyright = "2026, scgenome developers"
release = version = scgenome.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
]
autosummary_generate = True
autodoc_typehints = "description"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate entries beside the documented members
myst_enable_extensions = ["dollarmath", "colon_fence"]
nb_execution_mode = "off"
# ".rst" first: autosummary writes its stub pages (RST) with the first suffix; as ".md" MyST would show them as text
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
# classes document their methods and attributes (EMSModel, ScgenomeSettings)
autodoc_default_options = {"members": True, "undoc-members": False}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = "scgenome"
intersphinx_mapping = {}
suppress_warnings = ["mystnb.unknown_mime_type"]
