"""The one exception family of jupyter-mlops.

    MlopsError                      base: one line that says what was wrong and the bad value
    +-- UsageError                  bad input from the caller (name, tag filter, path, option)
    |   +-- InvalidNameError        a name that breaks the naming rule
    +-- NotFoundError               a model, image or deployment that does not exist
    +-- ConflictError               the operation would break an invariant
    |   +-- InUseError              delete refused: something still uses the object
    |   +-- ImmutableError          changing a property that is add-only
    +-- StoreError                  the metadata or artifact store failed or is unreachable
    +-- BuildError                  an image build failed (carries the log tail)
    +-- PushError                   pushing an image to a container registry failed
    +-- DeploymentError             a deployment failed or is unhealthy (carries the log tail)
    +-- ValidationError             a validation notebook failed (its executed copy is kept)
    +-- PipelineError               a pipeline step failed (names the step; carries its error)

In IPython an MlopsError renders as its one line (``_render_traceback_``), so a failing cell shows
the cause rather than a traceback; papermill still sees the exception and fails the run.
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base error. ``str(err)`` is a complete one-line message."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # extra context shown below the line (a build log tail, say)

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        lines = [f"{type(self).__name__}: {self.message}"]
        if self.detail:
            lines.extend(self.detail.rstrip().splitlines())
        return lines


class UsageError(MlopsError):
    """Bad input from the caller."""


class InvalidNameError(UsageError):
    """A name breaks the naming rule."""


class NotFoundError(MlopsError):
    """The object asked for does not exist."""


class ConflictError(MlopsError):
    """The operation would break an invariant."""


class InUseError(ConflictError):
    """Delete refused because something still uses the object."""


class ImmutableError(ConflictError):
    """An add-only value was asked to change."""


class StoreError(MlopsError):
    """The metadata or artifact store failed."""


class BuildError(MlopsError):
    """An image build failed."""


class PushError(MlopsError):
    """Pushing an image to a container registry failed."""


class DeploymentError(MlopsError):
    """A deployment failed or is unhealthy."""


class ValidationError(MlopsError):
    """A validation notebook raised (a failed assertion, say): the model did not pass."""


class PipelineError(MlopsError):
    """A pipeline step failed: ``step`` names it and ``cause`` is the step's own error."""

    def __init__(self, message: str, *, step: str, cause: MlopsError | None = None) -> None:
        super().__init__(message, detail=cause.detail if cause is not None else None)
        self.step = step
        self.cause = cause
