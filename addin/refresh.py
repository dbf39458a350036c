"""The import path of earlier releases for the refresh, preview and new jobs (they live in addin.app),
and the Refresh button's module shim: `import addin.refresh` stays callable as the refresh job."""

from __future__ import annotations

import json

from .app.new import SHIM_MARK, check_importable_name, importable_name, new_workbook, shim_problems
from .app.preview import preview
from .app.refresh import RefreshResult, compute, not_a_workbook, refresh

__all__ = ["SHIM_MARK", "RefreshResult", "check_importable_name", "compute", "importable_name", "new_workbook",
           "not_a_workbook", "preview", "refresh", "shim_problems"]

class _CallableModule(type(json)):
    """Importing the submodule `addin.refresh` binds it over the package's `addin.refresh` function
    (Python sets a package attribute per imported submodule): the module stays callable as that job."""

    def __call__(self, *args, **kwargs):
        return refresh(*args, **kwargs)


def _callable_module() -> None:
    import inspect
    import sys
    module = sys.modules[__name__]
    module.__class__ = _CallableModule
    module.__signature__ = inspect.signature(refresh)


_callable_module()
