"""Ward profile validation and schema/migration agreement."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ROOT
from bot.profile import ProfileError, load_profile

SAMPLE = ROOT / "knowledge" / "ward.yaml"


def _write(tmp_path: Path, data) -> Path:
    p = tmp_path / "ward.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _sample() -> dict:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def test_sample_profile_is_valid():
    p = load_profile(SAMPLE)
    assert p.ward.city == "Thành phố Đà Nẵng" and p.unit("ktht") and p.group("tdp-01")


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["centre"].pop("address"), "centre.address"),
    (lambda d: d.__setitem__("residential_groups", []), "residential_groups"),
    (lambda d: d["centre"].__setitem__("phnoe", "1"), "centre.phnoe"),
    (lambda d: d["boundary"].__setitem__("lat", 123), "boundary.lat"),
    (lambda d: d.__setitem__("categories", {"rac-thai": {"unit": "nope"}}), "categories.rac-thai.unit"),
    (lambda d: d["units"][0].__setitem__("chat", {"channel": "fax", "chat_id": 1}), "units.0.chat.channel"),
    # Web chat ids are claimable by anyone: never a staff or unit chat.
    (lambda d: d["units"][1].__setitem__("chat", {"channel": "web", "chat_id": "unit-ca"}), "units.1.chat.channel"),
    (lambda d: d.__setitem__("staff_chat", {"channel": "web", "chat_id": "ward-staff"}), "staff_chat.channel"),
    (lambda d: d.__setitem__("leadership_chat", {"channel": "web", "chat_id": "x"}), "leadership_chat.channel"),
])
def test_profile_errors_name_the_field(tmp_path, mutate, field):
    d = _sample()
    mutate(d)
    with pytest.raises(ProfileError) as e:
        load_profile(_write(tmp_path, d))
    assert field in str(e.value)


def test_broken_yaml_and_missing_file(tmp_path):
    p = tmp_path / "ward.yaml"
    p.write_text("ward: [unclosed", encoding="utf-8")
    with pytest.raises(ProfileError, match="YAML"):
        load_profile(p)
    with pytest.raises(ProfileError, match="không tìm thấy"):
        load_profile(tmp_path / "missing.yaml")


def test_cli_profile_check_reports_the_field(tmp_path, settings):
    import subprocess, sys
    from tests.helpers import bot_env
    d = _sample()
    del d["police"]["phone"]
    bad = _write(tmp_path, d)
    r = subprocess.run([sys.executable, "-m", "bot", "profile", "check"], cwd=ROOT,
                       env=bot_env(settings, WARD_PROFILE=bad), capture_output=True, timeout=60)
    assert r.returncode == 1 and "police.phone" in r.stderr.decode()


def _foreign(d) -> bool:
    """Tables that are not ours: Alembic's own and APScheduler's job store (it creates it)."""
    if not isinstance(d, tuple):
        return False
    obj = d[1]
    table = getattr(obj, "table", obj)
    return d[0] in ("remove_table", "remove_index") and table.name in ("alembic_version", "apscheduler_jobs")


def test_migrations_match_the_models(settings):
    """A model changed without a migration would only show up on a real deployment."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel
    import bot.all_models  # noqa: F401
    from bot.db import make_engine
    eng = make_engine(settings.database_url)
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(ctx, SQLModel.metadata)
                if not _foreign(d)]
    eng.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    from sqlalchemy import text
    from bot.db import make_engine
    eng = make_engine(settings.database_url)
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    eng.dispose()
