"""Files as people have them: cp1252 rules and mappings, huge cells, header-only CSVs, bad host names,
output paths whose folders are missing or are files. Through the CLI, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.errors import TransportError

from .conftest import RunCli

NO_SUCH_HOST = "https://d365lab-no-such-host.invalid"   # .invalid never resolves (RFC 6761)


def _error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def test_rules_file_in_cp1252_is_read_like_the_csv(cli: RunCli, workdir: Path) -> None:
    assert cli("backlog", "import", "leads-example.csv").exit_code == 1   # 6 leads (some rows rejected)
    rules = workdir / "règles.yaml"
    rules.write_bytes("rules:\n  - name: société à rappeler\n    action: disqualify\n    reason: lost\n"
                      .encode("cp1252"))
    result = cli("backlog", "triage", str(rules), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "société à rappeler" in result.output


def test_mapping_file_in_cp1252_is_read_like_the_csv(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    (workdir / "map.yaml").write_bytes("columns: {Intérêt: description}\nignore: [N° badge]\n".encode("cp1252"))
    (workdir / "salon.csv").write_bytes("Sujet;Nom;Intérêt;N° badge\nSalon;Dupont;Café crème;12\n"
                                        .encode("cp1252"))
    result = cli("backlog", "import", "salon.csv", "--mapping", "map.yaml")
    assert result.exit_code == 0, result.output
    lead = tenant.records.first("lead", filter="lastname eq 'Dupont'", select=["description"])
    assert lead is not None and lead["description"] == "Café crème"


@pytest.mark.parametrize("kind", ["rules", "mapping"])
def test_undecodable_rules_or_mapping_file_is_named(kind: str, cli: RunCli, workdir: Path,
                                                    tenant: DataverseClient) -> None:
    bad = workdir / f"bad-{kind}.yaml"
    bad.write_bytes(b"columns: {Int\x81\xff: description}\n")    # neither UTF-8 nor cp1252 (0x81 is unassigned)
    if kind == "rules":
        result = cli("backlog", "triage", str(bad), "--dry-run")
    else:
        result = cli("backlog", "import", "leads-example.csv", "--mapping", str(bad))
    assert result.exit_code == 2
    line = _error_line(result.output)
    assert str(bad) in line and "neither UTF-8 nor Windows-1252" in line
    assert tenant.records.count("lead") == 0


def test_a_cell_over_128_kb_rejects_its_row_only(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    huge = "x" * 200_000
    (workdir / "big.csv").write_text(f"Topic,Last Name,Description\nA,Alpha,short\nB,Bravo,{huge}\nC,Charlie,ok\n",
                                     encoding="utf-8")
    result = cli("backlog", "import", "big.csv", "--rejects", "big.rejects.csv")
    assert result.exit_code == 1, result.output
    assert sorted(r["lastname"] for r in tenant.records.list("lead", select=["lastname"])) == ["Alpha", "Charlie"]
    rejects = (workdir / "big.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rejects) == 2 and rejects[1].startswith("3,Description,"), rejects
    assert "200,000 characters" in rejects[1]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_header_only_csv_says_so_and_exits_2(dry_run: bool, cli: RunCli, workdir: Path) -> None:
    (workdir / "empty.csv").write_text("Topic;Last Name;Email\n\n;;\n", encoding="utf-8")
    result = cli("backlog", "import", "empty.csv", *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 2
    assert "no data rows" in _error_line(result.output)


def test_an_unresolvable_host_fails_at_once_with_cannot_resolve() -> None:
    sleeps: list[float] = []
    with DataverseClient(NO_SUCH_HOST, StaticTokenProvider("t"), sleeper=sleeps.append) as client:
        with pytest.raises(TransportError, match="cannot resolve the host name 'd365lab-no-such-host.invalid'"):
            client.whoami()
        assert sleeps == [] and client.request_count == 1   # no retry, no backoff


def test_the_cli_says_cannot_resolve_for_an_unresolvable_host(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", NO_SUCH_HOST)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", "t")
    result = cli("backlog", "import", "leads-example.csv", "--dry-run")
    assert result.exit_code == 2
    assert "cannot resolve the host name" in _error_line(result.output)


_OUTPUTS = {
    "--rejects": ["backlog", "import", "leads-example.csv", "--rejects"],
    "--results": ["backlog", "triage", "rules-example.yaml", "--no-progress", "--results"],
    "--journal": ["backlog", "triage", "rules-example.yaml", "--no-progress", "--journal"],
    "--output": ["pipeline", "--format", "html", "--output"],
}


@pytest.mark.parametrize("option", list(_OUTPUTS))
def test_an_output_in_a_missing_folder_is_refused_the_same_way_for_every_option(
        option: str, cli: RunCli, workdir: Path) -> None:
    target = workdir / "no-such-folder" / "deeper" / "out.csv"
    result = cli(*_OUTPUTS[option], str(target))
    assert result.exit_code == 2
    assert _error_line(result.output) == (f"error: {option}: cannot write {target}: the folder "
                                          f"{target.parent} does not exist; create it first")
    assert not (workdir / "no-such-folder").exists()


@pytest.mark.parametrize("option", list(_OUTPUTS))
def test_an_output_under_a_file_says_not_a_directory(option: str, cli: RunCli, workdir: Path) -> None:
    (workdir / "a-file").write_text("not a folder")
    target = workdir / "a-file" / "sub" / "out.csv"
    result = cli(*_OUTPUTS[option], str(target))
    assert result.exit_code == 2
    assert _error_line(result.output) == (f"error: {option}: cannot write {target}: {workdir / 'a-file'} "
                                          "is a file, not a directory")


def test_runs_on_a_missing_journal_creates_nothing(cli: RunCli, workdir: Path) -> None:
    target = workdir / "no-such-folder" / "journal.sqlite"
    result = cli("backlog", "runs", "--journal", str(target))
    assert result.exit_code == 0
    assert f"no triage runs yet (no journal at {target})" in result.output
    assert not (workdir / "no-such-folder").exists()
