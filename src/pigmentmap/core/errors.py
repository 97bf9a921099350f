"""The one exception type that carries a message meant for the user."""


class PigmentmapError(ValueError):
    """Bad input or an impossible request, explained in one line.

    The command line prints the message alone (no traceback unless ``--debug``) and exits
    non-zero.

    Examples
    --------
    >>> try:
    ...     raise PigmentmapError("unknown pigment 'unobtainium'")
    ... except PigmentmapError as err:
    ...     print(err)
    unknown pigment 'unobtainium'
    """
