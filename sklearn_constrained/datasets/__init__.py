"""Small real data sets shipped inside ``sklearn_constrained``.

Nothing is downloaded: the files are bundled in ``datasets/data`` (see the
``README.md`` there for their sources and licences) and each loader's
``DESCR`` is read from ``datasets/descr/<name>.rst``.

- :func:`load_adult`: UCI Adult census income (32,561 train + 16,281 test
  rows), sensitive attributes ``sex`` and ``race``; CC BY 4.0.
- :func:`load_german_credit`: Statlog German Credit (1,000 rows), sensitive
  attributes ``sex`` and ``age``; CC BY 4.0.
- :func:`load_mnist_5k`: 5,000 MNIST digits (28x28); CC BY-SA 3.0.
"""

from ._adult import load_adult
from ._german_credit import load_german_credit
from ._mnist import load_mnist_5k

__all__ = ["load_adult", "load_german_credit", "load_mnist_5k"]
