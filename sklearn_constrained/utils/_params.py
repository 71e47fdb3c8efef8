"""Declarative parameter validation shared by constraints and methods.

Constraints and methods declare ``_parameter_constraints`` as scikit-learn's
estimators do, and :meth:`ParamsMixin.check_params` validates them with
scikit-learn's own machinery, adding to its message the hint a class gives
for a parameter (``_parameter_hints``) so that every error says what to do.
"""

from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["ParamsMixin"]


class ParamsMixin:
    """``check_params()``: ``_parameter_constraints`` plus cross-parameter rules."""

    _parameter_constraints: dict = {}
    #: a hint appended to the error of a parameter, by name
    _parameter_hints: dict = {}

    def check_params(self):
        """Validate the parameters; raise an ``InvalidParameterError`` that names the fix.

        Runs scikit-learn's validation of ``_parameter_constraints``, then
        :meth:`_check_consistency` for rules that involve several parameters.

        Returns
        -------
        self
        """
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            message = str(exc)
            hints = [h for name, h in self._parameter_hints.items() if f"'{name}'" in message]
            if hints:
                raise InvalidParameterError(f"{message} {hints[0]}") from None
            raise
        self._check_consistency()
        return self

    def _check_consistency(self):
        """Rules that involve several parameters (a hook for subclasses)."""
