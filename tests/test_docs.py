"""The API pages document every public name of nla."""

import re
from pathlib import Path

import nla

API = Path(__file__).resolve().parents[1] / "docs" / "api"


def documented_names():
    names = set()
    for page in API.glob("*.rst"):
        text = page.read_text()
        names.update(re.findall(r"^\.\. auto(?:function|class):: (\w+)", text, re.M))
        for block in re.findall(r"^\.\. autosummary::\n((?:[ \t]+.*\n|\n)+)", text, re.M):
            names.update(line.strip() for line in block.splitlines()
                         if line.strip() and not line.strip().startswith(":"))
    return names


def test_every_public_name_is_on_an_api_page():
    public = {name for name in nla.__all__ if not name.startswith("__")}
    assert sorted(public - documented_names()) == []
    assert sorted(documented_names() - set(nla.__all__)) == []

