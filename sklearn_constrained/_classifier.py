"""ConstrainedClassifier."""

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._estimator import BaseConstrainedEstimator

__all__ = ["ConstrainedClassifier"]


class ConstrainedClassifier(ClassifierMixin, BaseConstrainedEstimator):
    """A neural-network classifier trained under constraints.

    The constraints are stated as levels (``L2Norm(bound=4.0)``,
    ``DemographicParity(bound=0.05)``), never as penalty weights; ``method``
    chooses how they are enforced. A skorch net is built inside ``fit``;
    the module outputs one logit per class and is trained with the softmax
    cross-entropy.

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        ``None`` builds an :class:`~sklearn_constrained.models.MLP` with one
        hidden layer of 64 units. A class with a ``from_data`` classmethod
        (every class of :mod:`sklearn_constrained.models`) is sized from the
        data; another ``nn.Module`` class whose constructor takes
        ``n_features`` and/or ``n_outputs`` gets them from the data; the
        ``module__<arg>`` parameters give its other arguments. An instance is
        copied, never modified. Its output width must equal the number of
        classes.
    constraints : None or dict of str to Constraint, default=None
        The constraints, by name; each level is reachable as
        ``constraints__<name>__<param>``.
    method : {"auto", "fp", "sal", "sadmm", "gda"} or ConstrainedMethod, default="auto"
        How the constraints are enforced. ``"auto"`` is self-tuning and needs
        no step size; the others are the methods of
        :mod:`sklearn_constrained.methods` at their defaults. Its parameters
        are reachable as ``method__<param>``.
    optimizer : {"adam", "adamw", "sgd", "lbfgs"} or torch.optim.Optimizer class, default="adam"
        The primal optimizer. ``"lbfgs"`` trains full batch with a strong
        Wolfe line search (one L-BFGS step per epoch).
    lr : float, default=None
        Primal learning rate; ``None`` means 0.01 (1.0 for L-BFGS).
    max_epochs : int, default=100
        The most passes over the training data.
    batch_size : int, default=128
        Mini-batch size; -1 for full batch.
    device : str, default="auto"
        ``"auto"`` trains on CUDA when available, else the CPU.
    random_state : None or int, default=None
        Seeds the module's initialisation, the batch order, the held-out
        splits and dropout; the same int gives the same model on the same
        machine. The global torch RNG is left untouched.
    verbose : int, default=0
        1 shows a progress bar and one line per epoch: the objective, each
        constraint's value against its level (``ok`` or ``VIOLATED``; ``~``
        marks the running estimate of a data-dependent constraint), the true
        values of the epoch's check and the multipliers. 2 also prints every
        entry of the multipliers and the penalty.
    validation_fraction : float, default=None
        Fraction in (0, 1) of the training data held out (stratified by class
        and group) on which the objective and every constraint are evaluated
        at every epoch (``history_``'s ``valid_objective`` and
        ``valid_constraints``) and the returned epoch is chosen. A group too
        small to be split is an error that names it. ``None`` holds nothing
        out, unless ``early_stopping`` is on (then 0.1).
    margin : None, float or "auto", default=None
        Tighten every data-dependent level during training: by a fixed amount
        (in the units of the constraint's value), or ``"auto"``: by the
        estimated sampling error of the constraint for data of the size of
        the validation part (or of the training data when there is none), so
        that the user's level holds on unseen data from the same
        distribution with about 95% confidence. The levels in
        ``constraints`` and every report stay the user's; ``history_`` records
        the ``margins`` used. Above 10,000 rows the default ``early_stopping``
        holds a tenth out, so the margin protects data of that size (pass
        ``early_stopping=False`` or a ``validation_fraction`` for another).
    callbacks : None or list of skorch callbacks, default=None
        Run with the library's own (after them, before the stopping test);
        they see plain targets and the epoch's record in ``net.history``.
        Copies are used: the objects passed are not modified.
    tol : float, default=1e-3
        Feasibility tolerance: a constraint counts as met when its largest
        violation is at most ``tol * max(1, |level|)`` (the level's
        magnitude, e.g. ``bound``; 1 for ``w >= 0``).
    n_iter_no_change : int, default=None
        Stop when the best objective of the epochs that meet every level has
        not improved by more than ``objective_tol`` (relative) for this many
        epochs and the current epoch meets every level (scikit-learn's
        ``MLPClassifier`` rule; on the validation part when
        ``validation_fraction`` is set); ``None`` trains ``max_epochs``
        epochs, unless ``early_stopping`` is on (then 10).
        ``history_[-1]["stopped"]`` says why a fit ended early.
    objective_tol : float, default=1e-4
        The relative improvement of the objective that counts for
        ``n_iter_no_change``.
    early_stopping : "auto" or bool, default="auto"
        Hold out a validation part and stop when the validation objective
        has stopped improving and every level holds on it (``True``: with
        ``validation_fraction`` 0.1 and ``n_iter_no_change`` 10 where they
        are ``None``, as ``MLPClassifier(early_stopping=True)``). ``"auto"``
        turns it on when the training data have more than 10,000 rows (and
        every sensitive group can be split), as
        ``HistGradientBoostingClassifier`` does; ``False`` uses
        ``validation_fraction`` and ``n_iter_no_change`` exactly as given.
        On small data every epoch runs: stopping on the training objective
        cut short fits that recover after meeting a level. On Adult (32,561
        rows, ``DemographicParity(0.05)``) the default fit stops after about
        18 of 100 epochs at a higher test accuracy and a smaller test gap
        (``benchmarks/default_stop.py``, the performance guide).
    dual_split : "auto", float or None, default="auto"
        Fraction in (0, 1) of the training data held out (stratified by group
        and class) to estimate the data-dependent constraints for the
        multipliers and to pick the best feasible iterate, so that the
        multipliers learn from samples the weights never fit (Cotter et al.
        2019). ``"auto"``: 0.3 when ``margin="auto"``, the training data have
        at least 2,000 rows and a constraint's value on the rows the weights
        fit understates its value on unseen rows (``TruePositiveRate``,
        ``FalsePositiveRate``, ``BoundedGroupLoss``: their
        ``optimistic_in_sample``), else ``None`` (no dual part). The margin
        covers sampling error, not that bias: on 5,000 rows of Adult,
        ``FalsePositiveRate(upper=0.05)`` with ``margin="auto"`` met the level
        on held-out data in 0 of 10 splits without a dual part and in 10 of
        10 with one; on 500 rows of German credit the dual part's own
        sampling error cost 4 points of accuracy for no gain
        (``benchmarks/heldout.py``, the fairness guide). Gaps between groups
        (``EqualizedOdds``) and rates of the predictions alone need none.
        Ignored when no constraint depends on the data.
    distributed : bool, default=False
        Data-parallel training over an initialised ``torch.distributed``
        process group (launch with ``torchrun``; every rank calls ``fit`` with
        the same data and ``random_state``). The module is wrapped in
        ``DistributedDataParallel``, each rank takes ``batch_size`` samples of
        every global batch, and the statistics of data-dependent constraints
        are averaged across ranks before every dual update, so all ranks hold
        identical multipliers. See the "Scaling out" guide.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` trains ``max_epochs``
        more epochs from the full state of the previous fit instead of
        starting afresh: the last training iterate's weights (not the
        returned best or split copy), the primal optimizer's state, the
        method's state, the running statistics of rate constraints, the
        batch order and the random streams; ``history_`` keeps growing. On
        the CPU, ``n`` epochs and then ``m`` more give bit-identical results
        to ``n + m`` epochs in one fit (also across :meth:`save`/:meth:`load`).
        The method and the constraints' names, classes and parameter
        selections must stay the same (levels and the method's parameters may
        change), as must the features, classes and sensitive groups.
    **kwargs : module__<arg>
        Keyword arguments of the module's constructor, skorch's convention
        (``module__hidden_layer_sizes=(32,)``): parameters like any other for
        ``get_params``, ``set_params``, ``clone`` and ``GridSearchCV``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels; ``predict`` returns labels from it.
    n_features_in_ : int
    n_outputs_ : int
        The module's output width (the number of classes).
    input_shape_ : tuple
        The shape of one sample.
    module_ : torch.nn.Module
        The trained module, in evaluation mode (``module_.training`` is
        ``False``: the output ``predict`` uses).
    net_ : skorch.NeuralNet
        The skorch net that trained it.
    method_ : ConstrainedMethod
        The fitted copy of the method (multipliers, dual state).
    multipliers_ : dict of str to ndarray
        Final Lagrange multipliers (the fixed penalties for ``"fp"``).
    feasible_ : bool
        Whether every constraint holds on the training data, at the user's
        levels, for the returned model.
    constraint_values_ : dict of str to float
        Each constraint's true value on the training data.
    validation_constraint_values_ : dict of str to float
        With a validation part: the values on it.
    early_stopping_ : bool
        Whether ``early_stopping`` was on for this fit (a validation part and
        the stopping rule); ``history_[-1]["stopped"]`` says whether it
        stopped before ``max_epochs``.
    dual_split_ : float or None
        The share of the training rows held out for the multipliers in this
        fit (``None``: none), what ``dual_split`` resolved to.
    history_ : list of dict
        One record per epoch: ``objective``, ``loss`` (the Lagrangian or
        penalised loss), ``constraints`` (values), ``violations``,
        ``largest_violations``, ``multipliers``, ``penalty``, ``duration``;
        ``selection`` (the true values and objective of the epoch's check),
        ``valid_objective``/``valid_constraints``, ``margins``; ``selected``
        on the returned epoch; ``stopped`` on the last epoch of a fit that
        stopped by itself. The guide "Reading history_" lists them all.
    n_iter_ : int
        Epochs run (over every ``warm_start`` continuation).
    best_epoch_ : int
        The epoch whose state ``module_`` holds (see Notes).
    selection_reason_ : str
        Why that epoch was returned.
    group_labels_ : ndarray or None
        The groups of ``sensitive_features``, in the order of the multipliers.

    Notes
    -----
    **The returned model.** With weight constraints only (and no
    validation part), the last epoch when it meets every level. Otherwise,
    each epoch is checked as ``predict`` sees it (on the validation part,
    or on the training data when a constraint depends on the data) and the
    feasible epoch with the lowest objective is returned. When no epoch
    meets every level (a rate the data cannot reach, contradictory
    constraints, too short a budget), ``fit`` still finishes: it returns the
    epoch with the best worse rank by objective and by violation (the rule
    of TFCO's ``find_best_candidate_index``: never an untrained model for a
    slightly smaller violation), sets ``feasible_ = False`` and warns with
    the values against the levels and the epoch returned.

    **Divergence.** When the loss, a weight or a multiplier becomes NaN or
    infinite, training stops with a :class:`RuntimeWarning` and the model
    returns to the last epoch whose state gives finite outputs on the
    training data (the epoch before, or the best iterate, when the last
    finite epoch's weights already overflow), so predictions are never NaN.
    A resumed (``warm_start``) fit then starts a fresh optimizer.

    **Persistence.** :meth:`save` and :meth:`load` store a fitted estimator
    without pickle (JSON plus tensors read with
    ``torch.load(weights_only=True)``), including what is needed to resume
    training; pickle and joblib also work, with their usual warning: never
    unpickle files you do not trust.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import L2Norm
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=50.0)},
    ...                             max_epochs=20, random_state=0).fit(X, y)
    >>> clf.feasible_, clf.evaluate_constraints(X)["l2"] <= 50.0
    (True, True)
    >>> clf.score(X, y) > 0.9
    True
    """

    def _criterion(self):
        return torch.nn.CrossEntropyLoss

    def _prepare_target(self, y):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "ConstrainedClassifier needs samples of at least 2 classes in the data; got one "
                f"class: {self.classes_[0]!r}."
            )
        return y_enc.astype(np.int64)

    def _n_outputs(self, y_enc):
        return len(self.classes_)

    def _classes(self):
        return self.classes_

    def _encode_target(self, y):
        y = column_or_1d(y)
        index = {c: i for i, c in enumerate(self.classes_)}
        try:
            return np.array([index[v] for v in y], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(
                f"`y` contains a label not seen during fit: {exc.args[0]!r}."
            ) from None

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits, computed in float64).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return torch.softmax(self._forward(X), dim=1).numpy()

    def predict(self, X):
        """Predicted labels, taken from ``classes_``."""
        index = self._forward(X).argmax(dim=1).numpy()
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.sparse = True
        return tags
