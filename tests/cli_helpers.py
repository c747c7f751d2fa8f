"""Running the CLI in tests: status and output, and the one-line error every bad input must give."""
from __future__ import annotations

from featvec.cli import main


def run(capsys, *argv):
    """main(argv) -> (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def assert_one_line_error(status, err, *parts):
    assert status == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("featvec: error: ")
    for p in parts:
        assert p in lines[0], lines[0]
