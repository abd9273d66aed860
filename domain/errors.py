"""Errors a user can cause. Each message says what went wrong and what to do.

The CLI maps every ``EngineError`` to exit code 2 and one line on stderr.
"""


class EngineError(Exception):
    """Base class for problems caused by input, configuration or state."""


class InvalidInputFile(EngineError):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class RejectedRows(EngineError):
    """Raised in strict mode when any row of an input was rejected."""


class EmptyRepository(EngineError):
    pass


class InvalidSetting(EngineError):
    pass


class CheckpointError(EngineError):
    """A model checkpoint is missing, unreadable or from an incompatible version."""


class UnknownEntity(EngineError):
    """A user or song id the model does not know."""


class StoreBusy(EngineError):
    """Another engine command holds the writer lock of the store for too long."""


class CorruptStore(EngineError):
    """Something the engine stored is damaged, foreign or points outside the store."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """A foreign exception's message cut to one line for an error message of ours (libraries
    explain themselves over pages); its type when it says nothing."""
    lines = str(error).strip().splitlines()
    return lines[0].strip()[:limit] if lines else type(error).__name__


class InvalidRecord(EngineError):
    """One field of one record a client sent (a posted play) is wrong; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
