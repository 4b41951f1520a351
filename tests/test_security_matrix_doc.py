"""docs/security-matrix.md is what the services' policies say."""

import subprocess
import sys

from gov_common.testing import REPO_ROOT


def test_the_committed_matrix_matches_the_policies() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/security_matrix.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
