"""The command line says a missing connection or an unreachable service in one line, with what to
do, and exits 2 (a traceback is for bugs)."""

from __future__ import annotations

import pytest

from campaign_media.cli import main, plain_error
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
