"""The student's names, as a probe reaches them: through the notebook's namespace."""


def student(namespace, name):
    """What ``name`` means in the notebook: a NameError worded as Python's when the
    notebook defines no such name (as if the probe had used it as a free name)."""
    try:
        return namespace[name]
    except KeyError:
        raise NameError(f"name {name!r} is not defined") from None
