"""One way for tests to say what a check's verdict must be."""

PASS = "✔"


def assert_verdict(verdict, fragment: str) -> None:
    """`fragment == PASS`: the check passed; otherwise it failed, and its message holds
    `fragment`."""
    if fragment == PASS:
        assert verdict.passed, str(verdict)
    else:
        assert not verdict.passed and fragment in verdict.message, verdict.message
