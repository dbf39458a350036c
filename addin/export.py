"""The import path of earlier releases for `leadq export` (the job lives in addin.app.export)."""

from .app.export import (  # noqa: F401
    KEPT_INPUTS,
    OUTPUTS,
    crm_export_frame,
    export_for_crm,
    export_pseudonymised,
    pseudonymised_frame,
)
