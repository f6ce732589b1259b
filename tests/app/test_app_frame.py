"""The frame a user sees in any browser: Material icons (no emoji font needed), and the Streamlit
settings in .streamlit/config.toml that `streamlit run app.py` (make run) reads from the repo root."""
from __future__ import annotations

import re
import tomllib

from core.config import REPO_ROOT
from ui_support import PAGES

EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
CONFIG = REPO_ROOT / ".streamlit" / "config.toml"


def test_navigation_and_titles_use_material_icons_not_emoji() -> None:
    assert all(re.fullmatch(r":material/[a-z_]+:", p.icon) for p in PAGES)
    for path in [REPO_ROOT / "app.py", REPO_ROOT / "pages" / "common.py", *(REPO_ROOT / p.path for p in PAGES)]:
        source = path.read_text()
        assert not EMOJI.search(source), f"{path.name} still has an emoji: {EMOJI.findall(source)}"
        for title in re.findall(r"st\.title\(f?\"([^\"]+)\"", source):
            assert title.startswith(":material/"), f"{path.name}: {title}"


def test_config_hides_the_deploy_button_and_the_file_watcher() -> None:
    config = tomllib.loads(CONFIG.read_text())
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["server"]["fileWatcherType"] == "none"
    assert config["theme"]["primaryColor"]


def test_streamlit_reads_the_config_from_the_repo_root(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from streamlit import config

    monkeypatch.chdir(REPO_ROOT)
    config.get_config_options(force_reparse=True)
    try:
        assert config.get_option("client.toolbarMode") == "viewer"
        assert config.get_option("server.fileWatcherType") == "none"
    finally:
        config.get_config_options(force_reparse=True)
