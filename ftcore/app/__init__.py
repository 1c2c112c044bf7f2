"""The applications on top of the library: the ``ftcore`` command line and ``ftcore demo``."""
