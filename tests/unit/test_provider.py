"""The distribution registers itself as an Airflow provider: both connection types with their
form fields, discovered the way the UI discovers them (entry point → ProvidersManager)."""

from __future__ import annotations

import pytest

from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.provider import PACKAGE, get_provider_info


@pytest.fixture(scope="module")
def manager():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    pm.initialize_providers_hooks()
    return pm


def test_the_entry_point_is_installed_and_found(manager) -> None:
    assert PACKAGE in manager.providers, "run 'make install': it installs the project with its provider entry point"
    assert manager.providers[PACKAGE].data["connection-types"] == get_provider_info()["connection-types"]


@pytest.mark.parametrize(("conn_type", "hook", "fields"), [
    ("cloudinary", CloudinaryHook, {"auth_token_key", "private_cdn", "upload_prefix", "delivery_host", "timeout"}),
    ("photoshelter", PhotoShelterHook, {"api_key", "org_id", "api_version", "timeout", "metadata_write"}),
])
def test_connection_type_form(manager, conn_type: str, hook: type, fields: set[str]) -> None:
    assert manager.hooks[conn_type].hook_class_name == f"{hook.__module__}.{hook.__name__}"
    assert manager.hooks[conn_type].hook_name == hook.hook_name and hook.conn_type == conn_type
    widgets = {name.split("__")[-1]: info for name, info in manager.connection_form_widgets.items()
               if name.startswith(f"extra__{conn_type}__")}
    assert fields <= set(widgets)
    secret = "auth_token_key" if conn_type == "cloudinary" else "api_key"
    assert widgets[secret].is_sensitive  # masked in the form and in the API's answers
    assert all(info.field["schema"].get("title") and info.field["description"] for info in widgets.values())
    behaviour = manager.field_behaviours[conn_type]
    assert behaviour["hidden_fields"] == ["schema"]  # the port stays: see provider.HIDDEN
    assert hook.get_ui_field_behaviour()["relabeling"] == behaviour["relabeling"]


def test_operators_and_hooks_modules_import(manager) -> None:
    import importlib

    info = get_provider_info()
    for group in ("hooks", "operators", "triggers"):
        for entry in info[group]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    [plugin] = info["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    assert getattr(importlib.import_module(module), name).name == plugin["name"]


def extras_read(*modules: str) -> set[str]:
    """The connection extras these hook modules read (``extras.get("x")`` / ``extras["x"]``)."""
    import importlib
    import inspect
    import re

    source = "".join(inspect.getsource(importlib.import_module(m)) for m in modules)
    return set(re.findall(r"""extras(?:\.get\(|\[)["'](\w+)["']""", source))


@pytest.mark.parametrize(("connection", "modules"), [
    ("CLOUDINARY", ("campaign_media.hooks.cloudinary", "campaign_media.hooks.retry")),
    ("PHOTOSHELTER", ("campaign_media.hooks.photoshelter", "campaign_media.hooks.retry")),
])
def test_every_extra_a_hook_reads_is_on_the_form_or_documented_as_json(connection, modules) -> None:
    from campaign_media import provider

    declared = provider.__dict__[connection]
    documented = set(declared["conn-fields"]) | set(provider.JSON_ONLY.get(declared["connection-type"], {}))
    read = extras_read(*modules)
    assert read and read == documented, {"read, not documented": read - documented,
                                         "documented, never read": documented - read}


def test_the_forms_defaults_are_the_hooks_own() -> None:
    from campaign_media.hooks import photoshelter
    from campaign_media.hooks.retry import RetryPolicy
    from campaign_media.provider import PHOTOSHELTER, RETRY_FIELDS

    policy = RetryPolicy()
    assert [RETRY_FIELDS[k]["schema"]["default"] for k in ("retry_base_delay", "retry_max_delay",
                                                           "retry_budget_seconds")] == \
        [policy.base_delay, policy.max_delay, policy.budget_seconds]
    assert RETRY_FIELDS["max_retries"]["schema"]["default"] + 1 == policy.max_attempts
    fields = PHOTOSHELTER["conn-fields"]
    assert fields["api_path"]["schema"]["default"] == photoshelter.API_PATH
    assert fields["video_download_path"]["schema"]["default"] == photoshelter.VIDEO_DOWNLOAD_PATH


def test_the_operators_page_lists_every_extra_as_the_provider_declares_it() -> None:
    from campaign_media.provider import CLOUDINARY, PHOTOSHELTER, extras_table
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "operators.md").read_text(encoding="utf-8")
    for connection in (CLOUDINARY, PHOTOSHELTER):
        assert extras_table(connection) in page, "docs/operators.md: paste python -c 'from campaign_media.provider " \
            "import *; print(extras_table(CLOUDINARY)); print(extras_table(PHOTOSHELTER))'"
