"""Fixtures of the opsbell end-to-end suite.

Environment (scripts/check.sh sets both):
  OPSBELL_BIN          absolute path of the binary under test
  OPSBELL_TEST_PG_URL  postgres://... of a throwaway server, or empty (the
                       PostgreSQL tests are then skipped, with the reason)

Every test gets its own directory (pytest's tmp_path) with a complete
configuration, its own port and its own SQLite file; every process a test
starts is killed when the test ends, whatever its outcome.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_support import Env, opsbell_bin  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs OPSBELL_TEST_PG_URL")


@pytest.fixture(scope="session")
def binary():
    path = opsbell_bin()
    if not os.path.isabs(path) or not os.access(path, os.X_OK):
        pytest.fail("OPSBELL_BIN must be the absolute path of an executable opsbell binary, "
                    "not %r (build it with `make BUILD=dev build/dev/opsbell`)" % path)
    return path


@pytest.fixture
def env(tmp_path, binary):
    """A complete configuration tree (no daemon running yet)."""
    e = Env(tmp_path / "cfg")
    yield e
    e.cleanup()


@pytest.fixture
def make_env(tmp_path, binary):
    """Factory for configuration trees with non-default settings."""
    made = []

    def make(name="cfg", **kw):
        e = Env(tmp_path / name, **kw)
        made.append(e)
        return e

    yield make
    failures = []
    for e in made:  # stop every process before reporting anything
        try:
            e.cleanup()
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


@pytest.fixture
def admin_token(env):
    """Secret of an admin token for every team, made with `opsbell token create`
    (stdout is the secret alone)."""
    r = env.local("token", "create", "--name", "admin", "--scope", "admin")
    assert r.code == 0, r
    secret = r.stdout.strip()
    assert r.stdout == secret + "\n", "stdout must be the secret alone: %r" % r.stdout
    assert secret.startswith("obt_") and len(secret) == 47, secret
    return secret


@pytest.fixture
def daemon(env, admin_token):
    """The daemon serving `env`, healthy. The admin token is made first, with
    the daemon not yet running (tests of the CLI changing the store under a
    running daemon are in test_storage.py). Stopped by env's cleanup."""
    return env.daemon()


@pytest.fixture
def pg_url():
    url = os.environ.get("OPSBELL_TEST_PG_URL", "")
    if not url:
        pytest.skip("OPSBELL_TEST_PG_URL is empty: no PostgreSQL server to test against "
                    "(scripts/check.sh starts one with scripts/pg-test.sh)")
    return url


# ---- alert ingestion (test_ingest_*.py) ------------------------------------

from e2e_support import Ingest, setup_ingest_env  # noqa: E402


@pytest.fixture
def make_ingest(make_env):
    """Factory: a configuration with the ingestion team (teams/ops, see
    e2e_support.OPS_YAML), an admin token and (unless start=False) the
    daemon running. Returns an e2e_support.Ingest."""

    def make(name="ingest", storage=None, heartbeat=False, start=True,
             max_body_bytes=4 * 1024 * 1024, threads=8):
        e = make_env(name, storage=storage, max_body_bytes=max_body_bytes, threads=threads)
        setup_ingest_env(e, heartbeat=heartbeat)
        name = "ingest-admin-" + os.urandom(5).hex()
        token = e.token_secret(name=name, scope="admin")
        d = e.daemon() if start else None
        return Ingest(e, d, token, token_name=name)

    return make


@pytest.fixture
def ingest(make_ingest):
    """The daemon with the ingestion team, running, and an admin token."""
    return make_ingest()
