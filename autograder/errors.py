"""The one error type the command line prints as a single line, without a traceback."""


class UsageError(Exception):
    """A problem the instructor can fix (a bad path, an unknown assignment, no results
    yet, a gradebook of another course); ``python -m autograder`` prints it as one line
    on stderr and exits with status 2."""
