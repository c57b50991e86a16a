"""What the README and the guides tell people to type is what ewe takes."""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest

from ewe.cli import _parser
from streams.settings import Settings

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shell_commands(text: str) -> list[str]:
    """The `ewe ...` command lines of a document's shell blocks, optional parts (`[...]`) left
    out, whether run directly, after `&&` or inside `docker compose exec SERVICE`."""
    lines, fence = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
        elif fence in ("sh", "bash", ""):
            lines.append(line)
    found = []
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        line = re.sub(r"\[[^\]]*\]", "", re.sub(r"\s+#.*$", "", line))
        for part in re.split(r"&&|;|\|", line):
            part = re.sub(r"^.*?\bexec \S+ ", "", part.strip())
            if part.startswith("ewe "):
                found.append(part)
    return found


COMMANDS = [(path.name, command) for path in DOCS for command in shell_commands(path.read_text())]


def test_the_guides_show_commands_at_all():
    assert {name for name, _ in COMMANDS} >= {"README.md", "operator-guide.md",
                                              "rule-author-guide.md"}


@pytest.mark.parametrize(("document", "command"), COMMANDS,
                         ids=[f"{name}:{command[:40]}" for name, command in COMMANDS])
def test_every_command_the_docs_show_is_one_ewe_takes(document, command):
    try:
        _parser().parse_args(shlex.split(command)[1:])
    except SystemExit:
        pytest.fail(f"{document}: `{command}` is refused by ewe's command line")


def test_every_environment_variable_the_docs_name_is_one_ewe_reads():
    known = {f"EWE_{spec.name.upper()}" for spec in fields(Settings)} | {
        "EWE_CONFIG", "EWE_HEALTH_URL"}
    named = {name for path in DOCS for name in re.findall(r"\bEWE_[A-Z_]+", path.read_text())}
    assert named <= known, named - known


# -- the API guide's session, run as printed -------------------------------------------------------
def curl_calls(text: str) -> list[tuple[str, str, dict, str | None, int | None]]:
    """(method, url, headers, body, expected status) of each `curl` in the shell blocks; the
    status is the `# NNN` comment after the command, None where the guide gives none."""
    lines, fence = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
        elif fence == "sh":
            lines.append(line)
    calls = []
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        if not line.lstrip().startswith("curl "):
            continue
        status = re.search(r"#\s*(\d{3})\s*$", line)
        words = shlex.split(re.sub(r"\s+#.*$", "", line))[1:]
        method, headers, body, url = "GET", {}, None, None
        while words:
            word = words.pop(0)
            if word == "-X":
                method = words.pop(0)
            elif word == "-H":
                name, _, value = words.pop(0).partition(": ")
                headers[name] = value
            elif word == "-d":
                body = words.pop(0)
            elif word == "-o":
                words.pop(0)
            elif not word.startswith("-"):
                url = word
        calls.append((method, url, headers, body, int(status[1]) if status else None))
    return calls


API_GUIDE = (ROOT / "docs" / "api-guide.md").read_text()


def test_the_api_guides_session_answers_as_printed(store, clock):
    from center_records import alert_record
    from test_center_api import Api

    api = Api(store, clock)
    record = alert_record(rule="fire.reports", key="B0193", severity="orange", category="fire")
    api.ledger.ingest([record])
    names = {"$ADMIN": api.tokens["admin"], "$INGEST": api.tokens["ingest"],
             "$ALERT": record["id"], "$EWE": ""}
    checked = 0
    for method, url, headers, body, status in curl_calls(API_GUIDE):
        if status is None:       # the feed never ends; events go to the ingest (below)
            continue
        for name, value in names.items():
            url = url.replace(name, value)
            headers = {key: text.replace(name, value) for key, text in headers.items()}
        answer = api.client.request(method, url, headers=headers,
                                    content=body.encode() if body else None)
        assert answer.status_code == status, (method, url, body, answer.text)
        if url == "/v1/tokens":
            names["$TOKEN"] = answer.json()["token"]
        checked += 1
    assert checked >= 15
    assert api.call("GET", f"/v1/alerts/{record['id']}").json()["state"] == "closed"


def test_the_api_guides_events_are_taken_and_refused_as_printed():
    from engine.events import EventError, decode

    [(_, url, _, body, _)] = [call for call in curl_calls(API_GUIDE) if "/v1/events" in call[1]]
    answer = json.loads(re.search(r'```json\n(\{"accepted".*?)\n```', API_GUIDE, re.S)[1])
    reasons = []
    for index, event in enumerate(json.loads(body)):
        try:
            decode(json.dumps(event).encode())
        except EventError as error:
            reasons.append({"index": index, "reason": str(error)})
    assert reasons == answer["rejections"]
    assert answer["accepted"] == len(json.loads(body)) - len(reasons)


# -- the rule author guide's files, checked and tested as printed ----------------------------------
RULE_GUIDE = (ROOT / "docs" / "rule-author-guide.md").read_text()


def guide_files(tmp_path: Path) -> dict[str, Path]:
    """The guide's YAML blocks that begin with `# PATH`, written under tmp_path."""
    written = {}
    for block in re.findall(r"```yaml\n(# (\S+)\n.*?)```", RULE_GUIDE, re.S):
        text, name = block
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written[name] = path
    return written


def test_the_rule_author_guides_files_pass_check_and_test(tmp_path, capsys):
    from ewe.cli import main

    files = guide_files(tmp_path)
    assert set(files) == {"hydrants.yaml", "tests/hydrants.test.yaml", "duty.yaml"}
    assert main(["rules", "check", str(files["hydrants.yaml"]), str(files["duty.yaml"])]) == 0
    assert main(["rules", "test", str(tmp_path / "tests")]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out


def test_the_rule_author_guides_slips_are_reported_as_printed(tmp_path, capsys, monkeypatch):
    from ewe.cli import main

    rule = guide_files(tmp_path)["hydrants.yaml"]
    rule.write_text(rule.read_text().replace("match: {type:", "match: {typ:")
                    .replace("clear_for: 10m", "clear_for: 10 minutes"))
    monkeypatch.chdir(tmp_path)
    assert main(["rules", "check", "hydrants.yaml"]) == 1
    printed = re.search(r"```text\n(hydrants\.yaml:.*?)```", RULE_GUIDE, re.S)[1]
    output = capsys.readouterr()
    assert output.out + output.err == printed
