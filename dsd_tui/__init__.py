"""dsd_tui: run and watch DSD² pruning ladders in the terminal.

The Python API (`run`, `resume`, `load_summary`, `register_model`, `register_dataset`, `register_criterion`)
is in `dsd_tui.api`, `load_model` in `dsd_tui.model_loader`; importing the package stays cheap (torch is imported when a
run starts).
"""

from dsd_tui.api import load_summary, register_criterion, register_dataset, register_model, resume, run
from dsd_tui.errors import RunFailed, UsageError
from dsd_tui.model_loader import load_model

__version__ = "0.1.0"
__all__ = ["run", "resume", "load_summary", "load_model", "register_model", "register_dataset", "register_criterion",
           "UsageError", "RunFailed", "__version__"]
