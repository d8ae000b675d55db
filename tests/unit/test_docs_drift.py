"""The docs cannot drift from the code: every setting, CLI command and flag, DAG ID, operator and
repository path the README and docs/ name exists, and every setting, command, flag, DAG and
operator the code has is named in them. (The settings, connection extras and file keys are
also written from the code into their pages: test_settings, test_provider, test_file_references.)"""

from __future__ import annotations

import argparse
import inspect
import re

from campaign_media import settings
from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the CHANGELOG is history: left out
TEXT = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
ROOTS = ("plugins", "tests", "docs", "scripts", "bench", "emulators", "include", "dags", "deploy")
# campaign_media_* words that are not DAG IDs: the DAG files, the wheel's file name, the sign-off key's
# connection (also a DAG's ID), and the plugin's name.
NOT_DAGS = {"campaign_media_markets", "campaign_media_pipelines", "campaign_media_page"}


def named(pattern: str) -> set[str]:
    return set(re.findall(pattern, TEXT))


def commands() -> dict[str, set[str]]:
    """The CLI's subcommands and each one's flags, from its parser."""
    from campaign_media.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o for a in p._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
            for name, p in sub.choices.items()}


def dag_ids() -> set[str]:
    from campaign_media.dags import lifecycle_dags

    # and the stand-in that exists only while a market or campaign file does not validate
    return set(lifecycle_dags()) | {"campaign_media_invalid_market_files"}


def operators() -> set[str]:
    import campaign_media.operators as package
    from campaign_media.provider import get_provider_info

    modules = [m for entry in get_provider_info()["operators"] for m in entry["python-modules"]]
    found = set()
    for module in modules:
        mod = __import__(module, fromlist=["_"])
        found |= {name for name, obj in vars(mod).items() if inspect.isclass(obj) and name.endswith("Operator")
                  and not name.startswith("_") and obj.__module__.startswith(package.__name__)}
    return found


def test_every_setting_the_docs_name_exists_and_every_setting_is_documented() -> None:
    keys = set(settings.SETTINGS) | {s.old_key for s in settings.SETTINGS.values() if s.old_key}
    mentioned = named(r"\[campaign_media\] (?!section\b)([a-z_]+)") | \
        {k.lower() for k in named(r"AIRFLOW__CAMPAIGN_MEDIA__(\w+)")}
    assert not mentioned - keys, f"the docs name settings the code does not have: {sorted(mentioned - keys)}"
    assert not set(settings.SETTINGS) - named(r"`(\w+)`"), "settings no page names"


def test_every_command_and_flag_the_docs_name_exists_and_each_is_documented() -> None:
    have = commands()
    invoked = named(r"(?m)(?:^\s*|`|\$ )campaign-media ([a-z][\w-]*)") | named(r"campaign_media\.cli ([a-z][\w-]*)")
    assert not invoked - set(have), f"the docs run commands the CLI lacks: {sorted(invoked - set(have))}"
    assert not set(have) - invoked, f"commands no page shows how to run: {sorted(set(have) - invoked)}"
    undocumented = {flag for options in have.values() for flag in options} - named(r"(--[a-z][\w-]*)")
    assert not undocumented, f"flags no page names: {sorted(undocumented)}"


def test_every_dag_the_docs_name_exists_and_every_dag_is_documented() -> None:
    have = dag_ids()
    mentioned = {d for d in named(r"\b(campaign_media_[a-z_]+)\b") if d not in NOT_DAGS
                 and not d.startswith("campaign_media_market_")}  # a market's DAG: campaign_media_market_<code>
    assert not mentioned - have, f"the docs name DAGs that do not exist: {sorted(mentioned - have)}"
    dags_page = (ROOT / "docs" / "dags.md").read_text(encoding="utf-8")
    fixed = {d for d in have if not d.startswith("campaign_media_market_")}
    assert not {d for d in fixed if d not in dags_page}, "DAGs docs/dags.md does not name"


def test_every_operator_the_docs_name_exists_and_every_operator_is_documented() -> None:
    have = operators()
    airflow_own = {"BaseOperator", "HITLOperator", "EmptyOperator", "PythonOperator"}
    mentioned = named(r"\b([A-Z][A-Za-z]+Operator)\b") - airflow_own
    assert not mentioned - have, f"the docs name operators that do not exist: {sorted(mentioned - have)}"
    page = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8")
    assert not {o for o in have if f"`{o}" not in page}, "operators docs/operators.md does not list"


def test_every_repository_path_the_docs_name_exists() -> None:
    spans = named(r"`([^`\n]+)`")
    paths = {s.split("::")[0].rstrip(".,:;)") for s in spans
             if s.split("/")[0] in ROOTS and "/" in s and not re.search(r"[<*…{ ]|\.\.\.", s)}
    assert len(paths) > 20
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"paths the docs name that do not exist: {missing}"
