"""The one error type for user mistakes: caught once by the CLI and printed as one line."""


class UserError(Exception):
    """A mistake in what the user asked for or gave us (bad path, bad option, bad file).

    The message is a complete sentence meant for a human; the CLI prints it without a traceback.
    Bugs are not UserErrors: they keep their tracebacks.
    """
