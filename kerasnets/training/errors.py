"""The error of a training run that cannot start as asked."""


class ConfigurationError(ValueError):
    """An unknown recipe, setting or value (the command line reports it in one line, exit code 2)."""
