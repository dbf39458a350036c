"""Import path of earlier releases for `leadq calibrate`'s file job: it lives in addin.app.calibrate."""

from .app.calibrate import calibrate_file as calibrate_workbook
from .app.calibrate import goal_of, write_suggested

__all__ = ["calibrate_workbook", "goal_of", "write_suggested"]
