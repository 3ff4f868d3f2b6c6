"""User errors print one line and exit 2; InternalError means a bug in mobilesdk."""
from __future__ import annotations


class MobileSDKError(Exception):
    """Base of the errors a user can fix. The message names the bad thing and the fix."""

    exit_code = 2


class ConfigError(MobileSDKError):
    pass


class UnsupportedOpError(MobileSDKError):
    def __init__(self, op: str, backend: str, hint: str, node: str = ""):
        where = f" (node `{node}`)" if node else ""
        super().__init__(f"`{backend}` cannot convert `{op}`{where}. Fix: {hint}")
        self.op, self.backend, self.hint = op, backend, hint


class ParityError(MobileSDKError):
    pass


class BundleError(MobileSDKError):
    pass


class CheckpointError(MobileSDKError):
    pass


class InternalError(Exception):
    """A bug: never caught by the CLI's one-line error handler."""
