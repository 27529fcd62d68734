"""The workflows that ``sknlp-rnn demo`` runs, as a registry (private).

``WORKFLOWS`` lists them in the order the demo runs them; each has a ``key``
(for ``--only``), a ``title``, a one-line ``summary``, its measured time per
run size and a ``run(options)`` that returns the summary-table rows and the
histories to plot. The models come from :mod:`sknlp_rnn.recipes`, which the
gallery examples use too. Real data sets are used when the ``datasets`` extra
is installed, generated data otherwise. The names below are this package's
whole surface; ``cli.py`` uses nothing else.
"""

from ._collab import WORKFLOW as _COLLAB
from ._language_model import WORKFLOW as _LM
from ._plots import draw_curve, draw_map, plots_available, write_plots
from ._registry import (
    SIZES,
    Curve,
    EmbeddingMap,
    Outcome,
    Result,
    RunOptions,
    Workflow,
    check_options,
    expected_total,
    format_duration,
    format_table,
    has_datasets,
    on_cuda,
)
from ._tabular import WORKFLOW as _TABULAR
from ._text import TEXT as _TEXT
from ._text import ULMFIT as _ULMFIT

__all__ = [
    "SIZES",
    "WORKFLOWS",
    "Curve",
    "EmbeddingMap",
    "Outcome",
    "Result",
    "RunOptions",
    "Workflow",
    "check_options",
    "draw_curve",
    "draw_map",
    "expected_total",
    "format_duration",
    "format_table",
    "has_datasets",
    "on_cuda",
    "plots_available",
    "write_plots",
]

WORKFLOWS = (_LM, _TEXT, _ULMFIT, _TABULAR, _COLLAB)
