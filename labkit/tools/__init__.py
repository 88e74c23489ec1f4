"""Tooling for labkit's tutorial notebooks (not needed to use labkit itself).

- :mod:`labkit.tools.notebook`: helpers the notebooks import (environment check, ✔/✘ checks,
  side-by-side text).
- :mod:`labkit.tools.run_notebooks`: ``python -m labkit.tools.run_notebooks notebooks/``
  executes every notebook in place and stores its real outputs.
- :mod:`labkit.tools.nbindex`: ``python -m labkit.tools.nbindex notebooks/`` writes
  ``notebooks/README.md`` and the previous/next links of every notebook.
"""
