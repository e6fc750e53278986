"""Suite-wide: every log line the suite produces is kept and searched for secrets at the end (issue 11, §11).

A session-scoped handler on the root logger writes every record of this test process (message, extra fields and
exception text, *before* any redaction) to ``<basetemp>/../suite-logs/<worker>.log``. Server processes started
by tests append their whole output there too (``tests/cli/server_process.py``). Every secret the code under test
generates (refresh tokens, one-time passwords: anything from ``secrets.token_urlsafe``) is recorded as well. When
the session ends, the controlling process reads every log file and fails the run if one holds a known test
password, a generated secret, a JWT or a bearer token (``tests/log_secrets.py``).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.log_secrets import RawRecordFormatter, find_leaks, known_secrets_file, suite_log_dir

# the MongoDB fixtures (a real server or the in-process emulation) for tests/contract and tests/adapters/mongo
pytest_plugins = ["tests.support.mongo_fixtures"]

# INFO and above: what a production log holds (DEBUG would add every SQL statement of the drivers)
CAPTURE_LEVEL = logging.INFO


def _worker(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


@pytest.fixture(scope="session", autouse=True)
def suite_logs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Capture every log record of this process, and every secret it generates, for the final leak search."""
    directory = suite_log_dir(tmp_path_factory.getbasetemp())
    directory.mkdir(parents=True, exist_ok=True)
    worker = _worker(request.config)
    os.environ["RECEIPTCORE_TEST_LOG_DIR"] = str(directory)
    handler = logging.FileHandler(directory / f"{worker}.log", encoding="utf-8")
    handler.setLevel(CAPTURE_LEVEL)
    handler.setFormatter(RawRecordFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(CAPTURE_LEVEL)
    original = secrets.token_urlsafe
    generated = known_secrets_file(directory, worker).open("a", encoding="utf-8")

    def recording_token_urlsafe(nbytes: int | None = None) -> str:
        value = original(nbytes)
        generated.write(value + "\n")
        generated.flush()
        return value

    secrets.token_urlsafe = recording_token_urlsafe
    try:
        yield directory
    finally:
        secrets.token_urlsafe = original
        generated.close()
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()


@pytest.fixture(autouse=True)
def _fresh_logging_per_test() -> Iterator[None]:
    """Undo what a CLI command run in-process configured (``receiptcore.entrypoints.logs.configure_logging``):
    its handler on a stream that is gone after the test, and a root level that would hide records from the
    suite's capture in later tests."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "receiptcore":
            root.removeHandler(handler)
    root.setLevel(CAPTURE_LEVEL)
    logging.getLogger("uvicorn.access").disabled = False


# the tests that start a whole topology or a browser: one at a time, on one worker (the name is the one
# tests/system/test_topology.py gives its own tests), so that two of them never share the machine's cores
SERVER_TESTS_GROUP = "system-topology"
SERVER_TEST_DIRS = ("tests/e2e/", "tests/system/")
# modules whose module fixture is cheap and whose tests each take minutes: spread over the workers (each seeds its
# own fixture) instead of kept together
SPREAD_MODULES = ("tests/api/test_fuzz_api.py::",)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """xdist groups for ``--dist loadgroup`` (``make test``) beyond the adapters' (tests/contract/conftest.py).

    The end-to-end and system tests form one group (``SERVER_TESTS_GROUP``). Other tests sharing a module-,
    package- or session-scoped fixture (a server process, a built wheel) stay on one worker too, so that no worker
    starts its own copy; their group is where the fixture is defined (a test module, or a conftest.py's
    directory). Suite-wide fixtures (this file's, pytest's) group nothing; a test's own ``xdist_group`` wins.
    """
    for item in items:
        if item.nodeid.startswith(SERVER_TEST_DIRS):
            item.add_marker(pytest.mark.xdist_group(SERVER_TESTS_GROUP))
            continue
        if item.get_closest_marker("xdist_group") is not None or item.nodeid.startswith(SPREAD_MODULES):
            continue
        fixture_info = getattr(item, "_fixtureinfo", None)
        if fixture_info is None:
            continue
        shared = sorted(
            definition.baseid
            for name in fixture_info.names_closure
            for definition in fixture_info.name2fixturedefs.get(name, ())
            if definition.scope != "function" and definition.baseid not in {"", "tests"}
        )
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the controlling process only (after every xdist worker): search all captured logs for secrets."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    directory = suite_log_dir(factory.getbasetemp())
    if not directory.is_dir():
        return
    leaks = find_leaks(directory)
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  {leak}" for leak in leaks[:20])
        message = f"secrets found in the suite's logs ({len(leaks)}):\n{lines}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header() -> list[str]:
    """Say which MongoDB the suites run on (a real server or the in-process emulation)."""
    from tests.support.mongo_fixtures import mongo_header

    return [mongo_header()]
