"""ftcore: a thin, trustworthy core for fine-tuning pretrained Keras 3 and TensorFlow models.

The package is split by concern; each module imports TensorFlow or Keras only when
it needs them, so ``import ftcore`` and ``ftcore --help`` stay instant.

    >>> import ftcore
    >>> ftcore.__version__
    '0.1.0'
"""

__version__ = "0.1.0"
