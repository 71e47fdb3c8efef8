"""Linear and multi-layer perceptron models."""

from torch import nn

from ._base import SizedModule

__all__ = ["Linear", "MLP"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "logistic": nn.Sigmoid}


class Linear(SizedModule):
    """A linear layer as a module: logistic regression or linear regression.

    Logistic regression (with a softmax cross-entropy) in a classifier, linear
    regression in a regressor.

    Parameters
    ----------
    n_features : int
        Input width.
    n_outputs : int
        Number of outputs (classes for a classifier).
    bias : bool, default=True
        Whether to learn an intercept.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import Linear
    >>> Linear(4, 3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_features, n_outputs, bias=True):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs, bias=bias)

    def forward(self, X):
        return self.linear(X.flatten(1))


class MLP(SizedModule):
    """A multi-layer perceptron.

    Parameters
    ----------
    n_features : int
        Input width (inputs are flattened).
    n_outputs : int
        Number of outputs.
    hidden_layer_sizes : tuple of int, default=(64,)
        Widths of the hidden layers, as in scikit-learn's ``MLPClassifier``.
    activation : {"relu", "tanh", "gelu", "logistic"}, default="relu"
        The hidden activation.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.models import MLP
    >>> net = MLP(8, 2, hidden_layer_sizes=(16, 16))
    >>> net(torch.zeros(5, 8)).shape
    torch.Size([5, 2])
    >>> [n for n, _ in net.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias',
     'layers.4.weight', 'layers.4.bias']
    """

    def __init__(
        self, n_features, n_outputs, hidden_layer_sizes=(64,), activation="relu", dropout=0.0
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown `activation`={activation!r}; choose one of {sorted(_ACTIVATIONS)}."
            )
        layers, width = [], n_features
        for h in hidden_layer_sizes:
            layers += [nn.Linear(width, int(h)), _ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X.flatten(1))
