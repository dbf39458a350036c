"""`leadq forget`'s import path of earlier releases: the job lives in addin.app.forget."""

from .app.forget import PRIVACY_LOG, ForgetResult, forget

__all__ = ["PRIVACY_LOG", "ForgetResult", "forget"]
