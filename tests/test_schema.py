"""The pure half of --schema: loading SCHEMA, the request text, reading, validating and repairing answers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo_cli import schema as sc
from mimo_cli.errors import ExitCode, Kind, MimoError

SCENE = sc.concise_schema("title, tags list, people int, speech bool: is anyone talking")


# -- the concise form ------------------------------------------------------------------------------------


def test_concise_example_from_the_spec() -> None:
    assert SCENE == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "people": {"type": "integer"},
            "speech": {"type": "boolean", "description": "is anyone talking"},
        },
        "required": ["title", "tags", "people", "speech"],
    }


def test_concise_newlines_let_descriptions_hold_commas() -> None:
    schema = sc.concise_schema("title: short, catchy\nscore float: 0 to 1, higher is better\n")
    assert schema["properties"]["title"] == {"type": "string", "description": "short, catchy"}
    assert schema["properties"]["score"] == {"type": "number", "description": "0 to 1, higher is better"}
    assert schema["required"] == ["title", "score"]


def test_concise_fields_do_not_share_their_type_dicts() -> None:
    schema = sc.concise_schema("a list, b list")
    schema["properties"]["a"]["items"]["type"] = "integer"
    assert schema["properties"]["b"]["items"] == {"type": "string"}
    assert sc.CONCISE_TYPES["list"]["items"] == {"type": "string"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("title, people integer", "unknown type 'integer'"),
        ("title str extra", "cannot read the field"),
        (" : a description", "cannot read the field"),
        ("title, title int", "given twice"),
        (" , ,\n", "no fields"),
    ],
)
def test_concise_mistakes_are_usage_errors(text: str, needle: str) -> None:
    with pytest.raises(MimoError) as info:
        sc.load_schema(text)
    assert info.value.exit_code == ExitCode.USAGE
    assert needle in info.value.message


_NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters=",:"),
    min_size=1,
    max_size=12,
)
_TYPE = st.sampled_from([None, *sc.CONCISE_TYPES])
_DESCRIPTION = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters=","),
    max_size=20,
).map(str.strip)


@given(
    st.lists(st.tuples(_NAME, _TYPE, _DESCRIPTION), min_size=1, max_size=8, unique_by=lambda f: f[0]),
    st.sampled_from([", ", ",", "\n", " ,\n"]),
)
def test_concise_parser_round_trips_what_it_is_given(
    fields: list[tuple[str, str | None, str]], separator: str
) -> None:
    parts = []
    for name, type_name, description in fields:
        part = name if type_name is None else f"{name} {type_name}"
        parts.append(f"{part}: {description}" if description else part)
    schema = sc.concise_schema(separator.join(parts))
    assert schema["required"] == [name for name, _, _ in fields]
    assert list(schema["properties"]) == schema["required"]
    for name, type_name, description in fields:
        prop = dict(schema["properties"][name])
        assert prop.pop("description", "") == description
        assert prop == sc.CONCISE_TYPES[type_name or "str"]
    sc.check_schema(schema)  # what the parser builds is always valid JSON Schema


_LINE_DESCRIPTION = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20
).map(lambda text: text.strip().rstrip(",").strip())


@given(st.lists(st.tuples(_NAME, _TYPE, _LINE_DESCRIPTION), min_size=1, max_size=6, unique_by=lambda f: f[0]))
def test_concise_lines_keep_commas_in_descriptions(fields: list[tuple[str, str | None, str]]) -> None:
    lines = []
    for name, type_name, description in fields:
        head = name if type_name is None else f"{name} {type_name}"
        lines.append(f"{head}: {description}" if description else head)
    schema = sc.concise_schema("\n".join(lines) + "\n")
    assert schema["required"] == [name for name, _, _ in fields]
    for name, _, description in fields:
        assert schema["properties"][name].get("description", "") == description


# -- loading SCHEMA --------------------------------------------------------------------------------------


def test_inline_json_and_file(tmp_path, monkeypatch) -> None:
    inline = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]}
    assert sc.load_schema(" " + json.dumps(inline)) == inline
    path = tmp_path / "scene.schema.json"
    path.write_text(json.dumps(SCENE), encoding="utf-8")
    assert sc.load_schema(str(path)) == SCENE
    monkeypatch.chdir(tmp_path)
    assert sc.load_schema("scene.schema.json") == SCENE


@pytest.mark.parametrize(
    ("arg", "needle"),
    [
        ('{"type": "object",', "not valid JSON"),
        ('{"type": "strin"}', "not valid JSON Schema: $.type"),
        ('{"properties": {"a": {"type": 3}}}', "$.properties.a.type"),
        ('{"required": "a"}', "not valid JSON Schema"),
        ('{"type": "array"}', "must describe a JSON object"),
        ("", "empty"),
    ],
)
def test_bad_schemas_are_usage_errors_naming_the_problem(arg: str, needle: str) -> None:
    with pytest.raises(MimoError) as info:
        sc.load_schema(arg)
    assert info.value.exit_code == ExitCode.USAGE
    assert needle in info.value.message


def test_missing_or_non_object_schema_file(tmp_path) -> None:
    with pytest.raises(MimoError) as info:
        sc.load_schema(str(tmp_path / "nope.json"))
    assert info.value.exit_code == ExitCode.USAGE
    assert "not found" in info.value.message
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(MimoError) as info:
        sc.load_schema(str(listing))
    assert "not a JSON object" in info.value.message


def test_a_declared_draft_is_honoured() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "exclusiveMinimum": True, "minimum": 0}},
    }
    assert sc.load_schema(json.dumps(draft4)) == draft4  # a boolean exclusiveMinimum is draft-4 only
    with pytest.raises(MimoError):
        sc.load_schema(json.dumps({**draft4, "$schema": "https://json-schema.org/draft/2020-12/schema"}))


# -- the request's text ----------------------------------------------------------------------------------


def test_the_text_ends_with_the_instruction_and_the_schema() -> None:
    text = sc.with_instruction("Describe this video.\n", SCENE)
    assert text.startswith("Describe this video.\n\n")
    assert text.endswith(json.dumps(SCENE, ensure_ascii=False))
    assert "one JSON object" in text


def test_repair_text_holds_the_schema_the_answer_and_the_problems() -> None:
    checked = sc.check_answer(SCENE, '{"title": "x", "tags": [], "people": "three"}')
    text = sc.repair_text(SCENE, '{"title": "x", "tags": [], "people": "three"}', checked.problems)
    assert json.dumps(SCENE, ensure_ascii=False) in text
    assert '"people": "three"' in text
    assert "$.people: 'three' is not of type 'integer'" in text
    assert "'speech' is a required property" in text


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "Unsupported parameter: 'response_format'", True),
        (400, "response format json_object is not supported", True),
        (400, "max_tokens is too large", False),
        (500, "response_format broke the server", False),
        (None, "response_format", False),
    ],
)
def test_refuses_response_format(status: int | None, message: str, expected: bool) -> None:
    assert sc.refuses_response_format(status, message) is expected


# -- reading answers -------------------------------------------------------------------------------------

GOOD = {"title": "A cat", "tags": ["cat", "sofa"], "people": 0, "speech": False}


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps(GOOD),
        json.dumps(GOOD, indent=2),
        "```json\n" + json.dumps(GOOD, indent=2) + "\n```",
        "Here it is:\n```JSON\n" + json.dumps(GOOD) + "\n```\nHope that helps.",
        "```\n" + json.dumps(GOOD) + "\n```",
        "Sure! " + json.dumps(GOOD) + " -- that is all.",
        'Like {this} or {"a": [1, 2] but then: ' + json.dumps(GOOD),
    ],
)
def test_one_object_is_found_in_the_answer(answer: str) -> None:
    checked = sc.check_answer(SCENE, answer)
    assert checked.ok
    assert checked.data == GOOD


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
_AROUND = st.text(alphabet=st.characters(blacklist_characters="{", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200)
@given(
    st.dictionaries(st.text(max_size=6), _JSON, max_size=4),
    _AROUND,
    _AROUND,
    st.sampled_from([None, 2]),
    st.booleans(),
)
def test_an_object_is_pulled_out_of_any_surrounding_text(
    obj: dict[str, object], before: str, after: str, indent: int | None, fenced: bool
) -> None:
    body = json.dumps(obj, indent=indent, ensure_ascii=False)
    if fenced:
        body = f"```json\n{body}\n```"
    assert sc.extract_object(before + body + after) == obj


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        ("", "empty"),
        ("No JSON here, sorry.", "no JSON object"),
        ("[1, 2, 3]", "no JSON object"),
        ('{"title": "cut off', "no complete JSON object"),
    ],
)
def test_answers_without_an_object(answer: str, needle: str) -> None:
    checked = sc.check_answer(SCENE, answer)
    assert not checked.ok
    assert checked.data is None
    assert checked.problems[0].path == "$"
    assert needle in checked.problems[0].message


def test_validation_names_the_first_failing_path_and_why() -> None:
    answer = json.dumps({**GOOD, "tags": ["ok", 3], "people": 1.5})
    checked = sc.check_answer(SCENE, answer)
    assert checked.data is None
    paths = [problem.path for problem in checked.problems]
    assert sorted(paths) == ["$.people", "$.tags[1]"]
    # best_match: the error higher up in the object comes first
    assert str(checked.problems[0]) == "$.people: 1.5 is not of type 'integer'"
    assert str(checked.problems[1]) == "$.tags[1]: 3 is not of type 'string'"
    missing = sc.check_answer(SCENE, json.dumps({"title": "t"}))
    assert missing.problems[0].path == "$"
    assert "is a required property" in missing.problems[0].message


def test_jsonschema_is_imported_only_when_used() -> None:
    code = textwrap.dedent(
        """
        import sys
        import mimo_cli.schema as sc
        import mimo_cli.schema.flow
        sc.concise_schema("a, b int")
        sc.extract_object('x {"a": 1} y')
        assert "jsonschema" not in sys.modules, "imported too early"
        sc.check_schema({"type": "object"})
        assert "jsonschema" in sys.modules
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


# -- the loop: settle ------------------------------------------------------------------------------------


@dataclass
class Said:
    answer: str
    usage: dict[str, Any] | None = None


def scripted(*replies: str | MimoError) -> tuple[list[tuple[str, str | None, bool]], Any, Any]:
    """ask/repair callables answering ``replies`` in turn, and the log of what each was called with."""
    calls: list[tuple[str, str | None, bool]] = []
    pending = list(replies)

    def reply() -> Said:
        item = pending.pop(0)
        if isinstance(item, MimoError):
            raise item
        return Said(item, {"prompt_tokens": 10, "completion_tokens": 2})

    def ask(json_mode: bool) -> Said:
        calls.append(("ask", None, json_mode))
        return reply()

    def repair(text: str, json_mode: bool) -> Said:
        calls.append(("repair", text, json_mode))
        return reply()

    return calls, ask, repair


def test_settle_a_good_first_answer_sends_nothing_more() -> None:
    calls, ask, repair = scripted(json.dumps(GOOD))
    settled = sc.settle(sc.Structured(SCENE), ask, repair)
    assert settled.ok
    assert settled.data == GOOD
    assert calls == [("ask", None, True)]


def test_settle_repairs_until_it_matches() -> None:
    bad = json.dumps({**GOOD, "people": "none"})
    calls, ask, repair = scripted(bad, "still {not json", json.dumps(GOOD))
    settled = sc.settle(sc.Structured(SCENE, retries=2), ask, repair)
    assert settled.data == GOOD
    assert [c[0] for c in calls] == ["ask", "repair", "repair"]
    first_repair, second_repair = calls[1][1] or "", calls[2][1] or ""
    assert bad in first_repair and "$.people" in first_repair
    assert "still {not json" in second_repair and "no complete JSON object" in second_repair
    assert [r.answer for r in settled.results] == [bad, "still {not json", json.dumps(GOOD)]


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_settle_gives_up_after_the_retries(retries: int) -> None:
    calls, ask, repair = scripted(*["no object"] * (retries + 1))
    settled = sc.settle(sc.Structured(SCENE, retries=retries), ask, repair)
    assert not settled.ok
    assert settled.data is None
    assert settled.last.answer == "no object"
    assert len(calls) == retries + 1
    assert str(settled.problems[0]) == "$: the answer holds no JSON object"


def test_a_refused_response_format_is_dropped_for_the_rest_of_the_run() -> None:
    refused = MimoError(Kind.BAD_REQUEST, "HTTP 400: response_format is not supported", http_status=400)
    structured = sc.Structured(SCENE)
    calls, ask, repair = scripted(refused, "nope", json.dumps(GOOD))
    assert sc.settle(structured, ask, repair).ok
    assert calls == [("ask", None, True), ("ask", None, False), ("repair", calls[2][1], False)]
    assert structured.json_mode is False
    calls, ask, repair = scripted(json.dumps(GOOD))  # the next input of a batch
    sc.settle(structured, ask, repair)
    assert calls == [("ask", None, False)]


def test_other_errors_propagate_and_are_not_retried_without_json_mode() -> None:
    other = MimoError(Kind.BAD_REQUEST, "HTTP 400: max_tokens too large", http_status=400)
    structured = sc.Structured(SCENE)
    calls, ask, repair = scripted(other)
    with pytest.raises(MimoError) as info:
        sc.settle(structured, ask, repair)
    assert info.value is other
    assert calls == [("ask", None, True)]
    assert structured.json_mode is True


def test_sum_usage_adds_field_by_field() -> None:
    a = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"video_tokens": 90}}
    b = {"prompt_tokens": 30, "completion_tokens": 7, "completion_tokens_details": {"reasoning_tokens": 3}}
    assert sc.sum_usage([a, None, b]) == {
        "prompt_tokens": 130,
        "completion_tokens": 12,
        "prompt_tokens_details": {"video_tokens": 90},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert sc.sum_usage([None, {}]) is None
