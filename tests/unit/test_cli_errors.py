"""The command line says a missing connection or an unreachable service in one line, with what to
do, and exits 2 (a traceback is for bugs)."""

from __future__ import annotations

import pytest

from campaign_media.account.doctor import plain_error
from campaign_media.cli import main
from campaign_media.hooks.retry import RetryBudgetExceeded


def test_a_missing_connection_is_one_line_naming_where_to_define_it(monkeypatch, capsys) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", raising=False)
    assert main(["check-account"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "photoshelter_default" in err and "airflow connections add" in err


def test_an_unreachable_service_is_not_told_to_retry_a_task() -> None:
    said = plain_error(RetryBudgetExceeded("POST mem/authenticate failed after 2 attempt(s): refused. The service "
                                           "kept answering with a transient error; retry the task later …"))
    assert said.startswith("POST mem/authenticate failed") and "task" not in said and "host" in said
    assert plain_error(ZeroDivisionError()) is None  # a bug keeps its traceback
    with pytest.raises(SystemExit):
        main(["--version"])


def test_a_database_that_cannot_be_read_is_one_line_saying_where_to_run() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    said = plain_error(OperationalError("SELECT 1 FROM job", {}, sqlite3.OperationalError("no such table: job")))
    assert said == ("Airflow's metadata database could not be read (no such table: job). Run this where airflow "
                    "commands work, after airflow db migrate")
